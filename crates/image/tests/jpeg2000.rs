//! JPEG 2000 reader: the corpus's JP2/JPX/J2K files, broken ones, resolution levels, decode areas,
//! the per-read pixel limit and how much of a tiled file one tile read touches.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use tessera_iiif::{Dimensions, Rect};
use tessera_image::transform::crop::crop;
use tessera_image::{open, ImageError, PixelLayout, ReadLimits, SourceFormat};

/// The corpus's tiled JP2: 640x480 in 20 tiles of 128x128, each in 6 tile-parts (one per resolution).
const TILED: &str = "jp2/jp2_rgb_tiled_lossy__pillow-test-card-lossy-tiled.jp2";

/// A 1024x1024 gray JP2 in 16 tiles of 256x256, one tile-part each, 4 resolutions, 9/7 at 1:8 (128 KB).
/// Made with Pillow 13 / OpenJPEG 2.5: a diagonal ramp `(x/4 + y/4) % 256` plus uniform noise in
/// [-40, 40) (numpy default_rng(7)), `tile_size=(256, 256), num_resolutions=4, irreversible=True,
/// quality_mode="rates", quality_layers=[8]`.
const FIXTURE: &str = "tests/data/tiled-gray-1024-tiles-256.jp2";

fn fixture() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)).expect("fixture")
}

fn is_jpeg2000(format: &str) -> bool {
    matches!(format, "JP2" | "JPX" | "J2K")
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let sum: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.len() as f64
}

#[test]
fn every_ok_jpeg2000_file_opens_and_decodes_at_its_size() {
    let mut checked = 0;
    for e in manifest().iter().filter(|e| e.ok && is_jpeg2000(&e.format)) {
        let mut reader = open_file(&e.path).unwrap_or_else(|err| panic!("{}: {err}", e.path));
        let h = *reader.header();
        assert_eq!(h.format, SourceFormat::Jpeg2000, "{}", e.path);
        assert_eq!(
            (Some(h.width), Some(h.height)),
            (e.width, e.height),
            "{}",
            e.path
        );
        let raster = read_full(reader.as_mut()).unwrap_or_else(|err| panic!("{}: {err}", e.path));
        assert_eq!(
            (raster.width, raster.height),
            (h.width, h.height),
            "{}",
            e.path
        );
        assert_eq!(raster.data.len(), raster.stride() * raster.height as usize);
        let lo = raster.data.iter().min().unwrap();
        let hi = raster.data.iter().max().unwrap();
        if e.path.contains("huge-tile-width") {
            // One component sampled every 13th column (6 samples a row), all mid-grey as
            // opj_decompress gives them; shown on the 76-pixel reference grid.
            assert_eq!((*lo, *hi), (128, 128), "{}", e.path);
        } else {
            assert!(lo < hi, "{}: flat image", e.path);
        }
        checked += 1;
    }
    assert!(
        checked >= 8,
        "only {checked} JPEG 2000 files in the manifest"
    );
}

