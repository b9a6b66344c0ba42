//! Baseline JPEG entropy decoding of our own, for the one kind of stream the planes take: a
//! single interleaved Huffman scan of three components, none subsampled, 8-bit.
//!
//! libjpeg's `decode_mcu` was about 45 % of the CPU of a 512 px tile made of four stored ones;
//! this decoder resolves a code and its value bits with one table lookup for most
//! coefficients, and refills its bit buffer several bytes at a time. It is strict where libjpeg
//! is lenient: a bad code, a marker or the end of the data where a block is still being read, a
//! coefficient past the 64th, an unexpected restart marker, any frame or table it does not
//! know: [`Scan::decode`] returns `None` and the caller decodes the stream with libjpeg as before, so
//! damaged files answer as they always did.

use crate::readers::jpeg_meta::segments;

/// Bits resolved by one table lookup.
const FAST_BITS: u32 = 10;

/// Zig-zag position to natural position, with 16 extra entries of 63 as libjpeg has.
const NATURAL: [u8; 80] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
    63, 63, 63, 63, 63, 63,
];

/// A Huffman table ready for decoding.
struct Huffman {
    /// By the next [`FAST_BITS`] bits: `(length << 8) | symbol`, 0 when the code is longer.
    fast: Box<[u16; 1 << FAST_BITS]>,
    /// For AC tables, by the next [`FAST_BITS`] bits, when the code and its value bits fit in
    /// them: `(value << 16) | (run << 8) | bits used`; 0 otherwise.
    ac: Box<[i32; 1 << FAST_BITS]>,
    /// Largest code of each length (index 1–16), −1 when none.
    max_code: [i32; 18],
    /// Symbol index of the first code of each length, minus that code.
    offset: [i32; 17],
    symbols: [u8; 256],
}

impl Huffman {
    /// A table of `counts` codes per length (1–16) and their `symbols`; `None` when the counts
    /// do not form a prefix code (libjpeg's `JERR_BAD_HUFF_TABLE`).
    fn new(counts: &[u8; 16], values: &[u8], ac: bool) -> Option<Self> {
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        // libjpeg refuses DC tables with a symbol above 15.
        if total > 256 || values.len() != total || (!ac && values.iter().any(|&v| v > 15)) {
            return None;
        }
        let mut t = Huffman {
            fast: Box::new([0; 1 << FAST_BITS]),
            ac: Box::new([0; 1 << FAST_BITS]),
            max_code: [-1; 18],
            offset: [0; 17],
            symbols: [0; 256],
        };
        t.symbols[..total].copy_from_slice(values);
        let (mut code, mut k) = (0i32, 0usize);
        for len in 1..=16u32 {
            let n = i32::from(counts[len as usize - 1]);
            t.offset[len as usize] = k as i32 - code;
            for _ in 0..n {
                if code >= 1 << len {
                    return None;
                }
                if len <= FAST_BITS {
                    let shift = FAST_BITS - len;
                    let first = (code as usize) << shift;
                    let symbol = values[k];
                    for entry in first..first + (1 << shift) {
                        t.fast[entry] = ((len as u16) << 8) | u16::from(symbol);
                        let size = u32::from(symbol & 15);
                        if ac && size > 0 && len + size <= FAST_BITS {
                            let bits = (entry >> (shift - size)) as i32 & ((1 << size) - 1);
                            let value = extend(bits, size);
                            t.ac[entry] =
                                (value << 16) | (i32::from(symbol >> 4) << 8) | (len + size) as i32;
                        }
                    }
                }
                code += 1;
                k += 1;
            }
            if n > 0 {
                t.max_code[len as usize] = code - 1;
            }
            // No code may be all ones (libjpeg's check): one past the last still fits.
            if code >= 1 << len {
                return None;
            }
            code <<= 1;
        }
        Some(t)
    }
}

/// `bits` (`size` of them) as the signed value they code.
fn extend(bits: i32, size: u32) -> i32 {
    if size == 0 {
        0
    } else if bits < 1 << (size - 1) {
        bits - (1 << size) + 1
    } else {
        bits
    }
}

/// One component of the scan: its tables and dequantisation.
#[derive(Clone, Copy)]
struct Component {
    id: u8,
    quant: usize,
    dc: usize,
    ac: usize,
}

