//! TIFF reader (tiff crate): striped and tiled, decoding only the strips or tiles a region touches.
//!
//! Reads the first image (full resolution) of 1/2/4/8/16-bit gray, gray+alpha, RGB, RGBA,
//! palette and (naively converted) CMYK images, chunky or planar, with any compression the tiff
//! crate decodes except JPEG (not compiled in). Other sample formats are refused as unsupported.

use std::io::BufReader;
use std::sync::Arc;

use tessera_iiif::{Dimensions, Rect};
use tessera_source::{RandomAccess, ReadSeek};
use tiff::decoder::{ChunkType, Decoder, DecodingResult, Limits};
use tiff::tags::Tag;
use tiff::{ColorType, TiffError};

use super::png::to_8bit;
use super::{checked_header, guard, ImageHeader, ImageReader, ReadLimits};
use crate::{ImageError, PixelLayout, Raster, SourceFormat};

/// Largest decoded strip or tile, in bytes.
const MAX_CHUNK_BYTES: usize = 256 << 20;

type TiffDecoder = Decoder<BufReader<ReadSeek>>;

/// Reads TIFF and BigTIFF files, chunk by chunk.
pub(crate) struct TiffReader {
    header: ImageHeader,
    source: Arc<dyn RandomAccess>,
}

impl TiffReader {
    /// Parse the first image file directory.
    pub(crate) fn open(
        source: Arc<dyn RandomAccess>,
        limits: &ReadLimits,
    ) -> Result<Self, ImageError> {
        let (width, height) = guard("tiff", || {
            let mut decoder = new_decoder(Arc::clone(&source))?;
            decoder.dimensions().map_err(tiff_error)
        })?;
        let header = checked_header(width, height, SourceFormat::Tiff, limits)?;
        Ok(Self { header, source })
    }
}

impl ImageReader for TiffReader {
    fn header(&self) -> &ImageHeader {
        &self.header
    }

    fn read(&mut self, region: Rect, _target: Dimensions) -> Result<Raster, ImageError> {
        let source = Arc::clone(&self.source);
        let header = self.header;
        guard("tiff", || decode(source, &header, region))
    }
}

/// A decoder with bounded buffers.
fn new_decoder(source: Arc<dyn RandomAccess>) -> Result<TiffDecoder, ImageError> {
    let mut limits = Limits::default();
    limits.decoding_buffer_size = MAX_CHUNK_BYTES;
    limits.intermediate_buffer_size = MAX_CHUNK_BYTES;
    Ok(Decoder::new(BufReader::new(ReadSeek::new(source)))
        .map_err(tiff_error)?
        .with_limits(limits))
}

/// Map a tiff crate error onto ours.
fn tiff_error(e: TiffError) -> ImageError {
    match e {
        TiffError::UnsupportedError(e) => ImageError::Unsupported(format!("tiff: {e}")),
        TiffError::LimitsExceeded => ImageError::TooLarge("tiff: strip or tile too large".into()),
        e => ImageError::Corrupt(format!("tiff: {e}")),
    }
}

/// How the samples of the image become output pixels.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gray { invert: bool },
    GrayAlpha { invert: bool },
    Rgb,
    Rgba { premultiplied: bool },
    Palette,
    Cmyk,
}

impl Kind {
    fn samples(self) -> usize {
        match self {
            Kind::Gray { .. } | Kind::Palette => 1,
            Kind::GrayAlpha { .. } => 2,
            Kind::Rgb => 3,
            Kind::Rgba { .. } | Kind::Cmyk => 4,
        }
    }

    fn layout(self) -> PixelLayout {
        match self {
            Kind::Gray { .. } => PixelLayout::Gray8,
            Kind::GrayAlpha { .. } => PixelLayout::GrayAlpha8,
            Kind::Rgb | Kind::Palette | Kind::Cmyk => PixelLayout::Rgb8,
            Kind::Rgba { .. } => PixelLayout::Rgba8,
        }
    }
}

