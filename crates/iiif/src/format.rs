//! The output format: the extension of the last URL segment.

use std::fmt;
use std::str::FromStr;

/// An output format Tessera can encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    /// JPEG (`jpg`).
    Jpg,
    /// PNG (`png`).
    Png,
    /// WebP (`webp`).
    Webp,
    /// GIF (`gif`).
    Gif,
    /// TIFF (`tif`).
    Tif,
    /// AVIF (`avif`): AV1 in HEIF, not in 2.1's or 3.0's format table, which both leave open.
    Avif,
}

impl OutputFormat {
    /// Every format, `jpg` and `png` (the level-2 ones) first.
    pub const ALL: [OutputFormat; 6] = [
        OutputFormat::Jpg,
        OutputFormat::Png,
        OutputFormat::Webp,
        OutputFormat::Gif,
        OutputFormat::Tif,
        OutputFormat::Avif,
    ];

    /// The URL extension.
    pub fn extension(&self) -> &'static str {
        match self {
            OutputFormat::Jpg => "jpg",
            OutputFormat::Png => "png",
            OutputFormat::Webp => "webp",
            OutputFormat::Gif => "gif",
            OutputFormat::Tif => "tif",
            OutputFormat::Avif => "avif",
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn media_type(&self) -> &'static str {
        match self {
            OutputFormat::Jpg => "image/jpeg",
            OutputFormat::Png => "image/png",
            OutputFormat::Webp => "image/webp",
            OutputFormat::Gif => "image/gif",
            OutputFormat::Tif => "image/tiff",
            OutputFormat::Avif => "image/avif",
        }
    }

    /// The widest and tallest image this format's encoder can write: 16,383 for WebP (libwebp),
    /// 16,384 for AVIF (the widest picture of AV1 level 6, the AVIF Advanced Profile's limit),
    /// 65,535 for JPEG and GIF (16-bit sides), 2^31 - 1 for PNG, 2^32 - 1 for TIFF.
    pub fn max_side(&self) -> u32 {
        match self {
            OutputFormat::Webp => 16_383,
            OutputFormat::Avif => 16_384,
            OutputFormat::Jpg | OutputFormat::Gif => 65_535,
            OutputFormat::Png => 0x7fff_ffff,
            OutputFormat::Tif => u32::MAX,
        }
    }

    /// Whether the format can carry transparency (rotation backgrounds are transparent there).
    pub fn has_alpha(&self) -> bool {
        !matches!(self, OutputFormat::Jpg)
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for OutputFormat {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "jpg" => OutputFormat::Jpg,
            "png" => OutputFormat::Png,
            "webp" => OutputFormat::Webp,
            "gif" => OutputFormat::Gif,
            "tif" => OutputFormat::Tif,
            "avif" => OutputFormat::Avif,
            _ => return Err(()),
        })
    }
}
