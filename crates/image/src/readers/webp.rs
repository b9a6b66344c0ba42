//! WebP reader (image-webp): lossy, lossless, alpha, first frame of animations.

use std::io::BufReader;
use std::sync::Arc;

use image_webp::WebPDecoder;
use tessera_iiif::{Dimensions, Rect};
use tessera_source::{RandomAccess, ReadSeek};

use super::{checked_header, guard, ImageHeader, ImageReader, ReadLimits};
use crate::colour::{self, IccMode};
use crate::transform::crop::crop;
use crate::{ImageError, PixelLayout, Raster, SourceFormat};

/// Reads WebP files whole (the format has no region access) and crops.
pub(crate) struct WebpReader {
    header: ImageHeader,
    source: Arc<dyn RandomAccess>,
    icc_mode: IccMode,
}

impl WebpReader {
    /// Parse the size from the first chunk (VP8X canvas, VP8L or VP8 frame header).
    pub(crate) fn open(
        source: Arc<dyn RandomAccess>,
        limits: &ReadLimits,
    ) -> Result<Self, ImageError> {
        let head = source.read_range(0, 30)?;
        let (width, height) = webp_size(&head)
            .ok_or_else(|| ImageError::Corrupt("webp: unreadable header".into()))?;
        let header = checked_header(width, height, SourceFormat::Webp, limits)?;
        Ok(Self {
            header,
            source,
            icc_mode: limits.icc,
        })
    }
}

/// Width and height from the first 30 bytes of a WebP file.
fn webp_size(head: &[u8]) -> Option<(u32, u32)> {
    let byte = |i: usize| head.get(i).copied().map(u32::from);
    let le24 = |i: usize| Some(byte(i)? | byte(i + 1)? << 8 | byte(i + 2)? << 16);
    match head.get(12..16)? {
        b"VP8X" => Some((le24(24)? + 1, le24(27)? + 1)),
        b"VP8L" => {
            if byte(20)? != 0x2F {
                return None;
            }
            let bits = byte(21)? | byte(22)? << 8 | byte(23)? << 16 | byte(24)? << 24;
            Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8 " => {
            if head.get(23..26)? != [0x9D, 0x01, 0x2A] {
                return None;
            }
            Some((
                (byte(26)? | byte(27)? << 8) & 0x3FFF,
                (byte(28)? | byte(29)? << 8) & 0x3FFF,
            ))
        }
        _ => None,
    }
}

impl ImageReader for WebpReader {
    fn header(&self) -> &ImageHeader {
        &self.header
    }

    fn read(&mut self, region: Rect, _target: Dimensions) -> Result<Raster, ImageError> {
        let source = Arc::clone(&self.source);
        let header = self.header;
        let icc_mode = self.icc_mode;
        guard("webp", || {
            let err = |e: image_webp::DecodingError| ImageError::Corrupt(format!("webp: {e}"));
            let mut decoder =
                WebPDecoder::new(BufReader::new(ReadSeek::new(source))).map_err(err)?;
            let (width, height) = decoder.dimensions();
            if (width, height) != (header.width, header.height) {
                return Err(ImageError::Corrupt("webp: size differs from header".into()));
            }
            let layout = if decoder.has_alpha() {
                PixelLayout::Rgba8
            } else {
                PixelLayout::Rgb8
            };
            let mut full = Raster::new(width, height, layout)?;
            decoder.read_image(&mut full.data).map_err(err)?;
            // A profile that cannot be read is ignored, as browsers do.
            if let (IccMode::ToSrgb, Ok(Some(icc))) = (icc_mode, decoder.icc_profile()) {
                colour::icc_to_srgb(&mut full, &icc);
            }
            crop(&full, region)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_short_headers() {
        assert_eq!(webp_size(b"RIFF\0\0\0\0WEBPVP8 "), None);
    }
}
