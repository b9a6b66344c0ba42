//! Strip and tile decompression: every output is bounded by the size the chunk must have.

use std::io::{Read, Write};

use crate::ImageError;

/// TIFF compression codes Tessera decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    /// CCITT modified Huffman run lengths without EOLs, rows byte-aligned (2) or, for 32771
    /// (RLEW), aligned to 16-bit words.
    FaxRle {
        word_aligned: bool,
    },
    /// CCITT Group 3 (1-D modified Huffman with EOLs; T.4).
    Fax3,
    /// CCITT Group 4 (T.6).
    Fax4,
    Lzw,
    /// Old-style (TIFF 6.0 section 22) JPEG.
    OldJpeg,
    /// New-style (TIFF Technote 2) JPEG.
    Jpeg,
    Deflate,
    PackBits,
    Lzma,
    /// WebP (libtiff's code 50001, as libvips and GDAL write): each chunk is a WebP file.
    Webp,
}

impl Compression {
    /// The compression for a TIFF code, or an unsupported-feature error naming it.
    pub fn from_code(code: i64) -> Result<Self, ImageError> {
        Ok(match code {
            1 => Compression::None,
            2 => Compression::FaxRle {
                word_aligned: false,
            },
            32771 => Compression::FaxRle { word_aligned: true },
            3 => Compression::Fax3,
            4 => Compression::Fax4,
            5 => Compression::Lzw,
            6 => Compression::OldJpeg,
            7 => Compression::Jpeg,
            8 | 32946 => Compression::Deflate,
            32773 => Compression::PackBits,
            34925 => Compression::Lzma,
            50001 => Compression::Webp,
            other => return Err(unsupported(&format!("compression {other}"))),
        })
    }
}

fn unsupported(what: &str) -> ImageError {
    ImageError::Unsupported(format!("tiff: {what}"))
}

fn corrupt(what: &str) -> ImageError {
    ImageError::Corrupt(format!("tiff: {what}"))
}

/// Decompress `raw` (not JPEG) into exactly `expected` bytes. Fax output is packed 1-bit rows of
/// `width` pixels where, as in libtiff, "white" runs are 0 bits and "black" runs 1 bits, for the
/// photometric interpretation to show (a BlackIsZero file's "white" runs are black). Short data
/// is an error; extra data is ignored.
pub(crate) fn decompress(
    compression: Compression,
    raw: &[u8],
    expected: usize,
    width: u32,
    rows: u32,
) -> Result<Vec<u8>, ImageError> {
    let out = match compression {
        Compression::None => raw.get(..expected).map(<[u8]>::to_vec),
        Compression::Lzw => Some(lzw(raw, expected)?),
        Compression::Deflate => {
            // Like LZW, a stream that stops early but holds the whole chunk is accepted.
            let mut out = Vec::with_capacity(expected);
            let result = flate2::read::ZlibDecoder::new(raw)
                .take(expected as u64)
                .read_to_end(&mut out);
            if let Err(e) = result {
                if out.len() < expected {
                    return Err(corrupt(&format!("deflate: {e}")));
                }
            }
            Some(out)
        }
        Compression::PackBits => Some(packbits(raw, expected)),
        Compression::Lzma => Some(super::xz::decode(raw, expected)?),
        Compression::Webp => Some(webp(raw, expected, width, rows)?),
        Compression::FaxRle { word_aligned } => {
            let layout = if word_aligned {
                super::fax_rle::Rows::Words
            } else {
                super::fax_rle::Rows::Bytes
            };
            Some(super::fax_rle::decode(raw, width, rows, layout)?)
        }
        Compression::Fax3 | Compression::Fax4 => Some(fax(compression, raw, width, rows)?),
        Compression::Jpeg | Compression::OldJpeg => {
            return Err(corrupt("JPEG chunks go through the JPEG path"))
        }
    };
    match out {
        Some(v) if v.len() >= expected => Ok(v),
        _ => Err(corrupt("strip or tile shorter than its declared size")),
    }
}

/// LZW (MSB first, TIFF's early code-size switch; or old-style, which libtiff recognises by the
/// chunk's first bytes) into a buffer of `expected` bytes.
fn lzw(raw: &[u8], expected: usize) -> Result<Vec<u8>, ImageError> {
    // Many writers end without an end code or with junk: keep what decoded, as libtiff does; the
    // caller refuses a chunk that comes out shorter than it covers.
    if super::lzw::is_old_style(raw) {
        return Ok(super::lzw::decode_old_style(raw, expected).0);
    }
    Ok(super::lzw::decode(raw, expected).0)
}

