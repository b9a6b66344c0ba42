//! A JPEG coded as R, G and B at full resolution, decoded into [`RgbPlanes`] one component at a
//! time (libjpeg's raw data interface): no colour conversion, no interleaving.

use mozjpeg_sys::J_COLOR_SPACE;

use super::RgbPlanes;
use crate::readers::jpeg::Decoder;
use crate::ImageError;

/// Rows libjpeg hands out per call at full resolution: one row of 8×8 blocks.
const BLOCK_ROWS: usize = 8;

/// The most a tile's decoder may hold in whole-image buffers (a progressive tile's
/// coefficients): far above any tile a TIFF stores.
const MAX_DECODER_MEMORY: u64 = 64 << 20;

/// Decode the first `rows` rows of `stream` (a standalone JPEG) into `planes`, its top-left
/// pixel at column `x`, row `y` of the planes. `Ok(false)`, with nothing written, unless the
/// stream is `width` pixels wide (a whole number of blocks), at least `rows` high, and coded
/// as R, G and B, none subsampled; and unless its rows, rounded up to whole blocks, fit in the
/// planes there. Rows below `rows` are never decoded. libjpeg errors and cancellation unwind:
/// run inside the readers' `guard`.
pub(crate) fn decode_rgb(
    stream: &[u8],
    width: usize,
    planes: &mut RgbPlanes,
    (x, y): (usize, usize),
    rows: usize,
) -> Result<bool, ImageError> {
    let block_rows = rows.div_ceil(BLOCK_ROWS) * BLOCK_ROWS;
    let stride = planes.stride;
    let fits = rows > 0
        && width.is_multiple_of(8)
        && x.checked_add(width).is_some_and(|r| r <= stride)
        && y.checked_add(block_rows).is_some_and(|b| b <= planes.rows);
    if stream.is_empty() || !fits {
        return Ok(false);
    }
    let mut decoder = Decoder::new(stream, MAX_DECODER_MEMORY)?;
    let (image_width, image_height) = decoder.image_size();
    let coded = decoder.sampling() == [(1, 1); 3]
        && decoder.jpeg_color_space() == J_COLOR_SPACE::JCS_RGB
        && usize::try_from(image_width).is_ok_and(|w| w == width)
        && usize::try_from(image_height).is_ok_and(|h| h >= rows);
    if !coded {
        return Ok(false);
    }
    decoder.start_raw()?;
    for band in (y..y + block_rows).step_by(BLOCK_ROWS) {
        // Inside: `y + block_rows <= planes.rows` and `x + width <= stride`.
        let rows = planes.planes.each_mut().map(|plane| {
            let mut lines = plane[band * stride..(band + BLOCK_ROWS) * stride].chunks_mut(stride);
            std::array::from_fn(|_| match lines.next() {
                Some(line) => &mut line[x..x + width],
                None => &mut [][..],
            })
        });
        decoder.read_raw(rows)?;
    }
    // The decompressor is destroyed unfinished: the rows below were not wanted.
    Ok(true)
}
