//! A small writer of tiled, pyramidal RGB TIFFs for tests: levels as a directory chain (as libvips
//! writes them) or as SubIFDs of the first directory, classic or BigTIFF, raw, Deflate or JPEG
//! tiles (YCbCr, with the quantisation and Huffman tables shared in JPEGTables, as libtiff does).
//! Pixels come from a function of (level, x, y), so tests know every expected value.

use std::io::Write;

/// Where the reduced levels go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Each level is the next directory of the main chain.
    Chain,
    /// Reduced levels are SubIFDs (tag 330) of the first directory.
    SubIfds,
}

/// How the pyramid is written.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub tile: u32,
    pub placement: Placement,
    pub big: bool,
    pub deflate: bool,
    /// JPEG tiles (quality 90) instead of raw or Deflate.
    pub jpeg: bool,
    /// Lossless WebP tiles (compression 50001, as libvips and GDAL write), instead of the others.
    pub webp: bool,
    /// With `jpeg`: tiles coded as RGB (components named R, G, B, no colour transform, no APP
    /// markers) with Photometric RGB, as libvips and libtiff write them, instead of YCbCr.
    pub rgb_jpeg: bool,
}

/// A written pyramid.
pub struct Written {
    /// The whole file.
    pub file: Vec<u8>,
    /// Per level, the byte range (offset, length) of each tile's stored data (row-major tiles).
    pub tiles: Vec<Vec<(u64, u64)>>,
    /// The JPEGTables stream, for JPEG tiles.
    pub tables: Option<Vec<u8>>,
}

/// One directory entry: tag, TIFF type (3 SHORT, 4 LONG, 16 LONG8) and values.
struct Entry(u16, u16, Vec<u64>);

/// Write a pyramid with `sizes` (largest first) whose pixel (x, y) of level `l` is `pixel(l, x, y)`.
pub fn write(
    sizes: &[(u32, u32)],
    options: Options,
    pixel: impl Fn(usize, u32, u32) -> [u8; 3],
) -> Written {
    let mut tables: Option<Vec<u8>> = None;
    let big = options.big;
    let mut out: Vec<u8> = if big {
        let mut h = b"II\x2b\x00\x08\x00\x00\x00".to_vec();
        h.extend_from_slice(&0u64.to_le_bytes());
        h
    } else {
        b"II\x2a\x00\0\0\0\0".to_vec()
    };
    let t = options.tile;
    let mut tiles_per_level = Vec::new();
    for (l, &(w, h)) in sizes.iter().enumerate() {
        let mut tiles = Vec::new();
        for ty in 0..h.div_ceil(t) {
            for tx in 0..w.div_ceil(t) {
                let mut raw = Vec::with_capacity((t * t * 3) as usize);
                for y in ty * t..ty * t + t {
                    for x in tx * t..tx * t + t {
                        // Padding repeats the edge, as libvips and libtiff tools do.
                        raw.extend_from_slice(&pixel(l, x.min(w - 1), y.min(h - 1)));
                    }
                }
                if options.jpeg {
                    let mut full = Vec::new();
                    if options.rgb_jpeg {
                        full = rgb_coded_jpeg(&raw, t);
                    } else {
                        jpeg_encoder::Encoder::new(&mut full, 90)
                            .encode(&raw, t as u16, t as u16, jpeg_encoder::ColorType::Rgb)
                            .expect("jpeg");
                    }
                    let (shared, own) = split_jpeg(&full);
                    tables.get_or_insert(shared);
                    raw = own;
                } else if options.webp {
                    raw = webp_lossless(&raw, t);
                } else if options.deflate {
                    let mut z =
                        flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                    z.write_all(&raw).expect("deflate");
                    raw = z.finish().expect("deflate");
                }
                tiles.push((out.len() as u64, raw.len() as u64));
                out.extend_from_slice(&raw);
            }
        }
        tiles_per_level.push(tiles);
    }
    let long = if big { 16 } else { 4 };
    let compression = match (options.jpeg, options.webp, options.deflate) {
        (true, _, _) => 7,
        (false, true, _) => 50001,
        (false, false, true) => 8,
        (false, false, false) => 1,
    };
    let entries = |l: usize, subifds: &[u64]| -> Vec<Entry> {
        let (w, h) = sizes[l];
        let tiles = &tiles_per_level[l];
        let mut e = vec![
            Entry(254, 4, vec![u64::from(l > 0)]),
            Entry(256, 4, vec![u64::from(w)]),
            Entry(257, 4, vec![u64::from(h)]),
            Entry(258, 3, vec![8, 8, 8]),
            Entry(259, 3, vec![compression]),
            Entry(
                262,
                3,
                vec![if options.jpeg && !options.rgb_jpeg {
                    6
                } else {
                    2
                }],
            ),
            Entry(277, 3, vec![3]),
            Entry(284, 3, vec![1]),
            Entry(322, 4, vec![u64::from(t)]),
            Entry(323, 4, vec![u64::from(t)]),
            Entry(324, long, tiles.iter().map(|&(o, _)| o).collect()),
            Entry(325, long, tiles.iter().map(|&(_, n)| n).collect()),
        ];
        if !subifds.is_empty() {
            e.push(Entry(330, if big { 18 } else { 13 }, subifds.to_vec()));
        }
        if let Some(t) = &tables {
            e.push(Entry(347, 7, t.iter().map(|&b| u64::from(b)).collect()));
        }
        e
    };
    let mut first = 0;
    match options.placement {
        Placement::Chain => {
            let mut patch: Option<usize> = None;
            for l in 0..sizes.len() {
                let (at, next) = write_ifd(&mut out, &entries(l, &[]), big);
                match patch {
                    Some(p) => put(&mut out, p, at, big),
                    None => first = at,
                }
                patch = Some(next);
            }
        }
        Placement::SubIfds => {
            let subs: Vec<u64> = (1..sizes.len())
                .map(|l| write_ifd(&mut out, &entries(l, &[]), big).0)
                .collect();
            first = write_ifd(&mut out, &entries(0, &subs), big).0;
        }
    }
    if big {
        out[8..16].copy_from_slice(&first.to_le_bytes());
    } else {
        out[4..8].copy_from_slice(&(first as u32).to_le_bytes());
    }
    Written {
        file: out,
        tiles: tiles_per_level,
        tables,
    }
}

