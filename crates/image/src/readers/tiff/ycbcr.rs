//! YCbCr TIFF chunks that are not JPEG-compressed (uncompressed, LZW, Deflate...): the stored
//! data units (h x v luma samples, then one Cb and one Cr) unpacked to one Y, Cb, Cr per pixel.

use super::layout::Layout;
use crate::ImageError;

fn unsupported(what: &str) -> ImageError {
    ImageError::Unsupported(format!("tiff: YCbCr {what}"))
}

/// The decompressed size of a `width` x `rows` chunk stored in data units, after checking that
/// the layout is one this module unpacks (8-bit, three interleaved samples, subsampling 1, 2 or 4).
pub(super) fn stored_size(layout: &Layout, width: u32, rows: u32) -> Result<u64, ImageError> {
    let (h, v) = layout.ycbcr_subsampling;
    if layout.bits != 8 || layout.spp != 3 || layout.planar {
        return Err(unsupported(
            "other than 8-bit, 3 interleaved samples (without JPEG)",
        ));
    }
    if ![1, 2, 4].contains(&h) || ![1, 2, 4].contains(&v) || v > h {
        return Err(unsupported(&format!("subsampling {h}x{v}")));
    }
    if layout.predictor != 1 && (h, v) != (1, 1) {
        return Err(unsupported("subsampled with a predictor"));
    }
    let units = u64::from(width.div_ceil(h)) * u64::from(rows.div_ceil(v));
    Ok(units * u64::from(h * v + 2))
}

/// Unpack `data` (a `width` x `rows` chunk in data units) to interleaved Y, Cb, Cr bytes, each
/// pixel taking the chroma of its unit. `None` when `data` is shorter than the units it must hold.
pub(super) fn unpack(layout: &Layout, data: &[u8], width: u32, rows: u32) -> Option<Vec<u8>> {
    let (h, v) = layout.ycbcr_subsampling;
    let (h, v, width, rows) = (h as usize, v as usize, width as usize, rows as usize);
    let unit_len = h * v + 2;
    let across = width.div_ceil(h);
    if data.len() < across * rows.div_ceil(v) * unit_len {
        return None;
    }
    let mut out = vec![0u8; width * rows * 3];
    for (u, unit) in data.chunks_exact(unit_len).enumerate() {
        let (ux, uy) = (u % across * h, u / across * v);
        if uy >= rows {
            break;
        }
        let (cb, cr) = (unit[h * v], unit[h * v + 1]);
        for dy in 0..v {
            for dx in 0..h {
                let (x, y) = (ux + dx, uy + dy);
                if x < width && y < rows {
                    let at = (y * width + x) * 3;
                    out[at..at + 3].copy_from_slice(&[unit[dy * h + dx], cb, cr]);
                }
            }
        }
    }
    Some(out)
}
