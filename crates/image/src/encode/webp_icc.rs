//! An ICC profile in a WebP file: the extended format, a VP8X chunk with the ICC flag, then an
//! `ICCP` chunk before the image data (WebP container specification). libwebp's simple encoder
//! writes no profile, so its output is rewritten here.

use crate::readers::webp::webp_size;

/// The ICC flag of the VP8X chunk.
const ICC_FLAG: u8 = 0x20;
/// The alpha flag of the VP8X chunk.
const ALPHA_FLAG: u8 = 0x10;

/// `webp` (a RIFF WebP file, simple or extended, without a profile) with `icc` embedded.
pub(crate) fn embed(webp: &[u8], icc: &[u8]) -> Result<Vec<u8>, String> {
    if webp.get(..4) != Some(b"RIFF") || webp.get(8..12) != Some(b"WEBP") {
        return Err("not a RIFF WebP file".into());
    }
    let first = webp.get(12..16).ok_or("no first chunk")?;
    let mut out = Vec::with_capacity(webp.len() + icc.len() + 40);
    out.extend_from_slice(b"RIFF\0\0\0\0WEBP");
    let rest = if first == b"VP8X" {
        let vp8x = webp.get(12..30).ok_or("short VP8X chunk")?;
        out.extend_from_slice(vp8x);
        out[20] |= ICC_FLAG;
        &webp[30..]
    } else {
        let (width, height) = webp_size(webp).ok_or("unreadable frame header")?;
        // A lossless (VP8L) frame says whether it uses alpha (bit 28 of its header); a simple
        // lossy frame has none.
        let alpha = first == b"VP8L" && webp.get(24).is_some_and(|b| b & 0x10 != 0);
        let flags = ICC_FLAG | if alpha { ALPHA_FLAG } else { 0 };
        out.extend_from_slice(b"VP8X");
        out.extend_from_slice(&10u32.to_le_bytes());
        out.extend_from_slice(&[flags, 0, 0, 0]);
        out.extend_from_slice(&le24(width - 1));
        out.extend_from_slice(&le24(height - 1));
        &webp[12..]
    };
    let icc_len = u32::try_from(icc.len()).map_err(|_| "ICC profile too large")?;
    out.extend_from_slice(b"ICCP");
    out.extend_from_slice(&icc_len.to_le_bytes());
    out.extend_from_slice(icc);
    if icc.len() % 2 == 1 {
        out.push(0);
    }
    out.extend_from_slice(rest);
    let riff = u32::try_from(out.len() - 8).map_err(|_| "WebP file too large")?;
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    Ok(out)
}

/// The low 24 bits of `v`, little-endian.
fn le24(v: u32) -> [u8; 3] {
    let b = v.to_le_bytes();
    [b[0], b[1], b[2]]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chunks of a RIFF WebP file: (fourcc, payload).
    fn chunks(webp: &[u8]) -> Vec<(&[u8], &[u8])> {
        let mut out = Vec::new();
        let mut at = 12;
        while at + 8 <= webp.len() {
            let size =
                u32::from_le_bytes(webp[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
            out.push((&webp[at..at + 4], &webp[at + 8..at + 8 + size]));
            at += 8 + size + (size & 1);
        }
        assert_eq!(at, webp.len(), "chunks end at the end of the file");
        out
    }

    /// A simple lossless file of `w` x `h` (a VP8L header only: enough for the container).
    fn simple_vp8l(w: u32, h: u32, alpha: bool) -> Vec<u8> {
        let bits = (w - 1) | (h - 1) << 14 | u32::from(alpha) << 28;
        let mut payload = vec![0x2F];
        payload.extend_from_slice(&bits.to_le_bytes());
        payload.push(0);
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(4 + 8 + payload.len() as u32).to_le_bytes());
        out.extend_from_slice(b"WEBPVP8L");
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    #[test]
    fn a_simple_file_becomes_extended_with_the_profile_first() {
        let icc = b"odd-length profile";
        let out = embed(&simple_vp8l(300, 7, true), icc).expect("embeds");
        let riff = u32::from_le_bytes(out[4..8].try_into().expect("4 bytes")) as usize;
        assert_eq!(riff, out.len() - 8);
        let c = chunks(&out);
        let kinds: Vec<&[u8]> = c.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, [&b"VP8X"[..], b"ICCP", b"VP8L"]);
        assert_eq!(c[0].1[0], ICC_FLAG | ALPHA_FLAG);
        assert_eq!(webp_size(&out), Some((300, 7)));
        assert_eq!(c[1].1, icc);
    }

    #[test]
    fn an_extended_file_gets_the_flag_and_the_chunk_after_vp8x() {
        let simple = embed(&simple_vp8l(5, 5, false), b"ab").expect("embeds");
        // Take the extended file without its ICCP chunk as an input with a VP8X.
        let mut extended = simple[..30].to_vec();
        extended[20] = 0;
        extended.extend_from_slice(&simple[30 + 10..]);
        let out = embed(&extended, b"xyz!").expect("embeds");
        let c = chunks(&out);
        assert_eq!(c[0].1[0], ICC_FLAG);
        assert_eq!((c[1].0, c[1].1), (&b"ICCP"[..], &b"xyz!"[..]));
        assert_eq!(c[2].0, b"VP8L");
    }

    #[test]
    fn refuses_what_is_not_webp() {
        assert!(embed(b"RIFF\0\0\0\0WAVEfmt ", b"p").is_err());
        assert!(embed(b"RIFF", b"p").is_err());
    }
}
