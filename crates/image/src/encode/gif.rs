//! GIF output (gif crate): an exact palette when the image has at most 256 colours (always true
//! for gray and bitonal output), NeuQuant quantization otherwise; alpha below 128 becomes the
//! transparent index.

use std::collections::HashMap;

use gif::{Encoder, Frame};

use crate::transform::quality::to_rgba;
use crate::{ImageError, Raster};

/// NeuQuant speed (1 best – 30 fastest).
const QUANTIZE_SPEED: i32 = 10;

/// Encode `raster` as a single-frame GIF.
pub(crate) fn encode(raster: &Raster) -> Result<Vec<u8>, ImageError> {
    let fail = |message: String| ImageError::Encode {
        format: "gif",
        message,
    };
    let (Ok(width), Ok(height)) = (u16::try_from(raster.width), u16::try_from(raster.height))
    else {
        return Err(fail(format!(
            "{}x{} exceeds the GIF limit of 65535",
            raster.width, raster.height
        )));
    };
    let mut rgba = to_rgba(raster);
    let frame = match exact_palette(&rgba) {
        Some((indices, palette, transparent)) => {
            Frame::from_palette_pixels(width, height, indices, palette, transparent)
        }
        None => {
            for p in rgba.chunks_exact_mut(4) {
                p[3] = if p[3] < 128 { 0 } else { 255 };
            }
            Frame::from_rgba_speed(width, height, &mut rgba, QUANTIZE_SPEED)
        }
    };
    let mut out = Vec::new();
    {
        let mut encoder =
            Encoder::new(&mut out, width, height, &[]).map_err(|e| fail(e.to_string()))?;
        encoder
            .write_frame(&frame)
            .map_err(|e| fail(e.to_string()))?;
    }
    Ok(out)
}

/// Index every pixel into a palette of its distinct colours, if there are at most 256
/// (including one transparent entry when some pixel has alpha below 128).
fn exact_palette(rgba: &[u8]) -> Option<(Vec<u8>, Vec<u8>, Option<u8>)> {
    let mut lookup: HashMap<[u8; 3], u8> = HashMap::new();
    let mut palette = Vec::new();
    let mut transparent: Option<u8> = None;
    let mut indices = Vec::with_capacity(rgba.len() / 4);
    let mut next: usize = 0;
    for p in rgba.chunks_exact(4) {
        let index = if p[3] < 128 {
            match transparent {
                Some(i) => i,
                None => {
                    let i = u8::try_from(next).ok()?;
                    next += 1;
                    palette.extend_from_slice(&[0, 0, 0]);
                    transparent = Some(i);
                    i
                }
            }
        } else {
            let key = [p[0], p[1], p[2]];
            match lookup.get(&key) {
                Some(&i) => i,
                None => {
                    let i = u8::try_from(next).ok()?;
                    next += 1;
                    palette.extend_from_slice(&key);
                    lookup.insert(key, i);
                    i
                }
            }
        };
        indices.push(index);
    }
    Some((indices, palette, transparent))
}
