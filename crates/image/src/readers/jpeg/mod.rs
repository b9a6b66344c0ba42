//! JPEG reader: header from the SOF marker, pixels from libjpeg-turbo (mozjpeg) with DCT scaling,
//! decoding only the region asked for ([`ffi`]: skipped rows, cropped columns).

pub(crate) use errors::strict_error_manager;
pub(crate) use ffi::Decoder;

mod errors;
mod ffi;

use std::sync::Arc;

use mozjpeg_sys::J_COLOR_SPACE;
use tessera_iiif::{Dimensions, Rect};
use tessera_source::RandomAccess;

use super::{
    checked_header, embedded_profile, guard, jpeg_meta, ImageHeader, ImageReader, ReadLimits,
    MAX_ICC_BYTES,
};
use crate::colour::{self, CmykProfile};
use crate::transform::crop::scale_rect;
use crate::{ImageError, PixelLayout, Raster, SourceFormat};

/// Most stray bytes between marker segments tolerated while looking for the frame header.
const MAX_JUNK_BYTES: u64 = 1 << 16;

/// Reads baseline, progressive, arithmetic-coded, gray and CMYK JPEGs.
pub(crate) struct JpegReader {
    header: ImageHeader,
    source: Arc<dyn RandomAccess>,
    /// The profile of CMYK files that embed none.
    cmyk_profile: CmykProfile,
    /// EXIF orientation found before the first scan (1 when none).
    orientation: u8,
    /// The ICC profile of a gray or RGB (YCbCr) file; a CMYK file's is applied when reading.
    icc: Option<Arc<[u8]>>,
    /// Most bytes libjpeg may hold in whole-image buffers ([`memory_budget`]).
    max_memory: u64,
    /// Whether the frame is YCbCr with its chroma halved both ways (4:2:0).
    chroma_halved: bool,
}

/// Bytes at the start of the file searched for the EXIF orientation and the ICC profile, at
/// least; the search reaches this far past the frame header too (some writers put the profile
/// after it).
const META_PREFIX: usize = 256 << 10;

impl JpegReader {
    /// Parse the frame header (SOFn) by walking the marker segments; no pixels are decoded.
    pub(crate) fn open(
        source: Arc<dyn RandomAccess>,
        limits: &ReadLimits,
    ) -> Result<Self, ImageError> {
        let frame = frame_header(source.as_ref())?;
        let header = checked_header(frame.width, frame.height, SourceFormat::Jpeg, limits)?;
        let prefix = usize::try_from(frame.at)
            .unwrap_or(usize::MAX)
            .saturating_add(META_PREFIX)
            .min(MAX_ICC_BYTES + META_PREFIX);
        let meta = jpeg_meta::parse(&source.read_range(0, prefix)?);
        let icc = meta
            .icc
            .filter(|_| frame.components != 4)
            .and_then(|p| embedded_profile(&p));
        Ok(Self {
            header,
            source,
            cmyk_profile: limits.cmyk_profile,
            orientation: meta.orientation,
            icc,
            max_memory: memory_budget(limits.max_pixels),
            chroma_halved: frame.chroma_halved,
        })
    }
}

impl ImageReader for JpegReader {
    fn header(&self) -> &ImageHeader {
        &self.header
    }

    fn orientation(&self) -> u8 {
        self.orientation
    }

    fn icc_profile(&self) -> Option<Arc<[u8]>> {
        self.icc.clone()
    }

    fn chroma_halved(&self) -> bool {
        self.chroma_halved
    }

    fn read(&mut self, region: Rect, target: Dimensions) -> Result<Raster, ImageError> {
        let data = self.source.read_all()?;
        let header = self.header;
        let (cmyk_profile, memory) = (self.cmyk_profile, self.max_memory);
        guard("jpeg", || {
            decode(&data, &header, region, target, cmyk_profile, memory)
        })
    }

    /// One decode from top to bottom, a band at a time: a band read through [`read`](Self::read)
    /// would skip (entropy-decode) every row above it again.
    fn scan(
        &mut self,
        band_rows: u32,
        sink: &mut dyn FnMut(Raster) -> Result<(), ImageError>,
    ) -> Result<(), ImageError> {
        let data = self.source.read_all()?;
        let header = self.header;
        let (cmyk_profile, memory) = (self.cmyk_profile, self.max_memory);
        let replicate = self.chroma_halved;
        guard("jpeg", || {
            scan(
                &data,
                &header,
                band_rows.max(1),
                (cmyk_profile, memory, replicate),
                sink,
            )
        })
    }
}

