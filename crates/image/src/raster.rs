//! The decoded pixel buffer that flows between readers, transforms and encoders.

use crate::ImageError;

/// How the channels of one pixel are laid out; every channel is one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelLayout {
    /// One luminance byte.
    Gray8,
    /// Luminance then alpha.
    GrayAlpha8,
    /// Red, green, blue.
    Rgb8,
    /// Red, green, blue, alpha (straight, not premultiplied).
    Rgba8,
}

impl PixelLayout {
    /// Bytes (channels) per pixel.
    pub fn channels(&self) -> usize {
        match self {
            PixelLayout::Gray8 => 1,
            PixelLayout::GrayAlpha8 => 2,
            PixelLayout::Rgb8 => 3,
            PixelLayout::Rgba8 => 4,
        }
    }

    /// Whether the last channel is alpha.
    pub fn has_alpha(&self) -> bool {
        matches!(self, PixelLayout::GrayAlpha8 | PixelLayout::Rgba8)
    }

    /// Whether the pixels are luminance only.
    pub fn is_gray(&self) -> bool {
        matches!(self, PixelLayout::Gray8 | PixelLayout::GrayAlpha8)
    }
}

/// A row-major, tightly packed 8-bit image: `data.len() == width * height * layout.channels()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raster {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Channel layout of each pixel.
    pub layout: PixelLayout,
    /// The pixel bytes.
    pub data: Vec<u8>,
    /// How much of the raster, from its top left, covers the region it was read for, when that is
    /// not the whole raster; `None` is the whole raster. Resizing maps exactly this part to the
    /// output.
    pub extent: Option<Extent>,
}

/// The part of a raster that covers its region: a region shrunk by a whole factor ends in a
/// partial block (988 pixels shrunk by 3 are 329⅓ pixels, stored as 330).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Extent {
    /// The region's width at full resolution.
    pub width: u32,
    /// The region's height at full resolution.
    pub height: u32,
    /// The whole factor it was shrunk by: the raster's pixels that cover it are `width / shrink`
    /// by `height / shrink`.
    pub shrink: u32,
}

impl Extent {
    /// The covering part, in the raster's own pixels.
    pub fn size(&self) -> (f64, f64) {
        let s = f64::from(self.shrink.max(1));
        (f64::from(self.width) / s, f64::from(self.height) / s)
    }
}

impl Raster {
    /// A raster filled with zero bytes (transparent black where there is alpha).
    /// Fails with [`ImageError::TooLarge`] when the byte count overflows.
    pub fn new(width: u32, height: u32, layout: PixelLayout) -> Result<Self, ImageError> {
        let len = byte_len(width, height, layout)
            .ok_or_else(|| ImageError::TooLarge(format!("{width}x{height} raster")))?;
        Ok(Self {
            width,
            height,
            layout,
            data: vec![0; len],
            extent: None,
        })
    }

    /// Wrap existing bytes, checking that their length matches the geometry.
    pub fn from_data(width: u32, height: u32, layout: PixelLayout, data: Vec<u8>) -> Option<Self> {
        (Some(data.len()) == byte_len(width, height, layout)).then_some(Self {
            width,
            height,
            layout,
            data,
            extent: None,
        })
    }

    /// Bytes per row.
    pub fn stride(&self) -> usize {
        self.width as usize * self.layout.channels()
    }
}

/// `width * height * channels` in bytes, or `None` on overflow.
pub(crate) fn byte_len(width: u32, height: u32, layout: PixelLayout) -> Option<usize> {
    usize::try_from(width)
        .ok()?
        .checked_mul(usize::try_from(height).ok()?)?
        .checked_mul(layout.channels())
}
