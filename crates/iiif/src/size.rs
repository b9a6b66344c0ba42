//! The size segment: how large the cut region is returned.

use crate::number::{format_decimal, parse_decimal, parse_uint};
use crate::{ApiVersion, Dimensions, Limits, RequestError};
use std::fmt;

/// The form of a size request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SizeKind {
    /// `max`: as large as the limits allow without upscaling (with `^`, upscaled to the limits).
    Max,
    /// `full` (2.1 only): the region's own size.
    Full,
    /// `w,`: this width, height keeps the aspect ratio.
    Width(u32),
    /// `,h`: this height, width keeps the aspect ratio.
    Height(u32),
    /// `pct:n`: n percent of the region.
    Percent(f64),
    /// `w,h`: exactly this size, possibly distorted.
    Exact(u32, u32),
    /// `!w,h`: the largest size that fits in `w × h`, keeping the aspect ratio.
    BestFit(u32, u32),
}

/// A size as requested: its form and whether `^` allowed upscaling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Size {
    /// `^` was given (3.0 only).
    pub upscale: bool,
    /// The form.
    pub kind: SizeKind,
}

impl Size {
    /// Parse the size segment as `version` defines it.
    pub fn parse(s: &str, version: ApiVersion) -> Result<Self, RequestError> {
        let bad = |m: &str| RequestError::syntax("size", format!("{m}: {s:?}"));
        let (upscale, body) = match s.strip_prefix('^') {
            Some(rest) if version == ApiVersion::V3 => (true, rest),
            Some(_) => return Err(bad("the ^ prefix is not part of Image API 2.1")),
            None => (false, s),
        };
        let kind = match body {
            "max" => SizeKind::Max,
            "full" if version == ApiVersion::V2 => SizeKind::Full,
            "full" => return Err(bad("Image API 3.0 replaced full with max")),
            _ => {
                if let Some(pct) = body.strip_prefix("pct:") {
                    let n =
                        parse_decimal(pct).ok_or_else(|| bad("expected pct:n with a decimal n"))?;
                    if n <= 0.0 {
                        return Err(RequestError::bounds(format!("size {s:?} is zero")));
                    }
                    SizeKind::Percent(n)
                } else {
                    let (confined, wh) = match body.strip_prefix('!') {
                        Some(rest) => (true, rest),
                        None => (false, body),
                    };
                    let (w, h) = wh
                        .split_once(',')
                        .ok_or_else(|| bad("expected max, w, ,h, pct:n, w,h or !w,h"))?;
                    let num = |v: &str| parse_uint(v).ok_or_else(|| bad("expected whole numbers"));
                    match (w.is_empty(), h.is_empty(), confined) {
                        (false, true, false) => SizeKind::Width(num(w)?),
                        (true, false, false) => SizeKind::Height(num(h)?),
                        (false, false, false) => SizeKind::Exact(num(w)?, num(h)?),
                        (false, false, true) => SizeKind::BestFit(num(w)?, num(h)?),
                        _ => return Err(bad("expected max, w, ,h, pct:n, w,h or !w,h")),
                    }
                }
            }
        };
        let zero = match kind {
            SizeKind::Width(w) => w == 0,
            SizeKind::Height(h) => h == 0,
            SizeKind::Exact(w, h) | SizeKind::BestFit(w, h) => w == 0 || h == 0,
            _ => false,
        };
        if zero {
            return Err(RequestError::bounds(format!("size {s:?} is zero")));
        }
        Ok(Size { upscale, kind })
    }

