//! LZMA-compressed TIFF chunks (compression 34925): one xz block whose filter chain is LZMA2,
//! optionally preceded by the delta filter that libtiff uses by default. lzma-rs decodes LZMA2;
//! the container and the delta filter are undone here.

use super::decompress::Bounded;
use crate::ImageError;

fn corrupt(what: &str) -> ImageError {
    ImageError::Corrupt(format!("tiff: lzma: {what}"))
}

/// Decode the first block of the xz stream `raw` into at most `expected` bytes.
pub(crate) fn decode(raw: &[u8], expected: usize) -> Result<Vec<u8>, ImageError> {
    if !raw.starts_with(b"\xFD7zXZ\x00") || raw.len() < 14 {
        return Err(corrupt("not an xz stream"));
    }
    let start = 12;
    let header_len = (usize::from(raw[start]) + 1) * 4;
    if raw[start] == 0 {
        return Err(corrupt("stream without blocks"));
    }
    let header = raw
        .get(start..start + header_len)
        .ok_or_else(|| corrupt("truncated block header"))?;
    let flags = header[1];
    let mut at = 2;
    for present in [flags & 0x40 != 0, flags & 0x80 != 0] {
        if present {
            varint(header, &mut at)?;
        }
    }
    let mut delta = None;
    let mut lzma2 = false;
    for _ in 0..=(flags & 3) {
        let id = varint(header, &mut at)?;
        let size = usize::try_from(varint(header, &mut at)?).map_err(|_| corrupt("filter"))?;
        let props = header.get(at..at + size).ok_or_else(|| corrupt("filter"))?;
        at += size;
        match (id, props) {
            (0x03, [d]) => delta = Some(usize::from(*d) + 1),
            (0x21, _) => lzma2 = true,
            _ => {
                return Err(ImageError::Unsupported(format!(
                    "tiff: lzma filter {id:#x}"
                )))
            }
        }
    }
    if !lzma2 {
        return Err(corrupt("no LZMA2 filter"));
    }
    let mut sink = Bounded::new(expected);
    let mut input = &raw[start + header_len..];
    let result = lzma_rs::lzma2_decompress(&mut input, &mut sink);
    let mut out = sink.into_inner();
    if result.is_err() && out.len() < expected {
        return Err(corrupt("bad LZMA2 data"));
    }
    if let Some(distance) = delta {
        for i in distance..out.len() {
            out[i] = out[i].wrapping_add(out[i - distance]);
        }
    }
    Ok(out)
}

/// An xz variable-length integer (7 bits per byte, little end first).
fn varint(b: &[u8], at: &mut usize) -> Result<u64, ImageError> {
    let mut v = 0u64;
    for shift in (0..63).step_by(7) {
        let byte = *b.get(*at).ok_or_else(|| corrupt("truncated number"))?;
        *at += 1;
        v |= u64::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(corrupt("number too long"))
}
