//! Pyramidal and tiled TIFF: levels found as a directory chain, as SubIFDs and in BigTIFF; a
//! request reads the smallest level that still gives its size, and only the tiles it needs.

mod common;

use std::sync::Arc;

use common::pyramid::{self, Options, Placement};
use common::Counting;
use tessera_iiif::{Dimensions, Rect};
use tessera_image::{open, ImageError, PixelLayout, Raster, ReadLimits};

/// Sizes of a 2000x1200 pyramid as libvips writes it (each level half the previous, rounded down).
const SIZES: [(u32, u32); 4] = [(2000, 1200), (1000, 600), (500, 300), (250, 150)];

/// Red and green follow the position in the full image, blue names the level (40 per level).
fn paint(sizes: &[(u32, u32)]) -> impl Fn(usize, u32, u32) -> [u8; 3] + '_ {
    move |l, x, y| {
        let (w, h) = sizes[l];
        [
            (u64::from(x) * 255 / u64::from(w)) as u8,
            (u64::from(y) * 255 / u64::from(h)) as u8,
            (l * 40) as u8,
        ]
    }
}

fn options(placement: Placement, big: bool, deflate: bool) -> Options {
    Options {
        tile: 128,
        placement,
        big,
        deflate,
        jpeg: false,
        webp: false,
        rgb_jpeg: false,
    }
}

/// Every pixel of `raster` (read from `region` of level `level`) equals what was written there.
fn assert_level_pixels(raster: &Raster, level: usize, region: Rect) {
    assert_eq!(raster.layout, PixelLayout::Rgb8);
    assert_eq!((raster.width, raster.height), (region.w, region.h));
    let expect = paint(&SIZES);
    for y in 0..region.h {
        for x in 0..region.w {
            let i = ((y * region.w + x) * 3) as usize;
            let want = expect(level, region.x + x, region.y + y);
            assert_eq!(
                &raster.data[i..i + 3],
                &want,
                "pixel ({x}, {y}) of level {level} region {region:?}"
            );
        }
    }
}

#[test]
fn every_placement_finds_every_level() {
    for (placement, big, deflate) in [
        (Placement::Chain, false, false),
        (Placement::Chain, true, true),
        (Placement::SubIfds, false, true),
        (Placement::SubIfds, true, false),
    ] {
        let file = pyramid::write(&SIZES, options(placement, big, deflate), paint(&SIZES)).file;
        let mut reader = open(Arc::new(file), &ReadLimits::default()).expect("open");
        assert_eq!(
            (reader.header().width, reader.header().height),
            (2000, 1200)
        );
        let full = Rect::full(2000, 1200);
        // Each level's own size picks that level; anything in between picks the next larger one.
        for (level, (w, h), target) in [
            (0, SIZES[0], (2000, 1200)),
            (0, SIZES[0], (1001, 601)),
            (1, SIZES[1], (1000, 600)),
            (1, SIZES[1], (600, 100)),
            (2, SIZES[2], (500, 300)),
            (3, SIZES[3], (250, 150)),
            (3, SIZES[3], (10, 10)),
        ] {
            let raster = reader
                .read(full, Dimensions::new(target.0, target.1))
                .expect("read");
            let what = format!("{placement:?} big={big} deflate={deflate} target {target:?}");
            // The level may be shrunk further by a whole factor that keeps the target's size.
            let k = (w / target.0).min(h / target.1).max(1);
            assert_eq!(
                (raster.width, raster.height),
                (w.div_ceil(k), h.div_ceil(k)),
                "{what}"
            );
            assert_eq!(raster.data[2], (level * 40) as u8, "{what}");
            if level >= 2 && k == 1 {
                assert_level_pixels(&raster, level, Rect::full(w, h));
            }
        }
    }
}

