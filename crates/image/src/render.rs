//! The whole pixel pipeline of one request: read, resize, mirror, rotate, quality, encode.

use tessera_iiif::{OutputFormat, Plan, Quality};

use crate::cancel::check;
pub use crate::encode::EncodeOptions;
use crate::transform::{orient, quality, resize};
use crate::{ImageError, ImageReader};

/// Produce the encoded response body for `plan` from `reader`: read the region, resize it to
/// exactly `plan.size`, mirror, rotate clockwise, apply the quality, encode as `plan.format`.
/// A plain JPEG request that is exactly one stored JPEG tile is answered with the stored bytes.
pub fn render(
    reader: &mut dyn ImageReader,
    plan: &Plan,
    options: &EncodeOptions,
) -> Result<Vec<u8>, ImageError> {
    let plain = plan.rotation == 0.0
        && !plan.mirror
        && matches!(plan.quality, Quality::Default | Quality::Color)
        && plan.format == OutputFormat::Jpg;
    if plain {
        if let Some(stored) = reader.stored_jpeg(plan.region, plan.size)? {
            return Ok(stored);
        }
    }
    // Each stage starts only while someone still wants the answer (see `crate::cancel`).
    let mut raster = reader.read(plan.region, plan.size)?;
    check()?;
    raster = resize::resize(raster, plan.size.width, plan.size.height)?;
    check()?;
    if plan.mirror {
        raster = orient::mirror(raster);
    }
    raster = orient::rotate(raster, plan.rotation)?;
    check()?;
    raster = match plan.quality {
        Quality::Default | Quality::Color => raster,
        Quality::Gray => quality::to_gray(raster),
        Quality::Bitonal => quality::to_bitonal(raster),
    };
    check()?;
    crate::encode::encode(&raster, plan.format, options)
}
