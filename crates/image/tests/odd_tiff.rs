//! TIFF files of kinds the shared corpus lacks, harvested into `tests/data/tiff/` (provenance and
//! licences in its README): old-style LZW, old-style JPEG over several strips or from tables
//! only, CCITT modified Huffman. Their pixels are checked against Pillow's (libtiff's) decoding:
//! channel means and sample pixels computed with Pillow 13 and written down here (the
//! black-box tests in `tests/py/test_odd_tiff.py` compare every pixel). Then TIFFs whose strips or
//! tiles run past the end of the file, which must be refused rather than padded with made-up
//! pixels.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::{corpus, read_full};
use tessera_iiif::{Dimensions, Rect};
use tessera_image::{open, ImageError, ImageReader, Raster, ReadLimits};

/// A file of the repository's `tests/data/tiff/`.
fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/tiff")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    let path = data(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn open_bytes(bytes: Vec<u8>) -> Result<Box<dyn ImageReader>, ImageError> {
    open(Arc::new(bytes), &ReadLimits::default())
}

fn decode(bytes: Vec<u8>) -> Result<Raster, ImageError> {
    open_bytes(bytes).and_then(|mut r| read_full(r.as_mut()))
}

/// Mean of each channel.
fn means(r: &Raster) -> Vec<f64> {
    let c = r.layout.channels();
    let n = (r.width * r.height) as f64;
    (0..c)
        .map(|ch| {
            r.data
                .iter()
                .skip(ch)
                .step_by(c)
                .map(|&v| f64::from(v))
                .sum::<f64>()
                / n
        })
        .collect()
}

fn pixel(r: &Raster, x: u32, y: u32) -> Vec<u8> {
    let c = r.layout.channels();
    let at = (y * r.width + x) as usize * c;
    r.data[at..at + c].to_vec()
}

/// Pillow's reading of each file: size, channel means, and sample pixels (x, y, value).
struct Expected {
    name: &'static str,
    size: (u32, u32),
    means: &'static [f64],
    samples: &'static [(u32, u32, &'static [u8])],
    /// Largest difference allowed per sample (JPEG decoders differ by a few levels).
    tolerance: u8,
}

const EXPECTED: &[Expected] = &[
    Expected {
        name: "quad-lzw-compat.tiff",
        size: (512, 384),
        means: &[26.09, 37.07, 43.9],
        samples: &[(292, 304, &[0, 0, 0]), (438, 76, &[9, 139, 165])],
        tolerance: 0,
    },
    Expected {
        name: "ojpeg_chewey_subsamp21_multi_strip.tiff",
        size: (392, 575),
        means: &[113.41, 87.95, 71.01],
        samples: &[
            (56, 115, &[244, 229, 186]),
            (112, 230, &[57, 20, 12]),
            (224, 460, &[45, 31, 20]),
            (336, 115, &[124, 80, 67]),
        ],
        tolerance: 6,
    },
    Expected {
        name: "ojpeg_zackthecat_subsamp22_single_strip.tiff",
        size: (234, 213),
        means: &[57.94, 58.11, 58.03],
        // Smooth areas: libtiff replicates the 2x2 chroma where libjpeg interpolates it.
        samples: &[
            (198, 42, &[16, 18, 31]),
            (120, 100, &[54, 58, 67]),
            (200, 200, &[69, 100, 118]),
        ],
        tolerance: 6,
    },
    Expected {
        name: "ojpeg_single_strip_no_rowsperstrip.tiff",
        size: (234, 213),
        means: &[57.94, 58.11, 58.03],
        samples: &[(200, 200, &[69, 100, 118]), (198, 42, &[16, 18, 31])],
        tolerance: 6,
    },
    Expected {
        name: "ccitt_rle_pillow.tif",
        size: (731, 389),
        means: &[203.01],
        samples: &[(104, 77, &[0]), (208, 154, &[255]), (624, 77, &[0])],
        tolerance: 0,
    },
    Expected {
        name: "testfax3_bug54_1dnoEOL.tif",
        size: (1728, 2320),
        means: &[240.55],
        samples: &[(246, 464, &[255]), (1230, 0, &[255])],
        tolerance: 0,
    },
    Expected {
        name: "ccitt_g3_pillow.tif",
        size: (731, 389),
        means: &[203.01],
        samples: &[(104, 77, &[0]), (208, 154, &[255]), (624, 77, &[0])],
        tolerance: 0,
    },
    Expected {
        name: "ccitt_g4_pillow.tif",
        size: (731, 389),
        means: &[203.01],
        samples: &[(104, 77, &[0]), (208, 154, &[255]), (624, 77, &[0])],
        tolerance: 0,
    },
];

