//! libjpeg's coefficient interface, driven directly: a JPEG's quantised DCT blocks read without
//! decoding any pixel ([`Blocks`]), and a new baseline JPEG written from blocks ([`Writer`]).
//!
//! Every libjpeg call may unwind (through the strict error manager); callers run inside the
//! readers' `guard`, and `Drop` releases libjpeg's memory in any state.

use std::marker::PhantomData;
use std::os::raw::{c_int, c_ulong};

use mozjpeg_sys::{
    jpeg_alloc_quant_table, jpeg_c_set_int_param, jpeg_component_info, jpeg_compress_struct,
    jpeg_copy_critical_parameters, jpeg_create_compress, jpeg_create_decompress,
    jpeg_decompress_struct, jpeg_destroy_compress, jpeg_destroy_decompress, jpeg_error_mgr,
    jpeg_finish_compress, jpeg_mem_src, jpeg_read_coefficients, jpeg_read_header,
    jpeg_write_coefficients, jvirt_barray_control, JBLOCK,
    JINT_COMPRESS_PROFILE_VALUE::JCP_FASTEST, JPOOL_IMAGE, JQUANT_TBL, J_COLOR_SPACE,
    J_INT_PARAM::JINT_COMPRESS_PROFILE,
};

use crate::libjpeg::{limit_memory, VecDestination};
use crate::readers::jpeg::strict_error_manager;
use crate::ImageError;

/// One component of a JPEG as its blocks are laid out.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Component {
    /// The id in the frame header.
    pub id: c_int,
    /// Horizontal and vertical sampling factors.
    pub sampling: (u32, u32),
    /// Which quantisation table slot it uses, and that table (natural order).
    pub slot: usize,
    pub table: [u16; 64],
    /// Blocks across and down that hold image data.
    pub blocks: (u32, u32),
}

impl Component {
    /// Whether `other` is coded as this one is (id, sampling, table), whatever its size.
    pub(super) fn coded_alike(&self, other: &Component) -> bool {
        (self.id, self.sampling, self.slot, self.table)
            == (other.id, other.sampling, other.slot, other.table)
    }
}

fn corrupt(what: &str) -> ImageError {
    ImageError::Corrupt(format!("jpeg coefficients: {what}"))
}

/// Where a component's quantisation table is read from.
#[derive(Clone, Copy)]
enum Tables<'t> {
    /// Not at all (all zero).
    None,
    /// From the tables the header defined, by slot.
    Declared(&'t [*mut JQUANT_TBL; 4]),
    /// From the table libjpeg latched for the component when its first scan began.
    Latched,
}

/// The sampling factors, tables and block counts of `info`'s `n` components, as libjpeg
/// computed them.
///
/// # Safety
/// `info` must point at `n` initialised components, and `tables` at tables libjpeg owns.
unsafe fn components(
    info: *const jpeg_component_info,
    n: c_int,
    tables: Tables<'_>,
) -> Result<Vec<Component>, ImageError> {
    let n = usize::try_from(n).map_err(|_| corrupt("no components"))?;
    if info.is_null() || n == 0 {
        return Err(corrupt("no components"));
    }
    // SAFETY: the caller guarantees `n` components at `info`.
    let list = unsafe { std::slice::from_raw_parts(info, n) };
    list.iter()
        .map(|c| {
            let pointer = match tables {
                Tables::None => std::ptr::null(),
                Tables::Declared(slots) => usize::try_from(c.quant_tbl_no)
                    .ok()
                    .and_then(|slot| slots.get(slot))
                    .map_or(std::ptr::null(), |t| t.cast_const()),
                Tables::Latched => c.quant_table.cast_const(),
            };
            // SAFETY: libjpeg's own table for this component, or null (caller's guarantee).
            let table = match (tables, unsafe { pointer.as_ref() }) {
                (Tables::None, _) => [0; 64],
                (_, Some(t)) => t.quantval,
                (_, None) => return Err(corrupt("no table")),
            };
            Ok(Component {
                id: c.component_id,
                sampling: (
                    u32::try_from(c.h_samp_factor).map_err(|_| corrupt("sampling"))?,
                    u32::try_from(c.v_samp_factor).map_err(|_| corrupt("sampling"))?,
                ),
                slot: usize::try_from(c.quant_tbl_no).map_err(|_| corrupt("table slot"))?,
                table,
                blocks: (c.width_in_blocks, c.height_in_blocks),
            })
        })
        .collect()
}

