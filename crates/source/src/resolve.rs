//! Identifiers to files: a decoded identifier becomes a file opened under one root folder, never
//! outside it (see [`crate::beneath`]), with what `fstat` says of that very descriptor.

use crate::beneath::{Access, Beneath};
use rustix::io::Errno;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// File extensions tried, in order, for an identifier given without one.
pub const IMAGE_EXTENSIONS: [&str; 13] = [
    "tif", "tiff", "jpg", "jpeg", "png", "gif", "webp", "jp2", "j2k", "jpf", "jpx", "svs", "ptif",
];

/// Why an identifier does not lead to a file.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The identifier can never name a file: empty, absolute, `..`, NUL, control characters (400).
    #[error("invalid identifier: {0}")]
    Invalid(String),
    /// No file, or one outside the root (404).
    #[error("no image with this identifier")]
    NotFound,
    /// Several files match an identifier given without extension (404: never a guess).
    #[error("ambiguous identifier: it matches {0}")]
    Ambiguous(String),
    /// The file system failed (500).
    #[error("file system error: {0}")]
    Io(#[from] io::Error),
}

/// What `fstat` said of an opened file: everything later uses of it (size, version) rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    /// Device of the file system holding it.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch (0 if before it).
    pub modified_ns: u128,
}

/// A regular file found for an identifier, already opened.
#[derive(Debug)]
pub struct Found {
    /// The descriptor: an `O_PATH` handle or opened for reading, as asked.
    pub fd: OwnedFd,
    /// Its `fstat`.
    pub meta: FileMeta,
    /// The name it was found by under the root (extension included, `/` between folders); an in-root
    /// symlink keeps its own name.
    pub relative: String,
}

/// Maps identifiers to files under one root folder.
#[derive(Debug, Clone)]
pub struct FolderResolver {
    root: PathBuf,
    dir: Arc<Beneath>,
}

impl FolderResolver {
    /// A resolver for the images under `root` (which must exist), held open from now on.
    pub fn new(root: &Path) -> io::Result<Self> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a folder", root.display()),
            ));
        }
        let dir = Arc::new(Beneath::new(&root)?);
        Ok(Self { root, dir })
    }

    /// The root folder, canonical (as it was at start-up).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the kernel resolves paths (`openat2`), rather than Tessera's own walk.
    pub fn uses_openat2(&self) -> bool {
        self.dir.uses_openat2()
    }

    /// The regular file that `identifier` (percent-decoded, `/` between folders) names, opened as
    /// `access` says: the exact name first, else the name with each of [`IMAGE_EXTENSIONS`] (one open
    /// each). Two names leading to one file (a symlink beside its target) count once.
    pub fn resolve(&self, identifier: &str, access: Access) -> Result<Found, ResolveError> {
        let relative = checked_relative_path(identifier)?;
        // Sidecars (`fig.tif.json`) hold metadata, never pixels.
        if crate::sidecar::is_sidecar_name(identifier) {
            return Err(ResolveError::NotFound);
        }
        if let Some(found) = self.found(&relative, access)? {
            return Ok(found);
        }
        let Some(name) = relative.file_name().and_then(|n| n.to_str()) else {
            return Err(ResolveError::NotFound);
        };
        let mut matches: Vec<Found> = Vec::new();
        for ext in IMAGE_EXTENSIONS {
            for ext in [ext.to_string(), ext.to_ascii_uppercase()] {
                let candidate = relative.with_file_name(format!("{name}.{ext}"));
                if let Some(found) = self.found(&candidate, access)? {
                    let same =
                        |m: &Found| (m.meta.dev, m.meta.ino) == (found.meta.dev, found.meta.ino);
                    if !matches.iter().any(same) {
                        matches.push(found);
                    }
                }
            }
        }
        if matches.len() > 1 {
            let names: Vec<&str> = matches.iter().map(|m| m.relative.as_str()).collect();
            return Err(ResolveError::Ambiguous(names.join(", ")));
        }
        matches.pop().ok_or(ResolveError::NotFound)
    }

    /// `relative` opened under the root, if it is a regular file there (symlinks followed inside only).
    pub(crate) fn found(
        &self,
        relative: &Path,
        access: Access,
    ) -> Result<Option<Found>, ResolveError> {
        let fd = match self.dir.open(relative, access) {
            Ok(fd) => fd,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let file = std::fs::File::from(fd);
        let m = file.metadata()?;
        if !m.file_type().is_file() {
            return Ok(None);
        }
        let modified_ns = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let meta = FileMeta {
            dev: m.dev(),
            ino: m.ino(),
            size: m.len(),
            modified_ns,
        };
        let fd = OwnedFd::from(file);
        let parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        Ok(Some(Found {
            fd,
            meta,
            relative: parts.join("/"),
        }))
    }
}

/// Whether an open failed because there is no file to be had there: missing, a non-folder in the
/// middle, a symlink loop, a way out of the root, a name too long, a folder.
fn is_absent(e: &io::Error) -> bool {
    [
        Errno::NOENT,
        Errno::NOTDIR,
        Errno::LOOP,
        Errno::XDEV,
        Errno::NAMETOOLONG,
        Errno::ISDIR,
    ]
    .iter()
    .any(|n| e.raw_os_error() == Some(n.raw_os_error()))
}

