//! TIFF reader: directories are parsed by hand ([`ifd`]), reduced-resolution levels found
//! ([`levels`]), and strips or tiles of the chosen level are read raw and decompressed here, so that every colour model (gray, RGB, palette, CMYK, YCbCr, CIE Lab),
//! depth (1–32-bit integers, signed, 32/64-bit float) and compression (none, LZW (and old-style
//! LZW), Deflate, PackBits, LZMA, WebP, CCITT modified Huffman/G3/G4, JPEG and old-style JPEG) is in Tessera's hands. Only the chunks
//! that a region touches are decoded; each is bounded in size before it is read.

mod assemble;
mod decompress;
mod fax_rle;
mod ifd;
mod jpeg;
mod layout;
mod levels;
mod lzw;
mod ojpeg;
mod passthrough;
mod physical;
mod rgb_tiles;
mod samples;
mod xz;
mod ycbcr;

use std::sync::Arc;

use tessera_iiif::{Dimensions, Rect};
use tessera_source::RandomAccess;

use super::{
    check_read_budget, checked_header, embedded_profile, guard, open_limits, ImageHeader,
    ImageReader, ReadLimits, Storage,
};
use crate::colour::{self, CmykProfile};
use crate::{ImageError, PixelLayout, Raster, SourceFormat};
use decompress::{decompress, undo_float, undo_horizontal, Compression};
use layout::{Layout, Photometric, SampleFormat};
use samples::Scale;

/// Largest strip or tile, compressed or decoded, in bytes.
const MAX_CHUNK_BYTES: u64 = 256 << 20;

/// Reads TIFF and BigTIFF files, chunk by chunk.
pub(crate) struct TiffReader {
    header: ImageHeader,
    source: Arc<dyn RandomAccess>,
    /// The full-resolution image, then its reduced levels, largest first.
    levels: Vec<Layout>,
    /// The profile of CMYK images that embed none.
    cmyk_profile: CmykProfile,
    /// The ICC profile of the full-resolution image, unless it is CMYK or CIE Lab (converted
    /// to sRGB when read).
    icc: Option<Arc<[u8]>>,
    /// Most pixels one read may decode (`ReadLimits::max_pixels`).
    max_pixels: u64,
    /// Tessera's own pyramid ([`ImageReader::mark_as_pyramid`]).
    pyramid: bool,
    /// The Orientation tag of the first image (1 when absent or invalid).
    orientation: u8,
    /// The pixel size the first image states, if any.
    physical: Option<crate::readers::physical::PhysicalScale>,
    /// Per level, the float range shown as black to white once known (a float image without
    /// SMin/SMaxSampleValue is scanned once per reader, not once per read).
    float_ranges: Vec<Option<(f64, f64)>>,
}

impl TiffReader {
    /// Parse the first image file directory, check that its pixels can be read, and find the
    /// reduced-resolution levels. A tiled or pyramidal image is read a window at a time, so the
    /// pixel limit applies to what each read decodes rather than to the full-resolution size.
    pub(crate) fn open(
        source: Arc<dyn RandomAccess>,
        limits: &ReadLimits,
    ) -> Result<Self, ImageError> {
        let file = ifd::Header::read(source.as_ref())?;
        let (first, next) = ifd::Ifd::read_at(source.as_ref(), file, file.first)?;
        let layout = Layout::from_ifd(&first)?;
        let (width, height, tiled) = (layout.width, layout.height, layout.tiled);
        let icc = match layout.photometric {
            Photometric::Cmyk | Photometric::Lab { .. } => None,
            _ => layout.icc.as_deref().and_then(embedded_profile),
        };
        let levels = levels::find(source.as_ref(), file, layout, &first, next);
        let windowed = tiled || levels.len() > 1;
        let header = checked_header(
            width,
            height,
            SourceFormat::Tiff,
            &open_limits(limits, windowed),
        )?;
        Ok(Self {
            header,
            source,
            physical: physical::physical_scale(&first),
            float_ranges: vec![None; levels.len()],
            levels,
            cmyk_profile: limits.cmyk_profile,
            icc,
            max_pixels: limits.max_pixels,
            pyramid: false,
            orientation: first
                .int(ifd::tag::ORIENTATION)
                .and_then(|o| u8::try_from(o).ok())
                .filter(|o| (1..=8).contains(o))
                .unwrap_or(1),
        })
    }
}

