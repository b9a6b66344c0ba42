//! The hot path of a tile request, step by step: plan, read one tile (from a Deflate pyramid and a
//! JPEG pyramid, and as a stored-tile passthrough), resize, encode. `cargo bench -p tessera-image`.

#[path = "../tests/common/pyramid.rs"]
#[allow(dead_code)]
mod pyramid;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use pyramid::{Options, Placement};
use tessera_iiif::{plan, ApiVersion, Dimensions, ImageRequest, Limits, OutputFormat, Plan, Rect};
use tessera_image::transform::resize::resize;
use tessera_image::{
    encode, open, render, EncodeOptions, ImageReader, PixelLayout, Raster, ReadLimits,
    RenderOptions,
};

/// A 4096x4096 pyramid (4 levels) of 256 px tiles with smooth content.
fn pyramid_file(deflate: bool, jpeg: bool) -> Vec<u8> {
    let sizes: Vec<(u32, u32)> = (0..4).map(|l| (4096 >> l, 4096 >> l)).collect();
    let options = Options {
        tile: 256,
        placement: Placement::Chain,
        big: false,
        deflate,
        jpeg,
        webp: false,
        rgb_jpeg: false,
    };
    pyramid::write(&sizes, options, |l, x, y| {
        [
            (x >> (4 - l)) as u8,
            (y >> (4 - l)) as u8,
            ((x + y) >> 5) as u8,
        ]
    })
    .file
}

/// A 2048x2048 pyramid (2 levels) of 256 px RGB-coded JPEG tiles (as libvips writes at quality
/// 90 and above) with detail in every block, as scans have.
fn rgb_jpeg_pyramid() -> Vec<u8> {
    let options = Options {
        tile: 256,
        placement: Placement::Chain,
        big: false,
        deflate: false,
        jpeg: true,
        webp: false,
        rgb_jpeg: true,
    };
    pyramid::write(&[(2048, 2048), (1024, 1024)], options, |_, x, y| {
        let noise = (x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)) % 29;
        [
            (x / 8 + noise) as u8,
            (y / 8 + noise / 2) as u8,
            ((x ^ y) / 16 + noise) as u8,
        ]
    })
    .file
}

/// The plan of a IIIF 3.0 `default.jpg` request for `region` at `size` of a `side`² image.
fn planned(region: &str, size: &str, side: u32) -> Plan {
    let request =
        ImageRequest::parse(ApiVersion::V3, region, size, "0", "default.jpg").expect("request");
    plan(&request, Dimensions::new(side, side), &Limits::default()).expect("plan")
}

fn reader(file: &[u8]) -> Box<dyn ImageReader> {
    open(Arc::new(file.to_vec()), &ReadLimits::default()).expect("open")
}

fn bench_plan(c: &mut Criterion) {
    let limits = Limits::default();
    let image = Dimensions::new(100_000, 80_000);
    c.bench_function("plan: parse and plan a 1/4 tile", |b| {
        b.iter(|| {
            let request = ImageRequest::parse(
                ApiVersion::V3,
                black_box("4096,8192,1024,1024"),
                black_box("256,256"),
                "0",
                "default.jpg",
            )
            .expect("request");
            plan(&request, image, &limits).expect("plan")
        })
    });
}

fn bench_read(c: &mut Criterion) {
    let deflate = pyramid_file(true, false);
    let jpeg = pyramid_file(false, true);
    let tile = Rect::new(1024, 1024, 1024, 1024);
    let target = Dimensions::new(256, 256);
    let mut r = reader(&deflate);
    c.bench_function("read: one 256 px Deflate tile at level 2", |b| {
        b.iter(|| r.read(black_box(tile), target).expect("read"))
    });
    let mut r = reader(&jpeg);
    c.bench_function("read: one 256 px JPEG tile at level 2", |b| {
        b.iter(|| r.read(black_box(tile), target).expect("read"))
    });
    let mut r = reader(&jpeg);
    let single = planned("1024,1024,1024,1024", "256,256", 4096);
    c.bench_function("render: one stored JPEG tile (passthrough)", |b| {
        b.iter(|| {
            render(r.as_mut(), black_box(&single), &RenderOptions::default()).expect("render")
        })
    });
    let mut r = reader(&jpeg);
    let composed = planned("1024,1024,2048,2048", "512,512", 4096);
    c.bench_function(
        "render: a 512 px tile composed of four stored JPEG tiles",
        |b| {
            b.iter(|| {
                render(r.as_mut(), black_box(&composed), &RenderOptions::default()).expect("render")
            })
        },
    );
    let mut r = reader(&rgb_jpeg_pyramid());
    let aligned = planned("512,512,512,512", "512,512", 2048);
    c.bench_function(
        "render: a 512 px tile of four RGB-coded stored JPEG tiles (planes)",
        |b| {
            b.iter(|| {
                render(r.as_mut(), black_box(&aligned), &RenderOptions::default()).expect("render")
            })
        },
    );
}

fn gradient(w: u32, h: u32) -> Raster {
    let data = (0..h)
        .flat_map(|y| (0..w).flat_map(move |x| [x as u8, y as u8, (x ^ y) as u8]))
        .collect();
    Raster::from_data(w, h, PixelLayout::Rgb8, data).expect("raster")
}

fn bench_resize_encode(c: &mut Criterion) {
    let big = gradient(1024, 1024);
    c.bench_function("resize: 1024x1024 RGB to 256x256", |b| {
        b.iter(|| resize(black_box(big.clone()), 256, 256).expect("resize"))
    });
    let tile = gradient(256, 256);
    let options = EncodeOptions::default();
    c.bench_function("encode: 256x256 RGB as JPEG q85", |b| {
        b.iter(|| {
            encode::encode(black_box(&tile), OutputFormat::Jpg, &options, None).expect("encode")
        })
    });
}

/// Regions of a big (6000x4000, 4:2:0) baseline JPEG: the reader skips what lies outside them.
fn bench_jpeg_region(c: &mut Criterion) {
    let options = EncodeOptions::default();
    let file =
        encode::encode(&gradient(6000, 4000), OutputFormat::Jpg, &options, None).expect("encode");
    let mut r = reader(&file);
    c.bench_function(
        "read: 512x512 region near the bottom right of a 6000x4000 JPEG",
        |b| {
            b.iter(|| {
                r.read(
                    black_box(Rect::new(5000, 3000, 512, 512)),
                    Dimensions::new(512, 512),
                )
                .expect("read")
            })
        },
    );
    c.bench_function("read: 2048x2048 region of a 6000x4000 JPEG at 1/4", |b| {
        b.iter(|| {
            r.read(
                black_box(Rect::new(3000, 1500, 2048, 2048)),
                Dimensions::new(512, 512),
            )
            .expect("read")
        })
    });
}

criterion_group!(
    benches,
    bench_plan,
    bench_read,
    bench_resize_encode,
    bench_jpeg_region
);
criterion_main!(benches);
