//! Readers against the shared corpus: headers, pixels, regions, broken files.

mod common;

use common::*;
use tessera_iiif::{Dimensions, Rect};
use tessera_image::transform::crop::crop;
use tessera_image::{ImageError, PixelLayout, ReadLimits, SourceFormat};

/// Files every build must decode, one or more per supported feature.
const MUST_DECODE: &[&str] = &[
    VALIDATOR_PNG,
    "tiff/striped_rgb8_uncompressed__pillow-tiff_strip_raw.tif",
    "tiff/striped_rgb8_lzw__pillow-hopper_lzw.tif",
    "tiff/striped_rgb8_deflate_icc__pillow-tiff_adobe_deflate.tif",
    "tiff/striped_rgb8_packbits__pillow-copyleft.tiff",
    "tiff/striped_bilevel_ccitt-g4__pillow-hopper_g4_500.tif",
    "tiff/striped_bilevel_lzw_single-strip_7795x3122__libtiff-lzw-single-strip.tiff",
    "tiff/striped_rgb8_planar-separate_lzw__pillow-tiff_strip_planar_lzw.tiff",
    "tiff/tiled_rgb8_uncompressed__pillow-tiff_tiled_raw.tif",
    "tiff/tiled_rgb8_planar-separate_lzw__pillow-tiff_tiled_planar_lzw.tiff",
    "tiff/pyramid_tiled_deflate_icc_4levels__openslide-boxes.tiff",
    "tiff/bigtiff_rgb8__pillow-hopper_bigtiff.tif",
    "tiff/16bit_rgba_lzw_icc__pillow-tiff_16bit_RGBa.tiff",
    "tiff/16bit_gray_deflate_big-endian__pillow-16bit.MM.deflate.tif",
    "tiff/gray4__pillow-hopper_gray_4bpp.tif",
    "tiff/bilevel1_minisblack__vips-1bit.tif",
    "tiff/palette4__libtiff-palette-1c-4b.tiff",
    "tiff/palette8_lzw_extrasample__pillow-rdf.tif",
    "tiff/striped_ycbcr_jpeg_2x2subsampled__pillow-tiff_strip_ycbcr_jpeg_2x2_sampling.tif",
    "tiff/striped_ycbcr_old-style-jpeg__pillow-old-style-jpeg-compression.tif",
    "tiff/tiled_ycbcr_jpeg_icc__pillow-tiff_tiled_ycbcr_jpeg_1x1_sampling.tif",
    "tiff/striped_bilevel_ccitt-g3_multipage__pillow-total-pages-zero.tif",
    "tiff/lzma__pillow-hopper_lzma.tif",
    "tiff/cielab8__pillow-hopper.Lab.tif",
    "tiff/float32_gray_no-photometric__pillow-10ct_32bit_128.tiff",
    "tiff/uint32_rgb__pillow-hopper_unknown_pixel_mode.tif",
    "tiff/cmyk8_jpeg__pillow-tiff_strip_cmyk_jpeg.tif",
    "tiff/cmyk16_uncompressed__pillow-tiff_strip_cmyk_16l_jpeg.tif",
    "tiff/ifd-loop-to-self__libtiff-test_ifd_loop_to_self.tif",
    "jpeg/baseline_rgb_photo__matplotlib-grace_hopper.jpg",
    "jpeg/progressive_rgb_2268x1512__libjxl-flower_q85_420_progr.jpg",
    "jpeg/grayscale__pillow-hopper_gray.jpg",
    "jpeg/cmyk_adobe__pillow-pil_sample_cmyk.jpg",
    "jpeg/arithmetic-coded__libjpeg-turbo-testimgari.jpg",
    "jpeg/junk-before-soi__pillow-junk_jpeg_header.jpg",
    "jpeg/extreme-aspect_32540x255_tiny-file__libgd-bug_double_free.jpg",
    "png/palette1__pngsuite-basn3p01.png",
    "png/palette8_trns__pngsuite-ftbbn3p08.png",
    "png/gray16__pngsuite-basn0g16.png",
    "png/rgba16__pngsuite-basn6a16.png",
    "png/gray-alpha8__pngsuite-basn4a08.png",
    "png/interlaced_rgba16__pngsuite-ibasn6a16.png",
    "png/interlaced_rgba8__pillow-pil123rgba.png",
    "png/apng_rgba_5frames__pillow-apng-delay.png",
    "gif/static__pillow-hopper.gif",
    "gif/interlaced__giflib-treescap-interlaced.gif",
    "gif/transparent__pillow-transparent.gif",
    "gif/animated_31frames__pillow-chi.gif",
    "webp/lossy__pillow-hopper.webp",
    "webp/lossy_alpha__pillow-transparent.webp",
    "webp/lossless_animated_42frames__pillow-iss634.webp",
];