/// Decode the whole of `data` at full resolution in one pass, handing `sink` bands of at most
/// `band_rows` rows, converted as [`decode`] converts a region. With `replicate`, halved chroma
/// is repeated over the pixels each sample covers: averaged again (as a pyramid's full level
/// stores it), it is the file's own chroma, which a decoder then interpolates as it would the
/// file's.
fn scan(
    data: &[u8],
    header: &ImageHeader,
    band_rows: u32,
    (cmyk_profile, max_memory, replicate): (CmykProfile, u64, bool),
    sink: &mut dyn FnMut(Raster) -> Result<(), ImageError>,
) -> Result<(), ImageError> {
    let corrupt = |m: &str| ImageError::Corrupt(format!("jpeg: {m}"));
    let meta = jpeg_meta::parse(data);
    let mut dec = ffi::Decoder::new(data, max_memory)?;
    if replicate {
        dec.replicate_chroma();
    }
    let kind = stored_kind(dec.jpeg_color_space());
    dec.start(8, kind.out_space())?;
    if dec.output_size() != (header.width, header.height)
        || dec.output_components() != kind.channels()
    {
        return Err(corrupt(
            "the decoder's output does not match the frame header",
        ));
    }
    let stride = header.width as usize * kind.channels();
    let mut y = 0;
    while y < header.height {
        crate::cancel::check()?;
        let rows = band_rows.min(header.height - y);
        let mut samples = vec![0u8; stride * rows as usize];
        for row in samples.chunks_exact_mut(stride) {
            dec.read_row(row)?;
        }
        let band = Samples {
            data: samples,
            width: header.width,
            height: rows,
            kind,
        };
        sink(converted(band, &meta, cmyk_profile)?)?;
        y += rows;
    }
    Ok(())
}

/// What the first SOFn marker says, and where it is.
struct Frame {
    width: u32,
    height: u32,
    /// Number of components (4 for CMYK and YCCK).
    components: u8,
    /// Offset of the marker in the file.
    at: u64,
    /// Three components, the first sampled 2×2 and the others 1×1 (4:2:0).
    chroma_halved: bool,
}

/// Width and height from the first SOFn marker.
#[cfg(test)]
fn frame_size(source: &dyn RandomAccess) -> Result<(u32, u32), ImageError> {
    frame_header(source).map(|f| (f.width, f.height))
}

/// The first SOFn marker.
fn frame_header(source: &dyn RandomAccess) -> Result<Frame, ImageError> {
    let corrupt = |m: &str| ImageError::Corrupt(format!("jpeg: {m}"));
    let len = source.len();
    let mut pos: u64 = 2;
    let mut junk: u64 = 0;
    loop {
        if pos + 4 > len {
            return Err(corrupt("no frame header before the end of the file"));
        }
        let mut b = [0u8; 2];
        source.read_exact_at(pos, &mut b)?;
        if b[0] != 0xFF {
            // Like libjpeg, skip stray bytes between segments, within reason.
            junk += 1;
            if junk > MAX_JUNK_BYTES {
                return Err(corrupt("expected a marker"));
            }
            pos += 1;
            continue;
        }
        let marker = b[1];
        match marker {
            0xFF => {
                pos += 1; // fill byte
                continue;
            }
            0x01 | 0xD0..=0xD7 => {
                pos += 2;
                continue;
            }
            0xD8..=0xDA => return Err(corrupt("no frame header before the scan")),
            _ => {}
        }
        source.read_exact_at(pos + 2, &mut b)?;
        let seg_len = u64::from(u16::from_be_bytes(b));
        if seg_len < 2 {
            return Err(corrupt("bad segment length"));
        }
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let mut sof = [0u8; 6];
            source
                .read_exact_at(pos + 4, &mut sof)
                .map_err(|_| corrupt("truncated frame header"))?;
            // Each component: its id, its sampling (horizontal and vertical nibbles), its table.
            let mut specs = [0u8; 9];
            let chroma_halved = sof[5] == 3
                && source.read_exact_at(pos + 10, &mut specs).is_ok()
                && specs[1] == 0x22
                && specs[4] == 0x11
                && specs[7] == 0x11;
            return Ok(Frame {
                height: u32::from(u16::from_be_bytes([sof[1], sof[2]])),
                width: u32::from(u16::from_be_bytes([sof[3], sof[4]])),
                components: sof[5],
                at: pos,
                chroma_halved,
            });
        }
        pos += 2 + seg_len;
    }
}

