//! Checking that a rendered sample really is an image: decode it with Tessera's own readers, and
//! keep its fingerprint for comparisons with a baseline or another server.

use super::fingerprint::Fingerprint;
use super::report::Outcome;
use super::sample::size_matches;
use std::sync::Arc;
use tessera_iiif::{Dimensions, Rect};
use tessera_image::Raster;

/// Decode a rendered sample, record its size and fingerprint in `outcome`, and fail the outcome
/// when it does not decode or is not `want` (width, height) in size.
pub fn verify_output(outcome: &mut Outcome, bytes: Vec<u8>, want: (u32, u32)) {
    match decode_output(bytes) {
        Ok(raster) => {
            let (w, h) = (raster.width, raster.height);
            outcome.output_width = Some(w);
            outcome.output_height = Some(h);
            outcome.fingerprint = Fingerprint::of(&raster);
            if !size_matches((w, h), want) {
                outcome.fail(
                    "wrong output size",
                    format!("output is {w}x{h}, expected {}x{}", want.0, want.1),
                );
            }
        }
        Err(e) => outcome.fail("undecodable output", e),
    }
}

/// Decode `bytes` completely, or say why they are not an image.
pub fn decode_output(bytes: Vec<u8>) -> Result<Raster, String> {
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
    Ok(raster)
}