#[test]
fn harvested_files_decode_as_libtiff_does() {
    for e in EXPECTED {
        let r = decode(read(e.name)).unwrap_or_else(|err| panic!("{}: {err}", e.name));
        assert_eq!((r.width, r.height), e.size, "{}", e.name);
        let got = means(&r);
        let slack = if e.tolerance == 0 { 0.01 } else { 1.0 };
        for (g, w) in got.iter().zip(e.means) {
            assert!(
                (g - w).abs() <= slack,
                "{}: means {got:?}, Pillow {:?}",
                e.name,
                e.means
            );
        }
        for &(x, y, want) in e.samples {
            let p = pixel(&r, x, y);
            let ok = p
                .iter()
                .zip(want)
                .all(|(&a, &b)| a.abs_diff(b) <= e.tolerance);
            assert!(ok, "{} at {x},{y}: {p:?}, Pillow {want:?}", e.name);
        }
    }
}

#[test]
fn regions_of_multi_strip_old_style_jpeg_equal_the_full_read() {
    let bytes = read("ojpeg_chewey_subsamp21_multi_strip.tiff");
    let full = decode(bytes.clone()).expect("decodes");
    let mut r = open_bytes(bytes).expect("opens");
    let region = Rect::new(50, 300, 100, 60);
    let part = r.read(region, Dimensions::new(100, 60)).expect("region");
    for (y, row) in part.data.chunks_exact(300).enumerate() {
        let at = ((300 + y) * 392 + 50) * 3;
        assert_eq!(row, &full.data[at..at + 300], "row {y}");
    }
}

