//! The whole pixel pipeline of one request: read, resize, mirror, rotate, quality, encode.

use tessera_iiif::{Plan, Quality};

pub use crate::encode::EncodeOptions;
use crate::transform::{orient, quality, resize};
use crate::{ImageError, ImageReader};

/// Produce the encoded response body for `plan` from `reader`: read the region, resize it to
/// exactly `plan.size`, mirror, rotate clockwise, apply the quality, encode as `plan.format`.
pub fn render(
    reader: &mut dyn ImageReader,
    plan: &Plan,
    options: &EncodeOptions,
) -> Result<Vec<u8>, ImageError> {
    let mut raster = reader.read(plan.region, plan.size)?;
    raster = resize::resize(raster, plan.size.width, plan.size.height)?;
    if plan.mirror {
        raster = orient::mirror(raster);
    }
    raster = orient::rotate(raster, plan.rotation)?;
    raster = match plan.quality {
        Quality::Default | Quality::Color => raster,
        Quality::Gray => quality::to_gray(raster),
        Quality::Bitonal => quality::to_bitonal(raster),
    };
    crate::encode::encode(&raster, plan.format, options)
}