impl ImageReader for TiffReader {
    fn header(&self) -> &ImageHeader {
        &self.header
    }

    fn orientation(&self) -> u8 {
        self.orientation
    }

    fn physical_scale(&self) -> Option<crate::readers::physical::PhysicalScale> {
        self.physical
    }

    fn read(&mut self, region: Rect, target: Dimensions) -> Result<Raster, ImageError> {
        let source = self.source.as_ref();
        let full = Dimensions::new(self.header.width, self.header.height);
        let sizes = self.storage().levels;
        let (level, region) = super::choose_level(full, &sizes, region, target);
        let Some((level, layout)) = self.levels.get(level).map(|l| (level, l)).or_else(|| {
            let first = self.levels.first()?;
            Some((0, first))
        }) else {
            return Err(corrupt("no image directory"));
        };
        check_read_budget("tiff", region, self.max_pixels)?;
        let range = match self.float_ranges.get(level).copied().flatten() {
            Some(range) => range,
            None => {
                let range = guard("tiff", || float_range(source, layout))?;
                if let Some(slot) = self.float_ranges.get_mut(level) {
                    *slot = Some(range);
                }
                range
            }
        };
        let cmyk_profile = self.cmyk_profile;
        guard("tiff", || {
            decode(source, layout, region, target, range, cmyk_profile)
        })
    }

    fn stored_jpeg(
        &mut self,
        region: Rect,
        size: Dimensions,
        quality: u8,
    ) -> Result<Option<Vec<u8>>, ImageError> {
        let wanted = passthrough::Wanted {
            full: Dimensions::new(self.header.width, self.header.height),
            region,
            size,
            quality,
            exact_as_stored: !self.pyramid,
            max_pixels: self.max_pixels,
        };
        let (source, levels) = (self.source.as_ref(), &self.levels);
        guard("tiff", || passthrough::stored_jpeg(source, levels, &wanted))
    }

    fn mark_as_pyramid(&mut self) {
        self.pyramid = true;
    }

    fn icc_profile(&self) -> Option<Arc<[u8]>> {
        self.icc.clone()
    }

    fn storage(&self) -> Storage {
        let base = &self.levels[0];
        Storage {
            tile: base
                .tiled
                .then(|| Dimensions::new(base.chunk_w, base.chunk_h)),
            levels: self.levels[1..]
                .iter()
                .map(|l| Dimensions::new(l.width, l.height))
                .collect(),
        }
    }
}

fn corrupt(what: &str) -> ImageError {
    ImageError::Corrupt(format!("tiff: {what}"))
}

/// One decoded chunk: 8-bit interleaved samples in `model` (JPEG chunks come back as RGB).
struct Chunk {
    data: Vec<u8>,
    /// Stored width (rows are this long) and rows.
    width: u32,
    rows: u32,
    spp: usize,
    model: Photometric,
}

