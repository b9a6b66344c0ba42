//! The quality segment: `default`, `color`, `gray`, `bitonal`.

use std::fmt;
use std::str::FromStr;

/// The colour treatment asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quality {
    /// The server's default: the image's own colours.
    Default,
    /// Full colour (same pixels as `default` for Tessera).
    Color,
    /// Grayscale (`gray`; the British `grey` of Image API 1.x is refused).
    Gray,
    /// Black and white only.
    Bitonal,
}

impl Quality {
    /// Every quality, in the order `info.json` lists them.
    pub const ALL: [Quality; 4] = [
        Quality::Default,
        Quality::Color,
        Quality::Gray,
        Quality::Bitonal,
    ];

    /// The URL spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Quality::Default => "default",
            Quality::Color => "color",
            Quality::Gray => "gray",
            Quality::Bitonal => "bitonal",
        }
    }
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Quality {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "default" => Quality::Default,
            "color" => Quality::Color,
            "gray" => Quality::Gray,
            "bitonal" => Quality::Bitonal,
            _ => return Err(()),
        })
    }
}