/// Decode the chunks that intersect `region` and assemble them.
fn decode(
    source: Arc<dyn RandomAccess>,
    header: &ImageHeader,
    region: Rect,
) -> Result<Raster, ImageError> {
    let mut dec = new_decoder(source)?;
    let color = dec.colortype().map_err(tiff_error)?;
    let photometric: u16 = dec
        .find_tag_unsigned(Tag::PhotometricInterpretation)
        .map_err(tiff_error)?
        .unwrap_or(1);
    let planar: u16 = dec
        .find_tag_unsigned(Tag::PlanarConfiguration)
        .map_err(tiff_error)?
        .unwrap_or(1);
    let extra: Vec<u16> = dec
        .find_tag_unsigned_vec(Tag::ExtraSamples)
        .map_err(tiff_error)?
        .unwrap_or_default();
    let invert = photometric == 0;
    let premultiplied = extra.first() == Some(&1);
    let (kind, bits) = match color {
        ColorType::Gray(b) => (Kind::Gray { invert }, b),
        ColorType::GrayA(b) => (Kind::GrayAlpha { invert }, b),
        ColorType::RGB(b) => (Kind::Rgb, b),
        ColorType::RGBA(b) => (Kind::Rgba { premultiplied }, b),
        ColorType::Palette(b) => (Kind::Palette, b),
        ColorType::CMYK(b) => (Kind::Cmyk, b),
        other => {
            return Err(ImageError::Unsupported(format!(
                "tiff: colour type {other:?}"
            )))
        }
    };
    if !matches!(bits, 1 | 2 | 4 | 8 | 16) || (bits == 16 && kind == Kind::Palette) {
        return Err(ImageError::Unsupported(format!("tiff: {bits}-bit samples")));
    }
    let palette = if kind == Kind::Palette {
        let map: Vec<u16> = dec.get_tag_u16_vec(Tag::ColorMap).map_err(tiff_error)?;
        let n = 1usize << bits;
        if map.len() < 3 * n {
            return Err(ImageError::Corrupt("tiff: colour map too short".into()));
        }
        (0..n)
            .flat_map(|i| [map[i], map[n + i], map[2 * n + i]].map(|v| (v >> 8) as u8))
            .collect()
    } else {
        Vec::new()
    };
    let planes = if planar == 2 { kind.samples() } else { 1 };
    if planes > 1 && bits < 8 {
        return Err(ImageError::Unsupported(
            "tiff: planar images below 8 bits".into(),
        ));
    }
    let (cw, ch) = match dec.get_chunk_type() {
        ChunkType::Strip => (header.width, dec.chunk_dimensions().1),
        ChunkType::Tile => dec.chunk_dimensions(),
    };
    if cw == 0 || ch == 0 {
        return Err(ImageError::Corrupt(
            "tiff: zero-sized strips or tiles".into(),
        ));
    }
    let across = header.width.div_ceil(cw);
    let down = header.height.div_ceil(ch);
    let per_plane = across
        .checked_mul(down)
        .ok_or_else(|| ImageError::Corrupt("tiff: chunk count".into()))?;
    let layout = kind.layout();
    let mut out = Raster::new(region.w, region.h, layout)?;
    let (rx1, ry1) = (region.x + region.w, region.y + region.h);
    for cy in region.y / ch..=(ry1 - 1) / ch {
        for cx in region.x / cw..=(rx1 - 1) / cw {
            let index = cy * across + cx;
            let (samples, dw, dh) = read_chunk(
                &mut dec,
                index,
                per_plane,
                planes,
                kind.samples(),
                bits,
                kind == Kind::Palette,
            )?;
            let (x0, y0) = (cx * cw, cy * ch);
            let spp = kind.samples();
            for y in y0.max(region.y)..(y0 + dh).min(ry1) {
                for x in x0.max(region.x)..(x0 + dw).min(rx1) {
                    let s = (((y - y0) * dw + (x - x0)) as usize) * spp;
                    let d =
                        (((y - region.y) * region.w + (x - region.x)) as usize) * layout.channels();
                    let (Some(src), Some(dst)) = (
                        samples.get(s..s + spp),
                        out.data.get_mut(d..d + layout.channels()),
                    ) else {
                        return Err(ImageError::Corrupt(
                            "tiff: chunk smaller than declared".into(),
                        ));
                    };
                    convert_pixel(kind, src, dst, &palette);
                }
            }
        }
    }
    Ok(out)
}