#[test]
fn headers_match_manifest() {
    let mut checked = 0;
    for e in manifest()
        .iter()
        .filter(|e| e.ok && readable_format(&e.format))
    {
        let reader = open_stored(&e.path).unwrap_or_else(|err| panic!("{}: {err}", e.path));
        let h = reader.header();
        assert_eq!(
            (Some(h.width), Some(h.height)),
            (e.width, e.height),
            "{}",
            e.path
        );
        checked += 1;
    }
    assert!(checked > 90, "only {checked} files checked");
}

#[test]
fn header_formats() {
    for (path, format) in [
        (VALIDATOR_PNG, SourceFormat::Png),
        (
            "jpeg/baseline_rgb_photo__matplotlib-grace_hopper.jpg",
            SourceFormat::Jpeg,
        ),
        ("gif/static__pillow-hopper.gif", SourceFormat::Gif),
        (
            "tiff/bigtiff_rgb8__pillow-hopper_bigtiff.tif",
            SourceFormat::Tiff,
        ),
        ("webp/lossy__pillow-hopper.webp", SourceFormat::Webp),
        (
            "jp2/j2k-codestream_rgb__glymur-goodstuff.j2k",
            SourceFormat::Jpeg2000,
        ),
        (
            "jp2/jpx_rgb_2717x3701__pillow-balloon.jpf",
            SourceFormat::Jpeg2000,
        ),
    ] {
        assert_eq!(open_file(path).unwrap().header().format, format, "{path}");
    }
}

