//! JPEG-compressed strips and tiles (new-style with shared JPEGTables, and old-style
//! interchange streams), decoded by mozjpeg with the same strict error handling as JPEG files.

use mozjpeg::{ColorSpace, Decompress};

use crate::readers::jpeg::strict_error_manager;
use crate::readers::jpeg_meta;
use crate::ImageError;

/// Decoded JPEG pixels: 1 (gray), 3 (RGB) or 4 (CMYK, 0 = no ink) bytes per pixel.
pub(crate) struct JpegPixels {
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub channels: usize,
}

/// One chunk as a standalone JPEG: the JPEGTables stream without its EOI, then the chunk without
/// its SOI (a single SOI and EOI); the chunk as stored when there are no tables.
pub(crate) fn standalone(tables: Option<&[u8]>, chunk: &[u8]) -> Vec<u8> {
    match tables {
        Some(t) if t.len() > 4 && chunk.len() > 2 && chunk.starts_with(&[0xFF, 0xD8]) => {
            let head = t.strip_suffix(&[0xFF, 0xD9]).unwrap_or(t);
            let mut s = Vec::with_capacity(head.len() + chunk.len());
            s.extend_from_slice(head);
            s.extend_from_slice(&chunk[2..]);
            s
        }
        _ => chunk.to_vec(),
    }
}

/// Decode the first `max_rows` rows (or all, when fewer) of one chunk; `tables` (a JPEGTables
/// stream, SOI … EOI) is spliced in front of it. Rows below are never decoded: a tile at the
/// image's bottom is mostly padding, and a region often ends inside a tile. A YCbCr-coded chunk
/// comes back as RGB, or as YCbCr with `keep_ycbcr`.
/// The caller runs this inside `guard`, which turns libjpeg's unwinding errors into errors.
pub(crate) fn decode(
    tables: Option<&[u8]>,
    chunk: &[u8],
    keep_ycbcr: bool,
    max_rows: u32,
) -> Result<JpegPixels, ImageError> {
    let corrupt = |e: std::io::Error| ImageError::Corrupt(format!("tiff: jpeg: {e}"));
    let stream = standalone(tables, chunk);
    let dec = Decompress::with_err(strict_error_manager())
        .from_mem(&stream)
        .map_err(corrupt)?;
    let (mut started, channels, adobe_cmyk) = match dec.color_space() {
        ColorSpace::JCS_GRAYSCALE => (dec.grayscale().map_err(corrupt)?, 1, false),
        ColorSpace::JCS_CMYK | ColorSpace::JCS_YCCK => {
            let inverted =
                dec.color_space() == ColorSpace::JCS_YCCK || jpeg_meta::parse(&stream).adobe;
            (
                dec.to_colorspace(ColorSpace::JCS_CMYK).map_err(corrupt)?,
                4,
                inverted,
            )
        }
        ColorSpace::JCS_YCbCr if keep_ycbcr => (
            dec.to_colorspace(ColorSpace::JCS_YCbCr).map_err(corrupt)?,
            3,
            false,
        ),
        _ => (dec.rgb().map_err(corrupt)?, 3, false),
    };
    let width = u32::try_from(started.width())
        .map_err(|_| ImageError::Corrupt("tiff: jpeg width".into()))?;
    let height = u32::try_from(started.height())
        .map_err(|_| ImageError::Corrupt("tiff: jpeg height".into()))?
        .min(max_rows);
    let mut data = vec![0u8; width as usize * height as usize * channels];
    // Only these rows are read; the decompressor is then destroyed, unfinished.
    started.read_scanlines_into(&mut data).map_err(corrupt)?;
    if adobe_cmyk {
        data.iter_mut().for_each(|v| *v = 255 - *v);
    }
    Ok(JpegPixels {
        data,
        width,
        height,
        channels,
    })
}

/// Where [`decode_into`] writes: `rows` rows of `width` pixels of `channels` samples (1, gray, or
/// 3, RGB), row `r` at `offset + r * stride` of the destination.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub width: u32,
    pub rows: u32,
    pub channels: usize,
    pub stride: usize,
    pub offset: usize,
}

/// Decode the first `window.rows` rows of one chunk straight into `dst` (no buffer of its own,
/// no copy), when the chunk is a gray or YCbCr/RGB JPEG exactly `window.width` pixels wide, of
/// at least that many rows, with `window.channels` samples per pixel. `Ok(false)`, with `dst`
/// untouched, when it is not (the caller decodes it the general way). Run inside `guard`.
pub(crate) fn decode_into(
    tables: Option<&[u8]>,
    chunk: &[u8],
    window: Window,
    dst: &mut [u8],
) -> Result<bool, ImageError> {
    let corrupt = |e: std::io::Error| ImageError::Corrupt(format!("tiff: jpeg: {e}"));
    let line = window.width as usize * window.channels;
    let last = window.rows.saturating_sub(1) as usize;
    let end = window.offset + last * window.stride + line;
    if window.rows == 0 || end > dst.len() {
        return Ok(false);
    }
    let stream = standalone(tables, chunk);
    let dec = Decompress::with_err(strict_error_manager())
        .from_mem(&stream)
        .map_err(corrupt)?;
    let fits = dec.width() == window.width as usize && dec.height() >= window.rows as usize;
    let mut started = match (dec.color_space(), window.channels) {
        _ if !fits => return Ok(false),
        (ColorSpace::JCS_GRAYSCALE, 1) => dec.grayscale().map_err(corrupt)?,
        (ColorSpace::JCS_YCbCr | ColorSpace::JCS_RGB, 3) => dec.rgb().map_err(corrupt)?,
        _ => return Ok(false),
    };
    for r in 0..=last {
        let at = window.offset + r * window.stride;
        let Some(row) = dst.get_mut(at..at + line) else {
            return Err(ImageError::Corrupt(
                "tiff: jpeg: row outside the region".into(),
            ));
        };
        started.read_scanlines_into(row).map_err(corrupt)?;
    }
    Ok(true)
}