/// A WebP-compressed chunk of `width` x `rows` pixels, decoded by libwebp into `expected` bytes:
/// RGB or RGBA, whichever `expected` holds (libtiff stores 3 or 4 samples of 8 bits).
fn webp(raw: &[u8], expected: usize, width: u32, rows: u32) -> Result<Vec<u8>, ImageError> {
    use libwebp_sys::{WebPDecodeRGBAInto, WebPDecodeRGBInto, WebPGetInfo};
    let pixels = width as usize * rows as usize;
    let channels = match expected.checked_div(pixels) {
        Some(3) if expected == pixels * 3 => 3,
        Some(4) if expected == pixels * 4 => 4,
        _ => return Err(unsupported("WebP chunks other than 8-bit RGB or RGBA")),
    };
    let (mut w, mut h) = (0, 0);
    // SAFETY: `raw` is a live slice of `raw.len()` bytes that libwebp only reads; `w` and `h`
    // are valid out-pointers.
    let ok = unsafe { WebPGetInfo(raw.as_ptr(), raw.len(), &mut w, &mut h) };
    if ok == 0 {
        return Err(corrupt("webp: not a WebP chunk"));
    }
    // libtiff encodes the full tile (or strip) size; anything else would leave pixels unset.
    if u32::try_from(w).ok() != Some(width) || u32::try_from(h).ok() != Some(rows) {
        return Err(corrupt(
            "webp: chunk size differs from the tile or strip size",
        ));
    }
    let stride = i32::try_from(width as usize * channels).map_err(|_| corrupt("webp: width"))?;
    let mut out = vec![0u8; expected];
    // SAFETY: `out` holds `expected` = rows * stride bytes, which libwebp checks against the
    // decoded size before writing; `raw` is only read. The return is `out`'s pointer or null.
    let written = unsafe {
        if channels == 4 {
            WebPDecodeRGBAInto(raw.as_ptr(), raw.len(), out.as_mut_ptr(), out.len(), stride)
        } else {
            WebPDecodeRGBInto(raw.as_ptr(), raw.len(), out.as_mut_ptr(), out.len(), stride)
        }
    };
    if written.is_null() {
        return Err(corrupt("webp: libwebp could not decode the chunk"));
    }
    Ok(out)
}

/// PackBits run-length decoding, stopping at `expected` bytes.
fn packbits(raw: &[u8], expected: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(expected);
    let mut i = 0;
    while i < raw.len() && out.len() < expected {
        let n = raw[i] as i8;
        i += 1;
        if n >= 0 {
            let len = n as usize + 1;
            let end = (i + len).min(raw.len());
            out.extend_from_slice(&raw[i..end]);
            i = end;
        } else if n != -128 {
            if let Some(&b) = raw.get(i) {
                out.extend(std::iter::repeat_n(b, (1 - i16::from(n)) as usize));
            }
            i += 1;
        }
    }
    out.truncate(expected);
    out
}

/// CCITT G3 (1-D) or G4 into packed 1-bit rows.
fn fax(compression: Compression, raw: &[u8], width: u32, rows: u32) -> Result<Vec<u8>, ImageError> {
    let w16 = u16::try_from(width).map_err(|_| unsupported("fax images wider than 65535"))?;
    let h16 = u16::try_from(rows).map_err(|_| unsupported("fax strips taller than 65535"))?;
    let row_bytes = (width as usize).div_ceil(8);
    let mut out = Vec::with_capacity(row_bytes * rows as usize);
    let mut line_cb = |transitions: &[u16]| {
        if out.len() >= row_bytes * rows as usize {
            return;
        }
        let mut row = vec![0u8; row_bytes];
        for (x, colour) in fax::decoder::pels(transitions, w16).enumerate() {
            if colour == fax::Color::Black {
                row[x / 8] |= 0x80 >> (x % 8);
            }
        }
        out.extend_from_slice(&row);
    };
    let ok = match compression {
        Compression::Fax4 => {
            fax::decoder::decode_g4(raw.iter().copied(), w16, Some(h16), &mut line_cb)
        }
        _ => match g3(raw, rows, &mut line_cb) {
            Some(()) => Some(()),
            // The fax crate wants an EOL before the first row, which many writers leave out
            // (libtiff does not need it): rows read here, EOLs where they are.
            None => return super::fax_rle::decode(raw, width, rows, super::fax_rle::Rows::Eols),
        },
    };
    // Pad missing trailing lines with "white" runs when the decoder stopped at a clean end.
    if ok.is_some() || out.len() >= row_bytes * rows as usize {
        out.resize(row_bytes * rows as usize, 0);
        Ok(out)
    } else {
        Err(corrupt("CCITT fax data"))
    }
}

/// CCITT G3 (1-D) lines. A strip's last line often has no EOL after it: the decoder then
/// reports an error with that line already parsed, which is kept when it is the last one due.
fn g3(raw: &[u8], rows: u32, line_cb: &mut impl FnMut(&[u16])) -> Option<()> {
    let input = raw.iter().map(|&b| Ok::<u8, std::convert::Infallible>(b));
    let mut decoder = fax::decoder::Group3Decoder::new(input).ok()?;
    let mut lines = 0u32;
    while lines < rows {
        match decoder.advance() {
            Ok(status) => {
                line_cb(decoder.transitions());
                lines += 1;
                if status == fax::decoder::DecodeStatus::End {
                    break;
                }
            }
            Err(_) if lines + 1 == rows => {
                line_cb(decoder.transitions());
                lines += 1;
            }
            Err(_) => return None,
        }
    }
    Some(())
}