#[test]
fn broken_jpeg2000_files_fail_cleanly() {
    let mut checked = 0;
    for e in manifest()
        .iter()
        .filter(|e| !e.ok && is_jpeg2000(&e.format))
    {
        let result = open_file(&e.path).and_then(|mut r| read_full(r.as_mut()));
        match result {
            Err(ImageError::Corrupt(m) | ImageError::Unsupported(m)) => {
                assert!(m.starts_with("jpeg2000: "), "{}: {m}", e.path);
                assert!(!m.contains("panicked"), "{}: {m}", e.path);
            }
            other => panic!("{}: {:?}", e.path, other.map(|r| (r.width, r.height))),
        }
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn truncated_jpeg2000_never_panics_and_never_decodes() {
    for path in [
        TILED,
        "jp2/j2k-codestream_rgb__glymur-goodstuff.j2k",
        VALIDATOR_JP2,
        "jp2/jpx_rgb_2717x3701__pillow-balloon.jpf",
        "jp2/jp2_rgb__exiv2-relax.jp2",
    ] {
        let file = std::fs::read(corpus(path)).unwrap();
        for cut in [
            0,
            12,
            40,
            100,
            300,
            file.len() / 3,
            file.len() / 2,
            file.len() * 9 / 10,
            file.len() - 10,
        ] {
            let result = open_bytes(file[..cut].to_vec()).and_then(|mut r| read_full(r.as_mut()));
            assert!(
                matches!(
                    result,
                    Err(ImageError::Corrupt(_) | ImageError::UnknownFormat | ImageError::Io(_))
                ),
                "{path} cut at {cut}: {:?}",
                result.map(|r| (r.width, r.height))
            );
        }
    }
}

#[test]
fn storage_reports_tiles_only_when_tiled_and_every_level() {
    let reader = open_file(TILED).unwrap();
    let storage = reader.storage();
    assert_eq!(storage.tile, Some(Dimensions::new(128, 128)));
    let levels: Vec<(u32, u32)> = storage.levels.iter().map(|d| (d.width, d.height)).collect();
    assert_eq!(
        levels,
        [(320, 240), (160, 120), (80, 60), (40, 30), (20, 15)]
    );
    // Untiled, odd sizes: levels are ceil(size / 2^r).
    let reader = open_file("jp2/jpx_rgb_2717x3701__pillow-balloon.jpf").unwrap();
    let storage = reader.storage();
    assert_eq!(storage.tile, None);
    let levels: Vec<(u32, u32)> = storage.levels.iter().map(|d| (d.width, d.height)).collect();
    assert_eq!(
        levels,
        [(1359, 1851), (680, 926), (340, 463), (170, 232), (85, 116)]
    );
}

#[test]
fn region_reads_equal_crops_of_full_reads() {
    for (path, rect) in [
        (TILED, Rect::new(128, 128, 128, 128)),
        (TILED, Rect::new(100, 50, 333, 222)),
        (TILED, Rect::new(512, 384, 128, 96)),
        (VALIDATOR_JP2, Rect::new(120, 340, 300, 211)),
        (
            "jp2/j2k-codestream_rgb__glymur-goodstuff.j2k",
            Rect::new(1, 2, 479, 7),
        ),
        (
            "jp2/jp2_rgba_ycc__pillow-rgb_trns_ycbc.jp2",
            Rect::new(10, 20, 30, 40),
        ),
    ] {
        let mut reader = open_file(path).unwrap();
        let full = read_full(reader.as_mut()).unwrap();
        let region = reader.read(rect, Dimensions::new(rect.w, rect.h)).unwrap();
        assert_eq!(region, crop(&full, rect).unwrap(), "{path} {rect:?}");
    }
}

const VALIDATOR_JP2: &str = "iiif-validator/67352ccc-d1b0-11e1-89ae-279075081939.jp2";

#[test]
fn the_validator_jp2_matches_its_png() {
    let mut jp2 = open_file(VALIDATOR_JP2).unwrap();
    let mut png = open_file(VALIDATOR_PNG).unwrap();
    let a = read_full(jp2.as_mut()).unwrap();
    let b = read_full(png.as_mut()).unwrap();
    assert_eq!(a.layout, PixelLayout::Rgb8);
    let mad = mean_abs_diff(&a.data, &b.data);
    assert!(mad < 1.0, "mean abs diff {mad}");
}

#[test]
fn reduced_reads_use_the_levels_and_look_like_the_full_image() {
    let mut reader = open_file(VALIDATOR_JP2).unwrap();
    let full = read_full(reader.as_mut()).unwrap();
    // 1000 → level 2 is 250x250: a 250 target reads it, a 251 target needs level 1 (500).
    let r = reader
        .read(Rect::full(1000, 1000), Dimensions::new(250, 250))
        .unwrap();
    assert_eq!((r.width, r.height), (250, 250));
    let r1 = reader
        .read(Rect::full(1000, 1000), Dimensions::new(251, 251))
        .unwrap();
    assert_eq!((r1.width, r1.height), (500, 500));
    // Compare the 1/4 level with a 4x4 box average of the full image.
    let mut boxed = Vec::with_capacity(250 * 250 * 3);
    for y in 0..250 {
        for x in 0..250 {
            for c in 0..3 {
                let mut s = 0u32;
                for dy in 0..4 {
                    for dx in 0..4 {
                        s += u32::from(full.data[((y * 4 + dy) * 1000 + x * 4 + dx) * 3 + c]);
                    }
                }
                boxed.push(((s + 8) / 16) as u8);
            }
        }
    }
    let mad = mean_abs_diff(&r.data, &boxed);
    assert!(mad < 4.0, "level 2 vs box-averaged full: {mad}");
    // A region at a level: the edge tile of a 256-tile grid at 1/2 (x 768..1000 → 384..500).
    let edge = reader
        .read(Rect::new(768, 512, 232, 256), Dimensions::new(116, 128))
        .unwrap();
    assert_eq!((edge.width, edge.height), (116, 128));
    assert_eq!(edge, crop(&r1, Rect::new(384, 256, 116, 128)).unwrap());
}

#[test]
fn the_pixel_limit_applies_to_what_a_read_decodes() {
    // The tiled fixture (1024x1024 in 256 px tiles): each tile is within the limit, so it opens.
    let limits = ReadLimits {
        max_pixels: 300_000,
        ..ReadLimits::default()
    };
    let mut reader = open(Arc::new(fixture()), &limits).expect("a tiled image opens");
    let thumb = reader
        .read(Rect::full(1024, 1024), Dimensions::new(512, 512))
        .expect("level 1 is 262,144 pixels");
    assert_eq!((thumb.width, thumb.height), (512, 512));
    reader
        .read(Rect::new(0, 0, 512, 512), Dimensions::new(512, 512))
        .expect("a full-resolution tile");
    let refused = reader.read(Rect::full(1024, 1024), Dimensions::new(1024, 1024));
    assert!(
        matches!(refused, Err(ImageError::OverBudget(_))),
        "{refused:?}"
    );
    // An untiled image is one tile, held to the limit at open like any untiled image (OpenJPEG
    // sets up a whole tile's code-blocks at every resolution, whatever the level read).
    let source = tessera_source::FileSource::open(&corpus(VALIDATOR_JP2)).unwrap();
    let untiled = open(Arc::new(source), &limits);
    assert!(
        matches!(untiled, Err(ImageError::TooLarge(_))),
        "{:?}",
        untiled.err()
    );
}

#[test]
fn sixteen_bit_gray_scales_linearly_to_eight_bits() {
    // Pillow reads this file as I;16 with values 291..694 (mean 384.1): dark, as stored.
    let mut reader = open_file("jp2/jp2_gray16__pillow-16bit.cropped.jp2").unwrap();
    let r = read_full(reader.as_mut()).unwrap();
    assert_eq!(r.layout, PixelLayout::Gray8);
    let (lo, hi) = (r.data.iter().min().unwrap(), r.data.iter().max().unwrap());
    assert_eq!((*lo, *hi), (1, 3), "291/257 and 694/257, rounded");
}

#[test]
fn a_tile_of_a_tiled_file_reads_little_of_it() {
    let file = fixture();
    let size = file.len() as u64;
    let source = Arc::new(Counting::new(file));
    let mut reader = open(source.clone(), &ReadLimits::default()).expect("open");
    assert_eq!(reader.storage().tile, Some(Dimensions::new(256, 256)));
    let opened = source.read();
    assert!(opened < 4096, "{opened} bytes read to open");
    let full = read_full(reader.as_mut()).unwrap();
    for (x, y) in [(0, 0), (256, 512), (768, 768)] {
        source.reset();
        let rect = Rect::new(x, y, 256, 256);
        let tile = reader.read(rect, Dimensions::new(256, 256)).expect("read");
        let read = source.read();
        assert!(
            read < size / 4,
            "{read} of {size} bytes read for the tile at {x},{y}"
        );
        assert_eq!(tile, crop(&full, rect).unwrap(), "tile at {x},{y}");
    }
}

/// `file` (a JP2 whose `colr` box holds an ICC profile) with that profile replaced by `icc`.
fn with_icc(file: &[u8], icc: &[u8]) -> Vec<u8> {
    let be = |at: usize| u32::from_be_bytes(file[at..at + 4].try_into().unwrap()) as usize;
    let jp2h = file.windows(4).position(|w| w == b"jp2h").unwrap() - 4;
    let colr = file.windows(4).position(|w| w == b"colr").unwrap() - 4;
    assert_eq!(file[colr + 8], 2, "colr method 2: an ICC profile");
    let (old_len, new_len) = (be(colr), 8 + 3 + icc.len());
    let mut out = file[..colr + 11].to_vec();
    out.extend_from_slice(icc);
    out.extend_from_slice(&file[colr + old_len..]);
    out[colr..colr + 4].copy_from_slice(&(new_len as u32).to_be_bytes());
    let jp2h_len = be(jp2h) + new_len - old_len;
    out[jp2h..jp2h + 4].copy_from_slice(&(jp2h_len as u32).to_be_bytes());
    out
}

#[test]
fn an_icc_profile_in_the_colr_box_is_reported_and_converted_to_srgb() {
    use tessera_image::colour::{stage, IccMode};
    let file = std::fs::read(corpus("jp2/jp2_rgb__exiv2-relax.jp2")).unwrap();
    let adobe = moxcms::ColorProfile::new_adobe_rgb().encode().unwrap();
    let tagged = with_icc(&file, &adobe);
    let open_read = |bytes: Vec<u8>| {
        let mut reader = open(Arc::new(bytes), &ReadLimits::default()).unwrap();
        let profile = reader.icc_profile();
        (read_full(reader.as_mut()).unwrap(), profile)
    };
    let (plain, original) = open_read(file.clone());
    let (kept, profile) = open_read(tagged);
    assert_eq!(
        profile.as_deref(),
        Some(&adobe[..]),
        "the colr box's profile, byte for byte"
    );
    // The exiv2 file's own colr box holds another profile; the stored pixels are the same.
    assert!(original.is_some_and(|p| p[..] != adobe[..]));
    let mut converted = kept.clone();
    assert!(stage::apply(&mut converted, profile.as_ref(), IccMode::ToSrgb).is_none());
    assert_eq!(kept, plain, "readers return the stored values");
    let mad = mean_abs_diff(&converted.data, &kept.data);
    assert!(
        mad > 1.0,
        "Adobe RGB to sRGB changed the pixels by only {mad}"
    );
    // Adobe RGB's green is more saturated than sRGB's: converted, green pixels get greener, not greyer.
    let green_gain: i64 = kept
        .data
        .chunks(3)
        .zip(converted.data.chunks(3))
        .filter(|(k, _)| {
            let (r, g, b) = (i32::from(k[0]), i32::from(k[1]), i32::from(k[2]));
            g > r + 30 && g > b + 30
        })
        .map(|(k, c)| i64::from(c[1]) - i64::from(c[0]) - (i64::from(k[1]) - i64::from(k[0])))
        .sum();
    assert!(green_gain > 0, "{green_gain}");
}
