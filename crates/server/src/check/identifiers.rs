//! The identifiers to check: every image file under a folder, or the lines of a list file.

use std::io;
use std::path::Path;

/// Every image file under `root`, as identifiers relative to it (see [`tessera_source::image_files`]).
pub fn from_folder(root: &Path) -> io::Result<Vec<String>> {
    tessera_source::image_files(root)
}

/// Every identifier the rules' sources list (folders walked, buckets listed), each note and error
/// printed on stderr; whether any source failed to list.
pub fn from_sources(sources: &tessera_source::Sources) -> (Vec<String>, bool) {
    let listing = sources.list_identifiers();
    for note in &listing.notes {
        eprintln!("note: {note}");
    }
    for error in &listing.errors {
        eprintln!("error: {error}");
    }
    (listing.identifiers, !listing.errors.is_empty())
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
    fn reads_lists() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let list = dir.path().join("list.txt");
        std::fs::write(&list, "# ids\nb\n\n  sub/a  \n")?;
        assert_eq!(from_list(&list)?, vec!["b", "sub/a"]);
        Ok(())
    }
}
