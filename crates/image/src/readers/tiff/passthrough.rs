//! Stored JPEG tiles answering a JPEG request at a level's own scale: a request that is exactly
//! one stored tile at its own level and size gets the stored bytes (JPEGTables merged in); one
//! that is a window on the MCU grid of one level gets the tiles it covers joined in the DCT
//! domain ([`crate::dct`]), requantised to the output quality where stored finer, without a
//! pixel decoded. RGB-coded tiles, which do not join, go through planes ([`rgb_tiles`]).

use tessera_iiif::{Dimensions, Rect};
use tessera_source::RandomAccess;

use super::decompress::Compression;
use super::layout::{Layout, Photometric};
use super::{jpeg, raw_bytes, rgb_tiles};
use crate::dct::{compose, Piece};
use crate::planar;
use crate::readers::{check_read_budget, choose_level, jpeg_meta};
use crate::ImageError;

/// What the request asks of stored JPEG data.
pub(crate) struct Wanted {
    /// The full image's size, the request's region (full-resolution pixels) and output size.
    pub full: Dimensions,
    pub region: Rect,
    pub size: Dimensions,
    /// The output's JPEG quality: joined coefficients stored finer than its tables are
    /// requantised to them.
    pub quality: u8,
    /// Whether a request that is exactly one stored tile gets the stored bytes as they are
    /// (a source's own tiles), or requantised like a join (Tessera's pyramid).
    pub exact_as_stored: bool,
    /// The most pixels one read may produce.
    pub max_pixels: u64,
}

/// The stored JPEG data that answers `wanted` as a standalone JPEG; `None` when the request is
/// anything else, or the tiles are not JPEGs that any browser shows as Tessera would (YCbCr, RGB
/// as stored, or gray). Whether the image's ICC profile allows it (it must not need a
/// conversion) is the render's decision; a level whose own profile differs from the image's
/// (which the render reports) is never used.
pub(crate) fn stored_jpeg(
    source: &dyn RandomAccess,
    levels: &[Layout],
    wanted: &Wanted,
) -> Result<Option<Vec<u8>>, ImageError> {
    let sizes: Vec<Dimensions> = levels
        .iter()
        .skip(1)
        .map(|l| Dimensions::new(l.width, l.height))
        .collect();
    let (level, at) = choose_level(wanted.full, &sizes, wanted.region, wanted.size);
    let Some(layout) = levels.get(level) else {
        return Ok(None);
    };
    let size = wanted.size;
    if !plain_jpeg_tiles(levels, layout) || (at.w, at.h) != (size.width, size.height) {
        return Ok(None);
    }
    let (tw, th) = (layout.chunk_w, layout.chunk_h);
    let whole_tile = at.x % tw == 0
        && at.y % th == 0
        && at.w == tw.min(layout.width - at.x)
        && at.h == th.min(layout.height - at.y);
    let exact = whole_tile && wanted.exact_as_stored;
    let rgb = layout.photometric == Photometric::Rgb;
    // RGB-coded tiles are joined only as stored (`dct::compose`), which an output quality below
    // theirs never allows. Any window on them but one whole tile (passed as stored, or cut at the
    // edge where the quality allows, below) is decoded and re-encoded through planes, where that
    // is faster than the packed raster, or else the general way.
    if rgb && !exact {
        if !planar::available() {
            return Ok(None);
        }
        check_read_budget("tiff", at, wanted.max_pixels)?;
        return rgb_tiles::reencode(source, layout, at, wanted.quality);
    }
    // Off the 8-pixel grid nothing can be joined; the MCU grid proper is checked on the tiles.
    if !whole_tile && (at.x % 8 != 0 || at.y % 8 != 0) {
        return Ok(None);
    }
    check_read_budget("tiff", at, wanted.max_pixels)?;
    let tile = |column: u32, row: u32| -> Result<Vec<u8>, ImageError> {
        let raw = raw_bytes(source, layout, layout.chunk_index(column, row))?;
        Ok(jpeg::standalone(layout.jpeg_tables.as_deref(), &raw))
    };
    let (columns, rows) = (
        at.x / tw..=(at.x + at.w - 1) / tw,
        at.y / th..=(at.y + at.h - 1) / th,
    );
    let mut pieces = Vec::new();
    for row in rows {
        for column in columns.clone() {
            let stream = tile(column, row)?;
            if pieces.is_empty() && !shows_as_decoded(&stream, layout, (tw, th)) {
                return Ok(None);
            }
            pieces.push(Piece {
                stream,
                size: (tw, th),
                x: i64::from(column * tw) - i64::from(at.x),
                y: i64::from(row * th) - i64::from(at.y),
            });
        }
    }
    // A clipped edge tile is stored at the full tile size: only a tile whose frame is the
    // answer's size passes as it is; the others are cut by joining.
    let fits = |s: &[u8]| {
        jpeg_meta::parse(s)
            .frame
            .is_some_and(|(w, h, _)| (u32::from(w), u32::from(h)) == (at.w, at.h))
    };
    if exact && pieces.len() == 1 && fits(&pieces[0].stream) {
        return Ok(pieces.pop().map(|p| p.stream));
    }
    // Blocks of the answer and of one tile at a time, 128 bytes per block per component.
    let blocks = (u64::from(at.w) * u64::from(at.h) + u64::from(tw) * u64::from(th)) * 8;
    let joined = compose(
        &pieces,
        at.w,
        at.h,
        Some(wanted.quality),
        blocks + (16 << 20),
    )?;
    // One RGB-coded tile cut at the image's edge joins only at its stored quality or finer.
    if joined.is_none() && rgb && planar::available() {
        return rgb_tiles::reencode(source, layout, at, wanted.quality);
    }
    Ok(joined)
}

/// Whether `layout` (a level of `levels`) holds 8-bit JPEG tiles in a plain colour model with
/// the image's own profile.
fn plain_jpeg_tiles(levels: &[Layout], layout: &Layout) -> bool {
    let plain = matches!(
        (layout.photometric, layout.spp),
        (Photometric::Rgb, 3) | (Photometric::YCbCr, 3) | (Photometric::BlackIsZero, 1)
    );
    let own_profile = levels.first().is_some_and(|base| base.icc != layout.icc);
    layout.tiled
        && layout.compression == Compression::Jpeg
        && !layout.planar
        && layout.bits == 8
        && plain
        && !own_profile
}

/// Whether a stored tile is a whole JPEG of the tile's size and components that every decoder
/// shows as Tessera decodes it: no Adobe transform or profile of its own, and RGB tiles (libvips
/// and libtiff write them with components named R, G, B and no JFIF marker) taken as RGB.
fn shows_as_decoded(stream: &[u8], layout: &Layout, (tw, th): (u32, u32)) -> bool {
    let meta = jpeg_meta::parse(stream);
    let frame_fits = meta.frame.is_some_and(|(w, h, c)| {
        (u32::from(w), u32::from(h)) == (tw, th) && usize::from(c) == layout.spp
    });
    let ends = stream.starts_with(&[0xFF, 0xD8]) && stream.ends_with(&[0xFF, 0xD9]);
    let rgb = layout.photometric == Photometric::Rgb;
    let rgb_as_stored = !rgb || (meta.rgb_ids && !meta.jfif);
    frame_fits && ends && !meta.adobe && meta.icc.is_none() && rgb_as_stored
}
