//! A reader wrapper that shows an image in its EXIF or TIFF orientation: the header and the stored
//! tiling have the displayed size, regions are mapped back to stored pixels and the decoded pixels
//! are turned. Stored JPEG tiles are never passed through (they would show unturned).

use std::sync::Arc;

use tessera_iiif::{Dimensions, Rect};

use super::physical::PhysicalScale;
use super::{ImageHeader, ImageReader, Storage};
use crate::transform::orient;
use crate::{ImageError, Raster};

/// `inner` seen through orientation `orientation` (2–8, as EXIF and TIFF number them).
pub(crate) struct Oriented {
    inner: Box<dyn ImageReader>,
    orientation: u8,
    header: ImageHeader,
}

impl Oriented {
    /// Wrap `inner`; orientations 1 or out of range return it unchanged.
    pub(crate) fn wrap(inner: Box<dyn ImageReader>, orientation: u8) -> Box<dyn ImageReader> {
        if !(2..=8).contains(&orientation) {
            return inner;
        }
        let mut header = *inner.header();
        if orientation >= 5 {
            std::mem::swap(&mut header.width, &mut header.height);
        }
        Box::new(Self {
            inner,
            orientation,
            header,
        })
    }
}

/// The stored rectangle holding displayed rectangle `r` (stored size `sw` x `sh`).
fn stored_rect(o: u8, r: Rect, sw: u32, sh: u32) -> Rect {
    let Rect { x, y, w, h } = r;
    match o {
        2 => Rect::new(sw - x - w, y, w, h),
        3 => Rect::new(sw - x - w, sh - y - h, w, h),
        4 => Rect::new(x, sh - y - h, w, h),
        5 => Rect::new(y, x, h, w),
        6 => Rect::new(y, sh - x - w, h, w),
        7 => Rect::new(sw - y - h, sh - x - w, h, w),
        8 => Rect::new(sw - y - h, x, h, w),
        _ => r,
    }
}

impl ImageReader for Oriented {
    fn header(&self) -> &ImageHeader {
        &self.header
    }

    fn mark_as_pyramid(&mut self) {
        self.inner.mark_as_pyramid();
    }

    fn read(&mut self, region: Rect, target: Dimensions) -> Result<Raster, ImageError> {
        let stored = *self.inner.header();
        let o = self.orientation;
        let rect = stored_rect(o, region, stored.width, stored.height);
        let target = if o >= 5 {
            Dimensions::new(target.height, target.width)
        } else {
            target
        };
        let mut raster = self.inner.read(rect, target)?;
        // Turned or mirrored, a partial last block is no longer at the bottom right, where an
        // extent puts it: the raster is taken as covering the region whole, as before extents.
        raster.extent = None;
        Ok(match o {
            2 => orient::mirror(raster),
            3 => orient::rotate(raster, 180.0)?,
            4 => orient::mirror(orient::rotate(raster, 180.0)?),
            5 => orient::mirror(orient::rotate(raster, 90.0)?),
            6 => orient::rotate(raster, 90.0)?,
            7 => orient::mirror(orient::rotate(raster, 270.0)?),
            8 => orient::rotate(raster, 270.0)?,
            _ => raster,
        })
    }

    fn icc_profile(&self) -> Option<Arc<[u8]>> {
        self.inner.icc_profile()
    }

    fn chroma_halved(&self) -> bool {
        // Halved in both directions stays so when turned.
        self.inner.chroma_halved()
    }

    fn physical_scale(&self) -> Option<PhysicalScale> {
        let scale = self.inner.physical_scale()?;
        Some(if self.orientation >= 5 {
            scale.swapped()
        } else {
            scale
        })
    }

    fn storage(&self) -> Storage {
        let stored = self.inner.storage();
        if self.orientation < 5 {
            return stored;
        }
        let turn = |d: Dimensions| Dimensions::new(d.height, d.width);
        Storage {
            tile: stored.tile.map(turn),
            levels: stored.levels.into_iter().map(turn).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readers::physical::LengthUnit;
    use crate::SourceFormat;

    /// A header and a pixel size, nothing to read.
    struct Stated(ImageHeader, Option<PhysicalScale>);

    impl ImageReader for Stated {
        fn header(&self) -> &ImageHeader {
            &self.0
        }
        fn read(&mut self, _: Rect, _: Dimensions) -> Result<Raster, ImageError> {
            Err(ImageError::Cancelled)
        }
        fn physical_scale(&self) -> Option<PhysicalScale> {
            self.1
        }
    }

    #[test]
    fn turned_images_swap_their_pixel_sizes() {
        let header = ImageHeader {
            width: 10,
            height: 4,
            format: SourceFormat::Tiff,
        };
        let scale = PhysicalScale::new(1.0, 2.0, LengthUnit::Millimetre);
        for (orientation, x) in [(1, 1.0), (3, 1.0), (6, 2.0), (8, 2.0)] {
            let r = Oriented::wrap(Box::new(Stated(header, scale)), orientation);
            assert_eq!(r.physical_scale().map(|s| s.x), Some(x), "{orientation}");
        }
        let none = Oriented::wrap(Box::new(Stated(header, None)), 6);
        assert!(none.physical_scale().is_none());
    }

    #[test]
    fn maps_display_rects_to_stored() {
        // Stored 10x4; orientation 6 displays it 4x10. Display top-left 1x1 is stored bottom-left.
        assert_eq!(
            stored_rect(6, Rect::new(0, 0, 1, 1), 10, 4),
            Rect::new(0, 3, 1, 1)
        );
        assert_eq!(
            stored_rect(8, Rect::new(0, 0, 1, 1), 10, 4),
            Rect::new(9, 0, 1, 1)
        );
        assert_eq!(
            stored_rect(3, Rect::new(0, 0, 2, 1), 10, 4),
            Rect::new(8, 3, 2, 1)
        );
        assert_eq!(
            stored_rect(5, Rect::new(1, 2, 3, 4), 10, 4),
            Rect::new(2, 1, 4, 3)
        );
    }
}