    /// The output size for a region of `region` pixels of an image of `image` size, under `limits`,
    /// as `version` defines it. `max` and `^max` fill the image's advertised maximum
    /// ([`Limits::advertised_box`] and `maxArea`); every form upscales at most `max_scale` times the
    /// region and never beyond the configured `maxWidth`, `maxHeight`, `maxArea`.
    pub fn resolve(
        &self,
        region: Dimensions,
        image: Dimensions,
        version: ApiVersion,
        limits: &Limits,
    ) -> Result<Dimensions, RequestError> {
        let (rw, rh) = (f64::from(region.width), f64::from(region.height));
        // 2.1 allows upscaling everywhere (sizeAboveFull); 3.0 only with `^`.
        let may_upscale = self.upscale || version == ApiVersion::V2;
        let out = match self.kind {
            SizeKind::Max if self.upscale => scale(region, limits.max_scale_for(region, image)),
            SizeKind::Max => scale(region, limits.max_scale_for(region, image).min(1.0)),
            SizeKind::Full => region,
            SizeKind::Width(w) => Dimensions::new(w, round(f64::from(w) * rh / rw)),
            SizeKind::Height(h) => Dimensions::new(round(f64::from(h) * rw / rh), h),
            SizeKind::Percent(n) => Dimensions::new(round(rw * n / 100.0), round(rh * n / 100.0)),
            SizeKind::Exact(w, h) => Dimensions::new(w, h),
            SizeKind::BestFit(w, h) => {
                // The official validator (size_noup) reads 3.0's "not larger than the extracted region"
                // as: without `^`, a box that would need upscaling is an error, like every other form.
                let fit = best_fit(region, w, h);
                let s = limits.fit_scale(fit);
                if s < 1.0 {
                    scale(fit, s)
                } else {
                    fit
                }
            }
        };
        if out.width == 0 || out.height == 0 {
            return Err(RequestError::bounds(format!(
                "size {self} gives an image under one pixel for a {}x{} region",
                region.width, region.height
            )));
        }
        let upscaled = out.width > region.width || out.height > region.height;
        if upscaled && !may_upscale {
            return Err(RequestError::bounds(format!(
                "size {self} is larger than the {}x{} region; Image API 3.0 needs ^ to upscale",
                region.width, region.height
            )));
        }
        if upscaled && !limits.allows_upscale(out, region) {
            return Err(RequestError::bounds(format!(
                "size {self} upscales the {}x{} region to {}x{}, more than the server's limit of {}x",
                region.width,
                region.height,
                out.width,
                out.height,
                format_decimal(limits.max_scale)
            )));
        }
        if !limits.allows(out) {
            return Err(RequestError::bounds(over_limits(out, limits)));
        }
        Ok(out)
    }
}

/// Why `out` is over the configured limits, naming the limit it breaks.
fn over_limits(out: Dimensions, limits: &Limits) -> String {
    let size = format!("size {}x{}", out.width, out.height);
    if let Some(m) = limits.max_area.filter(|&m| out.area() > m) {
        return format!(
            "{size} is {} pixels, over the server's maxArea of {m}",
            out.area()
        );
    }
    if let Some(m) = limits.max_width.filter(|&m| out.width > m) {
        return format!("{size} is wider than the server's maxWidth of {m}");
    }
    match limits.effective_max_height() {
        Some(m) => format!("{size} is taller than the server's maxHeight of {m}"),
        None => format!("{size} exceeds the server's limits"),
    }
}

/// Round half up to a pixel count, saturating.
fn round(v: f64) -> u32 {
    v.round().clamp(0.0, f64::from(u32::MAX)) as u32
}

/// `size` scaled by `s` on both sides, rounding down so that a scale taken from the limits never
/// overshoots them (at least one pixel a side).
fn scale(size: Dimensions, s: f64) -> Dimensions {
    if s == 1.0 || !s.is_finite() {
        return size;
    }
    let f = |v: u32| {
        (f64::from(v) * s + 1e-9)
            .floor()
            .clamp(1.0, f64::from(u32::MAX)) as u32
    };
    Dimensions::new(f(size.width), f(size.height))
}

