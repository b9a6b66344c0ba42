//! Colour management: embedded ICC profiles to sRGB, CMYK through a profile, CIE L*a*b* to sRGB.
//! Transforms come from moxcms (pure Rust) and are cached by a hash of the profile bytes.

mod cache;
mod cmyk;
mod lab;

pub use cmyk::{cmyk_to_srgb, cmyka_to_srgba, CmykProfile};
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

/// How a reader turns stored colour into sRGB output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ColourOptions {
    /// Embedded ICC profiles of RGB images: converted or kept.
    pub icc: IccMode,
    /// The profile of CMYK images that embed none.
    pub cmyk_profile: CmykProfile,
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

/// Whether `icc` parses as a profile of colour space `space`.
pub fn profile_is(icc: &[u8], space: DataColorSpace) -> bool {
    ColorProfile::new_from_slice(icc).is_ok_and(|p| p.color_space == space)
}
