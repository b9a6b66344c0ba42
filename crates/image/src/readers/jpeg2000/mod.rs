//! JPEG 2000 reader (JP2/JPX files and raw J2K codestreams) over OpenJPEG.
//!
//! The codestream is read through our own stream callbacks ([`ffi`]) by byte ranges: a read decodes
//! only the area it needs, at the resolution level that serves it (JPEG 2000's wavelet levels are
//! the image's reduced sizes), and in a tiled file OpenJPEG skips, or with TLM markers seeks past,
//! the tiles the area does not touch. Each read opens a fresh decoder: OpenJPEG decodes once per
//! header read, and a main header is small.

mod budget;
mod codestream;
mod ffi;
mod pixels;

use std::sync::Arc;

use tessera_iiif::{Dimensions, Rect};
use tessera_source::RandomAccess;

use super::{
    check_read_budget, checked_header, embedded_profile, guard, open_limits, ImageHeader,
    ImageReader, ReadLimits, Storage,
};
use crate::colour::CmykProfile;
use crate::{ImageError, Raster, SourceFormat};
use codestream::MainHeader;
use ffi::{ColourSpace, Container, Decoder, Geometry};
use pixels::Window;

/// Reads JPEG 2000 by resolution level and decode area.
pub(crate) struct Jpeg2000Reader {
    header: ImageHeader,
    source: Arc<dyn RandomAccess>,
    container: Container,
    geometry: Geometry,
    /// The main header as Tessera read it, to cost each read.
    main: MainHeader,
    /// The profile of CMYK images that embed none.
    cmyk_profile: CmykProfile,
    /// The ICC profile of the `colr` box, unless the image is CMYK or CIE Lab (converted to sRGB
    /// when read).
    icc: Option<Arc<[u8]>>,
    /// Most pixels one read may decode (`ReadLimits::max_pixels`).
    max_pixels: u64,
}

impl Jpeg2000Reader {
    /// Read the main header (and the JP2 boxes before the codestream); no pixels are decoded. An
    /// image with several tiles or resolution levels is read a window at a time, so the pixel limit
    /// then applies to what each read decodes rather than to the full size. The main header is
    /// read and checked ([`budget::check_header`]) before OpenJPEG reads it.
    pub(crate) fn open(
        source: Arc<dyn RandomAccess>,
        prefix: &[u8],
        limits: &ReadLimits,
    ) -> Result<Self, ImageError> {
        let container = if prefix.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
            Container::J2k
        } else {
            Container::Jp2
        };
        let start = codestream::codestream_offset(source.as_ref(), container == Container::J2k)?;
        let main = codestream::read_main_header(source.as_ref(), start)?;
        budget::check_header(&main, limits.max_pixels)?;
        let (geometry, (space, icc, components)) = guard("jpeg2000", || {
            let decoder = Decoder::open(source.clone(), container)?;
            Ok((decoder.geometry()?, decoder.colour()))
        })?;
        let icc = match space {
            ColourSpace::Lab => None,
            ColourSpace::Cmyk if components >= 4 => None,
            _ => icc.and_then(|p| embedded_profile(&p)),
        };
        let g = geometry;
        if g.x1 <= g.x0 || g.y1 <= g.y0 {
            return Err(ImageError::Corrupt(format!(
                "jpeg2000: image area {}..{} x {}..{} is empty",
                g.x0, g.x1, g.y0, g.y1
            )));
        }
        let windowed = u64::from(g.tiles_across) * u64::from(g.tiles_down) > 1 || g.resolutions > 1;
        let header = checked_header(
            g.x1 - g.x0,
            g.y1 - g.y0,
            SourceFormat::Jpeg2000,
            &open_limits(limits, windowed),
        )?;
        Ok(Self {
            header,
            source,
            container,
            geometry,
            main,
            cmyk_profile: limits.cmyk_profile,
            icc,
            max_pixels: limits.max_pixels,
        })
    }

    /// The pixels of `rect` (coordinates at resolution level `reduce`), decoded on `threads`.
    fn decode_at(&self, reduce: u32, rect: Rect, threads: u32) -> Result<Raster, ImageError> {
        check_read_budget("jpeg2000", rect, self.max_pixels)?;
        let (lx, ly) = self.level_origin(reduce);
        let window = Window {
            x: lx + u64::from(rect.x),
            y: ly + u64::from(rect.y),
            w: rect.w,
            h: rect.h,
        };
        // The window on the reference grid: its level coordinates times 2^reduce, which OpenJPEG
        // maps back to exactly the window (it rounds level edges up), the end clipped to the image.
        let g = self.geometry;
        let grid = |v: u64, end: u32| {
            v.checked_mul(1 << reduce)
                .and_then(|v| u32::try_from(v).ok())
                .map_or(end, |v| v.min(end))
        };
        let area = (
            grid(window.x, g.x1).max(g.x0),
            grid(window.y, g.y1).max(g.y0),
            grid(window.x + u64::from(window.w), g.x1),
            grid(window.y + u64::from(window.h), g.y1),
        );
        budget::check_read(&self.main, area, (rect.w, rect.h), self.max_pixels)?;
        let (source, container, cmyk_profile) =
            (self.source.clone(), self.container, self.cmyk_profile);
        guard("jpeg2000", || {
            let decoded =
                Decoder::open_with_threads(source, container, threads)?.decode(reduce, area)?;
            let comps = decoded.components()?;
            pixels::to_raster(
                &comps,
                decoded.colour_space(),
                decoded.icc(),
                cmyk_profile,
                window,
            )
        })
    }

    /// The image origin on the grid of resolution level `r` (`r` levels discarded).
    fn level_origin(&self, r: u32) -> (u64, u64) {
        let g = &self.geometry;
        (
            ceil_shift(u64::from(g.x0), r),
            ceil_shift(u64::from(g.y0), r),
        )
    }
}