/// What the markers before the scan say, and where its entropy-coded data starts.
pub(crate) struct Scan<'a> {
    width: u32,
    height: u32,
    components: [Component; 3],
    quant: [Option<[i16; 64]>; 4],
    dc: [Option<Huffman>; 4],
    ac: [Option<Huffman>; 4],
    restart_interval: u32,
    data: &'a [u8],
}

impl<'a> Scan<'a> {
    /// Read the markers of `stream` up to its first scan. `None` unless it is a baseline or
    /// extended sequential Huffman JPEG of 8 bits, three components with 1×1 sampling, in
    /// one interleaved scan of all coefficients, with every table it names defined.
    pub(crate) fn parse(stream: &'a [u8]) -> Option<Self> {
        let mut frame: Option<(u32, u32, [Component; 3])> = None;
        let mut quant = [None; 4];
        let (mut dc, mut ac): ([Option<Huffman>; 4], [Option<Huffman>; 4]) = Default::default();
        let mut restart_interval = 0;
        for (marker, body, end) in segments(stream) {
            match marker {
                0xDB => read_quant(body, &mut quant)?,
                0xC4 => read_huffman(body, &mut dc, &mut ac)?,
                0xC0 | 0xC1 => frame = Some(read_frame(body)?),
                0xDD => {
                    restart_interval =
                        u32::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]))
                }
                0xE0..=0xEF | 0xFE => {}
                0xDA => {
                    let (width, height, mut components) = frame?;
                    if body.len() != 10 || body[0] != 3 || body[7..10] != [0, 63, 0] {
                        return None;
                    }
                    for (i, c) in components.iter_mut().enumerate() {
                        let (id, tables) = (body[1 + 2 * i], body[2 + 2 * i]);
                        if id != c.id {
                            return None;
                        }
                        (c.dc, c.ac) = (usize::from(tables >> 4), usize::from(tables & 15));
                        let defined = quant.get(c.quant)?.is_some()
                            && dc.get(c.dc)?.is_some()
                            && ac.get(c.ac)?.is_some();
                        if !defined {
                            return None;
                        }
                    }
                    return Some(Scan {
                        width,
                        height,
                        components,
                        quant,
                        dc,
                        ac,
                        restart_interval,
                        data: stream.get(end..)?,
                    });
                }
                _ => return None,
            }
        }
        None
    }

    /// The frame's width.
    pub(crate) fn width(&self) -> u32 {
        self.width
    }

    /// Decode the first `mcu_rows` rows of blocks, handing each block (component index 0–2,
    /// block column and row, its quantised coefficients in natural order and its
    /// dequantisation table) to `block`. `None` at the first irregularity (see the module).
    pub(crate) fn decode(
        &self,
        mcu_rows: u32,
        mut block: impl FnMut(usize, u32, u32, &[i16; 64], &[i16; 64]),
    ) -> Option<()> {
        let columns = self.width.div_ceil(8);
        if mcu_rows > self.height.div_ceil(8) {
            return None;
        }
        let tables: [(&Huffman, &Huffman, &[i16; 64]); 3] = {
            let t = |c: &Component| -> Option<(&Huffman, &Huffman, &[i16; 64])> {
                Some((
                    self.dc.get(c.dc)?.as_ref()?,
                    self.ac.get(c.ac)?.as_ref()?,
                    self.quant.get(c.quant)?.as_ref()?,
                ))
            };
            let [a, b, c] = &self.components;
            [t(a)?, t(b)?, t(c)?]
        };
        let mut bits = Bits::new(self.data);
        let mut predictions = [0i32; 3];
        let (mut to_restart, mut restart) = (self.restart_interval, 0u8);
        for row in 0..mcu_rows {
            for column in 0..columns {
                if self.restart_interval > 0 {
                    if to_restart == 0 {
                        bits.restart(restart)?;
                        restart = restart.wrapping_add(1) & 7;
                        predictions = [0; 3];
                        to_restart = self.restart_interval;
                    }
                    to_restart -= 1;
                }
                for (c, (dc, ac, quant)) in tables.iter().enumerate() {
                    let mut coef = [0i16; 64];
                    decode_block(&mut bits, dc, ac, &mut predictions[c], &mut coef)?;
                    block(c, column, row, &coef, quant);
                }
                if !bits.all_real() {
                    return None;
                }
            }
        }
        Some(())
    }
}

