//! Tile passthrough: a request that is exactly one stored JPEG tile gets the stored bytes, with
//! the shared JPEGTables merged into one valid JPEG; anything else is decoded as usual.

mod common;

use std::sync::Arc;

use common::plan;
use common::pyramid::{self, Options, Placement, Written};
use tessera_iiif::{Dimensions, OutputFormat, Quality, Rect};
use tessera_image::{open, render, ImageReader, ReadLimits, RenderOptions};

const SIZES: [(u32, u32); 3] = [(2000, 1200), (1000, 600), (500, 300)];

fn paint(l: usize, x: u32, y: u32) -> [u8; 3] {
    let (w, h) = SIZES[l];
    [
        (u64::from(x) * 255 / u64::from(w)) as u8,
        (u64::from(y) * 255 / u64::from(h)) as u8,
        (l * 60) as u8,
    ]
}

fn jpeg_pyramid() -> Written {
    written(false)
}

/// `rgb`: tiles coded as R, G, B with Photometric RGB (libvips' and libtiff's JPEG-in-TIFF).
fn written(rgb: bool) -> Written {
    let options = Options {
        tile: 256,
        placement: Placement::SubIfds,
        big: false,
        deflate: false,
        jpeg: true,
        webp: false,
        rgb_jpeg: rgb,
    };
    pyramid::write(&SIZES, options, paint)
}

/// What passthrough must send for tile `index` of `level`: the tables without EOI, then the
/// stored tile without SOI.
fn expected(written: &Written, level: usize, index: usize) -> Vec<u8> {
    let tables = written.tables.as_ref().expect("tables");
    let (offset, len) = written.tiles[level][index];
    let stored = &written.file[offset as usize..(offset + len) as usize];
    let mut out = tables[..tables.len() - 2].to_vec();
    out.extend_from_slice(&stored[2..]);
    out
}

/// Decode a JPEG with mozjpeg directly and compare it with what was painted at `level`.
fn assert_jpeg_shows(bytes: &[u8], level: usize, at: Rect) {
    let decoded = mozjpeg::Decompress::new_mem(bytes).expect("valid JPEG");
    let mut started = decoded.rgb().expect("rgb");
    assert_eq!(
        (started.width(), started.height()),
        (at.w as usize, at.h as usize)
    );
    let pixels: Vec<[u8; 3]> = started.read_scanlines().expect("scanlines");
    let mut worst = 0;
    for y in 0..at.h {
        for x in 0..at.w {
            let got = pixels[(y * at.w + x) as usize];
            let want = paint(level, at.x + x, at.y + y);
            for (g, w) in got.iter().zip(want) {
                worst = worst.max(g.abs_diff(w));
            }
        }
    }
    assert!(worst <= 8, "largest channel error {worst}");
}

/// The luma component's sampling factors (horizontal × 16 + vertical) in a JPEG's frame header.
fn luma_sampling(jpeg: &[u8]) -> u8 {
    let sof = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline frame");
    // FF C0, length (2), precision, height (2), width (2), components, then id, sampling.
    jpeg[sof + 11]
}

fn reader(written: &Written) -> Box<dyn ImageReader> {
    open(Arc::new(written.file.clone()), &ReadLimits::default()).expect("open")
}

#[test]
fn a_whole_stored_tile_is_sent_as_stored() {
    let written = jpeg_pyramid();
    let mut reader = reader(&written);
    // Level 0, tile (1, 2) of 8 across; level 1 (1/2), tile (1, 0) of 4 across.
    for (region, size, level, index, at) in [
        (
            Rect::new(256, 512, 256, 256),
            (256, 256),
            0,
            2 * 8 + 1,
            Rect::new(256, 512, 256, 256),
        ),
        (
            Rect::new(512, 0, 512, 512),
            (256, 256),
            1,
            1,
            Rect::new(256, 0, 256, 256),
        ),
    ] {
        let plan = plan(
            region,
            size,
            false,
            0.0,
            Quality::Default,
            OutputFormat::Jpg,
        );
        let body = render(reader.as_mut(), &plan, &RenderOptions::default()).expect("render");
        assert_eq!(body, expected(&written, level, index), "{region:?}");
        assert_eq!(body.windows(2).filter(|w| w == &[0xFF, 0xD8]).count(), 1);
        assert_jpeg_shows(&body, level, at);
    }
}

