//! The settings that decide what a render reads and writes, as one typed value, and the short
//! fingerprint of them that every derivative's cache key and ETag carry.

use crate::cache::hash_hex;
use tessera_image::colour::{CmykProfile, IccMode};
use tessera_image::{EncodeOptions, ReadLimits, RenderOptions};

/// How sources are read and renders encoded: everything besides the request that shapes the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RenderSettings {
    /// Decoding limits and how stored pixels are interpreted.
    pub read: ReadLimits,
    /// Encoder settings and what becomes of embedded ICC profiles.
    pub output: RenderOptions,
}

impl RenderSettings {
    /// A short text naming every setting that changes output bytes, for cache keys: a config change
    /// never serves renders made under the old one. Built by destructuring every field (no `..`),
    /// so a setting added to any of these types does not compile until it is placed here.
    pub fn fingerprint(&self) -> String {
        let RenderSettings {
            read:
                ReadLimits {
                    // Decides whether a read may run, never what it gives.
                    max_pixels: _,
                    auto_orient,
                    cmyk_profile,
                },
            output:
                RenderOptions {
                    encode:
                        EncodeOptions {
                            jpeg_quality,
                            webp_quality,
                            avif_quality,
                        },
                    icc,
                },
        } = *self;
        // "keep-tagged": kept profiles are embedded in the output since this name; renders kept
        // untagged under the old name "keep" are never served again.
        let icc = match icc {
            IccMode::ToSrgb => "srgb",
            IccMode::Keep => "keep-tagged",
        };
        format!(
            "q{jpeg_quality}w{webp_quality}a{avif_quality}-{icc}-o{}-{}",
            u8::from(auto_orient),
            cmyk_profile_tag(cmyk_profile),
        )
    }
}

/// A short name of the untagged-CMYK profile: the built-in one, or a hash of the operator's.
fn cmyk_profile_tag(profile: CmykProfile) -> String {
    if profile == CmykProfile::BUILT_IN {
        return "cmyk-builtin".to_string();
    }
    format!("cmyk-{}", &hash_hex(profile.bytes())[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_output_setting_changes_the_fingerprint_and_the_budget_does_not() {
        let base = RenderSettings::default();
        let f = base.fingerprint();
        assert_eq!(f, "q85w80a80-srgb-o1-cmyk-builtin");
        let mut changed = Vec::new();
        let mut s = base;
        s.output.encode.jpeg_quality = s.output.encode.jpeg_quality.wrapping_add(1);
        changed.push(s);
        let mut s = base;
        s.output.encode.webp_quality = s.output.encode.webp_quality.wrapping_add(1);
        changed.push(s);
        let mut s = base;
        s.output.encode.avif_quality = s.output.encode.avif_quality.wrapping_add(1);
        changed.push(s);
        let mut s = base;
        s.output.icc = IccMode::Keep;
        changed.push(s);
        let mut s = base;
        s.read.auto_orient = !s.read.auto_orient;
        changed.push(s);
        for s in changed {
            assert_ne!(s.fingerprint(), f, "{s:?}");
        }
        let mut s = base;
        s.read.max_pixels /= 2;
        assert_eq!(s.fingerprint(), f);
    }
}
