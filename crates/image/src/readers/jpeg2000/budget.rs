//! What OpenJPEG allocates for a header and for a read, estimated from the main header
//! ([`MainHeader`]) so a hostile file is refused before OpenJPEG allocates anything.
//!
//! OpenJPEG keeps, for the whole codestream, one coding record per tile and per tile-component
//! (while reading the main header), and, for each tile it decodes, the precinct and code-block
//! records of every resolution of the *whole tile at full resolution*, whatever the reduce factor
//! and decode area, plus a packet-inclusion table of layers × resolutions × components ×
//! precincts. The decoded samples themselves are held as 32-bit integers for the decode area only.

use super::codestream::{ComponentCoding, MainHeader};
use crate::ImageError;

/// Most components a read decodes (gray, gray+alpha, RGB(A), CMYK(+alpha) and a few extra
/// channels); OpenJPEG decodes every component.
pub(super) const MAX_COMPONENTS: usize = 16;
/// Most bytes of per-tile coding records the main header may make OpenJPEG allocate (about 5,000
/// tiles of one component, 4,000 of three). Every reader opened holds them while it reads the
/// header, and malloc arenas of other threads keep their own peak.
pub(super) const MAX_HEADER_BYTES: u64 = 64 << 20;
/// Bytes OpenJPEG 2.5 allocates per tile while reading a main header, measured (peak RSS of
/// headers of 1,024 and 4,096 tiles, one and three components, x86-64): a tile's coding record
/// (`opj_tcp_t`, 5,696 bytes) with its codestream-index entry (~2.5 KB), and per component of
/// each tile a `opj_tccp_t` (1,080 bytes) with its share of the rest.
const TILE_RECORD_BYTES: u64 = 8_704;
const TILE_COMPONENT_RECORD_BYTES: u64 = 1_280;
/// A precinct record (56 bytes) with its two tag trees' headers; a code-block record (88 bytes)
/// with its two tag-tree nodes (24 bytes each) and their share of the trees' upper levels.
const PRECINCT_BYTES: u64 = 160;
const CODE_BLOCK_BYTES: u64 = 160;

fn too_large(message: String) -> ImageError {
    ImageError::TooLarge(format!("jpeg2000: {message}"))
}

/// Refuse a header whose components, tile count or tile size cannot be decoded within
/// `max_pixels`: at most [`MAX_COMPONENTS`] components, header records within
/// [`MAX_HEADER_BYTES`], and one tile no larger than `max_pixels` on the reference grid (an untiled
/// or single-tile image is then held to the pixel limit like any untiled image) whose precinct and
/// code-block records take at most `max_pixels` bytes.
pub(super) fn check_header(h: &MainHeader, max_pixels: u64) -> Result<(), ImageError> {
    let comps = h.components.len();
    if comps > MAX_COMPONENTS {
        return Err(too_large(format!(
            "{comps} components, more than the {MAX_COMPONENTS} Tessera decodes"
        )));
    }
    let (across, down) = h.tile_grid();
    let tiles = across.saturating_mul(down);
    let records =
        tiles.saturating_mul(TILE_RECORD_BYTES + comps as u64 * TILE_COMPONENT_RECORD_BYTES);
    if records > MAX_HEADER_BYTES {
        return Err(too_large(format!(
            "{across}x{down} tiles of {} components need {} MB of coding records, more than {} MB",
            comps,
            records >> 20,
            MAX_HEADER_BYTES >> 20
        )));
    }
    let (tw, th) = h.largest_tile();
    if tw * th > max_pixels {
        return Err(too_large(format!(
            "a tile of {tw}x{th} is {} pixels, more than the limit of {max_pixels} (OpenJPEG decodes whole tiles)",
            tw * th
        )));
    }
    let structures = tile_structure_bytes(h);
    if structures > max_pixels {
        return Err(too_large(format!(
            "one {tw}x{th} tile needs {structures} bytes of precinct and code-block records, more than {max_pixels}"
        )));
    }
    Ok(())
}

