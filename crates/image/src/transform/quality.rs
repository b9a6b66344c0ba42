//! Colour treatments: grayscale, bitonal, and flattening alpha onto a background.

use crate::{PixelLayout, Raster};

/// Rec. 601 luma of an RGB pixel, rounded.
pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    let y = (299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b) + 500) / 1000;
    u8::try_from(y).unwrap_or(u8::MAX)
}

/// Grayscale: one luminance channel, alpha kept. Gray rasters are returned unchanged.
pub fn to_gray(raster: Raster) -> Raster {
    let (layout, data) = match raster.layout {
        PixelLayout::Gray8 | PixelLayout::GrayAlpha8 => return raster,
        PixelLayout::Rgb8 => (
            PixelLayout::Gray8,
            raster
                .data
                .chunks_exact(3)
                .map(|p| luma(p[0], p[1], p[2]))
                .collect(),
        ),
        PixelLayout::Rgba8 => (
            PixelLayout::GrayAlpha8,
            raster
                .data
                .chunks_exact(4)
                .flat_map(|p| [luma(p[0], p[1], p[2]), p[3]])
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

/// Bitonal: gray pixels set to 0 below 128 and 255 from 128; alpha kept.
pub fn to_bitonal(raster: Raster) -> Raster {
    let mut gray = to_gray(raster);
    let step = gray.layout.channels();
    for p in gray.data.chunks_exact_mut(step) {
        p[0] = if p[0] >= 128 { 255 } else { 0 };
    }
    gray
}

/// Composite a raster with alpha over a solid `background` level (255 = white); rasters without
/// alpha are returned unchanged.
pub fn flatten_alpha(raster: Raster, background: u8) -> Raster {
    let blend = |v: u8, a: u8| -> u8 {
        let (v, a, bg) = (u32::from(v), u32::from(a), u32::from(background));
        u8::try_from((v * a + bg * (255 - a) + 127) / 255).unwrap_or(u8::MAX)
    };
    let (layout, data) = match raster.layout {
        PixelLayout::Gray8 | PixelLayout::Rgb8 => return raster,
        PixelLayout::GrayAlpha8 => (
            PixelLayout::Gray8,
            raster
                .data
                .chunks_exact(2)
                .map(|p| blend(p[0], p[1]))
                .collect(),
        ),
        PixelLayout::Rgba8 => (
            PixelLayout::Rgb8,
            raster
                .data
                .chunks_exact(4)
                .flat_map(|p| [blend(p[0], p[3]), blend(p[1], p[3]), blend(p[2], p[3])])
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

/// Expand any raster to RGBA (for encoders that want one layout).
pub fn to_rgba(raster: &Raster) -> Vec<u8> {
    match raster.layout {
        PixelLayout::Gray8 => raster.data.iter().flat_map(|&g| [g, g, g, 255]).collect(),
        PixelLayout::GrayAlpha8 => raster
            .data
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        PixelLayout::Rgb8 => raster
            .data
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        PixelLayout::Rgba8 => raster.data.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gray_and_bitonal() {
        let r = Raster::from_data(
            2,
            1,
            PixelLayout::Rgba8,
            vec![255, 0, 0, 9, 10, 200, 250, 7],
        )
        .unwrap();
        let g = to_gray(r.clone());
        assert_eq!(g.layout, PixelLayout::GrayAlpha8);
        assert_eq!(g.data, vec![76, 9, 149, 7]);
        let b = to_bitonal(r);
        assert_eq!(b.data, vec![0, 9, 255, 7]);
    }

    #[test]
    fn flattens_over_white() {
        let r = Raster::from_data(1, 1, PixelLayout::Rgba8, vec![0, 0, 0, 0]).unwrap();
        assert_eq!(flatten_alpha(r, 255).data, vec![255, 255, 255]);
    }
}
