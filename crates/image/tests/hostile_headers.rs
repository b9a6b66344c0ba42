//! Headers that declare more than their data can hold are refused before a decoder allocates for
//! them: JPEG 2000 tile sizes, tile counts, components, code-block structures and per-read tile
//! records; WebP canvases; GIF screens; progressive JPEG coefficient buffers. The files are
//! written here from the specifications (tiny payloads), as `tests/py/hostile_files.py` does.

use std::sync::Arc;

use tessera_iiif::{Dimensions, Rect};
use tessera_image::{open, ImageError, ImageReader, ReadLimits};

/// Options of a generated codestream.
#[derive(Clone, Copy)]
struct J2k {
    width: u32,
    height: u32,
    tile: (u32, u32),
    comps: u16,
    levels: u8,
    cblk: u8,
    precinct: Option<u8>,
    layers: u16,
    /// Put `cblk` and `precinct` in the tile-part header's COD (the main COD is plain).
    in_tile_header: bool,
}

impl J2k {
    fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            tile: (width, height),
            comps: 3,
            levels: 3,
            cblk: 6,
            precinct: None,
            layers: 1,
            in_tile_header: false,
        }
    }

    /// SOC, SIZ, COD, QCD, one tile-part of empty packets for tile 0, EOC.
    fn bytes(self) -> Vec<u8> {
        fn marker(out: &mut Vec<u8>, code: u16, body: &[u8]) {
            out.extend(code.to_be_bytes());
            out.extend((body.len() as u16 + 2).to_be_bytes());
            out.extend(body);
        }
        let mut siz = vec![0, 0];
        for v in [
            self.width,
            self.height,
            0,
            0,
            self.tile.0,
            self.tile.1,
            0,
            0,
        ] {
            siz.extend(v.to_be_bytes());
        }
        siz.extend(self.comps.to_be_bytes());
        for _ in 0..self.comps {
            siz.extend([7, 1, 1]);
        }
        let cod_body = |cblk: u8, precinct: Option<u8>| {
            let mut cod = vec![u8::from(precinct.is_some()), 0];
            cod.extend(self.layers.to_be_bytes());
            cod.extend([
                u8::from(self.comps >= 3),
                self.levels,
                cblk - 2,
                cblk - 2,
                0,
                1,
            ]);
            if let Some(p) = precinct {
                cod.extend(std::iter::repeat_n(
                    p << 4 | p,
                    usize::from(self.levels) + 1,
                ));
            }
            cod
        };
        let (cod, tile_cod) = if self.in_tile_header {
            let mut tile_cod = Vec::new();
            marker(&mut tile_cod, 0xFF52, &cod_body(self.cblk, self.precinct));
            (cod_body(6, None), tile_cod)
        } else {
            (cod_body(self.cblk, self.precinct), Vec::new())
        };
        let mut qcd = vec![0x40];
        qcd.extend(std::iter::repeat_n(
            8 << 3,
            3 * usize::from(self.levels) + 1,
        ));
        let mut out = vec![0xFF, 0x4F];
        marker(&mut out, 0xFF51, &siz);
        marker(&mut out, 0xFF52, &cod);
        marker(&mut out, 0xFF5C, &qcd);
        let data = [0u8; 64];
        let mut sot = vec![0, 0];
        sot.extend((14 + (tile_cod.len() + data.len()) as u32).to_be_bytes());
        sot.extend([0, 1]);
        marker(&mut out, 0xFF90, &sot);
        out.extend(&tile_cod);
        out.extend([0xFF, 0x93]);
        out.extend(data);
        out.extend([0xFF, 0xD9]);
        out
    }
}

/// `codestream` in a minimal JP2 file.
fn jp2(codestream: Vec<u8>) -> Vec<u8> {
    fn boxed(kind: &[u8], body: &[u8]) -> Vec<u8> {
        let mut b = (body.len() as u32 + 8).to_be_bytes().to_vec();
        b.extend(kind);
        b.extend(body);
        b
    }
    // SIZ's width and height, height first in ihdr.
    let mut ihdr = codestream[12..16].to_vec();
    ihdr.extend(&codestream[8..12]);
    ihdr.extend([0, 3, 7, 7, 0, 0]);
    let mut colr = vec![1, 0, 0];
    colr.extend(16u32.to_be_bytes());
    let mut jp2h = boxed(b"ihdr", &ihdr);
    jp2h.extend(boxed(b"colr", &colr));
    let mut out = boxed(b"jP  ", b"\r\n\x87\n");
    out.extend(boxed(b"ftyp", b"jp2 \0\0\0\0jp2 "));
    out.extend(boxed(b"jp2h", &jp2h));
    out.extend(boxed(b"jp2c", &codestream));
    out
}

