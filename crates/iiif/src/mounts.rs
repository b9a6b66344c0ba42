//! Where each API version is mounted: `/iiif/2` and `/iiif/3` by default, any other path, or the
//! root (`""`) for one of them, so that a site moving from another server keeps its published URLs.

use crate::ApiVersion;

/// First path segments that belong to Tessera's own routes; a mount there would never be reached.
pub const RESERVED_SEGMENTS: [&str; 5] = ["health", "metrics", "admin", "viewer", "viewer-assets"];

/// The mount point of each version, normalised: `""` for the root, else `/a/b` (no trailing `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mounts {
    v2: String,
    v3: String,
}

/// Why a mount point cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountError {
    /// Not a plain absolute path (`/`, `/iiif/2`, `/loris`).
    #[error("{key} must be \"/\" (the root) or a path such as \"/iiif/3\" of plain segments, not {value:?}")]
    Malformed {
        /// The config key.
        key: &'static str,
        /// The value given.
        value: String,
    },
    /// Under one of Tessera's own routes.
    #[error("{key} = {value:?} is under Tessera's own /{segment} routes, which would shadow it")]
    Reserved {
        /// The config key.
        key: &'static str,
        /// The value given.
        value: String,
        /// The reserved segment.
        segment: &'static str,
    },
    /// Both versions at one place (the root included).
    #[error("the 2.1 and 3.0 services cannot share one mount point ({0:?})")]
    Shared(String),
}

impl Default for Mounts {
    fn default() -> Self {
        Self {
            v2: "/iiif/2".into(),
            v3: "/iiif/3".into(),
        }
    }
}

impl Mounts {
    /// Check and normalise the two mount points (`"/"` and `""` both mean the root; one trailing
    /// slash is dropped).
    pub fn new(v2: &str, v3: &str) -> Result<Self, MountError> {
        let v2 = normalise("iiif.v2_prefix", v2)?;
        let v3 = normalise("iiif.v3_prefix", v3)?;
        if v2 == v3 {
            let shown = if v2.is_empty() { "/" } else { v2.as_str() };
            return Err(MountError::Shared(shown.to_string()));
        }
        Ok(Self { v2, v3 })
    }

    /// The mount point of `version`: `""` for the root, else `/a/b`.
    pub fn prefix(&self, version: ApiVersion) -> &str {
        match version {
            ApiVersion::V2 => &self.v2,
            ApiVersion::V3 => &self.v3,
        }
    }

    /// The version mounted at the start of `path` and the rest after its prefix and `/` (still
    /// percent-encoded). The longer mount wins, so `/iiif/3/x` is 3.0 even with 2.1 at the root.
    pub fn split<'p>(&self, path: &'p str) -> Option<(ApiVersion, &'p str)> {
        let mut order = [ApiVersion::V2, ApiVersion::V3];
        order.sort_by_key(|v| std::cmp::Reverse(self.prefix(*v).len()));
        order.into_iter().find_map(|version| {
            let rest = path.strip_prefix(self.prefix(version))?.strip_prefix('/')?;
            Some((version, rest))
        })
    }

    /// `{prefix}/{encoded_identifier}`: the path of a service, to put after the base URL.
    pub fn service_path(&self, version: ApiVersion, encoded_identifier: &str) -> String {
        format!("{}/{encoded_identifier}", self.prefix(version))
    }
}

fn normalise(key: &'static str, value: &str) -> Result<String, MountError> {
    let malformed = || MountError::Malformed {
        key,
        value: value.to_string(),
    };
    let trimmed = value.strip_suffix('/').unwrap_or(value);
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let rest = trimmed.strip_prefix('/').ok_or_else(malformed)?;
    for segment in rest.split('/') {
        let plain = !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~:@".contains(&b));
        if !plain {
            return Err(malformed());
        }
    }
    let first = rest.split('/').next().unwrap_or_default();
    if let Some(segment) = RESERVED_SEGMENTS.iter().find(|s| **s == first) {
        return Err(MountError::Reserved {
            key,
            value: value.to_string(),
            segment,
        });
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_split_by_version() {
        let m = Mounts::default();
        assert_eq!(
            m.split("/iiif/3/a/info.json"),
            Some((ApiVersion::V3, "a/info.json"))
        );
        assert_eq!(m.split("/iiif/2/a"), Some((ApiVersion::V2, "a")));
        assert_eq!(m.split("/iiif/4/a"), None);
        assert_eq!(m.split("/iiif/22/a"), None);
        assert_eq!(m.split("/a/info.json"), None);
        assert_eq!(m.service_path(ApiVersion::V2, "a%2Fb"), "/iiif/2/a%2Fb");
    }

    #[test]
    fn the_root_takes_what_the_other_mount_does_not() {
        for root in ["/", ""] {
            let m = Mounts::new(root, "/iiif/3").unwrap();
            assert_eq!(m.prefix(ApiVersion::V2), "");
            let path = "/lax:13410/elife-13410-fig4-v2.tif/full/,1000/0/default.jpg";
            assert_eq!(
                m.split(path),
                Some((ApiVersion::V2, &path[1..])),
                "root {root:?}"
            );
            assert_eq!(
                m.split("/iiif/3/x/info.json"),
                Some((ApiVersion::V3, "x/info.json"))
            );
            assert_eq!(m.service_path(ApiVersion::V2, "x"), "/x");
        }
        let m = Mounts::new("/iiif/2", "/").unwrap();
        assert_eq!(m.split("/iiif/2/x"), Some((ApiVersion::V2, "x")));
        assert_eq!(m.split("/iiif/4/x"), Some((ApiVersion::V3, "iiif/4/x")));
    }

    #[test]
    fn other_paths_and_trailing_slashes() {
        let m = Mounts::new("/loris/", "/iiif/v3").unwrap();
        assert_eq!(m.prefix(ApiVersion::V2), "/loris");
        assert_eq!(
            m.split("/loris/a/info.json"),
            Some((ApiVersion::V2, "a/info.json"))
        );
        assert_eq!(m.split("/lorisx/a"), None);
        assert_eq!(m.split("/iiif/v3/a"), Some((ApiVersion::V3, "a")));
    }

    #[test]
    fn refuses_what_cannot_work() {
        assert!(matches!(Mounts::new("/", ""), Err(MountError::Shared(_))));
        assert!(matches!(
            Mounts::new("/x", "/x/"),
            Err(MountError::Shared(_))
        ));
        for bad in ["iiif/2", "/a//b", "/a/../b", "/a b", "/a?b", "//"] {
            assert!(
                matches!(
                    Mounts::new(bad, "/iiif/3"),
                    Err(MountError::Malformed { .. })
                ),
                "{bad:?}"
            );
        }
        for reserved in [
            "/health",
            "/viewer/x",
            "/metrics",
            "/admin",
            "/viewer-assets",
        ] {
            assert!(
                matches!(
                    Mounts::new(reserved, "/iiif/3"),
                    Err(MountError::Reserved { .. })
                ),
                "{reserved:?}"
            );
        }
        assert!(Mounts::new("/healthy", "/iiif/3").is_ok());
    }
}
