//! A JPEG coded as R, G and B at full resolution, decoded into [`RgbPlanes`] one component at a
//! time (libjpeg's raw data interface): no colour conversion, no interleaving.

use std::os::raw::c_ulong;

use mozjpeg_sys::{
    jpeg_create_decompress, jpeg_decompress_struct, jpeg_destroy_decompress, jpeg_error_mgr,
    jpeg_mem_src, jpeg_progress_mgr, jpeg_read_header, jpeg_read_raw_data, jpeg_start_decompress,
    JSAMPROW_MUT, J_COLOR_SPACE,
};

use super::RgbPlanes;
use crate::libjpeg::stop_if_cancelled;
use crate::readers::jpeg::strict_error_manager;
use crate::ImageError;

/// Rows libjpeg hands out per call at full resolution: one row of 8×8 blocks.
const BLOCK_ROWS: usize = 8;

/// A decompressor and what it points at, released in any state.
struct Decompressor {
    cinfo: Box<jpeg_decompress_struct>,
    _err: Box<jpeg_error_mgr>,
    _progress: Box<jpeg_progress_mgr>,
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: created by jpeg_create_decompress; destroying is valid in any state, once.
        unsafe { jpeg_destroy_decompress(&mut self.cinfo) };
    }
}

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
    let corrupt = |what: &str| ImageError::Corrupt(format!("tiff: jpeg: {what}"));
    let len = c_ulong::try_from(stream.len()).map_err(|_| corrupt("too large"))?;
    let block_rows = rows.div_ceil(BLOCK_ROWS) * BLOCK_ROWS;
    let fits = rows > 0
        && width.is_multiple_of(8)
        && x.checked_add(width).is_some_and(|r| r <= planes.stride)
        && y.checked_add(block_rows).is_some_and(|b| b <= planes.rows);
    if stream.is_empty() || !fits {
        return Ok(false);
    }
    let mut err = Box::new(strict_error_manager());
    // SAFETY: all-zero bytes are a valid jpeg_decompress_struct (null pointers, `None`
    // callbacks); jpeg_create_decompress initialises it.
    let mut cinfo: Box<jpeg_decompress_struct> = Box::new(unsafe { std::mem::zeroed() });
    cinfo.common.err = &mut *err;
    // SAFETY: a plain C struct of a callback and counters; all-zero is its initial state.
    let mut progress: Box<jpeg_progress_mgr> = Box::new(unsafe { std::mem::zeroed() });
    progress.progress_monitor = Some(stop_if_cancelled);
    // SAFETY: zeroed with its error manager set, as jpeg_CreateDecompress requires.
    unsafe { jpeg_create_decompress(&mut *cinfo) };
    cinfo.common.progress = &mut *progress;
    let mut d = Decompressor {
        cinfo,
        _err: err,
        _progress: progress,
    };
    let cinfo = &mut *d.cinfo;
    // SAFETY: `stream` outlives the decompressor (dropped at the end of this call) and is
    // `len` bytes; the source only reads it.
    unsafe { jpeg_mem_src(cinfo, stream.as_ptr(), len) };
    // SAFETY: a created decompressor over a complete memory source; errors unwind.
    unsafe { jpeg_read_header(cinfo, 1) };
    let n = usize::try_from(cinfo.num_components).unwrap_or(0);
    let components = if cinfo.comp_info.is_null() || n != 3 {
        &[][..]
    } else {
        // SAFETY: after the header, `comp_info` holds `num_components` entries.
        unsafe { std::slice::from_raw_parts(cinfo.comp_info, n) }
    };
    let coded = components.len() == 3
        && components
            .iter()
            .all(|c| (c.h_samp_factor, c.v_samp_factor) == (1, 1))
        && cinfo.jpeg_color_space == J_COLOR_SPACE::JCS_RGB
        && usize::try_from(cinfo.image_width).is_ok_and(|w| w == width)
        && usize::try_from(cinfo.image_height).is_ok_and(|h| h >= rows);
    if !coded {
        return Ok(false);
    }
    cinfo.raw_data_out = 1;
    // SAFETY: the header is read and raw output chosen; errors unwind.
    unsafe { jpeg_start_decompress(cinfo) };
    let stride = planes.stride;
    let mut pointers: [[JSAMPROW_MUT; BLOCK_ROWS]; 3] = [[std::ptr::null_mut(); BLOCK_ROWS]; 3];
    for band in (0..block_rows).step_by(BLOCK_ROWS) {
        for (plane, rows) in planes.planes.iter_mut().zip(pointers.iter_mut()) {
            for (i, row) in rows.iter_mut().enumerate() {
                let at = (y + band + i) * stride + x;
                // Inside: `y + block_rows <= planes.rows` and `x + width <= stride`.
                *row = plane[at..at + width].as_mut_ptr();
            }
        }
        let mut image = [
            pointers[0].as_mut_ptr(),
            pointers[1].as_mut_ptr(),
            pointers[2].as_mut_ptr(),
        ];
        // SAFETY: a started raw-data decompressor of three 1×1 components `width` samples
        // (whole blocks) wide; each of the 8 row pointers per component points at `width`
        // writable bytes of its plane.
        let read = unsafe { jpeg_read_raw_data(cinfo, image.as_mut_ptr(), BLOCK_ROWS as u32) };
        if read as usize != BLOCK_ROWS {
            return Err(corrupt("rows missing"));
        }
    }
    // The decompressor is destroyed unfinished: the rows below were not wanted.
    Ok(true)
}