/// The smallest DCT scale numerator (out of 8) that keeps `region` at least `target` in size.
fn dct_scale(region: Rect, target: Dimensions) -> u8 {
    for s in [1u8, 2, 4] {
        let enough = |full: u32, want: u32| u64::from(full) * u64::from(s) >= u64::from(want) * 8;
        if enough(region.w, target.width) && enough(region.h, target.height) {
            return s;
        }
    }
    8
}

/// The bytes libjpeg may hold in whole-image buffers (the coefficients of a progressive or
/// multi-scan JPEG, 2 bytes per sample at full resolution whatever the DCT scale): what an RGBA
/// raster of the pixel limit takes, 4 bytes per pixel. Beyond it libjpeg would need a backing
/// store, which Tessera's build has none of, so the decode fails before allocating.
fn memory_budget(max_pixels: u64) -> u64 {
    max_pixels.saturating_mul(4)
}

/// Decode `region`, scaled by a DCT factor where the target allows, then convert it to the
/// output layout (CMYK through the embedded or the default CMYK profile; gray and RGB stay as
/// stored). libjpeg errors and truncation warnings unwind as panics and are caught by [`guard`].
fn decode(
    data: &[u8],
    header: &ImageHeader,
    region: Rect,
    target: Dimensions,
    cmyk_profile: CmykProfile,
    max_memory: u64,
) -> Result<Raster, ImageError> {
    let meta = jpeg_meta::parse(data);
    let samples = decode_samples(
        data,
        header,
        region,
        target,
        Skip::OutsideRegion,
        max_memory,
    )?;
    converted(samples, &meta, cmyk_profile)
}

/// Decoded samples as a raster: CMYK through the embedded or the default CMYK profile; gray and
/// RGB as stored.
fn converted(
    samples: Samples,
    meta: &jpeg_meta::JpegMeta,
    cmyk_profile: CmykProfile,
) -> Result<Raster, ImageError> {
    let mut out = Raster::new(samples.width, samples.height, samples.layout())?;
    match samples.kind {
        Kind::Cmyk => {
            let mut cmyk_data = samples.data;
            // Adobe (Photoshop) JPEGs store CMYK inverted; undo it so 0 means no ink.
            if meta.adobe {
                cmyk_data.iter_mut().for_each(|v| *v = 255 - *v);
            }
            out.data = colour::cmyk_to_srgb(&cmyk_data, meta.icc.as_deref(), cmyk_profile);
        }
        Kind::Gray | Kind::Rgb => out.data = samples.data,
    }
    Ok(out)
}

/// What libjpeg is asked for, from the colour space it guessed from the markers.
fn stored_kind(space: J_COLOR_SPACE) -> Kind {
    match space {
        J_COLOR_SPACE::JCS_GRAYSCALE => Kind::Gray,
        J_COLOR_SPACE::JCS_CMYK | J_COLOR_SPACE::JCS_YCCK => Kind::Cmyk,
        _ => Kind::Rgb,
    }
}

/// What libjpeg is asked to deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One sample per pixel.
    Gray,
    /// R, G, B.
    Rgb,
    /// C, M, Y, K as stored (Adobe files inverted).
    Cmyk,
}

impl Kind {
    /// Bytes per pixel.
    fn channels(self) -> usize {
        match self {
            Kind::Gray => 1,
            Kind::Rgb => 3,
            Kind::Cmyk => 4,
        }
    }

    /// The output colour space that delivers these samples.
    fn out_space(self) -> J_COLOR_SPACE {
        match self {
            Kind::Gray => J_COLOR_SPACE::JCS_GRAYSCALE,
            Kind::Rgb => J_COLOR_SPACE::JCS_EXT_RGB,
            Kind::Cmyk => J_COLOR_SPACE::JCS_CMYK,
        }
    }
}

/// Decoded samples of a region, before any colour conversion.
struct Samples {
    data: Vec<u8>,
    width: u32,
    height: u32,
    kind: Kind,
}