/// One block: the DC difference added to `prediction`, then the AC coefficients.
#[inline(always)]
fn decode_block(
    bits: &mut Bits,
    dc: &Huffman,
    ac: &Huffman,
    prediction: &mut i32,
    coef: &mut [i16; 64],
) -> Option<()> {
    bits.refill();
    let size = u32::from(bits.symbol(dc)?);
    if size > 11 {
        return None;
    }
    let diff = extend(bits.take(size) as i32, size);
    *prediction = prediction.wrapping_add(diff);
    coef[0] = *prediction as i16;
    let mut k = 1usize;
    while k < 64 {
        bits.refill();
        let fast = ac.ac[bits.peek()];
        if fast != 0 {
            k += ((fast >> 8) & 255) as usize;
            bits.consume((fast & 255) as u32);
            // k <= 63 + 15; the coefficient must lie within the block.
            if k > 63 {
                return None;
            }
            coef[usize::from(NATURAL[k])] = (fast >> 16) as i16;
            k += 1;
            continue;
        }
        let symbol = bits.symbol(ac)?;
        let (run, size) = (usize::from(symbol >> 4), u32::from(symbol & 15));
        if size == 0 {
            if run != 15 {
                break;
            }
            k += 16;
            if k > 64 {
                return None;
            }
            continue;
        }
        k += run;
        if k > 63 || size > 10 {
            return None;
        }
        let value = extend(bits.take(size) as i32, size);
        coef[usize::from(NATURAL[k])] = value as i16;
        k += 1;
    }
    Some(())
}

/// The entropy-coded bits, most significant first, with stuffed zero bytes removed. At a
/// marker or the end of the data it feeds zero bits and counts them, so that using any of
/// them is found out.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    /// The next `count` bits, left-aligned.
    buffer: u64,
    count: u32,
    /// Zero bits fed past a marker or the end (the last ones in the buffer).
    padding: u32,
    /// Stopped at a marker (`data[pos]` is its 0xFF) or the end.
    stopped: bool,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits {
            data,
            pos: 0,
            buffer: 0,
            count: 0,
            padding: 0,
            stopped: false,
        }
    }

    /// At least 32 bits in the buffer (a code and its value bits need at most 27).
    #[inline(always)]
    fn refill(&mut self) {
        if self.count >= 32 {
            return;
        }
        if !self.stopped {
            if let Some(word) = self.data.get(self.pos..self.pos + 8) {
                let word = u64::from_be_bytes([
                    word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
                ]);
                // No 0xFF byte among the eight: take as many whole bytes as fit.
                let inverted = !word;
                let has_ff =
                    inverted.wrapping_sub(0x0101_0101_0101_0101) & word & 0x8080_8080_8080_8080;
                if has_ff == 0 {
                    let bytes = (63 - self.count) / 8;
                    self.buffer |= (word >> (64 - 8 * bytes)) << (64 - 8 * bytes - self.count);
                    self.count += 8 * bytes;
                    self.pos += bytes as usize;
                    return;
                }
            }
        }
        while self.count <= 56 {
            let byte = self.next_byte();
            self.buffer |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
    }

    /// The next data byte, a stuffed 0xFF 0x00 as 0xFF; 0 (counted as padding) at a marker
    /// or the end.
    fn next_byte(&mut self) -> u8 {
        if !self.stopped {
            match (self.data.get(self.pos), self.data.get(self.pos + 1)) {
                (Some(0xFF), Some(0)) => {
                    self.pos += 2;
                    return 0xFF;
                }
                (Some(0xFF), _) | (None, _) => self.stopped = true,
                (Some(&b), _) => {
                    self.pos += 1;
                    return b;
                }
            }
        }
        self.padding += 8;
        0
    }

    #[inline(always)]
    fn peek(&self) -> usize {
        (self.buffer >> (64 - FAST_BITS)) as usize
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.buffer <<= n;
        self.count -= n;
    }

    /// The next `n` (0–16) bits as a number; the buffer holds them (after `refill`).
    #[inline(always)]
    fn take(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        let v = (self.buffer >> (64 - n)) as u32;
        self.consume(n);
        v
    }

    /// The next symbol of `table`; `None` for a code it does not have.
    #[inline(always)]
    fn symbol(&mut self, table: &Huffman) -> Option<u8> {
        let fast = table.fast[self.peek()];
        if fast != 0 {
            self.consume(u32::from(fast >> 8));
            return Some(fast as u8);
        }
        for len in FAST_BITS + 1..=16 {
            let code = (self.buffer >> (64 - len)) as i32;
            if code <= table.max_code[len as usize] {
                self.consume(len);
                let at = usize::try_from(table.offset[len as usize] + code).ok()?;
                return table.symbols.get(at).copied();
            }
        }
        None
    }

    /// Whether no padding bit has been used.
    fn all_real(&self) -> bool {
        self.padding <= self.count
    }

    /// Expect restart marker `n` (0–7) next: only the fill bits of the last byte may remain
    /// before it. Then start afresh after it.
    fn restart(&mut self, n: u8) -> Option<()> {
        let real = self.count.checked_sub(self.padding)?;
        if real >= 8 {
            return None;
        }
        let at = self.pos;
        if self.data.get(at..at + 2)? != [0xFF, 0xD0 + n] {
            return None;
        }
        *self = Bits::new(self.data.get(at + 2..)?);
        Some(())
    }
}

