//! A libjpeg(-turbo) decompressor over a JPEG in memory, driven directly for what the `mozjpeg`
//! crate does not expose (cropping and skipping scanlines, raw component rows).

use std::marker::PhantomData;
use std::os::raw::{c_long, c_ulong};

use mozjpeg_sys::{
    jpeg_component_info, jpeg_create_decompress, jpeg_crop_scanline, jpeg_decompress_struct,
    jpeg_destroy_decompress, jpeg_error_mgr, jpeg_mem_src, jpeg_progress_mgr, jpeg_read_header,
    jpeg_read_raw_data, jpeg_read_scanlines, jpeg_skip_scanlines, jpeg_start_decompress,
    JDIMENSION, JSAMPROW_MUT, J_COLOR_SPACE,
};

use super::errors::strict_error_manager;
use crate::libjpeg::stop_if_cancelled;
use crate::ImageError;

/// The decompress object, its error manager, and the borrowed input.
///
/// Every libjpeg call may unwind (through the strict error manager); callers run inside
/// `guard`, and `Drop` releases libjpeg's memory in any state.
pub(crate) struct Decoder<'a> {
    /// Boxed so its address stays fixed while libjpeg holds pointers into it.
    cinfo: Box<jpeg_decompress_struct>,
    /// Referenced by `cinfo.common.err`; boxed for a fixed address and dropped after it.
    _err: Box<jpeg_error_mgr>,
    /// Referenced by `cinfo.common.progress`: stops a cancelled decode between rows and scans.
    _progress: Box<jpeg_progress_mgr>,
    /// libjpeg reads `data` through `jpeg_mem_src` until the decoder is dropped.
    _data: PhantomData<&'a [u8]>,
}

impl<'a> Decoder<'a> {
    /// Create a decompressor over `data` that may hold at most `max_memory` bytes in whole-image
    /// (virtual array) buffers, and read the header up to the first scan.
    pub(crate) fn new(data: &'a [u8], max_memory: u64) -> Result<Self, ImageError> {
        if data.is_empty() {
            return Err(ImageError::Corrupt("jpeg: empty file".into()));
        }
        let len = c_ulong::try_from(data.len())
            .map_err(|_| ImageError::Corrupt("jpeg: file too large".into()))?;
        let mut err = Box::new(strict_error_manager());
        // SAFETY: jpeg_decompress_struct is a plain C struct for which all-zero bytes are
        // valid (null pointers, `None` callbacks); jpeg_create_decompress initialises it.
        let mut cinfo: Box<jpeg_decompress_struct> = Box::new(unsafe { std::mem::zeroed() });
        cinfo.common.err = &mut *err;
        // SAFETY: a plain C struct of a callback and counters; all-zero is its initial state.
        let mut progress: Box<jpeg_progress_mgr> = Box::new(unsafe { std::mem::zeroed() });
        progress.progress_monitor = Some(stop_if_cancelled);
        // SAFETY: `cinfo` is zeroed with its error manager set, as jpeg_CreateDecompress
        // requires; both live in boxes owned by the returned Decoder.
        unsafe { jpeg_create_decompress(&mut *cinfo) };
        cinfo.common.progress = &mut *progress;
        // libjpeg's memory manager checks its virtual arrays (whole-image coefficient buffers)
        // against this before allocating them, and fails without a backing store.
        let limit = c_long::try_from(max_memory).unwrap_or(c_long::MAX).max(1);
        // SAFETY: jpeg_create_decompress installed the memory manager `mem` points at.
        if let Some(mem) = unsafe { cinfo.common.mem.as_mut() } {
            mem.max_memory_to_use = limit;
        }
        let mut dec = Self {
            cinfo,
            _err: err,
            _progress: progress,
            _data: PhantomData,
        };
        // SAFETY: `data` outlives the decoder (lifetime 'a) and is `len` bytes long; the
        // memory source only reads it.
        unsafe { jpeg_mem_src(&mut dec.cinfo, data.as_ptr(), len) };
        // SAFETY: a created decompressor with a complete (non-suspending) memory source.
        unsafe { jpeg_read_header(&mut dec.cinfo, 1) };
        Ok(dec)
    }

    /// The colour space of the stored components, as libjpeg guessed it from the markers.
    pub(crate) fn jpeg_color_space(&self) -> J_COLOR_SPACE {
        self.cinfo.jpeg_color_space
    }

    /// Repeat each chroma sample over the pixels it covers instead of interpolating between
    /// samples ("fancy" upsampling, the default). Before [`start`](Self::start).
    pub(super) fn replicate_chroma(&mut self) {
        self.cinfo.do_fancy_upsampling = 0;
    }

    /// Set the DCT scale (`numerator`/8) and output colour space, and start decompressing.
    pub(super) fn start(
        &mut self,
        numerator: u8,
        out_space: J_COLOR_SPACE,
    ) -> Result<(), ImageError> {
        self.cinfo.scale_num = u32::from(numerator);
        self.cinfo.scale_denom = 8;
        self.cinfo.out_color_space = out_space;
        // SAFETY: the header has been read (state DSTATE_READY); errors unwind.
        let done = unsafe { jpeg_start_decompress(&mut self.cinfo) };
        if done == 0 {
            return Err(ImageError::Corrupt("jpeg: decompression suspended".into()));
        }
        Ok(())
    }

    /// Output width and height (after scaling, before cropping).
    pub(super) fn output_size(&self) -> (u32, u32) {
        (self.cinfo.output_width, self.cinfo.output_height)
    }

    /// Bytes per output pixel.
    pub(super) fn output_components(&self) -> usize {
        usize::try_from(self.cinfo.output_components).unwrap_or(0)
    }

