//! GIF reader (gif crate): the first frame composited onto the logical screen, transparency as alpha.

use std::io::BufReader;
use std::num::NonZeroU64;
use std::sync::Arc;

use gif::{ColorOutput, DecodeOptions, MemoryLimit};
use tessera_iiif::{Dimensions, Rect};
use tessera_source::{RandomAccess, ReadSeek};

use super::{checked_header, guard, ImageHeader, ImageReader, ReadLimits};
use crate::transform::crop::crop;
use crate::{ImageError, PixelLayout, Raster, SourceFormat};

/// Most pixels one byte of LZW data can expand to (a 12-bit code yields at most 4096 pixels).
const MAX_PIXELS_PER_BYTE: u64 = 4096 * 8 / 12;

/// Reads the first frame of GIF files as RGBA.
pub(crate) struct GifReader {
    header: ImageHeader,
    source: Arc<dyn RandomAccess>,
    max_pixels: u64,
}

impl GifReader {
    /// Parse the logical screen descriptor.
    pub(crate) fn open(
        source: Arc<dyn RandomAccess>,
        limits: &ReadLimits,
    ) -> Result<Self, ImageError> {
        let head = source.read_range(0, 10)?;
        let (Some(w), Some(h)) = (head.get(6..8), head.get(8..10)) else {
            return Err(ImageError::Corrupt("gif: truncated header".into()));
        };
        let le = |b: &[u8]| u32::from(u16::from_le_bytes([b[0], b[1]]));
        let header = checked_header(le(w), le(h), SourceFormat::Gif, limits)?;
        if let Some(frame) = first_frame_size(source.as_ref()) {
            super::check_canvas("gif", (header.width, header.height), frame)?;
        }
        Ok(Self {
            header,
            source,
            max_pixels: limits.max_pixels,
        })
    }
}

/// Most blocks walked before the first image descriptor.
const MAX_BLOCKS: usize = 4096;

/// The width and height of the first image descriptor, found by walking the blocks before it;
/// `None` when the file ends or breaks first (the decoder then reports why).
fn first_frame_size(source: &dyn RandomAccess) -> Option<(u32, u32)> {
    let flags = *source.read_range(0, 13).ok()?.get(10)?;
    let mut at: u64 = 13;
    if flags & 0x80 != 0 {
        at += 3 << ((flags & 7) + 1);
    }
    for _ in 0..MAX_BLOCKS {
        let block = source.read_range(at, 10).ok()?;
        match *block.first()? {
            0x2C => {
                let le = |i: usize| {
                    Some(u32::from(u16::from_le_bytes([
                        *block.get(i)?,
                        *block.get(i + 1)?,
                    ])))
                };
                return Some((le(5)?, le(7)?));
            }
            0x21 => {
                // Extension: label, then sub-blocks until an empty one.
                at += 2;
                for _ in 0..MAX_BLOCKS {
                    let size = *source.read_range(at, 1).ok()?.first()?;
                    at += 1 + u64::from(size);
                    if size == 0 {
                        break;
                    }
                }
            }
            _ => return None,
        }
    }
    None
}

impl ImageReader for GifReader {
    fn header(&self) -> &ImageHeader {
        &self.header
    }

    fn read(&mut self, region: Rect, _target: Dimensions) -> Result<Raster, ImageError> {
        let source = Arc::clone(&self.source);
        let (header, max_pixels) = (self.header, self.max_pixels);
        guard("gif", || decode(source, &header, region, max_pixels))
    }
}

/// Decode the first frame and cut `region` out of the composited screen.
fn decode(
    source: Arc<dyn RandomAccess>,
    header: &ImageHeader,
    region: Rect,
    max_pixels: u64,
) -> Result<Raster, ImageError> {
    let err = |e: gif::DecodingError| ImageError::Corrupt(format!("gif: {e}"));
    // A GIF cannot hold more pixels than its LZW data can expand to: refuse bombs before allocating.
    let possible = source.len().saturating_mul(MAX_PIXELS_PER_BYTE);
    let limit = NonZeroU64::new(possible.min(max_pixels).max(1)).unwrap_or(NonZeroU64::MIN);
    let mut options = DecodeOptions::new();
    options.set_color_output(ColorOutput::Indexed);
    options.set_memory_limit(MemoryLimit::Bytes(limit));
    let mut decoder = options
        .read_info(BufReader::new(ReadSeek::new(source)))
        .map_err(err)?;
    let global = decoder.global_palette().map(<[u8]>::to_vec);
    let frame = decoder
        .read_next_frame()
        .map_err(err)?
        .ok_or_else(|| ImageError::Corrupt("gif: no frame".into()))?;
    let palette = frame
        .palette
        .as_deref()
        .or(global.as_deref())
        .ok_or_else(|| ImageError::Corrupt("gif: no colour table".into()))?;
    let frame_w = usize::from(frame.width);
    if frame.buffer.len() < frame_w * usize::from(frame.height) {
        return Err(ImageError::Corrupt("gif: short frame".into()));
    }
    let mut canvas = Raster::new(header.width, header.height, PixelLayout::Rgba8)?;
    let stride = canvas.stride();
    for fy in 0..usize::from(frame.height) {
        let y = usize::from(frame.top) + fy;
        if y >= header.height as usize {
            break;
        }
        for fx in 0..frame_w {
            let x = usize::from(frame.left) + fx;
            if x >= header.width as usize {
                break;
            }
            let index = frame.buffer[fy * frame_w + fx];
            if frame.transparent == Some(index) {
                continue;
            }
            let at = y * stride + x * 4;
            let p = usize::from(index) * 3;
            if let (Some(rgb), Some(dst)) = (palette.get(p..p + 3), canvas.data.get_mut(at..at + 4))
            {
                dst.copy_from_slice(&[rgb[0], rgb[1], rgb[2], 255]);
            }
        }
    }
    crop(&canvas, region)
}