/// `identifier` as a relative path of plain components, or why it cannot be one.
fn checked_relative_path(identifier: &str) -> Result<PathBuf, ResolveError> {
    let invalid = |why: &str| ResolveError::Invalid(why.to_string());
    if identifier.is_empty() {
        return Err(invalid("empty"));
    }
    if identifier.chars().any(|c| c.is_control() || c == '\\') {
        return Err(invalid(
            "control characters and backslashes are not allowed",
        ));
    }
    if identifier.starts_with('/') {
        return Err(invalid("absolute paths are not allowed"));
    }
    let mut path = PathBuf::new();
    for part in identifier.split('/') {
        if part.is_empty() {
            return Err(invalid("empty path segment"));
        }
        match Path::new(part).components().next() {
            Some(Component::Normal(c)) if c == part => path.push(c),
            _ => return Err(invalid("'.' and '..' segments are not allowed")),
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Read;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, FolderResolver) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("lax:13410")).unwrap();
        fs::write(root.join("a.png"), b"png").unwrap();
        fs::write(root.join("twin.jpg"), b"jpg").unwrap();
        fs::write(root.join("twin.tif"), b"tif").unwrap();
        fs::write(root.join("lax:13410/elife-13410-fig4-v2.tif"), b"tif").unwrap();
        fs::write(dir.path().join("secret.png"), b"secret").unwrap();
        fs::create_dir(dir.path().join("outside")).unwrap();
        fs::write(dir.path().join("outside/x.png"), b"outside").unwrap();
        symlink(dir.path().join("secret.png"), root.join("escape.png")).unwrap();
        symlink("../secret.png", root.join("relative-escape.png")).unwrap();
        symlink(dir.path(), root.join("up")).unwrap();
        symlink("../outside", root.join("out")).unwrap();
        symlink("a.png", root.join("inside.png")).unwrap();
        symlink("loop-b.png", root.join("loop-a.png")).unwrap();
        symlink("loop-a.png", root.join("loop-b.png")).unwrap();
        let resolver = FolderResolver::new(&root).unwrap();
        (dir, resolver)
    }

    fn contents(r: &FolderResolver, id: &str) -> String {
        let found = r.resolve(id, Access::Read).unwrap();
        let mut text = String::new();
        fs::File::from(found.fd).read_to_string(&mut text).unwrap();
        text
    }

    fn not_found(r: &FolderResolver, id: &str) -> bool {
        [Access::Read, Access::Handle]
            .iter()
            .all(|&a| matches!(r.resolve(id, a), Err(ResolveError::NotFound)))
    }

    #[test]
    fn finds_files_with_and_without_extension() {
        let (_d, r) = tree();
        assert_eq!(
            r.resolve("a.png", Access::Handle).unwrap().relative,
            "a.png"
        );
        assert_eq!(r.resolve("a", Access::Handle).unwrap().relative, "a.png");
        assert_eq!(contents(&r, "a"), "png");
        let deep = r
            .resolve("lax:13410/elife-13410-fig4-v2", Access::Read)
            .unwrap();
        assert_eq!(deep.relative, "lax:13410/elife-13410-fig4-v2.tif");
        assert_eq!(deep.meta.size, 3);
        // An in-root symlink is served, under its own name, with its target's bytes and inode.
        let inside = r.resolve("inside", Access::Handle).unwrap();
        assert_eq!(inside.relative, "inside.png");
        assert_eq!(
            inside.meta,
            r.resolve("a.png", Access::Handle).unwrap().meta
        );
        assert_eq!(contents(&r, "inside.png"), "png");
    }

    #[test]
    fn ambiguous_and_unknown_are_not_found() {
        let (_d, r) = tree();
        assert!(matches!(
            r.resolve("twin", Access::Handle),
            Err(ResolveError::Ambiguous(_))
        ));
        assert!(not_found(&r, "nothing"));
        assert!(not_found(&r, "lax:13410"));
    }

    #[test]
    fn never_leaves_the_root() {
        let (_d, r) = tree();
        for id in [
            "../secret.png",
            "lax:13410/../../secret.png",
            "/etc/passwd",
            "./a.png",
            "a.png/",
            "a//b",
            "..",
            "a\\..\\b",
            "a\0b",
        ] {
            assert!(
                matches!(r.resolve(id, Access::Read), Err(ResolveError::Invalid(_))),
                "{id}"
            );
        }
        for id in [
            "escape.png",
            "escape",
            "relative-escape",
            "up/secret.png",
            "out/x.png",
            "out/x",
            "loop-a.png",
            "loop-a",
        ] {
            assert!(not_found(&r, id), "{id}");
        }
    }

    #[test]
    fn fifos_and_devices_are_not_images() {
        let (_d, r) = tree();
        let fifo = r.root().join("pipe.png");
        let mode = rustix::fs::Mode::from_raw_mode(0o600);
        rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, mode, 0).unwrap();
        // Opening a FIFO for reading would block without O_NONBLOCK: this returns at once.
        assert!(not_found(&r, "pipe.png"));
        assert!(not_found(&r, "pipe"));
        // A character device (like /dev/null), where the test may create one (root, no user namespace).
        let device = r.root().join("null.png");
        let dev = rustix::fs::makedev(1, 3);
        let kind = rustix::fs::FileType::CharacterDevice;
        if rustix::fs::mknodat(rustix::fs::CWD, &device, kind, mode, dev).is_ok() {
            assert!(not_found(&r, "null.png"));
        } else {
            symlink("/dev/null", &device).unwrap();
            assert!(not_found(&r, "null.png"));
        }
    }

    #[test]
    fn a_swapped_file_is_read_from_the_descriptor() {
        let (_d, r) = tree();
        let found = r.resolve("a", Access::Read).unwrap();
        // Replace a.png by a symlink leading out after it was opened: the descriptor still reads the
        // file that was opened, with the size fstat gave.
        let root = r.root().to_path_buf();
        fs::remove_file(root.join("a.png")).unwrap();
        symlink(root.join("../secret.png"), root.join("a.png")).unwrap();
        let mut text = String::new();
        fs::File::from(found.fd).read_to_string(&mut text).unwrap();
        assert_eq!((text.as_str(), found.meta.size), ("png", 3));
        assert!(not_found(&r, "a"));
    }
}
