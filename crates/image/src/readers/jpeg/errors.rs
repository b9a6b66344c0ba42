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

/// libjpeg `error_exit`: unwind with libjpeg's message.
extern "C-unwind" fn fatal_error(cinfo: &mut jpeg_common_struct) {
    std::panic::resume_unwind(Box::new(describe(cinfo, "error")));
}

/// libjpeg `emit_message`: level −1 is a warning about corrupt data; truncation is fatal.
extern "C-unwind" fn emit_message(cinfo: &mut jpeg_common_struct, level: c_int) {
    if level < 0 && message_code(cinfo) == JWRN_JPEG_EOF {
        std::panic::resume_unwind(Box::new(describe(cinfo, "warning")));
    }
}

/// libjpeg's own text for the current message, with its code: "Premature end of JPEG file
/// (libjpeg warning 120)".
fn describe(cinfo: &jpeg_common_struct, kind: &str) -> String {
    let code = message_code(cinfo);
    match message_text(cinfo) {
        Some(text) => format!("{text} (libjpeg {kind} {code})"),
        None => format!("libjpeg {kind} {code}"),
    }
}

/// The current message formatted from libjpeg's message table and parameters, as libjpeg's
/// `format_message` would (that hook is not called: its buffer is typed read-only in the bindings).
fn message_text(cinfo: &jpeg_common_struct) -> Option<String> {
    // SAFETY: as in `message_code`.
    let err = unsafe { cinfo.err.as_ref() }?;
    let code = err.msg_code;
    if code <= 0 || code > err.last_jpeg_message || err.jpeg_message_table.is_null() {
        return None;
    }
    // SAFETY: libjpeg's message table has `last_jpeg_message + 1` entries, each a static
    // NUL-terminated string (or null).
    let template = unsafe { *err.jpeg_message_table.add(usize::try_from(code).ok()?) };
    if template.is_null() {
        return None;
    }
    // SAFETY: checked non-null above; the table's strings are static and NUL-terminated.
    let template = unsafe { std::ffi::CStr::from_ptr(template) }.to_string_lossy();
    let words = err.msg_parm._bindgen_data_;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    Some(format_message(&template, &words, &bytes))
}

/// printf-style formatting of a libjpeg message: `%d`, `%u`, `%x` (with zero padding and width)
/// take the next integer parameter, `%s` the string parameter, `%%` is a percent sign.
fn format_message(template: &str, ints: &[u32], string: &[u8]) -> String {
    let mut out = String::new();
    let mut ints = ints.iter().take(8).copied();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let zero = chars.next_if_eq(&'0').is_some();
        let mut width = 0usize;
        while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
            width = width * 10 + d as usize;
            chars.next();
        }
        while chars.next_if_eq(&'l').is_some() {}
        let text = match chars.next() {
            Some('d' | 'i') => (ints.next().unwrap_or(0) as i32).to_string(),
            Some('u') => ints.next().unwrap_or(0).to_string(),
            Some('x') => format!("{:x}", ints.next().unwrap_or(0)),
            Some('X') => format!("{:X}", ints.next().unwrap_or(0)),
            Some('s') => {
                let end = string.iter().position(|&b| b == 0).unwrap_or(string.len());
                String::from_utf8_lossy(&string[..end]).into_owned()
            }
            Some('%') => "%".to_string(),
            Some(other) => {
                out.push('%');
                out.push(other);
                continue;
            }
            None => {
                out.push('%');
                break;
            }
        };
        let pad = if zero { '0' } else { ' ' };
        out.extend(std::iter::repeat_n(pad, width.saturating_sub(text.len())));
        out.push_str(&text);
    }
    out
}

/// The message code of the error manager attached to `cinfo`.
fn message_code(cinfo: &jpeg_common_struct) -> c_int {
    // SAFETY: libjpeg only calls the error hooks with `err` pointing at the error manager that
    // the Decompress object owns and keeps alive for its whole lifetime.
    unsafe { cinfo.err.as_ref() }.map_or(0, |e| e.msg_code)
}

#[cfg(test)]
mod tests {
    use super::format_message;

    #[test]
    fn formats_libjpeg_templates() {
        let mut text = [0u8; 80];
        text[..3].copy_from_slice(b"abc");
        assert_eq!(
            format_message(
                "Not a JPEG file: starts with 0x%02x 0x%02x",
                &[0x89, 0x50],
                &text
            ),
            "Not a JPEG file: starts with 0x89 0x50"
        );
        assert_eq!(
            format_message(
                "Bogus marker length %d, %u%% of %s",
                &[(-2i32) as u32, 7],
                &text
            ),
            "Bogus marker length -2, 7% of abc"
        );
        assert_eq!(format_message("width %5d|", &[42], &text), "width    42|");
        assert_eq!(format_message("trailing %", &[], &text), "trailing %");
    }
}
