//! JPEG reader: header from the SOF marker, pixels from mozjpeg (libjpeg-turbo) with DCT scaling.

use std::os::raw::c_int;
use std::sync::Arc;

use mozjpeg::{ColorSpace, Decompress};
use mozjpeg_sys::{jpeg_common_struct, jpeg_error_mgr, jpeg_std_error};
use tessera_iiif::{Dimensions, Rect};
use tessera_source::RandomAccess;

use super::{checked_header, guard, jpeg_meta, ImageHeader, ImageReader, ReadLimits};
use crate::colour::{self, IccMode};
use crate::transform::crop::scale_rect;
use crate::{ImageError, PixelLayout, Raster, SourceFormat};

/// Most stray bytes between marker segments tolerated while looking for the frame header.
const MAX_JUNK_BYTES: u64 = 1 << 16;

/// libjpeg's "premature end of JPEG file" warning code (`JWRN_JPEG_EOF`).
const JWRN_JPEG_EOF: c_int = 120;

/// Reads baseline, progressive, arithmetic-coded, gray and (naively converted) CMYK JPEGs.
pub(crate) struct JpegReader {
    header: ImageHeader,
    source: Arc<dyn RandomAccess>,
    icc_mode: IccMode,
    /// EXIF orientation found before the first scan (1 when none).
    pub(crate) orientation: u8,
}

/// Bytes at the start of the file searched for the EXIF orientation.
const META_PREFIX: usize = 256 << 10;

impl JpegReader {
    /// Parse the frame header (SOFn) by walking the marker segments; no pixels are decoded.
    pub(crate) fn open(
        source: Arc<dyn RandomAccess>,
        limits: &ReadLimits,
    ) -> Result<Self, ImageError> {
        let (width, height) = frame_size(source.as_ref())?;
        let header = checked_header(width, height, SourceFormat::Jpeg, limits)?;
        let orientation = jpeg_meta::parse(&source.read_range(0, META_PREFIX)?).orientation;
        Ok(Self {
            header,
            source,
            icc_mode: limits.icc,
            orientation,
        })
    }
}

impl ImageReader for JpegReader {
    fn header(&self) -> &ImageHeader {
        &self.header
    }

    fn read(&mut self, region: Rect, target: Dimensions) -> Result<Raster, ImageError> {
        let data = self.source.read_all()?;
        let header = self.header;
        let icc_mode = self.icc_mode;
        guard("jpeg", || decode(&data, &header, region, target, icc_mode))
    }
}

