//! A rendition's fingerprint: its decoded sample averaged down to a small RGB grid, stored in the
//! report so that a later run (or another server) can measure how far its rendition has moved.
//!
//! A 32x32 grid of box averages keeps what an upgrade visibly changes (colours, orientation, crop,
//! a different fallback image) and drops what it should not flag (encoder noise, one-pixel
//! resampling shifts). The difference of two fingerprints is the mean absolute difference per
//! channel, on the 0–255 scale of the pixels.

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use tessera_image::{PixelLayout, Raster};

/// Cells per side of the grid.
pub const SIDE: u32 = 32;

/// The downscaled copy of one rendition, as recorded in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Cells per side (the grid is `side` x `side`, whatever the rendition's aspect ratio).
    pub side: u32,
    /// The cells' RGB bytes, row by row, as lowercase hex (`side * side * 3` bytes).
    pub rgb: String,
}

/// Mean absolute difference per channel (red, green, blue) between two fingerprints, 0–255.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Difference {
    /// Per channel: red, green, blue.
    pub channels: [f64; 3],
}

impl Difference {
    /// The largest of the three channel means: what a tolerance is compared with.
    pub fn largest(&self) -> f64 {
        self.channels.iter().copied().fold(0.0, f64::max)
    }
}

impl Fingerprint {
    /// The fingerprint of a decoded rendition: each cell the mean of the pixels it covers (gray
    /// repeated into R, G and B; alpha ignored). Every cell covers at least one pixel.
    pub fn of(raster: &Raster) -> Option<Self> {
        let (w, h) = (raster.width, raster.height);
        if w == 0 || h == 0 {
            return None;
        }
        let channels = raster.layout.channels();
        let stride = raster.stride();
        let mut bytes = Vec::with_capacity((SIDE * SIDE * 3) as usize);
        for cy in 0..SIDE {
            let (y0, y1) = span(cy, h);
            for cx in 0..SIDE {
                let (x0, x1) = span(cx, w);
                let mut sum = [0u64; 3];
                for y in y0..y1 {
                    let row = raster
                        .data
                        .get(y as usize * stride..(y as usize + 1) * stride)?;
                    for x in x0..x1 {
                        let px = row.get(x as usize * channels..(x as usize + 1) * channels)?;
                        let rgb = match (raster.layout, px) {
                            (PixelLayout::Gray8 | PixelLayout::GrayAlpha8, [g, ..]) => [*g; 3],
                            (_, [r, g, b, ..]) => [*r, *g, *b],
                            _ => return None,
                        };
                        for (s, v) in sum.iter_mut().zip(rgb) {
                            *s += u64::from(v);
                        }
                    }
                }
                let n = u64::from(x1 - x0) * u64::from(y1 - y0);
                for s in sum {
                    bytes.push(u8::try_from((s + n / 2) / n.max(1)).unwrap_or(u8::MAX));
                }
            }
        }
        let mut rgb = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            let _ = write!(rgb, "{b:02x}");
        }
        Some(Self { side: SIDE, rgb })
    }

    /// The cells' bytes, or `None` when the hex is malformed or does not match `side`.
    fn cells(&self) -> Option<Vec<u8>> {
        let want = (self.side as usize)
            .checked_mul(self.side as usize)?
            .checked_mul(3)?;
        if self.rgb.len() != want * 2 || !self.rgb.is_ascii() {
            return None;
        }
        (0..want)
            .map(|i| u8::from_str_radix(self.rgb.get(2 * i..2 * i + 2)?, 16).ok())
            .collect()
    }

    /// How far `other` is from this fingerprint, or `None` when they cannot be compared (a
    /// different grid, or a malformed one read from a report).
    pub fn difference(&self, other: &Fingerprint) -> Option<Difference> {
        if self.side != other.side {
            return None;
        }
        let (a, b) = (self.cells()?, other.cells()?);
        let mut sum = [0u64; 3];
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            if let Some(s) = sum.get_mut(i % 3) {
                *s += u64::from(x.abs_diff(*y));
            }
        }
        let cells = (a.len() / 3).max(1) as f64;
        Some(Difference {
            channels: sum.map(|s| s as f64 / cells),
        })
    }
}