#[test]
fn rgb_coded_tiles_are_sent_as_stored_and_show_as_decoded() {
    let written = written(true);
    let mut reader = reader(&written);
    let plan = plan(
        Rect::new(512, 0, 512, 512),
        (256, 256),
        false,
        0.0,
        Quality::Default,
        OutputFormat::Jpg,
    );
    let body = render(reader.as_mut(), &plan, &RenderOptions::default()).expect("render");
    assert_eq!(body, expected(&written, 1, 1));
    // No marker says "YCbCr": libjpeg (as in browsers) takes the R, G, B components as they are.
    assert!(!body.windows(4).any(|w| w == [0xFF, 0xE0, 0, 16]));
    assert_jpeg_shows(&body, 1, Rect::new(256, 0, 256, 256));
    // Windows of several tiles, on the block grid or off it, are not joined (RGB-coded blocks
    // are not requantised): where libjpeg has its SIMD code and the CPU AVX2, they are decoded
    // into planes and written as YCbCr, chroma halved below quality 90; else decoded as usual.
    let planes = tessera_image::encode::jpeg_encoder_name() == "libjpeg (SIMD)" && {
        #[cfg(target_arch = "x86_64")]
        let avx2 = std::arch::is_x86_feature_detected!("avx2");
        #[cfg(not(target_arch = "x86_64"))]
        let avx2 = true;
        avx2
    };
    for (window, quality) in [
        (Rect::new(256, 256, 512, 512), 85),
        (Rect::new(256, 256, 512, 512), 100),
        (Rect::new(13, 250, 301, 77), 85),
        (Rect::new(1700, 1000, 300, 200), 90),
        // The bottom-right tile, whole but cut by the image's edge, stored at quality 90.
        (Rect::new(1792, 1024, 208, 176), 85),
    ] {
        let size = Dimensions::new(window.w, window.h);
        let answer = reader
            .stored_jpeg(window, size, quality)
            .expect("stored_jpeg");
        assert_eq!(answer.is_some(), planes, "{window:?} at {quality}");
        if let Some(jpeg) = answer {
            assert!(
                jpeg.windows(4).any(|w| w == [0xFF, 0xE0, 0, 16]),
                "JFIF: YCbCr"
            );
            assert_jpeg_shows(&jpeg, 0, window);
            let frame = luma_sampling(&jpeg);
            assert_eq!(frame, if quality < 90 { 0x22 } else { 0x11 }, "{window:?}");
        }
    }
    // The decoded path (a region that is not one whole tile) shows the same colours.
    let decoded = reader
        .read(Rect::new(0, 0, 256, 256), Dimensions::new(256, 256))
        .expect("read");
    let want = paint(0, 10, 10);
    let got = &decoded.data[(10 * 256 + 10) * 3..(10 * 256 + 10) * 3 + 3];
    assert!(
        got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= 8),
        "{got:?} vs {want:?}"
    );
}

#[test]
fn anything_but_a_whole_stored_tile_is_decoded() {
    let written = jpeg_pyramid();
    let mut reader = reader(&written);
    let tile = Rect::new(256, 512, 256, 256);
    let stored = expected(&written, 0, 2 * 8 + 1);
    for (region, size, mirror, rotation, quality, format) in [
        (
            tile,
            (255, 255),
            false,
            0.0,
            Quality::Default,
            OutputFormat::Jpg,
        ),
        // Off the 8-pixel grid: no stored blocks start there.
        (
            Rect::new(124, 512, 256, 256),
            (256, 256),
            false,
            0.0,
            Quality::Default,
            OutputFormat::Jpg,
        ),
        (
            tile,
            (256, 256),
            true,
            0.0,
            Quality::Default,
            OutputFormat::Jpg,
        ),
        (
            tile,
            (256, 256),
            false,
            90.0,
            Quality::Default,
            OutputFormat::Jpg,
        ),
        (
            tile,
            (256, 256),
            false,
            0.0,
            Quality::Gray,
            OutputFormat::Jpg,
        ),
        (
            tile,
            (256, 256),
            false,
            0.0,
            Quality::Default,
            OutputFormat::Png,
        ),
        // Two tiles, resized.
        (
            Rect::new(0, 0, 512, 256),
            (500, 250),
            false,
            0.0,
            Quality::Default,
            OutputFormat::Jpg,
        ),
    ] {
        let plan = plan(region, size, mirror, rotation, quality, format);
        let body = render(reader.as_mut(), &plan, &RenderOptions::default()).expect("render");
        assert_ne!(body, stored, "{region:?} {size:?}");
        assert!(reader
            .stored_jpeg(region, Dimensions::new(size.0, size.1), 85)
            .expect("stored_jpeg")
            .is_none_or(|_| region == tile && size == (256, 256)));
    }
}

