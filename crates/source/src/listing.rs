//! Listing a collection: every image file under a folder, and the identifiers a rule set serves.

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

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
/// extension, as paths relative to `root` with `/` separators, sorted. Each folder is opened relative
/// to its parent's descriptor with `O_NOFOLLOW`, so a folder swapped for a symlink while the walk runs
/// is skipped, never walked.
pub fn image_files(root: &Path) -> io::Result<Vec<String>> {
    image_files_at_most(root, usize::MAX).map(|(found, _)| found)
}

/// [`image_files`], stopping once `max` files are found: those (the first in the walk's order, each
/// folder's entries by name), sorted, and whether the walk stopped early. Bounds the memory and time
/// a listing can take on a huge folder.
pub fn image_files_at_most(root: &Path, max: usize) -> io::Result<(Vec<String>, bool)> {
    let dir = rustix::fs::open(root, dir_flags(), Mode::empty())?;
    let mut found = Vec::new();
    let complete = walk(dir, "", 0, max, &mut found)?;
    found.sort();
    Ok((found, !complete))
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// Walk `dir` into `found`; `Ok(false)` when `max` files were found and the walk stopped.
fn walk(
    dir: OwnedFd,
    prefix: &str,
    depth: usize,
    max: usize,
    found: &mut Vec<String>,
) -> io::Result<bool> {
    if depth > MAX_DEPTH {
        return Ok(true);
    }
    let mut entries = Vec::new();
    for entry in Dir::read_from(&dir)?.filter_map(Result::ok) {
        let Ok(name) = entry.file_name().to_str() else {
            continue;
        };
        if name == "." || name == ".." {
            continue;
        }
        let mut kind = entry.file_type();
        if kind == FileType::Unknown {
            match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) => kind = FileType::from_raw_mode(stat.st_mode),
                Err(_) => continue,
            }
        }
        entries.push((name.to_string(), kind));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, kind) in entries {
        let path = format!("{prefix}{name}");
        if kind == FileType::Directory {
            match rustix::fs::openat(&dir, name.as_str(), dir_flags(), Mode::empty()) {
                Ok(sub) => {
                    if !walk(sub, &format!("{path}/"), depth + 1, max, found)? {
                        return Ok(false);
                    }
                }
                // Gone, or replaced by a symlink or a file since it was listed.
                Err(Errno::NOENT | Errno::LOOP | Errno::NOTDIR) => {}
                Err(e) => return Err(e.into()),
            }
        } else if kind == FileType::RegularFile && has_image_extension(&name) {
            if found.len() >= max {
                return Ok(false);
            }
            found.push(path);
        }
    }
    Ok(true)
}

/// Whether `name` ends in one of [`IMAGE_EXTENSIONS`] (any case).
pub fn has_image_extension(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(ext)))
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
        std::fs::create_dir(dir.path().join("sub/deeper"))?;
        std::fs::write(dir.path().join("sub/deeper/c.png"), b"x")?;
        let outside = tempfile::tempdir()?;
        std::fs::write(outside.path().join("secret.png"), b"x")?;
        std::os::unix::fs::symlink(outside.path(), dir.path().join("linked"))?;
        std::os::unix::fs::symlink("b.jpg", dir.path().join("alias.jpg"))?;
        assert_eq!(
            image_files(dir.path())?,
            vec!["b.jpg", "sub/a.TIF", "sub/deeper/c.png"],
            "symlinks are not followed"
        );
        Ok(())
    }

    #[test]
    fn stops_at_the_bound_and_says_so() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir(dir.path().join("a"))?;
        for name in ["a/1.png", "a/2.png", "b.jpg", "c.tif"] {
            std::fs::write(dir.path().join(name), b"x")?;
        }
        assert_eq!(
            image_files_at_most(dir.path(), 3)?,
            (
                vec!["a/1.png".into(), "a/2.png".into(), "b.jpg".into()],
                true
            )
        );
        assert!(
            !image_files_at_most(dir.path(), 4)?.1,
            "exactly full is complete"
        );
        assert_eq!(image_files_at_most(dir.path(), 0)?, (vec![], true));
        Ok(())
    }
}
