//! The libjpeg error manager Tessera uses: fatal errors and truncation unwind (and are caught by
//! the reader's guard) instead of exiting or filling the missing rows with gray.

use std::os::raw::c_int;

use mozjpeg_sys::{jpeg_common_struct, jpeg_error_mgr, jpeg_std_error};

/// libjpeg's "premature end of JPEG file" warning code (`JWRN_JPEG_EOF`).
const JWRN_JPEG_EOF: c_int = 120;

/// A libjpeg error manager that unwinds on fatal errors and on the premature-end-of-file warning,
/// so truncated files fail instead of being silently filled in with gray. Other corrupt-data
/// warnings (stray bytes, short segments) are tolerated as libjpeg-based readers do.
pub(crate) fn strict_error_manager() -> jpeg_error_mgr {
    // SAFETY: jpeg_error_mgr is a plain C struct for which all-zero bytes are valid (null
    // function pointers are `None`); jpeg_std_error fills every field with libjpeg's defaults.
    let mut err: jpeg_error_mgr = unsafe { std::mem::zeroed() };
    // SAFETY: `err` is a valid, exclusively borrowed jpeg_error_mgr.
    unsafe { jpeg_std_error(&mut err) };
    err.error_exit = Some(fatal_error);
    err.emit_message = Some(emit_message);
    err
}

/// libjpeg `error_exit`: unwind with the message code.
extern "C-unwind" fn fatal_error(cinfo: &mut jpeg_common_struct) {
    std::panic::resume_unwind(Box::new(format!("libjpeg error {}", message_code(cinfo))));
}

/// libjpeg `emit_message`: level −1 is a warning about corrupt data; truncation is fatal.
extern "C-unwind" fn emit_message(cinfo: &mut jpeg_common_struct, level: c_int) {
    if level < 0 && message_code(cinfo) == JWRN_JPEG_EOF {
        std::panic::resume_unwind(Box::new(format!("libjpeg warning {}", message_code(cinfo))));
    }
}

/// The message code of the error manager attached to `cinfo`.
fn message_code(cinfo: &jpeg_common_struct) -> c_int {
    // SAFETY: libjpeg only calls the error hooks with `err` pointing at the error manager that
    // the Decompress object owns and keeps alive for its whole lifetime.
    unsafe { cinfo.err.as_ref() }.map_or(0, |e| e.msg_code)
}
