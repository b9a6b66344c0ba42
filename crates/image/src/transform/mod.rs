//! The pixel transforms of a IIIF request, in the order they run: crop, resize, mirror/rotate, quality.

pub mod crop;
pub mod orient;
pub mod quality;
pub mod resize;
