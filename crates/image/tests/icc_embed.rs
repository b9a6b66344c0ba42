//! ICC profiles through the render: every encoder with a slot for one (JPEG, PNG, WebP, TIFF)
//! writes a kept profile that Tessera's own readers report back byte for byte, only when it
//! describes the pixels written; `IccMode::ToSrgb` converts and sends untagged output.

mod common;

use std::sync::Arc;

use common::{open_bytes, plan, read_full};
use tessera_iiif::{OutputFormat, Quality, Rect};
use tessera_image::colour::IccMode;
use tessera_image::encode::{encode, EncodeOptions};
use tessera_image::{render, PixelLayout, Raster, RenderOptions};

fn p3() -> Vec<u8> {
    moxcms::ColorProfile::new_display_p3()
        .encode()
        .expect("Display P3 encodes")
}

fn gray_profile() -> Vec<u8> {
    moxcms::ColorProfile::new_gray_with_gamma(1.8)
        .encode()
        .expect("gray encodes")
}

/// A `w` x `h` raster of `layout` whose every byte differs from its neighbours.
fn gradient(w: u32, h: u32, layout: PixelLayout) -> Raster {
    let n = (w * h) as usize * layout.channels();
    let data = (0..n).map(|i| (i * 37 % 251) as u8).collect();
    Raster::from_data(w, h, layout, data).expect("size")
}

const WITH_SLOT: [OutputFormat; 4] = [
    OutputFormat::Jpg,
    OutputFormat::Png,
    OutputFormat::Webp,
    OutputFormat::Tif,
];

/// Encode `raster` as `format` with `icc`, and what Tessera's reader of the result reports.
fn round_trip(raster: &Raster, format: OutputFormat, icc: &[u8]) -> (Vec<u8>, Option<Arc<[u8]>>) {
    let bytes = encode(raster, format, &EncodeOptions::default(), Some(icc)).expect("encode");
    let reader = open_bytes(bytes.clone()).expect("Tessera reads its own output");
    (bytes, reader.icc_profile())
}

#[test]
fn an_rgb_profile_on_rgb_pixels_reads_back_byte_for_byte() {
    let icc = p3();
    for layout in [PixelLayout::Rgb8, PixelLayout::Rgba8] {
        let raster = gradient(40, 30, layout);
        for format in WITH_SLOT {
            let (bytes, back) = round_trip(&raster, format, &icc);
            assert_eq!(back.as_deref(), Some(&icc[..]), "{format:?} {layout:?}");
            // Lossless: the pixels are the ones given, untouched by the profile. (The TIFF encoder
            // writes no ExtraSamples tag, so Tessera's reader takes RGBA output's fourth sample
            // for an unspecified extra and returns RGB: compared for RGB only.)
            let lossless = format == OutputFormat::Png
                || (format == OutputFormat::Tif && layout == PixelLayout::Rgb8);
            if lossless {
                let mut reader = open_bytes(bytes).expect("open");
                let back = read_full(reader.as_mut()).expect("read");
                let diff = back.data.iter().zip(&raster.data).position(|(a, b)| a != b);
                assert_eq!(
                    (back.layout, back.data.len(), diff),
                    (raster.layout, raster.data.len(), None),
                    "{format:?}"
                );
            }
        }
    }
}

#[test]
fn a_gray_profile_goes_only_where_the_pixels_stay_gray() {
    let gray = gray_profile();
    let raster = gradient(33, 17, PixelLayout::Gray8);
    for format in WITH_SLOT {
        let (_, back) = round_trip(&raster, format, &gray);
        // WebP has no gray pixels: they are written as RGB, which a gray profile does not describe.
        let want = (format != OutputFormat::Webp).then_some(&gray[..]);
        assert_eq!(back.as_deref(), want, "{format:?}");
    }
    // Gray with alpha is written as RGBA in TIFF, as RGB in WebP, and kept as gray in PNG.
    let raster = gradient(9, 5, PixelLayout::GrayAlpha8);
    for (format, kept) in [
        (OutputFormat::Png, true),
        (OutputFormat::Tif, false),
        (OutputFormat::Webp, false),
    ] {
        let (_, back) = round_trip(&raster, format, &gray);
        assert_eq!(back.is_some(), kept, "{format:?}");
    }
}

#[test]
fn a_profile_of_the_other_colour_space_is_left_out() {
    let (rgb, gray) = (p3(), gray_profile());
    for format in WITH_SLOT {
        let (_, back) = round_trip(&gradient(8, 8, PixelLayout::Gray8), format, &rgb);
        assert!(back.is_none(), "RGB profile on gray {format:?}");
        let (_, back) = round_trip(&gradient(8, 8, PixelLayout::Rgb8), format, &gray);
        assert!(back.is_none(), "gray profile on RGB {format:?}");
    }
}

