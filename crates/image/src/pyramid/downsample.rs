//! One level of a pyramid being built: a window of its latest rows, cut into tiles as each row of
//! tiles completes, and resampled into the next level (Lanczos3, as the render resizes) a band at a
//! time once the rows the filter reaches have come. Each level covers the whole image, so a level
//! half as large (rounded down) is its predecessor resized by a factor of 2 or a little more, and
//! matches what a direct resize to that size gives.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use tessera_iiif::Dimensions;

use crate::{ImageError, PixelLayout, Raster};

/// Receives each finished tile: level, column, row, pixels.
pub(super) type Emit<'a> = dyn FnMut(usize, u32, u32, Raster) -> Result<(), ImageError> + 'a;

/// Rows of the next level made at a time.
const BAND: u32 = 256;

/// Rows beyond a band's source rows that the filter reads (Lanczos3 reaches 3 output pixels, 6
/// source rows at a factor of 2), with room for rounding.
const MARGIN: u32 = 8;

/// A level's rows in progress.
pub(super) struct Level {
    size: Dimensions,
    tile: u32,
    layout: PixelLayout,
    /// Rows `first..received`, packed.
    window: Vec<u8>,
    first: u32,
    received: u32,
    /// Rows before this were cut into tiles.
    tiled: u32,
    /// Rows of the next level made so far.
    made: u32,
    resizer: Resizer,
}

impl Level {
    /// An empty level of `size`, cut into tiles of `tile` pixels.
    pub(super) fn new(size: Dimensions, tile: u32, layout: PixelLayout) -> Self {
        Self {
            size,
            tile: tile.max(1),
            layout,
            window: Vec::new(),
            first: 0,
            received: 0,
            tiled: 0,
            made: 0,
            resizer: Resizer::new(),
        }
    }

    /// The layout of its pixels.
    pub(super) fn layout(&self) -> PixelLayout {
        self.layout
    }

    /// Whether every row has come.
    pub(super) fn complete(&self) -> bool {
        self.received == self.size.height
    }

    fn stride(&self) -> usize {
        self.size.width as usize * self.layout.channels()
    }

    /// Rows `from..to` of the window.
    fn rows(&self, from: u32, to: u32) -> &[u8] {
        let stride = self.stride();
        &self.window[(from - self.first) as usize * stride..(to - self.first) as usize * stride]
    }

    /// Cut rows `tiled..received` (one row of tiles) into tiles and hand them to `emit`.
    fn cut_tiles(&mut self, index: usize, emit: &mut Emit<'_>) -> Result<(), ImageError> {
        let channels = self.layout.channels();
        let stride = self.stride();
        let height = self.received - self.tiled;
        let rows = self.rows(self.tiled, self.received);
        for column in 0..self.size.width.div_ceil(self.tile) {
            let x0 = column * self.tile;
            let w = self.tile.min(self.size.width - x0);
            let (from, len) = (x0 as usize * channels, w as usize * channels);
            let mut data = Vec::with_capacity(len * height as usize);
            for row in rows.chunks_exact(stride) {
                data.extend_from_slice(&row[from..from + len]);
            }
            let tile = Raster::from_data(w, height, self.layout, data)
                .ok_or_else(|| ImageError::Corrupt("pyramid: tile geometry".into()))?;
            emit(index, column, self.tiled / self.tile, tile)?;
        }
        self.tiled = self.received;
        Ok(())
    }

    /// The next band of the level of size `next`, when the rows it needs have come: its rows, packed.
    fn next_band(&mut self, next: Dimensions) -> Result<Option<(u32, Vec<u8>)>, ImageError> {
        if self.made >= next.height {
            return Ok(None);
        }
        let n = BAND.min(next.height - self.made);
        let scale = f64::from(self.size.height) / f64::from(next.height);
        let top = f64::from(self.made) * scale;
        // The last band ends exactly at the last row, whatever the rounding of `scale`.
        let bottom = if self.made + n == next.height {
            f64::from(self.size.height)
        } else {
            (f64::from(self.made + n) * scale).min(f64::from(self.size.height))
        };
        let needed = ((bottom.ceil() as u32) + MARGIN).min(self.size.height);
        if self.received < needed {
            return Ok(None);
        }
        let from = (top.floor() as u32).saturating_sub(MARGIN).max(self.first);
        let fail = |e: &dyn std::fmt::Display| ImageError::Corrupt(format!("pyramid: resize: {e}"));
        let pixel_type = match self.layout {
            PixelLayout::Gray8 => PixelType::U8,
            PixelLayout::GrayAlpha8 => PixelType::U8x2,
            PixelLayout::Rgb8 => PixelType::U8x3,
            PixelLayout::Rgba8 => PixelType::U8x4,
        };
        let stride = self.stride();
        let rows = &self.window
            [(from - self.first) as usize * stride..(needed - self.first) as usize * stride];
        let src = ImageRef::new(self.size.width, needed - from, rows, pixel_type)
            .map_err(|e| fail(&e))?;
        let mut dst = Image::new(next.width, n, pixel_type);
        let options = ResizeOptions::new()
            .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
            .crop(
                0.0,
                top - f64::from(from),
                f64::from(self.size.width),
                bottom - top,
            );
        self.resizer
            .resize(&src, &mut dst, &options)
            .map_err(|e| fail(&e))?;
        self.made += n;
        Ok(Some((n, dst.into_vec())))
    }

