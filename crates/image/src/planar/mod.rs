//! RGB kept as three planes between a JPEG decoder and a JPEG encoder.
//!
//! JPEG tiles coded as R, G and B (libvips and libtiff write them so at quality 90 and above)
//! are decoded one component at a time into planes ([`decode::decode_rgb`], libjpeg's raw data
//! interface), converted to YCbCr with the chroma halved in one pass of our own ([`ycc`]), and
//! written with libjpeg's raw data interface ([`encode::encode`]). The packed raster between
//! them, libjpeg's interleaving (`null_convert`), its colour conversion and its downsampling are
//! left out: a 512 px tile of four such tiles costs about a tenth less CPU.

mod decode;
mod encode;
#[cfg(target_arch = "x86_64")]
mod entropy;
#[cfg(target_arch = "x86_64")]
mod idct;
mod ycc;

pub(crate) use decode::decode_rgb;
pub(crate) use encode::encode;

use crate::encode::jpeg::Engine;
use crate::ImageError;

/// Whether this way is faster here than the packed raster: libjpeg writes JPEG in this build
/// (with its SIMD code), and the conversion has its vector instructions (AVX2 on x86-64; other
/// targets' baselines have them).
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    let vectors = std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    let vectors = true;
    vectors && Engine::fastest() == Engine::Libjpeg
}

/// The image's part of the planes: `width` × `height` pixels from column `x`, row `y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

/// Three planes (R, G, B) of `rows` rows of `stride` samples each; the image is `window`.
pub(crate) struct RgbPlanes {
    planes: [Vec<u8>; 3],
    stride: usize,
    rows: usize,
    window: Window,
}

impl RgbPlanes {
    /// Zeroed planes of `stride` × `rows` holding the image at `window`; `TooLarge` when
    /// their size overflows or the window is empty or does not lie inside them.
    pub(crate) fn new(stride: usize, rows: usize, window: Window) -> Result<Self, ImageError> {
        let too_large = || ImageError::TooLarge(format!("{stride}x{rows} planes"));
        let len = stride.checked_mul(rows).ok_or_else(too_large)?;
        let inside = window.width > 0
            && window.height > 0
            && window
                .x
                .checked_add(window.width)
                .is_some_and(|r| r <= stride)
            && window
                .y
                .checked_add(window.height)
                .is_some_and(|b| b <= rows);
        if !inside {
            return Err(too_large());
        }
        Ok(Self {
            planes: [vec![0; len], vec![0; len], vec![0; len]],
            stride,
            rows,
            window,
        })
    }

    /// The image's part.
    pub(crate) fn window(&self) -> Window {
        self.window
    }

    /// Row `row` of the image (clamped to its last row) in plane `plane` (0 R, 1 G, 2 B), its
    /// `window.width` samples.
    fn image_row(&self, plane: usize, row: usize) -> &[u8] {
        let w = self.window;
        let at = (w.y + row.min(w.height - 1)) * self.stride + w.x;
        &self.planes[plane][at..at + w.width]
    }
}
