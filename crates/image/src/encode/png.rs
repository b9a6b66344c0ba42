//! PNG output (png crate, fast compression), keeping alpha and gray; an ICC profile goes into a
//! zlib-compressed iCCP chunk.

use std::borrow::Cow;

use png::{BitDepth, ColorType, Compression, Encoder, Info};

use crate::{ImageError, PixelLayout, Raster};

/// Rows compressed between two cancellation checks.
const ROWS_PER_BAND: usize = 64;

/// Largest IDAT chunk written.
const IDAT_BYTES: usize = 256 * 1024;

/// Encode `raster` as an 8-bit PNG of the same layout, with `icc` when it fits the pixels.
pub(crate) fn encode(raster: &Raster, icc: Option<&[u8]>) -> Result<Vec<u8>, ImageError> {
    let fail = |e: png::EncodingError| ImageError::Encode {
        format: "png",
        message: e.to_string(),
    };
    let mut out = Vec::new();
    let mut info = Info::with_size(raster.width, raster.height);
    info.icc_profile = super::fitting(icc, raster.layout.is_gray()).map(Cow::Borrowed);
    let mut encoder = Encoder::with_info(&mut out, info).map_err(fail)?;
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
