//! RGB planes to the YCbCr JPEG codes (JFIF: BT.601, full range) in 16-bit fixed point, the
//! chroma kept whole or halved both ways (each sample the mean of the 2×2 pixels it covers).
//! Luma comes out as libjpeg's (`jccolor.c`); chroma within one level of libjpeg's, whose
//! rounding differs. Rows are padded to whole blocks as libjpeg pads them: the image's last
//! column repeated to the right, its last row below.
//!
//! Written so the compiler vectorises it: 16-bit lanes, high-half multiplies. On x86-64 it runs
//! with AVX2 where the CPU has it (four times faster than the SSE2 baseline here).

use super::RgbPlanes;

/// libjpeg's `FIX(x)`, `x` × 65536 rounded, of the BT.601 weights.
const Y_R: u16 = 19_595;
const Y_G: u16 = 38_470;
const Y_B: u16 = 7_471;
const CB_R: u16 = 11_059;
const CB_G: u16 = 21_709;
const CR_G: u16 = 27_439;
const CR_B: u16 = 5_329;

/// One iMCU row of YCbCr for libjpeg's raw data interface: [`Stripe::luma_rows`] rows of
/// `luma_width` luma samples, and 8 rows of `chroma_width` samples of each chroma component.
pub(super) struct Stripe {
    pub luma: Vec<u8>,
    pub cb: Vec<u8>,
    pub cr: Vec<u8>,
    pub luma_width: usize,
    pub chroma_width: usize,
    halve: bool,
    /// Sums of horizontal pairs: R, G, B of the upper row, then of the lower.
    pairs: [Vec<u16>; 6],
}

impl Stripe {
    /// A stripe for rows `luma_width` samples wide (at least the image's width), chroma
    /// halved both ways (`halve`, `chroma_width` at least half the width, rounded up) or not.
    pub(super) fn new(luma_width: usize, chroma_width: usize, halve: bool) -> Self {
        let luma_rows = if halve { 16 } else { 8 };
        Self {
            luma: vec![0; luma_width * luma_rows],
            cb: vec![0; chroma_width * 8],
            cr: vec![0; chroma_width * 8],
            luma_width,
            chroma_width,
            halve,
            pairs: std::array::from_fn(|_| vec![0; luma_width / 2 + 1]),
        }
    }

    /// Luma rows per stripe: 16 with the chroma halved, else 8.
    pub(super) fn luma_rows(&self) -> usize {
        if self.halve {
            16
        } else {
            8
        }
    }

    /// Convert the image's rows from `top` (rows below the image repeat its last).
    pub(super) fn fill(&mut self, planes: &RgbPlanes, top: usize) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            unsafe { convert_avx2(self, planes, top) };
            return;
        }
        convert(self, planes, top);
    }
}

/// [`convert`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn convert_avx2(stripe: &mut Stripe, planes: &RgbPlanes, top: usize) {
    convert(stripe, planes, top);
}

/// [`Stripe::fill`], inlined into each instruction set's copy.
#[inline(always)]
fn convert(stripe: &mut Stripe, planes: &RgbPlanes, top: usize) {
    let width = planes.window().width;
    let rgb = |row: usize| {
        [
            planes.image_row(0, top + row),
            planes.image_row(1, top + row),
            planes.image_row(2, top + row),
        ]
    };
    let (lw, cw) = (stripe.luma_width, stripe.chroma_width);
    if width == 0 || lw < width || cw < width.div_ceil(if stripe.halve { 2 } else { 1 }) {
        return;
    }
    for row in 0..stripe.luma_rows() {
        let out = &mut stripe.luma[row * lw..(row + 1) * lw];
        let [r, g, b] = rgb(row);
        luma_row(r, g, b, &mut out[..width]);
        let last = out[width - 1];
        out[width..].fill(last);
    }
    for row in 0..8 {
        let cb = &mut stripe.cb[row * cw..(row + 1) * cw];
        let cr = &mut stripe.cr[row * cw..(row + 1) * cw];
        let (upper, lower) = if stripe.halve {
            (rgb(2 * row), rgb(2 * row + 1))
        } else {
            (rgb(row), rgb(row))
        };
        let done = if stripe.halve {
            halved_row(upper, lower, &mut stripe.pairs, cb, cr)
        } else {
            let [r, g, b] = upper;
            chroma_row(r, g, b, cb, cr);
            width
        };
        // The rest are the last pixel of the row (or of both rows) repeated, as libjpeg pads.
        let at = width - 1;
        let mean = |c: usize| (u16::from(upper[c][at]) + u16::from(lower[c][at])) << 7;
        let (b, r) = chroma(mean(0), mean(1), mean(2));
        cb[done..].fill(b);
        cr[done..].fill(r);
    }
}

/// `a` × `c` / 65536, rounded down.
#[inline(always)]
fn high(a: u16, c: u16) -> u16 {
    ((u32::from(a) * u32::from(c)) >> 16) as u16
}

