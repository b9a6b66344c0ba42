//! Server-imposed limits on output sizes.

use crate::Dimensions;

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
            max_area: None,
            max_scale: 4.0,
        }
    }
}

impl Limits {
    /// The effective height limit: `maxHeight`, or `maxWidth` when only that is set.
    pub fn effective_max_height(&self) -> Option<u32> {
        self.max_height.or(self.max_width)
    }

    /// Whether `size` is within `maxWidth`, `maxHeight` and `maxArea`.
    pub fn allows(&self, size: Dimensions) -> bool {
        self.max_width.is_none_or(|m| size.width <= m)
            && self.effective_max_height().is_none_or(|m| size.height <= m)
            && self.max_area.is_none_or(|m| size.area() <= m)
    }

    /// The largest scale factor `s` such that `size × s` is within the limits (infinite when unlimited).
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

    /// The `maxWidth`, `maxHeight` and `maxArea` that `info.json` shows for an image of `image` size.
    ///
    /// A server that upscales must advertise `maxWidth` or `maxArea` (Image API 3.0, 5.7). Configured limits
    /// are shown as they are; without any, the largest upscaled full image (`max_scale` times each side) is.
    pub fn advertised(&self, image: Dimensions) -> (Option<u32>, Option<u32>, Option<u64>) {
        if self.max_width.is_some() || self.max_area.is_some() {
            return (self.max_width, self.max_height, self.max_area);
        }
        let up = |v: u32| {
            (f64::from(v) * self.max_scale)
                .floor()
                .min(f64::from(u32::MAX)) as u32
        };
        (Some(up(image.width)), Some(up(image.height)), None)
    }

    /// Whether any of `maxWidth`, `maxHeight`, `maxArea` is set.
    pub fn is_bounded(&self) -> bool {
        self.max_width.is_some() || self.max_height.is_some() || self.max_area.is_some()
    }
}
