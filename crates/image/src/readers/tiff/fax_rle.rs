//! CCITT modified Huffman run lengths (TIFF compression 2, and 32771 "RLEW"): the one-dimensional
//! codes of T.4 without EOLs, each row starting on a byte (2) or 16-bit word (32771) boundary; and
//! one-dimensional Group 3 (compression 3), whose rows may each follow an EOL, which the `fax`
//! crate's decoder requires before the first row. The code tables are the `fax` crate's; rows,
//! alignment, EOLs and the end of the data are handled here.

use fax::{BitReader, Color};

use crate::ImageError;

fn corrupt(what: &str) -> ImageError {
    ImageError::Corrupt(format!("tiff: CCITT modified Huffman: {what}"))
}

/// How rows follow each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rows {
    /// Each row starts on a byte (compression 2).
    Bytes,
    /// Each row starts on a 16-bit word (compression 32771).
    Words,
    /// Rows follow bit after bit, each after an optional EOL with optional fill bits (Group 3).
    Eols,
}

/// Decode `rows` rows of `width` pixels into packed 1-bit rows laid out as `layout` says.
/// As in libtiff, a "white" run is 0 bits and a "black" run 1 bits, whatever the
/// photometric interpretation says of them (a BlackIsZero file's "white" runs are black).
/// Data that ends before the last row, a code that does not exist, or a row longer than `width`
/// is an error.
pub(super) fn decode(
    raw: &[u8],
    width: u32,
    rows: u32,
    layout: Rows,
) -> Result<Vec<u8>, ImageError> {
    let row_bytes = (width as usize).div_ceil(8);
    let mut out = vec![0; row_bytes * rows as usize];
    let mut bits = Bits { data: raw, pos: 0 };
    let align = match layout {
        Rows::Bytes => 8,
        Rows::Words => 16,
        Rows::Eols => 1,
    };
    for row in out.chunks_exact_mut(row_bytes.max(1)).take(rows as usize) {
        if layout == Rows::Eols {
            bits.skip_eol();
        }
        let mut x = 0u32;
        let mut colour = Color::White;
        while x < width {
            let run = run_length(&mut bits, colour).ok_or_else(|| corrupt("invalid code"))?;
            let end = x
                .checked_add(u32::from(run))
                .filter(|&e| e <= width)
                .ok_or_else(|| corrupt("row longer than the image"))?;
            if colour == Color::Black {
                paint(row, x, end);
            }
            x = end;
            colour = !colour;
        }
        bits.align(align);
        if bits.pos > raw.len() * 8 {
            return Err(corrupt("data ends before the last row"));
        }
    }
    Ok(out)
}

/// One run: make-up codes (64 and more) followed by a terminating code (under 64).
fn run_length(bits: &mut Bits, colour: Color) -> Option<u16> {
    let mut sum: u16 = 0;
    // A row of at most 65535 pixels holds at most 26 make-up codes of 2560.
    for _ in 0..32 {
        let n = match colour {
            Color::White => fax::maps::white::decode(bits)?,
            Color::Black => fax::maps::black::decode(bits)?,
        };
        sum = sum.checked_add(n)?;
        if n < 64 {
            return Some(sum);
        }
    }
    None
}

/// Set pixels `from..to` of a packed row.
fn paint(row: &mut [u8], from: u32, to: u32) {
    for x in from as usize..to as usize {
        if let Some(b) = row.get_mut(x / 8) {
            *b |= 0x80 >> (x % 8);
        }
    }
}

/// MSB-first bits of a slice; reads past the end give zeros (which no code consists of, so the
/// decoder stops), and [`decode`] checks the position against the end after each row.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    /// Skip to the next multiple of `n` bits.
    fn align(&mut self, n: usize) {
        self.pos = self.pos.div_ceil(n) * n;
    }

    /// Skip an EOL (eleven or more zeros, then a one) if one comes next. No code has more than
    /// seven leading zeros, so twelve zeros are an EOL with fill bits.
    fn skip_eol(&mut self) {
        if self.peek(12) != Some(1) && self.peek(12) != Some(0) {
            return;
        }
        let start = self.pos;
        while self.pos < self.data.len() * 8 && self.peek(1) == Some(0) {
            self.pos += 1;
        }
        if self.pos - start >= 11 && self.peek(1) == Some(1) {
            self.pos += 1;
        } else {
            self.pos = start;
        }
    }
}

