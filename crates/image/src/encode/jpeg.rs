//! JPEG output (jpeg-encoder): alpha is composited over white; gray rasters stay one channel.

use jpeg_encoder::{ColorType, Encoder};

use crate::transform::quality::flatten_alpha;
use crate::{ImageError, PixelLayout, Raster};

/// Encode `raster` as a baseline JPEG at `quality` (1–100).
pub(crate) fn encode(raster: &Raster, quality: u8) -> Result<Vec<u8>, ImageError> {
    let fail = |message: String| ImageError::Encode {
        format: "jpg",
        message,
    };
    let (Ok(width), Ok(height)) = (u16::try_from(raster.width), u16::try_from(raster.height))
    else {
        return Err(fail(format!(
            "{}x{} exceeds the JPEG limit of 65535",
            raster.width, raster.height
        )));
    };
    let flat = flatten_alpha(raster.clone(), 255);
    let color = if flat.layout == PixelLayout::Gray8 {
        ColorType::Luma
    } else {
        ColorType::Rgb
    };
    let mut out = Vec::new();
    Encoder::new(&mut out, quality.clamp(1, 100))
        .encode(&flat.data, width, height, color)
        .map_err(|e| fail(e.to_string()))?;
    Ok(out)
}
