//! A JPEG coded as R, G and B at full resolution, decoded into [`RgbPlanes`] one component at a
//! time (libjpeg's raw data interface): no colour conversion, no interleaving.

use mozjpeg_sys::J_COLOR_SPACE;

use super::RgbPlanes;
#[cfg(target_arch = "x86_64")]
use super::{entropy::Scan, idct::Idct};
use crate::readers::jpeg::Decoder;
use crate::ImageError;

/// Rows libjpeg hands out per call at full resolution: one row of 8×8 blocks.
const BLOCK_ROWS: usize = 8;

/// The most a tile's decoder may hold in whole-image buffers (a progressive tile's
/// coefficients): far above any tile a TIFF stores.
const MAX_DECODER_MEMORY: u64 = 64 << 20;

/// Decode the first `rows` rows of `stream` (a standalone JPEG) into `planes`, its top-left
/// pixel at column `x`, row `y` of the planes. `Ok(false)`, with nothing written, unless the
/// stream is `width` pixels wide (a whole number of blocks), at least `rows` high, and coded
/// as R, G and B, none subsampled; and unless its rows, rounded up to whole blocks, fit in the
/// planes there. Rows below `rows` are never decoded. libjpeg errors and cancellation unwind:
/// run inside the readers' `guard`.
pub(crate) fn decode_rgb(
    stream: &[u8],
    width: usize,
    planes: &mut RgbPlanes,
    at: (usize, usize),
    rows: usize,
) -> Result<bool, ImageError> {
    decode_rgb_with(stream, width, planes, at, rows, true)
}