/// Refuse a read of `w` × `h` pixels (on the grid of the level read) whose samples, over every
/// component, are more than an RGBA raster of `max_pixels` holds, or that touches so many tiles
/// (reference-grid `area`) that setting up their records, one tile after another, would write
/// more than that raster's bytes.
pub(super) fn check_read(
    h: &MainHeader,
    area: (u32, u32, u32, u32),
    (w, ht): (u32, u32),
    max_pixels: u64,
) -> Result<(), ImageError> {
    let samples: u64 = h
        .components
        .iter()
        .map(|c| u64::from(w.div_ceil(c.dx)) * u64::from(ht.div_ceil(c.dy)))
        .sum();
    let limit = max_pixels.saturating_mul(4);
    if samples > limit {
        return Err(ImageError::OverBudget(format!(
            "jpeg2000: a read of {w}x{ht} pixels in {} components is {samples} samples, more than {limit} (4 x the pixel limit)",
            h.components.len()
        )));
    }
    let tiles = tiles_touched(h, area);
    let records = tiles.saturating_mul(tile_structure_bytes(h));
    if records > limit {
        return Err(ImageError::OverBudget(format!(
            "jpeg2000: a read of {w}x{ht} pixels touches {tiles} tiles, whose precinct and code-block records take {} MB, more than {} MB",
            records >> 20,
            limit >> 20
        )));
    }
    Ok(())
}

/// Tiles that reference-grid area `x0..x1` × `y0..y1` touches.
fn tiles_touched(h: &MainHeader, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> u64 {
    let span = |a: u32, b: u32, origin: u32, size: u32| {
        if b <= a {
            return 0;
        }
        let first = u64::from(a.saturating_sub(origin)) / u64::from(size);
        let last = u64::from((b - 1).saturating_sub(origin)) / u64::from(size);
        last - first + 1
    };
    span(x0, x1, h.tile_x0, h.tile_w).saturating_mul(span(y0, y1, h.tile_y0, h.tile_h))
}

/// Bytes of precinct and code-block records (and the packet-inclusion table) OpenJPEG sets up for
/// one tile of the largest size, at every resolution of every component, by the main header's
/// coding or any tile-part header's, whichever costs most.
pub(super) fn tile_structure_bytes(h: &MainHeader) -> u64 {
    std::iter::once(&h.components)
        .chain(&h.tile_codings)
        .map(|c| coding_structure_bytes(h, c))
        .max()
        .unwrap_or(0)
}

/// [`tile_structure_bytes`] for one coding of the components.
fn coding_structure_bytes(h: &MainHeader, components: &[ComponentCoding]) -> u64 {
    let (tw, th) = h.largest_tile();
    let mut bytes = 0u64;
    let mut most_precincts = 0u64;
    let mut most_resolutions = 0u64;
    for c in components {
        let (cw, ch) = (tw.div_ceil(u64::from(c.dx)), th.div_ceil(u64::from(c.dy)));
        most_resolutions = most_resolutions.max(u64::from(c.resolutions));
        for r in 0..c.resolutions {
            let level = c.resolutions - 1 - r;
            let (rw, rh) = (ceil_shift(cw, level), ceil_shift(ch, level));
            let (ppx, ppy) = c.precinct.get(r as usize).copied().unwrap_or((15, 15));
            // One extra precinct (and code-block) row and column where the grid is not aligned.
            let (pw, ph) = (ceil_shift(rw, ppx) + 1, ceil_shift(rh, ppy) + 1);
            let precincts = pw.saturating_mul(ph);
            most_precincts = most_precincts.max(precincts);
            // Sub-bands above the lowest resolution are half the size, and so are their precincts.
            let (bands, bw, bh, gx, gy) = if r == 0 {
                (1, rw, rh, ppx, ppy)
            } else {
                (
                    3,
                    rw.div_ceil(2),
                    rh.div_ceil(2),
                    ppx.saturating_sub(1),
                    ppy.saturating_sub(1),
                )
            };
            let (cbx, cby) = (c.cblk_w.min(gx), c.cblk_h.min(gy));
            let blocks = (ceil_shift(bw, cbx) + pw).saturating_mul(ceil_shift(bh, cby) + ph);
            bytes = bytes.saturating_add(
                bands
                    * (precincts.saturating_mul(PRECINCT_BYTES)
                        + blocks.saturating_mul(CODE_BLOCK_BYTES)),
            );
        }
    }
    // opj_pi_create_decode: (layers + 1) × resolutions × components × precincts 16-bit entries.
    let layers = components.iter().map(|c| c.layers).max().unwrap_or(1);
    let include = (u64::from(layers) + 1)
        .saturating_mul(most_resolutions)
        .saturating_mul(components.len() as u64)
        .saturating_mul(most_precincts)
        .saturating_mul(2);
    bytes.saturating_add(include)
}

/// `ceil(v / 2^s)`.
fn ceil_shift(v: u64, s: u32) -> u64 {
    if s >= 63 {
        u64::from(v > 0)
    } else {
        v.div_ceil(1 << s)
    }
}
