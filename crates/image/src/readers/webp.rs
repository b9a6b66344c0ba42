//! WebP reader (image-webp): lossy, lossless, alpha, first frame of animations.

use std::io::BufReader;
use std::sync::Arc;

use image_webp::WebPDecoder;
use tessera_iiif::{Dimensions, Rect};
use tessera_source::{RandomAccess, ReadSeek};

use super::{
    checked_header, embedded_profile, guard, ImageHeader, ImageReader, ReadLimits, MAX_ICC_BYTES,
};
use crate::transform::crop::crop;
use crate::{ImageError, PixelLayout, Raster, SourceFormat};

/// Reads WebP files whole (the format has no region access) and crops.
pub(crate) struct WebpReader {
    header: ImageHeader,
    source: Arc<dyn RandomAccess>,
    /// EXIF orientation (1 when there is none).
    orientation: u8,
    /// The profile of the ICCP chunk.
    icc: Option<Arc<[u8]>>,
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
        if head.get(12..16) == Some(b"VP8X") {
            check_canvas(source.as_ref(), &head, width, height)?;
        }
        let orientation = exif_orientation(source.as_ref(), &head).unwrap_or(1);
        let icc = icc_profile(source.as_ref(), &head);
        Ok(Self {
            header,
            source,
            orientation,
            icc,
        })
    }
}

/// Most chunks walked while looking for the EXIF or ICCP chunk.
const MAX_CHUNKS: usize = 1024;

/// The VP8X flag of an ICCP chunk.
const ICC_FLAG: u8 = 0x20;

/// The orientation in the EXIF chunk of an extended (VP8X) file that flags one.
fn exif_orientation(source: &dyn RandomAccess, head: &[u8]) -> Option<u8> {
    const EXIF_FLAG: u8 = 0x08;
    let body = flagged_chunk(source, head, EXIF_FLAG, b"EXIF", Longer::Cut(1 << 20))?;
    // Some writers keep the JPEG APP1 "Exif\0\0" prefix.
    let tiff = body.strip_prefix(b"Exif\0\0").unwrap_or(&body);
    super::jpeg_meta::exif_orientation(tiff)
}

/// The profile in the ICCP chunk of an extended (VP8X) file that flags one; a profile that
/// cannot be read is ignored, as browsers do.
fn icc_profile(source: &dyn RandomAccess, head: &[u8]) -> Option<Arc<[u8]>> {
    let body = flagged_chunk(
        source,
        head,
        ICC_FLAG,
        b"ICCP",
        Longer::Refused(MAX_ICC_BYTES),
    )?;
    embedded_profile(&body)
}

/// What [`flagged_chunk`] does with a chunk longer than a limit.
#[derive(Clone, Copy)]
enum Longer {
    /// Its first bytes are read.
    Cut(usize),
    /// It is not read.
    Refused(usize),
}

/// The payload of the first chunk `kind` of an extended file whose VP8X chunk sets `flag`, within
/// `limit`. Only the chunk headers are read on the way, and that chunk.
fn flagged_chunk(
    source: &dyn RandomAccess,
    head: &[u8],
    flag: u8,
    kind: &[u8; 4],
    limit: Longer,
) -> Option<Vec<u8>> {
    if head.get(12..16)? != b"VP8X" || head.get(20)? & flag == 0 {
        return None;
    }
    let mut at: u64 = 12;
    for _ in 0..MAX_CHUNKS {
        let chunk = source.read_range(at, 8).ok()?;
        let size = u64::from(u32::from_le_bytes(chunk.get(4..8)?.try_into().ok()?));
        if chunk.get(..4)? == kind {
            let size = match limit {
                Longer::Cut(max) => size.min(max as u64),
                Longer::Refused(max) => Some(size).filter(|&n| n <= max as u64)?,
            };
            return source.read_range(at + 8, usize::try_from(size).ok()?).ok();
        }
        at = at.checked_add(8 + size + (size & 1))?;
        if at >= source.len() {
            return None;
        }
    }
    None
}

/// Refuse an extended (VP8X) still image whose frame is not the size of the canvas it declares
/// (decoders would allocate the canvas, not the frame), an animation whose canvas is far larger
/// than its first frame ([`super::check_canvas`]), and an animation without frames. Only chunk
/// headers are read, and the first bytes of the frame.
fn check_canvas(
    source: &dyn RandomAccess,
    head: &[u8],
    width: u32,
    height: u32,
) -> Result<(), ImageError> {
    const ANIMATION_FLAG: u8 = 0x02;
    let corrupt = |m: String| ImageError::Corrupt(format!("webp: {m}"));
    let animated = head.get(20).is_some_and(|f| f & ANIMATION_FLAG != 0);
    let mut at: u64 = 12;
    for _ in 0..MAX_CHUNKS {
        if at.saturating_add(8) > source.len() {
            break;
        }
        let chunk = source.read_range(at, 8)?;
        let kind = chunk.get(..4).unwrap_or_default();
        let size = chunk
            .get(4..8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_le_bytes);
        match kind {
            b"ANMF" if animated => {
                // X/2, Y/2, width - 1 and height - 1, 24 bits each.
                let frame = source.read_range(at + 8, 12)?;
                let le24 = |i: usize| {
                    frame.get(i..i + 3).map_or(0, |b| {
                        u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16
                    })
                };
                return super::check_canvas("webp", (width, height), (le24(6) + 1, le24(9) + 1));
            }
            b"VP8 " | b"VP8L" if !animated => {
                // The frame header, laid out as in a simple file's first chunk.
                let mut frame = vec![0u8; 12];
                frame.extend(source.read_range(at, 8 + (size as usize).min(10))?);
                let (w, h) =
                    webp_size(&frame).ok_or_else(|| corrupt("unreadable frame header".into()))?;
                if (w, h) != (width, height) {
                    return Err(corrupt(format!(
                        "the canvas is {width}x{height} but its image is {w}x{h}"
                    )));
                }
                return Ok(());
            }
            _ => {}
        }
        at = at.saturating_add(8 + u64::from(size) + u64::from(size & 1));
    }
    Err(corrupt(format!(
        "no {} in the file",
        if animated {
            "animation frame"
        } else {
            "image data"
        }
    )))
}

/// Width and height from the first 30 bytes of a WebP file.
pub(crate) fn webp_size(head: &[u8]) -> Option<(u32, u32)> {
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

    fn orientation(&self) -> u8 {
        self.orientation
    }

    fn icc_profile(&self) -> Option<Arc<[u8]>> {
        self.icc.clone()
    }

    fn read(&mut self, region: Rect, _target: Dimensions) -> Result<Raster, ImageError> {
        let source = Arc::clone(&self.source);
        let header = self.header;
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