/// Quantisation tables (DQT): 8-bit or 16-bit entries in zig-zag order, kept in natural order
/// as libjpeg's 16-bit multipliers.
fn read_quant(mut body: &[u8], quant: &mut [Option<[i16; 64]>; 4]) -> Option<()> {
    while let Some((&pq_tq, rest)) = body.split_first() {
        let (wide, id) = (pq_tq >> 4, usize::from(pq_tq & 15));
        let size = match wide {
            0 => 64,
            1 => 128,
            _ => return None,
        };
        let values = rest.get(..size)?;
        let mut table = [0i16; 64];
        for (k, natural) in NATURAL[..64].iter().enumerate() {
            table[usize::from(*natural)] = if wide == 1 {
                u16::from_be_bytes([values[2 * k], values[2 * k + 1]]) as i16
            } else {
                i16::from(values[k])
            };
        }
        *quant.get_mut(id)? = Some(table);
        body = &rest[size..];
    }
    Some(())
}

/// Huffman tables (DHT).
fn read_huffman(
    mut body: &[u8],
    dc: &mut [Option<Huffman>; 4],
    ac: &mut [Option<Huffman>; 4],
) -> Option<()> {
    while let Some((&tc_th, rest)) = body.split_first() {
        let counts: [u8; 16] = rest.get(..16)?.try_into().ok()?;
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let values = rest.get(16..16 + total)?;
        let id = usize::from(tc_th & 15);
        let table = match tc_th >> 4 {
            0 => dc.get_mut(id)?,
            1 => ac.get_mut(id)?,
            _ => return None,
        };
        *table = Some(Huffman::new(&counts, values, tc_th >> 4 == 1)?);
        body = &rest[16 + total..];
    }
    Some(())
}

/// The frame header (SOF0/SOF1): 8 bits, three components of 1×1 sampling.
fn read_frame(body: &[u8]) -> Option<(u32, u32, [Component; 3])> {
    if body.len() != 15 || body[0] != 8 || body[5] != 3 {
        return None;
    }
    let height = u32::from(u16::from_be_bytes([body[1], body[2]]));
    let width = u32::from(u16::from_be_bytes([body[3], body[4]]));
    if width == 0 || height == 0 {
        return None;
    }
    let mut components = [Component {
        id: 0,
        quant: 0,
        dc: 0,
        ac: 0,
    }; 3];
    for (i, c) in components.iter_mut().enumerate() {
        let spec = &body[6 + 3 * i..9 + 3 * i];
        if spec[1] != 0x11 || spec[2] > 3 {
            return None;
        }
        (c.id, c.quant) = (spec[0], usize::from(spec[2]));
    }
    Some((width, height, components))
}
