//! Cancellation: a read or render run under a cancelled token stops with `ImageError::Cancelled`
//! (never a "corrupt" verdict, which would make the server try the next alternate), whatever the
//! format; the same work outside any token, or under a live one, is unaffected.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera_iiif::{Dimensions, OutputFormat, Quality, Rect};
use tessera_image::cancel::CancelToken;
use tessera_image::encode::{encode, EncodeOptions};
use tessera_image::{open, ImageError, PixelLayout, Raster, ReadLimits};

/// A varied RGB raster.
fn pattern(w: u32, h: u32) -> Raster {
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            data.extend_from_slice(&[(x % 256) as u8, (y % 256) as u8, ((x ^ y) % 256) as u8]);
        }
    }
    Raster::from_data(w, h, PixelLayout::Rgb8, data).expect("raster")
}

/// The same image encoded in each format Tessera writes and reads.
fn sources() -> Vec<(&'static str, Vec<u8>)> {
    let raster = pattern(1500, 1100);
    let options = EncodeOptions::default();
    let mut out = Vec::new();
    for (name, format) in [
        ("jpeg", OutputFormat::Jpg),
        ("png", OutputFormat::Png),
        ("tiff", OutputFormat::Tif),
    ] {
        out.push((
            name,
            encode(&raster, format, &options, None).expect("encode"),
        ));
    }
    let jp2 = common::corpus("jp2/jpx_rgb_2717x3701__pillow-balloon.jpf");
    let jp2 = std::fs::read(&jp2).unwrap_or_else(|e| panic!("{}: {e}", jp2.display()));
    out.push(("jpeg2000", jp2));
    out
}

fn read_all(bytes: &[u8]) -> Result<Raster, ImageError> {
    let mut reader = open(Arc::new(bytes.to_vec()), &ReadLimits::default())?;
    let h = *reader.header();
    reader.read(
        Rect::full(h.width, h.height),
        Dimensions::new(h.width, h.height),
    )
}

#[test]
fn every_reader_stops_when_cancelled() {
    for (name, bytes) in sources() {
        assert!(read_all(&bytes).is_ok(), "{name}: reads without a token");
        let live = CancelToken::new();
        assert!(live.run(|| read_all(&bytes)).is_ok(), "{name}: live token");
        let cancelled = CancelToken::new();
        cancelled.cancel();
        let result = cancelled.run(|| read_all(&bytes));
        assert!(
            matches!(result, Err(ImageError::Cancelled)),
            "{name}: {:?}",
            result.map(|r| (r.width, r.height))
        );
    }
}

#[test]
fn an_expired_deadline_stops_a_render() {
    let raster = pattern(2000, 1500);
    let bytes =
        encode(&raster, OutputFormat::Jpg, &EncodeOptions::default(), None).expect("encode");
    let plan = common::plan(
        Rect::full(2000, 1500),
        (6000, 4500),
        false,
        0.0,
        Quality::Default,
        OutputFormat::Png,
    );
    let mut reader = open(Arc::new(bytes), &ReadLimits::default()).expect("open");
    let token = CancelToken::new().with_deadline(Instant::now() + Duration::from_millis(1));
    std::thread::sleep(Duration::from_millis(5));
    let result = token.run(|| {
        tessera_image::render(
            reader.as_mut(),
            &plan,
            &tessera_image::RenderOptions::default(),
        )
    });
    assert!(matches!(result, Err(ImageError::Cancelled)));
}

#[test]
fn a_render_cancelled_from_another_thread_stops() {
    // An upscaled PNG of 36 megapixels: seconds of work when it runs to the end.
    let raster = pattern(2000, 1500);
    let bytes =
        encode(&raster, OutputFormat::Jpg, &EncodeOptions::default(), None).expect("encode");
    let plan = common::plan(
        Rect::full(2000, 1500),
        (8000, 6000),
        false,
        90.0,
        Quality::Default,
        OutputFormat::Png,
    );
    let token = CancelToken::new();
    let remote = token.clone();
    let worker = std::thread::spawn(move || {
        let mut reader = open(Arc::new(bytes), &ReadLimits::default()).expect("open");
        token.run(|| {
            tessera_image::render(
                reader.as_mut(),
                &plan,
                &tessera_image::RenderOptions::default(),
            )
        })
    });
    std::thread::sleep(Duration::from_millis(100));
    remote.cancel();
    let result = worker.join().expect("no panic");
    // Had it run to the end, the render would have returned its PNG.
    assert!(
        matches!(result, Err(ImageError::Cancelled)),
        "{:?}",
        result.map(|b| b.len())
    );
}
