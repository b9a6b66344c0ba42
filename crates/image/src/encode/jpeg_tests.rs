//! Both JPEG encoders, whichever this build would pick: the same tables and sampling, pixels as
//! close to the source as each other, gray, ICC profiles split into numbered segments, and the
//! chroma kept whole or halved as asked. The picture is the DCT join's test picture.

use super::*;
use crate::dct::tests::picture;

fn raster(width: u32, height: u32) -> Raster {
    Raster {
        width,
        height,
        layout: PixelLayout::Rgb8,
        data: picture(width, height),
        extent: None,
    }
}

/// Decoded by libjpeg with its defaults: width, height, components, samples.
fn decode(jpeg: &[u8]) -> (u32, u32, usize, Vec<u8>) {
    let d = mozjpeg::Decompress::new_mem(jpeg).expect("header");
    let gray = d.color_space() == mozjpeg::ColorSpace::JCS_GRAYSCALE;
    let mut started = if gray { d.grayscale() } else { d.rgb() }.expect("start");
    let (w, h) = (started.width() as u32, started.height() as u32);
    let data: Vec<u8> = started.read_scanlines().expect("rows");
    (w, h, if gray { 1 } else { 3 }, data)
}

/// The segments before the first scan: (marker, payload).
fn segments(jpeg: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut found = Vec::new();
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xFF {
        let marker = jpeg[i + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        found.push((marker, jpeg[i + 4..i + 2 + len].to_vec()));
        if marker == 0xDA {
            break;
        }
        i += 2 + len;
    }
    found
}

/// A frame component as SOF0 codes it: id, sampling byte, table slot.
type FrameComponent = (u8, u8, u8);

/// The DQT payloads, and the frame's components.
fn layout(jpeg: &[u8]) -> (Vec<Vec<u8>>, Vec<FrameComponent>) {
    let parts = segments(jpeg);
    let tables = parts
        .iter()
        .filter(|(m, _)| *m == 0xDB)
        .map(|(_, p)| p.clone())
        .collect();
    let (_, frame) = parts
        .iter()
        .find(|(m, _)| *m == 0xC0)
        .expect("baseline SOF0");
    let components = frame[6..].chunks(3).map(|c| (c[0], c[1], c[2])).collect();
    (tables, components)
}

fn mean_error(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let sum: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.len() as f64
}

const ENGINES: [Engine; 2] = [Engine::Libjpeg, Engine::JpegEncoder];

#[test]
fn both_encoders_write_the_same_tables_and_halve_the_chroma_below_90() {
    let source = raster(200, 120);
    for quality in [50, 80, 89, 90, 97] {
        let [a, b] = ENGINES.map(|e| encode_with(e, &source, quality, None).expect("encode"));
        let (tables_a, components_a) = layout(&a);
        let (tables_b, components_b) = layout(&b);
        assert_eq!(tables_a, tables_b, "tables at q{quality}");
        // Ids differ (libjpeg counts from 1, jpeg-encoder from 0); sampling and tables do not.
        let coding = |c: &[FrameComponent]| c.iter().map(|c| (c.1, c.2)).collect::<Vec<_>>();
        assert_eq!(coding(&components_a), coding(&components_b), "q{quality}");
        let luma_sampling = components_a[0].1;
        let expected = if quality < 90 { 0x22 } else { 0x11 };
        assert_eq!(luma_sampling, expected, "q{quality}");
        assert!(components_a[1..].iter().all(|c| c.1 == 0x11));
    }
}

#[test]
fn both_encoders_come_as_close_to_the_pixels() {
    let source = raster(203, 131);
    for quality in [60, 85, 95] {
        let errors = ENGINES.map(|e| {
            let jpeg = encode_with(e, &source, quality, None).expect("encode");
            let (w, h, channels, pixels) = decode(&jpeg);
            assert_eq!((w, h, channels), (203, 131, 3));
            mean_error(&pixels, &source.data)
        });
        // The ripple is sharp colour: halving the chroma (below 90) costs most of the error.
        let bound = if quality < 90 { 12.0 } else { 4.0 };
        assert!(errors[0] < bound, "q{quality}: {errors:?}");
        assert!(
            (errors[0] - errors[1]).abs() < 0.25 * errors[1] + 0.1,
            "q{quality}: {errors:?}"
        );
    }
}

#[test]
fn gray_stays_one_component() {
    let data: Vec<u8> = (0..64 * 40).map(|i| (i % 64 * 4) as u8).collect();
    let gray = Raster {
        width: 64,
        height: 40,
        layout: PixelLayout::Gray8,
        data: data.clone(),
        extent: None,
    };
    for engine in ENGINES {
        let jpeg = encode_with(engine, &gray, 90, None).expect("encode");
        let (w, h, channels, pixels) = decode(&jpeg);
        assert_eq!((w, h, channels), (64, 40, 1), "{engine:?}");
        assert!(mean_error(&pixels, &data) < 2.0, "{engine:?}");
    }
}

#[test]
fn a_profile_is_split_into_numbered_segments_and_comes_back_whole() {
    // Bytes enough for two segments (`encode_pixels` writes a profile as given).
    let big: Vec<u8> = (0..ICC_SEGMENT_BYTES + 1000)
        .map(|i| (i % 251) as u8)
        .collect();
    let source = raster(48, 32);
    for engine in ENGINES {
        let jpeg = encode_pixels(
            engine,
            Pixels {
                data: &source.data,
                width: 48,
                height: 32,
                gray: false,
            },
            80,
            true,
            Some(&big),
        )
        .expect("encode");
        let parts: Vec<Vec<u8>> = segments(&jpeg)
            .into_iter()
            .filter(|(m, p)| *m == 0xE2 && p.starts_with(b"ICC_PROFILE\0"))
            .map(|(_, p)| p)
            .collect();
        assert_eq!(parts.len(), 2, "{engine:?}");
        assert_eq!((parts[0][12], parts[0][13]), (1, 2));
        assert_eq!((parts[1][12], parts[1][13]), (2, 2));
        let whole: Vec<u8> = parts.iter().flat_map(|p| p[14..].to_vec()).collect();
        assert_eq!(whole, big, "{engine:?}");
        assert_eq!(decode(&jpeg).0, 48);
    }
}

#[test]
fn chroma_is_kept_whole_when_asked_at_any_quality() {
    let source = raster(64, 64);
    for engine in ENGINES {
        let pixels = Pixels {
            data: &source.data,
            width: 64,
            height: 64,
            gray: false,
        };
        let whole = encode_pixels(engine, pixels, 70, false, None).expect("encode");
        let halved = encode_pixels(engine, pixels, 97, true, None).expect("encode");
        assert_eq!(layout(&whole).1[0].1, 0x11, "{engine:?}");
        assert_eq!(layout(&halved).1[0].1, 0x22, "{engine:?}");
    }
}

#[test]
fn a_short_buffer_is_an_error_not_a_read_past_it() {
    let data = vec![0u8; 10];
    let pixels = Pixels {
        data: &data,
        width: 64,
        height: 64,
        gray: false,
    };
    for engine in ENGINES {
        assert!(
            encode_pixels(engine, pixels, 80, true, None).is_err(),
            "{engine:?}"
        );
    }
}
