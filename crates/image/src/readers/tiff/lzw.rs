//! TIFF LZW decoding (MSB-first codes of 9 to 12 bits, switching one code early), fast: every table
//! entry is a string that has already been written to the output, so the table holds where it was
//! written and decoding a code is a short copy from earlier in the output, as in LZ77.
//!
//! Files written by libtiff before TIFF 6.0 use "old-style" LZW: codes packed LSB first and widened
//! only when the table needs it (as in GIF). libtiff tells them apart by the first bytes of each
//! strip ([`is_old_style`]): a new-style stream starts with a clear code, MSB first (`0x80`).

/// Clear code: reset the table.
const CLEAR: u16 = 256;
/// End of information.
const END: u16 = 257;
/// Largest table: 12-bit codes.
const TABLE: usize = 4096;
/// Spare bytes past the end of the output, so short strings are copied eight bytes at a time.
const SLACK: usize = 16;

/// Why a stream stopped before filling its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// The output is full or the end code was read.
    Done,
    /// The compressed data ran out first.
    Truncated,
    /// A code that cannot occur in a valid stream.
    BadCode,
}

/// Decode `input` into at most `expected` bytes; returns the bytes written and why decoding stopped.
/// What was decoded before a bad code or the end of the input is kept, as libtiff does.
pub(super) fn decode(input: &[u8], expected: usize) -> (Vec<u8>, Stop) {
    decode_with(MsbReader::new(input), 1, expected)
}

/// Whether a chunk is old-style LZW, by libtiff's test: the first byte 0 and the low bit of the
/// second set (a clear code, 256, packed LSB first).
pub(super) fn is_old_style(input: &[u8]) -> bool {
    matches!(input, [0, second, ..] if second & 1 == 1)
}

/// Decode old-style (pre-TIFF 6.0 libtiff) LZW, as [`decode`] does new-style.
pub(super) fn decode_old_style(input: &[u8], expected: usize) -> (Vec<u8>, Stop) {
    decode_with(LsbReader::new(input), 0, expected)
}

/// Reads codes of 9 to 12 bits.
trait Codes {
    /// The next `n` bits (n <= 16), or `None` at the end of the input.
    fn take(&mut self, n: u32) -> Option<u16>;
}

/// The LZW loop over `bits`; the code width grows when `early` + the next free code reaches the
/// next power of two (TIFF switches one code early: `early` = 1; old-style LZW and GIF: 0).
fn decode_with(mut bits: impl Codes, early: usize, expected: usize) -> (Vec<u8>, Stop) {
    let mut out = vec![0u8; expected + SLACK];
    let mut table = vec![(0u32, 0u32); TABLE];
    let mut pos = 0usize;
    let mut width = 9u32;
    let mut next = 258usize;
    // Where the previous code's string was written, and its length; none right after a clear.
    let mut prev: Option<(usize, usize)> = None;
    let stop = loop {
        if pos >= expected {
            break Stop::Done;
        }
        let Some(code) = bits.take(width) else {
            break Stop::Truncated;
        };
        match code {
            CLEAR => {
                width = 9;
                next = 258;
                prev = None;
                continue;
            }
            END => break Stop::Done,
            _ => {}
        }
        let code = usize::from(code);
        let start = pos;
        let len = if code < 256 {
            out[pos] = code as u8;
            1
        } else if code < next && prev.is_some() {
            let (from, len) = table[code];
            copy_earlier(&mut out, from as usize, pos, len as usize);
            len as usize
        } else if code == next {
            // The string being defined: the previous one and its own first byte.
            let Some((from, len)) = prev else {
                break Stop::BadCode;
            };
            copy_earlier(&mut out, from, pos, len);
            if pos + len < expected {
                out[pos + len] = out[from];
            }
            len + 1
        } else {
            break Stop::BadCode;
        };
        if let Some((from, prev_len)) = prev {
            if next < TABLE {
                // The previous string plus this one's first byte, which follows it in the output.
                table[next] = (from as u32, prev_len as u32 + 1);
                next += 1;
            }
        }
        if next + early >= 1 << width && width < 12 {
            width += 1;
        }
        prev = Some((start, len));
        pos = (start + len).min(expected);
    };
    out.truncate(pos.min(expected));
    (out, stop)
}

/// Copy `len` bytes from `from` to `to` (`from + len <= to`), eight at a time; the last copy may
/// write past `to + len` into bytes that are written again later or cut off at the end. The output
/// is at most the expected size: a string that would run past it is cut.
fn copy_earlier(out: &mut [u8], from: usize, to: usize, len: usize) {
    let end = out.len() - SLACK;
    let len = len.min(end.saturating_sub(to));
    let mut i = 0;
    while i < len {
        // `from + i + 8 <= to + i + 8 <= end + SLACK`: both ranges lie inside `out`.
        out.copy_within(from + i..from + i + 8, to + i);
        i += 8;
    }
}

/// MSB-first bit reader (TIFF 6.0 LZW).
struct MsbReader<'a> {
    input: &'a [u8],
    at: usize,
    acc: u64,
    count: u32,
}

impl<'a> MsbReader<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self {
            input,
            at: 0,
            acc: 0,
            count: 0,
        }
    }
}