/// Largest tile side offered to viewers: OpenJPEG decodes the code-blocks a window touches, not
/// its whole tile, so a viewer's tile costs about its own area. `big.jp2` (1024 px tiles) in a viewer
/// session: 1,650 ms with 1024 px tiles offered, 1,340 ms with 512, 2,200 ms with 256 (each request
/// then pays for the code-blocks around it).
const MAX_VIEWER_TILE: u32 = 512;

/// The tile offered for stored tiles of `stored`: halved while larger than [`MAX_VIEWER_TILE`] (and
/// even), so that every offered tile lies within one stored tile.
fn viewer_tile(stored: Dimensions) -> Dimensions {
    let mut t = stored;
    while t.width > MAX_VIEWER_TILE
        && t.height > MAX_VIEWER_TILE
        && t.width.is_multiple_of(2)
        && t.height.is_multiple_of(2)
    {
        t = Dimensions::new(t.width / 2, t.height / 2);
    }
    t
}

/// Pixels decoded at once when the whole image is read ([`ImageReader::scan`]): about 20 bytes
/// each while OpenJPEG holds them (a 10,000 px wide image then reads 512 rows at a time, in 4.6 s
/// and 218 MB on two cores; 256 rows take 6.2 s and 158 MB).
const SCAN_PIXELS: u32 = 5_000_000;

/// `ceil(v / 2^r)`.
fn ceil_shift(v: u64, r: u32) -> u64 {
    if r >= 63 {
        u64::from(v > 0)
    } else {
        v.div_ceil(1 << r)
    }
}

impl ImageReader for Jpeg2000Reader {
    fn header(&self) -> &ImageHeader {
        &self.header
    }

    fn read(&mut self, region: Rect, target: Dimensions) -> Result<Raster, ImageError> {
        let full = Dimensions::new(self.header.width, self.header.height);
        let sizes = self.storage().levels;
        let (level, rect) = super::choose_level(full, &sizes, region, target);
        self.decode_at(level as u32, rect, 1)
    }

    fn icc_profile(&self) -> Option<Arc<[u8]>> {
        self.icc.clone()
    }

    /// Windows of about [`SCAN_PIXELS`] (whole bands, at least one), each decoded on every core,
    /// cut into bands: the code-blocks around a window's edges and the small levels are decoded
    /// once per window, fewer times than with one read per band.
    fn scan(
        &mut self,
        band_rows: u32,
        sink: &mut dyn FnMut(Raster) -> Result<(), ImageError>,
    ) -> Result<(), ImageError> {
        let (width, height) = (self.header.width, self.header.height);
        let band_rows = band_rows.max(1);
        let window_rows = (SCAN_PIXELS / width.max(1)).div_ceil(band_rows).max(1) * band_rows;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        let mut y = 0;
        while y < height {
            crate::cancel::check()?;
            let rows = window_rows.min(height - y);
            let window = self.decode_at(0, Rect::new(0, y, width, rows), threads)?;
            for band in window.data.chunks(window.stride() * band_rows as usize) {
                let h = (band.len() / window.stride()) as u32;
                let raster = Raster::from_data(width, h, window.layout, band.to_vec())
                    .ok_or_else(|| ImageError::Corrupt("jpeg2000: band size".into()))?;
                sink(raster)?;
            }
            y += rows;
        }
        Ok(())
    }

    fn storage(&self) -> Storage {
        let g = &self.geometry;
        let tiled = u64::from(g.tiles_across) * u64::from(g.tiles_down) > 1;
        let mut levels = Vec::new();
        for r in 1..g.resolutions.min(32) {
            let (lx, ly) = self.level_origin(r);
            let w = ceil_shift(u64::from(g.x1), r) - lx;
            let h = ceil_shift(u64::from(g.y1), r) - ly;
            if w == 0 || h == 0 {
                break;
            }
            levels.push(Dimensions::new(w as u32, h as u32));
        }
        Storage {
            tile: tiled.then(|| viewer_tile(Dimensions::new(g.tile_w, g.tile_h))),
            levels,
        }
    }
}
