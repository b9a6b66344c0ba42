//! What the libjpeg(-turbo) compressors and decompressors Tessera drives have in common: a
//! destination that writes into a `Vec`, a memory limit, a cancellation hook, and whether the
//! library was built with its SIMD code.

use std::os::raw::{c_int, c_long};

use mozjpeg_sys::{boolean, jpeg_common_struct, jpeg_compress_struct, jpeg_destination_mgr};

/// Where a compressor's bytes go: libjpeg's destination manager first (libjpeg sees only it),
/// then the output and the buffer libjpeg is filling.
#[repr(C)]
pub(crate) struct VecDestination {
    manager: jpeg_destination_mgr,
    out: Vec<u8>,
    buffer: Vec<u8>,
}

/// Size of each buffer handed to libjpeg.
const CHUNK: usize = 64 * 1024;

impl VecDestination {
    /// An empty destination, boxed so that its address stays fixed while libjpeg holds it.
    pub(crate) fn new() -> Box<Self> {
        Box::new(Self {
            manager: jpeg_destination_mgr {
                next_output_byte: std::ptr::null_mut(),
                free_in_buffer: 0,
                init_destination: Some(init_destination),
                empty_output_buffer: Some(empty_output_buffer),
                term_destination: Some(term_destination),
            },
            out: Vec::new(),
            buffer: Vec::new(),
        })
    }

    /// Make this the destination of `cinfo`; it must outlive every compression call on it.
    pub(crate) fn attach(&mut self, cinfo: &mut jpeg_compress_struct) {
        cinfo.dest = &mut self.manager;
    }

    /// The bytes written so far (all of them once `jpeg_finish_compress` returned).
    pub(crate) fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
}

/// The destination of `cinfo`, which only [`VecDestination::attach`] sets.
///
/// # Safety
/// `cinfo.dest` must be the manager of a live `VecDestination`.
unsafe fn destination(cinfo: &mut jpeg_compress_struct) -> &mut VecDestination {
    // SAFETY: `manager` is the first field of a `repr(C)` VecDestination (caller's guarantee).
    unsafe { &mut *cinfo.dest.cast::<VecDestination>() }
}

extern "C-unwind" fn init_destination(cinfo: &mut jpeg_compress_struct) {
    // SAFETY: installed only by `VecDestination::attach`.
    let dest = unsafe { destination(cinfo) };
    dest.buffer.resize(CHUNK, 0);
    dest.manager.next_output_byte = dest.buffer.as_mut_ptr();
    dest.manager.free_in_buffer = dest.buffer.len();
}

extern "C-unwind" fn empty_output_buffer(cinfo: &mut jpeg_compress_struct) -> boolean {
    // SAFETY: as in `init_destination`.
    let dest = unsafe { destination(cinfo) };
    // libjpeg calls this only with the whole buffer full.
    dest.out.extend_from_slice(&dest.buffer);
    dest.manager.next_output_byte = dest.buffer.as_mut_ptr();
    dest.manager.free_in_buffer = dest.buffer.len();
    1
}

extern "C-unwind" fn term_destination(cinfo: &mut jpeg_compress_struct) {
    // SAFETY: as in `init_destination`.
    let dest = unsafe { destination(cinfo) };
    let used = dest
        .buffer
        .len()
        .saturating_sub(dest.manager.free_in_buffer);
    let used = used.min(dest.buffer.len());
    dest.out.extend_from_slice(&dest.buffer[..used]);
}

/// Let libjpeg's memory manager hold at most `bytes` in virtual arrays.
pub(crate) fn limit_memory(common: &mut jpeg_common_struct, bytes: u64) {
    let limit = c_long::try_from(bytes).unwrap_or(c_long::MAX).max(1);
    // SAFETY: the create call installed the memory manager `mem` points at.
    if let Some(mem) = unsafe { common.mem.as_mut() } {
        mem.max_memory_to_use = limit;
    }
}

/// libjpeg `progress_monitor`: unwinds out of a decode or encode whose request was cancelled
/// (between rows and scans); the caller's guard reports it as cancelled.
pub(crate) extern "C-unwind" fn stop_if_cancelled(_cinfo: &mut jpeg_common_struct) {
    if crate::cancel::cancelled() {
        std::panic::resume_unwind(Box::new("cancelled"));
    }
}

extern "C" {
    /// libjpeg-turbo's own check (`jsimd.c`, or `jsimd_none.c` when built without an
    /// assembler, where it is always 0): whether its forward DCT runs in SIMD on this CPU.
    fn jsimd_can_fdct_islow() -> c_int;
}

/// Whether libjpeg was built with its SIMD code and this CPU runs it: then it encodes faster
/// than the Rust encoder, and slower without.
pub(crate) fn has_simd() -> bool {
    static SIMD: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    // SAFETY: a query without arguments or side effects beyond libjpeg's CPU detection.
    *SIMD.get_or_init(|| unsafe { jsimd_can_fdct_islow() } != 0)
}