impl Codes for MsbReader<'_> {
    #[inline]
    fn take(&mut self, n: u32) -> Option<u16> {
        if self.count < n {
            if let Some(bytes) = self.input.get(self.at..self.at + 4) {
                let word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                self.acc |= u64::from(word) << (32 - self.count);
                self.at += 4;
                self.count += 32;
            } else {
                while self.count < n {
                    let byte = *self.input.get(self.at)?;
                    self.acc |= u64::from(byte) << (56 - self.count);
                    self.at += 1;
                    self.count += 8;
                }
            }
        }
        let v = (self.acc >> (64 - n)) as u16;
        self.acc <<= n;
        self.count -= n;
        Some(v)
    }
}

/// LSB-first bit reader (old-style LZW): the first code is in the low bits of the first byte.
struct LsbReader<'a> {
    input: &'a [u8],
    at: usize,
    acc: u32,
    count: u32,
}

impl<'a> LsbReader<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self {
            input,
            at: 0,
            acc: 0,
            count: 0,
        }
    }
}

impl Codes for LsbReader<'_> {
    fn take(&mut self, n: u32) -> Option<u16> {
        while self.count < n {
            let byte = *self.input.get(self.at)?;
            self.acc |= u32::from(byte) << self.count;
            self.at += 1;
            self.count += 8;
        }
        let v = (self.acc & ((1 << n) - 1)) as u16;
        self.acc >>= n;
        self.count -= n;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weezl_encode(data: &[u8]) -> Vec<u8> {
        weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
            .encode(data)
            .expect("encode")
    }

    fn weezl_decode(data: &[u8]) -> Vec<u8> {
        weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
            .decode(data)
            .expect("decode")
    }

    /// Deterministic data of several kinds: runs, repeats, noise (fills the 12-bit table and clears).
    fn samples() -> Vec<Vec<u8>> {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let noise: Vec<u8> = (0..200_000).map(|_| rand() as u8).collect();
        let smooth: Vec<u8> = (0..300_000u32)
            .map(|i| ((i / 7) % 251) as u8 ^ (rand() % 3) as u8)
            .collect();
        vec![
            vec![],
            vec![7],
            vec![0; 100_000],
            b"abababababababababababab".to_vec(),
            (0..=255).collect(),
            noise,
            smooth,
        ]
    }

    #[test]
    fn decodes_what_weezl_encodes() {
        for data in samples() {
            let packed = weezl_encode(&data);
            let (got, stop) = decode(&packed, data.len());
            assert_eq!(got, data, "len {}", data.len());
            assert_eq!(stop, Stop::Done);
        }
    }

    #[test]
    fn agrees_with_weezl_on_truncated_and_corrupt_streams() {
        for data in samples().into_iter().filter(|d| d.len() > 1000) {
            let packed = weezl_encode(&data);
            let cut = &packed[..packed.len() / 2];
            let (got, stop) = decode(cut, data.len());
            assert_eq!(stop, Stop::Truncated);
            assert!(got.len() > data.len() / 4 && data.starts_with(&got));
            let mut bad = packed.clone();
            bad[packed.len() / 3] ^= 0xFF;
            let (got, _) = decode(&bad, data.len());
            assert!(got.len() <= data.len());
        }
    }

    /// Old-style LZW as weezl writes GIF-style codes: LSB first, widened without the early switch.
    fn weezl_encode_old_style(data: &[u8]) -> Vec<u8> {
        weezl::encode::Encoder::new(weezl::BitOrder::Lsb, 8)
            .encode(data)
            .expect("encode")
    }

    #[test]
    fn decodes_old_style_lzw() {
        for data in samples() {
            let packed = weezl_encode_old_style(&data);
            assert!(is_old_style(&packed), "starts with an LSB-first clear code");
            assert!(!is_old_style(&weezl_encode(&data)));
            let (got, stop) = decode_old_style(&packed, data.len());
            assert_eq!(got, data, "len {}", data.len());
            assert_eq!(stop, Stop::Done);
            // The two flavours differ: new-style decoding of old-style codes goes wrong.
            if data.len() > 1000 {
                assert_ne!(decode(&packed, data.len()).0, data);
            }
        }
    }

    #[test]
    fn old_style_truncated_and_corrupt_streams_stay_bounded() {
        for data in samples().into_iter().filter(|d| d.len() > 1000) {
            let packed = weezl_encode_old_style(&data);
            let (got, stop) = decode_old_style(&packed[..packed.len() / 2], data.len());
            assert_eq!(stop, Stop::Truncated);
            assert!(got.len() > data.len() / 4 && data.starts_with(&got));
            let mut bad = packed.clone();
            bad[packed.len() / 3] ^= 0xFF;
            assert!(decode_old_style(&bad, data.len()).0.len() <= data.len());
        }
    }

    #[test]
    fn stops_at_the_expected_size() {
        let data = vec![9u8; 50_000];
        let (got, stop) = decode(&weezl_encode(&data), 1234);
        assert_eq!((got.len(), stop), (1234, Stop::Done));
        assert_eq!(weezl_decode(&weezl_encode(&data)), data);
    }
}
