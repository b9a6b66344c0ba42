//! The render pipeline end to end: output sizes, rotation, mirror, quality, every encoder.

mod common;

use common::*;
use tessera_iiif::{OutputFormat, Quality, Rect};
use tessera_image::transform::orient::rotated_size;
use tessera_image::{render, PixelLayout, Raster, RenderOptions};

/// Decode rendered bytes back with the crate's own readers.
fn decode(bytes: Vec<u8>) -> Raster {
    let mut reader = open_bytes(bytes).expect("output reopens");
    read_full(reader.as_mut()).expect("output decodes")
}

/// The width and height of rendered bytes: decoded with the crate's own readers, or for AVIF (which
/// Tessera writes but does not read) from the `ispe` (image spatial extents) property of every image
/// item in the file, colour and alpha alike, which must all agree.
fn rendered_size(bytes: Vec<u8>, format: OutputFormat) -> (u32, u32) {
    if format != OutputFormat::Avif {
        let out = decode(bytes);
        return (out.width, out.height);
    }
    assert_eq!(&bytes[4..12], b"ftypavif");
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let sizes: Vec<(u32, u32)> = bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"ispe")
        // 'ispe', then version and flags (4 bytes), then width and height.
        .map(|(i, _)| (be(i + 8), be(i + 12)))
        .collect();
    assert!(
        !sizes.is_empty() && sizes.iter().all(|s| *s == sizes[0]),
        "{sizes:?}"
    );
    sizes[0]
}

fn render_validator_size(region: Rect, size: (u32, u32), format: OutputFormat) -> (u32, u32) {
    let mut reader = open_file(VALIDATOR_PNG).unwrap();
    let p = plan(region, size, false, 0.0, Quality::Default, format);
    rendered_size(
        render(reader.as_mut(), &p, &RenderOptions::default()).unwrap(),
        format,
    )
}

fn render_validator(
    region: Rect,
    size: (u32, u32),
    mirror: bool,
    rotation: f64,
    quality: Quality,
    format: OutputFormat,
) -> Raster {
    let mut reader = open_file(VALIDATOR_PNG).unwrap();
    let p = plan(region, size, mirror, rotation, quality, format);
    decode(render(reader.as_mut(), &p, &RenderOptions::default()).unwrap())
}

#[test]
fn every_format_has_the_planned_size() {
    for format in OutputFormat::ALL {
        let out = render_validator_size(Rect::new(100, 200, 500, 300), (250, 150), format);
        assert_eq!(out, (250, 150), "{format}");
    }
}

#[test]
fn upscaling_and_right_angles() {
    let out = render_validator(
        Rect::new(0, 0, 100, 50),
        (300, 150),
        false,
        90.0,
        Quality::Default,
        OutputFormat::Png,
    );
    assert_eq!((out.width, out.height), (150, 300));
    let out = render_validator(
        Rect::full(1000, 1000),
        (100, 100),
        false,
        270.0,
        Quality::Color,
        OutputFormat::Jpg,
    );
    assert_eq!((out.width, out.height), (100, 100));
}

#[test]
fn non_right_angle_rotation_gives_bounding_box_with_transparency() {
    for rotation in [22.5, 45.0, 135.0, 359.0] {
        let out = render_validator(
            Rect::full(1000, 1000),
            (200, 100),
            false,
            rotation,
            Quality::Default,
            OutputFormat::Png,
        );
        assert_eq!(
            (out.width, out.height),
            rotated_size(200, 100, rotation),
            "{rotation}"
        );
        assert_eq!(out.layout, PixelLayout::Rgba8);
        assert_eq!(out.data[3], 0, "corner is transparent at {rotation}");
    }
    let out = render_validator(
        Rect::full(1000, 1000),
        (200, 100),
        false,
        30.0,
        Quality::Default,
        OutputFormat::Jpg,
    );
    assert_eq!((out.width, out.height), rotated_size(200, 100, 30.0));
    // The transparent corner is flattened onto white in JPEG.
    assert!(out.data[..3].iter().all(|&v| v > 240));
}

#[test]
fn mirror_flips_columns() {
    let plain = render_validator(
        Rect::new(0, 0, 200, 100),
        (200, 100),
        false,
        0.0,
        Quality::Default,
        OutputFormat::Png,
    );
    let flipped = render_validator(
        Rect::new(0, 0, 200, 100),
        (200, 100),
        true,
        0.0,
        Quality::Default,
        OutputFormat::Png,
    );
    for y in [0usize, 50, 99] {
        for x in [0usize, 10, 150, 199] {
            let a = (y * 200 + x) * 3;
            let b = (y * 200 + 199 - x) * 3;
            assert_eq!(plain.data[a..a + 3], flipped.data[b..b + 3]);
        }
    }
}

#[test]
fn gray_and_bitonal() {
    let gray = render_validator(
        Rect::full(1000, 1000),
        (100, 100),
        false,
        0.0,
        Quality::Gray,
        OutputFormat::Png,
    );
    assert_eq!(gray.layout, PixelLayout::Gray8);
    for format in [OutputFormat::Png, OutputFormat::Gif, OutputFormat::Tif] {
        let out = render_validator(
            Rect::full(1000, 1000),
            (100, 100),
            false,
            0.0,
            Quality::Bitonal,
            format,
        );
        assert!(out.data.iter().all(|&v| v == 0 || v == 255), "{format}");
    }
    let jpg = render_validator(
        Rect::full(1000, 1000),
        (64, 64),
        false,
        0.0,
        Quality::Gray,
        OutputFormat::Jpg,
    );
    assert_eq!(jpg.layout, PixelLayout::Gray8);
}

#[test]
fn gif_keeps_transparency_and_exact_gray() {
    let out = render_validator(
        Rect::full(1000, 1000),
        (100, 100),
        false,
        45.0,
        Quality::Gray,
        OutputFormat::Gif,
    );
    assert_eq!(out.layout, PixelLayout::Rgba8);
    assert_eq!(out.data[3], 0);
    let gray = render_validator(
        Rect::full(1000, 1000),
        (100, 100),
        false,
        0.0,
        Quality::Gray,
        OutputFormat::Png,
    );
    let gif = render_validator(
        Rect::full(1000, 1000),
        (100, 100),
        false,
        0.0,
        Quality::Gray,
        OutputFormat::Gif,
    );
    let gif_gray: Vec<u8> = gif.data.chunks_exact(4).map(|p| p[0]).collect();
    assert_eq!(gif_gray, gray.data);
}

#[test]
fn every_source_format_renders() {
    for path in [
        "jpeg/baseline_rgb_photo__matplotlib-grace_hopper.jpg",
        "gif/transparent__pillow-transparent.gif",
        "tiff/tiled_rgb8_uncompressed__pillow-tiff_tiled_raw.tif",
        "webp/lossy_alpha__pillow-transparent.webp",
        "png/gray-alpha8__pngsuite-basn4a08.png",
    ] {
        for format in OutputFormat::ALL {
            let mut reader = open_file(path).unwrap();
            let h = *reader.header();
            let p = plan(
                Rect::full(h.width, h.height),
                (h.width / 2, h.height / 3),
                true,
                10.0,
                Quality::Default,
                format,
            );
            let out = rendered_size(
                render(reader.as_mut(), &p, &RenderOptions::default()).unwrap(),
                format,
            );
            assert_eq!(
                out,
                rotated_size(h.width / 2, h.height / 3, 10.0),
                "{path} {format}"
            );
        }
    }
}
