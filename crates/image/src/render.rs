//! The whole pixel pipeline of one request: read, resize, colour, mirror, rotate, quality, encode.

use tessera_iiif::{OutputFormat, Plan, Quality};

use crate::cancel::check;
use crate::colour::{stage, IccMode};
pub use crate::encode::EncodeOptions;
use crate::transform::{orient, quality, resize};
use crate::{ImageError, ImageReader, Raster};

/// What a render is given besides the plan: the encoders' quality knobs and what becomes of an
/// embedded ICC profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RenderOptions {
    /// JPEG and WebP quality.
    pub encode: EncodeOptions,
    /// Embedded profiles: converted to sRGB (default) or kept and embedded in the output.
    pub icc: IccMode,
}

/// Produce the encoded response body for `plan` from `reader`: read the region, resize it to
/// exactly `plan.size`, apply the colour stage ([`stage::apply`]), mirror, rotate clockwise, apply
/// the quality, encode as `plan.format`. A plain JPEG request that stored JPEG tiles answer
/// directly ([`ImageReader::stored_jpeg`]: as stored, joined, or through planes) is answered
/// from them, unless its profile would have to be converted.
pub fn render(
    reader: &mut dyn ImageReader,
    plan: &Plan,
    options: &RenderOptions,
) -> Result<Vec<u8>, ImageError> {
    let profile = reader.icc_profile();
    // A profile is kept only where the output can carry it: not in GIF or AVIF (no slot here), and
    // not through `gray` or `bitonal`, which would drop it. There the pixels go to sRGB instead, so
    // the colours still show right.
    let carries = matches!(
        plan.format,
        OutputFormat::Jpg | OutputFormat::Png | OutputFormat::Webp | OutputFormat::Tif
    ) && matches!(plan.quality, Quality::Default | Quality::Color);
    let icc = match options.icc {
        IccMode::Keep if !carries => IccMode::ToSrgb,
        mode => mode,
    };
    let plain = plan.rotation == 0.0
        && !plan.mirror
        && matches!(plan.quality, Quality::Default | Quality::Color)
        && plan.format == OutputFormat::Jpg;
    // Stored bytes cannot be converted to sRGB; with `Keep`, the profile is put into them.
    let converts = profile.is_some() && icc == IccMode::ToSrgb;
    if plain && !converts {
        if let Some(stored) =
            reader.stored_jpeg(plan.region, plan.size, options.encode.jpeg_quality)?
        {
            return Ok(match &profile {
                Some(icc) => crate::encode::jpeg_with_profile(stored, icc),
                None => stored,
            });
        }
    }
    // Each stage starts only while someone still wants the answer (see `crate::cancel`).
    let mut raster = reader.read(plan.region, plan.size)?;
    check()?;
    // The colour stage runs on whichever of the read region and the output has fewer pixels,
    // since converting costs per pixel, more than the resize itself: measured on the 2-core VM
    // (release build, Display P3 to sRGB through moxcms), 1024x1024 RGB converts in 2.8 ms and
    // its resize to 256x256 takes 1.0 ms, while 256x256 converts in 0.18 ms. Most requests shrink
    // (a tile from the level above it, a thumbnail), so it usually runs after the resize.
    // Resizing the stored values and converting afterwards differs from the other order only by
    // rounding (both orders resize gamma-encoded values), within the colour tests' tolerances
    // against LittleCMS. It comes before rotation, which only adds background, and before the
    // quality, which needs sRGB.
    let pixels = |r: &Raster| u64::from(r.width) * u64::from(r.height);
    let early = pixels(&raster) < u64::from(plan.size.width) * u64::from(plan.size.height);
    let mut embed = None;
    if early {
        embed = stage::apply(&mut raster, profile.as_ref(), icc);
        check()?;
    }
    raster = resize::resize(raster, plan.size.width, plan.size.height)?;
    check()?;
    if !early {
        embed = stage::apply(&mut raster, profile.as_ref(), icc);
        check()?;
    }
    if plan.mirror {
        raster = orient::mirror(raster);
    }
    raster = orient::rotate(raster, plan.rotation)?;
    check()?;
    // Gray and bitonal renditions of an RGB image are gray pixels: its RGB profile no longer
    // describes them, and the encoders drop it (see `crate::encode::encode`).
    raster = match plan.quality {
        Quality::Default | Quality::Color => raster,
        Quality::Gray => quality::to_gray(raster),
        Quality::Bitonal => quality::to_bitonal(raster),
    };
    check()?;
    crate::encode::encode(&raster, plan.format, &options.encode, embed.as_deref())
}
