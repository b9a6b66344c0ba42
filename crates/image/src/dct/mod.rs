//! JPEG composed in the DCT domain: stored JPEG tiles of one level joined into one JPEG, their
//! coefficients requantised to the output's quality, without decoding or re-encoding a pixel.
//!
//! A viewer that asks for 512 px tiles of a file stored in 256 px JPEG tiles wants four stored
//! tiles side by side. Their quantised DCT blocks can be laid side by side as they are, since
//! each tile starts on the MCU grid (the 8×8 blocks, times the chroma sampling), and only the
//! Huffman coding is done again; pixels are never decoded, so nothing is lost but what the
//! coarser quantisation of a lower output quality takes.

mod ffi;
mod quant;

use mozjpeg_sys::J_COLOR_SPACE;

use crate::ImageError;
use ffi::{Blocks, Component, Writer};
use quant::{table_for, Requantize};

/// A stored JPEG and where its top-left pixel falls in the output, which may be left of or
/// above the output's origin (its blocks there are left out).
pub(crate) struct Piece {
    /// A standalone JPEG stream.
    pub stream: Vec<u8>,
    /// Its frame size, as the container says it is.
    pub size: (u32, u32),
    /// Offset of its top-left pixel from the output's.
    pub x: i64,
    pub y: i64,
}

/// The JPEG of `width` × `height` pixels made of `pieces`, which must cover it. Coefficients
/// stored finer than the tables of `quality` are requantised to them; with `None` the stored
/// tables are kept. `Ok(None)` when the pieces cannot be joined without decoding: they differ in
/// layout (components, sampling, colour space, tables) or size from what they claim, or a piece
/// does not start on the MCU grid. At most `max_memory` bytes of blocks are held at a time.
/// libjpeg errors unwind: call it inside the readers' `guard`.
pub(crate) fn compose(
    pieces: &[Piece],
    width: u32,
    height: u32,
    quality: Option<u8>,
    max_memory: u64,
) -> Result<Option<Vec<u8>>, ImageError> {
    let Some(first) = pieces.first() else {
        return Ok(None);
    };
    // Each piece's header is checked before its coefficients are read (the costly part).
    let mut reference = Blocks::open(&first.stream, max_memory)?;
    let layout = reference.components().to_vec();
    let space = reference.color_space();
    let h_max = layout.iter().map(|c| c.sampling.0).max().unwrap_or(1);
    let v_max = layout.iter().map(|c| c.sampling.1).max().unwrap_or(1);
    let (mcu_w, mcu_h) = (i64::from(8 * h_max), i64::from(8 * v_max));
    if reference.size() != first.size || pieces.iter().any(|p| p.x % mcu_w != 0 || p.y % mcu_h != 0)
    {
        return Ok(None);
    }
    let requantize: Vec<Requantize> = layout
        .iter()
        .map(|c| {
            let chroma = c.slot != 0 && space == J_COLOR_SPACE::JCS_YCbCr;
            let target = quality.map(|q| table_for(q, chroma));
            Requantize::new(&c.table, target.as_ref())
        })
        .collect();
    // RGB-coded blocks (libvips writes JPEG in TIFF so at quality 90 and above) are joined only
    // as stored: requantised they would keep full-quality tables for all three colours, and
    // re-coding them as YCbCr 4:2:0 in the DCT domain measured no faster than decoding (see the
    // README's performance section).
    if space == J_COLOR_SPACE::JCS_RGB && !requantize.iter().all(Requantize::is_identity) {
        return Ok(None);
    }
    let tables: Vec<(usize, [u16; 64])> = layout
        .iter()
        .zip(&requantize)
        .map(|(c, r)| (c.slot, r.table))
        .collect();
    // Two components sharing a stored table get the same output table (same stored, same target)
    // unless one is luma and one chroma in a file that shares one table between them; refuse that.
    let shared_differently = tables
        .iter()
        .any(|(slot, t)| tables.iter().any(|(s, u)| s == slot && u != t));
    if shared_differently {
        return Ok(None);
    }
    // One whole piece whose tables stay is its own answer.
    let whole = first.x == 0 && first.y == 0 && first.size == (width, height);
    if pieces.len() == 1 && whole && requantize.iter().all(Requantize::is_identity) {
        return Ok(Some(first.stream.clone()));
    }
    if !reference.read()? {
        return Ok(None);
    }
    let mut writer = Writer::new(&reference, (width, height), &tables, max_memory)?;
    let mut opened = Some(reference);
    for piece in pieces {
        let mut blocks = match opened.take() {
            Some(blocks) => blocks,
            None => {
                let mut blocks = Blocks::open(&piece.stream, max_memory)?;
                if !coded_like(&blocks, &layout, space, piece.size) || !blocks.read()? {
                    return Ok(None);
                }
                blocks
            }
        };
        let own = blocks.components().to_vec();
        for (index, (component, requantize)) in own.iter().zip(&requantize).enumerate() {
            place(
                &mut blocks,
                &mut writer,
                index,
                component,
                requantize,
                piece,
                (h_max, v_max),
            );
        }
    }
    writer.finish().map(Some)
}

/// Whether `blocks` (a header read) is coded as `layout` in `space` and is `size` large.
fn coded_like(
    blocks: &Blocks<'_>,
    layout: &[Component],
    space: J_COLOR_SPACE,
    size: (u32, u32),
) -> bool {
    let own = blocks.components();
    own.len() == layout.len()
        && own.iter().zip(layout).all(|(a, b)| a.coded_alike(b))
        && blocks.color_space() == space
        && blocks.size() == size
}

/// Copy component `index` of one piece's blocks into the writer's, at the piece's offset (whole
/// MCUs), leaving out what falls outside.
fn place(
    blocks: &mut Blocks<'_>,
    writer: &mut Writer,
    index: usize,
    component: &Component,
    requantize: &Requantize,
    piece: &Piece,
    (h_max, v_max): (u32, u32),
) {
    let (h, v) = component.sampling;
    let left = piece.x / i64::from(8 * h_max) * i64::from(h);
    let top = piece.y / i64::from(8 * v_max) * i64::from(v);
    for row in 0..component.blocks.1 {
        let Ok(to_row) = u32::try_from(top + i64::from(row)) else {
            continue;
        };
        let (Some(from), Some(to)) = (blocks.row(index, row), writer.row(index, to_row)) else {
            break;
        };
        for (column, block) in from.iter().enumerate() {
            let Ok(to_column) = usize::try_from(left + column as i64) else {
                continue;
            };
            let Some(slot) = to.get_mut(to_column) else {
                break;
            };
            requantize.block(block, slot);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
