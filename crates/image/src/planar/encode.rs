//! [`RgbPlanes`] written as a baseline JPEG through libjpeg's raw data interface, converted to
//! YCbCr one iMCU row at a time ([`Stripe`]): the same tables, sampling and markers as the
//! packed-raster encoder (`crate::encode::jpeg_libjpeg`) writes.

use mozjpeg_sys::{jpeg_write_raw_data, JSAMPROW};

use super::ycc::Stripe;
use super::RgbPlanes;
use crate::encode::jpeg::halves_chroma;
use crate::encode::jpeg_libjpeg::Compressor;
use crate::ImageError;

/// The planes' image as a JPEG at `quality` (1–100), chroma halved below 90 as every JPEG
/// Tessera writes. libjpeg errors and cancellation unwind: run inside the readers' `guard`.
pub(crate) fn encode(planes: &RgbPlanes, quality: u8) -> Result<Vec<u8>, ImageError> {
    let fail = |message: &str| ImageError::Encode {
        format: "jpg",
        message: message.into(),
    };
    let window = planes.window();
    let (Ok(width), Ok(height)) = (u16::try_from(window.width), u16::try_from(window.height))
    else {
        return Err(fail("larger than the JPEG limit of 65535"));
    };
    let halve = halves_chroma(quality);
    let mut c = Compressor::new(width, height, false, quality, halve);
    c.cinfo().raw_data_in = 1;
    c.start(None)?;
    let cinfo = c.cinfo();
    let components = if cinfo.comp_info.is_null() || cinfo.num_components != 3 {
        &[][..]
    } else {
        // SAFETY: a started compressor's `comp_info` holds its 3 components, their block
        // counts computed.
        unsafe { std::slice::from_raw_parts(cinfo.comp_info, 3) }
    };
    let [luma, cb, cr] = components else {
        return Err(fail("not three components"));
    };
    let widths = [luma, cb, cr].map(|c| c.width_in_blocks as usize * 8);
    let mut stripe = Stripe::new(widths[0], widths[1], halve);
    let lines = stripe.luma_rows();
    let sampled =
        |c: &mozjpeg_sys::jpeg_component_info, n: i32| (c.h_samp_factor, c.v_samp_factor) == (n, n);
    let factor = if halve { 2 } else { 1 };
    let as_set = sampled(luma, factor)
        && sampled(cb, 1)
        && sampled(cr, 1)
        && widths[1] == widths[2]
        && cinfo.max_v_samp_factor as usize * 8 == lines;
    if !as_set {
        return Err(fail("libjpeg laid out the components otherwise"));
    }
    let mut top = 0;
    while top < window.height {
        stripe.fill(planes, top);
        let rows = |plane: &[u8], width: usize| -> [JSAMPROW; 16] {
            std::array::from_fn(|i| {
                plane
                    .get(i * width..)
                    .map_or(std::ptr::null(), <[u8]>::as_ptr)
            })
        };
        let (y, b, r) = (
            rows(&stripe.luma, stripe.luma_width),
            rows(&stripe.cb, stripe.chroma_width),
            rows(&stripe.cr, stripe.chroma_width),
        );
        let image = [y.as_ptr(), b.as_ptr(), r.as_ptr()];
        // SAFETY: a started raw-data compressor; per component as many row pointers as its
        // sampling needs of one iMCU row (`lines` luma rows, 8 chroma rows), each to its
        // `width_in_blocks` × 8 samples in the stripe. libjpeg only reads them.
        let written = unsafe { jpeg_write_raw_data(cinfo, image.as_ptr(), lines as u32) };
        if written as usize != lines {
            return Err(fail("libjpeg took no rows"));
        }
        top += lines;
    }
    Ok(c.finish())
}