/// Luma of a colour given as 256 × each of R, G and B.
#[inline(always)]
fn luma(r: u16, g: u16, b: u16) -> u8 {
    // Each term is 256 × its share of the luma, rounded down (so the sum may be a 1/128 of a
    // level short of libjpeg's exact one); their sum, at most 256 × 255, is rounded.
    let t = high(r, Y_R) + high(g, Y_G) + high(b, Y_B);
    ((t + 128) >> 8) as u8
}

/// Cb and Cr of a colour given as 256 × each of R, G and B.
#[inline(always)]
fn chroma(r: u16, g: u16, b: u16) -> (u8, u8) {
    // 256 × Cb and 256 × Cr, from 128 to 256 × 255.5; the rounding saturates at the top.
    let cb = ((b >> 1) + 32_768)
        .wrapping_sub(high(r, CB_R))
        .wrapping_sub(high(g, CB_G));
    let cr = ((r >> 1) + 32_768)
        .wrapping_sub(high(g, CR_G))
        .wrapping_sub(high(b, CR_B));
    let level = |v: u16| (v.saturating_add(128) >> 8) as u8;
    (level(cb), level(cr))
}

/// 256 × a sample.
#[inline(always)]
fn scaled(v: u8) -> u16 {
    u16::from(v) << 8
}

#[inline(always)]
fn luma_row(r: &[u8], g: &[u8], b: &[u8], out: &mut [u8]) {
    for (((y, &r), &g), &b) in out.iter_mut().zip(r).zip(g).zip(b) {
        *y = luma(scaled(r), scaled(g), scaled(b));
    }
}

#[inline(always)]
fn chroma_row(r: &[u8], g: &[u8], b: &[u8], cb: &mut [u8], cr: &mut [u8]) {
    let pixels = r.iter().zip(g).zip(b);
    for ((cb, cr), ((&r, &g), &b)) in cb.iter_mut().zip(cr.iter_mut()).zip(pixels) {
        (*cb, *cr) = chroma(scaled(r), scaled(g), scaled(b));
    }
}

/// The sum of each horizontal pair of `row`.
#[inline(always)]
fn pair_sums(row: &[u8], out: &mut [u16]) {
    for (o, p) in out.iter_mut().zip(row.chunks_exact(2)) {
        // Both samples of the pair at once: the low byte and the high byte.
        let v = u16::from_le_bytes([p[0], p[1]]);
        *o = (v & 0xFF) + (v >> 8);
    }
}