/// A JPEG in memory read as coefficient blocks.
pub(super) struct Blocks<'a> {
    /// Boxed so its address stays fixed while libjpeg holds pointers into it.
    cinfo: Box<jpeg_decompress_struct>,
    /// Referenced by `cinfo.common.err`; dropped after it.
    _err: Box<jpeg_error_mgr>,
    /// One virtual block array per component, owned by libjpeg.
    arrays: *mut *mut jvirt_barray_control,
    components: Vec<Component>,
    _data: PhantomData<&'a [u8]>,
}

impl<'a> Blocks<'a> {
    /// Read the header of `data` (components and tables, no coefficients yet), to hold at most
    /// `max_memory` bytes of blocks.
    pub(super) fn open(data: &'a [u8], max_memory: u64) -> Result<Self, ImageError> {
        let len = c_ulong::try_from(data.len()).map_err(|_| corrupt("too large"))?;
        if data.is_empty() {
            return Err(corrupt("empty"));
        }
        let mut err = Box::new(strict_error_manager());
        // SAFETY: all-zero bytes are a valid jpeg_decompress_struct (null pointers, `None`
        // callbacks); jpeg_create_decompress initialises it.
        let mut cinfo: Box<jpeg_decompress_struct> = Box::new(unsafe { std::mem::zeroed() });
        cinfo.common.err = &mut *err;
        // SAFETY: zeroed with its error manager set, as jpeg_CreateDecompress requires.
        unsafe { jpeg_create_decompress(&mut *cinfo) };
        limit_memory(&mut cinfo.common, max_memory);
        let mut blocks = Self {
            cinfo,
            _err: err,
            arrays: std::ptr::null_mut(),
            components: Vec::new(),
            _data: PhantomData,
        };
        // SAFETY: `data` outlives `blocks` ('a) and is `len` bytes; the source only reads it.
        unsafe { jpeg_mem_src(&mut blocks.cinfo, data.as_ptr(), len) };
        // SAFETY: a created decompressor over a complete memory source; errors unwind.
        unsafe { jpeg_read_header(&mut blocks.cinfo, 1) };
        let (info, n) = (blocks.cinfo.comp_info, blocks.cinfo.num_components);
        let slots = blocks.cinfo.quant_tbl_ptrs;
        // SAFETY: after the header, `comp_info` holds `num_components` entries and the table
        // slots point at the tables the header defined (or are null).
        blocks.components = unsafe { components(info, n, Tables::Declared(&slots))? };
        Ok(blocks)
    }

    /// Every coefficient of the JPEG opened with [`open`](Self::open), and whether each
    /// component's blocks were quantised with the table its header declared (a table redefined
    /// between scans is not).
    pub(super) fn read(&mut self) -> Result<bool, ImageError> {
        // SAFETY: the header is read; libjpeg returns arrays it owns until destroyed.
        self.arrays = unsafe { jpeg_read_coefficients(&mut self.cinfo) };
        if self.arrays.is_null() {
            return Err(corrupt("not read"));
        }
        // SAFETY: after jpeg_read_coefficients, `comp_info` holds `num_components` entries with
        // their tables latched.
        let latched = unsafe {
            components(
                self.cinfo.comp_info,
                self.cinfo.num_components,
                Tables::Latched,
            )?
        };
        Ok(latched == self.components)
    }

    /// The components in frame order.
    pub(super) fn components(&self) -> &[Component] {
        &self.components
    }

