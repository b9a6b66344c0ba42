//! Checking that a rendered sample really is an image: decode it with Tessera's own readers.

use std::sync::Arc;
use tessera_iiif::{Dimensions, Rect};

/// Decode `bytes` completely and return their size, or why they are not an image.
pub fn decoded_size(bytes: Vec<u8>) -> Result<(u32, u32), String> {
    let mut reader = tessera_image::open(Arc::new(bytes), &tessera_image::ReadLimits::default())
        .map_err(|e| format!("the output does not decode: {e}"))?;
    let h = *reader.header();
    let raster = reader
        .read(
            Rect::full(h.width, h.height),
            Dimensions::new(h.width, h.height),
        )
        .map_err(|e| format!("the output does not decode: {e}"))?;
    if (raster.width, raster.height) != (h.width, h.height) {
        return Err(format!(
            "the output declares {}x{} but decodes to {}x{}",
            h.width, h.height, raster.width, raster.height
        ));
    }
    Ok((h.width, h.height))
}