fn open_bytes(bytes: Vec<u8>, max_pixels: u64) -> Result<Box<dyn ImageReader>, ImageError> {
    let limits = ReadLimits {
        max_pixels,
        ..ReadLimits::default()
    };
    open(Arc::new(bytes), &limits)
}

fn refused_at_open(bytes: Vec<u8>, max_pixels: u64, says: &str) {
    match open_bytes(bytes, max_pixels) {
        Err(ImageError::TooLarge(m)) => assert!(m.contains(says), "{m}"),
        Err(other) => panic!("expected TooLarge mentioning {says:?}, got {other}"),
        Ok(_) => panic!("expected TooLarge mentioning {says:?}, but it opened"),
    }
}

#[test]
fn a_small_generated_codestream_decodes_to_mid_gray() {
    // Empty packets: every sample is 0 before the DC level shift, 128 after (Pillow agrees).
    for bytes in [J2k::new(64, 48).bytes(), jp2(J2k::new(64, 48).bytes())] {
        let mut reader = open_bytes(bytes, 1 << 20).expect("opens");
        assert_eq!((reader.header().width, reader.header().height), (64, 48));
        let r = reader
            .read(Rect::full(64, 48), Dimensions::new(64, 48))
            .expect("decodes");
        assert_eq!((r.width, r.height), (64, 48));
        assert!(r.data.iter().all(|&v| v == 128));
    }
}

#[test]
fn a_single_tile_over_the_pixel_limit_is_refused_like_an_untiled_image() {
    // 68.7 gigapixels in one tile, with 12 resolution levels: refused at open, raw or in JP2.
    let huge = J2k {
        levels: 12,
        ..J2k::new(1 << 20, 65_535)
    };
    refused_at_open(huge.bytes(), 400_000_000, "tile of 1048576x65535");
    refused_at_open(jp2(huge.bytes()), 400_000_000, "tile of 1048576x65535");
    // One pixel over a small limit is enough; the same image in tiles within it opens.
    refused_at_open(J2k::new(1000, 1000).bytes(), 999_999, "1000000 pixels");
    let tiled = J2k {
        tile: (500, 500),
        ..J2k::new(1000, 1000)
    };
    let reader = open_bytes(tiled.bytes(), 999_999).expect("tiles within the limit");
    assert_eq!(reader.storage().tile, Some(Dimensions::new(500, 500)));
}

#[test]
fn too_many_tiles_or_components_are_refused_before_openjpeg_reads_the_header() {
    // 65,280 tiles of three components: ~800 MB of OpenJPEG's per-tile records.
    let tiles = J2k {
        tile: (4096, 4096),
        levels: 12,
        ..J2k::new(1 << 20, 255 * 4096)
    };
    refused_at_open(tiles.bytes(), 400_000_000, "256x255 tiles");
    // 3,000 tiles of one component fit in the header budget.
    let fewer = J2k {
        tile: (64, 64),
        comps: 1,
        ..J2k::new(64 * 60, 64 * 50)
    };
    open_bytes(fewer.bytes(), 400_000_000).expect("3,000 tiles open");
    let comps = J2k {
        comps: 17,
        ..J2k::new(100, 100)
    };
    refused_at_open(comps.bytes(), 400_000_000, "17 components");
    let sixteen = J2k {
        comps: 16,
        ..J2k::new(100, 100)
    };
    open_bytes(sixteen.bytes(), 400_000_000).expect("16 components open");
}

/// A `side` x `side` single tile in 64x64 code-blocks, 6 decomposition levels.
fn normal_coding(side: u32) -> J2k {
    J2k {
        levels: 6,
        ..J2k::new(side, side)
    }
}