/// Split a complete JPEG into JPEGTables (SOI, DQT and DHT segments, EOI) and the abbreviated
/// stream left (SOI, frame, scan, EOI; APPn segments dropped).
/// A `t` x `t` RGB tile as a lossless WebP file (libwebp).
fn webp_lossless(rgb: &[u8], t: u32) -> Vec<u8> {
    let mut output: *mut u8 = std::ptr::null_mut();
    let side = t as i32;
    // SAFETY: `rgb` holds t * t * 3 bytes (stride t * 3); `output` is a valid out-pointer.
    let size = unsafe {
        libwebp_sys::WebPEncodeLosslessRGB(rgb.as_ptr(), side, side, side * 3, &mut output)
    };
    assert!(size > 0 && !output.is_null(), "webp encode");
    // SAFETY: libwebp returned `size` bytes at `output`, freed right after copying.
    let bytes = unsafe { std::slice::from_raw_parts(output, size) }.to_vec();
    // SAFETY: `output` was allocated by libwebp and is freed once.
    unsafe { libwebp_sys::WebPFree(output.cast()) };
    bytes
}

/// A JPEG of `raw` (RGB, `t` x `t`) whose components are R, G and B as stored (libjpeg's JCS_RGB);
/// `split_jpeg` drops the Adobe marker libjpeg adds, as libtiff's abbreviated tiles have none.
fn rgb_coded_jpeg(raw: &[u8], t: u32) -> Vec<u8> {
    let mut c = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
    // Baseline, as libtiff writes tiles (mozjpeg's own defaults are progressive).
    c.set_fastest_defaults();
    c.set_color_space(mozjpeg::ColorSpace::JCS_RGB);
    c.set_size(t as usize, t as usize);
    c.set_quality(90.0);
    let mut started = c.start_compress(Vec::new()).expect("start");
    started.write_scanlines(raw).expect("scanlines");
    started.finish().expect("finish")
}

fn split_jpeg(full: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (mut shared, mut own) = (vec![0xFF, 0xD8], vec![0xFF, 0xD8]);
    let mut i = 2;
    while i + 4 <= full.len() {
        let marker = full[i + 1];
        let len = usize::from(u16::from_be_bytes([full[i + 2], full[i + 3]]));
        let segment = &full[i..i + 2 + len];
        match marker {
            0xDB | 0xC4 => shared.extend_from_slice(segment),
            0xE0..=0xEF => {}
            0xDA => {
                own.extend_from_slice(&full[i..]);
                break;
            }
            _ => own.extend_from_slice(segment),
        }
        i += 2 + len;
    }
    shared.extend_from_slice(&[0xFF, 0xD9]);
    (shared, own)
}

/// Write `v` as an offset (4 or 8 bytes) at `at`.
fn put(out: &mut [u8], at: usize, v: u64, big: bool) {
    if big {
        out[at..at + 8].copy_from_slice(&v.to_le_bytes());
    } else {
        out[at..at + 4].copy_from_slice(&(v as u32).to_le_bytes());
    }
}

/// Append one directory (values that do not fit inline go first); returns its offset and the
/// position of its next-directory field.
fn write_ifd(out: &mut Vec<u8>, entries: &[Entry], big: bool) -> (u64, usize) {
    let inline = if big { 8 } else { 4 };
    let mut encoded = Vec::new();
    for Entry(tag, kind, values) in entries {
        let mut bytes = Vec::new();
        for &v in values {
            match kind {
                7 => bytes.push(v as u8),
                3 => bytes.extend_from_slice(&(v as u16).to_le_bytes()),
                4 | 13 => bytes.extend_from_slice(&(v as u32).to_le_bytes()),
                _ => bytes.extend_from_slice(&v.to_le_bytes()),
            }
        }
        let field = if bytes.len() <= inline {
            bytes.resize(inline, 0);
            bytes
        } else {
            if out.len() % 2 == 1 {
                out.push(0);
            }
            let at = out.len() as u64;
            out.extend_from_slice(&bytes);
            if big {
                at.to_le_bytes().to_vec()
            } else {
                (at as u32).to_le_bytes().to_vec()
            }
        };
        encoded.push((*tag, *kind, values.len() as u64, field));
    }
    if out.len() % 2 == 1 {
        out.push(0);
    }
    let at = out.len() as u64;
    if big {
        out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    } else {
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    }
    for (tag, kind, n, field) in encoded {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        if big {
            out.extend_from_slice(&n.to_le_bytes());
        } else {
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        out.extend_from_slice(&field);
    }
    let next = out.len();
    out.extend_from_slice(&vec![0; inline]);
    (at, next)
}
