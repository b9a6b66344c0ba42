//! Joined tiles decode to exactly the pixels of the tiles they were made of (4:4:4, where each
//! block decodes on its own), requantisation lands on the output quality's tables, and what
//! cannot be joined without decoding is refused.

use super::*;
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

/// A textured RGB picture: gradients and a pattern, so that blocks carry AC energy (the encoder's
/// tests use it too).
pub(crate) fn picture(width: u32, height: u32) -> Vec<u8> {
    let mut data = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            let ripple = ((x * 7 + y * 3) % 23) as u8 * 5;
            data.extend_from_slice(&[(x % 256) as u8, (y % 256) as u8, ripple]);
        }
    }
    data
}

/// `data` (RGB, `width` wide) cropped to `w` × `h` at (`x`, `y`).
fn crop(data: &[u8], width: u32, (x, y, w, h): (u32, u32, u32, u32)) -> Vec<u8> {
    let mut out = Vec::new();
    for row in y..y + h {
        let start = ((row * width + x) * 3) as usize;
        out.extend_from_slice(&data[start..start + (w * 3) as usize]);
    }
    out
}

fn encode(data: &[u8], w: u32, h: u32, quality: u8, sampling: SamplingFactor) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, quality);
    encoder.set_sampling_factor(sampling);
    encoder
        .encode(data, w as u16, h as u16, ColorType::Rgb)
        .expect("encode");
    out
}

fn decode(jpeg: &[u8]) -> (u32, u32, Vec<u8>) {
    let d = mozjpeg::Decompress::new_mem(jpeg).expect("header");
    let mut started = d.rgb().expect("start");
    let (w, h) = (started.width() as u32, started.height() as u32);
    let data: Vec<u8> = started.read_scanlines().expect("rows");
    (w, h, data)
}

/// The quantisation tables in a JPEG's DQT segments, natural order, by slot.
fn tables(jpeg: &[u8]) -> Vec<(u8, [u16; 64])> {
    const ZIGZAG: [usize; 64] = [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27,
        20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
        58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
    ];
    let mut found = Vec::new();
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xFF {
        let marker = jpeg[i + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        if marker == 0xDB {
            let mut j = i + 4;
            while j < i + 2 + len {
                let (precision, slot) = (jpeg[j] >> 4, jpeg[j] & 15);
                assert_eq!(precision, 0, "8-bit tables only in these tests");
                let mut table = [0u16; 64];
                for (k, &z) in ZIGZAG.iter().enumerate() {
                    table[z] = u16::from(jpeg[j + 1 + k]);
                }
                found.push((slot, table));
                j += 65;
            }
        }
        if marker == 0xDA {
            break;
        }
        i += 2 + len;
    }
    found
}

/// The picture cut into `tile` px JPEG tiles, as pieces of an output whose origin is (`x`, `y`).
fn tiles(
    data: &[u8],
    (width, height): (u32, u32),
    tile: u32,
    quality: u8,
    sampling: SamplingFactor,
) -> Vec<Piece> {
    let mut pieces = Vec::new();
    for ty in (0..height).step_by(tile as usize) {
        for tx in (0..width).step_by(tile as usize) {
            let (w, h) = (tile.min(width - tx), tile.min(height - ty));
            let stream = encode(&crop(data, width, (tx, ty, w, h)), w, h, quality, sampling);
            pieces.push(Piece {
                stream,
                size: (w, h),
                x: i64::from(tx),
                y: i64::from(ty),
            });
        }
    }
    pieces
}

const MB: u64 = 1 << 20;

#[test]
fn joined_tiles_decode_to_the_tiles_own_pixels() {
    let (width, height) = (512, 384);
    let data = picture(width, height);
    let pieces = tiles(&data, (width, height), 256, 90, SamplingFactor::R_4_4_4);
    let joined = compose(&pieces, width, height, None, 64 * MB)
        .expect("compose")
        .expect("joinable");
    let (w, h, pixels) = decode(&joined);
    assert_eq!((w, h), (width, height));
    for piece in &pieces {
        let (tw, th, own) = decode(&piece.stream);
        let cut = crop(&pixels, width, (piece.x as u32, piece.y as u32, tw, th));
        assert_eq!(cut, own, "tile at {},{}", piece.x, piece.y);
    }
    // Without a target the stored tables are kept.
    assert_eq!(tables(&joined), tables(&pieces[0].stream));
}

#[test]
fn a_window_on_the_mcu_grid_is_cut_from_the_tiles_it_covers() {
    let (width, height) = (512, 512);
    let data = picture(width, height);
    let mut pieces = tiles(&data, (width, height), 256, 92, SamplingFactor::R_4_4_4);
    // The output starts at (128, 64) of the picture and is 300 × 200.
    for p in &mut pieces {
        p.x -= 128;
        p.y -= 64;
    }
    let joined = compose(&pieces, 300, 200, None, 64 * MB)
        .expect("compose")
        .expect("joinable");
    let (w, h, pixels) = decode(&joined);
    assert_eq!((w, h), (300, 200));
    let (_, _, whole) = decode(&pieces[0].stream);
    // The part of the first tile inside the window.
    assert_eq!(
        crop(&pixels, 300, (0, 0, 128, 192)),
        crop(&whole, 256, (128, 64, 128, 192))
    );
}

#[test]
fn requantised_to_a_lower_quality_the_tables_are_that_qualitys_and_the_pixels_stay_close() {
    let (width, height) = (512, 512);
    let data = picture(width, height);
    let pieces = tiles(&data, (width, height), 256, 95, SamplingFactor::F_2_2);
    let stored: usize = pieces.iter().map(|p| p.stream.len()).sum();
    let joined = compose(&pieces, width, height, Some(60), 64 * MB)
        .expect("compose")
        .expect("joinable");
    let found = tables(&joined);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].1, table_for(60, false));
    assert_eq!(found[1].1, table_for(60, true));
    assert!(joined.len() < stored, "{} >= {stored}", joined.len());
    let (_, _, pixels) = decode(&joined);
    let error: u64 = pixels
        .iter()
        .zip(&data)
        .map(|(&a, &b)| u64::from(a.abs_diff(b)))
        .sum();
    let mean = error as f64 / data.len() as f64;
    // As far from the original as encoding at quality 60 directly.
    let direct = decode(&encode(&data, width, height, 60, SamplingFactor::F_2_2)).2;
    let direct_error: u64 = direct
        .iter()
        .zip(&data)
        .map(|(&a, &b)| u64::from(a.abs_diff(b)))
        .sum();
    let direct_mean = direct_error as f64 / data.len() as f64;
    assert!(
        mean < direct_mean * 1.25 + 0.5,
        "{mean} against {direct_mean}"
    );
}