#[test]
fn supported_files_decode_with_right_size() {
    for path in MUST_DECODE {
        let mut reader = open_file(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let h = *reader.header();
        let raster = read_full(reader.as_mut()).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!((raster.width, raster.height), (h.width, h.height), "{path}");
        assert_eq!(
            raster.data.len(),
            raster.stride() * raster.height as usize,
            "{path}"
        );
        let distinct = raster.data.iter().fold([false; 256], |mut seen, &v| {
            seen[v as usize] = true;
            seen
        });
        assert!(
            distinct.iter().filter(|&&s| s).count() > 1,
            "{path}: flat image"
        );
    }
}

#[test]
fn every_ok_file_decodes_at_its_size() {
    let mut checked = 0;
    for e in manifest()
        .iter()
        .filter(|e| e.ok && readable_format(&e.format))
    {
        let raster = open_stored(&e.path)
            .and_then(|mut r| read_full(r.as_mut()))
            .unwrap_or_else(|err| panic!("{}: the manifest says ok, Tessera says {err}", e.path));
        assert_eq!(
            (Some(raster.width), Some(raster.height)),
            (e.width, e.height),
            "{}",
            e.path
        );
        checked += 1;
    }
    assert!(checked > 90, "only {checked} files checked");
}

#[test]
fn every_ok_file_with_a_profile_reports_it_whole() {
    let mut checked = 0;
    for e in manifest()
        .iter()
        .filter(|e| e.ok && e.icc && readable_format(&e.format))
    {
        let reader = open_stored(&e.path).unwrap_or_else(|err| panic!("{}: {err}", e.path));
        if e.path.contains("icc-after-sof") {
            // Its two APP2 ICC_PROFILE segments hold the seven bytes "profile": not a profile.
            assert!(reader.icc_profile().is_none(), "{}", e.path);
            continue;
        }
        let icc = reader
            .icc_profile()
            .unwrap_or_else(|| panic!("{}: no profile reported", e.path));
        // A whole profile: its header declares its own length and carries the 'acsp' signature.
        let declared = u32::from_be_bytes(icc[..4].try_into().expect("4 bytes")) as usize;
        assert_eq!(declared, icc.len(), "{}", e.path);
        assert_eq!(&icc[36..40], b"acsp", "{}", e.path);
        checked += 1;
    }
    assert!(checked >= 14, "only {checked} tagged files checked");
}

#[test]
fn validator_image_colours() {
    let mut reader = open_file(VALIDATOR_PNG).unwrap();
    let raster = read_full(reader.as_mut()).unwrap();
    assert_eq!(raster.layout, PixelLayout::Rgb8);
    let px = |x: usize, y: usize| {
        let i = (y * 1000 + x) * 3;
        [raster.data[i], raster.data[i + 1], raster.data[i + 2]]
    };
    assert_eq!(px(50, 50), [61, 170, 126]);
    assert_eq!(px(150, 50), [195, 133, 120]);
    assert_eq!(px(50, 150), [61, 107, 178]);
    assert_eq!(px(950, 950), [161, 119, 182]);
}

#[test]
fn jpeg_pixels_are_plausible() {
    let mut reader = open_file("jpeg/baseline_rgb_photo__matplotlib-grace_hopper.jpg").unwrap();
    let raster = read_full(reader.as_mut()).unwrap();
    let px = |x: usize, y: usize| {
        let i = (y * 512 + x) * 3;
        [raster.data[i], raster.data[i + 1], raster.data[i + 2]]
    };
    // Reference values from Pillow (libjpeg); allow small IDCT differences.
    for ((x, y), want) in [((100, 100), [103, 84, 90]), ((300, 500), [24, 24, 36])] {
        let got = px(x, y);
        for c in 0..3 {
            assert!(
                got[c].abs_diff(want[c]) <= 3,
                "({x},{y}) {got:?} vs {want:?}"
            );
        }
    }
}

#[test]
fn sixteen_bit_png_rounds() {
    let mut reader = open_file("png/gray16__pngsuite-basn0g16.png").unwrap();
    let raster = read_full(reader.as_mut()).unwrap();
    assert_eq!(raster.layout, PixelLayout::Gray8);
}

#[test]
fn region_reads_equal_crops_of_full_reads() {
    let cases: &[(&str, Rect)] = &[
        (VALIDATOR_PNG, Rect::new(120, 340, 300, 211)),
        (
            "png/interlaced_rgba8__pillow-pil123rgba.png",
            Rect::new(10, 20, 50, 60),
        ),
        (
            "jpeg/baseline_rgb_photo__matplotlib-grace_hopper.jpg",
            Rect::new(33, 77, 200, 300),
        ),
        (
            "tiff/striped_rgb8_lzw__pillow-hopper_lzw.tif",
            Rect::new(5, 40, 100, 70),
        ),
        (
            "tiff/tiled_rgb8_uncompressed__pillow-tiff_tiled_raw.tif",
            Rect::new(60, 70, 150, 200),
        ),
        (
            "tiff/tiled_rgb8_planar-separate_lzw__pillow-tiff_tiled_planar_lzw.tiff",
            Rect::new(1, 2, 270, 300),
        ),
        (
            "tiff/gray4__pillow-hopper_gray_4bpp.tif",
            Rect::new(3, 9, 70, 20),
        ),
        (
            "tiff/striped_bilevel_lzw_single-strip_7795x3122__libtiff-lzw-single-strip.tiff",
            Rect::new(4000, 1000, 333, 222),
        ),
        (
            "gif/transparent__pillow-transparent.gif",
            Rect::new(20, 30, 100, 50),
        ),
        (
            "webp/lossy_alpha__pillow-transparent.webp",
            Rect::new(20, 30, 100, 50),
        ),
    ];
    for (path, rect) in cases {
        let mut reader = open_file(path).unwrap();
        let full = read_full(reader.as_mut()).unwrap();
        let region = reader.read(*rect, Dimensions::new(rect.w, rect.h)).unwrap();
        assert_eq!(region, crop(&full, *rect).unwrap(), "{path}");
    }
}

#[test]
fn jpeg_dct_scaling_keeps_at_least_target() {
    let path = "jpeg/progressive_rgb_2268x1512__libjxl-flower_q85_420_progr.jpg";
    let mut reader = open_file(path).unwrap();
    for (rect, target) in [
        (Rect::new(0, 0, 2268, 1512), Dimensions::new(283, 189)),
        (Rect::new(0, 0, 2268, 1512), Dimensions::new(600, 400)),
        (Rect::new(1000, 500, 1024, 1000), Dimensions::new(256, 250)),
        (Rect::new(17, 33, 999, 555), Dimensions::new(100, 100)),
    ] {
        let r = reader.read(rect, target).unwrap();
        assert!(
            r.width >= target.width && r.height >= target.height,
            "{rect:?} -> {}x{}",
            r.width,
            r.height
        );
        assert!(r.width <= rect.w && r.height <= rect.h);
    }
    let r = reader
        .read(Rect::new(0, 0, 2268, 1512), Dimensions::new(283, 189))
        .unwrap();
    assert_eq!((r.width, r.height), (284, 189));
}

#[test]
fn broken_files_error_without_panicking() {
    let dir = corpus("broken");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let rel = format!("broken/{}", path.file_name().unwrap().to_string_lossy());
        let result = open_file(&rel).and_then(|mut r| read_full(r.as_mut()));
        assert!(result.is_err(), "{rel} decoded");
        count += 1;
    }
    assert!(count >= 20);
}

