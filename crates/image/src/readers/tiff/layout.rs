//! What the first directory says about the pixels, validated once when the file is opened.

use super::decompress::Compression;
use super::ifd::{tag, Ifd};
use crate::ImageError;

/// Most samples per pixel accepted.
const MAX_SAMPLES: usize = 16;

/// How the sample values are numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SampleFormat {
    Unsigned,
    Signed,
    Float,
}

/// The colour model of the stored samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Photometric {
    WhiteIsZero,
    BlackIsZero,
    Rgb,
    Palette,
    Cmyk,
    YCbCr,
    /// CIE L*a*b* (8: signed a/b) or ICC Lab (9: unsigned a/b, offset 128).
    Lab {
        unsigned_ab: bool,
    },
}

/// Everything needed to find and interpret strips or tiles.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub width: u32,
    pub height: u32,
    pub bits: u16,
    pub format: SampleFormat,
    /// Samples per pixel, including extra samples.
    pub spp: usize,
    /// Colour samples (1 for gray and palette, 3, or 4 for CMYK).
    pub colour_samples: usize,
    /// Index of the alpha sample among the pixel's samples, if any.
    pub alpha: Option<usize>,
    /// Whether alpha is premultiplied (ExtraSamples = 1).
    pub premultiplied: bool,
    pub photometric: Photometric,
    pub compression: Compression,
    /// Each sample in its own plane.
    pub planar: bool,
    pub predictor: u16,
    /// FillOrder 2: bits of each byte reversed.
    pub reversed_bits: bool,
    /// Whether chunks are tiles (else strips).
    pub tiled: bool,
    /// Chunk size: tiles, or full-width strips of `chunk_h` rows.
    pub chunk_w: u32,
    pub chunk_h: u32,
    pub offsets: Vec<u64>,
    pub byte_counts: Vec<u64>,
    /// 16-bit colour map, R then G then B.
    pub color_map: Vec<u16>,
    pub jpeg_tables: Option<Vec<u8>>,
    /// Old-style JPEG: offset and length of the interchange stream (whole, or a header whose
    /// scan continues in the strips).
    pub ojpeg_stream: Option<(u64, u64)>,
    /// Old-style JPEG without an interchange stream: where its tables are.
    pub ojpeg_tables: Option<super::ojpeg::Tables>,
    pub icc: Option<Vec<u8>>,
    /// Explicit sample range (SMinSampleValue, SMaxSampleValue) for float data.
    pub range: Option<(f64, f64)>,
    pub little_endian: bool,
    /// Chunks across and down (per plane).
    pub across: u32,
    pub down: u32,
    /// ReferenceBlackWhite of a YCbCr image, when given: the codes of black and white luma and of
    /// the chroma extremes (applied to old-style JPEG, as libtiff does).
    pub ycbcr_reference: Option<[f64; 6]>,
    /// YCbCrSubSampling (horizontal, vertical): luma samples per chroma sample (default 2, 2).
    pub ycbcr_subsampling: (u32, u32),
}

fn unsupported(what: String) -> ImageError {
    ImageError::Unsupported(format!("tiff: {what}"))
}

fn corrupt(what: &str) -> ImageError {
    ImageError::Corrupt(format!("tiff: {what}"))
}

impl Layout {
    /// The index of chunk (`cx`, `cy`) of the first plane in the offsets and byte counts: chunks
    /// are stored row by row.
    pub fn chunk_index(&self, cx: u32, cy: u32) -> u64 {
        u64::from(cy) * u64::from(self.across) + u64::from(cx)
    }