/// Chroma of two rows halved both ways, one sample per whole 2×2 block; how many were written.
#[inline(always)]
fn halved_row(
    upper: [&[u8]; 3],
    lower: [&[u8]; 3],
    pairs: &mut [Vec<u16>; 6],
    cb: &mut [u8],
    cr: &mut [u8],
) -> usize {
    let n = (upper[0].len() / 2).min(cb.len()).min(cr.len());
    for (c, sums) in pairs.iter_mut().enumerate() {
        let row = if c < 3 { upper[c] } else { lower[c - 3] };
        pair_sums(row, &mut sums[..n]);
    }
    let [ru, gu, bu, rl, gl, bl] = pairs;
    let (ru, gu, bu, rl, gl, bl) = (&ru[..n], &gu[..n], &bu[..n], &rl[..n], &gl[..n], &bl[..n]);
    for j in 0..n {
        // A sum of four samples (at most 1,020) times 64 is 256 × their mean.
        let mean = |a: u16, b: u16| (a + b) << 6;
        (cb[j], cr[j]) = chroma(mean(ru[j], rl[j]), mean(gu[j], gl[j]), mean(bu[j], bl[j]));
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planar::Window;

    /// libjpeg's `rgb_ycc_convert` for one pixel.
    fn libjpeg(r: u8, g: u8, b: u8) -> (i32, i32, i32) {
        let (r, g, b) = (i32::from(r), i32::from(g), i32::from(b));
        let y = (19_595 * r + 38_470 * g + 7_471 * b + 32_768) >> 16;
        let cb = (-11_059 * r - 21_709 * g + 32_768 * b + (128 << 16) + 32_767) >> 16;
        let cr = (32_768 * r - 27_439 * g - 5_329 * b + (128 << 16) + 32_767) >> 16;
        (y, cb, cr)
    }

    fn noise(n: usize, seed: u32) -> Vec<u8> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (s >> 16) as u8
            })
            .collect()
    }

    /// Counts of samples compared and of those off by one; fails on any further off.
    #[derive(Default)]
    struct Tally {
        samples: usize,
        off_by_one: usize,
    }

    impl Tally {
        fn check(&mut self, ours: u8, theirs: i32, what: &str) {
            let off = (i32::from(ours) - theirs).abs();
            assert!(off <= 1, "{what}: {ours} against libjpeg's {theirs}");
            self.samples += 1;
            self.off_by_one += usize::from(off == 1);
        }

        /// Off by one at most once in `n` samples.
        fn rarely_off(&self, n: usize) -> bool {
            self.off_by_one * n <= self.samples
        }
    }

    #[test]
    fn every_colour_is_libjpegs_within_a_level_and_nearly_always_exactly() {
        let (mut y, mut c) = (Tally::default(), Tally::default());
        for r in (0..=255u8).step_by(3) {
            for g in (0..=255u8).step_by(5) {
                for b in 0..=255u8 {
                    let (ly, cb, cr) = libjpeg(r, g, b);
                    let (s_r, s_g, s_b) = (scaled(r), scaled(g), scaled(b));
                    y.check(luma(s_r, s_g, s_b), ly, &format!("luma of {r},{g},{b}"));
                    let (mcb, mcr) = chroma(s_r, s_g, s_b);
                    c.check(mcb, cb, &format!("Cb of {r},{g},{b}"));
                    c.check(mcr, cr, &format!("Cr of {r},{g},{b}"));
                }
            }
        }
        assert!(
            y.rarely_off(100),
            "luma off by one {} of {}",
            y.off_by_one,
            y.samples
        );
        assert!(
            c.rarely_off(100),
            "chroma off by one {} of {}",
            c.off_by_one,
            c.samples
        );
        // The extremes, where the rounding saturates.
        assert_eq!(chroma(0, 0, scaled(255)).0, 255);
        assert_eq!(chroma(scaled(255), 0, 0).1, 255);
        assert_eq!(luma(scaled(255), scaled(255), scaled(255)), 255);
    }

    /// Planes of `w` × `h` random pixels inside a larger frame at (3, 2).
    fn planes(w: usize, h: usize) -> RgbPlanes {
        let window = Window {
            x: 3,
            y: 2,
            width: w,
            height: h,
        };
        let mut p = RgbPlanes::new(w + 7, h + 5, window).expect("planes");
        for (c, plane) in p.planes.iter_mut().enumerate() {
            *plane = noise(plane.len(), 7 + c as u32);
        }
        p
    }

    /// Pixel (x, y) of the image, padded as libjpeg pads (last column and row repeated).
    fn pixel(p: &RgbPlanes, x: usize, y: usize) -> (u8, u8, u8) {
        let x = x.min(p.window.width - 1);
        let px = |c: usize| p.image_row(c, y)[x];
        (px(0), px(1), px(2))
    }

    #[test]
    fn halved_stripe_is_libjpegs_conversion_and_downsampling() {
        // Odd sizes: a last chroma column of one pixel, rows below the image.
        for (w, h) in [(37usize, 11usize), (64, 16), (1, 1), (18, 9)] {
            let p = planes(w, h);
            let lw = w.div_ceil(16) * 16;
            let cw = w.div_ceil(2).div_ceil(8) * 8;
            let mut s = Stripe::new(lw, cw, true);
            s.fill(&p, 0);
            let mut t = Tally::default();
            for y in 0..16 {
                for x in 0..lw {
                    let (r, g, b) = pixel(&p, x, y);
                    let what = format!("{w}x{h} luma at {x},{y}");
                    t.check(s.luma[y * lw + x], libjpeg(r, g, b).0, &what);
                }
            }
            for y in 0..8 {
                for x in 0..cw {
                    let (mut cb, mut cr) = (0, 0);
                    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                        let (r, g, b) = pixel(&p, 2 * x + dx, 2 * y + dy);
                        let (_, b1, r1) = libjpeg(r, g, b);
                        cb += b1;
                        cr += r1;
                    }
                    // h2v2_downsample: a bias of 1 and 2 in turn.
                    let bias = 1 + (x as i32 & 1);
                    let (cb, cr) = ((cb + bias) >> 2, (cr + bias) >> 2);
                    let at = y * cw + x;
                    t.check(s.cb[at], cb, &format!("{w}x{h} Cb at {x},{y}"));
                    t.check(s.cr[at], cr, &format!("{w}x{h} Cr at {x},{y}"));
                }
            }
        }
    }

    #[test]
    fn whole_chroma_stripe_follows_the_rows_from_top() {
        let p = planes(21, 30);
        let mut s = Stripe::new(24, 24, false);
        s.fill(&p, 24);
        let mut t = Tally::default();
        for y in 0..8 {
            for x in 0..24 {
                let (r, g, b) = pixel(&p, x, 24 + y);
                let (ly, cb, cr) = libjpeg(r, g, b);
                let at = y * 24 + x;
                t.check(s.luma[at], ly, &format!("luma at {x},{y}"));
                t.check(s.cb[at], cb, &format!("Cb at {x},{y}"));
                t.check(s.cr[at], cr, &format!("Cr at {x},{y}"));
            }
        }
    }
}