/// The pixel range `[start, end)` of cell `cell` along a side of `len` pixels (never empty).
fn span(cell: u32, len: u32) -> (u32, u32) {
    let at = |c: u32| u32::try_from(u64::from(c) * u64::from(len) / u64::from(SIDE)).unwrap_or(len);
    let start = at(cell).min(len - 1);
    (start, at(cell + 1).max(start + 1).min(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raster(w: u32, h: u32, layout: PixelLayout, f: impl Fn(u32, u32) -> Vec<u8>) -> Raster {
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                data.extend(f(x, y));
            }
        }
        Raster::from_data(w, h, layout, data).unwrap_or_else(|| Raster {
            width: 0,
            height: 0,
            layout,
            data: Vec::new(),
            extent: None,
        })
    }

    #[test]
    fn averages_each_cell() {
        // Left half red, right half blue, 64x64: each cell covers 2x2 pixels of one colour.
        let r = raster(64, 64, PixelLayout::Rgb8, |x, _| {
            if x < 32 {
                vec![200, 0, 0]
            } else {
                vec![0, 0, 100]
            }
        });
        let f = Fingerprint::of(&r).unwrap_or_else(|| panic!("no fingerprint"));
        let cells = f.cells().unwrap_or_default();
        assert_eq!(cells.len(), 32 * 32 * 3);
        assert_eq!(&cells[0..3], &[200, 0, 0]);
        assert_eq!(&cells[31 * 3..32 * 3], &[0, 0, 100]);
    }

    #[test]
    fn tiny_and_gray_renditions_fill_every_cell() {
        let r = raster(1000, 1, PixelLayout::Gray8, |x, _| vec![(x % 256) as u8]);
        let f = Fingerprint::of(&r).unwrap_or_else(|| panic!("no fingerprint"));
        let cells = f.cells().unwrap_or_default();
        assert_eq!(cells.len(), 32 * 32 * 3);
        assert!(cells.chunks(3).all(|c| c[0] == c[1] && c[1] == c[2]));
        assert!(
            Fingerprint::of(&raster(1, 1, PixelLayout::Rgba8, |_, _| vec![1, 2, 3, 0])).is_some()
        );
    }

    #[test]
    fn measures_mean_difference_per_channel() {
        let a = raster(32, 32, PixelLayout::Rgb8, |_, _| vec![100, 100, 100]);
        // Half of the cells are 20 brighter in red only.
        let b = raster(32, 32, PixelLayout::Rgb8, |_, y| {
            vec![if y < 16 { 120 } else { 100 }, 100, 100]
        });
        let (fa, fb) = (Fingerprint::of(&a), Fingerprint::of(&b));
        let d = fa
            .zip(fb)
            .and_then(|(a, b)| a.difference(&b))
            .unwrap_or_else(|| panic!("not comparable"));
        assert_eq!(d.channels, [10.0, 0.0, 0.0]);
        assert_eq!(d.largest(), 10.0);
    }

    #[test]
    fn malformed_fingerprints_are_not_comparable() {
        let good = Fingerprint::of(&raster(8, 8, PixelLayout::Rgb8, |_, _| vec![1, 2, 3]));
        let good = good.unwrap_or_else(|| panic!("no fingerprint"));
        let short = Fingerprint {
            side: SIDE,
            rgb: "00ff".into(),
        };
        let bad_hex = Fingerprint {
            side: SIDE,
            rgb: "zz".repeat(32 * 32 * 3),
        };
        assert!(good.difference(&short).is_none());
        assert!(good.difference(&bad_hex).is_none());
        assert!(good.difference(&good).is_some_and(|d| d.largest() == 0.0));
    }
}
