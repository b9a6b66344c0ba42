//! Tile passthrough: a request that is exactly one stored JPEG tile at its own level and size is
//! answered with the stored bytes (JPEGTables merged in), without decoding and re-encoding.

use tessera_iiif::{Dimensions, Rect};
use tessera_source::RandomAccess;

use super::decompress::Compression;
use super::layout::{Layout, Photometric};
use super::{jpeg, raw_bytes};
use crate::readers::{choose_level, jpeg_meta};
use crate::ImageError;

/// The stored JPEG tile that is exactly `region` of an image of size `full` at `size`, as a
/// standalone JPEG; `None` when the request is anything else or the tile is not a JPEG that any
/// browser shows as Tessera would (YCbCr, RGB as stored, or gray). Whether the image's ICC profile
/// allows passing it through (it must not need a conversion) is the render's decision; a level
/// whose own profile differs from the image's (which the render reports) is never passed through.
pub(crate) fn stored_tile(
    source: &dyn RandomAccess,
    levels: &[Layout],
    full: Dimensions,
    region: Rect,
    size: Dimensions,
) -> Result<Option<Vec<u8>>, ImageError> {
    let sizes: Vec<Dimensions> = levels
        .iter()
        .skip(1)
        .map(|l| Dimensions::new(l.width, l.height))
        .collect();
    let (level, at) = choose_level(full, &sizes, region, size);
    let Some(layout) = levels.get(level) else {
        return Ok(None);
    };
    // RGB tiles (libvips and libtiff write them with components named R, G, B and no transform)
    // pass when every decoder takes them as RGB: checked on the stream below.
    let rgb = matches!((layout.photometric, layout.spp), (Photometric::Rgb, 3));
    let plain = rgb
        || matches!(
            (layout.photometric, layout.spp),
            (Photometric::YCbCr, 3) | (Photometric::BlackIsZero, 1)
        );
    let own_profile = levels.first().is_some_and(|base| base.icc != layout.icc);
    if !layout.tiled
        || layout.compression != Compression::Jpeg
        || layout.planar
        || layout.bits != 8
        || !plain
        || own_profile
    {
        return Ok(None);
    }
    let (tw, th) = (layout.chunk_w, layout.chunk_h);
    let whole_tile = at.x % tw == 0
        && at.y % th == 0
        && at.w == tw.min(layout.width - at.x)
        && at.h == th.min(layout.height - at.y);
    if !whole_tile || (at.w, at.h) != (size.width, size.height) {
        return Ok(None);
    }
    let index = u64::from(at.y / th) * u64::from(layout.across) + u64::from(at.x / tw);
    let raw = raw_bytes(source, layout, index)?;
    let stream = jpeg::standalone(layout.jpeg_tables.as_deref(), &raw);
    let meta = jpeg_meta::parse(&stream);
    let frame_fits = meta.frame.is_some_and(|(w, h, c)| {
        u32::from(w) == size.width && u32::from(h) == size.height && usize::from(c) == layout.spp
    });
    let ends = stream.starts_with(&[0xFF, 0xD8]) && stream.ends_with(&[0xFF, 0xD9]);
    let rgb_as_stored = !rgb || (meta.rgb_ids && !meta.jfif);
    if !frame_fits || !ends || meta.adobe || meta.icc.is_some() || !rgb_as_stored {
        return Ok(None);
    }
    Ok(Some(stream))
}
