//! The path after the `/iiif/` prefix: version, identifier, and what is asked of it.
//!
//! Identifiers may contain raw slashes (`lax:13410/fig4.tif`), so an image request is read from the
//! right: the last four segments are region, size, rotation and quality.format.

use crate::ApiVersion;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What a path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `{identifier}`: the base URI, redirected to `info.json`.
    Base,
    /// `{identifier}/info.json`.
    Info,
    /// `{identifier}/{region}/{size}/{rotation}/{quality}.{format}` (segments percent-decoded).
    Image {
        /// Region segment.
        region: String,
        /// Size segment.
        size: String,
        /// Rotation segment.
        rotation: String,
        /// `quality.format` segment.
        quality_format: String,
    },
}

/// A parsed `/iiif/{version}/…` path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IiifPath {
    /// The API version addressed.
    pub version: ApiVersion,
    /// The identifier, percent-decoded, with `/` between its raw segments.
    pub identifier: String,
    /// Whether the identifier arrived as several raw segments (so ids echo it with raw slashes).
    pub raw_slashes: bool,
    /// What is asked.
    pub target: Target,
}

/// Why a path is not a IIIF path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// No such version or no identifier (404).
    #[error("no IIIF service at this path: it names no version or no identifier")]
    NotFound,
    /// A segment does not decode to UTF-8 (400).
    #[error("invalid percent-encoding in the URL path")]
    BadEncoding,
}

impl IiifPath {
    /// Parse `rest`, the raw (still percent-encoded) path after `/iiif/`.
    pub fn parse(rest: &str) -> Result<Self, PathError> {
        let (segment, after) = rest.split_once('/').unwrap_or((rest, ""));
        let version = ApiVersion::from_segment(segment).ok_or(PathError::NotFound)?;
        Self::parse_in(version, after)
    }

    /// Parse `rest`, the raw path after a version's mount point and its `/` (see
    /// [`crate::Mounts::split`]): `{identifier}[/info.json | /{region}/{size}/{rotation}/{qf}]`.
    pub fn parse_in(version: ApiVersion, rest: &str) -> Result<Self, PathError> {
        let segments: Vec<&str> = rest.split('/').collect();
        let (id_segments, target) = match segments.as_slice() {
            [id @ .., last] if *last == "info.json" && !id.is_empty() => (id, Target::Info),
            [id @ .., region, size, rotation, qf] if !id.is_empty() && qf.contains('.') => (
                id,
                Target::Image {
                    region: decode(region)?,
                    size: decode(size)?,
                    rotation: decode(rotation)?,
                    quality_format: decode(qf)?,
                },
            ),
            [id @ .., ""] => (id, Target::Base),
            all => (all, Target::Base),
        };
        // An empty raw segment (`a//b`, `//%2f`) names nothing: its identifier could not be
        // written back into a URL that parses to it again.
        if id_segments.is_empty() || id_segments.iter().any(|s| s.is_empty()) {
            return Err(PathError::NotFound);
        }
        let decoded: Vec<String> = id_segments
            .iter()
            .map(|s| decode(s))
            .collect::<Result<_, _>>()?;
        Ok(IiifPath {
            version,
            identifier: decoded.join("/"),
            raw_slashes: id_segments.len() > 1,
            target,
        })
    }

    /// The identifier encoded for use in a URL, the way it arrived: raw slashes kept or `%2F`.
    pub fn encoded_identifier(&self) -> String {
        encode_identifier(&self.identifier, self.raw_slashes)
    }
}

/// Characters left as they are in an identifier segment: RFC 3986 unreserved plus `:` and `@`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'@');

/// Percent-encode `identifier` for a URL path, keeping `/` raw when `raw_slashes`.
pub fn encode_identifier(identifier: &str, raw_slashes: bool) -> String {
    if raw_slashes {
        identifier
            .split('/')
            .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
            .collect::<Vec<_>>()
            .join("/")
    } else {
        utf8_percent_encode(identifier, SEGMENT).to_string()
    }
}

fn decode(segment: &str) -> Result<String, PathError> {
    percent_decode_str(segment)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| PathError::BadEncoding)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(r: &str, s: &str, rot: &str, qf: &str) -> Target {
        Target::Image {
            region: r.into(),
            size: s.into(),
            rotation: rot.into(),
            quality_format: qf.into(),
        }
    }

    #[test]
    fn reads_image_requests_from_the_right() {
        let p = IiifPath::parse("3/lax:13410/elife-13410-fig4-v2.tif/full/,1000/0/default.jpg")
            .unwrap();
        assert_eq!(p.identifier, "lax:13410/elife-13410-fig4-v2.tif");
        assert!(p.raw_slashes);
        assert_eq!(p.target, image("full", ",1000", "0", "default.jpg"));
        assert_eq!(p.encoded_identifier(), "lax:13410/elife-13410-fig4-v2.tif");
        let p = IiifPath::parse("2/a%2Fb.tif/pct:1,2,3,4/!10,10/!90/gray.png").unwrap();
        assert_eq!(p.identifier, "a/b.tif");
        assert!(!p.raw_slashes);
        assert_eq!(p.version, ApiVersion::V2);
        assert_eq!(p.encoded_identifier(), "a%2Fb.tif");
    }

    #[test]
    fn info_and_base() {
        assert_eq!(
            IiifPath::parse("3/abc/info.json").unwrap().target,
            Target::Info
        );
        let p = IiifPath::parse("3/a/b/info.json").unwrap();
        assert_eq!((p.identifier.as_str(), p.target), ("a/b", Target::Info));
        assert_eq!(IiifPath::parse("3/abc").unwrap().target, Target::Base);
        assert_eq!(IiifPath::parse("3/abc/").unwrap().identifier, "abc");
        assert_eq!(IiifPath::parse("3/%2D1").unwrap().identifier, "-1");
    }

    #[test]
    fn refuses_what_is_not_a_iiif_path() {
        assert_eq!(IiifPath::parse("4/abc/info.json"), Err(PathError::NotFound));
        assert_eq!(IiifPath::parse("3"), Err(PathError::NotFound));
        assert_eq!(IiifPath::parse("3/"), Err(PathError::NotFound));
        // Found by fuzzing: empty raw segments made an identifier (`//`) that no URL names.
        assert_eq!(IiifPath::parse("3//%2f"), Err(PathError::NotFound));
        assert_eq!(
            IiifPath::parse("3/a//b/info.json"),
            Err(PathError::NotFound)
        );
        assert_eq!(IiifPath::parse("3/info.json").unwrap().target, Target::Base);
        assert_eq!(
            IiifPath::parse("3/%FF/info.json"),
            Err(PathError::BadEncoding)
        );
    }
}
