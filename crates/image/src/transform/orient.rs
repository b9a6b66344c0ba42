//! Mirroring and clockwise rotation.

use crate::{ImageError, PixelLayout, Raster};

/// Flip left to right.
pub fn mirror(mut raster: Raster) -> Raster {
    let channels = raster.layout.channels();
    let stride = raster.stride();
    if stride == 0 {
        return raster;
    }
    for row in raster.data.chunks_exact_mut(stride) {
        let w = row.len() / channels;
        for x in 0..w / 2 {
            let (a, b) = (x * channels, (w - 1 - x) * channels);
            for c in 0..channels {
                row.swap(a + c, b + c);
            }
        }
    }
    raster
}

/// The size of the bounding box of a `width × height` image rotated by `degrees`:
/// `ceil(w·|cos θ| + h·|sin θ|) × ceil(w·|sin θ| + h·|cos θ|)`, ignoring a 1e-6 rounding slack,
/// at least 1×1. Multiples of 90 give the exact swapped or unchanged size.
pub fn rotated_size(width: u32, height: u32, degrees: f64) -> (u32, u32) {
    let theta = degrees.to_radians();
    let (sin, cos) = (theta.sin().abs(), theta.cos().abs());
    let (w, h) = (f64::from(width), f64::from(height));
    let side = |v: f64| -> u32 {
        let r = (v - 1e-6).ceil().max(1.0);
        if r >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            r as u32
        }
    };
    (side(w * cos + h * sin), side(w * sin + h * cos))
}

/// Rotate clockwise by `degrees` (any value; normalised to `[0, 360)`).
///
/// Multiples of 90 are exact pixel shuffles. Other angles give the bounding box of the rotated
/// image (see [`rotated_size`]), sampled bilinearly, with a transparent background: the result
/// always has an alpha channel.
pub fn rotate(raster: Raster, degrees: f64) -> Result<Raster, ImageError> {
    let degrees = degrees.rem_euclid(360.0);
    if degrees == 0.0 {
        return Ok(raster);
    }
    if degrees == 90.0 || degrees == 180.0 || degrees == 270.0 {
        return rotate_right_angle(&raster, degrees as u32);
    }
    rotate_any(&with_alpha(raster), degrees)
}

/// Rotation by 90, 180 or 270 degrees clockwise.
fn rotate_right_angle(src: &Raster, degrees: u32) -> Result<Raster, ImageError> {
    let (w, h) = (src.width as usize, src.height as usize);
    let (ow, oh) = if degrees == 180 {
        (src.width, src.height)
    } else {
        (src.height, src.width)
    };
    let mut out = Raster::new(ow, oh, src.layout)?;
    let c = src.layout.channels();
    let owu = ow as usize;
    for (i, dst) in out.data.chunks_exact_mut(c).enumerate() {
        let (dx, dy) = (i % owu, i / owu);
        let (sx, sy) = match degrees {
            90 => (dy, h - 1 - dx),
            180 => (w - 1 - dx, h - 1 - dy),
            _ => (w - 1 - dy, dx),
        };
        let at = (sy * w + sx) * c;
        if let Some(p) = src.data.get(at..at + c) {
            dst.copy_from_slice(p);
        }
    }
    Ok(out)
}

/// Add an opaque alpha channel when there is none.
fn with_alpha(raster: Raster) -> Raster {
    let (layout, data) = match raster.layout {
        PixelLayout::GrayAlpha8 | PixelLayout::Rgba8 => return raster,
        PixelLayout::Gray8 => (
            PixelLayout::GrayAlpha8,
            raster.data.iter().flat_map(|&g| [g, 255]).collect(),
        ),
        PixelLayout::Rgb8 => (
            PixelLayout::Rgba8,
            raster
                .data
                .chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect(),
        ),
    };
    Raster {
        width: raster.width,
        height: raster.height,
        layout,
        data,
        extent: raster.extent,
    }
}

