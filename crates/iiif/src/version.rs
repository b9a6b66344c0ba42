//! The two Image API versions Tessera speaks.

use std::fmt;

/// An Image API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    /// Image API 2.1.
    V2,
    /// Image API 3.0.
    V3,
}

impl ApiVersion {
    /// The path segment after `/iiif/`: `2` or `3`.
    pub fn path_segment(&self) -> &'static str {
        match self {
            ApiVersion::V2 => "2",
            ApiVersion::V3 => "3",
        }
    }

    /// The JSON-LD context URI of `info.json`.
    pub fn context(&self) -> &'static str {
        match self {
            ApiVersion::V2 => "http://iiif.io/api/image/2/context.json",
            ApiVersion::V3 => "http://iiif.io/api/image/3/context.json",
        }
    }

    /// The URI of the level-2 compliance profile, as used in `Link: <..>;rel="profile"`.
    pub fn level2_profile_uri(&self) -> &'static str {
        match self {
            ApiVersion::V2 => "http://iiif.io/api/image/2/level2.json",
            ApiVersion::V3 => "http://iiif.io/api/image/3/level2.json",
        }
    }

    /// Parse `2` or `3`.
    pub fn from_segment(s: &str) -> Option<Self> {
        match s {
            "2" => Some(ApiVersion::V2),
            "3" => Some(ApiVersion::V3),
            _ => None,
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ApiVersion::V2 => "2.1",
            ApiVersion::V3 => "3.0",
        })
    }
}
