//! Baseline JPEG output through libjpeg(-turbo), in plain libjpeg mode (no mozjpeg trellis or
//! progressive scans): the standard Huffman tables, Annex K tables scaled to the quality, and the
//! chroma halved (each sample the mean of the pixels it covers) or kept whole.

use std::os::raw::{c_int, c_uint};

use super::jpeg::{Pixels, ICC_SEGMENT_BYTES};

use mozjpeg_sys::{
    jpeg_c_set_int_param, jpeg_compress_struct, jpeg_create_compress, jpeg_destroy_compress,
    jpeg_error_mgr, jpeg_finish_compress, jpeg_progress_mgr, jpeg_set_defaults, jpeg_set_quality,
    jpeg_start_compress, jpeg_write_marker, jpeg_write_scanlines,
    JINT_COMPRESS_PROFILE_VALUE::JCP_FASTEST, JSAMPROW, J_COLOR_SPACE,
    J_INT_PARAM::JINT_COMPRESS_PROFILE,
};

use crate::libjpeg::{stop_if_cancelled, VecDestination};
use crate::readers::jpeg::strict_error_manager;
use crate::ImageError;

/// Rows handed to libjpeg per call.
const ROWS_PER_CALL: usize = 16;

/// A compressor and what it points at, released in any state.
pub(crate) struct Compressor {
    cinfo: Box<jpeg_compress_struct>,
    _err: Box<jpeg_error_mgr>,
    _progress: Box<jpeg_progress_mgr>,
    destination: Box<VecDestination>,
}

impl Drop for Compressor {
    fn drop(&mut self) {
        // SAFETY: created by jpeg_create_compress; destroying is valid in any state, once. The
        // destination, error and progress managers outlive this call (dropped after).
        unsafe { jpeg_destroy_compress(&mut self.cinfo) };
    }
}

impl Compressor {
    /// A compressor, not yet started, of `width` × `height` gray or RGB pixels into memory at
    /// `quality` (1–100): libjpeg's plain defaults (baseline, Annex K tables, no trellis), RGB
    /// written as YCbCr with the chroma halved both ways or kept whole. Stopped by
    /// cancellation between rows.
    pub(crate) fn new(
        width: u16,
        height: u16,
        gray: bool,
        quality: u8,
        halve_chroma: bool,
    ) -> Self {
        let mut err = Box::new(strict_error_manager());
        // SAFETY: all-zero bytes are a valid jpeg_compress_struct before jpeg_create_compress.
        let mut cinfo: Box<jpeg_compress_struct> = Box::new(unsafe { std::mem::zeroed() });
        cinfo.common.err = &mut *err;
        // SAFETY: a plain C struct of a callback and counters; all-zero is its initial state.
        let mut progress: Box<jpeg_progress_mgr> = Box::new(unsafe { std::mem::zeroed() });
        progress.progress_monitor = Some(stop_if_cancelled);
        // SAFETY: zeroed with its error manager set, as jpeg_CreateCompress requires.
        unsafe { jpeg_create_compress(&mut *cinfo) };
        cinfo.common.progress = &mut *progress;
        let mut c = Compressor {
            cinfo,
            _err: err,
            _progress: progress,
            destination: VecDestination::new(),
        };
        c.destination.attach(&mut c.cinfo);
        let cinfo = &mut *c.cinfo;
        cinfo.image_width = u32::from(width);
        cinfo.image_height = u32::from(height);
        cinfo.input_components = if gray { 1 } else { 3 };
        cinfo.in_color_space = if gray {
            J_COLOR_SPACE::JCS_GRAYSCALE
        } else {
            J_COLOR_SPACE::JCS_RGB
        };
        // SAFETY: a created compressor with its input described; the profile (plain libjpeg
        // defaults: baseline, Annex K tables, no trellis) is chosen before the defaults.
        unsafe {
            jpeg_c_set_int_param(cinfo, JINT_COMPRESS_PROFILE, JCP_FASTEST as c_int);
            jpeg_set_defaults(cinfo);
            jpeg_set_quality(cinfo, c_int::from(quality.clamp(1, 100)), 1);
        }
        cinfo.optimize_coding = 0;
        if !gray {
            // libjpeg's default halves the chroma both ways.
            let sampling = if halve_chroma { 2 } else { 1 };
            // SAFETY: jpeg_set_defaults allocated `num_components` (3 for YCbCr) entries.
            if let Some(luma) = unsafe { cinfo.comp_info.as_mut() } {
                luma.h_samp_factor = sampling;
                luma.v_samp_factor = sampling;
            }
        }
        c
    }

