//! Resampling a raster to an exact size with a Lanczos3 filter (fast_image_resize).

use fast_image_resize::images::{CroppedImageMut, Image};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::{ImageError, PixelLayout, Raster};

/// Output pixels made between two cancellation checks (one band; tiles and thumbnails are one).
const BAND_PIXELS: u32 = 4 << 20;

/// Output rows per band for a `width × height` output.
fn band_rows(width: u32, height: u32) -> u32 {
    (BAND_PIXELS / width.max(1)).clamp(16, height.max(16))
}

/// The source rows (top, height) that output rows `[y0, y0 + n)` of `height` map to, never past the
/// source's `src_h` rows (the last band ends exactly there, whatever the rounding).
fn band_source(y0: u32, n: u32, height: u32, scale: f64, src_h: f64) -> (f64, f64) {
    let top = f64::from(y0) * scale;
    let bottom = if y0 + n >= height {
        src_h
    } else {
        (f64::from(y0 + n) * scale).min(src_h)
    };
    let mut rows = bottom - top;
    // `top + rows` may round above `src_h`: step down until it does not.
    while rows > 0.0 && top + rows > src_h {
        rows = f64::from_bits(rows.to_bits() - 1);
    }
    (top, rows)
}

/// `raster` resampled to exactly `width × height`; returned unchanged when the size already matches.
pub fn resize(raster: Raster, width: u32, height: u32) -> Result<Raster, ImageError> {
    // The part of the raster that covers the region: all of it unless shrunk with a partial block.
    let (cover_w, cover_h) = raster
        .extent
        .map_or((f64::from(raster.width), f64::from(raster.height)), |e| {
            e.size()
        });
    let whole = cover_w == f64::from(raster.width) && cover_h == f64::from(raster.height);
    if raster.width == width && raster.height == height && whole {
        return Ok(Raster {
            extent: None,
            ..raster
        });
    }
    if width == 0 || height == 0 {
        return Err(ImageError::Corrupt(format!(
            "cannot resize to {width}x{height}"
        )));
    }
    let pixel_type = match raster.layout {
        PixelLayout::Gray8 => PixelType::U8,
        PixelLayout::GrayAlpha8 => PixelType::U8x2,
        PixelLayout::Rgb8 => PixelType::U8x3,
        PixelLayout::Rgba8 => PixelType::U8x4,
    };
    let layout = raster.layout;
    let fail = |e: &dyn std::fmt::Display| ImageError::Corrupt(format!("resize: {e}"));
    let src = Image::from_vec_u8(raster.width, raster.height, raster.data, pixel_type)
        .map_err(|e| fail(&e))?;
    // Allocate through Raster so the size is checked before the resizer allocates.
    let out = Raster::new(width, height, layout)?;
    let mut dst = Image::from_vec_u8(width, height, out.data, pixel_type).map_err(|e| fail(&e))?;
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .crop(0.0, 0.0, cover_w, cover_h);
    let mut resizer = Resizer::new();
    let rows = band_rows(width, height);
    if rows >= height {
        resizer
            .resize(&src, &mut dst, &options)
            .map_err(|e| fail(&e))?;
    } else {
        // A large output is made in bands of rows, each from the source rows it maps to (the
        // filter still reads the rows around them), so a cancelled render stops between bands.
        // The coefficients are those of the whole resize, up to rounding of the band's offset.
        let scale = cover_h / f64::from(height);
        let src_w = cover_w;
        for y0 in (0..height).step_by(rows as usize) {
            crate::cancel::check()?;
            let n = rows.min(height - y0);
            let (top, band_height) = band_source(y0, n, height, scale, cover_h);
            let band_options = options.crop(0.0, top, src_w, band_height);
            let mut band = CroppedImageMut::new(&mut dst, 0, y0, width, n).map_err(|e| fail(&e))?;
            resizer
                .resize(&src, &mut band, &band_options)
                .map_err(|e| fail(&e))?;
        }
    }
    Ok(Raster {
        width,
        height,
        layout,
        data: dst.into_vec(),
        extent: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_extent_is_mapped_to_the_output() {
        // 10 columns shrunk by 3 are 4 stored pixels covering 3⅓: the right half of the output
        // comes from the bright pixels, not from the partial one beyond 3⅓.
        let mut r = Raster::from_data(4, 1, PixelLayout::Gray8, vec![0, 0, 255, 0]).unwrap();
        r.extent = Some(crate::Extent {
            width: 10,
            height: 1,
            shrink: 3,
        });
        let out = resize(r.clone(), 4, 1).unwrap();
        assert_eq!(out.extent, None);
        assert_ne!(
            out.data, r.data,
            "a raster with a partial block is resampled, not kept"
        );
        let whole = resize(Raster { extent: None, ..r }, 4, 1).unwrap();
        assert_eq!(whole.data, vec![0, 0, 255, 0]);
    }

    #[test]
    fn resizes_to_exact_size() {
        let r = Raster::from_data(4, 2, PixelLayout::Rgb8, vec![200; 24]).unwrap();
        let out = resize(r, 7, 3).unwrap();
        assert_eq!((out.width, out.height, out.data.len()), (7, 3, 63));
        assert!(out.data.iter().all(|&v| v == 200));
    }

    /// A smooth but varied test pattern.
    fn pattern(w: u32, h: u32) -> Raster {
        let mut data = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                data.extend_from_slice(&[
                    (x * 255 / w) as u8,
                    (y * 255 / h) as u8,
                    ((x * 7 + y * 13) % 256) as u8,
                ]);
            }
        }
        Raster::from_data(w, h, PixelLayout::Rgb8, data).unwrap()
    }

    #[test]
    fn banded_resizes_equal_the_whole_resize() {
        // Up and down, with outputs large enough to be made in several bands.
        for (sw, sh, dw, dh) in [(800, 700, 2600, 2300), (3000, 2900, 2100, 2050)] {
            assert!(band_rows(dw, dh) < dh);
            let src = pattern(sw, sh);
            let banded = resize(src.clone(), dw, dh).unwrap();
            let pixel_type = PixelType::U8x3;
            let from = Image::from_vec_u8(sw, sh, src.data, pixel_type).unwrap();
            let mut whole = Image::new(dw, dh, pixel_type);
            let options =
                ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
            Resizer::new().resize(&from, &mut whole, &options).unwrap();
            let whole = whole.into_vec();
            let off = banded
                .data
                .iter()
                .zip(&whole)
                .filter(|(a, b)| a.abs_diff(**b) > 1)
                .count();
            assert_eq!(off, 0, "{sw}x{sh} -> {dw}x{dh}");
        }
    }

    #[test]
    fn bands_never_reach_past_the_source() {
        // The sizes of the overload test that found it, and a sweep of awkward ratios.
        let mut cases = vec![(7500u32, 3519u32), (7500, 4692), (10_000, 7_000)];
        cases.extend((1..400).map(|k| (1000 + 7 * k, 3000 + 13 * k)));
        for (src_h, height) in cases {
            let scale = f64::from(src_h) / f64::from(height);
            let rows = 100;
            let mut covered = 0.0;
            for y0 in (0..height).step_by(rows as usize) {
                let n = rows.min(height - y0);
                let (top, h) = band_source(y0, n, height, scale, f64::from(src_h));
                assert!(top + h <= f64::from(src_h), "{src_h} -> {height} at {y0}");
                assert!(h > 0.0 && top < f64::from(src_h));
                covered = top + h;
            }
            assert!((covered - f64::from(src_h)).abs() < 1e-6);
        }
    }

    #[test]
    fn a_cancelled_resize_stops() {
        let token = crate::cancel::CancelToken::new();
        token.cancel();
        let result = token.run(|| resize(pattern(100, 100), 3000, 3000));
        assert!(matches!(result, Err(ImageError::Cancelled)));
    }
}
