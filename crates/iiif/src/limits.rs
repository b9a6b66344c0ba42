//! Server-imposed limits on output sizes, and the largest size each image advertises (`maxWidth`,
//! `maxHeight`, `maxArea` in `info.json`), which is exactly what `max` and `^max` produce.

use crate::Dimensions;

/// The default `maxArea`: 4096 × 4096 output pixels, enough for every tile and thumbnail a viewer asks
/// for and for `full/,1000`, small enough that one render's output is bounded (about 64 MiB as RGBA).
pub const DEFAULT_MAX_AREA: u64 = 4096 * 4096;

/// The limits an operator sets on what a request may produce.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// `maxWidth`: the widest output allowed.
    pub max_width: Option<u32>,
    /// `maxHeight`: the tallest output allowed (defaults to `max_width` when only that is set).
    pub max_height: Option<u32>,
    /// `maxArea`: the most output pixels allowed.
    pub max_area: Option<u64>,
    /// How many times larger than its region an upscaled output may be, per side.
    pub max_scale: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_width: None,
            max_height: None,
            max_area: Some(DEFAULT_MAX_AREA),
            max_scale: 4.0,
        }
    }
}

impl Limits {
    /// The effective height limit: `maxHeight`, or `maxWidth` when only that is set.
    pub fn effective_max_height(&self) -> Option<u32> {
        self.max_height.or(self.max_width)
    }

    /// Whether `size` is within the configured `maxWidth`, `maxHeight` and `maxArea` (the hard limits
    /// every output obeys, whatever the image).
    pub fn allows(&self, size: Dimensions) -> bool {
        self.max_width.is_none_or(|m| size.width <= m)
            && self.effective_max_height().is_none_or(|m| size.height <= m)
            && self.max_area.is_none_or(|m| size.area() <= m)
    }

    /// The largest scale factor `s` such that `size × s` is within the hard limits (infinite when
    /// unlimited).
    pub fn fit_scale(&self, size: Dimensions) -> f64 {
        let mut s = f64::INFINITY;
        if let Some(m) = self.max_width {
            s = s.min(f64::from(m) / f64::from(size.width));
        }
        if let Some(m) = self.effective_max_height() {
            s = s.min(f64::from(m) / f64::from(size.height));
        }
        if let Some(m) = self.max_area {
            s = s.min((m as f64 / size.area() as f64).sqrt());
        }
        s
    }

    /// The `maxWidth` × `maxHeight` advertised for an image of `image` size: the configured
    /// `max_width` / `max_height` (each at most `max_scale` times the image's side), or the image's own
    /// width and height where none is configured. With `maxArea` this is what `^max` of the full image
    /// fills, so `info.json` and `^max` agree (and, as the official validator requires, `^max` is the
    /// full size when no width or height limit is configured).
    pub fn advertised_box(&self, image: Dimensions) -> Dimensions {
        let up = |v: u32| {
            (f64::from(v) * self.max_scale.max(1.0))
                .floor()
                .clamp(1.0, f64::from(u32::MAX)) as u32
        };
        let side = |limit: Option<u32>, v: u32| limit.map_or(v, |m| m.min(up(v)).max(1));
        Dimensions::new(
            side(self.max_width, image.width),
            side(self.effective_max_height(), image.height),
        )
    }

    /// The `maxWidth`, `maxHeight` and `maxArea` that `info.json` shows for an image of `image` size
    /// (see [`Limits::advertised_box`]). A server that upscales must advertise `maxWidth` or `maxArea`
    /// (Image API 3.0, 5.3); both width and height are always shown.
    pub fn advertised(&self, image: Dimensions) -> (Option<u32>, Option<u32>, Option<u64>) {
        let b = self.advertised_box(image);
        (Some(b.width), Some(b.height), self.max_area)
    }

    /// The largest scale factor `s` such that a region of `region` pixels, scaled by `s`, fits the
    /// advertised maximum of an image of `image` size and the upscaling limit (`max_scale`): what
    /// `^max` applies (and `max`, at most 1). For the full image the box is at most `max_scale` times
    /// its size, so `^max` of the full image is exactly what `info.json` advertises.
    pub fn max_scale_for(&self, region: Dimensions, image: Dimensions) -> f64 {
        let b = self.advertised_box(image);
        let mut s = (f64::from(b.width) / f64::from(region.width.max(1)))
            .min(f64::from(b.height) / f64::from(region.height.max(1)));
        if let Some(m) = self.max_area {
            s = s.min((m as f64 / region.area().max(1) as f64).sqrt());
        }
        s.min(self.max_scale.max(1.0))
    }

    /// Whether an upscaled output of `out` from a region of `region` pixels is within the upscaling
    /// limit: at most `max_scale` times the region per side (with half a pixel of rounding).
    pub fn allows_upscale(&self, out: Dimensions, region: Dimensions) -> bool {
        let s = self.max_scale.max(1.0);
        f64::from(out.width) <= f64::from(region.width) * s + 0.5
            && f64::from(out.height) <= f64::from(region.height) * s + 0.5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_box_is_the_image_unless_a_width_is_configured() {
        let image = Dimensions::new(1000, 600);
        let l = Limits::default();
        assert_eq!(l.advertised_box(image), image);
        assert_eq!(
            l.advertised(image),
            (Some(1000), Some(600), Some(DEFAULT_MAX_AREA))
        );
        let wide = Limits {
            max_width: Some(5000),
            ..l
        };
        // At most max_scale (4) times each side.
        assert_eq!(wide.advertised_box(image), Dimensions::new(4000, 2400));
        let narrow = Limits {
            max_width: Some(500),
            max_height: Some(100),
            ..l
        };
        assert_eq!(narrow.advertised_box(image), Dimensions::new(500, 100));
    }

    #[test]
    fn max_scale_for_fills_the_box_or_the_area() {
        let l = Limits::default();
        let image = Dimensions::new(1000, 600);
        assert_eq!(l.max_scale_for(image, image), 1.0);
        // A quarter of the image fills the box twice over.
        assert_eq!(l.max_scale_for(Dimensions::new(500, 300), image), 2.0);
        // A 75 MP image is bounded by the area.
        let big = Dimensions::new(10000, 7500);
        let s = l.max_scale_for(big, big);
        assert!((s - (DEFAULT_MAX_AREA as f64 / 75e6).sqrt()).abs() < 1e-12);
        let off = Limits {
            max_area: None,
            ..l
        };
        assert_eq!(off.max_scale_for(big, big), 1.0);
    }

    #[test]
    fn upscaling_is_allowed_up_to_max_scale_times_the_region() {
        let l = Limits::default();
        let tiny = Dimensions::new(10, 10);
        assert!(l.allows_upscale(Dimensions::new(40, 40), tiny));
        assert!(!l.allows_upscale(Dimensions::new(41, 40), tiny));
        assert!(!l.allows_upscale(Dimensions::new(1000, 1000), tiny));
    }
}
