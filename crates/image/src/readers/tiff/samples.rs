//! Stored sample bytes to one byte per sample, whatever their depth and number format.

use super::layout::{Layout, Photometric, SampleFormat};

/// How numbers map to 0–255: the float range, and whether sub-byte values are stretched
/// (not for palette indices).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    /// Float data: the value shown as black and the one shown as white.
    pub range: (f64, f64),
    /// Stretch 1/2/4-bit values to 0–255 (false for palette indices).
    pub stretch: bool,
}

/// Convert `rows` rows of `samples_per_row` stored samples to bytes. Signed integers are shown
/// offset by half their range (the most negative value is black); floats map `scale.range`
/// linearly onto 0–255 with clipping.
pub(crate) fn to_8bit(
    layout: &Layout,
    data: Vec<u8>,
    samples_per_row: usize,
    rows: usize,
    scale: Scale,
) -> Vec<u8> {
    let bits = usize::from(layout.bits);
    let little = layout.little_endian;
    let mut out = Vec::with_capacity(samples_per_row * rows);
    if bits < 8 {
        let row_bytes = (samples_per_row * bits).div_ceil(8);
        let max = (1u16 << bits) - 1;
        for row in data.chunks(row_bytes.max(1)).take(rows) {
            for i in 0..samples_per_row {
                let bit = i * bits;
                let byte = row.get(bit / 8).copied().unwrap_or(0);
                let v = (u16::from(byte) >> (8 - bits - bit % 8)) & max;
                out.push(if scale.stretch {
                    (v * 255 / max) as u8
                } else {
                    v as u8
                });
            }
        }
        return out;
    }
    let n = samples_per_row * rows;
    if bits == 8 && layout.format == SampleFormat::Unsigned {
        let mut data = data;
        data.truncate(n);
        return data;
    }
    let bytes = bits / 8;
    let word = |i: usize| -> u64 {
        let b = &data[i * bytes..(i + 1) * bytes];
        let mut v = 0u64;
        if little {
            for &x in b.iter().rev() {
                v = (v << 8) | u64::from(x);
            }
        } else {
            for &x in b {
                v = (v << 8) | u64::from(x);
            }
        }
        v
    };
    let n = n.min(data.len() / bytes);
    for i in 0..n {
        let v = word(i);
        let byte = match (layout.format, bits) {
            (SampleFormat::Unsigned, 8) => v as u8,
            (SampleFormat::Unsigned, 16) => ((v * 255 + 32767) / 65535) as u8,
            (SampleFormat::Unsigned, _) => ((v * 255 + (1 << 31)) / u64::from(u32::MAX)) as u8,
            (SampleFormat::Signed, _) => {
                // Flip the sign bit: two's complement to offset binary, then scale as unsigned.
                let top = (v >> (bits - 1)) & 1;
                let shifted = (v & !(1 << (bits - 1))) | ((1 - top) << (bits - 1));
                (shifted >> (bits - 8)) as u8
            }
            (SampleFormat::Float, _) => float_to_u8(float(v, bits), scale.range),
        };
        out.push(byte);
    }
    out
}

/// 16-bit L*a*b* samples to the 8-bit Lab encoding of the same model, which the pixel conversion
/// reads: L (0–65535 for 0–100) to 0–255; a and b signed (CIELab, 1/256 units) to signed bytes,
/// or offset by 32768 (ICC Lab) to bytes offset by 128; other samples (alpha) scaled as unsigned.
/// `plane` is the plane of a planar chunk, `None` for interleaved samples.
pub(crate) fn lab16_to_8bit(
    layout: &Layout,
    data: &[u8],
    samples_per_row: usize,
    rows: usize,
    plane: Option<usize>,
) -> Vec<u8> {
    let unsigned_ab = matches!(layout.photometric, Photometric::Lab { unsigned_ab: true });
    let spp = layout.stored_spp().max(1);
    let n = (samples_per_row * rows).min(data.len() / 2);
    (0..n)
        .map(|i| {
            let pair = [data[2 * i], data[2 * i + 1]];
            let v = if layout.little_endian {
                u16::from_le_bytes(pair)
            } else {
                u16::from_be_bytes(pair)
            };
            match plane.unwrap_or(i % spp) {
                1 | 2 if unsigned_ab => ((u32::from(v) + 128) / 256).min(255) as u8,
                1 | 2 => {
                    let signed = f64::from(v as i16) / 256.0;
                    (signed.round().clamp(-128.0, 127.0) as i8) as u8
                }
                _ => ((u32::from(v) * 255 + 32767) / 65535) as u8,
            }
        })
        .collect()
}

/// The float value of a 32- or 64-bit pattern.
pub(crate) fn float(v: u64, bits: usize) -> f64 {
    if bits == 32 {
        f64::from(f32::from_bits(v as u32))
    } else {
        f64::from_bits(v)
    }
}

/// Map `v` from `range` onto 0–255; NaN is black.
fn float_to_u8(v: f64, (lo, hi): (f64, f64)) -> u8 {
    if v.is_nan() {
        return 0;
    }
    let t = if hi > lo { (v - lo) / (hi - lo) } else { v };
    (t.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// The smallest and largest finite float among stored samples (for images without SMin/SMax).
pub(crate) fn float_extent(layout: &Layout, data: &[u8]) -> Option<(f64, f64)> {
    let bits = usize::from(layout.bits);
    let bytes = bits / 8;
    let mut extent: Option<(f64, f64)> = None;
    for b in data.chunks_exact(bytes) {
        let mut v = 0u64;
        let iter: Box<dyn Iterator<Item = &u8>> = if layout.little_endian {
            Box::new(b.iter().rev())
        } else {
            Box::new(b.iter())
        };
        for &x in iter {
            v = (v << 8) | u64::from(x);
        }
        let f = float(v, bits);
        if f.is_finite() {
            extent = Some(extent.map_or((f, f), |(lo, hi)| (lo.min(f), hi.max(f))));
        }
    }
    extent
}
