//! One reader per source format behind [`ImageReader`], chosen by [`open`] from the magic bytes.

mod gif;
pub(crate) mod jpeg;
mod jpeg2000;
pub(crate) mod jpeg_meta;
mod oriented;
pub mod physical;
mod png;
mod tiff;
pub(crate) mod webp;

use std::sync::Arc;

pub use tessera_iiif::levels::choose_level;

use tessera_iiif::{Dimensions, Rect};
use tessera_source::RandomAccess;

use crate::colour::CmykProfile;
use crate::{ImageError, Raster, SourceFormat};

/// What `info.json` needs: the full-resolution size and the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    /// Width in pixels (stored orientation).
    pub width: u32,
    /// Height in pixels (stored orientation).
    pub height: u32,
    /// The format recognised from the magic bytes.
    pub format: SourceFormat,
}

/// How a source stores its pixels, for `info.json`: its native tile size and reduced levels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Storage {
    /// The tile size viewers are offered, when the source is tiled: the stored one, or for JPEG
    /// 2000 (which decodes the code-blocks a window touches) a part of it.
    pub tile: Option<Dimensions>,
    /// Sizes of the stored reduced-resolution levels, largest first (the full size excluded).
    pub levels: Vec<Dimensions>,
}

/// Limits that protect the process from hostile files, and how sources are interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Largest `width * height` an image may declare. The default, 400 million pixels
    /// (e.g. 20000x20000), needs up to 1.6 GB as RGBA when a whole image must be decoded.
    pub max_pixels: u64,
    /// Honour the orientation of JPEG, PNG and WebP (EXIF) and TIFF (tag 274) files (default
    /// true); sizes in headers follow it.
    pub auto_orient: bool,
    /// The profile of CMYK images that embed none (default: the built-in one).
    pub cmyk_profile: CmykProfile,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_pixels: 400_000_000,
            auto_orient: true,
            cmyk_profile: CmykProfile::BUILT_IN,
        }
    }
}

/// A source image opened for reading: its header is parsed, its pixels are not yet decoded.
pub trait ImageReader: Send {
    /// The size and format read when opening.
    fn header(&self) -> &ImageHeader;

    /// Pixels of `region` (full-resolution coordinates, already inside the image). The returned raster covers
    /// exactly that region, either at full resolution or reduced so long as width >= target.width and
    /// height >= target.height (or one pixel less where a stored level rounded its size down, see
    /// [`choose_level`]).
    fn read(&mut self, region: Rect, target: Dimensions) -> Result<Raster, ImageError>;

    /// The stored JPEG data that is exactly `region` at `size`, as a standalone JPEG, with no
    /// pixel decoded: one stored tile at its own level and size, as stored; or the stored tiles
    /// of one level that cover a window on its MCU grid, at that level's scale, joined in the DCT
    /// domain, with coefficients stored finer than the tables of JPEG `quality` requantised to
    /// them. Tiles coded as R, G and B, which do not join, answer any window at their level's
    /// scale by being decoded into planes and written at `quality` (where that is faster than
    /// the general path: `crate::planar`). Always a JPEG any browser shows as Tessera would
    /// render it. `None` when the pixels must be decoded the general way.
    fn stored_jpeg(
        &mut self,
        _region: Rect,
        _size: Dimensions,
        _quality: u8,
    ) -> Result<Option<Vec<u8>>, ImageError> {
        Ok(None)
    }

    /// Mark the reader as reading Tessera's own pyramid, whose tiles are stored at a quality
    /// chosen for making other sizes from: [`stored_jpeg`](Self::stored_jpeg) then requantises
    /// even a request that is exactly one stored tile to the output quality.
    fn mark_as_pyramid(&mut self) {}

    /// The orientation the file asks to be shown in (1–8, as EXIF and TIFF number them; 1 when it
    /// asks for none). [`open`] turns the reader accordingly unless `auto_orient` is off.
    fn orientation(&self) -> u8 {
        1
    }

    /// The embedded ICC profile (RGB or gray) that describes the pixels [`read`](Self::read)
    /// returns, which are the stored values: converting them or carrying the profile to the output
    /// is the render's colour stage ([`crate::colour::stage`]). `None` when the file has none, or
    /// when the reader itself already turned its pixels into sRGB (CMYK through its profile, CIE
    /// L*a*b*), since a raster has no layout for those.
    fn icc_profile(&self) -> Option<Arc<[u8]>> {
        None
    }

    /// The native tiling and stored levels; none for sources that have neither.
    fn storage(&self) -> Storage {
        Storage::default()
    }

    /// Whether the file stores colour at half the resolution of the pixels in both directions
    /// (a JPEG's 4:2:0 chroma), so that a copy of the image needs no finer colour than that.
    fn chroma_halved(&self) -> bool {
        false
    }

    /// The physical size of a pixel, where the file states one in real units; `None` otherwise.
    fn physical_scale(&self) -> Option<physical::PhysicalScale> {
        None
    }

    /// The whole image at full resolution, top to bottom, in bands of at most `band_rows` full-width
    /// rows, each handed to `sink` in turn (the pixels [`read`](Self::read) gives, except that
    /// where [`chroma_halved`](Self::chroma_halved) each colour sample may be repeated over the
    /// pixels it covers rather than interpolated: halved again, that is the file's own colour). By
    /// default each band is one read; a reader that decodes in one pass (JPEG) overrides it so the
    /// image is decoded once, whatever the number of bands.
    fn scan(
        &mut self,
        band_rows: u32,
        sink: &mut dyn FnMut(Raster) -> Result<(), ImageError>,
    ) -> Result<(), ImageError> {
        let (width, height) = (self.header().width, self.header().height);
        let band_rows = band_rows.max(1);
        let mut y = 0;
        while y < height {
            let rows = band_rows.min(height - y);
            let band = self.read(Rect::new(0, y, width, rows), Dimensions::new(width, rows))?;
            sink(band)?;
            y += rows;
        }
        Ok(())
    }
}

