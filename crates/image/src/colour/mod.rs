//! Colour management: embedded ICC profiles to sRGB, CMYK through a profile, CIE L*a*b* to sRGB.
//! Transforms come from moxcms (pure Rust) and are cached by a hash of the profile bytes.

mod cache;
mod lab;

pub use lab::lab_to_srgb;

use crate::{PixelLayout, Raster};
use moxcms::{ColorProfile, DataColorSpace, Layout};

/// What to do with an embedded ICC profile of an RGB image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IccMode {
    /// Convert the pixels to sRGB (what browsers assume for untagged output).
    #[default]
    ToSrgb,
    /// Leave the pixel values as stored (the profile is not carried to the output).
    Keep,
}

/// Convert an RGB(A) raster from the colour space of `icc` to sRGB, in place. Gray rasters and
/// profiles that do not describe RGB are left alone, as is a profile moxcms cannot parse.
pub fn icc_to_srgb(raster: &mut Raster, icc: &[u8]) {
    let layout = match raster.layout {
        PixelLayout::Rgb8 => Layout::Rgb,
        PixelLayout::Rgba8 => Layout::Rgba,
        PixelLayout::Gray8 | PixelLayout::GrayAlpha8 => return,
    };
    let Some(transform) = cache::transform(icc, DataColorSpace::Rgb, layout, layout) else {
        return;
    };
    let mut out = vec![0u8; raster.data.len()];
    if transform.transform(&raster.data, &mut out).is_ok() {
        raster.data = out;
    }
}

/// CMYK bytes (0 = no ink) to sRGB bytes, through `icc` when it is a CMYK profile, otherwise by
/// the uncalibrated formula `R = (255 - C)(255 - K) / 255` that most readers use.
pub fn cmyk_to_srgb(cmyk: &[u8], icc: Option<&[u8]>) -> Vec<u8> {
    let mut rgb = vec![0u8; cmyk.len() / 4 * 3];
    if let Some(t) =
        icc.and_then(|p| cache::transform(p, DataColorSpace::Cmyk, Layout::Rgba, Layout::Rgb))
    {
        if t.transform(cmyk, &mut rgb).is_ok() {
            return rgb;
        }
    }
    for (s, d) in cmyk.chunks_exact(4).zip(rgb.chunks_exact_mut(3)) {
        let k = 255 - u16::from(s[3]);
        for i in 0..3 {
            d[i] = (((255 - u16::from(s[i])) * k + 127) / 255) as u8;
        }
    }
    rgb
}

/// Whether `icc` parses as a profile of colour space `space`.
pub fn profile_is(icc: &[u8], space: DataColorSpace) -> bool {
    ColorProfile::new_from_slice(icc).is_ok_and(|p| p.color_space == space)
}