#[test]
fn truncations_of_a_good_file_never_panic() {
    let bytes = std::fs::read(corpus(
        "jpeg/baseline_rgb_photo__matplotlib-grace_hopper.jpg",
    ))
    .unwrap();
    let png = std::fs::read(corpus(VALIDATOR_PNG)).unwrap();
    let tif = std::fs::read(corpus("tiff/striped_rgb8_lzw__pillow-hopper_lzw.tif")).unwrap();
    let gif = std::fs::read(corpus("gif/static__pillow-hopper.gif")).unwrap();
    let webp = std::fs::read(corpus("webp/lossy__pillow-hopper.webp")).unwrap();
    for file in [bytes, png, tif, gif, webp] {
        // Cuts that remove pixel data (not just a trailing IEND or EOI).
        for cut in [
            0,
            5,
            20,
            100,
            file.len() / 3,
            file.len() / 2,
            file.len() * 9 / 10,
        ] {
            let result = open_bytes(file[..cut].to_vec()).and_then(|mut r| read_full(r.as_mut()));
            assert!(result.is_err(), "cut at {cut} decoded");
        }
    }
}

#[test]
fn limits_refuse_large_images_at_open() {
    let source = tessera_source::FileSource::open(&corpus(VALIDATOR_PNG)).unwrap();
    let limits = ReadLimits {
        max_pixels: 999_999,
        ..ReadLimits::default()
    };
    let result = tessera_image::open(std::sync::Arc::new(source), &limits);
    assert!(matches!(result, Err(ImageError::TooLarge(_))));
    assert!(matches!(
        open_bytes(b"hello world, not an image".to_vec()),
        Err(ImageError::UnknownFormat)
    ));
}

#[test]
fn truncated_tiffs_of_every_compression_are_refused() {
    for path in [
        "tiff/striped_ycbcr_jpeg_2x2subsampled__pillow-tiff_strip_ycbcr_jpeg_2x2_sampling.tif",
        "tiff/striped_ycbcr_old-style-jpeg__pillow-old-style-jpeg-compression.tif",
        "tiff/striped_bilevel_ccitt-g4__pillow-hopper_g4_500.tif",
        "tiff/lzma__pillow-hopper_lzma.tif",
        "tiff/palette8_lzw_extrasample__pillow-rdf.tif",
        "tiff/striped_rgb8_deflate_icc__pillow-tiff_adobe_deflate.tif",
        "tiff/striped_rgb8_packbits__pillow-copyleft.tiff",
        "tiff/float32_gray_no-photometric__pillow-10ct_32bit_128.tiff",
    ] {
        let file = std::fs::read(corpus(path)).unwrap();
        for cut in [7, 100, file.len() / 2, file.len() * 3 / 4] {
            let result = open_bytes(file[..cut].to_vec()).and_then(|mut r| read_full(r.as_mut()));
            assert!(
                matches!(result, Err(ImageError::Corrupt(_) | ImageError::Io(_))),
                "{path} cut at {cut}: {:?}",
                result.map(|r| (r.width, r.height))
            );
        }
    }
    // The G3 file holds three pages; its first page's strip is bytes 312..46814. Cut inside it.
    let g3 = std::fs::read(corpus(
        "tiff/striped_bilevel_ccitt-g3_multipage__pillow-total-pages-zero.tif",
    ))
    .unwrap();
    for cut in [7, 100, 10_000, 30_000] {
        let result = open_bytes(g3[..cut].to_vec()).and_then(|mut r| read_full(r.as_mut()));
        assert!(result.is_err(), "g3 cut at {cut} decoded");
    }
}
