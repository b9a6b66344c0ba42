//! The identifiers to check: every image file under a folder, or the lines of a list file.

use std::io;
use std::path::{Path, PathBuf};
use tessera_source::IMAGE_EXTENSIONS;

/// Deepest folder nesting walked.
const MAX_DEPTH: usize = 64;

/// Every file under `root` (recursively, symlinks not followed) whose extension is an image
/// extension, as identifiers relative to `root` with `/` separators, sorted.
pub fn from_folder(root: &Path) -> io::Result<Vec<String>> {
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
        } else if meta.is_file() && is_image(&path) {
            if let Some(id) = identifier(root, &path) {
                found.push(id);
            }
        }
    }
    Ok(())
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

fn identifier(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

/// One identifier per non-empty line of `file`; lines starting with `#` are comments.
pub fn from_list(file: &Path) -> io::Result<Vec<String>> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", file.display())))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_folders_and_reads_lists() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir(dir.path().join("sub"))?;
        std::fs::write(dir.path().join("sub/a.TIF"), b"x")?;
        std::fs::write(dir.path().join("b.jpg"), b"x")?;
        std::fs::write(dir.path().join("notes.txt"), b"x")?;
        assert_eq!(from_folder(dir.path())?, vec!["b.jpg", "sub/a.TIF"]);
        let list = dir.path().join("list.txt");
        std::fs::write(&list, "# ids\nb\n\n  sub/a  \n")?;
        assert_eq!(from_list(&list)?, vec!["b", "sub/a"]);
        Ok(())
    }
}
