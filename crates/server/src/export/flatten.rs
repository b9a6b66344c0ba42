//! A reader whose alpha channel is composited over white, as a JPEG rendition shows it: the
//! pyramid builder writes JPEG tiles, which have none.

use std::sync::Arc;
use tessera_iiif::{Dimensions, Rect};
use tessera_image::transform::quality::flatten_alpha;
use tessera_image::{ImageError, ImageHeader, ImageReader, Raster};

/// `inner` with its pixels flattened over white.
pub struct Flattened<'a>(pub &'a mut dyn ImageReader);

impl ImageReader for Flattened<'_> {
    fn header(&self) -> &ImageHeader {
        self.0.header()
    }

    fn read(&mut self, region: Rect, target: Dimensions) -> Result<Raster, ImageError> {
        self.0.read(region, target).map(|r| flatten_alpha(r, 255))
    }

    fn orientation(&self) -> u8 {
        self.0.orientation()
    }

    fn icc_profile(&self) -> Option<Arc<[u8]>> {
        self.0.icc_profile()
    }

    fn scan(
        &mut self,
        band_rows: u32,
        sink: &mut dyn FnMut(Raster) -> Result<(), ImageError>,
    ) -> Result<(), ImageError> {
        self.0
            .scan(band_rows, &mut |band| sink(flatten_alpha(band, 255)))
    }
}