impl Samples {
    /// The raster layout these samples end up in.
    fn layout(&self) -> PixelLayout {
        match self.kind {
            Kind::Gray => PixelLayout::Gray8,
            Kind::Rgb | Kind::Cmyk => PixelLayout::Rgb8,
        }
    }
}

/// How much of the image libjpeg decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    /// Skip the rows above the region (`jpeg_skip_scanlines`), crop the columns to the iMCUs
    /// around it (`jpeg_crop_scanline`) and stop after its last row.
    OutsideRegion,
    /// Decode every column of every row from the top to the region's last row (the reference
    /// the tests compare with).
    #[cfg_attr(not(test), allow(dead_code))]
    Nothing,
}

/// Output columns decoded beyond each side of the region when cropping, so that fancy
/// upsampling at the region's edges sees the same neighbours as in a full decode (libjpeg
/// treats the crop's edges as image edges). libjpeg widens the left side to an iMCU boundary.
const CROP_CONTEXT: u32 = 16;

/// Decode the samples of `region` at the smallest DCT scale that keeps it at least `target`.
fn decode_samples(
    data: &[u8],
    header: &ImageHeader,
    region: Rect,
    target: Dimensions,
    skip: Skip,
    max_memory: u64,
) -> Result<Samples, ImageError> {
    let corrupt = |m: &str| ImageError::Corrupt(format!("jpeg: {m}"));
    let mut dec = ffi::Decoder::new(data, max_memory)?;
    let kind = stored_kind(dec.jpeg_color_space());
    dec.start(dct_scale(region, target), kind.out_space())?;
    let (ow, oh) = dec.output_size();
    if dec.output_components() != kind.channels() {
        return Err(corrupt("unexpected number of output components"));
    }
    let rect = scale_rect(region, header.width, header.height, ow, oh);
    if rect.w == 0 || rect.h == 0 || rect.x + rect.w > ow || rect.y + rect.h > oh {
        return Err(corrupt("region outside the decoded image"));
    }
    // Columns [x0, x0 + row_width) of the output come out of each scanline.
    let (x0, row_width) = match skip {
        Skip::OutsideRegion => {
            let left = rect.x.saturating_sub(CROP_CONTEXT);
            let right = (rect.x + rect.w).saturating_add(CROP_CONTEXT).min(ow);
            dec.crop(left, right - left)?
        }
        Skip::Nothing => (0, ow),
    };
    if x0 > rect.x || x0 + row_width < rect.x + rect.w {
        return Err(corrupt("libjpeg cropped outside the region"));
    }
    match skip {
        Skip::OutsideRegion => dec.skip_rows(rect.y)?,
        Skip::Nothing => {
            let mut row = vec![0u8; row_width as usize * kind.channels()];
            for _ in 0..rect.y {
                dec.read_row(&mut row)?;
            }
        }
    }
    let channels = kind.channels();
    let mut row = vec![0u8; row_width as usize * channels];
    let out_stride = rect.w as usize * channels;
    let mut out = vec![0u8; out_stride * rect.h as usize];
    let from = (rect.x - x0) as usize * channels;
    for dst in out.chunks_exact_mut(out_stride) {
        dec.read_row(&mut row)?;
        let src = row
            .get(from..from + out_stride)
            .ok_or_else(|| corrupt("row outside the image"))?;
        dst.copy_from_slice(src);
    }
    // Dropping the decoder aborts the decompression: nothing below the region is decoded.
    Ok(Samples {
        data: out,
        width: rect.w,
        height: rect.h,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// A corpus file's bytes; a missing file fails the test (the shared corpus is required, as
    /// for the integration tests), rather than letting it pass without checking anything.
    fn corpus(rel: &str) -> Vec<u8> {
        let root = match std::env::var_os("TESSERA_CORPUS") {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
        };
        let path = root.join(rel);
        std::fs::read(&path).unwrap_or_else(|e| panic!("corpus file {}: {e}", path.display()))
    }

    const FILES: [&str; 8] = [
        "jpeg/baseline_rgb_1411x1411__skimage-retina.jpg",
        "jpeg/progressive_rgb_2268x1512__libjxl-flower_q85_420_progr.jpg",
        "jpeg/grayscale_2268x1512__libjxl-flower_q85_gray.jpg",
        "jpeg/cmyk_adobe__pillow-pil_sample_cmyk.jpg",
        "jpeg/arithmetic-coded__libjpeg-turbo-testimgari.jpg",
        "jpeg/subsampling-444_non-interleaved-scans__libjxl-flower_small_q85_444_non_interleaved.jpg",
        "jpeg/mpo-bad-header__pillow-sugarshack_bad_mpo_header.jpg",
        "jpeg/rgb-colour-transform-none__libjxl-flower_q85_rgb.jpg",
    ];

    /// Regions as fractions of the image (x, y, w, h in 1/16ths) plus exact edge cases.
    fn regions(w: u32, h: u32) -> Vec<Rect> {
        let f = |v: u32, n: u32| (u64::from(v) * u64::from(n) / 16) as u32;
        let mut out: Vec<Rect> = [
            (0, 0, 16, 16),
            (0, 0, 5, 3),
            (5, 7, 6, 5),
            (11, 13, 5, 3),
            (3, 0, 1, 16),
            (0, 9, 16, 1),
        ]
        .iter()
        .map(|&(x, y, rw, rh)| {
            let (x, y) = (f(w, x), f(h, y));
            Rect::new(x, y, f(w, rw).max(1).min(w - x), f(h, rh).max(1).min(h - y))
        })
        .collect();
        // Odd offsets that fall inside iMCUs, and a 1x1 pixel at the bottom-right corner.
        out.push(Rect::new(
            17.min(w - 1),
            9.min(h - 1),
            (w / 3).max(1),
            (h / 3).max(1),
        ));
        out.push(Rect::new(w - 1, h - 1, 1, 1));
        out
    }

    #[test]
    fn skipping_outside_the_region_gives_the_same_samples_as_a_full_decode() {
        let mut checked = 0;
        for rel in FILES {
            let data = corpus(rel);
            let (w, h) = frame_size(&data).expect("frame size");
            let header = ImageHeader {
                width: w,
                height: h,
                format: SourceFormat::Jpeg,
            };
            for region in regions(w, h) {
                // Full size and each DCT scale (1/2, 1/4, 1/8).
                for div in [1, 2, 4, 8] {
                    let target = Dimensions::new((region.w / div).max(1), (region.h / div).max(1));
                    let fast = decode_samples(
                        &data,
                        &header,
                        region,
                        target,
                        Skip::OutsideRegion,
                        u64::MAX,
                    )
                    .expect("region decode");
                    let full =
                        decode_samples(&data, &header, region, target, Skip::Nothing, u64::MAX)
                            .expect("full decode");
                    assert_eq!((fast.width, fast.height), (full.width, full.height));
                    assert_eq!(fast.kind, full.kind);
                    let worst = fast
                        .data
                        .iter()
                        .zip(&full.data)
                        .map(|(a, b)| a.abs_diff(*b))
                        .max()
                        .unwrap_or(0);
                    assert_eq!(worst, 0, "{rel} {region:?} 1/{div}: max diff {worst}");
                    checked += 1;
                }
            }
        }
        // Every file, region and scale was compared.
        assert_eq!(checked, FILES.len() * regions(1, 1).len() * 4);
        eprintln!("{checked} region decodes compared");
    }

    #[test]
    fn the_reference_decode_matches_the_mozjpeg_crate() {
        use mozjpeg::{ColorSpace, Decompress};
        for rel in FILES {
            let data = corpus(rel);
            let (w, h) = frame_size(&data).expect("frame size");
            let header = ImageHeader {
                width: w,
                height: h,
                format: SourceFormat::Jpeg,
            };
            let ours = decode_samples(
                &data,
                &header,
                Rect::full(w, h),
                Dimensions::new(w, h),
                Skip::Nothing,
                u64::MAX,
            )
            .expect("decode");
            let dec = Decompress::with_err(strict_error_manager())
                .from_mem(&data)
                .expect("header");
            let mut started = match dec.color_space() {
                ColorSpace::JCS_GRAYSCALE => dec.grayscale(),
                ColorSpace::JCS_CMYK | ColorSpace::JCS_YCCK => {
                    dec.to_colorspace(ColorSpace::JCS_CMYK)
                }
                _ => dec.rgb(),
            }
            .expect("start");
            let theirs: Vec<u8> = started.read_scanlines().expect("scanlines");
            assert!(ours.data == theirs, "{rel}");
        }
    }
}