/// [`decode_rgb`], trying Tessera's own decoder first when `own`.
fn decode_rgb_with(
    stream: &[u8],
    width: usize,
    planes: &mut RgbPlanes,
    (x, y): (usize, usize),
    rows: usize,
    own: bool,
) -> Result<bool, ImageError> {
    let block_rows = rows.div_ceil(BLOCK_ROWS) * BLOCK_ROWS;
    let stride = planes.stride;
    let fits = rows > 0
        && width.is_multiple_of(8)
        && x.checked_add(width).is_some_and(|r| r <= stride)
        && y.checked_add(block_rows).is_some_and(|b| b <= planes.rows);
    if stream.is_empty() || !fits {
        return Ok(false);
    }
    let mut decoder = Decoder::new(stream, MAX_DECODER_MEMORY)?;
    let (image_width, image_height) = decoder.image_size();
    let coded = decoder.sampling() == [(1, 1); 3]
        && decoder.jpeg_color_space() == J_COLOR_SPACE::JCS_RGB
        && usize::try_from(image_width).is_ok_and(|w| w == width)
        && usize::try_from(image_height).is_ok_and(|h| h >= rows);
    if !coded {
        return Ok(false);
    }
    #[cfg(target_arch = "x86_64")]
    if own && decode_own(stream, width, planes, (x, y), block_rows) {
        return Ok(true);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = own;
    decoder.start_raw()?;
    for band in (y..y + block_rows).step_by(BLOCK_ROWS) {
        // Inside: `y + block_rows <= planes.rows` and `x + width <= stride`.
        let rows = planes.planes.each_mut().map(|plane| {
            let mut lines = plane[band * stride..(band + BLOCK_ROWS) * stride].chunks_mut(stride);
            std::array::from_fn(|_| match lines.next() {
                Some(line) => &mut line[x..x + width],
                None => &mut [][..],
            })
        });
        decoder.read_raw(rows)?;
    }
    // The decompressor is destroyed unfinished: the rows below were not wanted.
    Ok(true)
}

/// [`decode_rgb`]'s work by Tessera's own entropy decoder and inverse DCT (bit for bit what
/// libjpeg's SIMD build decodes), for the streams it takes; `false` for any other, or at the
/// first irregularity in the data, after which libjpeg decodes the tile again from the start.
/// The caller has checked the size, the coding and that the rows fit.
#[cfg(target_arch = "x86_64")]
fn decode_own(
    stream: &[u8],
    width: usize,
    planes: &mut RgbPlanes,
    (x, y): (usize, usize),
    block_rows: usize,
) -> bool {
    let (Some(idct), Some(scan)) = (Idct::new(), Scan::parse(stream)) else {
        return false;
    };
    let Ok(mcu_rows) = u32::try_from(block_rows / BLOCK_ROWS) else {
        return false;
    };
    // Scan::decode refuses more rows than the frame has.
    if usize::try_from(scan.width()).ok() != Some(width) {
        return false;
    }
    let stride = planes.stride;
    let mut written = true;
    let decoded = scan.decode(mcu_rows, |c, column, row, coef, quant| {
        let at = (y + row as usize * BLOCK_ROWS) * stride + x + column as usize * 8;
        let block = planes.planes[c]
            .get_mut(at..)
            .and_then(|out| idct.block(coef, quant, out, stride));
        written &= block.is_some();
    });
    decoded.is_some() && written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::jpeg_libjpeg::Compressor;
    use crate::planar::Window;
    use mozjpeg_sys::{jpeg_set_colorspace, jpeg_write_scanlines, JSAMPROW};

    /// An RGB-coded JPEG (components R, G, B, 1×1) of `pixels`.
    fn rgb_jpeg(
        pixels: &[u8],
        w: u16,
        h: u16,
        quality: u8,
        restart: u32,
        optimize: bool,
    ) -> Vec<u8> {
        let mut c = Compressor::new(w, h, false, quality, false);
        let cinfo = c.cinfo();
        // SAFETY: a created compressor with its defaults set.
        unsafe { jpeg_set_colorspace(cinfo, J_COLOR_SPACE::JCS_RGB) };
        cinfo.restart_interval = restart;
        cinfo.optimize_coding = i32::from(optimize);
        c.start(None).expect("start");
        for row in pixels.chunks(usize::from(w) * 3) {
            let pointer: JSAMPROW = row.as_ptr();
            // SAFETY: one row of `w` RGB pixels, while started.
            unsafe { jpeg_write_scanlines(c.cinfo(), &pointer, 1) };
        }
        c.finish()
    }

    /// Pixels with smooth areas, edges and noise (xorshift).
    fn picture(w: usize, h: usize, seed: u64) -> Vec<u8> {
        let mut s = seed | 1;
        let mut out = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let noise = (s % 48) as usize;
                let edge = if (x / 37 + y / 23) % 2 == 0 { 200 } else { 0 };
                out.push(((x * 255 / w + noise) % 256) as u8);
                out.push(((y * 255 / h + edge / 2 + noise / 2) % 256) as u8);
                out.push(((edge + noise * 3) % 256) as u8);
            }
        }
        out
    }

    /// Both ways into fresh planes: (result, planes) by libjpeg alone and with our decoder.
    fn both(
        stream: &[u8],
        w: usize,
        h: usize,
        rows: usize,
    ) -> [(Result<bool, String>, Vec<u8>); 2] {
        [false, true].map(|own| {
            let mut planes = RgbPlanes::new(
                w + 16,
                h.div_ceil(8) * 8 + 8,
                Window {
                    x: 8,
                    y: 8,
                    width: w,
                    height: h.min(rows),
                },
            )
            .expect("planes");
            let result = crate::readers::guard("test", || {
                decode_rgb_with(stream, w, &mut planes, (8, 8), rows, own)
            })
            .map_err(|e| e.to_string());
            (result, planes.planes.concat())
        })
    }

    #[test]
    fn own_decoder_matches_libjpeg_bit_for_bit() {
        if Idct::new().is_none() {
            return;
        }
        let cases = [
            (256, 256, 90, 0, false),
            (256, 256, 98, 0, true),
            (64, 40, 95, 3, false),
            (128, 96, 92, 1, true),
            (512, 256, 100, 7, false),
            (8, 8, 90, 0, false),
            (256, 256, 50, 16, true),
        ];
        for (i, &(w, h, q, restart, optimize)) in cases.iter().enumerate() {
            let pixels = picture(w, h, i as u64 + 7);
            let stream = rgb_jpeg(&pixels, w as u16, h as u16, q, restart, optimize);
            assert!(
                Scan::parse(&stream).is_some(),
                "case {i}: our decoder takes it"
            );
            for rows in [h, h / 2 + 1] {
                let [libjpeg, own] = both(&stream, w, h, rows);
                assert_eq!(libjpeg.0, Ok(true), "case {i}");
                assert_eq!(own.0, Ok(true), "case {i}");
                assert!(libjpeg.1 == own.1, "case {i}, {rows} rows: planes differ");
            }
        }
    }

    #[test]
    fn damaged_streams_answer_as_libjpeg_alone() {
        if Idct::new().is_none() {
            return;
        }
        let (w, h) = (128, 64);
        for (i, restart) in [0u32, 2].into_iter().enumerate() {
            let stream = rgb_jpeg(
                &picture(w, h, 3 + i as u64),
                w as u16,
                h as u16,
                92,
                restart,
                false,
            );
            let data = stream.len() - 600;
            let mut s = 0x1234_5678_9abc_def1u64 + i as u64;
            for case in 0..400 {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let mut bad = stream.clone();
                match case % 4 {
                    0 => bad[data + (s as usize % 590)] ^= 1 << ((s >> 32) % 8),
                    1 => bad.truncate(data + (s as usize % 590)),
                    2 => bad[data + (s as usize % 590)] = 0xFF,
                    _ => {
                        let at = s as usize % bad.len();
                        bad[at] = (s >> 40) as u8;
                    }
                }
                let [libjpeg, own] = both(&bad, w, h, h);
                assert_eq!(libjpeg.0, own.0, "case {case}");
                if libjpeg.0 == Ok(true) {
                    assert!(libjpeg.1 == own.1, "case {case}: planes differ");
                }
            }
        }
    }
}
