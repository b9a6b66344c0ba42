//! PNG reader (png crate): every bit depth and colour type, interlaced or not, first frame of APNG.

use std::io::BufReader;
use std::sync::Arc;

use png::{BitDepth, ColorType, Transformations};
use tessera_iiif::{Dimensions, Rect};
use tessera_source::{RandomAccess, ReadSeek};

use super::{
    checked_header, embedded_profile, guard, ImageHeader, ImageReader, ReadLimits, MAX_ICC_BYTES,
};
use crate::transform::crop::crop;
use crate::{ImageError, PixelLayout, Raster, SourceFormat};

/// Reads PNG files; non-interlaced images are decoded row by row, only down to the region's bottom
/// once the whole image data has passed its checks (CRC of every chunk, Adler-32 of the zlib
/// stream) in a first read.
pub(crate) struct PngReader {
    header: ImageHeader,
    source: Arc<dyn RandomAccess>,
    /// The profile of the iCCP chunk, decompressed.
    icc: Option<Arc<[u8]>>,
    /// Whether a read has decoded the image data to its end with every checksum right; until then
    /// each read does (a corrupt file is refused whatever the region).
    verified: bool,
    /// The orientation in an eXIf chunk before the image data (1 when there is none).
    orientation: u8,
}

impl PngReader {
    /// Parse the IHDR chunk, which the PNG signature must be followed by.
    pub(crate) fn open(
        source: Arc<dyn RandomAccess>,
        limits: &ReadLimits,
    ) -> Result<Self, ImageError> {
        let head = source.read_range(0, 24)?;
        let (Some(kind), Some(w), Some(h)) = (head.get(12..16), head.get(16..20), head.get(20..24))
        else {
            return Err(ImageError::Corrupt("png: truncated header".into()));
        };
        if kind != b"IHDR" {
            return Err(ImageError::Corrupt("png: first chunk is not IHDR".into()));
        }
        let be = |b: &[u8]| b.try_into().map(u32::from_be_bytes).unwrap_or(0);
        let header = checked_header(be(w), be(h), SourceFormat::Png, limits)?;
        let meta = metadata(source.as_ref());
        Ok(Self {
            header,
            source,
            icc: meta.icc,
            verified: false,
            orientation: meta.orientation,
        })
    }
}

/// Most chunks walked while looking for eXIf and iCCP.
const MAX_CHUNKS: usize = 1024;

/// What the chunks before the image data say.
struct Metadata {
    /// The orientation of the eXIf chunk (1 when there is none).
    orientation: u8,
    /// The profile of the iCCP chunk.
    icc: Option<Arc<[u8]>>,
}

/// The eXIf orientation and the iCCP profile, which must both come before the image data
/// (IDAT). Only chunk headers are read on the way, and those two chunks. An unreadable chunk is
/// ignored, as browsers do (the pixels are checked when they are read).
fn metadata(source: &dyn RandomAccess) -> Metadata {
    let mut meta = Metadata {
        orientation: 1,
        icc: None,
    };
    let mut at: u64 = 8;
    for _ in 0..MAX_CHUNKS {
        let Some((kind, len)) = source.read_range(at, 8).ok().and_then(|head| {
            let len = u32::from_be_bytes(head.get(..4)?.try_into().ok()?);
            Some((<[u8; 4]>::try_from(head.get(4..8)?).ok()?, u64::from(len)))
        }) else {
            break;
        };
        let body = || {
            let n = usize::try_from(len).ok().filter(|&n| n <= MAX_ICC_BYTES)?;
            source.read_range(at + 8, n).ok()
        };
        match &kind {
            b"eXIf" => {
                if let Some(o) = body().and_then(|b| super::jpeg_meta::exif_orientation(&b)) {
                    meta.orientation = o;
                }
            }
            b"iCCP" => meta.icc = body().and_then(|b| iccp_profile(&b)),
            b"IDAT" | b"IEND" => break,
            _ => {}
        }
        let Some(next) = at.checked_add(12 + len) else {
            break;
        };
        at = next;
    }
    meta
}

/// The profile of an iCCP chunk body: a name of 1–79 bytes, a zero, compression method 0, then
/// the zlib stream (inflated up to [`MAX_ICC_BYTES`]).
fn iccp_profile(body: &[u8]) -> Option<Arc<[u8]>> {
    use std::io::Read;
    let nul = body.iter().take(80).position(|&b| b == 0)?;
    if nul == 0 || *body.get(nul + 1)? != 0 {
        return None;
    }
    let mut icc = Vec::new();
    flate2::read::ZlibDecoder::new(body.get(nul + 2..)?)
        .take(MAX_ICC_BYTES as u64 + 1)
        .read_to_end(&mut icc)
        .ok()?;
    embedded_profile(&icc)
}

