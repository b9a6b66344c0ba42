//! The render's one colour stage: the stored pixels a reader returns, and the profile it reports
//! ([`crate::ImageReader::icc_profile`]), become sRGB pixels (`IccMode::ToSrgb`) or stay as they
//! are with the profile handed on to the encoder (`IccMode::Keep`).

use std::sync::Arc;

use super::{icc_to_srgb, IccMode};
use crate::Raster;

/// Apply `mode` to `raster`, whose pixels `profile` describes. Returns the profile the encoder
/// should embed: `None` after a conversion to sRGB (sRGB output goes untagged) or when there is no
/// profile; the profile itself when it is kept. A profile that cannot be used for a conversion
/// (unparsable, or of another colour space than the pixels) leaves the pixels as they are, as
/// browsers ignore such profiles.
pub fn apply(raster: &mut Raster, profile: Option<&Arc<[u8]>>, mode: IccMode) -> Option<Arc<[u8]>> {
    let profile = profile?;
    match mode {
        IccMode::ToSrgb => {
            icc_to_srgb(raster, profile);
            None
        }
        IccMode::Keep => Some(Arc::clone(profile)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PixelLayout;
    use moxcms::ColorProfile;

    fn p3() -> Arc<[u8]> {
        ColorProfile::new_display_p3()
            .encode()
            .expect("Display P3 encodes")
            .into()
    }

    /// An orange and a mid gray.
    fn red() -> Raster {
        Raster::from_data(2, 1, PixelLayout::Rgb8, vec![200, 100, 50, 128, 128, 128]).expect("2x1")
    }

    #[test]
    fn to_srgb_converts_and_drops_the_profile() {
        let mut raster = red();
        let embed = apply(&mut raster, Some(&p3()), IccMode::ToSrgb);
        assert!(embed.is_none());
        // A P3 orange is a more saturated sRGB orange; a P3 mid gray stays a neutral gray.
        let [r, g, b] = [raster.data[0], raster.data[1], raster.data[2]];
        assert!(r > 200 && g < 100 && b < 50, "{r} {g} {b}");
        assert_eq!(raster.data[3], raster.data[4]);
        assert_eq!(raster.data[4], raster.data[5]);
        // Against moxcms's own P3 to sRGB transform of the same pixels.
        let want = {
            let p3 = ColorProfile::new_display_p3();
            let t = p3
                .create_transform_8bit(
                    moxcms::Layout::Rgb,
                    &ColorProfile::new_srgb(),
                    moxcms::Layout::Rgb,
                    moxcms::TransformOptions::default(),
                )
                .expect("transform");
            let mut out = vec![0u8; 6];
            t.transform(&red().data, &mut out).expect("runs");
            out
        };
        assert_eq!(raster.data, want);
    }

    #[test]
    fn keep_leaves_the_pixels_and_hands_the_profile_on() {
        let mut raster = red();
        let profile = p3();
        let embed = apply(&mut raster, Some(&profile), IccMode::Keep);
        assert_eq!(raster, red());
        assert_eq!(embed.as_deref(), Some(&profile[..]));
    }

    #[test]
    fn no_profile_means_no_change_in_either_mode() {
        for mode in [IccMode::ToSrgb, IccMode::Keep] {
            let mut raster = red();
            assert!(apply(&mut raster, None, mode).is_none());
            assert_eq!(raster, red());
        }
    }
}