/// The APP2 `ICC_PROFILE` segments of a JPEG: (sequence number, count, payload length).
fn icc_segments(jpeg: &[u8]) -> Vec<(u8, u8, usize)> {
    let mut out = Vec::new();
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF && jpeg[at + 1] != 0xDA {
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        let body = &jpeg[at + 4..at + 2 + len];
        if jpeg[at + 1] == 0xE2 && body.starts_with(b"ICC_PROFILE\0") {
            out.push((body[12], body[13], body.len() - 14));
        }
        at += 2 + len;
    }
    out
}

#[test]
fn a_large_profile_is_split_into_numbered_app2_segments() {
    // A profile over two segments long (a header saying RGB, then filler the encoder never reads).
    let mut icc = p3();
    icc.extend((0..150_000u32).map(|i| (i % 253) as u8));
    let (bytes, back) = round_trip(
        &gradient(16, 16, PixelLayout::Rgb8),
        OutputFormat::Jpg,
        &icc,
    );
    assert_eq!(back.as_deref(), Some(&icc[..]));
    let segments = icc_segments(&bytes);
    assert_eq!(
        segments.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>(),
        [(1, 3), (2, 3), (3, 3)]
    );
    assert!(segments.iter().all(|s| s.2 <= 65_519));
    assert_eq!(segments[0].2, 65_519, "segments are filled to the limit");
    assert_eq!(segments.iter().map(|s| s.2).sum::<usize>(), icc.len());
}

#[test]
fn gif_output_carries_no_profile() {
    let raster = gradient(10, 10, PixelLayout::Rgb8);
    let icc = p3();
    let with = encode(
        &raster,
        OutputFormat::Gif,
        &EncodeOptions::default(),
        Some(&icc),
    );
    let without = encode(&raster, OutputFormat::Gif, &EncodeOptions::default(), None);
    assert_eq!(with.expect("gif"), without.expect("gif"));
}

/// A PNG whose stored pixels are `raster`, tagged with `icc`.
fn tagged_png(raster: &Raster, icc: &[u8]) -> Vec<u8> {
    encode(
        raster,
        OutputFormat::Png,
        &EncodeOptions::default(),
        Some(icc),
    )
    .expect("png")
}

fn options(icc: IccMode) -> RenderOptions {
    RenderOptions {
        icc,
        ..RenderOptions::default()
    }
}

#[test]
fn render_keeps_or_converts_as_asked() {
    let icc = p3();
    let stored = gradient(64, 48, PixelLayout::Rgb8);
    let source = tagged_png(&stored, &icc);
    let full = plan(
        Rect::new(0, 0, 64, 48),
        (64, 48),
        false,
        0.0,
        Quality::Default,
        OutputFormat::Png,
    );
    let rendered = |mode: IccMode, plan: &tessera_iiif::Plan| {
        let mut reader = open_bytes(source.clone()).expect("open");
        let body = render(reader.as_mut(), plan, &options(mode)).expect("render");
        let mut out = open_bytes(body).expect("open output");
        (read_full(out.as_mut()).expect("read"), out.icc_profile())
    };
    let (kept, profile) = rendered(IccMode::Keep, &full);
    assert_eq!(kept, stored, "Keep sends the stored values");
    assert_eq!(profile.as_deref(), Some(&icc[..]), "with their profile");
    let (converted, profile) = rendered(IccMode::ToSrgb, &full);
    assert!(profile.is_none(), "sRGB goes untagged");
    let mut want = stored.clone();
    tessera_image::colour::icc_to_srgb(&mut want, &icc);
    assert_eq!(converted, want, "converted as the colour stage converts");
    assert_ne!(converted, stored);
    // A downscaled region: the stage runs after the resize, and the profile still goes along.
    let half = plan(
        Rect::new(8, 8, 32, 32),
        (16, 16),
        false,
        0.0,
        Quality::Default,
        OutputFormat::Png,
    );
    let (small, profile) = rendered(IccMode::Keep, &half);
    assert_eq!((small.width, small.height), (16, 16));
    assert_eq!(profile.as_deref(), Some(&icc[..]));
    // A gray rendition of RGB pixels is no longer described by the RGB profile.
    for quality in [Quality::Gray, Quality::Bitonal] {
        let gray = plan(
            Rect::new(0, 0, 64, 48),
            (64, 48),
            false,
            0.0,
            quality,
            OutputFormat::Png,
        );
        let (out, profile) = rendered(IccMode::Keep, &gray);
        assert_eq!(out.layout, PixelLayout::Gray8);
        assert!(profile.is_none(), "{quality:?}");
    }
}