#[test]
fn a_higher_output_quality_keeps_the_stored_tables() {
    let data = picture(512, 256);
    let pieces = tiles(&data, (512, 256), 256, 70, SamplingFactor::R_4_4_4);
    let joined = compose(&pieces, 512, 256, Some(90), 64 * MB)
        .expect("compose")
        .expect("joinable");
    assert_eq!(tables(&joined), tables(&pieces[0].stream));
    let (_, _, pixels) = decode(&joined);
    assert_eq!(
        crop(&pixels, 512, (256, 0, 256, 256)),
        decode(&pieces[1].stream).2
    );
    // One whole tile whose tables stay is sent as it is.
    let one = compose(&pieces[..1], 256, 256, Some(90), 64 * MB)
        .expect("compose")
        .expect("joinable");
    assert_eq!(one, pieces[0].stream);
}

#[test]
fn what_cannot_be_joined_without_decoding_is_refused() {
    let (width, height) = (512, 256);
    let data = picture(width, height);
    // Off the MCU grid (4:2:0 MCUs are 16 px).
    let mut pieces = tiles(&data, (width, height), 256, 90, SamplingFactor::F_2_2);
    for p in &mut pieces {
        p.x -= 8;
    }
    assert!(compose(&pieces, 400, 256, None, 64 * MB)
        .expect("compose")
        .is_none());
    // Tiles at different qualities.
    let mut pieces = tiles(&data, (width, height), 256, 90, SamplingFactor::R_4_4_4);
    pieces[1].stream = encode(
        &crop(&data, width, (256, 0, 256, 256)),
        256,
        256,
        80,
        SamplingFactor::R_4_4_4,
    );
    assert!(compose(&pieces, width, height, None, 64 * MB)
        .expect("compose")
        .is_none());
    // A tile whose frame is not the size its container gives.
    let mut pieces = tiles(&data, (width, height), 256, 90, SamplingFactor::R_4_4_4);
    pieces[1].size = (256, 128);
    assert!(compose(&pieces, width, height, None, 64 * MB)
        .expect("compose")
        .is_none());
}

#[test]
fn a_broken_tile_is_an_error_not_a_crash() {
    let data = picture(512, 256);
    let mut pieces = tiles(&data, (512, 256), 256, 90, SamplingFactor::R_4_4_4);
    let keep = pieces[1].stream.len() / 3;
    pieces[1].stream.truncate(keep);
    let result = crate::readers::guard("dct", || compose(&pieces, 512, 256, None, 64 * MB));
    assert!(
        matches!(result, Err(ImageError::Corrupt(_))),
        "{:?}",
        result.map(|r| r.map(|b| b.len()))
    );
}
