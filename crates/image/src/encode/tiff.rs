//! TIFF output (tiff crate), Deflate-compressed gray, RGB or RGBA.

use std::io::Cursor;

use tiff::encoder::colortype::{Gray8, RGB8, RGBA8};
use tiff::encoder::compression::DeflateLevel;
use tiff::encoder::{Compression, TiffEncoder};

use crate::transform::quality::to_rgba;
use crate::{ImageError, PixelLayout, Raster};

/// Encode `raster` as a single-image TIFF; gray with alpha is written as RGBA.
pub(crate) fn encode(raster: &Raster) -> Result<Vec<u8>, ImageError> {
    let fail = |e: tiff::TiffError| ImageError::Encode {
        format: "tif",
        message: e.to_string(),
    };
    let mut out = Vec::new();
    let mut encoder = TiffEncoder::new(Cursor::new(&mut out))
        .map_err(fail)?
        .with_compression(Compression::Deflate(DeflateLevel::Fast));
    let (w, h) = (raster.width, raster.height);
    match raster.layout {
        PixelLayout::Gray8 => encoder.write_image::<Gray8>(w, h, &raster.data),
        PixelLayout::Rgb8 => encoder.write_image::<RGB8>(w, h, &raster.data),
        PixelLayout::Rgba8 => encoder.write_image::<RGBA8>(w, h, &raster.data),
        PixelLayout::GrayAlpha8 => encoder.write_image::<RGBA8>(w, h, &to_rgba(raster)),
    }
    .map_err(fail)?;
    Ok(out)
}