#[test]
fn a_region_maps_into_the_chosen_level() {
    let file = pyramid::write(
        &SIZES,
        options(Placement::Chain, false, true),
        paint(&SIZES),
    )
    .file;
    let mut reader = open(Arc::new(file), &ReadLimits::default()).expect("open");
    // A 512x512 window at 1/4 scale is 128x128 of level 2, starting at (256, 128).
    let raster = reader
        .read(Rect::new(1024, 512, 512, 512), Dimensions::new(128, 128))
        .expect("read");
    assert_level_pixels(&raster, 2, Rect::new(256, 128, 128, 128));
    // A window at full resolution reads level 0, unscaled, across tile boundaries.
    let raster = reader
        .read(Rect::new(100, 200, 300, 50), Dimensions::new(300, 50))
        .expect("read");
    assert_level_pixels(&raster, 0, Rect::new(100, 200, 300, 50));
    // The bottom-right edge tile of level 1 (clipped at the image edge).
    let raster = reader
        .read(Rect::new(1792, 1024, 208, 176), Dimensions::new(104, 88))
        .expect("read");
    assert_level_pixels(&raster, 1, Rect::new(896, 512, 104, 88));
}

#[test]
fn directories_that_are_not_levels_are_ignored() {
    // A thumbnail of another aspect and a larger image after the first are not levels.
    let sizes = [(2000, 1200), (300, 300), (3000, 1800), (500, 300)];
    let file = pyramid::write(
        &sizes,
        options(Placement::Chain, false, false),
        paint(&sizes),
    )
    .file;
    let mut reader = open(Arc::new(file), &ReadLimits::default()).expect("open");
    let raster = reader
        .read(Rect::full(2000, 1200), Dimensions::new(300, 180))
        .expect("read");
    assert_eq!((raster.width, raster.height), (500, 300));
    assert_eq!(raster.data[2], 120, "level written fourth");
}

#[test]
fn a_tile_of_a_large_pyramid_reads_little() {
    let sizes: Vec<(u32, u32)> = (0..6).map(|l| (6144 >> l, 6144 >> l)).collect();
    let file = pyramid::write(
        &sizes,
        Options {
            tile: 256,
            placement: Placement::Chain,
            big: false,
            deflate: false,
            jpeg: false,
            webp: false,
            rgb_jpeg: false,
        },
        |l, x, y| [(x % 251) as u8, (y % 241) as u8, l as u8],
    )
    .file;
    assert!(file.len() >= 100 << 20, "{} bytes", file.len());
    let source = Arc::new(Counting::new(file));
    let mut reader = open(source.clone(), &ReadLimits::default()).expect("open");
    let opened = source.read();
    for (region, target) in [
        (Rect::new(2048, 2048, 1024, 1024), Dimensions::new(256, 256)),
        (Rect::new(4096, 512, 256, 256), Dimensions::new(256, 256)),
        (Rect::full(6144, 6144), Dimensions::new(192, 192)),
    ] {
        source.reset();
        let raster = reader.read(region, target).expect("read");
        let read = source.read();
        assert!(raster.width >= target.width && raster.height >= target.height);
        assert!(
            read < 1 << 20,
            "{read} bytes read for {region:?} at {target:?}"
        );
    }
    assert!(opened < 1 << 20, "{opened} bytes read to open");
}

#[test]
fn edge_tiles_use_a_level_rounded_down() {
    // libvips rounds level sizes down; a viewer asks for the last tile at 1/2 as ceil(489 / 2) = 245,
    // of which level 1 holds 244.3 (as 244).
    let sizes = [(1001, 601), (500, 300), (250, 150)];
    let file = pyramid::write(
        &sizes,
        options(Placement::Chain, false, false),
        paint(&sizes),
    )
    .file;
    let mut reader = open(Arc::new(file), &ReadLimits::default()).expect("open");
    let raster = reader
        .read(Rect::new(512, 512, 489, 89), Dimensions::new(245, 45))
        .expect("read");
    assert_eq!((raster.width, raster.height), (244, 44));
    assert_eq!(raster.data[2], 40, "level 1");
    // A level that holds less than the target even before rounding is not used.
    let raster = reader
        .read(Rect::new(0, 0, 489, 89), Dimensions::new(246, 45))
        .expect("read");
    assert_eq!(raster.data[2], 0, "level 0");
}