#[test]
fn a_window_on_the_block_grid_at_its_levels_scale_is_joined_from_the_stored_tiles() {
    let written = jpeg_pyramid();
    let mut reader = reader(&written);
    // Region, output size and the level (a halving) that serves it: four tiles, as a viewer
    // asking for 512 px tiles of 256 px storage does; half of two tiles, on the MCU grid; the
    // last column, clipped at the image edge (80 of the stored 256 columns); 1024 px at level 1.
    for (region, size, level) in [
        (Rect::new(512, 256, 512, 512), (512, 512), 0),
        (Rect::new(128, 512, 256, 256), (256, 256), 0),
        (Rect::new(1792, 0, 208, 256), (208, 256), 0),
        (Rect::new(0, 0, 1024, 1024), (512, 512), 1),
    ] {
        let joined = reader
            .stored_jpeg(region, Dimensions::new(size.0, size.1), 85)
            .expect("stored_jpeg");
        assert!(joined.is_some(), "{region:?} is joined");
        let plan = plan(
            region,
            size,
            false,
            0.0,
            Quality::Default,
            OutputFormat::Jpg,
        );
        let body = render(reader.as_mut(), &plan, &RenderOptions::default()).expect("render");
        assert_eq!(Some(&body), joined.as_ref());
        let at = Rect::new(
            region.x >> level,
            region.y >> level,
            region.w >> level,
            region.h >> level,
        );
        assert_jpeg_shows(&body, level, at);
    }
}

#[test]
fn jpeg_tiles_with_shared_tables_decode_at_every_level() {
    let written = jpeg_pyramid();
    let mut reader = reader(&written);
    for (region, target, level, at) in [
        (
            Rect::new(300, 200, 600, 500),
            (600, 500),
            0,
            Rect::new(300, 200, 600, 500),
        ),
        (
            Rect::new(0, 0, 2000, 1200),
            (500, 300),
            2,
            Rect::new(0, 0, 500, 300),
        ),
        (
            Rect::new(1000, 600, 1000, 600),
            (500, 300),
            1,
            Rect::new(500, 300, 500, 300),
        ),
    ] {
        let raster = reader
            .read(region, Dimensions::new(target.0, target.1))
            .expect("read");
        assert_eq!((raster.width, raster.height), (at.w, at.h));
        let mut worst = 0;
        for y in 0..at.h {
            for x in 0..at.w {
                let i = ((y * at.w + x) * 3) as usize;
                let want = paint(level, at.x + x, at.y + y);
                for (g, w) in raster.data[i..i + 3].iter().zip(want) {
                    worst = worst.max(g.abs_diff(w));
                }
            }
        }
        assert!(worst <= 8, "{region:?}: largest channel error {worst}");
    }
}

/// `inner` reporting `icc` as its profile, as a TIFF with tag 34675 would.
struct Tagged {
    inner: Box<dyn ImageReader>,
    icc: Arc<[u8]>,
}

impl ImageReader for Tagged {
    fn header(&self) -> &tessera_image::ImageHeader {
        self.inner.header()
    }

    fn read(
        &mut self,
        region: Rect,
        target: Dimensions,
    ) -> Result<tessera_image::Raster, tessera_image::ImageError> {
        self.inner.read(region, target)
    }

    fn stored_jpeg(
        &mut self,
        region: Rect,
        size: Dimensions,
        quality: u8,
    ) -> Result<Option<Vec<u8>>, tessera_image::ImageError> {
        self.inner.stored_jpeg(region, size, quality)
    }

    fn icc_profile(&self) -> Option<Arc<[u8]>> {
        Some(Arc::clone(&self.icc))
    }
}

#[test]
fn with_a_profile_a_stored_tile_passes_only_when_kept_and_then_carries_it() {
    use tessera_image::colour::IccMode;
    let written = jpeg_pyramid();
    let icc: Arc<[u8]> = moxcms::ColorProfile::new_display_p3()
        .encode()
        .expect("P3")
        .into();
    let mut reader = Tagged {
        inner: reader(&written),
        icc: Arc::clone(&icc),
    };
    let tile = plan(
        Rect::new(512, 0, 512, 512),
        (256, 256),
        false,
        0.0,
        Quality::Default,
        OutputFormat::Jpg,
    );
    let stored = expected(&written, 1, 1);
    let keep = RenderOptions {
        icc: IccMode::Keep,
        ..RenderOptions::default()
    };
    let body = render(&mut reader, &tile, &keep).expect("render");
    // The stored bytes with one APP2 segment after SOI, and nothing else changed.
    let segment = 2 + 2 + 12 + 2 + icc.len();
    assert_eq!(&body[..2], &stored[..2]);
    assert_eq!(&body[2..4], &[0xFF, 0xE2]);
    assert_eq!(&body[2 + segment..], &stored[2..]);
    let back = open(Arc::new(body.clone()), &ReadLimits::default()).expect("open");
    assert_eq!(back.icc_profile().as_deref(), Some(&icc[..]));
    assert_jpeg_shows(&body, 1, Rect::new(256, 0, 256, 256));
    // Converting to sRGB cannot be done on stored bytes: the tile is decoded, converted, untagged.
    let body = render(&mut reader, &tile, &RenderOptions::default()).expect("render");
    assert_ne!(body, stored);
    let back = open(Arc::new(body), &ReadLimits::default()).expect("open");
    assert!(back.icc_profile().is_none());
}