    /// Decode only output columns `[x, x + width)` widened to iMCU boundaries; returns the
    /// first column and the width that each scanline now holds. Before any row is read.
    pub(super) fn crop(&mut self, x: u32, width: u32) -> Result<(u32, u32), ImageError> {
        let (mut xoffset, mut w): (JDIMENSION, JDIMENSION) = (x, width);
        if w == 0 || x.saturating_add(w) > self.cinfo.output_width {
            return Err(ImageError::Corrupt("jpeg: bad crop".into()));
        }
        // SAFETY: decompression has started and no scanline was read (libjpeg checks and
        // unwinds otherwise); both pointers are to live locals.
        unsafe { jpeg_crop_scanline(&mut self.cinfo, &mut xoffset, &mut w) };
        Ok((xoffset, w))
    }

    /// Skip `rows` output rows without colour-converting (or, where possible, decoding) them.
    pub(super) fn skip_rows(&mut self, rows: u32) -> Result<(), ImageError> {
        if rows == 0 {
            return Ok(());
        }
        // SAFETY: decompression has started; the memory source never suspends, which
        // jpeg_skip_scanlines requires.
        let skipped = unsafe { jpeg_skip_scanlines(&mut self.cinfo, rows) };
        if skipped != rows {
            return Err(ImageError::Corrupt("jpeg: could not skip rows".into()));
        }
        Ok(())
    }

    /// Read the next output row into `row`, which must hold exactly one (cropped) scanline.
    pub(super) fn read_row(&mut self, row: &mut [u8]) -> Result<(), ImageError> {
        let needed = self.cinfo.output_width as usize * self.output_components();
        if row.len() != needed || self.cinfo.output_scanline >= self.cinfo.output_height {
            return Err(ImageError::Corrupt("jpeg: row outside the image".into()));
        }
        let mut rows = [row.as_mut_ptr()];
        // SAFETY: `rows` holds one pointer to a buffer of one full output scanline
        // (checked above), and we ask for one line.
        let n = unsafe { jpeg_read_scanlines(&mut self.cinfo, rows.as_mut_ptr(), 1) };
        if n != 1 {
            return Err(ImageError::Corrupt("jpeg: no scanline".into()));
        }
        Ok(())
    }

    /// The frame's width and height, as stored.
    pub(crate) fn image_size(&self) -> (u32, u32) {
        (self.cinfo.image_width, self.cinfo.image_height)
    }

    /// The header's components (none before it is read).
    fn components(&self) -> &[jpeg_component_info] {
        let n = usize::try_from(self.cinfo.num_components).unwrap_or(0);
        if self.cinfo.comp_info.is_null() {
            return &[];
        }
        // SAFETY: after the header, `comp_info` holds `num_components` entries, which live as
        // long as the decompressor.
        unsafe { std::slice::from_raw_parts(self.cinfo.comp_info, n) }
    }

    /// Each component's horizontal and vertical sampling factors, as the header gives them.
    pub(crate) fn sampling(&self) -> Vec<(i32, i32)> {
        self.components()
            .iter()
            .map(|c| (c.h_samp_factor, c.v_samp_factor))
            .collect()
    }

    /// Start decompressing at full scale into raw component rows ([`read_raw`](Self::read_raw)):
    /// each component at its own sampling, not colour-converted.
    pub(crate) fn start_raw(&mut self) -> Result<(), ImageError> {
        self.cinfo.raw_data_out = 1;
        // SAFETY: the header has been read (state DSTATE_READY); errors unwind.
        let done = unsafe { jpeg_start_decompress(&mut self.cinfo) };
        if done == 0 {
            return Err(ImageError::Corrupt("jpeg: decompression suspended".into()));
        }
        Ok(())
    }

    /// Read the next row of blocks of a JPEG of three components, none subsampled, after
    /// [`start_raw`](Self::start_raw): 8 rows of each component into `rows`, each of which must
    /// hold the component's whole rows of blocks.
    pub(crate) fn read_raw(&mut self, rows: [[&mut [u8]; 8]; 3]) -> Result<(), ImageError> {
        let corrupt = |m: &str| ImageError::Corrupt(format!("jpeg: {m}"));
        let components = self.components();
        if components.len() != 3 || self.cinfo.raw_data_out == 0 {
            return Err(corrupt("not three components read raw"));
        }
        let full = components
            .iter()
            .all(|c| (c.h_samp_factor, c.v_samp_factor) == (1, 1));
        let fits = full
            && components.iter().zip(&rows).all(|(c, rows)| {
                let samples = c.width_in_blocks as usize * 8;
                rows.iter().all(|row| row.len() >= samples)
            });
        if !fits || self.cinfo.output_scanline >= self.cinfo.output_height {
            return Err(corrupt("raw rows outside the image"));
        }
        let mut pointers: [[JSAMPROW_MUT; 8]; 3] =
            rows.map(|rows| rows.map(|row| row.as_mut_ptr()));
        let mut image = pointers.each_mut().map(|rows| rows.as_mut_ptr());
        // SAFETY: a raw-data decompressor of three 1×1 components; each of the 8 pointers per
        // component points at a distinct buffer of at least its whole rows of blocks (checked
        // above), which libjpeg writes.
        let read = unsafe { jpeg_read_raw_data(&mut self.cinfo, image.as_mut_ptr(), 8) };
        if read != 8 {
            return Err(corrupt("raw rows missing"));
        }
        Ok(())
    }
}

impl Drop for Decoder<'_> {
    fn drop(&mut self) {
        // SAFETY: `cinfo` was created by jpeg_create_decompress; destroying it is valid in
        // any state (it aborts a running decompression) and happens exactly once.
        unsafe { jpeg_destroy_decompress(&mut self.cinfo) };
    }
}