#[test]
fn the_pixel_limit_applies_to_what_a_read_decodes() {
    let file = pyramid::write(
        &SIZES,
        options(Placement::Chain, false, false),
        paint(&SIZES),
    )
    .file;
    // 2000x1200 is over a limit of 200,000 pixels, but each read below stays under it.
    let limits = ReadLimits {
        max_pixels: 200_000,
        ..ReadLimits::default()
    };
    let mut reader = open(Arc::new(file), &limits).expect("a pyramid opens whatever its size");
    let thumb = reader
        .read(Rect::full(2000, 1200), Dimensions::new(250, 150))
        .expect("a thumbnail from level 3");
    assert_eq!((thumb.width, thumb.height), (250, 150));
    reader
        .read(Rect::new(0, 0, 256, 256), Dimensions::new(256, 256))
        .expect("a full-resolution tile");
    let refused = reader.read(Rect::full(2000, 1200), Dimensions::new(2000, 1200));
    assert!(
        matches!(refused, Err(ImageError::OverBudget(_))),
        "{refused:?}"
    );
}

#[test]
fn webp_compressed_tiles_are_decoded() {
    // Lossless WebP tiles (compression 50001): every pixel comes back as written.
    let opts = Options {
        webp: true,
        rgb_jpeg: false,
        ..options(Placement::Chain, false, false)
    };
    let file = pyramid::write(&SIZES, opts, paint(&SIZES)).file;
    let mut reader = open(Arc::new(file), &ReadLimits::default()).expect("open");
    let raster = reader
        .read(Rect::new(100, 200, 300, 50), Dimensions::new(300, 50))
        .expect("read");
    assert_level_pixels(&raster, 0, Rect::new(100, 200, 300, 50));
    let raster = reader
        .read(Rect::new(1792, 1024, 208, 176), Dimensions::new(104, 88))
        .expect("read");
    assert_level_pixels(&raster, 1, Rect::new(896, 512, 104, 88));
    let raster = reader
        .read(Rect::full(2000, 1200), Dimensions::new(250, 150))
        .expect("read");
    assert_level_pixels(&raster, 3, Rect::full(250, 150));
}

#[test]
fn a_corrupt_webp_tile_is_an_error() {
    let opts = Options {
        webp: true,
        rgb_jpeg: false,
        ..options(Placement::Chain, false, false)
    };
    let written = pyramid::write(&SIZES, opts, paint(&SIZES));
    let mut file = written.file;
    let (offset, len) = written.tiles[0][0];
    // Keep the RIFF header (so the size still parses) and garble the bitstream.
    for b in &mut file[offset as usize + 30..(offset + len) as usize] {
        *b = 0x5a;
    }
    let mut reader = open(Arc::new(file), &ReadLimits::default()).expect("open");
    let result = reader.read(Rect::new(0, 0, 64, 64), Dimensions::new(64, 64));
    assert!(matches!(result, Err(ImageError::Corrupt(_))), "{result:?}");
}

#[test]
fn jpeg_tiles_decoded_only_down_to_the_rows_a_region_needs_give_the_same_pixels() {
    let mut o = options(Placement::Chain, false, false);
    o.jpeg = true;
    let file = pyramid::write(&SIZES, o, paint(&SIZES)).file;
    let mut reader = open(Arc::new(file), &ReadLimits::default()).expect("open");
    let read = |reader: &mut Box<dyn tessera_image::ImageReader>, r: Rect| {
        reader
            .read(r, Dimensions::new(r.w, r.h))
            .expect("read")
            .data
    };
    // Two rows of 128 px tiles, then the same columns cut at rows inside either tile row.
    let tall = read(&mut reader, Rect::new(100, 0, 300, 256));
    for rows in [1, 7, 100, 128, 129, 200] {
        let cut = read(&mut reader, Rect::new(100, 0, 300, rows));
        assert_eq!(cut[..], tall[..(300 * rows * 3) as usize], "{rows} rows");
    }
    // The bottom tile row of level 0 holds 48 image rows of its 128; a region of its last rows.
    let bottom = read(&mut reader, Rect::new(0, 1024, 2000, 176));
    let last = read(&mut reader, Rect::new(0, 1160, 2000, 40));
    assert_eq!(last[..], bottom[(2000 * 136 * 3) as usize..]);
}
