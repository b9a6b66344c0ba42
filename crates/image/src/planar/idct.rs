//! libjpeg's accurate integer inverse DCT (`jpeg_idct_islow`) for one 8×8 block, in AVX2, with
//! the arithmetic of libjpeg-turbo's own AVX2 version (`jidctint-avx2.asm`): the same 13-bit
//! constants, the same sums taken in 16 bits, the same saturation between the passes and at the
//! end. So a block comes out exactly as libjpeg's SIMD build decodes it, for any coefficients.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// libjpeg's fixed-point constants (`FIX(x)` = `x * 2^13`, rounded).
const F029: i32 = 2446; // 0.298631336
const F039: i32 = 3196; // 0.390180644
const F054: i32 = 4433; // 0.541196100
const F077: i32 = 6270; // 0.765366865
const F089: i32 = 7373; // 0.899976223
const F117: i32 = 9633; // 1.175875602
const F150: i32 = 12299; // 1.501321110
const F185: i32 = 15137; // 1.847759065
const F196: i32 = 16069; // 1.961570560
const F205: i32 = 16819; // 2.053119869
const F256: i32 = 20995; // 2.562915447
const F307: i32 = 25172; // 3.072711026

/// Fraction bits of the constants, and the extra bits kept after the first pass.
const CONST_BITS: i32 = 13;
const PASS1_BITS: i32 = 2;

/// The AVX2 inverse DCT, where the CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Idct(());

#[cfg(target_arch = "x86_64")]
impl Idct {
    /// `None` without AVX2.
    pub(crate) fn new() -> Option<Self> {
        std::arch::is_x86_feature_detected!("avx2").then_some(Idct(()))
    }

    /// Decode `coef` (quantised, natural order) with `quant` (natural order, as libjpeg's
    /// 16-bit multiplier table) into 8 rows of 8 samples at the start of `out`, `stride` apart.
    /// `None`, with nothing written, when `out` is shorter than `7 * stride + 8`.
    pub(crate) fn block(
        self,
        coef: &[i16; 64],
        quant: &[i16; 64],
        out: &mut [u8],
        stride: usize,
    ) -> Option<()> {
        let out = out.get_mut(..stride.checked_mul(7)?.checked_add(8)?)?;
        // SAFETY: AVX2 is present (`Idct::new`); `out` holds the 8 rows written (sliced above).
        unsafe { idct_avx2(coef, quant, out, stride) };
        Some(())
    }
}

/// One 1-D pass over eight vectors (`v[u]`: coefficient `u` of eight columns or rows, 16 bits
/// each), as libjpeg's AVX2 `dodct`: `in0 ± in4`, `in7 + in3` and `in5 + in1` wrap in 16 bits,
/// each pair of products is one `vpmaddwd` (exact in 32 bits). Returns the eight outputs
/// descaled by `shift` (rounding) and saturated to 16 bits (`vpackssdw`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pass(v: [__m128i; 8], shift: i32) -> [__m128i; 8] {
    // (a, b) interleaved per lane, to be multiplied by (c1, c2) and summed.
    let pair = |a, b| _mm256_set_m128i(_mm_unpackhi_epi16(a, b), _mm_unpacklo_epi16(a, b));
    let k = |c1: i32, c2: i32| _mm256_set1_epi32((c1 & 0xFFFF) | (c2 << 16));
    let madd = |p, c| _mm256_madd_epi16(p, c);
    let add = |a, b| _mm256_add_epi32(a, b);
    let sub = |a, b| _mm256_sub_epi32(a, b);
    // Even part.
    let tmp0 = _mm256_slli_epi32::<CONST_BITS>(_mm256_cvtepi16_epi32(_mm_add_epi16(v[0], v[4])));
    let tmp1 = _mm256_slli_epi32::<CONST_BITS>(_mm256_cvtepi16_epi32(_mm_sub_epi16(v[0], v[4])));
    let p26 = pair(v[2], v[6]);
    let tmp2 = madd(p26, k(F054, F054 - F185));
    let tmp3 = madd(p26, k(F054 + F077, F054));
    let (tmp10, tmp13) = (add(tmp0, tmp3), sub(tmp0, tmp3));
    let (tmp11, tmp12) = (add(tmp1, tmp2), sub(tmp1, tmp2));
    // Odd part.
    let pz = pair(_mm_add_epi16(v[7], v[3]), _mm_add_epi16(v[5], v[1]));
    let z3 = madd(pz, k(F117 - F196, F117));
    let z4 = madd(pz, k(F117, F117 - F039));
    let p71 = pair(v[7], v[1]);
    let p53 = pair(v[5], v[3]);
    let o0 = add(madd(p71, k(F029 - F089, -F089)), z3);
    let o3 = add(madd(p71, k(-F089, F150 - F089)), z4);
    let o1 = add(madd(p53, k(F205 - F256, -F256)), z4);
    let o2 = add(madd(p53, k(-F256, F307 - F256)), z3);
    let round = _mm256_set1_epi32(1 << (shift - 1));
    let count = _mm_cvtsi32_si128(shift);
    let out = |x| {
        let d = _mm256_sra_epi32(add(x, round), count);
        _mm_packs_epi32(_mm256_castsi256_si128(d), _mm256_extracti128_si256::<1>(d))
    };
    [
        out(add(tmp10, o3)),
        out(add(tmp11, o2)),
        out(add(tmp12, o1)),
        out(add(tmp13, o0)),
        out(sub(tmp13, o0)),
        out(sub(tmp12, o1)),
        out(sub(tmp11, o2)),
        out(sub(tmp10, o3)),
    ]
}

