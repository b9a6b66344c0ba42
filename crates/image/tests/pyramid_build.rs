//! The one-pass pyramid builder: what it writes opens as a tiled pyramid whose every level holds
//! the source's pixels (full resolution within JPEG's loss, reduced levels as the source resized),
//! with the source's orientation applied and its profile kept.

mod common;

use std::io::Cursor;

use tessera_iiif::levels::pyramid_levels;
use tessera_iiif::{Dimensions, Rect};
use tessera_image::pyramid::{build, PyramidSpec, TiffSink};
use tessera_image::transform::resize::resize;
use tessera_image::{ImageReader, Raster};

fn pyramid_of(reader: &mut dyn ImageReader, tile: u32) -> Vec<u8> {
    let spec = PyramidSpec {
        tile,
        ..PyramidSpec::default()
    };
    let mut sink = TiffSink::new(
        Cursor::new(Vec::new()),
        spec.tile,
        spec.quality,
        "test".into(),
    );
    build(reader, &spec, &mut sink).expect("build");
    sink.into_inner().into_inner()
}

/// Mean absolute difference per channel of two rasters of one size and layout.
fn mae(a: &Raster, b: &Raster) -> f64 {
    assert_eq!((a.width, a.height, a.layout), (b.width, b.height, b.layout));
    let sum: u64 = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.data.len() as f64
}

#[test]
fn every_kind_of_source_gives_a_pyramid_with_its_pixels() {
    for (rel, tile) in [
        (
            "jpeg/progressive_rgb_2268x1512__libjxl-flower_q85_420_progr.jpg",
            256,
        ),
        ("jpeg/grayscale_2268x1512__libjxl-flower_q85_gray.jpg", 512),
        ("jpeg/cmyk_adobe__pillow-pil_sample_cmyk.jpg", 64),
        (
            "jpeg/exif-orientation-6__pillow-hopper_orientation_6.jpg",
            32,
        ),
        ("jpeg/baseline_rgb_icc__skimage-hubble_deep_field.jpg", 256),
        (
            "tiff/16bit_gray_satellite_1800x400__pillow-cmx3g8_wv_1998.260_0745_mcidas.tiff",
            128,
        ),
        (
            "tiff/icc_rgb8_uncompressed__pillow-hopper.iccprofile.tif",
            32,
        ),
        ("tiff/cmyk8_jpeg__pillow-tiff_strip_cmyk_jpeg.tif", 32),
    ] {
        let mut source = common::open_file(rel).expect(rel);
        let full = Dimensions::new(source.header().width, source.header().height);
        let bytes = pyramid_of(source.as_mut(), tile);
        let mut pyramid = common::open_bytes(bytes).expect(rel);
        assert_eq!(
            (pyramid.header().width, pyramid.header().height),
            (full.width, full.height),
            "{rel}"
        );
        let storage = pyramid.storage();
        assert_eq!(storage.tile, Some(Dimensions::new(tile, tile)), "{rel}");
        assert_eq!(storage.levels, pyramid_levels(full, tile), "{rel}");
        assert_eq!(pyramid.icc_profile(), source.icc_profile(), "{rel}");
        // Full resolution: the source's pixels within the loss of JPEG at the default quality (a small,
        // detailed CMYK photo loses most).
        let want = common::read_full(source.as_mut()).expect(rel);
        let got = common::read_full(pyramid.as_mut()).expect(rel);
        let err = mae(&want, &got);
        assert!(
            err <= 2.0,
            "{rel}: full level differs by {err:.2} on average"
        );
        // The first reduced level: the source resized to its size, as a render resizes.
        if let Some(&half) = storage.levels.first() {
            let region = Rect::full(full.width, full.height);
            let got = pyramid.read(region, half).expect(rel);
            assert_eq!((got.width, got.height), (half.width, half.height), "{rel}");
            let expected = resize(want, half.width, half.height).expect("resize");
            let err = mae(&expected, &got);
            assert!(err <= 2.5, "{rel}: first reduced level differs by {err:.2}");
        }
    }
}

#[test]
fn aligned_tiles_of_a_built_pyramid_pass_through_as_stored() {
    let rel = "jpeg/progressive_rgb_2268x1512__libjxl-flower_q85_420_progr.jpg";
    let mut source = common::open_file(rel).expect(rel);
    let mut pyramid = common::open_bytes(pyramid_of(source.as_mut(), 256)).expect("open");
    // A whole tile at full resolution, and one at scale factor 4.
    let tile = pyramid
        .stored_jpeg(Rect::new(256, 512, 256, 256), Dimensions::new(256, 256), 85)
        .expect("read");
    assert!(tile.is_some_and(|t| t.starts_with(&[0xFF, 0xD8])));
    let reduced = pyramid
        .stored_jpeg(
            Rect::new(1024, 0, 1024, 1024),
            Dimensions::new(256, 256),
            85,
        )
        .expect("read");
    assert!(reduced.is_some());
}

#[test]
fn an_image_with_alpha_is_refused() {
    let mut source =
        common::open_file("tiff/16bit_rgba_lzw_icc__pillow-tiff_16bit_RGBa.tiff").expect("open");
    let spec = PyramidSpec::default();
    let mut sink = TiffSink::new(
        Cursor::new(Vec::new()),
        spec.tile,
        spec.quality,
        String::new(),
    );
    assert!(matches!(
        build(source.as_mut(), &spec, &mut sink),
        Err(tessera_image::ImageError::Unsupported(_))
    ));
}

/// The sampling factors (horizontal, vertical) of the first component of a JPEG's frame.
fn luma_sampling(jpeg: &[u8]) -> (u8, u8) {
    let mut at = 2;
    while at + 4 <= jpeg.len() {
        let (marker, len) = (
            jpeg[at + 1],
            usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]])),
        );
        if marker == 0xC0 {
            let factors = jpeg[at + 11];
            return (factors >> 4, factors & 15);
        }
        at += 2 + len;
    }
    panic!("no baseline frame header");
}

#[test]
fn a_source_with_halved_chroma_keeps_it_halved_at_full_resolution_only() {
    for (rel, full_level) in [
        (
            "jpeg/progressive_rgb_2268x1512__libjxl-flower_q85_420_progr.jpg",
            (2, 2),
        ),
        (
            "jpeg/subsampling-444_non-interleaved-scans__libjxl-flower_small_q85_444_non_interleaved.jpg",
            (1, 1),
        ),
    ] {
        let mut source = common::open_file(rel).expect(rel);
        let mut pyramid = common::open_bytes(pyramid_of(source.as_mut(), 128)).expect(rel);
        let tile = |p: &mut Box<dyn ImageReader>, region: Rect| {
            p.stored_jpeg(region, Dimensions::new(128, 128), 85)
                .expect("read")
                .expect("a stored tile")
        };
        let full = tile(&mut pyramid, Rect::new(0, 0, 128, 128));
        assert_eq!(luma_sampling(&full), full_level, "{rel}");
        // A reduced level holds more colour detail than the source had at its size: all of it.
        let reduced = tile(&mut pyramid, Rect::new(0, 0, 256, 256));
        assert_eq!(luma_sampling(&reduced), (1, 1), "{rel}");
    }
}