impl ImageReader for PngReader {
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
        let verify = !self.verified;
        let raster = guard("png", || decode(source, region, verify))?;
        self.verified = true;
        Ok(raster)
    }
}

/// The stored pixels of `region` at full resolution; with `verify`, the image data is read to
/// its end so that its checksums are checked.
fn decode(source: Arc<dyn RandomAccess>, region: Rect, verify: bool) -> Result<Raster, ImageError> {
    let err = |e: png::DecodingError| match e {
        png::DecodingError::LimitsExceeded => {
            ImageError::TooLarge("png: decoder memory limit".into())
        }
        e => ImageError::Corrupt(format!("png: {e}")),
    };
    let mut decoder = png::Decoder::new(BufReader::new(ReadSeek::new(source)));
    decoder.set_transformations(Transformations::EXPAND);
    decoder.set_ignore_text_chunk(true);
    // The png crate skips the zlib stream's Adler-32 unless asked; a file that fails it (or a
    // chunk's CRC) is corrupt and is refused rather than shown.
    decoder.ignore_checksums(false);
    let mut reader = decoder.read_info().map_err(err)?;
    let (color, depth) = reader.output_color_type();
    let layout = match color {
        ColorType::Grayscale => PixelLayout::Gray8,
        ColorType::GrayscaleAlpha => PixelLayout::GrayAlpha8,
        ColorType::Rgb => PixelLayout::Rgb8,
        ColorType::Rgba => PixelLayout::Rgba8,
        ColorType::Indexed => {
            return Err(ImageError::Unsupported(
                "png: palette was not expanded".into(),
            ))
        }
    };
    let wide = match depth {
        BitDepth::Eight => false,
        BitDepth::Sixteen => true,
        other => {
            return Err(ImageError::Unsupported(format!(
                "png: output bit depth {other:?}"
            )))
        }
    };
    let bytes = if wide { 2 } else { 1 };
    let channels = layout.channels();
    let (width, height) = (reader.info().width, reader.info().height);
    if reader.info().interlaced {
        // Adam7 needs the whole image; decode it and crop.
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| ImageError::TooLarge("png: buffer size".into()))?;
        let mut buf = vec![0u8; size];
        let info = reader.next_frame(&mut buf).map_err(err)?;
        buf.truncate(info.buffer_size());
        let row_len = info.line_size;
        let mut full = Raster::new(width, height, layout)?;
        let stride = full.stride();
        for (src, dst) in buf
            .chunks_exact(row_len)
            .zip(full.data.chunks_exact_mut(stride))
        {
            narrow_row(src, dst, wide);
        }
        return crop(&full, region);
    }
    let mut out = Raster::new(region.w, region.h, layout)?;
    let stride = out.stride();
    let (x0, x1) = (
        region.x as usize * channels * bytes,
        (region.x + region.w) as usize * channels * bytes,
    );
    for y in 0..region.y + region.h {
        crate::cancel::check()?;
        let row = reader
            .next_row()
            .map_err(err)?
            .ok_or_else(|| ImageError::Corrupt("png: missing rows".into()))?;
        if y < region.y {
            continue;
        }
        let at = (y - region.y) as usize * stride;
        let (Some(src), Some(dst)) = (row.data().get(x0..x1), out.data.get_mut(at..at + stride))
        else {
            return Err(ImageError::Corrupt("png: short row".into()));
        };
        narrow_row(src, dst, wide);
    }
    if verify {
        // The rows below the region: reading the last one reaches the end of the zlib stream,
        // where its Adler-32 is checked.
        while reader.next_row().map_err(err)?.is_some() {}
    }
    Ok(out)
}

/// Copy a row of 8-bit samples, or reduce big-endian 16-bit samples to 8 bits with rounding.
fn narrow_row(src: &[u8], dst: &mut [u8], wide: bool) {
    if wide {
        for (s, d) in src.chunks_exact(2).zip(dst.iter_mut()) {
            *d = to_8bit(u16::from_be_bytes([s[0], s[1]]));
        }
    } else {
        let n = dst.len().min(src.len());
        dst[..n].copy_from_slice(&src[..n]);
    }
}

/// Rescale a 16-bit sample to 8 bits, rounding to nearest.
pub(crate) fn to_8bit(v: u16) -> u8 {
    ((u32::from(v) * 255 + 32767) / 65535) as u8
}