/// Transpose eight vectors of eight 16-bit lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transpose(r: [__m128i; 8]) -> [__m128i; 8] {
    let a0 = _mm_unpacklo_epi16(r[0], r[1]);
    let a1 = _mm_unpackhi_epi16(r[0], r[1]);
    let a2 = _mm_unpacklo_epi16(r[2], r[3]);
    let a3 = _mm_unpackhi_epi16(r[2], r[3]);
    let a4 = _mm_unpacklo_epi16(r[4], r[5]);
    let a5 = _mm_unpackhi_epi16(r[4], r[5]);
    let a6 = _mm_unpacklo_epi16(r[6], r[7]);
    let a7 = _mm_unpackhi_epi16(r[6], r[7]);
    let b0 = _mm_unpacklo_epi32(a0, a2);
    let b1 = _mm_unpackhi_epi32(a0, a2);
    let b2 = _mm_unpacklo_epi32(a1, a3);
    let b3 = _mm_unpackhi_epi32(a1, a3);
    let b4 = _mm_unpacklo_epi32(a4, a6);
    let b5 = _mm_unpackhi_epi32(a4, a6);
    let b6 = _mm_unpacklo_epi32(a5, a7);
    let b7 = _mm_unpackhi_epi32(a5, a7);
    [
        _mm_unpacklo_epi64(b0, b4),
        _mm_unpackhi_epi64(b0, b4),
        _mm_unpacklo_epi64(b1, b5),
        _mm_unpackhi_epi64(b1, b5),
        _mm_unpacklo_epi64(b2, b6),
        _mm_unpackhi_epi64(b2, b6),
        _mm_unpacklo_epi64(b3, b7),
        _mm_unpackhi_epi64(b3, b7),
    ]
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn idct_avx2(coef: &[i16; 64], quant: &[i16; 64], out: &mut [u8], stride: usize) {
    let c = coef.as_ptr().cast::<__m128i>();
    let q = quant.as_ptr().cast::<__m128i>();
    // Row u of coefficients, dequantised in 16 bits (vpmullw).
    let rows: [__m128i; 8] = std::array::from_fn(|u| {
        _mm_mullo_epi16(_mm_loadu_si128(c.add(u)), _mm_loadu_si128(q.add(u)))
    });
    let mut ac = _mm_setzero_si128();
    for u in 1..8 {
        ac = _mm_or_si128(ac, _mm_loadu_si128(c.add(u)));
    }
    // Pass 1 over the columns (lanes = columns, vector = row of the result).
    let work = if _mm_testz_si128(ac, ac) == 1 {
        // No AC terms down the columns: every row is the first row times 2^PASS1_BITS (in 16
        // bits, as libjpeg).
        [_mm_slli_epi16::<PASS1_BITS>(rows[0]); 8]
    } else {
        pass(rows, CONST_BITS - PASS1_BITS)
    };
    // Pass 2 over the rows: transposed (lanes = rows), then back.
    let result = transpose(pass(transpose(work), CONST_BITS + PASS1_BITS + 3));
    let centre = _mm_set1_epi8(-128);
    for (y, row) in result.iter().enumerate() {
        // To 8 bits with saturation (vpacksswb), then the range centre added (vpaddb).
        let bytes = _mm_add_epi8(_mm_packs_epi16(*row, *row), centre);
        let at = out.as_mut_ptr().add(y * stride).cast::<i64>();
        at.write_unaligned(_mm_cvtsi128_si64(bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libjpeg's C `jpeg_idct_islow` (integer arithmetic of jidctint.c), for in-range input.
    fn reference(coef: &[i16; 64], quant: &[i16; 64]) -> [u8; 64] {
        let mut ws = [0i64; 64];
        let descale = |x: i64, n: i32| (x + (1 << (n - 1))) >> n;
        let one_d = |i: [i64; 8], n: i32| -> [i64; 8] {
            let (z2, z3) = (i[2], i[6]);
            let z1 = (z2 + z3) * i64::from(F054);
            let tmp2 = z1 - z3 * i64::from(F185);
            let tmp3 = z1 + z2 * i64::from(F077);
            let tmp0 = (i[0] + i[4]) << CONST_BITS;
            let tmp1 = (i[0] - i[4]) << CONST_BITS;
            let (t10, t13, t11, t12) = (tmp0 + tmp3, tmp0 - tmp3, tmp1 + tmp2, tmp1 - tmp2);
            let (mut o0, mut o1, mut o2, mut o3) = (i[7], i[5], i[3], i[1]);
            let z1 = o0 + o3;
            let z2 = o1 + o2;
            let mut z3 = o0 + o2;
            let mut z4 = o1 + o3;
            let z5 = (z3 + z4) * i64::from(F117);
            o0 *= i64::from(F029);
            o1 *= i64::from(F205);
            o2 *= i64::from(F307);
            o3 *= i64::from(F150);
            let z1 = z1 * -i64::from(F089);
            let z2 = z2 * -i64::from(F256);
            z3 = z3 * -i64::from(F196) + z5;
            z4 = z4 * -i64::from(F039) + z5;
            o0 += z1 + z3;
            o1 += z2 + z4;
            o2 += z2 + z3;
            o3 += z1 + z4;
            [
                descale(t10 + o3, n),
                descale(t11 + o2, n),
                descale(t12 + o1, n),
                descale(t13 + o0, n),
                descale(t13 - o0, n),
                descale(t12 - o1, n),
                descale(t11 - o2, n),
                descale(t10 - o3, n),
            ]
        };
        for x in 0..8 {
            let col =
                std::array::from_fn(|u| i64::from(coef[u * 8 + x]) * i64::from(quant[u * 8 + x]));
            for (v, value) in one_d(col, CONST_BITS - PASS1_BITS).into_iter().enumerate() {
                ws[v * 8 + x] = value;
            }
        }
        let mut out = [0u8; 64];
        for y in 0..8 {
            let row = std::array::from_fn(|u| ws[y * 8 + u]);
            for (x, value) in one_d(row, CONST_BITS + PASS1_BITS + 3)
                .into_iter()
                .enumerate()
            {
                out[y * 8 + x] = (value + 128).clamp(0, 255) as u8;
            }
        }
        out
    }

    /// A deterministic pseudo-random sequence (xorshift).
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn matches_libjpeg_integer_idct_on_in_range_blocks() {
        let Some(idct) = Idct::new() else {
            return;
        };
        let mut s = 0x9E37_79B9_7F4A_7C15;
        for case in 0..20_000 {
            let quant: [i16; 64] = std::array::from_fn(|_| 1 + (next(&mut s) % 40) as i16);
            let mut coef = [0i16; 64];
            // Sparse and dense blocks, DC-only ones among them.
            let filled = [1, 3, 10, 64][case % 4];
            for _ in 0..filled {
                let at = (next(&mut s) % 64) as usize;
                coef[at] = ((next(&mut s) % 121) as i16 - 60) / (1 + at as i16 / 8);
            }
            coef[0] = (next(&mut s) % 200) as i16 - 100;
            let mut out = vec![0u8; 7 * 11 + 8];
            idct.block(&coef, &quant, &mut out, 11).expect("room");
            let got: Vec<u8> = (0..8)
                .flat_map(|y| out[y * 11..y * 11 + 8].to_vec())
                .collect();
            assert_eq!(
                got,
                reference(&coef, &quant).to_vec(),
                "case {case}: {coef:?}"
            );
        }
    }
}
