//! CMYK to sRGB: through the file's own CMYK profile, else through the profile assumed for
//! untagged CMYK (built in, or the operator's).

use super::cache;
use moxcms::{ColorProfile, DataColorSpace, Layout};

/// The CMYK profile that describes CMYK images without an embedded one. Two values are equal when
/// both are the built-in one, or they hold the same loaded bytes.
#[derive(Clone, Copy)]
pub struct CmykProfile {
    bytes: &'static [u8],
    built_in: bool,
}

/// The built-in profile is known by its flag, not its address: a constant's bytes may sit at
/// different addresses in different crates, and comparing 227 KB on every request would cost.
impl PartialEq for CmykProfile {
    fn eq(&self, other: &Self) -> bool {
        match (self.built_in, other.built_in) {
            (true, true) => true,
            (false, false) => std::ptr::eq(self.bytes, other.bytes) || self.bytes == other.bytes,
            _ => false,
        }
    }
}

impl Eq for CmykProfile {}

impl CmykProfile {
    /// Tessera's built-in profile: "Chemical proof" by Graeme W. Gill (public domain), the profile
    /// libvips and sharp assume for untagged CMYK, so Tessera renders such files as they do.
    pub const BUILT_IN: Self = Self {
        bytes: include_bytes!("../../profiles/cmyk-chemical-proof.icc"),
        built_in: true,
    };

    /// An operator's profile, checked to be a usable CMYK-to-sRGB profile. The bytes are kept for
    /// the life of the process (a configuration loads one profile).
    pub fn from_icc(icc: Vec<u8>) -> Result<Self, String> {
        let profile =
            ColorProfile::new_from_slice(&icc).map_err(|e| format!("not an ICC profile: {e:?}"))?;
        if profile.color_space != DataColorSpace::Cmyk {
            return Err(format!(
                "a {:?} profile, not a CMYK one",
                profile.color_space
            ));
        }
        if cache::transform(&icc, DataColorSpace::Cmyk, Layout::Rgba, Layout::Rgb).is_none() {
            return Err("no CMYK-to-sRGB transform can be built from it".to_string());
        }
        Ok(Self {
            bytes: Box::leak(icc.into_boxed_slice()),
            built_in: false,
        })
    }

    /// The profile's bytes.
    pub fn bytes(self) -> &'static [u8] {
        self.bytes
    }
}

impl Default for CmykProfile {
    fn default() -> Self {
        Self::BUILT_IN
    }
}

impl std::fmt::Debug for CmykProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if *self == Self::BUILT_IN {
            f.write_str("CmykProfile(built-in)")
        } else {
            write!(f, "CmykProfile({} bytes)", self.bytes.len())
        }
    }
}

/// CMYK bytes (0 = no ink) to sRGB bytes, through `icc` when it is a CMYK profile, otherwise
/// through `untagged` (the profile assumed for files without one). Only if neither gives a
/// transform is the uncalibrated formula `R = (255 - C)(255 - K) / 255` used.
pub fn cmyk_to_srgb(cmyk: &[u8], icc: Option<&[u8]>, untagged: CmykProfile) -> Vec<u8> {
    let mut rgb = vec![0u8; cmyk.len() / 4 * 3];
    let transform = |p: &[u8]| cache::transform(p, DataColorSpace::Cmyk, Layout::Rgba, Layout::Rgb);
    if let Some(t) = icc
        .and_then(transform)
        .or_else(|| transform(untagged.bytes))
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

/// CMYK+alpha bytes (five per pixel) to sRGB+alpha bytes, as [`cmyk_to_srgb`]; alpha is kept.
pub fn cmyka_to_srgba(cmyka: &[u8], icc: Option<&[u8]>, untagged: CmykProfile) -> Vec<u8> {
    let cmyk: Vec<u8> = cmyka
        .chunks_exact(5)
        .flat_map(|p| [p[0], p[1], p[2], p[3]])
        .collect();
    cmyk_to_srgb(&cmyk, icc, untagged)
        .chunks_exact(3)
        .zip(cmyka.chunks_exact(5))
        .flat_map(|(c, p)| [c[0], c[1], c[2], p[4]])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srgb(cmyk: [u8; 4]) -> [u8; 3] {
        let rgb = cmyk_to_srgb(&cmyk, None, CmykProfile::BUILT_IN);
        [rgb[0], rgb[1], rgb[2]]
    }

    #[test]
    fn untagged_cmyk_goes_through_the_built_in_profile() {
        // Paper is white, full black is dark but not the formula's 0, inks have their hue.
        let paper = srgb([0, 0, 0, 0]);
        assert!(paper.iter().all(|&v| v >= 250), "{paper:?}");
        let black = srgb([0, 0, 0, 255]);
        assert!(black.iter().all(|&v| v > 5 && v < 80), "{black:?}");
        let [r, g, b] = srgb([255, 0, 0, 0]);
        assert!(r < 60 && g > 120 && b > 180, "cyan {r} {g} {b}");
        let [r, g, b] = srgb([0, 255, 0, 0]);
        assert!(r > 180 && g < 80 && b > 60, "magenta {r} {g} {b}");
        // A press magenta is not the formula's pure (255, 0, 255).
        assert_ne!([r, g, b], [255, 0, 255]);
    }

    #[test]
    fn alpha_rides_along_with_cmyk() {
        let out = cmyka_to_srgba(
            &[0, 0, 0, 0, 7, 0, 0, 0, 255, 200],
            None,
            CmykProfile::BUILT_IN,
        );
        assert_eq!(out.len(), 8);
        assert_eq!((out[3], out[7]), (7, 200));
        assert_eq!(&out[..3], &srgb([0, 0, 0, 0]));
    }

    #[test]
    fn an_operator_profile_must_be_cmyk() {
        let cmyk = CmykProfile::from_icc(CmykProfile::BUILT_IN.bytes().to_vec());
        assert!(cmyk.is_ok_and(|p| p != CmykProfile::BUILT_IN));
        let srgb = moxcms::ColorProfile::new_srgb()
            .encode()
            .expect("sRGB encodes");
        let err = CmykProfile::from_icc(srgb).expect_err("an RGB profile is refused");
        assert!(err.contains("not a CMYK"), "{err}");
        assert!(CmykProfile::from_icc(b"not a profile".to_vec()).is_err());
    }
}
