//! Cache keys, source versions and ETags: what makes two responses the same response.

use std::time::{SystemTime, UNIX_EPOCH};

/// The version of a source object: its modification time, size and (for remote objects) a hash of its
/// ETag. A change to any is a new version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceVersion {
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: u128,
    /// Size in bytes.
    pub size: u64,
    /// A stable hash of the origin's validator (ETag); 0 when there is none.
    pub tag: u64,
}

impl From<&tessera_source::ObjectVersion> for SourceVersion {
    fn from(v: &tessera_source::ObjectVersion) -> Self {
        Self {
            mtime_ns: v.modified_ns,
            size: v.size,
            tag: hash_u64(v.tag.as_bytes()),
        }
    }
}

/// The version as key text: `mtime-size-tag` (tag in hex), the one form every key uses.
impl std::fmt::Display for SourceVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}-{:x}", self.mtime_ns, self.size, self.tag)
    }
}

impl SourceVersion {
    /// The modification time, for `Last-Modified` (whole seconds, as HTTP dates carry).
    pub fn modified(&self) -> SystemTime {
        let secs = u64::try_from(self.mtime_ns / 1_000_000_000).unwrap_or(u64::MAX);
        UNIX_EPOCH + std::time::Duration::from_secs(secs)
    }
}

/// The group a source object's cache entries belong to (its source name and key, hashed), so that all
/// derivatives of one image can be purged together.
pub fn group_of(source: &str, key: &str) -> String {
    hash_hex(format!("{source}\n{key}").as_bytes())
}

/// Identifies one derivative: API version, source group and version, and the canonical request tail.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The source's group (see [`group_of`]).
    pub group: String,
    /// The whole key as one line of text (never contains a newline).
    pub text: String,
}

impl CacheKey {
    /// The key of `canonical` (`region/size/rotation/quality.format`) for API `version` of a source.
    pub fn new(version: &str, group: &str, source: SourceVersion, canonical: &str) -> Self {
        let text = format!("{version} {group} {source} {canonical}").replace(['\n', '\r'], " ");
        Self {
            group: group.to_string(),
            text,
        }
    }

    /// A strong ETag: the same key always gives the same tag, a new source version a new one.
    pub fn etag(&self) -> String {
        format!("\"{}\"", hash_hex(self.text.as_bytes()))
    }

    /// The file name of this key in the disk cache, inside its group's folder.
    pub fn file_name(&self) -> String {
        format!("{}.bin", hash_hex(self.text.as_bytes()))
    }
}

/// A stable 128-bit hash as 32 hex digits (two FNV-1a 64 passes with different bases). Stable across
/// builds and restarts, which the disk cache needs; collisions are caught by storing the whole key.
pub fn hash_hex(bytes: &[u8]) -> String {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    for &byte in bytes {
        a = (a ^ u64::from(byte)).wrapping_mul(PRIME);
        b = (b ^ u64::from(byte.rotate_left(3))).wrapping_mul(PRIME);
    }
    b ^= a.rotate_left(29);
    format!("{a:016x}{b:016x}")
}

/// The first 64 bits of [`hash_hex`], for a version tag.
pub fn hash_u64(bytes: &[u8]) -> u64 {
    let hex = hash_hex(bytes);
    u64::from_str_radix(hex.get(..16).unwrap_or("0"), 16).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_follow_the_source_version_and_request() {
        let v1 = SourceVersion {
            mtime_ns: 1,
            size: 10,
            tag: 0,
        };
        let v2 = SourceVersion {
            mtime_ns: 2,
            size: 10,
            tag: 0,
        };
        let a = CacheKey::new("3", "g", v1, "full/max/0/default.jpg");
        assert_eq!(
            a.etag(),
            CacheKey::new("3", "g", v1, "full/max/0/default.jpg").etag()
        );
        assert_ne!(
            a.etag(),
            CacheKey::new("3", "g", v2, "full/max/0/default.jpg").etag()
        );
        assert_ne!(
            a.etag(),
            CacheKey::new("3", "g", v1, "full/max/0/default.png").etag()
        );
        assert_ne!(
            a.etag(),
            CacheKey::new("2", "g", v1, "full/max/0/default.jpg").etag()
        );
        assert_eq!(hash_hex(b"x").len(), 32);
    }
}