/// Width and height from the first SOFn marker.
fn frame_size(source: &dyn RandomAccess) -> Result<(u32, u32), ImageError> {
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
            let mut sof = [0u8; 5];
            source
                .read_exact_at(pos + 4, &mut sof)
                .map_err(|_| corrupt("truncated frame header"))?;
            let height = u32::from(u16::from_be_bytes([sof[1], sof[2]]));
            let width = u32::from(u16::from_be_bytes([sof[3], sof[4]]));
            return Ok((width, height));
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

/// Decode `region`, scaled by a DCT factor where the target allows. libjpeg errors and truncation
/// warnings unwind as panics and are caught by [`guard`].
fn decode(
    data: &[u8],
    header: &ImageHeader,
    region: Rect,
    target: Dimensions,
    icc_mode: IccMode,
) -> Result<Raster, ImageError> {
    let meta = jpeg_meta::parse(data);
    let corrupt = |e: std::io::Error| ImageError::Corrupt(format!("jpeg: {e}"));
    let mut dec = Decompress::with_err(strict_error_manager())
        .from_mem(data)
        .map_err(corrupt)?;
    dec.scale(dct_scale(region, target));
    let (started, layout, cmyk) = match dec.color_space() {
        ColorSpace::JCS_GRAYSCALE => (dec.grayscale().map_err(corrupt)?, PixelLayout::Gray8, false),
        ColorSpace::JCS_CMYK | ColorSpace::JCS_YCCK => (
            dec.to_colorspace(ColorSpace::JCS_CMYK).map_err(corrupt)?,
            PixelLayout::Rgb8,
            true,
        ),
        _ => (dec.rgb().map_err(corrupt)?, PixelLayout::Rgb8, false),
    };
    let mut started = started;
    let (ow, oh) = (
        u32::try_from(started.width()).map_err(|_| ImageError::Corrupt("jpeg: width".into()))?,
        u32::try_from(started.height()).map_err(|_| ImageError::Corrupt("jpeg: height".into()))?,
    );
    let rect = scale_rect(region, header.width, header.height, ow, oh);
    let in_channels = if cmyk { 4 } else { layout.channels() };
    let mut row = vec![0u8; ow as usize * in_channels];
    // CMYK rows are gathered as CMYK and converted at the end, through the profile if any.
    let mut out = Raster::new(rect.w, rect.h, layout)?;
    let out_stride = rect.w as usize * in_channels;
    let mut cmyk_data = if cmyk {
        vec![0u8; out_stride * rect.h as usize]
    } else {
        Vec::new()
    };
    let (x0, x1) = (
        rect.x as usize * in_channels,
        (rect.x + rect.w) as usize * in_channels,
    );
    for y in 0..rect.y + rect.h {
        started.read_scanlines_into(&mut row).map_err(corrupt)?;
        if y < rect.y {
            continue;
        }
        let at = (y - rect.y) as usize * out_stride;
        let target = if cmyk { &mut cmyk_data } else { &mut out.data };
        let (Some(src), Some(dst)) = (row.get(x0..x1), target.get_mut(at..at + out_stride)) else {
            return Err(ImageError::Corrupt("jpeg: row outside the image".into()));
        };
        dst.copy_from_slice(src);
    }
    if cmyk {
        // Adobe (Photoshop) JPEGs store CMYK inverted; undo it so 0 means no ink.
        if meta.adobe {
            cmyk_data.iter_mut().for_each(|v| *v = 255 - *v);
        }
        out.data = colour::cmyk_to_srgb(&cmyk_data, meta.icc.as_deref());
    } else if let (Some(icc), IccMode::ToSrgb) = (meta.icc.as_deref(), icc_mode) {
        colour::icc_to_srgb(&mut out, icc);
    }
    Ok(out)
}

/// A libjpeg error manager that unwinds on fatal errors and on the premature-end-of-file warning,
/// so truncated files fail instead of being silently filled in with gray. Other corrupt-data
/// warnings (stray bytes, short segments) are tolerated as libjpeg-based readers do.
pub(crate) fn strict_error_manager() -> jpeg_error_mgr {
    // SAFETY: jpeg_error_mgr is a plain C struct for which all-zero bytes are valid (null
    // function pointers are `None`); jpeg_std_error fills every field with libjpeg's defaults.
    let mut err: jpeg_error_mgr = unsafe { std::mem::zeroed() };
    // SAFETY: `err` is a valid, exclusively borrowed jpeg_error_mgr.
    unsafe { jpeg_std_error(&mut err) };
    err.error_exit = Some(fatal_error);
    err.emit_message = Some(emit_message);
    err
}

/// libjpeg `error_exit`: unwind with the message code.
extern "C-unwind" fn fatal_error(cinfo: &mut jpeg_common_struct) {
    std::panic::resume_unwind(Box::new(format!("libjpeg error {}", message_code(cinfo))));
}

/// libjpeg `emit_message`: level −1 is a warning about corrupt data; truncation is fatal.
extern "C-unwind" fn emit_message(cinfo: &mut jpeg_common_struct, level: c_int) {
    if level < 0 && message_code(cinfo) == JWRN_JPEG_EOF {
        std::panic::resume_unwind(Box::new(format!("libjpeg warning {}", message_code(cinfo))));
    }
}

/// The message code of the error manager attached to `cinfo`.
fn message_code(cinfo: &jpeg_common_struct) -> c_int {
    // SAFETY: libjpeg only calls the error hooks with `err` pointing at the error manager that
    // the Decompress object owns and keeps alive for its whole lifetime.
    unsafe { cinfo.err.as_ref() }.map_or(0, |e| e.msg_code)
}