    /// The colour space libjpeg took the stored components to be in.
    pub(super) fn color_space(&self) -> J_COLOR_SPACE {
        self.cinfo.jpeg_color_space
    }

    /// The image's width and height.
    pub(super) fn size(&self) -> (u32, u32) {
        (self.cinfo.image_width, self.cinfo.image_height)
    }

    /// Row `row` of component `component`'s blocks (`Component::blocks.0` long), or `None`
    /// outside it or before [`read`](Self::read).
    pub(super) fn row(&mut self, component: usize, row: u32) -> Option<&[JBLOCK]> {
        let c = self.components.get(component)?;
        if row >= c.blocks.1 || self.arrays.is_null() {
            return None;
        }
        let width = c.blocks.0 as usize;
        // SAFETY: `arrays` has one entry per component (libjpeg's contract); `row` is inside
        // the array, and one row at a time is within any array's access limit. The returned
        // row stays valid until the next access, which needs `&mut self`.
        unsafe {
            let array = *self.arrays.add(component);
            let access = (*self.cinfo.common.mem).access_virt_barray?;
            let rows = access(&mut self.cinfo.common, array, row, 1, 0);
            let first = rows.as_ref()?;
            Some(std::slice::from_raw_parts(*first, width))
        }
    }
}

impl Drop for Blocks<'_> {
    fn drop(&mut self) {
        // SAFETY: created by jpeg_create_decompress; destroying is valid in any state, once.
        unsafe { jpeg_destroy_decompress(&mut self.cinfo) };
    }
}

/// A baseline JPEG being written from coefficient blocks: the layout (components, sampling,
/// colour space) of a JPEG read with [`Blocks`], a new size, and given quantisation tables.
pub(super) struct Writer {
    cinfo: Box<jpeg_compress_struct>,
    _err: Box<jpeg_error_mgr>,
    destination: Box<VecDestination>,
    /// One virtual block array per component, owned by libjpeg.
    arrays: Vec<*mut jvirt_barray_control>,
    /// Block columns and rows of each component's array.
    extent: Vec<(u32, u32)>,
}

