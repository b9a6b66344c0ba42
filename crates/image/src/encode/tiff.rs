//! TIFF output (tiff crate), Deflate-compressed gray, RGB or RGBA; an ICC profile goes into tag
//! 34675 (InterColorProfile, type UNDEFINED).

use std::borrow::Cow;
use std::io::{Cursor, Seek, Write};

use tiff::encoder::colortype::{ColorType, Gray8, RGB8, RGBA8};
use tiff::encoder::compression::DeflateLevel;
use tiff::encoder::{Compression, TiffEncoder, TiffKind, TiffValue};
use tiff::tags::{Tag, Type};
use tiff::TiffResult;

use crate::transform::quality::to_rgba;
use crate::{ImageError, PixelLayout, Raster};

/// Encode `raster` as a single-image TIFF, with `icc` when it fits the pixels written; gray with
/// alpha is written as RGBA.
pub(crate) fn encode(raster: &Raster, icc: Option<&[u8]>) -> Result<Vec<u8>, ImageError> {
    let fail = |e: tiff::TiffError| ImageError::Encode {
        format: "tif",
        message: e.to_string(),
    };
    let mut out = Vec::new();
    let mut encoder = TiffEncoder::new(Cursor::new(&mut out))
        .map_err(fail)?
        .with_compression(Compression::Deflate(DeflateLevel::Fast));
    let (w, h) = (raster.width, raster.height);
    let icc = super::fitting(icc, raster.layout == PixelLayout::Gray8);
    match raster.layout {
        PixelLayout::Gray8 => write::<_, Gray8, _>(&mut encoder, w, h, &raster.data, icc),
        PixelLayout::Rgb8 => write::<_, RGB8, _>(&mut encoder, w, h, &raster.data, icc),
        PixelLayout::Rgba8 => write::<_, RGBA8, _>(&mut encoder, w, h, &raster.data, icc),
        PixelLayout::GrayAlpha8 => write::<_, RGBA8, _>(&mut encoder, w, h, &to_rgba(raster), icc),
    }
    .map_err(fail)?;
    Ok(out)
}

/// Write one image of colour type `C`, with the profile tag when there is one.
fn write<W: Write + Seek, C: ColorType<Inner = u8>, K: TiffKind>(
    encoder: &mut TiffEncoder<W, K>,
    w: u32,
    h: u32,
    data: &[u8],
    icc: Option<&[u8]>,
) -> TiffResult<()> {
    let mut image = encoder.new_image::<C>(w, h)?;
    if let Some(icc) = icc {
        image.encoder().write_tag(Tag::IccProfile, Undefined(icc))?;
    }
    image.write_data(data)
}

/// Bytes written as TIFF type UNDEFINED (7), the type the TIFF/EP and ICC specifications give
/// the profile tag.
struct Undefined<'a>(&'a [u8]);

impl TiffValue for Undefined<'_> {
    const BYTE_LEN: u8 = 1;
    const FIELD_TYPE: Type = Type::UNDEFINED;

    fn count(&self) -> usize {
        self.0.len()
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.0)
    }
}