impl BitReader for Bits<'_> {
    type Error = ();

    fn peek(&self, bits: u8) -> Option<u16> {
        if bits > 16 {
            return None;
        }
        let mut v = 0u32;
        for i in 0..usize::from(bits) {
            let p = self.pos + i;
            let bit = self.data.get(p / 8).map_or(0, |b| (b >> (7 - p % 8)) & 1);
            v = v << 1 | u32::from(bit);
        }
        Some(v as u16)
    }

    fn consume(&mut self, bits: u8) -> Result<(), ()> {
        self.pos += usize::from(bits);
        if self.pos > self.data.len() * 8 + 16 {
            return Err(());
        }
        Ok(())
    }

    fn bits_to_byte_boundary(&self) -> u8 {
        ((8 - self.pos % 8) % 8) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fax::maps::{black, white};

    /// Modified Huffman rows written with the code tables (make-up codes for long runs), each
    /// padded to `align` bits.
    fn encode(rows: &[Vec<u16>], align: usize) -> Vec<u8> {
        let mut bits: Vec<bool> = Vec::new();
        for runs in rows {
            for (i, &run) in runs.iter().enumerate() {
                let table = |n: u16| {
                    if i % 2 == 0 {
                        white::encode(n)
                    } else {
                        black::encode(n)
                    }
                };
                let mut left = run;
                loop {
                    let n = if left >= 64 {
                        (left / 64 * 64).min(2560)
                    } else {
                        left
                    };
                    let code = table(n).expect("code");
                    for b in (0..code.len).rev() {
                        bits.push(code.data >> b & 1 == 1);
                    }
                    left -= n;
                    if n < 64 {
                        break;
                    }
                }
            }
            while !bits.len().is_multiple_of(align) {
                bits.push(false);
            }
        }
        bits.chunks(8)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .fold(0u8, |a, (i, &b)| a | u8::from(b) << (7 - i))
            })
            .collect()
    }

    /// Packed rows (1 for the "black" runs) from runs.
    fn pixels(rows: &[Vec<u16>], width: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for runs in rows {
            let mut row = vec![0u8; width.div_ceil(8)];
            let mut x = 0;
            for (i, &run) in runs.iter().enumerate() {
                for p in x..x + usize::from(run) {
                    if i % 2 == 1 {
                        row[p / 8] |= 0x80 >> (p % 8);
                    }
                }
                x += usize::from(run);
            }
            out.extend(row);
        }
        out
    }

    fn sample_rows() -> Vec<Vec<u16>> {
        vec![
            vec![3000],
            vec![0, 3000],
            vec![1, 2, 3, 4, 5, 2985],
            vec![64, 2560, 63, 313],
            vec![1500, 1500],
        ]
    }

    #[test]
    fn decodes_byte_and_word_aligned_rows() {
        let rows = sample_rows();
        for (align, word) in [(8, false), (16, true)] {
            let raw = encode(&rows, align);
            let layout = if word { Rows::Words } else { Rows::Bytes };
            let got = decode(&raw, 3000, rows.len() as u32, layout).expect("decodes");
            assert_eq!(got, pixels(&rows, 3000), "align {align}");
        }
    }

    #[test]
    fn truncated_or_wrong_data_is_refused() {
        let rows = sample_rows();
        let raw = encode(&rows, 8);
        for cut in [0, 1, raw.len() / 2, raw.len() - 1] {
            assert!(
                decode(&raw[..cut], 3000, rows.len() as u32, Rows::Bytes).is_err(),
                "cut at {cut}"
            );
        }
        // Rows longer than the image, and word-aligned data read as byte-aligned.
        assert!(decode(&raw, 2000, rows.len() as u32, Rows::Bytes).is_err());
        let words = encode(&[vec![3, 5], vec![5, 3]], 16);
        assert!(decode(&words, 8, 2, Rows::Bytes).is_err());
    }

    #[test]
    fn group3_rows_with_and_without_eols() {
        let rows = sample_rows();
        let want = pixels(&rows, 3000);
        // Bit-packed rows without EOLs; then each row after an EOL (with fill bits before one).
        let plain = encode(&rows, 1);
        let got = decode(&plain, 3000, rows.len() as u32, Rows::Eols).expect("no EOLs");
        assert_eq!(got, want);
        let mut with_eols = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let fill = if i == 2 { 5 } else { 0 };
            with_eols.extend(std::iter::repeat_n(false, 11 + fill));
            with_eols.push(true);
            let bytes = encode(std::slice::from_ref(row), 1);
            with_eols.extend(
                bytes
                    .iter()
                    .flat_map(|&b| (0..8).rev().map(move |i| b >> i & 1 == 1))
                    .take(bits_of(row)),
            );
        }
        let packed: Vec<u8> = with_eols
            .chunks(8)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .fold(0u8, |a, (i, &b)| a | u8::from(b) << (7 - i))
            })
            .collect();
        let got = decode(&packed, 3000, rows.len() as u32, Rows::Eols).expect("EOLs");
        assert_eq!(got, want);
    }

    /// Bits the codes of one row take.
    fn bits_of(runs: &[u16]) -> usize {
        runs.iter()
            .enumerate()
            .map(|(i, &r)| code_bits(r, i) as usize)
            .sum()
    }

    /// Bits of the codes (make-up codes, then terminating) for a run of colour `i % 2`.
    fn code_bits(run: u16, i: usize) -> u32 {
        let table = |n: u16| {
            if i.is_multiple_of(2) {
                white::encode(n)
            } else {
                black::encode(n)
            }
        };
        let mut left = run;
        let mut total = 0;
        loop {
            let n = if left >= 64 {
                (left / 64 * 64).min(2560)
            } else {
                left
            };
            total += u32::from(table(n).expect("code").len);
            left -= n;
            if n < 64 {
                return total;
            }
        }
    }
}