/// Where a classic TIFF's first directory keeps tag `tag`: (type, count, offset of the values).
fn tag_values(tiff: &[u8], tag: u16) -> Option<(u16, usize, usize)> {
    let little = tiff.starts_with(b"II");
    let u16_at = |at: usize| {
        let b = [tiff[at], tiff[at + 1]];
        if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    };
    let u32_at = |at: usize| {
        let b = [tiff[at], tiff[at + 1], tiff[at + 2], tiff[at + 3]];
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let ifd = u32_at(4) as usize;
    for i in 0..usize::from(u16_at(ifd)) {
        let entry = ifd + 2 + 12 * i;
        if u16_at(entry) == tag {
            let (kind, count) = (u16_at(entry + 2), u32_at(entry + 4) as usize);
            let size = if kind == 3 { 2 } else { 4 };
            let at = if count * size <= 4 {
                entry + 8
            } else {
                u32_at(entry + 8) as usize
            };
            return Some((kind, count, at));
        }
    }
    None
}

/// `tiff` with the byte count of its last strip or tile raised to run `past` bytes beyond the end
/// of the file (the chunk's data is still there, followed by nothing).
fn last_chunk_past_the_end(mut tiff: Vec<u8>, past: u32) -> Vec<u8> {
    let little = tiff.starts_with(b"II");
    let tiled = tag_values(&tiff, 324).is_some();
    let (offsets, counts) = if tiled { (324, 325) } else { (273, 279) };
    let read = |t: &[u8], (kind, count, at): (u16, usize, usize)| {
        let (size, i) = (if kind == 3 { 2 } else { 4 }, count - 1);
        let b = &t[at + size * i..at + size * i + size];
        match (size, little) {
            (2, true) => u32::from(u16::from_le_bytes([b[0], b[1]])),
            (2, false) => u32::from(u16::from_be_bytes([b[0], b[1]])),
            (_, true) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            (_, false) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        }
    };
    let off = read(&tiff, tag_values(&tiff, offsets).expect("offsets"));
    let (kind, count, at) = tag_values(&tiff, counts).expect("byte counts");
    assert_eq!(kind, 4, "LONG byte counts");
    let new = tiff.len() as u32 - off + past;
    let b = if little {
        new.to_le_bytes()
    } else {
        new.to_be_bytes()
    };
    tiff[at + 4 * (count - 1)..at + 4 * count].copy_from_slice(&b);
    tiff
}

#[test]
fn chunks_running_past_the_end_of_the_file_are_refused() {
    let mut files: Vec<(String, Vec<u8>)> = [
        "quad-tile.jpg.tiff",
        "quad-lzw-compat.tiff",
        "ccitt_rle_pillow.tif",
        "testfax3_bug54_1dnoEOL.tif",
        "ojpeg_zackthecat_subsamp22_single_strip.tiff",
    ]
    .iter()
    .map(|n| (n.to_string(), read(n)))
    .collect();
    for rel in [
        "tiff/striped_bilevel_ccitt-g4__pillow-hopper_g4_500.tif",
        "tiff/striped_rgb8_deflate_icc__pillow-tiff_adobe_deflate.tif",
        "tiff/striped_rgb8_packbits__pillow-copyleft.tiff",
        "tiff/lzma__pillow-hopper_lzma.tif",
        "tiff/striped_ycbcr_jpeg_2x2subsampled__pillow-tiff_strip_ycbcr_jpeg_2x2_sampling.tif",
    ] {
        let path = corpus(rel);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        files.push((rel.to_string(), bytes));
    }
    for (name, bytes) in files {
        // The file as it is decodes; with its last chunk said to run 1000 bytes past the end, it
        // is refused with a message saying so.
        decode(bytes.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let result = decode(last_chunk_past_the_end(bytes, 1000));
        assert!(
            matches!(result, Err(ImageError::Corrupt(ref m)) if m.contains("outside the file")),
            "{name}: {:?}",
            result.map(|r| (r.width, r.height))
        );
    }
}

#[test]
fn a_stored_jpeg_tile_past_the_end_is_not_passed_through() {
    let bytes = last_chunk_past_the_end(read("quad-tile.jpg.tiff"), 10);
    let mut r = open_bytes(bytes).expect("opens");
    let h = *r.header();
    let storage = r.storage();
    let tile = storage.tile.expect("tiled");
    let (x, y) = (
        (h.width - 1) / tile.width * tile.width,
        (h.height - 1) / tile.height * tile.height,
    );
    let region = Rect::new(x, y, h.width - x, h.height - y);
    let size = Dimensions::new(region.w, region.h);
    assert!(matches!(
        r.stored_jpeg(region, size, 85),
        Err(ImageError::Corrupt(_))
    ));
    assert!(matches!(r.read(region, size), Err(ImageError::Corrupt(_))));
    // The other tiles are fine.
    let first = Rect::new(0, 0, tile.width, tile.height);
    r.read(first, Dimensions::new(tile.width, tile.height))
        .expect("first tile");
}

#[test]
fn an_uncompressed_strip_with_too_large_a_byte_count_still_decodes() {
    // libtiff accepts it too: what is in the file covers the strip, nothing is made up.
    let rel = "tiff/striped_rgb8_uncompressed__pillow-tiff_strip_raw.tif";
    let bytes = std::fs::read(corpus(rel)).expect("corpus file");
    let good = decode(bytes.clone()).expect("decodes");
    let long = decode(last_chunk_past_the_end(bytes, 1000)).expect("decodes");
    assert_eq!(good.data, long.data);
}
