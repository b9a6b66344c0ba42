//! Where an image's tree goes and the id it is served under.

use super::error::ExportError;
use std::path::{Component, Path, PathBuf};

/// The folder of `identifier` under OUT: the identifier itself, its `/` making subfolders (a
/// static server decodes a URL's `%2F` to `/` before mapping the path to a file, as Nginx and S3
/// do). Refused when it could leave OUT or name OUT itself.
pub fn folder(identifier: &str) -> Result<PathBuf, ExportError> {
    let bad = || ExportError::Identifier(identifier.to_string());
    if identifier.is_empty() || identifier.contains('\0') {
        return Err(bad());
    }
    let mut path = PathBuf::new();
    for segment in identifier.split('/') {
        let mut parts = Path::new(segment).components();
        match (parts.next(), parts.next()) {
            (Some(Component::Normal(name)), None) if name == segment => path.push(name),
            _ => return Err(bad()),
        }
    }
    Ok(path)
}

/// The id of `identifier` served under `base_url`: the base without a trailing `/`, then the
/// identifier percent-encoded as one path segment (`/` as `%2F`).
pub fn id(base_url: &str, identifier: &str) -> String {
    format!(
        "{}/{}",
        base_url.trim_end_matches('/'),
        tessera_iiif::encode_identifier(identifier, false)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_stay_under_out() {
        assert_eq!(folder("a/b c.jpg").ok(), Some(PathBuf::from("a/b c.jpg")));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "a/./b",
            "a/",
            ".",
        ] {
            assert!(folder(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ids_escape_slashes() {
        assert_eq!(
            id("https://cdn.example/iiif/", "a/b c.jpg"),
            "https://cdn.example/iiif/a%2Fb%20c.jpg"
        );
    }
}
