//! Listing a collection: every image file under a folder, and the identifiers a rule set serves.

use std::io;
use std::path::{Path, PathBuf};

use crate::resolve::IMAGE_EXTENSIONS;

/// Deepest folder nesting walked.
const MAX_DEPTH: usize = 64;

/// Every identifier the rules serve, as found by listing the sources, and what could not be listed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Listing {
    /// Identifiers, sorted, each once.
    pub identifiers: Vec<String>,
    /// Sources or objects left out on purpose, and why (an HTTP origin cannot be listed, a key no
    /// rule leads to).
    pub notes: Vec<String>,
    /// Sources whose listing failed (unreachable bucket, refused credentials): the collection is
    /// incomplete, and a check of it must not pass.
    pub errors: Vec<String>,
}

/// Every file under `root` (recursively, symlinks not followed) whose extension is an image
/// extension, as paths relative to `root` with `/` separators, sorted.
pub fn image_files(root: &Path) -> io::Result<Vec<String>> {
    let mut found = Vec::new();
    walk(root, root, 0, &mut found)?;
    found.sort();
    Ok(found)
}

fn walk(root: &Path, dir: &Path, depth: usize, found: &mut Vec<String>) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(root, &path, depth + 1, found)?;
        } else if meta.is_file() && has_image_extension(&path.to_string_lossy()) {
            if let Some(id) = relative(root, &path) {
                found.push(id);
            }
        }
    }
    Ok(())
}

/// Whether `name` ends in one of [`IMAGE_EXTENSIONS`] (any case).
pub fn has_image_extension(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(ext)))
}

fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_folders_for_image_files() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir(dir.path().join("sub"))?;
        std::fs::write(dir.path().join("sub/a.TIF"), b"x")?;
        std::fs::write(dir.path().join("b.jpg"), b"x")?;
        std::fs::write(dir.path().join("notes.txt"), b"x")?;
        std::fs::write(dir.path().join("jpg"), b"x")?;
        assert_eq!(image_files(dir.path())?, vec!["b.jpg", "sub/a.TIF"]);
        Ok(())
    }
}