/// A writer that refuses bytes past `limit` (so a hostile stream cannot grow memory).
pub(crate) struct Bounded {
    out: Vec<u8>,
    limit: usize,
}

impl Bounded {
    /// An empty sink holding at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            out: Vec::with_capacity(limit),
            limit,
        }
    }

    /// The bytes written.
    pub fn into_inner(self) -> Vec<u8> {
        self.out
    }
}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = self.limit - self.out.len();
        if room == 0 {
            return Err(std::io::Error::other("more data than the chunk holds"));
        }
        let n = buf.len().min(room);
        self.out.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Undo horizontal differencing (predictor 2) on rows of `samples_per_row` samples of
/// `bytes_per_sample` bytes in `endian` order.
/// Horizontal differencing of 8-bit samples undone for one row: a running sum per channel.
fn undo_horizontal_bytes(row: &mut [u8], spp: usize) {
    fn run<const N: usize>(row: &mut [u8]) {
        let mut acc = [0u8; N];
        for px in row.chunks_exact_mut(N) {
            for (a, v) in acc.iter_mut().zip(px.iter_mut()) {
                *a = a.wrapping_add(*v);
                *v = *a;
            }
        }
    }
    match spp {
        1 => run::<1>(row),
        3 => run::<3>(row),
        4 => run::<4>(row),
        _ => {
            for i in spp..row.len() {
                row[i] = row[i].wrapping_add(row[i - spp]);
            }
        }
    }
}

pub(crate) fn undo_horizontal(
    data: &mut [u8],
    samples_per_row: usize,
    spp: usize,
    bytes_per_sample: usize,
    little: bool,
) {
    let row_len = samples_per_row * bytes_per_sample;
    if row_len == 0 {
        return;
    }
    for row in data.chunks_mut(row_len) {
        match bytes_per_sample {
            1 => undo_horizontal_bytes(row, spp),
            2 => {
                let get = |r: &[u8], i: usize| {
                    let b = [r[2 * i], r[2 * i + 1]];
                    if little {
                        u16::from_le_bytes(b)
                    } else {
                        u16::from_be_bytes(b)
                    }
                };
                for i in spp..row.len() / 2 {
                    let v = get(row, i).wrapping_add(get(row, i - spp));
                    let b = if little {
                        v.to_le_bytes()
                    } else {
                        v.to_be_bytes()
                    };
                    row[2 * i..2 * i + 2].copy_from_slice(&b);
                }
            }
            4 => {
                let get = |r: &[u8], i: usize| {
                    let b = [r[4 * i], r[4 * i + 1], r[4 * i + 2], r[4 * i + 3]];
                    if little {
                        u32::from_le_bytes(b)
                    } else {
                        u32::from_be_bytes(b)
                    }
                };
                for i in spp..row.len() / 4 {
                    let v = get(row, i).wrapping_add(get(row, i - spp));
                    let b = if little {
                        v.to_le_bytes()
                    } else {
                        v.to_be_bytes()
                    };
                    row[4 * i..4 * i + 4].copy_from_slice(&b);
                }
            }
            _ => {}
        }
    }
}

/// Undo the floating-point predictor (3): byte differencing, then the bytes of each row
/// regrouped from most to least significant planes into native samples (written in `little` order).
pub(crate) fn undo_float(
    data: &mut [u8],
    samples_per_row: usize,
    bytes_per_sample: usize,
    little: bool,
) {
    let row_len = samples_per_row * bytes_per_sample;
    if row_len == 0 {
        return;
    }
    let mut tmp = vec![0u8; row_len];
    for row in data.chunks_mut(row_len) {
        if row.len() < row_len {
            break;
        }
        for i in 1..row_len {
            row[i] = row[i].wrapping_add(row[i - 1]);
        }
        tmp.copy_from_slice(row);
        for s in 0..samples_per_row {
            for b in 0..bytes_per_sample {
                // Plane b holds the b-th most significant byte of every sample.
                let v = tmp[b * samples_per_row + s];
                let at = if little { bytes_per_sample - 1 - b } else { b };
                row[s * bytes_per_sample + at] = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits_runs_and_literals() {
        // 2 literals, a run of 3, a no-op, 1 literal.
        let raw = [1, 10, 11, 0xFE, 7, 0x80, 0, 12];
        assert_eq!(packbits(&raw, 6), vec![10, 11, 7, 7, 7, 12]);
        assert_eq!(packbits(&raw, 3), vec![10, 11, 7]);
    }

    #[test]
    fn horizontal_predictor_8_and_16_bit() {
        let mut d = vec![1, 2, 3, 1, 1, 1];
        undo_horizontal(&mut d, 6, 3, 1, true);
        assert_eq!(d, vec![1, 2, 3, 2, 3, 4]);
        let mut d = vec![0, 1, 0, 2];
        undo_horizontal(&mut d, 2, 1, 2, false);
        assert_eq!(d, vec![0, 1, 0, 3]);
    }

    #[test]
    fn short_data_is_an_error() {
        assert!(decompress(Compression::None, &[1, 2], 3, 3, 1).is_err());
        assert!(decompress(Compression::Deflate, b"junk", 3, 3, 1).is_err());
    }
}
