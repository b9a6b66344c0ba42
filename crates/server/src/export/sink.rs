//! The builder's tiles written as the files of a static Level 0 tree: each tile brought to the
//! exact size a viewer computes (a level that rounded its size down is one pixel short at its
//! edges; a one-pixel sliver past a level's last tile is made from its last column or row), colour
//! handled as the server does, encoded as JPEG and written under every name it is asked for. Levels
//! small enough are also assembled whole and written as `sizes` when the build finishes.

use super::geometry::{size_names, tile_names, Grid};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tessera_iiif::{ApiVersion, Dimensions, OutputFormat};
use tessera_image::colour::{stage, IccMode};
use tessera_image::encode::{encode, EncodeOptions};
use tessera_image::pyramid::{Chroma, TileSink};
use tessera_image::transform::resize::resize;
use tessera_image::{ImageError, PixelLayout, Raster};

/// How the files are made.
#[derive(Debug, Clone, Copy)]
pub struct SinkOptions {
    /// API version of the tree's names.
    pub version: ApiVersion,
    /// Tile side in pixels.
    pub tile: u32,
    /// JPEG quality.
    pub encode: EncodeOptions,
    /// Embedded profiles: converted to sRGB or kept.
    pub icc: IccMode,
    /// Largest level (in pixels) assembled whole and listed as a size.
    pub max_size_pixels: u64,
}

/// What a sink wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// The tile grid.
    pub grid: Option<Grid>,
    /// The sizes written, ascending.
    pub sizes: Vec<Dimensions>,
    /// Distinct images encoded (tiles and sizes).
    pub images: u64,
    /// Files written (a hard link counts as one).
    pub files: u64,
    /// Bytes encoded (each image once).
    pub bytes: u64,
}

/// A [`TileSink`] writing into one identifier's folder.
pub struct ExportSink<'a> {
    dir: &'a Path,
    options: SinkOptions,
    /// The builder's own level sizes (rounded down).
    built: Vec<Dimensions>,
    profile: Option<Arc<[u8]>>,
    /// Levels being assembled for `sizes`, by level.
    kept: Vec<Option<Raster>>,
    written: Written,
    /// Names of the whole-image tiles written (region `full`), which a size need not write again.
    whole_tiles: Vec<String>,
    /// Why writing stopped (the build is then stopped with [`ImageError::Cancelled`]).
    failure: Option<io::Error>,
}

impl<'a> ExportSink<'a> {
    /// A sink writing into `dir` (created as needed).
    pub fn new(dir: &'a Path, options: SinkOptions) -> Self {
        Self {
            dir,
            options,
            built: Vec::new(),
            profile: None,
            kept: Vec::new(),
            written: Written::default(),
            whole_tiles: Vec::new(),
            failure: None,
        }
    }

    /// What was written, and the write error that stopped the build, if one did.
    pub fn into_parts(self) -> (Written, Option<io::Error>) {
        (self.written, self.failure)
    }

    fn grid(&self) -> Result<Grid, ImageError> {
        self.written
            .grid
            .ok_or_else(|| ImageError::Corrupt("export: a tile before the start".into()))
    }

    /// Bring `pixels` to `size`, apply the colour stage, encode and write under `names`.
    fn emit(
        &mut self,
        names: &[String],
        pixels: Raster,
        size: Dimensions,
    ) -> Result<(), ImageError> {
        let mut raster = if (pixels.width, pixels.height) == (size.width, size.height) {
            pixels
        } else {
            resize(pixels, size.width, size.height)?
        };
        let icc = stage::apply(&mut raster, self.profile.as_ref(), self.options.icc);
        let bytes = encode(
            &raster,
            OutputFormat::Jpg,
            &self.options.encode,
            icc.as_deref(),
        )?;
        self.written.images += 1;
        self.written.bytes += bytes.len() as u64;
        if let Err(e) = write_all(self.dir, names, &bytes, &mut self.written.files) {
            self.failure = Some(e);
            return Err(ImageError::Cancelled);
        }
        Ok(())
    }

    /// Write tile (`column`, `row`) of `level` from `pixels` (the builder's tile, or a sliver).
    fn emit_tile(
        &mut self,
        level: usize,
        column: u32,
        row: u32,
        pixels: Raster,
    ) -> Result<(), ImageError> {
        let grid = self.grid()?;
        let names = tile_names(self.options.version, &grid, level, column, row);
        let whole = names.iter().filter(|n| n.starts_with("full/"));
        self.whole_tiles.extend(whole.cloned());
        self.emit(&names, pixels, grid.size(level, column, row))
    }
}

