//! Resampling a raster to an exact size with a Lanczos3 filter (fast_image_resize).

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::{ImageError, PixelLayout, Raster};

/// `raster` resampled to exactly `width × height`; returned unchanged when the size already matches.
pub fn resize(raster: Raster, width: u32, height: u32) -> Result<Raster, ImageError> {
    if raster.width == width && raster.height == height {
        return Ok(raster);
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
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(|e| fail(&e))?;
    Ok(Raster {
        width,
        height,
        layout,
        data: dst.into_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resizes_to_exact_size() {
        let r = Raster::from_data(4, 2, PixelLayout::Rgb8, vec![200; 24]).unwrap();
        let out = resize(r, 7, 3).unwrap();
        assert_eq!((out.width, out.height, out.data.len()), (7, 3, 63));
        assert!(out.data.iter().all(|&v| v == 200));
    }
}
