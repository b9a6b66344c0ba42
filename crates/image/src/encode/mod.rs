//! One encoder per output format, chosen by [`encode`].

mod avif;
mod gif;
pub(crate) mod jpeg;
pub(crate) mod jpeg_libjpeg;
mod png;
mod tiff;
mod webp;
mod webp_icc;

use tessera_iiif::OutputFormat;

use crate::{ImageError, Raster};

pub(crate) use jpeg::{with_profile as jpeg_with_profile, ICC_SEGMENT_BYTES};

/// Which library writes JPEG in this build, for the startup log: `libjpeg (SIMD)` when mozjpeg was
/// built with its SIMD code (`nasm` present at build time) and the CPU runs it, else `jpeg-encoder`.
pub fn jpeg_encoder_name() -> &'static str {
    match jpeg::Engine::fastest() {
        jpeg::Engine::Libjpeg => "libjpeg (SIMD)",
        jpeg::Engine::JpegEncoder => "jpeg-encoder",
    }
}

/// Quality knobs of the lossy encoders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// JPEG quality, 1–100 (default 85).
    pub jpeg_quality: u8,
    /// WebP quality, 0–100 (default 80).
    pub webp_quality: u8,
    /// AVIF quality, 1–100 on ravif's scale (default 80).
    pub avif_quality: u8,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            jpeg_quality: 85,
            webp_quality: 80,
            avif_quality: 80,
        }
    }
}

/// Encode `raster` as `format`, embedding `icc` (the profile that describes the raster's pixels,
/// when they are not sRGB) where the format has a place for it: JPEG (APP2), PNG (iCCP), WebP
/// (ICCP) and TIFF (tag 34675); GIF has none. Each encoder embeds the profile only when its colour
/// space is that of the pixels it writes (gray or RGB), so a gray rendition of an RGB image, or a
/// gray image written as RGB, goes untagged.
pub fn encode(
    raster: &Raster,
    format: OutputFormat,
    options: &EncodeOptions,
    icc: Option<&[u8]>,
) -> Result<Vec<u8>, ImageError> {
    match format {
        OutputFormat::Jpg => jpeg::encode(raster, options.jpeg_quality, icc),
        OutputFormat::Png => png::encode(raster, icc),
        OutputFormat::Webp => webp::encode(raster, options.webp_quality, icc),
        OutputFormat::Gif => gif::encode(raster),
        OutputFormat::Tif => tiff::encode(raster, icc),
        OutputFormat::Avif => avif::encode(raster, options.avif_quality),
    }
}

/// `icc` if it describes pixels that are gray (`gray`) or RGB.
fn fitting(icc: Option<&[u8]>, gray: bool) -> Option<&[u8]> {
    icc.filter(|p| crate::colour::describes(p, gray))
}
