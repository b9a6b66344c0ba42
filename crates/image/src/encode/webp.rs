//! Lossy WebP output through libwebp (libwebp-sys); an ICC profile is added by [`super::webp_icc`].

use std::os::raw::c_int;

use libwebp_sys::{WebPEncodeRGB, WebPEncodeRGBA, WebPFree};

use crate::{ImageError, PixelLayout, Raster};

/// Largest WebP side.
const MAX_SIDE: u32 = 16383;

/// Encode `raster` as lossy WebP at `quality` (0–100), keeping alpha, with `icc` when it is an
/// RGB profile of RGB pixels (WebP pixels are always RGB: gray is written as RGB, untagged).
pub(crate) fn encode(
    raster: &Raster,
    quality: u8,
    icc: Option<&[u8]>,
) -> Result<Vec<u8>, ImageError> {
    let fail = |message: String| ImageError::Encode {
        format: "webp",
        message,
    };
    if raster.width > MAX_SIDE
        || raster.height > MAX_SIDE
        || raster.width == 0
        || raster.height == 0
    {
        return Err(fail(format!(
            "{}x{} is outside the WebP limit of {MAX_SIDE}",
            raster.width, raster.height
        )));
    }
    let (data, channels) = match raster.layout {
        PixelLayout::Rgb8 | PixelLayout::Rgba8 => (
            std::borrow::Cow::Borrowed(&raster.data),
            raster.layout.channels(),
        ),
        PixelLayout::Gray8 => (
            std::borrow::Cow::Owned(raster.data.iter().flat_map(|&g| [g, g, g]).collect()),
            3,
        ),
        PixelLayout::GrayAlpha8 => (
            std::borrow::Cow::Owned(
                raster
                    .data
                    .chunks_exact(2)
                    .flat_map(|p| [p[0], p[0], p[0], p[1]])
                    .collect(),
            ),
            4,
        ),
    };
    let stride = raster.width as usize * channels;
    if data.len() < stride * raster.height as usize {
        return Err(fail("raster shorter than its size".into()));
    }
    // Sides are at most 16383 and channels at most 4, so these fit in a c_int.
    let (w, h, s) = (
        raster.width as c_int,
        raster.height as c_int,
        stride as c_int,
    );
    let q = f32::from(quality.min(100));
    let mut output: *mut u8 = std::ptr::null_mut();
    // SAFETY: `data` holds at least `stride * height` bytes of tightly packed RGB or RGBA pixels
    // (checked above) and outlives the call; `output` is a valid out-pointer that libwebp sets
    // to a buffer it allocates, or leaves null on failure.
    let size = unsafe {
        if channels == 4 {
            WebPEncodeRGBA(data.as_ptr(), w, h, s, q, &mut output)
        } else {
            WebPEncodeRGB(data.as_ptr(), w, h, s, q, &mut output)
        }
    };
    if output.is_null() {
        return Err(fail("libwebp failed".into()));
    }
    // SAFETY: on success libwebp returned a non-null buffer of exactly `size` bytes, which stays
    // valid until the WebPFree below.
    let bytes = unsafe { std::slice::from_raw_parts(output, size) }.to_vec();
    // SAFETY: `output` was allocated by libwebp's encoder and is freed exactly once.
    unsafe { WebPFree(output.cast()) };
    if size == 0 {
        return Err(fail("libwebp produced no data".into()));
    }
    // Gray pixels are written as RGB, which no profile of the gray raster describes.
    match super::fitting(icc, false).filter(|_| !raster.layout.is_gray()) {
        Some(icc) => super::webp_icc::embed(&bytes, icc).map_err(fail),
        None => Ok(bytes),
    }
}
