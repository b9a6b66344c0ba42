//! Pixels: one reader per source format behind [`ImageReader`], the transforms a IIIF
//! request needs (crop, resize, mirror, rotate, quality), and one encoder per output format.
//!
//! This crate knows nothing of HTTP or of where bytes come from beyond the
//! [`tessera_source::RandomAccess`] trait that readers take.

pub mod cancel;
pub mod colour;
mod dct;
pub mod encode;
mod error;
mod format;
mod libjpeg;
mod planar;
pub mod pyramid;
mod raster;
pub mod readers;
mod render;
pub mod transform;

pub use error::ImageError;
pub use format::SourceFormat;
pub use raster::{Extent, PixelLayout, Raster};
pub use readers::physical::{LengthUnit, PhysicalScale};
pub use readers::{choose_level, open, ImageHeader, ImageReader, ReadLimits, Storage};
pub use render::{render, EncodeOptions, RenderOptions};