    /// Drop the rows no longer needed: cut into tiles, and above what the next band reads.
    fn forget(&mut self, next: Option<Dimensions>) {
        let keep_from = match next {
            Some(next) if self.made < next.height => {
                let scale = f64::from(self.size.height) / f64::from(next.height);
                ((f64::from(self.made) * scale).floor() as u32).saturating_sub(MARGIN)
            }
            _ => self.received,
        }
        .min(self.tiled);
        if keep_from > self.first {
            let bytes = (keep_from - self.first) as usize * self.stride();
            self.window.drain(..bytes.min(self.window.len()));
            self.first = keep_from;
        }
    }
}

/// Add `row` (full width of level `index`) to that level, emitting its tiles once a row of them
/// is complete, and the next level's rows once the filter has what it reads.
pub(super) fn push_row(
    levels: &mut [Level],
    index: usize,
    row: &[u8],
    emit: &mut Emit<'_>,
) -> Result<(), ImageError> {
    let next = levels.get(index + 1).map(|l| l.size);
    let Some(level) = levels.get_mut(index) else {
        return Ok(());
    };
    if level.complete() {
        return Ok(());
    }
    if row.len() != level.stride() {
        return Err(ImageError::Corrupt("pyramid: row width".into()));
    }
    level.window.extend_from_slice(row);
    level.received += 1;
    if level.received - level.tiled == level.tile || level.complete() {
        level.cut_tiles(index, emit)?;
    }
    let Some(next) = next else {
        level.forget(None);
        return Ok(());
    };
    let mut bands = Vec::new();
    while let Some(band) = level.next_band(next)? {
        bands.push(band);
    }
    level.forget(Some(next));
    let stride = next.width as usize * level.layout.channels();
    for (_, data) in bands {
        for next_row in data.chunks_exact(stride) {
            push_row(levels, index + 1, next_row, emit)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels_of(sizes: &[Dimensions], tile: u32) -> Vec<Level> {
        sizes
            .iter()
            .map(|d| Level::new(*d, tile, PixelLayout::Gray8))
            .collect()
    }

    #[test]
    fn every_level_emits_every_tile_once() {
        let sizes = [
            Dimensions::new(5, 5),
            Dimensions::new(2, 2),
            Dimensions::new(1, 1),
        ];
        let mut levels = levels_of(&sizes, 2);
        let mut seen = Vec::new();
        for y in 0..5u8 {
            let row: Vec<u8> = (0..5u8).map(|x| y * 10 + x).collect();
            push_row(&mut levels, 0, &row, &mut |l, c, r, t| {
                seen.push((l, c, r, t.width, t.height));
                Ok(())
            })
            .expect("push");
        }
        assert!(levels.iter().all(Level::complete));
        seen.sort();
        assert_eq!(
            seen,
            vec![
                (0, 0, 0, 2, 2),
                (0, 0, 1, 2, 2),
                (0, 0, 2, 2, 1),
                (0, 1, 0, 2, 2),
                (0, 1, 1, 2, 2),
                (0, 1, 2, 2, 1),
                (0, 2, 0, 1, 2),
                (0, 2, 1, 1, 2),
                (0, 2, 2, 1, 1),
                (1, 0, 0, 2, 2),
                (2, 0, 0, 1, 1),
            ]
        );
    }

    #[test]
    fn a_level_is_its_predecessor_resized_whole() {
        // 300 rows: several bands, so the banded resize must agree with one whole resize.
        agrees_with_a_whole_resize(37, 300);
        // An odd height: the scale is not 2 and its rounding must not push the last band past
        // the last row (1875 rows made 937).
        agrees_with_a_whole_resize(5, 1875);
    }

    fn agrees_with_a_whole_resize(w: u32, h: u32) {
        let full: Vec<u8> = (0..w * h).map(|i| ((i * 7919) % 251) as u8).collect();
        let half = Dimensions::new(w / 2, h / 2);
        let mut levels = levels_of(&[Dimensions::new(w, h), half], 1024);
        let mut got = Vec::new();
        for row in full.chunks_exact(w as usize) {
            push_row(&mut levels, 0, row, &mut |l, _, _, t| {
                if l == 1 {
                    got = t.data;
                }
                Ok(())
            })
            .expect("push");
        }
        let whole = crate::transform::resize::resize(
            Raster::from_data(w, h, PixelLayout::Gray8, full).expect("raster"),
            half.width,
            half.height,
        )
        .expect("resize");
        assert_eq!(got.len(), whole.data.len());
        let worst = got
            .iter()
            .zip(&whole.data)
            .map(|(a, b)| a.abs_diff(*b))
            .max();
        assert!(
            worst <= Some(1),
            "banded and whole resizes differ by {worst:?}"
        );
        // The window never held the whole level.
        assert!(levels[0].window.len() < (w * h) as usize);
    }
}
