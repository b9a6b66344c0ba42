//! One encoder per output format, chosen by [`encode`].

mod avif;
mod gif;
mod jpeg;
mod png;
mod tiff;
mod webp;

use tessera_iiif::OutputFormat;

use crate::{ImageError, Raster};

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

/// Encode `raster` as `format`.
pub fn encode(
    raster: &Raster,
    format: OutputFormat,
    options: &EncodeOptions,
) -> Result<Vec<u8>, ImageError> {
    match format {
        OutputFormat::Jpg => jpeg::encode(raster, options.jpeg_quality),
        OutputFormat::Png => png::encode(raster),
        OutputFormat::Webp => webp::encode(raster, options.webp_quality),
        OutputFormat::Gif => gif::encode(raster),
        OutputFormat::Tif => tiff::encode(raster),
        OutputFormat::Avif => avif::encode(raster, options.avif_quality),
    }
}
