//! Sidecar files: `fig.tif.json` beside `fig.tif` in a folder source holds additions to that
//! image's `info.json`. A sidecar is found by the image file's own name (whatever the identifier
//! spelled), opened under the folder like the image (never outside it), bounded in size, and never
//! served or listed as an image itself.

use crate::beneath::Access;
use crate::resolve::FolderResolver;
use std::path::Path;

/// What a sidecar's name adds to its image's name.
pub const SIDECAR_SUFFIX: &str = ".json";

/// Largest sidecar read, in bytes.
pub const MAX_SIDECAR_BYTES: u64 = 64 * 1024;

/// A sidecar's bytes and what they were read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidecar {
    /// Its name under the folder (`figures/fig.tif.json`).
    pub name: String,
    /// Its contents (at most [`MAX_SIDECAR_BYTES`]).
    pub bytes: Vec<u8>,
    /// Modification time, nanoseconds since the Unix epoch.
    pub modified_ns: u128,
}

/// Why a sidecar that exists could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    /// Over [`MAX_SIDECAR_BYTES`].
    #[error("{name}: {size} bytes, over the {MAX_SIDECAR_BYTES}-byte limit for sidecars")]
    TooLarge {
        /// Its name under the folder.
        name: String,
        /// Its size.
        size: u64,
    },
    /// The file system failed.
    #[error("{name}: {error}")]
    Io {
        /// Its name under the folder.
        name: String,
        /// The cause.
        error: std::io::Error,
    },
}

/// Whether a file name is a sidecar's (ends in `.json`, any case): such files are no images.
pub fn is_sidecar_name(name: &str) -> bool {
    let n = name.len();
    n > SIDECAR_SUFFIX.len()
        && name.is_char_boundary(n - SIDECAR_SUFFIX.len())
        && name[n - SIDECAR_SUFFIX.len()..].eq_ignore_ascii_case(SIDECAR_SUFFIX)
}

impl FolderResolver {
    /// The sidecar of image file `object` (its name under the folder, as found), if there is one.
    /// Blocking: one open (a missing sidecar costs one failed `openat2`).
    pub fn sidecar(&self, object: &str) -> Result<Option<Sidecar>, SidecarError> {
        use std::io::Read;
        let name = format!("{object}{SIDECAR_SUFFIX}");
        let io = |error: std::io::Error| SidecarError::Io {
            name: name.clone(),
            error,
        };
        let found = match self.found(Path::new(&name), Access::Read) {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(None),
            Err(crate::ResolveError::Io(e)) => return Err(io(e)),
            Err(_) => return Ok(None),
        };
        if found.meta.size > MAX_SIDECAR_BYTES {
            return Err(SidecarError::TooLarge {
                name,
                size: found.meta.size,
            });
        }
        let mut bytes = Vec::with_capacity(found.meta.size as usize);
        std::fs::File::from(found.fd)
            .take(MAX_SIDECAR_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_SIDECAR_BYTES {
            return Err(SidecarError::TooLarge {
                name,
                size: bytes.len() as u64,
            });
        }
        Ok(Some(Sidecar {
            name: found.relative,
            bytes,
            modified_ns: found.meta.modified_ns,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_reads_and_bounds_sidecars_inside_the_folder() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("images");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.tif.json"), b"{\"rights\": 1}").unwrap();
        std::fs::write(root.join("big.tif.json"), vec![b' '; 70 * 1024]).unwrap();
        std::fs::write(outer.path().join("secret.json"), b"{}").unwrap();
        std::os::unix::fs::symlink(outer.path().join("secret.json"), root.join("out.tif.json"))
            .unwrap();
        let r = FolderResolver::new(&root).unwrap();
        let s = r.sidecar("sub/a.tif").unwrap().unwrap();
        assert_eq!(s.name, "sub/a.tif.json");
        assert_eq!(s.bytes, b"{\"rights\": 1}");
        assert!(r.sidecar("b.tif").unwrap().is_none());
        assert!(matches!(
            r.sidecar("big.tif"),
            Err(SidecarError::TooLarge { .. })
        ));
        // A sidecar is never an image.
        assert!(matches!(
            r.resolve("sub/a.tif.json", Access::Handle),
            Err(crate::ResolveError::NotFound)
        ));
        // A symlink leading out of the folder is no sidecar.
        assert!(r.sidecar("out.tif").unwrap().is_none());
    }

    #[test]
    fn sidecar_names() {
        assert!(is_sidecar_name("a.tif.json"));
        assert!(is_sidecar_name("a.JSON"));
        assert!(!is_sidecar_name(".json"));
        assert!(!is_sidecar_name("a.tif"));
        assert!(!is_sidecar_name("éjson"));
    }
}