impl TileSink for ExportSink<'_> {
    fn start(
        &mut self,
        levels: &[Dimensions],
        layout: PixelLayout,
        icc: Option<&[u8]>,
        _chroma: Chroma,
    ) -> Result<(), ImageError> {
        let full = *levels
            .first()
            .ok_or_else(|| ImageError::Corrupt("export: a pyramid without levels".into()))?;
        let grid = Grid {
            full,
            tile: self.options.tile.max(1),
            levels: levels.len(),
        };
        self.built = levels.to_vec();
        self.profile = icc.map(Arc::from);
        self.kept = (0..levels.len())
            .map(|l| {
                let built = levels[l];
                let listed = grid.level_size(l);
                let small = listed.area() <= self.options.max_size_pixels;
                small
                    .then(|| Raster::new(built.width, built.height, layout).ok())
                    .flatten()
            })
            .collect();
        self.written.grid = Some(grid);
        Ok(())
    }

    fn tile(
        &mut self,
        level: usize,
        column: u32,
        row: u32,
        pixels: Raster,
    ) -> Result<(), ImageError> {
        let grid = self.grid()?;
        let t = grid.tile;
        if let Some(Some(whole)) = self.kept.get_mut(level) {
            blit(whole, &pixels, column * t, row * t);
        }
        // Past the builder's last column or row the grid may have a sliver (one output pixel).
        let built = self.built.get(level).copied().unwrap_or(grid.full);
        let (across, down) = (built.width.div_ceil(t), built.height.div_ceil(t));
        let (grid_across, grid_down) = grid.tiles(level);
        let (w, h) = (pixels.width, pixels.height);
        let right = column + 1 == across && grid_across > across;
        let below = row + 1 == down && grid_down > down;
        let mut slivers = Vec::new();
        if right {
            slivers.push((column + 1, row, crop(&pixels, w - 1, 0, 1, h)));
        }
        if below {
            slivers.push((column, row + 1, crop(&pixels, 0, h - 1, w, 1)));
        }
        if right && below {
            slivers.push((column + 1, row + 1, crop(&pixels, w - 1, h - 1, 1, 1)));
        }
        self.emit_tile(level, column, row, pixels)?;
        for (column, row, sliver) in slivers {
            self.emit_tile(level, column, row, sliver)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ImageError> {
        let grid = self.grid()?;
        let kept = std::mem::take(&mut self.kept);
        // Ascending: the smallest level is the last.
        for (level, whole) in kept.into_iter().enumerate().rev() {
            let Some(whole) = whole else { continue };
            let size = grid.level_size(level);
            let mut names = size_names(self.options.version, grid.full, size);
            // The top level's one tile is this size already (the same pixels, same names).
            names.retain(|n| !self.whole_tiles.contains(n));
            if !names.is_empty() {
                self.emit(&names, whole, size)?;
            }
            self.written.sizes.push(size);
        }
        Ok(())
    }
}

/// Copy `tile` into `whole` at (`x`, `y`), clipped to it.
fn blit(whole: &mut Raster, tile: &Raster, x: u32, y: u32) {
    if whole.layout != tile.layout || x >= whole.width || y >= whole.height {
        return;
    }
    let px = whole.layout.channels();
    let cols = tile.width.min(whole.width - x) as usize;
    let (ws, ts) = (whole.stride(), tile.stride());
    for r in 0..tile.height.min(whole.height - y) as usize {
        let to = (y as usize + r) * ws + x as usize * px;
        let from = r * ts;
        if let (Some(dst), Some(src)) = (
            whole.data.get_mut(to..to + cols * px),
            tile.data.get(from..from + cols * px),
        ) {
            dst.copy_from_slice(src);
        }
    }
}

/// The `w`x`h` part of `raster` at (`x`, `y`) (inside it).
fn crop(raster: &Raster, x: u32, y: u32, w: u32, h: u32) -> Raster {
    let px = raster.layout.channels();
    let stride = raster.stride();
    let mut data = Vec::with_capacity(w as usize * h as usize * px);
    for r in y..y + h {
        let at = r as usize * stride + x as usize * px;
        data.extend_from_slice(
            raster
                .data
                .get(at..at + w as usize * px)
                .unwrap_or_default(),
        );
    }
    let mut out = Raster::from_data(w, h, raster.layout, data).unwrap_or_else(|| raster.clone());
    out.extent = None;
    out
}

/// Write `bytes` as `{name}/0/default.jpg` under `dir` for each of `names`: the first written,
/// the others hard links to it (copies where links are refused), each replacing what was there.
fn write_all(dir: &Path, names: &[String], bytes: &[u8], files: &mut u64) -> io::Result<()> {
    let mut first: Option<PathBuf> = None;
    for name in names {
        let folder = dir.join(name).join("0");
        std::fs::create_dir_all(&folder)?;
        let path = folder.join("default.jpg");
        // Never written through: the old file may be a link to another image's.
        let _ = std::fs::remove_file(&path);
        match &first {
            None => std::fs::write(&path, bytes)?,
            Some(original) => {
                if std::fs::hard_link(original, &path).is_err() {
                    std::fs::write(&path, bytes)?;
                }
            }
        }
        first.get_or_insert(path);
        *files += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_and_blits() -> Result<(), ImageError> {
        let data: Vec<u8> = (0..4 * 3).collect();
        let tile = Raster::from_data(4, 3, PixelLayout::Gray8, data)
            .ok_or(ImageError::Corrupt("raster".into()))?;
        let column = crop(&tile, 3, 0, 1, 3);
        assert_eq!(column.data, vec![3, 7, 11]);
        let mut whole = Raster::new(6, 4, PixelLayout::Gray8)?;
        blit(&mut whole, &tile, 4, 2);
        assert_eq!(&whole.data[16..18], &[0, 1]);
        assert_eq!(&whole.data[22..24], &[4, 5]);
        Ok(())
    }
}