/// The largest size with the aspect ratio of `region` that fits in `w × h`: one side equals its bound.
fn best_fit(region: Dimensions, w: u32, h: u32) -> Dimensions {
    let (rw, rh) = (u64::from(region.width), u64::from(region.height));
    if u64::from(w) * rh <= u64::from(h) * rw {
        // Width-bound.
        let hh = round(f64::from(w) * rh as f64 / rw as f64).min(h);
        Dimensions::new(w, hh)
    } else {
        let ww = round(f64::from(h) * rw as f64 / rh as f64).min(w);
        Dimensions::new(ww, h)
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.upscale {
            f.write_str("^")?;
        }
        match self.kind {
            SizeKind::Max => f.write_str("max"),
            SizeKind::Full => f.write_str("full"),
            SizeKind::Width(w) => write!(f, "{w},"),
            SizeKind::Height(h) => write!(f, ",{h}"),
            SizeKind::Percent(n) => write!(f, "pct:{}", format_decimal(n)),
            SizeKind::Exact(w, h) => write!(f, "{w},{h}"),
            SizeKind::BestFit(w, h) => write!(f, "!{w},{h}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGION: Dimensions = Dimensions::new(1000, 500);

    fn v3(s: &str) -> Result<Dimensions, RequestError> {
        Size::parse(s, ApiVersion::V3)?.resolve(REGION, REGION, ApiVersion::V3, &Limits::default())
    }

    fn v2(s: &str) -> Result<Dimensions, RequestError> {
        Size::parse(s, ApiVersion::V2)?.resolve(REGION, REGION, ApiVersion::V2, &Limits::default())
    }

    fn d(w: u32, h: u32) -> Result<Dimensions, RequestError> {
        Ok(Dimensions::new(w, h))
    }

    #[test]
    fn v3_forms_without_upscaling() {
        assert_eq!(v3("max"), d(1000, 500));
        assert_eq!(v3("500,"), d(500, 250));
        assert_eq!(v3(",100"), d(200, 100));
        assert_eq!(v3("pct:50"), d(500, 250));
        assert_eq!(v3("300,300"), d(300, 300));
        assert_eq!(v3("!225,100"), d(200, 100));
        assert_eq!(v3("!100,225"), d(100, 50));
        // Best fit needs ^ to exceed the region, as the official validator requires.
        assert!(v3("!2000,3000").is_err());
        assert_eq!(v3("!2000,500"), d(1000, 500));
        assert_eq!(v3("333,"), d(333, 167));
    }

    #[test]
    fn v3_needs_caret_to_upscale() {
        for s in ["1001,", ",501", "pct:101", "1000,501", "full"] {
            assert!(v3(s).is_err(), "{s}");
        }
        assert_eq!(v3("^2000,"), d(2000, 1000));
        assert_eq!(v3("^,1000"), d(2000, 1000));
        assert_eq!(v3("^pct:200"), d(2000, 1000));
        assert_eq!(v3("^!2000,500"), d(1000, 500));
        assert_eq!(v3("^!4000,1500"), d(3000, 1500));
        assert_eq!(v3("^max"), d(1000, 500));
        // ^ also allows downscaling.
        assert_eq!(v3("^500,"), d(500, 250));
    }

    #[test]
    fn v2_forms_upscale_freely_within_max_scale() {
        assert_eq!(v2("full"), d(1000, 500));
        assert_eq!(v2("max"), d(1000, 500));
        assert_eq!(v2("2000,"), d(2000, 1000));
        assert_eq!(v2("pct:200"), d(2000, 1000));
        assert_eq!(v2("!4000,1500"), d(3000, 1500));
        assert!(v2("5000,").is_err());
        assert!(Size::parse("^max", ApiVersion::V2).is_err());
    }

    #[test]
    fn limits_shrink_max_and_refuse_explicit_sizes() {
        let limits = Limits {
            max_width: Some(400),
            max_area: Some(400 * 150),
            ..Limits::default()
        };
        let r = |s: &str| {
            Size::parse(s, ApiVersion::V3)?.resolve(REGION, REGION, ApiVersion::V3, &limits)
        };
        let max = r("max").unwrap();
        assert!(max.width <= 400 && max.area() <= 400 * 150, "{max:?}");
        assert!(r("500,").is_err());
        assert_eq!(r("!1000,1000"), r("max"));
        assert_eq!(r("200,"), d(200, 100));
        // Upscaling to the limits never overshoots maxArea.
        let up = r("^max").unwrap();
        assert!(
            up.width <= 400 && up.area() <= 400 * 150 && up.width > 300,
            "{up:?}"
        );
    }

    #[test]
    fn sizes_under_a_pixel_are_refused() {
        let thin = Dimensions::new(10000, 10);
        let r = Size::parse("100,", ApiVersion::V3).unwrap().resolve(
            thin,
            thin,
            ApiVersion::V3,
            &Limits::default(),
        );
        assert!(matches!(r, Err(RequestError::OutOfBounds(_))));
        for s in ["0,", ",0", "0,0", "!0,5", "pct:0"] {
            assert!(
                matches!(
                    Size::parse(s, ApiVersion::V3),
                    Err(RequestError::OutOfBounds(_))
                ),
                "{s}"
            );
        }
    }

    #[test]
    fn bad_syntax_is_refused() {
        for s in [
            "", "MAX", ",", "!,", "!10,", "^", "^^max", "pct:", "pct:-1", "10,10,10", "a,",
            "^full", "!^10,10", "10.5,",
        ] {
            assert!(
                matches!(
                    Size::parse(s, ApiVersion::V3),
                    Err(RequestError::Syntax { .. })
                ),
                "{s}"
            );
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "max", "^max", "10,", ",10", "pct:12.5", "^pct:150", "10,20", "!10,20", "^!10,20",
        ] {
            assert_eq!(Size::parse(s, ApiVersion::V3).unwrap().to_string(), s);
        }
    }
}
