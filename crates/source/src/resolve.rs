//! Identifiers to files: a decoded identifier becomes a path under one root folder, never outside it.

use std::io;
use std::path::{Component, Path, PathBuf};

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

/// Maps identifiers to files under one root folder.
#[derive(Debug, Clone)]
pub struct FolderResolver {
    root: PathBuf,
}

impl FolderResolver {
    /// A resolver for the images under `root` (which must exist).
    pub fn new(root: &Path) -> io::Result<Self> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a folder", root.display()),
            ));
        }
        Ok(Self { root })
    }

    /// The root folder, canonical.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file that `identifier` (percent-decoded, `/` between folders) names.
    pub fn resolve(&self, identifier: &str) -> Result<PathBuf, ResolveError> {
        let relative = checked_relative_path(identifier)?;
        let exact = self.root.join(&relative);
        if let Some(found) = self.inside_root(&exact)? {
            return Ok(found);
        }
        let Some(name) = relative.file_name().and_then(|n| n.to_str()) else {
            return Err(ResolveError::NotFound);
        };
        let mut matches = Vec::new();
        for ext in IMAGE_EXTENSIONS {
            for ext in [ext.to_string(), ext.to_ascii_uppercase()] {
                let candidate = exact.with_file_name(format!("{name}.{ext}"));
                if let Some(found) = self.inside_root(&candidate)? {
                    if !matches.contains(&found) {
                        matches.push(found);
                    }
                }
            }
        }
        match matches.len() {
            0 => Err(ResolveError::NotFound),
            1 => Ok(matches.remove(0)),
            _ => {
                let names: Vec<String> = matches
                    .iter()
                    .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect();
                Err(ResolveError::Ambiguous(names.join(", ")))
            }
        }
    }

    /// `path` made canonical, if it is a regular file that really lies inside the root (symlinks followed).
    fn inside_root(&self, path: &Path) -> Result<Option<PathBuf>, ResolveError> {
        match path.canonicalize() {
            Ok(real) if real.starts_with(&self.root) && real.is_file() => Ok(Some(real)),
            Ok(_) => Ok(None),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(None)
            }
            Err(e) if e.raw_os_error() == Some(36) => Ok(None), // ENAMETOOLONG
            Err(e) => Err(e.into()),
        }
    }
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

    fn tree() -> (tempfile::TempDir, FolderResolver) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("lax:13410")).unwrap();
        fs::write(root.join("a.png"), b"png").unwrap();
        fs::write(root.join("twin.jpg"), b"jpg").unwrap();
        fs::write(root.join("twin.tif"), b"tif").unwrap();
        fs::write(root.join("lax:13410/elife-13410-fig4-v2.tif"), b"tif").unwrap();
        fs::write(dir.path().join("secret.png"), b"secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.png"), root.join("escape.png")).unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
        std::os::unix::fs::symlink(root.join("a.png"), root.join("inside.png")).unwrap();
        let resolver = FolderResolver::new(&root).unwrap();
        (dir, resolver)
    }

    #[test]
    fn finds_files_with_and_without_extension() {
        let (_d, r) = tree();
        assert!(r.resolve("a.png").unwrap().ends_with("a.png"));
        assert!(r.resolve("a").unwrap().ends_with("a.png"));
        assert!(r.resolve("lax:13410/elife-13410-fig4-v2.tif").is_ok());
        assert!(r.resolve("lax:13410/elife-13410-fig4-v2").is_ok());
        assert!(r.resolve("inside").unwrap().ends_with("a.png"));
    }

    #[test]
    fn ambiguous_and_unknown_are_not_found() {
        let (_d, r) = tree();
        assert!(matches!(r.resolve("twin"), Err(ResolveError::Ambiguous(_))));
        assert!(matches!(r.resolve("nothing"), Err(ResolveError::NotFound)));
        assert!(matches!(
            r.resolve("lax:13410"),
            Err(ResolveError::NotFound)
        ));
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
                matches!(r.resolve(id), Err(ResolveError::Invalid(_))),
                "{id}"
            );
        }
        assert!(matches!(
            r.resolve("escape.png"),
            Err(ResolveError::NotFound)
        ));
        assert!(matches!(r.resolve("escape"), Err(ResolveError::NotFound)));
        assert!(matches!(
            r.resolve("up/secret.png"),
            Err(ResolveError::NotFound)
        ));
    }
}
