//! PNG output (png crate, fast compression), keeping alpha and gray.

use png::{BitDepth, ColorType, Compression, Encoder};

use crate::{ImageError, PixelLayout, Raster};

/// Encode `raster` as an 8-bit PNG of the same layout.
pub(crate) fn encode(raster: &Raster) -> Result<Vec<u8>, ImageError> {
    let fail = |e: png::EncodingError| ImageError::Encode {
        format: "png",
        message: e.to_string(),
    };
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, raster.width, raster.height);
    encoder.set_color(match raster.layout {
        PixelLayout::Gray8 => ColorType::Grayscale,
        PixelLayout::GrayAlpha8 => ColorType::GrayscaleAlpha,
        PixelLayout::Rgb8 => ColorType::Rgb,
        PixelLayout::Rgba8 => ColorType::Rgba,
    });
    encoder.set_depth(BitDepth::Eight);
    encoder.set_compression(Compression::Fast);
    let mut writer = encoder.write_header().map_err(fail)?;
    writer.write_image_data(&raster.data).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(out)
}
