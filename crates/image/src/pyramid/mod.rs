//! Building a tiled pyramid from an image in one sequential pass: the reader's bands go into the
//! full-resolution level, and each level's rows, averaged two by two, into the next
//! ([`tessera_iiif::levels::pyramid_levels`] gives the geometry). Every level emits its tiles to a
//! [`TileSink`] as soon as a row of tiles is complete, so memory is one row of tiles per level,
//! never the image. [`TiffSink`] writes them as a tiled pyramidal TIFF of JPEG tiles.

mod downsample;
mod tiff;

pub use tiff::TiffSink;

use std::sync::Arc;

use tessera_iiif::levels::pyramid_levels;
use tessera_iiif::Dimensions;

use crate::{ImageError, ImageReader, PixelLayout, Raster};

/// What a pyramid is built as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PyramidSpec {
    /// Width and height of every tile, in pixels.
    pub tile: u32,
    /// Quality of the JPEG tiles, 1–100.
    pub quality: u8,
}

impl Default for PyramidSpec {
    fn default() -> Self {
        Self {
            tile: 512,
            quality: 97,
        }
    }
}

/// How much colour detail the source stores, which the full-resolution level need not exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Chroma {
    /// Colour at the resolution of the pixels (or unknown).
    #[default]
    Full,
    /// Colour at half the resolution in both directions (a JPEG's 4:2:0): storing the full level
    /// so loses nothing the source had, and halves its encoding work.
    Halved,
}

/// Where a builder's tiles go.
pub trait TileSink {
    /// Called once before any tile: the levels (full size first), the pixel layout, the ICC
    /// profile that describes the pixels, if any, and the colour detail of the source.
    fn start(
        &mut self,
        levels: &[Dimensions],
        layout: PixelLayout,
        icc: Option<&[u8]>,
        chroma: Chroma,
    ) -> Result<(), ImageError>;

    /// Tile (`column`, `row`) of `level` (0 for full resolution): its pixels, `tile` pixels a side
    /// or less at the right and bottom edges.
    fn tile(
        &mut self,
        level: usize,
        column: u32,
        row: u32,
        pixels: Raster,
    ) -> Result<(), ImageError>;

    /// Called once after the last tile.
    fn finish(&mut self) -> Result<(), ImageError>;
}

/// What a finished build made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// Every level's size, full resolution first.
    pub levels: Vec<Dimensions>,
    /// Tiles emitted, over all levels.
    pub tiles: u64,
}

/// Rows of the source read at a time (a multiple of any tile size up to 1024 makes each band
/// complete whole rows of tiles).
const BAND_ROWS: u32 = 256;

/// Bands decoded ahead of the one being cut into levels and tiles.
const BANDS_AHEAD: usize = 2;

/// Build the pyramid of `reader`'s image (as shown: oriented, CMYK already in sRGB) into `sink`.
/// Images with an alpha channel are refused with [`ImageError::Unsupported`]: JPEG tiles have
/// none.
pub fn build(
    reader: &mut dyn ImageReader,
    spec: &PyramidSpec,
    sink: &mut dyn TileSink,
) -> Result<Built, ImageError> {
    let header = *reader.header();
    let full = Dimensions::new(header.width, header.height);
    let mut sizes = vec![full];
    sizes.extend(pyramid_levels(full, spec.tile));
    let icc: Option<Arc<[u8]>> = reader.icc_profile();
    let chroma = if reader.chroma_halved() {
        Chroma::Halved
    } else {
        Chroma::Full
    };
    let mut levels: Vec<downsample::Level> = Vec::new();
    let mut started = false;
    let mut tiles = 0u64;
    let mut take = |band: Raster| -> Result<(), ImageError> {
        crate::cancel::check()?;
        if !started {
            if band.layout.has_alpha() {
                return Err(ImageError::Unsupported(
                    "a pyramid of an image with alpha (JPEG tiles have none)".into(),
                ));
            }
            sink.start(&sizes, band.layout, icc.as_deref(), chroma)?;
            levels = sizes
                .iter()
                .map(|d| downsample::Level::new(*d, spec.tile, band.layout))
                .collect();
            started = true;
        }
        if band.width != full.width || levels.first().is_some_and(|l| l.layout() != band.layout) {
            return Err(ImageError::Corrupt(
                "pyramid: a band differs from the image's width or layout".into(),
            ));
        }
        for row in band.data.chunks_exact(band.stride()) {
            downsample::push_row(
                &mut levels,
                0,
                row,
                &mut |level, column, tile_row, pixels| {
                    tiles += 1;
                    sink.tile(level, column, tile_row, pixels)
                },
            )?;
        }
        Ok(())
    };
    // The source is decoded on a thread of its own, a few bands ahead of the levels and tiles
    // made from them here, so decoding and encoding overlap.
    std::thread::scope(|scope| -> Result<(), ImageError> {
        let (bands, received) = std::sync::mpsc::sync_channel::<Raster>(BANDS_AHEAD);
        let decoder = scope.spawn(move || {
            reader.scan(BAND_ROWS, &mut |band| {
                // The other side stops listening only when it failed; it reports why.
                bands.send(band).map_err(|_| ImageError::Cancelled)
            })
        });
        let mut made = Ok(());
        for band in received.iter() {
            made = take(band);
            if made.is_err() {
                break;
            }
        }
        drop(received);
        let decoded = decoder
            .join()
            .unwrap_or_else(|_| Err(ImageError::Corrupt("pyramid: the decoder panicked".into())));
        made.and(decoded)
    })?;
    if !started || levels.iter().any(|l| !l.complete()) {
        return Err(ImageError::Corrupt(
            "pyramid: the image ended before its last row".into(),
        ));
    }
    sink.finish()?;
    Ok(Built {
        levels: sizes,
        tiles,
    })
}