#[test]
fn tiny_code_blocks_precincts_and_many_layers_are_costed_as_openjpeg_allocates_them() {
    // 16000 x 16000 (within the pixel limit), in 4x4 code-blocks and 2x2 precincts.
    let tiny = J2k {
        cblk: 2,
        precinct: Some(1),
        levels: 6,
        ..J2k::new(16_000, 16_000)
    };
    refused_at_open(tiny.bytes(), 400_000_000, "code-block records");
    // The same coding set by the tile-part header (which OpenJPEG follows) is found too.
    let in_tile = J2k {
        in_tile_header: true,
        ..tiny
    };
    refused_at_open(in_tile.bytes(), 400_000_000, "code-block records");
    let plain_in_tile = J2k {
        in_tile_header: true,
        ..normal_coding(16_000)
    };
    let mut reader = open_bytes(plain_in_tile.bytes(), 400_000_000).expect("opens");
    let thumb = reader
        .read(Rect::full(16_000, 16_000), Dimensions::new(250, 250))
        .expect("a thumbnail of the one tile at level 6");
    assert!(thumb.data.iter().all(|&v| v == 128));
    // The same image in 64x64 code-blocks and default precincts is fine.
    let normal = J2k {
        levels: 6,
        ..J2k::new(16_000, 16_000)
    };
    open_bytes(normal.bytes(), 400_000_000).expect("opens");
    // 65,535 layers over 64x64 precincts: the packet-inclusion table.
    let layers = J2k {
        layers: 65_535,
        precinct: Some(6),
        levels: 5,
        ..J2k::new(8000, 8000)
    };
    refused_at_open(layers.bytes(), 400_000_000, "code-block records");
}

#[test]
fn a_read_touching_too_many_tiles_is_over_budget_but_a_tile_is_served() {
    // 4096 x 4096 in 4,096 tiles of 64 x 64: a thumbnail would set up every tile's records.
    let file = J2k {
        tile: (64, 64),
        comps: 1,
        levels: 5,
        ..J2k::new(4096, 4096)
    };
    let mut reader =
        open_bytes(file.bytes(), 100_000).expect("opens: each tile is within the limit");
    // Level 5 is 128 x 128 pixels, within the pixel limit, but all 4,096 tiles are touched.
    let thumb = reader.read(Rect::full(4096, 4096), Dimensions::new(128, 128));
    match thumb {
        Err(ImageError::OverBudget(m)) => assert!(m.contains("4096 tiles"), "{m}"),
        other => panic!(
            "expected OverBudget, got {:?}",
            other.map(|r| (r.width, r.height))
        ),
    }
    let tile = reader
        .read(Rect::new(0, 0, 64, 64), Dimensions::new(64, 64))
        .expect("tile 0 is in the file");
    assert_eq!((tile.width, tile.height), (64, 64));
    assert!(tile.data.iter().all(|&v| v == 128));
}

fn riff(chunks: &[u8]) -> Vec<u8> {
    let mut out = b"RIFF".to_vec();
    out.extend((chunks.len() as u32 + 4).to_le_bytes());
    out.extend(b"WEBP");
    out.extend(chunks);
    out
}