/// Decode the chunks that intersect `region`, a band of chunk rows at a time, and assemble them
/// into a raster at full resolution or shrunk by a whole factor while still at least `target`.
/// Float samples map `range` onto black..white ([`float_range`]). CMYK goes through its profile
/// (or `cmyk_profile`) to sRGB; other models keep their stored colour.
fn decode(
    source: &dyn RandomAccess,
    layout: &Layout,
    region: Rect,
    target: Dimensions,
    range: (f64, f64),
    cmyk_profile: CmykProfile,
) -> Result<Raster, ImageError> {
    let scale = Scale {
        range,
        stretch: layout.photometric != Photometric::Palette,
    };
    let alpha = layout.alpha.is_some();
    let out_layout = match (layout.photometric, alpha) {
        (Photometric::WhiteIsZero | Photometric::BlackIsZero, false) => PixelLayout::Gray8,
        (Photometric::WhiteIsZero | Photometric::BlackIsZero, true) => PixelLayout::GrayAlpha8,
        (_, false) => PixelLayout::Rgb8,
        (_, true) => PixelLayout::Rgba8,
    };
    let cmyk = layout.photometric == Photometric::Cmyk;
    // CMYK is gathered as CMYK(A) and converted through the profile at the end.
    let inter_channels = if cmyk {
        4 + usize::from(alpha)
    } else {
        out_layout.channels()
    };
    let mut assembler = assemble::Assembler::new(region, target, inter_channels);
    let (cw, ch) = if layout.ojpeg_stream.is_some() {
        (layout.width, layout.height)
    } else {
        (layout.chunk_w, layout.chunk_h)
    };
    let (rx1, ry1) = (region.x + region.w, region.y + region.h);
    let stride = region.w as usize * inter_channels;
    // At full resolution the chunks are copied straight into the output rows; shrinking, a band
    // of rows is gathered first and then pushed.
    let in_place = assembler.is_full_resolution();
    let into_rows = in_place && decodes_into_rows(layout, inter_channels);
    let mut spare: Vec<u8> = Vec::new();
    for cy in region.y / ch..=(ry1 - 1) / ch {
        let (y0, band_y1) = (cy * ch, (cy * ch + ch).min(ry1));
        let band_y0 = y0.max(region.y);
        let rows = (band_y1 - band_y0) as usize;
        let band: &mut [u8] = if in_place {
            assembler
                .rows_in_place(rows)
                .ok_or_else(|| corrupt("region rows"))?
        } else {
            spare.clear();
            spare.resize(rows * stride, 0);
            &mut spare
        };
        for cx in region.x / cw..=(rx1 - 1) / cw {
            crate::cancel::check()?;
            // JPEG chunks are decoded only down to the last row the region needs.
            let wanted = band_y1 - y0;
            let x0 = cx * cw;
            // A JPEG chunk wholly inside the region's columns, from its first row, is decoded
            // straight into the output rows.
            if into_rows && band_y0 == y0 && x0 >= region.x && x0 + cw <= rx1 {
                let window = jpeg::Window {
                    width: cw,
                    rows: wanted,
                    channels: inter_channels,
                    stride,
                    offset: (x0 - region.x) as usize * inter_channels,
                };
                if jpeg_chunk_into(source, layout, cx, cy, window, band)? {
                    continue;
                }
            }
            let chunk = read_chunk(source, layout, cx, cy, scale, wanted)?;
            let rows = if is_jpeg(layout) {
                wanted
            } else {
                ch.min(layout.height - y0)
            };
            // A chunk that decodes smaller than the part of the image it covers would leave
            // made-up (black) pixels: refuse it.
            if chunk.width < cw.min(layout.width - x0) || chunk.rows < rows {
                return Err(corrupt(
                    "strip or tile decodes smaller than the image area it covers",
                ));
            }
            let (xa, xb) = (x0.max(region.x), (x0 + chunk.width).min(rx1));
            for y in band_y0..band_y1 {
                let s = (((y - y0) * chunk.width + (xa - x0)) as usize) * chunk.spp;
                let d =
                    ((y - band_y0) as usize) * stride + ((xa - region.x) as usize) * inter_channels;
                let n = (xb - xa) as usize;
                let (Some(src), Some(dst)) = (
                    chunk.data.get(s..s + n * chunk.spp),
                    band.get_mut(d..d + n * inter_channels),
                ) else {
                    return Err(corrupt("chunk smaller than declared"));
                };
                convert_row(layout, &chunk, src, dst, inter_channels);
            }
        }
        if !in_place {
            for row in spare.chunks_exact(stride) {
                assembler.push(row);
            }
        }
    }
    let (out_w, out_h) = assembler.size();
    let extent = assembler.extent();
    let inter = assembler.finish();
    let icc = layout.icc.as_deref();
    let data = match (cmyk, alpha) {
        (true, false) => colour::cmyk_to_srgb(&inter, icc, cmyk_profile),
        (true, true) => colour::cmyka_to_srgba(&inter, icc, cmyk_profile),
        (false, _) => inter,
    };
    let mut raster =
        Raster::from_data(out_w, out_h, out_layout, data).ok_or_else(|| corrupt("raster size"))?;
    raster.extent = extent;
    Ok(raster)
}