/// Arbitrary-angle rotation of a raster with alpha, by inverse mapping and bilinear sampling of
/// premultiplied values; pixels outside the source are transparent.
fn rotate_any(src: &Raster, degrees: f64) -> Result<Raster, ImageError> {
    let (ow, oh) = rotated_size(src.width, src.height, degrees);
    let mut out = Raster::new(ow, oh, src.layout)?;
    let c = src.layout.channels();
    let alpha = c - 1;
    let theta = degrees.to_radians();
    let (sin, cos) = theta.sin_cos();
    let (scx, scy) = (f64::from(src.width) / 2.0, f64::from(src.height) / 2.0);
    let (dcx, dcy) = (f64::from(ow) / 2.0, f64::from(oh) / 2.0);
    let (w, h) = (i64::from(src.width), i64::from(src.height));
    // Premultiplied pixel at integer coordinates, transparent outside.
    let fetch = |x: i64, y: i64, acc: &mut [f64; 4], weight: f64| {
        if weight == 0.0 || x < 0 || y < 0 || x >= w || y >= h {
            return;
        }
        let at = (y as usize * src.width as usize + x as usize) * c;
        if let Some(p) = src.data.get(at..at + c) {
            let a = f64::from(p[alpha]) / 255.0;
            for k in 0..alpha {
                acc[k] += weight * f64::from(p[k]) * a;
            }
            acc[3] += weight * a;
        }
    };
    let owu = ow as usize;
    for (i, dst) in out.data.chunks_exact_mut(c).enumerate() {
        let dx = (i % owu) as f64 + 0.5 - dcx;
        let dy = (i / owu) as f64 + 0.5 - dcy;
        // Inverse of the clockwise rotation (y axis points down).
        let sx = dx * cos + dy * sin + scx - 0.5;
        let sy = -dx * sin + dy * cos + scy - 0.5;
        let (x0, y0) = (sx.floor(), sy.floor());
        let (fx, fy) = (sx - x0, sy - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        let mut acc = [0.0f64; 4];
        fetch(x0, y0, &mut acc, (1.0 - fx) * (1.0 - fy));
        fetch(x0 + 1, y0, &mut acc, fx * (1.0 - fy));
        fetch(x0, y0 + 1, &mut acc, (1.0 - fx) * fy);
        fetch(x0 + 1, y0 + 1, &mut acc, fx * fy);
        let a = acc[3];
        if a <= 0.0 {
            continue;
        }
        for k in 0..alpha {
            dst[k] = (acc[k] / a).round().clamp(0.0, 255.0) as u8;
        }
        dst[alpha] = (a * 255.0).round().clamp(0.0, 255.0) as u8;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Raster {
        // 3x2: 0 1 2 / 3 4 5
        Raster::from_data(3, 2, PixelLayout::Gray8, (0..6).collect()).unwrap()
    }

    #[test]
    fn mirrors() {
        assert_eq!(mirror(grid()).data, vec![2, 1, 0, 5, 4, 3]);
    }

    #[test]
    fn rotates_right_angles() {
        let r = rotate(grid(), 90.0).unwrap();
        assert_eq!((r.width, r.height), (2, 3));
        assert_eq!(r.data, vec![3, 0, 4, 1, 5, 2]);
        assert_eq!(rotate(grid(), 180.0).unwrap().data, vec![5, 4, 3, 2, 1, 0]);
        let r = rotate(grid(), 270.0).unwrap();
        assert_eq!(r.data, vec![2, 5, 1, 4, 0, 3]);
        assert_eq!(rotate(grid(), 0.0).unwrap(), grid());
    }

    #[test]
    fn rotated_sizes() {
        assert_eq!(rotated_size(100, 50, 90.0), (50, 100));
        assert_eq!(rotated_size(100, 50, 180.0), (100, 50));
        assert_eq!(rotated_size(100, 100, 45.0), (142, 142));
        assert_eq!(rotated_size(1, 1, 30.0), (2, 2));
    }

    #[test]
    fn arbitrary_rotation_has_transparent_corners() {
        let r = Raster::from_data(10, 10, PixelLayout::Rgb8, vec![100; 300]).unwrap();
        let out = rotate(r, 45.0).unwrap();
        assert_eq!(out.layout, PixelLayout::Rgba8);
        assert_eq!((out.width, out.height), (15, 15));
        assert_eq!(out.data[3], 0);
        let centre = (7 * 15 + 7) * 4;
        assert_eq!(&out.data[centre..centre + 4], &[100, 100, 100, 255]);
    }
}
