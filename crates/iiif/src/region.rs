//! The region segment: which part of the full image to cut.

use crate::number::{format_decimal, parse_decimal, parse_uint};
use crate::{Dimensions, Rect, RequestError};
use std::fmt;

/// A region as requested, before it meets an image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Region {
    /// `full`: the whole image.
    Full,
    /// `square`: the largest centred square.
    Square,
    /// `x,y,w,h` in pixels.
    Pixels(Rect),
    /// `pct:x,y,w,h` in percent of the full image.
    Percent {
        /// Left edge, percent of the width.
        x: f64,
        /// Top edge, percent of the height.
        y: f64,
        /// Width, percent of the width.
        w: f64,
        /// Height, percent of the height.
        h: f64,
    },
}

impl Region {
    /// Parse the region segment.
    pub fn parse(s: &str) -> Result<Self, RequestError> {
        let bad = |m: &str| RequestError::syntax("region", format!("{m}: {s:?}"));
        match s {
            "full" => return Ok(Region::Full),
            "square" => return Ok(Region::Square),
            _ => {}
        }
        if let Some(rest) = s.strip_prefix("pct:") {
            let v = four(rest, parse_decimal)
                .ok_or_else(|| bad("expected pct:x,y,w,h with decimal numbers"))?;
            if v[2] <= 0.0 || v[3] <= 0.0 {
                return Err(RequestError::bounds(format!(
                    "region {s:?} has zero width or height"
                )));
            }
            return Ok(Region::Percent {
                x: v[0],
                y: v[1],
                w: v[2],
                h: v[3],
            });
        }
        let v = four(s, parse_uint)
            .ok_or_else(|| bad("expected full, square, x,y,w,h or pct:x,y,w,h"))?;
        if v[2] == 0 || v[3] == 0 {
            return Err(RequestError::bounds(format!(
                "region {s:?} has zero width or height"
            )));
        }
        Ok(Region::Pixels(Rect::new(v[0], v[1], v[2], v[3])))
    }

    /// The pixels this region covers in an image of `image` size, clipped to the image.
    /// A region that lies wholly outside the image, or clips to nothing, is an error.
    pub fn resolve(&self, image: Dimensions) -> Result<Rect, RequestError> {
        let (iw, ih) = (image.width, image.height);
        let rect = match *self {
            Region::Full => Rect::full(iw, ih),
            Region::Square => {
                let side = iw.min(ih);
                Rect::new((iw - side) / 2, (ih - side) / 2, side, side)
            }
            Region::Pixels(r) => r,
            Region::Percent { x, y, w, h } => {
                let px = |p: f64, full: u32| {
                    (p * f64::from(full) / 100.0)
                        .round()
                        .min(f64::from(u32::MAX)) as u32
                };
                Rect::new(px(x, iw), px(y, ih), px(w, iw), px(h, ih))
            }
        };
        if rect.x >= iw || rect.y >= ih {
            return Err(RequestError::bounds(format!(
                "region {self} lies outside the image ({iw}x{ih})"
            )));
        }
        let w = rect.w.min(iw - rect.x);
        let h = rect.h.min(ih - rect.y);
        if w == 0 || h == 0 {
            return Err(RequestError::bounds(format!(
                "region {self} is empty for this image"
            )));
        }
        Ok(Rect::new(rect.x, rect.y, w, h))
    }
}

/// Split `s` on commas into exactly four values parsed by `parse`.
fn four<T: Copy + Default>(s: &str, parse: impl Fn(&str) -> Option<T>) -> Option<[T; 4]> {
    let mut out = [T::default(); 4];
    let mut parts = s.split(',');
    for slot in &mut out {
        *slot = parse(parts.next()?)?;
    }
    parts.next().is_none().then_some(out)
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Region::Full => f.write_str("full"),
            Region::Square => f.write_str("square"),
            Region::Pixels(r) => write!(f, "{},{},{},{}", r.x, r.y, r.w, r.h),
            Region::Percent { x, y, w, h } => write!(
                f,
                "pct:{},{},{},{}",
                format_decimal(*x),
                format_decimal(*y),
                format_decimal(*w),
                format_decimal(*h)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMG: Dimensions = Dimensions::new(1000, 600);

    fn resolve(s: &str) -> Result<Rect, RequestError> {
        Region::parse(s)?.resolve(IMG)
    }

    #[test]
    fn keywords_and_pixels() {
        assert_eq!(resolve("full"), Ok(Rect::new(0, 0, 1000, 600)));
        assert_eq!(resolve("square"), Ok(Rect::new(200, 0, 600, 600)));
        assert_eq!(resolve("10,20,30,40"), Ok(Rect::new(10, 20, 30, 40)));
    }

    #[test]
    fn regions_are_clipped_at_the_edge() {
        assert_eq!(
            resolve("900,500,500,500"),
            Ok(Rect::new(900, 500, 100, 100))
        );
        assert_eq!(
            resolve("pct:50,50,100,100"),
            Ok(Rect::new(500, 300, 500, 300))
        );
    }

    #[test]
    fn percent_regions_scale_each_axis() {
        assert_eq!(resolve("pct:10,10,50,50"), Ok(Rect::new(100, 60, 500, 300)));
        assert_eq!(resolve("pct:0.1,0,99.9,100"), Ok(Rect::new(1, 0, 999, 600)));
    }

    #[test]
    fn empty_or_outside_regions_are_refused() {
        for s in [
            "0,0,0,10",
            "0,0,10,0",
            "1000,0,10,10",
            "0,600,10,10",
            "pct:0,0,0,10",
            "pct:100,0,10,10",
        ] {
            assert!(
                matches!(resolve(s), Err(RequestError::OutOfBounds(_))),
                "{s}"
            );
        }
        // Rounds to nothing.
        assert!(resolve("pct:0,0,0.01,10").is_err());
    }

    #[test]
    fn bad_syntax_is_refused() {
        for s in [
            "",
            "Full",
            "1,2,3",
            "1,2,3,4,5",
            "-1,0,10,10",
            "pct:1,2,3",
            "pct:a,b,c,d",
            "1.5,0,10,10",
            "pct:-1,0,1,1",
            " full",
        ] {
            assert!(
                matches!(Region::parse(s), Err(RequestError::Syntax { .. })),
                "{s}"
            );
        }
    }
}
