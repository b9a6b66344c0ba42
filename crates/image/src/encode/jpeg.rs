//! JPEG output (jpeg-encoder): alpha is composited over white; gray rasters stay one channel; an
//! ICC profile goes into APP2 `ICC_PROFILE` segments (at most 65,519 bytes each, numbered).

use jpeg_encoder::{ChromaSubsamplingMethod, ColorType, Encoder, SamplingFactor};

use crate::transform::quality::flatten_alpha;
use crate::{ImageError, PixelLayout, Raster};

/// Most profile bytes in one APP2 segment: 65,535 less the length field, `ICC_PROFILE\0` and the
/// two sequence bytes.
pub(crate) const ICC_SEGMENT_BYTES: usize = 65_535 - 2 - 12 - 2;

/// A stored JPEG (SOI first) with `icc` put in after its SOI as APP2 `ICC_PROFILE` segments,
/// when the profile fits its frame (gray for one component, RGB for three); unchanged otherwise,
/// as an encoded rendition of it would be untagged too.
pub(crate) fn with_profile(stored: Vec<u8>, icc: &[u8]) -> Vec<u8> {
    let components = crate::readers::jpeg_meta::parse(&stored).frame.map(|f| f.2);
    let fits = match components {
        Some(1) => crate::colour::describes(icc, true),
        Some(3) => crate::colour::describes(icc, false),
        _ => false,
    };
    let count = icc.len().div_ceil(ICC_SEGMENT_BYTES);
    let (Ok(count), true, true) = (u8::try_from(count), fits, stored.starts_with(&[0xFF, 0xD8]))
    else {
        return stored;
    };
    let mut out = Vec::with_capacity(stored.len() + icc.len() + 18 * usize::from(count));
    out.extend_from_slice(&stored[..2]);
    for (seq, part) in (1..=count).zip(icc.chunks(ICC_SEGMENT_BYTES)) {
        // A part is at most ICC_SEGMENT_BYTES, so the length fits in 16 bits.
        let len = (2 + 12 + 2 + part.len()) as u16;
        out.extend_from_slice(&[0xFF, 0xE2]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(b"ICC_PROFILE\0");
        out.extend_from_slice(&[seq, count]);
        out.extend_from_slice(part);
    }
    out.extend_from_slice(&stored[2..]);
    out
}

/// Which encoder writes a JPEG: both write baseline JPEG with the same tables (Annex K scaled
/// to the quality), the same standard Huffman tables and the same chroma halving below 90.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    /// libjpeg(-turbo) through mozjpeg-sys: about 4× faster than jpeg-encoder when built with
    /// its SIMD code (`nasm` at build time), about 1.5× slower without.
    Libjpeg,
    /// The pure Rust jpeg-encoder (AVX2 colour conversion and DCT when the CPU has them).
    JpegEncoder,
}

impl Engine {
    /// The faster of the two in this build on this CPU.
    pub(crate) fn fastest() -> Self {
        if crate::libjpeg::has_simd() {
            Engine::Libjpeg
        } else {
            Engine::JpegEncoder
        }
    }
}

/// Encode `raster` as a baseline JPEG at `quality` (1–100), with `icc` when it fits the pixels,
/// with the faster encoder.
pub(crate) fn encode(
    raster: &Raster,
    quality: u8,
    icc: Option<&[u8]>,
) -> Result<Vec<u8>, ImageError> {
    encode_with(Engine::fastest(), raster, quality, icc)
}

/// [`encode`] with the given encoder.
pub(crate) fn encode_with(
    engine: Engine,
    raster: &Raster,
    quality: u8,
    icc: Option<&[u8]>,
) -> Result<Vec<u8>, ImageError> {
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
    // Only a raster with alpha is copied (to be flattened).
    let flattened;
    let flat = if raster.layout.has_alpha() {
        flattened = flatten_alpha(raster.clone(), 255);
        &flattened
    } else {
        raster
    };
    let color = if flat.layout == PixelLayout::Gray8 {
        ColorType::Luma
    } else {
        ColorType::Rgb
    };
    let icc = super::fitting(icc, color == ColorType::Luma);
    let pixels = Pixels {
        data: &flat.data,
        width,
        height,
        gray: color == ColorType::Luma,
    };
    encode_pixels(engine, pixels, quality, halves_chroma(quality), icc)
}

/// Whether a JPEG at `quality` has its chroma halved both ways: below 90, as libjpeg's default
/// does.
pub(crate) fn halves_chroma(quality: u8) -> bool {
    quality < 90
}

/// Packed 8-bit rows to encode: gray (one byte per pixel) or RGB (three).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pixels<'a> {
    pub data: &'a [u8],
    pub width: u16,
    pub height: u16,
    pub gray: bool,
}

/// `pixels` as a baseline JPEG at `quality` (1–100), YCbCr with the chroma halved both ways
/// (each sample the mean of the pixels it covers) or kept whole, or gray; `icc` as APP2 segments.
pub(crate) fn encode_pixels(
    engine: Engine,
    pixels: Pixels<'_>,
    quality: u8,
    halve_chroma: bool,
    icc: Option<&[u8]>,
) -> Result<Vec<u8>, ImageError> {
    let fail = |message: String| ImageError::Encode {
        format: "jpg",
        message,
    };
    let quality = quality.clamp(1, 100);
    if engine == Engine::Libjpeg {
        return crate::readers::guard("jpeg encoder", || {
            super::jpeg_libjpeg::encode(pixels, quality, halve_chroma, icc)
        });
    }
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, quality);
    let color = if pixels.gray {
        ColorType::Luma
    } else {
        encoder.set_sampling_factor(if halve_chroma {
            SamplingFactor::F_2_2
        } else {
            SamplingFactor::F_1_1
        });
        // The encoder's default takes the top left sample: aliased, shifted by half a pixel.
        encoder.set_chroma_subsampling_method(ChromaSubsamplingMethod::Average);
        ColorType::Rgb
    };
    if let Some(icc) = icc {
        // jpeg-encoder splits the profile into segments of 65,519 bytes, numbered from 1.
        encoder
            .add_icc_profile(icc)
            .map_err(|e| fail(e.to_string()))?;
    }
    encoder
        .encode(pixels.data, pixels.width, pixels.height, color)
        .map_err(|e| fail(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
#[path = "jpeg_tests.rs"]
mod tests;