impl Writer {
    /// A writer of a `width` × `height` JPEG laid out as `like`, with `tables` (slot, table in
    /// natural order) replacing the tables copied from it; its blocks start all zero.
    pub(super) fn new(
        like: &Blocks<'_>,
        (width, height): (u32, u32),
        tables: &[(usize, [u16; 64])],
        max_memory: u64,
    ) -> Result<Self, ImageError> {
        let mut err = Box::new(strict_error_manager());
        // SAFETY: as for the decompressor: all-zero is valid before jpeg_create_compress.
        let mut cinfo: Box<jpeg_compress_struct> = Box::new(unsafe { std::mem::zeroed() });
        cinfo.common.err = &mut *err;
        // SAFETY: zeroed with its error manager set, as jpeg_CreateCompress requires.
        unsafe { jpeg_create_compress(&mut *cinfo) };
        limit_memory(&mut cinfo.common, max_memory);
        let mut destination = VecDestination::new();
        destination.attach(&mut cinfo);
        let mut writer = Self {
            cinfo,
            _err: err,
            destination,
            arrays: Vec::new(),
            extent: Vec::new(),
        };
        let cinfo = &mut *writer.cinfo;
        // SAFETY: a created compressor; plain libjpeg(-turbo) defaults (baseline Huffman, no
        // mozjpeg extensions), set before the defaults are applied by the copy below.
        unsafe { jpeg_c_set_int_param(cinfo, JINT_COMPRESS_PROFILE, JCP_FASTEST as c_int) };
        // SAFETY: `like` has read its coefficients (state DSTATE_RDCOEFS).
        unsafe { jpeg_copy_critical_parameters(&like.cinfo, cinfo) };
        cinfo.image_width = width;
        cinfo.image_height = height;
        // The standard Huffman tables, as Tessera's encoder uses: fitted ones (a second pass)
        // saved about 10 % of the bytes for about 70 % more time.
        cinfo.optimize_coding = 0;
        for (slot, table) in tables {
            let Some(pointer) = cinfo.quant_tbl_ptrs.get_mut(*slot) else {
                return Err(corrupt("table slot"));
            };
            if pointer.is_null() {
                // SAFETY: a live compressor; the table lives in its permanent pool.
                *pointer = unsafe { jpeg_alloc_quant_table(&mut cinfo.common) };
            }
            // SAFETY: allocated by libjpeg (by the copy, or just above) for this compressor.
            if let Some(t) = unsafe { pointer.as_mut() } {
                t.quantval = *table;
            }
        }
        // SAFETY: `comp_info` holds `num_components` entries after the copy.
        let layout = unsafe { components(cinfo.comp_info, cinfo.num_components, Tables::None)? };
        let h_max = layout.iter().map(|c| c.sampling.0).max().unwrap_or(1);
        let v_max = layout.iter().map(|c| c.sampling.1).max().unwrap_or(1);
        // SAFETY: jpeg_create_compress installed the memory manager.
        let mem = unsafe { cinfo.common.mem.as_ref() }.ok_or_else(|| corrupt("no memory"))?;
        let (Some(request), Some(realize)) = (mem.request_virt_barray, mem.realize_virt_arrays)
        else {
            return Err(corrupt("no memory manager"));
        };
        for c in &layout {
            let (h, v) = c.sampling;
            // Blocks holding image data, rounded up to whole MCUs as libjpeg lays them out.
            let across = (u64::from(width) * u64::from(h)).div_ceil(u64::from(8 * h_max));
            let down = (u64::from(height) * u64::from(v)).div_ceil(u64::from(8 * v_max));
            let across = u32::try_from(across.div_ceil(u64::from(h)) * u64::from(h))
                .map_err(|_| corrupt("too wide"))?;
            let down = u32::try_from(down.div_ceil(u64::from(v)) * u64::from(v))
                .map_err(|_| corrupt("too tall"))?;
            // SAFETY: a live compressor before compression starts; arrays are pre-zeroed.
            let array = unsafe { request(&mut cinfo.common, JPOOL_IMAGE, 1, across, down, v) };
            writer.arrays.push(array);
            writer.extent.push((across, down));
        }
        // SAFETY: every array was requested on this object; realising allocates them (within
        // the memory limit, or unwinds).
        unsafe { realize(&mut cinfo.common) };
        Ok(writer)
    }

    /// Row `row` of component `component`'s blocks, writable; `None` outside the arrays.
    pub(super) fn row(&mut self, component: usize, row: u32) -> Option<&mut [JBLOCK]> {
        let &(across, down) = self.extent.get(component)?;
        if row >= down {
            return None;
        }
        let array = *self.arrays.get(component)?;
        // SAFETY: the array was realised on this object and `row` is inside it; one row is
        // within its access limit. The row stays valid until the next access (`&mut self`).
        unsafe {
            let access = (*self.cinfo.common.mem).access_virt_barray?;
            let rows = access(&mut self.cinfo.common, array, row, 1, 1);
            let first = rows.as_ref()?;
            Some(std::slice::from_raw_parts_mut(*first, across as usize))
        }
    }

    /// Entropy-code the blocks and return the JPEG.
    pub(super) fn finish(mut self) -> Result<Vec<u8>, ImageError> {
        // SAFETY: one realised array per component; compression runs to the end (errors unwind).
        unsafe {
            jpeg_write_coefficients(&mut self.cinfo, self.arrays.as_mut_ptr());
            jpeg_finish_compress(&mut self.cinfo);
        }
        Ok(self.destination.take())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // SAFETY: created by jpeg_create_compress; destroying is valid in any state, once. The
        // destination outlives this call (it is dropped after).
        unsafe { jpeg_destroy_compress(&mut self.cinfo) };
    }
}