    /// The compressor's parameters and state.
    pub(crate) fn cinfo(&mut self) -> &mut jpeg_compress_struct {
        &mut self.cinfo
    }

    /// Start it (tables and frame written), then put `icc` in as APP2 segments.
    pub(crate) fn start(&mut self, icc: Option<&[u8]>) -> Result<(), ImageError> {
        // SAFETY: parameters set; the destination is attached and lives in `self`.
        unsafe { jpeg_start_compress(&mut self.cinfo, 1) };
        match icc {
            Some(icc) => write_icc(&mut self.cinfo, icc),
            None => Ok(()),
        }
    }

    /// Finish it, once every row is written: the JPEG.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        // SAFETY: every scanline written; finishing flushes into the destination.
        unsafe { jpeg_finish_compress(&mut self.cinfo) };
        self.destination.take()
    }
}

/// `pixels` at `quality` (1–100), the chroma halved both ways or not, with `icc` written as APP2
/// segments. libjpeg errors and cancellation unwind; the caller runs this inside the readers'
/// `guard`.
pub(super) fn encode(
    pixels: Pixels<'_>,
    quality: u8,
    halve_chroma: bool,
    icc: Option<&[u8]>,
) -> Result<Vec<u8>, ImageError> {
    let Pixels {
        data,
        width,
        height,
        gray,
    } = pixels;
    let channels = if gray { 1 } else { 3 };
    let row_bytes = usize::from(width) * channels;
    if data.len() < row_bytes * usize::from(height) {
        return Err(ImageError::Encode {
            format: "jpg",
            message: "pixel buffer does not match its size".into(),
        });
    }
    let mut c = Compressor::new(width, height, gray, quality, halve_chroma);
    c.start(icc)?;
    let cinfo = c.cinfo();
    let mut rows: [JSAMPROW; ROWS_PER_CALL] = [std::ptr::null(); ROWS_PER_CALL];
    let mut next = 0usize;
    while next < usize::from(height) {
        let n = (usize::from(height) - next).min(ROWS_PER_CALL);
        for (i, row) in rows.iter_mut().take(n).enumerate() {
            *row = data[(next + i) * row_bytes..].as_ptr();
        }
        // SAFETY: `n` row pointers, each to `row_bytes` readable bytes of `data`; libjpeg only
        // reads them.
        let written = unsafe { jpeg_write_scanlines(cinfo, rows.as_ptr(), n as u32) } as usize;
        if written == 0 {
            return Err(ImageError::Encode {
                format: "jpg",
                message: "libjpeg took no rows".into(),
            });
        }
        next += written;
    }
    Ok(c.finish())
}

/// `icc` as APP2 `ICC_PROFILE` segments (at most [`ICC_SEGMENT_BYTES`] each, numbered from 1),
/// after `jpeg_start_compress` and before the first row.
fn write_icc(cinfo: &mut jpeg_compress_struct, icc: &[u8]) -> Result<(), ImageError> {
    let count =
        u8::try_from(icc.len().div_ceil(ICC_SEGMENT_BYTES)).map_err(|_| ImageError::Encode {
            format: "jpg",
            message: "ICC profile too large for JPEG".into(),
        })?;
    let mut segment = Vec::with_capacity(ICC_SEGMENT_BYTES + 14);
    for (seq, part) in (1..=count).zip(icc.chunks(ICC_SEGMENT_BYTES)) {
        segment.clear();
        segment.extend_from_slice(b"ICC_PROFILE\0");
        segment.extend_from_slice(&[seq, count]);
        segment.extend_from_slice(part);
        // At most 65,533 bytes: the segment's length field fits.
        let len = segment.len() as c_uint;
        // SAFETY: a started compressor before any row; libjpeg copies `len` bytes out.
        unsafe { jpeg_write_marker(cinfo, 0xE2, segment.as_ptr(), len) };
    }
    Ok(())
}