/// Decode one chunk (all its planes) into interleaved samples scaled to 8 bits (palette indices
/// and sub-byte gray expanded to one byte each). Returns the samples and the chunk's data size.
fn read_chunk(
    dec: &mut TiffDecoder,
    index: u32,
    per_plane: u32,
    planes: usize,
    spp: usize,
    bits: u8,
    palette_indices: bool,
) -> Result<(Vec<u8>, u32, u32), ImageError> {
    let (dw, dh) = dec.chunk_data_dimensions(index);
    let pixels = (dw as usize) * (dh as usize);
    let stored_spp = if planes > 1 { 1 } else { spp };
    let mut out = vec![0u8; pixels * spp];
    for plane in 0..planes {
        let plane_index = u32::try_from(plane)
            .ok()
            .and_then(|p| p.checked_mul(per_plane))
            .and_then(|p| p.checked_add(index))
            .ok_or_else(|| ImageError::Corrupt("tiff: chunk index".into()))?;
        let data = dec.read_chunk(plane_index).map_err(tiff_error)?;
        let samples = to_8bit_samples(data, dw as usize, stored_spp, bits, !palette_indices)?;
        if samples.len() < pixels * stored_spp {
            return Err(ImageError::Corrupt("tiff: short strip or tile".into()));
        }
        if planes == 1 {
            out.copy_from_slice(&samples[..pixels * spp]);
        } else {
            for (i, &v) in samples.iter().take(pixels).enumerate() {
                out[i * spp + plane] = v;
            }
        }
    }
    Ok((out, dw, dh))
}

/// Decoded chunk data to one byte per sample; sub-byte samples are stretched to 0–255 when
/// `stretch` (they stay raw palette indices otherwise).
fn to_8bit_samples(
    data: DecodingResult,
    width: usize,
    spp: usize,
    bits: u8,
    stretch: bool,
) -> Result<Vec<u8>, ImageError> {
    match data {
        DecodingResult::U8(v) if bits == 8 => Ok(v),
        DecodingResult::U8(v) => {
            let mut v = unpack_bits(&v, width * spp, bits);
            if stretch {
                let max = (1u16 << bits) - 1;
                v.iter_mut()
                    .for_each(|s| *s = (u16::from(*s) * 255 / max) as u8);
            }
            Ok(v)
        }
        DecodingResult::U16(v) => Ok(v.into_iter().map(to_8bit).collect()),
        _ => Err(ImageError::Unsupported(
            "tiff: sample format other than unsigned integer".into(),
        )),
    }
}

/// Unpack rows of `bits`-bit samples (each row padded to a byte) into bytes: raw values.
fn unpack_bits(packed: &[u8], samples_per_row: usize, bits: u8) -> Vec<u8> {
    let row_bytes = (samples_per_row * usize::from(bits)).div_ceil(8);
    let mask = (1u16 << bits) - 1;
    let mut out = Vec::with_capacity(packed.len() * 8 / usize::from(bits).max(1));
    for row in packed.chunks(row_bytes.max(1)) {
        for i in 0..samples_per_row {
            let bit = i * usize::from(bits);
            let byte = row.get(bit / 8).copied().unwrap_or(0);
            let shift = 8 - usize::from(bits) - bit % 8;
            out.push(((u16::from(byte) >> shift) & mask) as u8);
        }
    }
    out
}

/// One pixel of 8-bit samples (raw indices for palette images) to the output layout.
fn convert_pixel(kind: Kind, src: &[u8], dst: &mut [u8], palette: &[u8]) {
    match kind {
        Kind::Gray { invert } | Kind::GrayAlpha { invert } => {
            let g = src[0];
            dst[0] = if invert { 255 - g } else { g };
            if let (Some(d), Some(&a)) = (dst.get_mut(1), src.get(1)) {
                *d = a;
            }
        }
        Kind::Rgb => dst.copy_from_slice(&src[..3]),
        Kind::Rgba { premultiplied } => {
            let a = src[3];
            for i in 0..3 {
                dst[i] = if premultiplied && a > 0 {
                    ((u16::from(src[i]) * 255 + u16::from(a) / 2) / u16::from(a)).min(255) as u8
                } else {
                    src[i]
                };
            }
            dst[3] = a;
        }
        Kind::Palette => {
            let at = usize::from(src[0]) * 3;
            if let Some(rgb) = palette.get(at..at + 3) {
                dst.copy_from_slice(rgb);
            }
        }
        Kind::Cmyk => {
            let k = 255 - u16::from(src[3]);
            for i in 0..3 {
                dst[i] = (((255 - u16::from(src[i])) * k + 127) / 255) as u8;
            }
        }
    }
}
