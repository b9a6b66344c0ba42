//! Colour management: embedded ICC profiles to sRGB (or kept and embedded in the output, the
//! render's [`stage`]), CMYK through a profile, CIE L*a*b* to sRGB. Transforms come from moxcms
//! (pure Rust) and are cached by a hash of the profile bytes.

mod cache;
mod cmyk;
mod lab;
pub mod stage;

pub use cmyk::{cmyk_to_srgb, cmyka_to_srgba, CmykProfile};
pub use lab::lab_to_srgb;

use crate::{PixelLayout, Raster};
use moxcms::{ColorProfile, DataColorSpace, Layout};

/// What to do with the embedded ICC profile of an RGB or gray image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IccMode {
    /// Convert the pixels to sRGB and send them untagged (what browsers assume for untagged
    /// output).
    #[default]
    ToSrgb,
    /// Leave the pixel values as stored and embed the profile in the output (JPEG, PNG, WebP and
    /// TIFF; GIF has no place for one), so colour-managed viewers show them right.
    Keep,
}

/// Convert a raster from the colour space of `icc` to sRGB, in place: RGB(A) through an RGB
/// profile, gray (with or without alpha) through a gray profile onto sRGB's tone curve. A profile
/// of another colour space, or one moxcms cannot parse, leaves the pixels alone.
pub fn icc_to_srgb(raster: &mut Raster, icc: &[u8]) {
    let layout = match raster.layout {
        PixelLayout::Rgb8 => Layout::Rgb,
        PixelLayout::Rgba8 => Layout::Rgba,
        PixelLayout::Gray8 | PixelLayout::GrayAlpha8 => return gray_to_srgb(raster, icc),
    };
    let Some(transform) = cache::transform(icc, DataColorSpace::Rgb, layout, layout) else {
        return;
    };
    let mut out = vec![0u8; raster.data.len()];
    if transform.transform(&raster.data, &mut out).is_ok() {
        raster.data = out;
    }
}

/// Gray samples through a gray profile: the 256 possible values are converted once to sRGB
/// (where gray stays neutral) and the green channel, the one closest to luminance, becomes the
/// new gray value. Alpha is left as it is.
fn gray_to_srgb(raster: &mut Raster, icc: &[u8]) {
    let Some(transform) = cache::transform(icc, DataColorSpace::Gray, Layout::Gray, Layout::Rgb)
    else {
        return;
    };
    let values: Vec<u8> = (0..=255).collect();
    let mut rgb = vec![0u8; 256 * 3];
    if transform.transform(&values, &mut rgb).is_err() {
        return;
    }
    let lut: Vec<u8> = rgb.chunks_exact(3).map(|p| p[1]).collect();
    let step = raster.layout.channels();
    for v in raster.data.iter_mut().step_by(step) {
        *v = lut[usize::from(*v)];
    }
}

/// Whether `icc` declares (in its header) the colour space of pixels that are gray (`gray`) or
/// RGB: the only profiles an encoder embeds.
pub(crate) fn describes(icc: &[u8], gray: bool) -> bool {
    let space = icc.get(16..20);
    if gray {
        space == Some(b"GRAY")
    } else {
        space == Some(b"RGB ")
    }
}

/// Whether `icc` parses as a profile of colour space `space`.
pub fn profile_is(icc: &[u8], space: DataColorSpace) -> bool {
    ColorProfile::new_from_slice(icc).is_ok_and(|p| p.color_space == space)
}