    /// Read and check the layout from the directory.
    pub fn from_ifd(ifd: &Ifd) -> Result<Self, ImageError> {
        let dim = |t: u16| {
            ifd.int(t)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| corrupt("missing or bad image size"))
        };
        let (width, height) = (dim(tag::WIDTH)?, dim(tag::HEIGHT)?);
        let spp = usize::try_from(ifd.int(tag::SAMPLES).unwrap_or(1))
            .ok()
            .filter(|&s| (1..=MAX_SAMPLES).contains(&s))
            .ok_or_else(|| unsupported("samples per pixel out of range".into()))?;
        let bits_all = ifd.ints(tag::BITS).unwrap_or(&[1]);
        let bits = u16::try_from(bits_all.first().copied().unwrap_or(1))
            .map_err(|_| corrupt("bits per sample"))?;
        if bits_all.iter().any(|&b| b != i64::from(bits)) {
            return Err(unsupported(format!("mixed bits per sample {bits_all:?}")));
        }
        let format = match ifd.int(tag::SAMPLE_FORMAT).unwrap_or(1) {
            1 | 4 => SampleFormat::Unsigned,
            2 => SampleFormat::Signed,
            3 => SampleFormat::Float,
            other => return Err(unsupported(format!("sample format {other}"))),
        };
        let bits_ok = match format {
            SampleFormat::Unsigned => matches!(bits, 1 | 2 | 4 | 8 | 16 | 32),
            SampleFormat::Signed => matches!(bits, 8 | 16 | 32),
            SampleFormat::Float => matches!(bits, 32 | 64),
        };
        if !bits_ok {
            return Err(unsupported(format!("{bits}-bit {format:?} samples")));
        }
        let compression = Compression::from_code(ifd.int(tag::COMPRESSION).unwrap_or(1))?;
        if compression == Compression::Fax3 && ifd.int(tag::T4_OPTIONS).unwrap_or(0) & 1 == 1 {
            return Err(unsupported("two-dimensional CCITT Group 3".into()));
        }
        let photometric = match ifd.int(tag::PHOTOMETRIC) {
            Some(0) => Photometric::WhiteIsZero,
            Some(1) => Photometric::BlackIsZero,
            Some(2) => Photometric::Rgb,
            Some(3) => Photometric::Palette,
            Some(5) => match ifd.int(tag::INK_SET).unwrap_or(1) {
                1 if spp >= 4 => Photometric::Cmyk,
                _ => return Err(unsupported("separated image that is not CMYK".into())),
            },
            Some(6) => Photometric::YCbCr,
            Some(8) => Photometric::Lab { unsigned_ab: false },
            Some(9) => Photometric::Lab { unsigned_ab: true },
            // No tag (allowed by nothing, written by many): guess from the sample count.
            None if spp >= 3 => Photometric::Rgb,
            None => Photometric::BlackIsZero,
            Some(other) => return Err(unsupported(format!("photometric interpretation {other}"))),
        };
        let colour_samples = match photometric {
            Photometric::WhiteIsZero | Photometric::BlackIsZero | Photometric::Palette => 1,
            Photometric::Cmyk => 4,
            _ => 3,
        };
        if spp < colour_samples {
            return Err(corrupt("fewer samples than the colour model needs"));
        }
        if photometric == Photometric::Palette && !(format == SampleFormat::Unsigned && bits <= 8) {
            return Err(unsupported(format!("{bits}-bit palette")));
        }
        let extra = ifd.ints(tag::EXTRA_SAMPLES).unwrap_or(&[]);
        let alpha_kind = extra.first().copied().filter(|&e| e == 1 || e == 2);
        let alpha = (spp > colour_samples && alpha_kind.is_some()).then_some(colour_samples);
        let planar = ifd.int(tag::PLANAR) == Some(2) && spp > 1;
        let tiled = ifd.int(tag::TILE_WIDTH).is_some();
        let (chunk_w, chunk_h, offsets_tag, counts_tag) = if tiled {
            (
                dim(tag::TILE_WIDTH)?,
                dim(tag::TILE_HEIGHT)?,
                tag::TILE_OFFSETS,
                tag::TILE_BYTES,
            )
        } else {
            let rows = ifd
                .int(tag::ROWS_PER_STRIP)
                .and_then(|r| u32::try_from(r).ok())
                .unwrap_or(height)
                .min(height);
            (width, rows, tag::STRIP_OFFSETS, tag::STRIP_BYTES)
        };
        if chunk_w == 0 || chunk_h == 0 {
            return Err(corrupt("zero-sized strips or tiles"));
        }
        let across = width.div_ceil(chunk_w);
        let down = height.div_ceil(chunk_h);
        let planes = if planar { spp as u64 } else { 1 };
        let chunks = u64::from(across) * u64::from(down) * planes;
        let to_u64 = |v: &[i64]| -> Vec<u64> { v.iter().map(|&x| x.max(0) as u64).collect() };
        let offsets = to_u64(ifd.ints(offsets_tag).unwrap_or(&[]));
        let byte_counts = to_u64(ifd.ints(counts_tag).unwrap_or(&[]));
        let ojpeg_stream = match (ifd.int(tag::OJPEG_OFFSET), ifd.int(tag::OJPEG_LENGTH)) {
            (Some(o), l) if compression == Compression::OldJpeg && o > 0 => {
                Some((o as u64, l.unwrap_or(0).max(0) as u64))
            }
            _ => None,
        };
        let ojpeg_tables = match compression {
            Compression::OldJpeg => super::ojpeg::Tables::from_ifd(ifd)?,
            _ => None,
        };
        if ojpeg_stream.is_none()
            && ((offsets.len() as u64) < chunks || (byte_counts.len() as u64) < chunks)
        {
            return Err(corrupt("fewer strip or tile offsets than the image needs"));
        }
        let color_map = if photometric == Photometric::Palette {
            let map: Vec<u16> = ifd
                .ints(tag::COLOR_MAP)
                .unwrap_or(&[])
                .iter()
                .map(|&v| v.clamp(0, 65535) as u16)
                .collect();
            if map.len() < 3 << bits {
                return Err(corrupt("colour map missing or too short"));
            }
            map
        } else {
            Vec::new()
        };
        let range = match (ifd.float(tag::SMIN), ifd.float(tag::SMAX)) {
            (Some(lo), Some(hi)) if format == SampleFormat::Float && hi > lo => Some((lo, hi)),
            _ => None,
        };
        Ok(Self {
            width,
            height,
            bits,
            format,
            spp,
            colour_samples,
            alpha,
            premultiplied: alpha_kind == Some(1),
            photometric,
            compression,
            planar,
            predictor: ifd.int(tag::PREDICTOR).unwrap_or(1) as u16,
            reversed_bits: ifd.int(tag::FILL_ORDER) == Some(2),
            tiled,
            chunk_w,
            chunk_h,
            offsets,
            byte_counts,
            color_map,
            jpeg_tables: ifd.bytes(tag::JPEG_TABLES),
            ojpeg_stream,
            ojpeg_tables,
            icc: ifd.bytes(tag::ICC),
            range,
            little_endian: ifd.endian == super::ifd::Endian::Little,
            across,
            down,
            ycbcr_reference: match ifd.floats(tag::REFERENCE_BLACK_WHITE).as_deref() {
                Some(&[a, b, c, d, e, f, ..]) if photometric == Photometric::YCbCr => {
                    Some([a, b, c, d, e, f])
                }
                _ => None,
            },
            ycbcr_subsampling: match ifd.ints(tag::YCBCR_SUBSAMPLING) {
                Some([h, v, ..]) => (
                    u32::try_from(*h).unwrap_or(0),
                    u32::try_from(*v).unwrap_or(0),
                ),
                _ => (2, 2),
            },
        })
    }

    /// Samples stored per pixel in one chunk (1 when planar).
    pub fn stored_spp(&self) -> usize {
        if self.planar {
            1
        } else {
            self.spp
        }
    }

    /// Bytes of one stored row of a chunk `w` pixels wide.
    pub fn row_bytes(&self, w: u32) -> usize {
        (w as usize * self.stored_spp() * usize::from(self.bits)).div_ceil(8)
    }
}
