//! JPEG tiles coded as R, G and B answering a JPEG request through planes ([`crate::planar`]):
//! each tile decoded one component at a time into the planes, and the region written as YCbCr
//! from them, with no packed raster in between.

use tessera_iiif::Rect;
use tessera_source::RandomAccess;

use super::layout::Layout;
use super::{jpeg, raw_bytes};
use crate::cancel::check;
use crate::planar::{self, RgbPlanes, Window};
use crate::ImageError;

/// The JPEG at `quality` of `at`, a region of `layout` (a level stored in RGB-coded JPEG
/// tiles) at that level's own scale. The planes span the whole tiles it touches, from the top
/// of its first row of tiles down to its last row (rounded up to a row of blocks). `None`,
/// before anything is encoded, when a tile is not such a JPEG: the caller decodes the region
/// the general way. Run inside the readers' `guard`.
pub(super) fn reencode(
    source: &dyn RandomAccess,
    layout: &Layout,
    at: Rect,
    quality: u8,
) -> Result<Option<Vec<u8>>, ImageError> {
    let (tw, th) = (layout.chunk_w as usize, layout.chunk_h as usize);
    let (x, y, w, h) = (at.x as usize, at.y as usize, at.w as usize, at.h as usize);
    if tw == 0 || th == 0 || w == 0 || h == 0 {
        return Ok(None);
    }
    let (columns, rows) = (x / tw..=(x + w - 1) / tw, y / th..=(y + h - 1) / th);
    let (left, top, bottom) = (columns.start() * tw, rows.start() * th, y + h);
    let stride = (columns.end() - columns.start() + 1) * tw;
    let window = Window {
        x: x - left,
        y: y - top,
        width: w,
        height: h,
    };
    let mut planes = RgbPlanes::new(stride, (bottom - top).div_ceil(8) * 8, window)?;
    let tables = layout.jpeg_tables.as_deref();
    for row in rows {
        let tile_top = row * th;
        let wanted = th.min(bottom - tile_top);
        for column in columns.clone() {
            check()?;
            let index = layout.chunk_index(column as u32, row as u32);
            let stream = jpeg::standalone(tables, &raw_bytes(source, layout, index)?);
            let at = (column * tw - left, tile_top - top);
            if !planar::decode_rgb(&stream, tw, &mut planes, at, wanted)? {
                return Ok(None);
            }
        }
    }
    check()?;
    planar::encode(&planes, quality).map(Some)
}