/// Open `source`: sniff its format and parse its header, without decoding any pixels.
///
/// Fails with [`ImageError::UnknownFormat`] for unrecognised bytes, [`ImageError::Corrupt`] for a
/// zero or unreadable size and [`ImageError::TooLarge`] when the declared size exceeds `limits`.
pub fn open(
    source: Arc<dyn RandomAccess>,
    limits: &ReadLimits,
) -> Result<Box<dyn ImageReader>, ImageError> {
    let prefix = source.read_range(0, 16)?;
    let format = SourceFormat::sniff(&prefix).ok_or(ImageError::UnknownFormat)?;
    let reader: Box<dyn ImageReader> = match format {
        SourceFormat::Jpeg => Box::new(jpeg::JpegReader::open(source, limits)?),
        SourceFormat::Png => Box::new(png::PngReader::open(source, limits)?),
        SourceFormat::Gif => Box::new(gif::GifReader::open(source, limits)?),
        SourceFormat::Tiff => Box::new(tiff::TiffReader::open(source, limits)?),
        SourceFormat::Webp => Box::new(webp::WebpReader::open(source, limits)?),
        SourceFormat::Jpeg2000 => {
            Box::new(jpeg2000::Jpeg2000Reader::open(source, &prefix, limits)?)
        }
    };
    let orientation = if limits.auto_orient {
        reader.orientation()
    } else {
        1
    };
    Ok(oriented::Oriented::wrap(reader, orientation))
}

/// Build a header after checking the declared size against `limits`.
fn checked_header(
    width: u32,
    height: u32,
    format: SourceFormat,
    limits: &ReadLimits,
) -> Result<ImageHeader, ImageError> {
    if width == 0 || height == 0 {
        return Err(ImageError::Corrupt(format!(
            "{} declares a size of {width}x{height}",
            format.name()
        )));
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(ImageError::TooLarge(format!(
            "{width}x{height} is {pixels} pixels, more than the limit of {}",
            limits.max_pixels
        )));
    }
    Ok(ImageHeader {
        width,
        height,
        format,
    })
}

/// Largest embedded ICC profile a reader keeps, in bytes: what the JPEG encoder can embed (254
/// APP2 segments of 65,519 bytes), about 16 MB. A larger one is ignored.
pub(crate) const MAX_ICC_BYTES: usize = 254 * crate::encode::ICC_SEGMENT_BYTES;

/// `bytes` as a profile to report, when they look like one: a 128-byte header with the `acsp`
/// signature, at most [`MAX_ICC_BYTES`]. Anything else in a profile's place (some files hold a
/// few stray bytes there) is ignored, as browsers ignore it.
fn embedded_profile(bytes: &[u8]) -> Option<Arc<[u8]>> {
    let looks_right = bytes.len() >= 128 && bytes.get(36..40) == Some(b"acsp");
    (looks_right && bytes.len() <= MAX_ICC_BYTES).then(|| Arc::from(bytes))
}

/// Canvases up to this many pixels are not compared with their first frame ([`check_canvas`]).
const FREE_CANVAS_PIXELS: u64 = 1 << 24;

/// Refuse a GIF screen or an animated WebP canvas that is more than 4 times the area of the first
/// frame drawn on it and over [`FREE_CANVAS_PIXELS`]: only the frame comes from the data, so a
/// small file could otherwise make every read allocate, fill and resize a huge empty canvas.
fn check_canvas(format: &str, canvas: (u32, u32), frame: (u32, u32)) -> Result<(), ImageError> {
    let area = |(w, h): (u32, u32)| u64::from(w) * u64::from(h);
    if area(canvas) > FREE_CANVAS_PIXELS && area(canvas) > area(frame).saturating_mul(4) {
        return Err(ImageError::Corrupt(format!(
            "{format}: a {}x{} canvas around a first frame of {}x{}",
            canvas.0, canvas.1, frame.0, frame.1
        )));
    }
    Ok(())
}

/// The limits to check a header against: a windowed source (tiled, or with reduced levels) is read
/// a window at a time, so its full size is not held against the pixel limit, which applies to each
/// read instead ([`check_read_budget`]).
fn open_limits(limits: &ReadLimits, windowed: bool) -> ReadLimits {
    ReadLimits {
        max_pixels: if windowed {
            u64::MAX
        } else {
            limits.max_pixels
        },
        ..*limits
    }
}

/// Refuse a read that would decode `rect` (in the coordinates of the level that serves it) when
/// that is more than `max_pixels`.
fn check_read_budget(format: &str, rect: Rect, max_pixels: u64) -> Result<(), ImageError> {
    if rect.area() > max_pixels {
        return Err(ImageError::OverBudget(format!(
            "{format}: a read of {}x{} pixels (at the level that serves it) is more than the limit of {max_pixels}",
            rect.w, rect.h
        )));
    }
    Ok(())
}

/// Run a decoder call, turning a panic inside it into [`ImageError::Corrupt`].
pub(crate) fn guard<T>(
    what: &str,
    f: impl FnOnce() -> Result<T, ImageError>,
) -> Result<T, ImageError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        // A decoder stopped by its cancellation hook, not a broken file.
        Err(_) if crate::cancel::cancelled() => Err(ImageError::Cancelled),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("decoder panicked");
            Err(ImageError::Corrupt(format!("{what}: {message}")))
        }
    }
}