fn chunk(kind: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = kind.to_vec();
    out.extend((body.len() as u32).to_le_bytes());
    out.extend(body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
    out
}

/// A 1x1 lossless frame (as Pillow / libwebp write it).
const VP8L_1X1: [u8; 14] = [
    0x2f, 0x00, 0x00, 0x00, 0x00, 0x07, 0x10, 0x11, 0xfd, 0x0f, 0x44, 0x44, 0xff, 0x03,
];

fn vp8x(flags: u8, w: u32, h: u32) -> Vec<u8> {
    let mut body = vec![flags, 0, 0, 0];
    body.extend(&(w - 1).to_le_bytes()[..3]);
    body.extend(&(h - 1).to_le_bytes()[..3]);
    chunk(b"VP8X", &body)
}

fn refused_as_corrupt(bytes: Vec<u8>, says: &str) {
    match open_bytes(bytes, 400_000_000) {
        Err(ImageError::Corrupt(m)) => assert!(m.contains(says), "{m}"),
        Err(other) => panic!("expected Corrupt mentioning {says:?}, got {other}"),
        Ok(_) => panic!("expected Corrupt mentioning {says:?}, but it opened"),
    }
}

#[test]
fn a_webp_canvas_must_match_its_frame_or_be_near_its_first_animation_frame() {
    let mut still = vp8x(0, 16_384, 16_384);
    still.extend(chunk(b"VP8L", &VP8L_1X1));
    refused_as_corrupt(
        riff(&still),
        "the canvas is 16384x16384 but its image is 1x1",
    );
    let mut fine = vp8x(0, 1, 1);
    fine.extend(chunk(b"VP8L", &VP8L_1X1));
    let mut reader = open_bytes(riff(&fine), 400_000_000).expect("a 1x1 extended file");
    let r = reader
        .read(Rect::full(1, 1), Dimensions::new(1, 1))
        .expect("decodes");
    assert_eq!((r.width, r.height), (1, 1));

    let mut animated = vp8x(0x02, 16_384, 16_384);
    animated.extend(chunk(b"ANIM", &[0, 0, 0, 0, 0, 0]));
    let mut frame = vec![0u8; 6];
    frame.extend([0, 0, 0, 0, 0, 0, 100, 0, 0, 0]);
    frame.extend(chunk(b"VP8L", &VP8L_1X1));
    animated.extend(chunk(b"ANMF", &frame));
    refused_as_corrupt(
        riff(&animated),
        "16384x16384 canvas around a first frame of 1x1",
    );
}

fn gif(screen: (u16, u16), frame: (u16, u16)) -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend(screen.0.to_le_bytes());
    out.extend(screen.1.to_le_bytes());
    out.extend([0x80, 0, 0, 0, 0, 0, 255, 255, 255]);
    // A graphic control extension first, so the walk crosses an extension.
    out.extend([0x21, 0xF9, 4, 0, 0, 0, 0, 0]);
    out.push(0x2C);
    for v in [0, 0, frame.0, frame.1] {
        out.extend(v.to_le_bytes());
    }
    out.extend([0, 2, 2, 0x44, 0x01, 0, 0x3B]);
    out
}

#[test]
fn a_gif_screen_far_larger_than_its_first_frame_is_refused() {
    refused_as_corrupt(
        gif((20_000, 20_000), (1, 1)),
        "20000x20000 canvas around a first frame of 1x1",
    );
    // Small screens, and screens the frame mostly fills, are served as before.
    let mut small = open_bytes(gif((64, 64), (1, 1)), 400_000_000).expect("a small screen");
    let r = small
        .read(Rect::full(64, 64), Dimensions::new(64, 64))
        .expect("decodes");
    assert_eq!((r.width, r.height), (64, 64));
    open_bytes(gif((5000, 5000), (5000, 4000)), 400_000_000).expect("a screen the frame fills");
}

#[test]
fn a_progressive_jpeg_whose_coefficients_exceed_the_budget_fails_before_allocating_them() {
    // SOF2 of 20000 x 20000, three components: 2.4 GB of coefficients, over 4 x 400 M bytes.
    let mut out = vec![0xFF, 0xD8];
    let mut seg = |code: u8, body: &[u8]| {
        out.extend([0xFF, code]);
        out.extend((body.len() as u16 + 2).to_be_bytes());
        out.extend(body);
    };
    let mut dqt = vec![0];
    dqt.extend([1u8; 64]);
    seg(0xDB, &dqt);
    let mut sof = vec![8];
    sof.extend(20_000u16.to_be_bytes());
    sof.extend(20_000u16.to_be_bytes());
    sof.push(3);
    for c in 1..=3 {
        sof.extend([c, 0x11, 0]);
    }
    seg(0xC2, &sof);
    let mut dht = vec![0, 1];
    dht.extend([0u8; 15]);
    dht.push(0);
    seg(0xC4, &dht);
    seg(0xDA, &[3, 1, 0, 2, 0, 3, 0, 0, 0, 0]);
    out.extend([0u8; 256]);
    out.extend([0xFF, 0xD9]);
    let mut reader = open_bytes(out, 400_000_000).expect("the size is within the limit");
    match reader.read(Rect::full(20_000, 20_000), Dimensions::new(256, 256)) {
        Err(ImageError::Corrupt(m)) => assert!(m.to_lowercase().contains("backing store"), "{m}"),
        other => panic!(
            "expected a refusal, got {:?}",
            other.map(|r| (r.width, r.height))
        ),
    }
}
