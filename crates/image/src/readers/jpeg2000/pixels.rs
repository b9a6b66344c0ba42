//! Decoded JPEG 2000 components to an 8-bit raster: any precision (1–31 bits, signed or not) scaled
//! to 0–255, subsampled components upsampled (nearest sample), sYCC and e-sYCC to RGB, CMYK through
//! the colour helpers (other colour stays as stored: the render's colour stage applies the ICC
//! profile).

use super::ffi::{ColourSpace, Component};
use crate::colour::{self, CmykProfile};
use crate::{ImageError, PixelLayout, Raster};

/// The window wanted, in the coordinates of the decoded resolution level (absolute: including the
/// image origin on that level's grid).
#[derive(Debug, Clone, Copy)]
pub(super) struct Window {
    pub x: u64,
    pub y: u64,
    pub w: u32,
    pub h: u32,
}

fn corrupt(message: &str) -> ImageError {
    ImageError::Corrupt(format!("jpeg2000: {message}"))
}

/// What each component is for.
struct Roles {
    /// Indices of the colour components used (1 gray, 3 colour, 4 CMYK).
    colour: Vec<usize>,
    alpha: Option<usize>,
}

fn roles(comps: &[Component<'_>], space: ColourSpace) -> Result<Roles, ImageError> {
    let n = comps.len();
    let cmyk = space == ColourSpace::Cmyk && n >= 4;
    let alpha = comps.iter().position(|c| c.alpha).or(match (n, cmyk) {
        (2, _) | (4, false) => Some(n - 1),
        (5, true) => Some(4),
        _ => None,
    });
    let others: Vec<usize> = (0..n).filter(|&i| Some(i) != alpha).collect();
    let colour = match others.len() {
        0 => return Err(corrupt("no colour component")),
        k if cmyk && k >= 4 => others[..4].to_vec(),
        1 | 2 => others[..1].to_vec(),
        _ => others[..3].to_vec(),
    };
    Ok(Roles { colour, alpha })
}

/// Components are shown on the reference grid, each sample repeated over the `dx` x `dy` cells it
/// covers. The components of one pixel must agree on that sampling, except the chroma of YCbCr, which
/// may be sampled more coarsely than luma (as in sYCC 4:2:0): an alpha or colour component sampled
/// unlike the others is refused rather than guessed at.
fn check_sampling(
    comps: &[Component<'_>],
    roles: &Roles,
    space: ColourSpace,
) -> Result<(), ImageError> {
    let ycc = roles.colour.len() == 3 && matches!(space, ColourSpace::Sycc | ColourSpace::Eycc);
    let base = &comps[roles.colour[0]];
    for (k, &i) in roles.colour.iter().chain(&roles.alpha).enumerate() {
        let c = &comps[i];
        let chroma = ycc && (k == 1 || k == 2);
        let fits = if chroma {
            c.dx >= base.dx && c.dy >= base.dy
        } else {
            (c.dx, c.dy) == (base.dx, base.dy)
        };
        if !fits {
            return Err(ImageError::Unsupported(format!(
                "jpeg2000: components sampled differently ({}x{} and {}x{})",
                base.dx, base.dy, c.dx, c.dy
            )));
        }
    }
    Ok(())
}

/// Per component: which sample serves each column and row of the window.
struct Sampler<'a> {
    comp: &'a Component<'a>,
    cols: Vec<usize>,
    rows: Vec<usize>,
    /// Added to every sample to make it unsigned, and the largest unsigned value.
    offset: i64,
    max: i64,
}

impl<'a> Sampler<'a> {
    fn new(comp: &'a Component<'a>, window: Window) -> Result<Self, ImageError> {
        if comp.prec == 0 || comp.prec > 31 {
            return Err(ImageError::Unsupported(format!(
                "jpeg2000: {}-bit samples",
                comp.prec
            )));
        }
        let axis = |start: u64, len: u32, origin: u32, size: u32, d: u32, full: bool| {
            // The component's first decoded sample, on the decoded level's grid.
            let first = u64::from(origin).div_ceil(1u64 << comp.factor.min(63));
            let mut out = Vec::with_capacity(len as usize);
            for i in 0..u64::from(len) {
                let at = (start + i) / u64::from(d);
                match at.checked_sub(first) {
                    Some(k) if k < u64::from(size) => out.push(k as usize),
                    // Components at full sampling must cover the window exactly; subsampled ones
                    // may fall one sample short at an edge, which the nearest sample fills.
                    _ if full => return Err(corrupt("decoded area smaller than asked")),
                    Some(_) => out.push(size as usize - 1),
                    None => out.push(0),
                }
            }
            Ok(out)
        };
        let cols = axis(window.x, window.w, comp.x0, comp.w, comp.dx, comp.dx == 1)?;
        let rows = axis(window.y, window.h, comp.y0, comp.h, comp.dy, comp.dy == 1)?;
        Ok(Self {
            comp,
            cols,
            rows,
            offset: if comp.signed {
                1i64 << (comp.prec - 1)
            } else {
                0
            },
            max: (1i64 << comp.prec) - 1,
        })
    }

    /// The unsigned sample at window position (`x`, `y`), clamped to its range.
    fn at(&self, x: usize, y: usize) -> i64 {
        let i = self.rows[y] * self.comp.w as usize + self.cols[x];
        (i64::from(self.comp.data[i]) + self.offset).clamp(0, self.max)
    }

    /// An unsigned native value scaled to a byte.
    fn byte(&self, v: i64) -> u8 {
        to_byte(v, self.max)
    }
}

fn to_byte(v: i64, max: i64) -> u8 {
    if max == 255 {
        v.clamp(0, 255) as u8
    } else {
        ((v.clamp(0, max) * 255 + max / 2) / max) as u8
    }
}

/// The samples of 8-bit unsigned components that each cover the window column for column,
/// interleaved a row at a time (the common case, several times faster than sample by sample);
/// `None` for any other kind.
fn interleave_bytes(samplers: &[&Sampler<'_>], w: usize, h: usize) -> Option<Vec<u8>> {
    let plain = |s: &&Sampler<'_>| {
        s.max == 255
            && s.offset == 0
            && s.cols.len() == w
            && s.rows.len() == h
            && s.cols.windows(2).all(|p| p[1] == p[0] + 1)
    };
    if w == 0 || !samplers.iter().all(plain) {
        return None;
    }
    let n = samplers.len();
    let mut data = vec![0u8; w * h * n];
    for (y, out) in data.chunks_exact_mut(w * n).enumerate() {
        for (c, s) in samplers.iter().enumerate() {
            let start = s.rows[y] * s.comp.w as usize + s.cols[0];
            let row = s.comp.data.get(start..start + w)?;
            for (px, &v) in out.chunks_exact_mut(n).zip(row) {
                px[c] = v.clamp(0, 255) as u8;
            }
        }
    }
    Some(data)
}

/// Build the raster for `window` from the decoded components.
pub(super) fn to_raster(
    comps: &[Component<'_>],
    space: ColourSpace,
    icc: Option<&[u8]>,
    cmyk_profile: CmykProfile,
    window: Window,
) -> Result<Raster, ImageError> {
    if space == ColourSpace::Lab {
        return Err(ImageError::Unsupported("jpeg2000: CIE Lab colour".into()));
    }
    let roles = roles(comps, space)?;
    check_sampling(comps, &roles, space)?;
    let colour = roles
        .colour
        .iter()
        .map(|&i| Sampler::new(&comps[i], window))
        .collect::<Result<Vec<_>, _>>()?;
    let alpha = roles
        .alpha
        .map(|i| Sampler::new(&comps[i], window))
        .transpose()?;
    let (w, h) = (window.w as usize, window.h as usize);
    let cmyk = colour.len() == 4;
    let ycc = colour.len() == 3 && matches!(space, ColourSpace::Sycc | ColourSpace::Eycc);
    // CMYK is gathered as CMYK and converted at the end, alpha kept aside.
    let channels = colour.len() + usize::from(alpha.is_some());
    let all: Vec<&Sampler<'_>> = colour.iter().chain(alpha.as_ref()).collect();
    let fast = if ycc || cmyk {
        None
    } else {
        interleave_bytes(&all, w, h)
    };
    let mut data = Vec::with_capacity(if fast.is_some() { 0 } else { w * h * channels });
    for y in (0..h).filter(|_| fast.is_none()) {
        for x in 0..w {
            if ycc {
                data.extend_from_slice(&ycc_to_rgb(&colour, x, y, space));
            } else {
                data.extend(colour.iter().map(|s| s.byte(s.at(x, y))));
            }
            if let Some(a) = &alpha {
                data.push(a.byte(a.at(x, y)));
            }
        }
    }
    let mut data = fast.unwrap_or(data);
    let layout = match (colour.len(), alpha.is_some()) {
        (1, false) => PixelLayout::Gray8,
        (1, true) => PixelLayout::GrayAlpha8,
        (_, false) => PixelLayout::Rgb8,
        (_, true) => PixelLayout::Rgba8,
    };
    if cmyk {
        data = match alpha {
            None => colour::cmyk_to_srgb(&data, icc, cmyk_profile),
            Some(_) => colour::cmyka_to_srgba(&data, icc, cmyk_profile),
        };
    }
    Raster::from_data(window.w, window.h, layout, data).ok_or_else(|| corrupt("raster size"))
}

/// One pixel of Y, Cb, Cr (unsigned native values, chroma centred on half the range) to RGB bytes.
fn ycc_to_rgb(s: &[Sampler<'_>], x: usize, y: usize, space: ColourSpace) -> [u8; 3] {
    let luma = s[0].at(x, y) as f32;
    let half = |i: usize| (s[i].max + 1) as f32 / 2.0;
    let cb = s[1].at(x, y) as f32 - half(1);
    let cr = s[2].at(x, y) as f32 - half(2);
    let (r, g, b) = if space == ColourSpace::Eycc {
        (
            luma - 0.0000368 * cb + 1.40199 * cr,
            1.0003 * luma - 0.344125 * cb - 0.7141128 * cr,
            0.999823 * luma + 1.77204 * cb - 0.000008 * cr,
        )
    } else {
        (
            luma + 1.402 * cr,
            luma - 0.344136 * cb - 0.714136 * cr,
            luma + 1.772 * cb,
        )
    };
    let max = s[0].max;
    let c = |v: f32| to_byte((v.round() as i64).clamp(0, max), max);
    [c(r), c(g), c(b)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comp(data: &[i32], w: u32, h: u32, prec: u32, signed: bool) -> Component<'_> {
        Component {
            dx: 1,
            dy: 1,
            w,
            h,
            x0: 0,
            y0: 0,
            factor: 0,
            prec,
            signed,
            alpha: false,
            data,
        }
    }

    fn whole(w: u32, h: u32) -> Window {
        Window { x: 0, y: 0, w, h }
    }

    #[test]
    fn rows_interleaved_at_once_match_sample_by_sample() {
        // Three 8-bit planes of 5x4 (values out of range included), a 3x2 window inside them,
        // and a fourth plane as alpha.
        let planes: Vec<Vec<i32>> = (0..4)
            .map(|c| (0..20).map(|i| i * 13 + c * 50 - 20).collect())
            .collect();
        let mut comps: Vec<Component<'_>> =
            planes.iter().map(|p| comp(p, 5, 4, 8, false)).collect();
        comps[3].alpha = true;
        let window = Window {
            x: 1,
            y: 1,
            w: 3,
            h: 2,
        };
        let samplers: Vec<Sampler<'_>> = comps
            .iter()
            .map(|c| Sampler::new(c, window).unwrap())
            .collect();
        let all: Vec<&Sampler<'_>> = samplers.iter().collect();
        let fast = interleave_bytes(&all, 3, 2).expect("plain 8-bit planes take the fast path");
        let slow: Vec<u8> = (0..2)
            .flat_map(|y| (0..3).map(move |x| (x, y)))
            .flat_map(|(x, y)| samplers.iter().map(move |s| s.byte(s.at(x, y))))
            .collect();
        assert_eq!(fast, slow);
        let raster = to_raster(
            &comps,
            ColourSpace::Plain,
            None,
            CmykProfile::BUILT_IN,
            window,
        )
        .unwrap();
        assert_eq!((raster.layout, raster.data), (PixelLayout::Rgba8, fast));
        // Any other kind of sample is left to the general path.
        let wide = comp(&planes[0], 5, 4, 12, false);
        let wide = Sampler::new(&wide, window).unwrap();
        assert!(interleave_bytes(&[&wide], 3, 2).is_none());
    }

    #[test]
    fn precisions_scale_to_full_bytes() {
        let d16 = [0, 32768, 65535];
        let r = to_raster(
            &[comp(&d16, 3, 1, 16, false)],
            ColourSpace::Plain,
            None,
            CmykProfile::BUILT_IN,
            whole(3, 1),
        )
        .unwrap();
        assert_eq!(
            (r.layout, r.data.as_slice()),
            (PixelLayout::Gray8, &[0, 128, 255][..])
        );
        let d12 = [0, 2048, 4095];
        let r = to_raster(
            &[comp(&d12, 3, 1, 12, false)],
            ColourSpace::Plain,
            None,
            CmykProfile::BUILT_IN,
            whole(3, 1),
        )
        .unwrap();
        assert_eq!(r.data, [0, 128, 255]);
        let signed = [-128, 0, 127];
        let r = to_raster(
            &[comp(&signed, 3, 1, 8, true)],
            ColourSpace::Plain,
            None,
            CmykProfile::BUILT_IN,
            whole(3, 1),
        )
        .unwrap();
        assert_eq!(r.data, [0, 128, 255]);
    }

    #[test]
    fn subsampled_chroma_is_upsampled_and_converted() {
        // 4x2 luma, 2x1 chroma (4:2:0); neutral chroma gives grey equal to luma.
        let y = [10, 20, 30, 40, 50, 60, 70, 80];
        let c = [128, 128];
        let mut cb = comp(&c, 2, 1, 8, false);
        cb.dx = 2;
        cb.dy = 2;
        let mut cr = comp(&c, 2, 1, 8, false);
        cr.dx = 2;
        cr.dy = 2;
        let r = to_raster(
            &[comp(&y, 4, 2, 8, false), cb, cr],
            ColourSpace::Sycc,
            None,
            CmykProfile::BUILT_IN,
            whole(4, 2),
        )
        .unwrap();
        assert_eq!(r.layout, PixelLayout::Rgb8);
        let greys: Vec<u8> = r.data.chunks(3).map(|p| p[0]).collect();
        assert_eq!(greys, [10, 20, 30, 40, 50, 60, 70, 80]);
        assert!(r.data.chunks(3).all(|p| p[0] == p[1] && p[1] == p[2]));
        // Pure red in sYCC: Y 76, Cb 85, Cr 255.
        let (y1, b1, r1) = ([76], [85], [255]);
        let r = to_raster(
            &[
                comp(&y1, 1, 1, 8, false),
                comp(&b1, 1, 1, 8, false),
                comp(&r1, 1, 1, 8, false),
            ],
            ColourSpace::Sycc,
            None,
            CmykProfile::BUILT_IN,
            whole(1, 1),
        )
        .unwrap();
        assert!(
            r.data[0] > 250 && r.data[1] < 5 && r.data[2] < 5,
            "{:?}",
            r.data
        );
    }

    #[test]
    fn a_window_outside_the_decoded_area_is_refused() {
        let d = [1, 2, 3, 4];
        let window = Window {
            x: 1,
            y: 0,
            w: 4,
            h: 1,
        };
        let result = to_raster(
            &[comp(&d, 4, 1, 8, false)],
            ColourSpace::Plain,
            None,
            CmykProfile::BUILT_IN,
            window,
        );
        assert!(matches!(result, Err(ImageError::Corrupt(_))));
    }

    #[test]
    fn alpha_sampled_unlike_colour_is_refused() {
        let g = [100];
        let a = [255, 0, 255, 0];
        let mut gray = comp(&g, 1, 1, 8, false);
        gray.dx = 2;
        gray.dy = 2;
        let result = to_raster(
            &[gray, comp(&a, 2, 2, 8, false)],
            ColourSpace::Plain,
            None,
            CmykProfile::BUILT_IN,
            whole(2, 2),
        );
        assert!(matches!(result, Err(ImageError::Unsupported(_))));
    }

    #[test]
    fn two_and_four_components_carry_alpha() {
        let g = [100, 200];
        let a = [255, 0];
        let r = to_raster(
            &[comp(&g, 2, 1, 8, false), comp(&a, 2, 1, 8, false)],
            ColourSpace::Plain,
            None,
            CmykProfile::BUILT_IN,
            whole(2, 1),
        )
        .unwrap();
        assert_eq!(
            (r.layout, r.data),
            (PixelLayout::GrayAlpha8, vec![100, 255, 200, 0])
        );
    }
}
