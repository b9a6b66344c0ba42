//! PNG output (png crate, fast compression), keeping alpha and gray.

use png::{BitDepth, ColorType, Compression, Encoder};

use crate::{ImageError, PixelLayout, Raster};

/// Rows compressed between two cancellation checks.
const ROWS_PER_BAND: usize = 64;

/// Largest IDAT chunk written.
const IDAT_BYTES: usize = 256 * 1024;

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
    {
        // Rows go in bands, so a cancelled render stops between them (see `crate::cancel`).
        let mut stream = writer.stream_writer_with_size(IDAT_BYTES).map_err(fail)?;
        let band = raster.stride().max(1) * ROWS_PER_BAND;
        for rows in raster.data.chunks(band) {
            crate::cancel::check()?;
            std::io::Write::write_all(&mut stream, rows).map_err(|e| fail(e.into()))?;
        }
        stream.finish().map_err(fail)?;
    }
    writer.finish().map_err(fail)?;
    Ok(out)
}
