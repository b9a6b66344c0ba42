//! PNG files whose zlib stream fails its Adler-32 or whose image data chunk fails its CRC are
//! refused as corrupt, whatever the region asked for, instead of being shown.

mod common;

use common::{corpus, open_bytes, read_full};
use tessera_iiif::{Dimensions, Rect};
use tessera_image::ImageError;

const W: u32 = 40;
const H: u32 = 300;

/// A valid PNG: generated RGB (the png crate's encoder), or an Adam7-interlaced one of the corpus
/// (written by Pillow), whose size is `W` x `H` too.
fn good_png(interlaced: bool) -> Vec<u8> {
    if interlaced {
        let path = corpus("png/interlaced_rgba8__pillow-pil123rgba.png");
        return std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let data: Vec<u8> = (0..W * H * 3).map(|i| (i * 7 % 251) as u8).collect();
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, W, H);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().expect("header");
        writer.write_image_data(&data).expect("data");
    }
    out
}

/// (offset of the chunk's data, its length) for every chunk of `kind`.
fn chunks(png: &[u8], kind: &[u8; 4]) -> Vec<(usize, usize)> {
    let mut at = 8;
    let mut found = Vec::new();
    while at + 12 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        if &png[at + 4..at + 8] == kind {
            found.push((at + 8, len));
        }
        at += 12 + len;
    }
    found
}

/// Recompute the CRC of the chunk whose data starts at `data_at`.
fn fix_crc(png: &mut [u8], data_at: usize, len: usize) {
    let mut crc = flate2::Crc::new();
    crc.update(&png[data_at - 4..data_at + len]);
    png[data_at + len..data_at + len + 4].copy_from_slice(&crc.sum().to_be_bytes());
}

/// The PNG with its zlib stream's Adler-32 (the last IDAT's last four bytes) changed, every CRC
/// still right.
fn bad_adler(interlaced: bool) -> Vec<u8> {
    let mut png = good_png(interlaced);
    let &(at, len) = chunks(&png, b"IDAT").last().expect("IDAT");
    png[at + len - 1] ^= 0x5A;
    fix_crc(&mut png, at, len);
    png
}

/// The PNG with its first IDAT's CRC wrong and its data intact.
fn bad_crc() -> Vec<u8> {
    let mut png = good_png(false);
    let (at, len) = chunks(&png, b"IDAT")[0];
    png[at + len] ^= 0x01;
    png
}

fn top_tile(bytes: Vec<u8>) -> Result<(), ImageError> {
    let mut r = open_bytes(bytes)?;
    let w = r.header().width;
    r.read(Rect::new(0, 0, w, 16), Dimensions::new(w, 16))
        .map(|_| ())
}

#[test]
fn good_files_still_decode_in_full_and_by_region() {
    for interlaced in [false, true] {
        let mut r = open_bytes(good_png(interlaced)).expect("opens");
        let full = read_full(r.as_mut()).expect("decodes");
        if !interlaced {
            assert_eq!((full.width, full.height), (W, H));
            assert_eq!(&full.data[..6], &[0, 7, 14, 21, 28, 35]);
        }
        top_tile(good_png(interlaced)).expect("a region decodes");
        // After the first (verified) read, a region read from the same reader works too.
        let w = full.width;
        let part = r
            .read(Rect::new(0, 20, w, 16), Dimensions::new(w, 16))
            .expect("second read");
        let at = (20 * w) as usize * full.layout.channels();
        assert_eq!(part.data, full.data[at..at + part.data.len()]);
    }
}

#[test]
fn a_failed_adler32_is_corrupt() {
    for interlaced in [false, true] {
        let mut r = open_bytes(bad_adler(interlaced)).expect("the header is fine");
        let result = read_full(r.as_mut());
        assert!(
            matches!(result, Err(ImageError::Corrupt(ref m)) if m.contains("png")),
            "interlaced {interlaced}: {:?}",
            result.map(|r| r.width)
        );
        // A region far above the end of the stream is refused too.
        assert!(matches!(
            top_tile(bad_adler(interlaced)),
            Err(ImageError::Corrupt(_))
        ));
    }
}

#[test]
fn a_failed_idat_crc_is_corrupt() {
    let result = open_bytes(bad_crc()).and_then(|mut r| read_full(r.as_mut()));
    assert!(
        matches!(result, Err(ImageError::Corrupt(_))),
        "{:?}",
        result.map(|r| r.width)
    );
    assert!(matches!(top_tile(bad_crc()), Err(ImageError::Corrupt(_))));
}