/// The float range shown as black to white: SMin/SMaxSampleValue when present, 0–1 when the
/// data lie within it, otherwise the data's own extent (scanned once over the whole image).
fn float_range(source: &dyn RandomAccess, layout: &Layout) -> Result<(f64, f64), ImageError> {
    if layout.format != SampleFormat::Float {
        return Ok((0.0, 1.0));
    }
    if let Some(r) = layout.range {
        return Ok(r);
    }
    let mut extent: Option<(f64, f64)> = None;
    let planes = if layout.planar { layout.spp } else { 1 };
    for plane in 0..planes.min(layout.colour_samples) {
        for cy in 0..layout.down {
            for cx in 0..layout.across {
                let (raw, _, _) = stored_chunk(source, layout, cx, cy, plane)?;
                if let Some((lo, hi)) = samples::float_extent(layout, &raw) {
                    extent = Some(extent.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
                }
            }
        }
    }
    Ok(match extent {
        Some((lo, hi)) if lo >= 0.0 && hi <= 1.0 => (0.0, 1.0),
        Some((lo, hi)) if hi > lo => (lo, hi),
        _ => (0.0, 1.0),
    })
}

/// Whether the chunks are JPEG streams (new or old style).
fn is_jpeg(layout: &Layout) -> bool {
    matches!(layout.compression, Compression::Jpeg | Compression::OldJpeg)
}

/// Read chunk (`cx`, `cy`) with all its planes, as 8-bit interleaved samples; a JPEG chunk only
/// down to row `rows_wanted`.
fn read_chunk(
    source: &dyn RandomAccess,
    layout: &Layout,
    cx: u32,
    cy: u32,
    scale: Scale,
    rows_wanted: u32,
) -> Result<Chunk, ImageError> {
    if is_jpeg(layout) {
        return jpeg_chunk(source, layout, cx, cy, rows_wanted);
    }
    if layout.photometric == Photometric::YCbCr {
        return ycbcr_chunk(source, layout, cx, cy);
    }
    let lab = matches!(layout.photometric, Photometric::Lab { .. });
    if lab && !(layout.bits == 8 || layout.bits == 16) {
        return Err(ImageError::Unsupported(
            "tiff: Lab other than 8- or 16-bit".into(),
        ));
    }
    let planes = if layout.planar { layout.spp } else { 1 };
    let (width, rows) = (layout.chunk_w, chunk_rows(layout, cy));
    // Interleaved chunks hand over their decoded buffer; planes are gathered into a new one.
    let mut out = if planes > 1 {
        vec![0; width as usize * rows as usize * layout.spp]
    } else {
        Vec::new()
    };
    for plane in 0..planes {
        // Extra samples that are not alpha are never shown: their planes are not read.
        if planes > 1 && plane >= layout.colour_samples && layout.alpha != Some(plane) {
            continue;
        }
        let (raw, w, h) = stored_chunk(source, layout, cx, cy, plane)?;
        let per_row = w as usize * layout.stored_spp();
        let bytes = if lab && layout.bits == 16 {
            let plane = (planes > 1).then_some(plane);
            samples::lab16_to_8bit(layout, &raw, per_row, h as usize, plane)
        } else {
            samples::to_8bit(layout, raw, per_row, h as usize, scale)
        };
        if bytes.len() < per_row * h as usize {
            return Err(corrupt("short strip or tile"));
        }
        if planes == 1 {
            out = bytes;
        } else {
            for (i, v) in bytes.into_iter().enumerate() {
                if let Some(d) = out.get_mut(i * layout.spp + plane) {
                    *d = v;
                }
            }
        }
    }
    Ok(Chunk {
        data: out,
        width,
        rows,
        spp: layout.spp,
        model: layout.photometric,
    })
}

/// A YCbCr chunk that is not JPEG-compressed, as one Y, Cb, Cr per pixel.
fn ycbcr_chunk(
    source: &dyn RandomAccess,
    layout: &Layout,
    cx: u32,
    cy: u32,
) -> Result<Chunk, ImageError> {
    let (width, rows) = (layout.chunk_w, chunk_rows(layout, cy));
    let expected = ycbcr::stored_size(layout, width, rows)?;
    let index = layout.chunk_index(cx, cy);
    let mut data = decompressed(source, layout, index, expected, width, rows)?;
    if layout.predictor == 2 {
        undo_horizontal(&mut data, width as usize * 3, 3, 1, layout.little_endian);
    }
    let data = ycbcr::unpack(layout, &data, width, rows)
        .ok_or_else(|| corrupt("short YCbCr strip or tile"))?;
    Ok(Chunk {
        data,
        width,
        rows,
        spp: 3,
        model: Photometric::YCbCr,
    })
}

/// The decompressed, un-predicted bytes of one plane of chunk (`cx`, `cy`), with its stored
/// width and rows.
fn stored_chunk(
    source: &dyn RandomAccess,
    layout: &Layout,
    cx: u32,
    cy: u32,
    plane: usize,
) -> Result<(Vec<u8>, u32, u32), ImageError> {
    let index = plane as u64 * u64::from(layout.across) * u64::from(layout.down)
        + layout.chunk_index(cx, cy);
    let rows = chunk_rows(layout, cy);
    let width = layout.chunk_w;
    let expected = layout.row_bytes(width) as u64 * u64::from(rows);
    let mut data = decompressed(source, layout, index, expected, width, rows)?;
    let bytes_per_sample = usize::from(layout.bits / 8);
    let per_row = width as usize * layout.stored_spp();
    match layout.predictor {
        2 if layout.bits >= 8 => undo_horizontal(
            &mut data,
            per_row,
            layout.stored_spp(),
            bytes_per_sample,
            layout.little_endian,
        ),
        3 => undo_float(&mut data, per_row, bytes_per_sample, layout.little_endian),
        _ => {}
    }
    Ok((data, width, rows))
}

/// Chunk `index` (a `width` x `rows` strip or tile) read and decompressed into exactly `expected`
/// bytes, refused when that is more than [`MAX_CHUNK_BYTES`].
fn decompressed(
    source: &dyn RandomAccess,
    layout: &Layout,
    index: u64,
    expected: u64,
    width: u32,
    rows: u32,
) -> Result<Vec<u8>, ImageError> {
    if expected > MAX_CHUNK_BYTES {
        return Err(ImageError::TooLarge("tiff: strip or tile too large".into()));
    }
    let mut raw = raw_bytes(source, layout, index)?;
    if layout.reversed_bits {
        raw.iter_mut().for_each(|b| *b = b.reverse_bits());
    }
    decompress(layout.compression, &raw, expected as usize, width, rows)
}

/// Rows stored in chunks of row `cy`: strips end at the image's bottom, tiles are always full.
fn chunk_rows(layout: &Layout, cy: u32) -> u32 {
    if layout.tiled {
        layout.chunk_h
    } else {
        layout
            .chunk_h
            .min(layout.height.saturating_sub(cy * layout.chunk_h))
    }
}

/// The compressed bytes of chunk `index`. A chunk that runs past the end of the file is refused,
/// as libtiff does: decoders would otherwise fill the missing part with made-up pixels (libjpeg
/// pads a cut scan with gray, fax with white). Only uncompressed data is clipped to the file (its
/// decoder refuses it when what is there is shorter than the chunk), since libtiff too accepts a
/// single uncompressed strip whose byte count is too large.
fn raw_bytes(
    source: &dyn RandomAccess,
    layout: &Layout,
    index: u64,
) -> Result<Vec<u8>, ImageError> {
    let i = usize::try_from(index).map_err(|_| corrupt("chunk index"))?;
    let (Some(&offset), Some(&count)) = (layout.offsets.get(i), layout.byte_counts.get(i)) else {
        return Err(corrupt("missing strip or tile offset"));
    };
    if count > MAX_CHUNK_BYTES {
        return Err(ImageError::TooLarge("tiff: strip or tile too large".into()));
    }
    let len = source.len();
    let past_end = offset.checked_add(count).is_none_or(|end| end > len);
    if offset >= len || (past_end && layout.compression != Compression::None) {
        return Err(ImageError::Corrupt(format!(
            "tiff: strip or tile {i} ({count} bytes at {offset}) lies outside the file ({len} bytes)"
        )));
    }
    Ok(source.read_range(offset, count as usize)?)
}

/// A JPEG-compressed chunk (or, for old-style JPEG with an interchange stream, the whole image),
/// its first `rows_wanted` rows.
fn jpeg_chunk(
    source: &dyn RandomAccess,
    layout: &Layout,
    cx: u32,
    cy: u32,
    rows_wanted: u32,
) -> Result<Chunk, ImageError> {
    if layout.planar {
        return Err(ImageError::Unsupported(
            "tiff: planar JPEG-compressed images".into(),
        ));
    }
    let (raw, tables) = match (layout.ojpeg_stream, &layout.ojpeg_tables) {
        (Some((offset, length)), _) => (ojpeg::whole_image(source, layout, offset, length)?, None),
        (None, Some(ojpeg_tables)) => {
            let index = layout.chunk_index(cx, cy);
            let data = raw_bytes(source, layout, index)?;
            let rows = chunk_rows(layout, cy);
            let stream =
                ojpeg::chunk_stream(source, layout, ojpeg_tables, &data, layout.chunk_w, rows)?;
            (stream, None)
        }
        (None, None) => {
            let index = layout.chunk_index(cx, cy);
            (
                raw_bytes(source, layout, index)?,
                layout.jpeg_tables.as_deref(),
            )
        }
    };
    // Old-style JPEG YCbCr with a ReferenceBlackWhite is converted here, with it, as libtiff does.
    let reference = layout
        .ycbcr_reference
        .filter(|_| layout.compression == Compression::OldJpeg);
    let mut px = jpeg::decode(tables, &raw, reference.is_some(), rows_wanted)?;
    if let (Some(reference), 3) = (reference, px.channels) {
        ojpeg::ycbcr_to_rgb(&mut px.data, reference);
    }
    let model = match px.channels {
        1 => Photometric::BlackIsZero,
        4 => Photometric::Cmyk,
        _ => Photometric::Rgb,
    };
    if px.channels != layout.colour_samples && !(px.channels == 3 && layout.colour_samples == 3) {
        return Err(corrupt(
            "JPEG channels do not match the photometric interpretation",
        ));
    }
    Ok(Chunk {
        data: px.data,
        width: px.width,
        rows: px.height,
        spp: px.channels,
        model,
    })
}

/// Whether the chunks of `layout` are new-style JPEG stored as the output is (gray or RGB with
/// `channels` samples, no alpha, not planar, not CMYK), so that [`jpeg_chunk_into`] may decode
/// them straight into the output rows.
fn decodes_into_rows(layout: &Layout, channels: usize) -> bool {
    layout.compression == Compression::Jpeg
        && layout.ojpeg_stream.is_none()
        && layout.ojpeg_tables.is_none()
        && !layout.planar
        && layout.alpha.is_none()
        && layout.photometric != Photometric::Cmyk
        && layout.colour_samples == channels
}

/// Decode JPEG chunk (`cx`, `cy`) of a layout that [`decodes_into_rows`] straight into `band`
/// ([`jpeg::decode_into`]); `Ok(false)`, with nothing written, when its stream does not fit.
fn jpeg_chunk_into(
    source: &dyn RandomAccess,
    layout: &Layout,
    cx: u32,
    cy: u32,
    window: jpeg::Window,
    band: &mut [u8],
) -> Result<bool, ImageError> {
    let raw = raw_bytes(source, layout, layout.chunk_index(cx, cy))?;
    jpeg::decode_into(layout.jpeg_tables.as_deref(), &raw, window, band)
}

/// Convert a run of pixels of `chunk` to the intermediate layout: copied as they are when the
/// stored samples already are that layout, else pixel by pixel.
fn convert_row(layout: &Layout, chunk: &Chunk, src: &[u8], dst: &mut [u8], channels: usize) {
    if chunk.spp == 0 || channels == 0 {
        return;
    }
    let as_stored = layout.alpha.is_none()
        && chunk.spp == channels
        && matches!(
            chunk.model,
            Photometric::Rgb | Photometric::Cmyk | Photometric::BlackIsZero
        );
    if as_stored {
        dst.copy_from_slice(src);
        return;
    }
    for (s, d) in src
        .chunks_exact(chunk.spp)
        .zip(dst.chunks_exact_mut(channels))
    {
        pixel(layout, chunk.model, s, d);
    }
}

/// Convert one pixel of 8-bit samples in `model` to the intermediate layout (CMYK stays CMYK).
fn pixel(layout: &Layout, model: Photometric, src: &[u8], dst: &mut [u8]) {
    let alpha = layout.alpha.and_then(|i| src.get(i).copied());
    let colour_len = dst.len() - usize::from(alpha.is_some());
    match model {
        Photometric::WhiteIsZero | Photometric::BlackIsZero => {
            let g = if model == Photometric::WhiteIsZero {
                255 - src[0]
            } else {
                src[0]
            };
            dst[..colour_len].fill(g);
        }
        Photometric::Rgb | Photometric::Cmyk => {
            dst[..colour_len].copy_from_slice(&src[..colour_len]);
        }
        Photometric::Palette => {
            let n = 1usize << layout.bits;
            let i = usize::from(src[0]).min(n - 1);
            for (c, d) in dst.iter_mut().take(3).enumerate() {
                let v = layout.color_map.get(c * n + i).copied().unwrap_or(0);
                *d = (v >> 8) as u8;
            }
        }
        Photometric::Lab { unsigned_ab } => {
            let l = f64::from(src[0]) * 100.0 / 255.0;
            let ab = |v: u8| {
                if unsigned_ab {
                    f64::from(v) - 128.0
                } else {
                    f64::from(v as i8)
                }
            };
            dst[..3].copy_from_slice(&colour::lab_to_srgb(l, ab(src[1]), ab(src[2])));
        }
        Photometric::YCbCr => {
            let (y, cb, cr) = (
                f64::from(src[0]),
                f64::from(src[1]) - 128.0,
                f64::from(src[2]) - 128.0,
            );
            let c = |v: f64| v.round().clamp(0.0, 255.0) as u8;
            dst[0] = c(y + 1.402 * cr);
            dst[1] = c(y - 0.344136 * cb - 0.714136 * cr);
            dst[2] = c(y + 1.772 * cb);
        }
    }
    if let Some(a) = alpha {
        let last = dst.len() - 1;
        if layout.premultiplied && a > 0 && a < 255 && model != Photometric::Cmyk {
            for v in &mut dst[..colour_len] {
                *v = ((u16::from(*v) * 255 + u16::from(a) / 2) / u16::from(a)).min(255) as u8;
            }
        }
        dst[last] = a;
    }
}
