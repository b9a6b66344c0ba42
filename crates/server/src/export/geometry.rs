//! The tile grid of a static Level 0 tree and the file names of each tile and size: the names
//! OpenSeadragon's `IIIFTileSource` computes from the `info.json`, the spec's own tile form
//! (`x,y,w,h/w,h` in 3.0, `x,y,w,h/w,` in 2.1) and the canonical form, which can differ at the
//! edges of the image and at full resolution (`max`, `full`).

use tessera_iiif::info::{scaled, TileSet};
use tessera_iiif::{plan, ApiVersion, Dimensions, ImageRequest, Limits, Rect};

/// Square tiles of `tile` pixels at scale factors 1, 2, 4, … (one per pyramid level) over an
/// image of `full` pixels, as a viewer computes them from `info.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// Full-resolution size.
    pub full: Dimensions,
    /// Tile side, in output pixels.
    pub tile: u32,
    /// Number of scale factors (pyramid levels), at least 1.
    pub levels: usize,
}

impl Grid {
    /// The scale factor of `level` (0 is full resolution).
    pub fn scale(&self, level: usize) -> u32 {
        1u32 << level.min(31)
    }

    /// The image's size at `level`, each side divided by the scale factor and rounded up.
    pub fn level_size(&self, level: usize) -> Dimensions {
        scaled(self.full, self.scale(level))
    }

    /// Tiles across and down at `level`.
    pub fn tiles(&self, level: usize) -> (u32, u32) {
        let d = self.level_size(level);
        let t = self.tile.max(1);
        (d.width.div_ceil(t), d.height.div_ceil(t))
    }

    /// The full-resolution region of tile (`column`, `row`) of `level`.
    pub fn region(&self, level: usize, column: u32, row: u32) -> Rect {
        let span = u64::from(self.tile) * u64::from(self.scale(level));
        let axis = |index: u32, len: u32| {
            let start = (u64::from(index) * span).min(u64::from(len));
            let w = span.min(u64::from(len) - start);
            (start as u32, w as u32)
        };
        let (x, w) = axis(column, self.full.width);
        let (y, h) = axis(row, self.full.height);
        Rect { x, y, w, h }
    }

    /// The output size of tile (`column`, `row`) of `level`: its region divided by the scale
    /// factor, rounded up.
    pub fn size(&self, level: usize, column: u32, row: u32) -> Dimensions {
        let r = self.region(level, column, row);
        let s = self.scale(level);
        Dimensions::new(r.w.div_ceil(s), r.h.div_ceil(s))
    }

    /// The tile set `info.json` lists.
    pub fn tile_set(&self) -> TileSet {
        TileSet {
            width: self.tile,
            height: self.tile,
            scale_factors: (0..self.levels).map(|l| self.scale(l)).collect(),
        }
    }
}

/// Every `{region}/{size}` under which tile (`column`, `row`) of `level` must be found, first the
/// spec's form, then OpenSeadragon's and the canonical one where they differ.
pub fn tile_names(
    version: ApiVersion,
    grid: &Grid,
    level: usize,
    column: u32,
    row: u32,
) -> Vec<String> {
    let region = grid.region(level, column, row);
    let size = grid.size(level, column, row);
    let whole = region == Rect::full(grid.full.width, grid.full.height);
    let region_name = if whole {
        "full".to_string()
    } else {
        format!("{},{},{},{}", region.x, region.y, region.w, region.h)
    };
    let mut names = vec![format!("{region_name}/{}", spec_size(version, size))];
    push_new(&mut names, openseadragon(version, grid, level, column, row));
    if let Some(c) = canonical(version, grid.full, &region_name, size) {
        push_new(&mut names, c);
    }
    names
}

/// Every `full/{size}` under which the whole image at `size` must be found.
pub fn size_names(version: ApiVersion, full: Dimensions, size: Dimensions) -> Vec<String> {
    let mut names = vec![format!("full/{}", spec_size(version, size))];
    if let Some(c) = canonical(version, full, "full", size) {
        push_new(&mut names, c);
    }
    names
}

/// The size as the spec writes a tile's: `w,h` in 3.0, `w,` in 2.1.
fn spec_size(version: ApiVersion, size: Dimensions) -> String {
    match version {
        ApiVersion::V3 => format!("{},{}", size.width, size.height),
        ApiVersion::V2 => format!("{},", size.width),
    }
}

fn push_new(names: &mut Vec<String>, name: String) {
    if !names.contains(&name) {
        names.push(name);
    }
}

/// The canonical `{region}/{size}` of a request for `region_name` at `size`, as Tessera's planner
/// writes it (`max` in 3.0 and `full` in 2.1 for an unscaled region).
fn canonical(
    version: ApiVersion,
    full: Dimensions,
    region_name: &str,
    size: Dimensions,
) -> Option<String> {
    let size_name = format!("{},{}", size.width, size.height);
    let request = ImageRequest::parse(version, region_name, &size_name, "0", "default.jpg").ok()?;
    let limits = Limits {
        max_scale: f64::INFINITY,
        max_area: None,
        ..Limits::default()
    };
    let planned = plan(&request, full, &limits).ok()?;
    let mut parts = planned.canonical.splitn(3, '/');
    Some(format!("{}/{}", parts.next()?, parts.next()?))
}

/// What OpenSeadragon 6.1.1's `IIIFTileSource.getTileUrl` asks for (its level `maxLevel - level`,
/// tile size as in `info.json`), for a Level 0 source.
fn openseadragon(version: ApiVersion, grid: &Grid, level: usize, column: u32, row: u32) -> String {
    let (w, h) = (grid.full.width, grid.full.height);
    let level_size = grid.level_size(level);
    let t = grid.tile;
    let v3 = version == ApiVersion::V3;
    let (region, sw, sh) = if level_size.width < t && level_size.height < t {
        ("full".to_string(), level_size.width, level_size.height)
    } else {
        let r = grid.region(level, column, row);
        let region = if column == 0 && row == 0 && r.w == w && r.h == h {
            "full".to_string()
        } else {
            format!("{},{},{},{}", r.x, r.y, r.w, r.h)
        };
        let sw = t.min(level_size.width.saturating_sub(column * t));
        let sh = t.min(level_size.height.saturating_sub(row * t));
        (region, sw, sh)
    };
    let size = if !v3 && sw == w {
        "full".to_string()
    } else if v3 && sw == w && sh == h {
        "max".to_string()
    } else if v3 {
        format!("{sw},{sh}")
    } else {
        format!("{sw},")
    };
    format!("{region}/{size}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(w: u32, h: u32, tile: u32, levels: usize) -> Grid {
        Grid {
            full: Dimensions::new(w, h),
            tile,
            levels,
        }
    }

    #[test]
    fn edge_tiles_round_up() {
        // 1001x751 in 256 px tiles: 4x3 tiles at scale 1, 2x2 at scale 2, one at scale 4.
        let g = grid(1001, 751, 256, 3);
        assert_eq!(g.tiles(0), (4, 3));
        assert_eq!(g.tiles(1), (2, 2));
        assert_eq!(g.tiles(2), (1, 1));
        assert_eq!(g.region(0, 3, 2), Rect::new(768, 512, 233, 239));
        assert_eq!(g.region(1, 1, 1), Rect::new(512, 512, 489, 239));
        // ceil(489 / 2) = 245, ceil(239 / 2) = 120
        assert_eq!(g.size(1, 1, 1), Dimensions::new(245, 120));
        assert_eq!(g.size(2, 0, 0), Dimensions::new(251, 188));
        assert_eq!(g.tile_set().scale_factors, vec![1, 2, 4]);
    }

    #[test]
    fn a_sliver_past_the_levels_columns_is_one_pixel() {
        // 1025 px: floor(1025 / 2) = 512 is one tile at level 1, but ceil gives 513: two.
        let g = grid(1025, 600, 512, 2);
        assert_eq!(g.tiles(1), (2, 1));
        assert_eq!(g.region(1, 1, 0), Rect::new(1024, 0, 1, 600));
        assert_eq!(g.size(1, 1, 0), Dimensions::new(1, 300));
    }

    #[test]
    fn names_include_what_openseadragon_and_the_canonical_form_ask_for() {
        let g = grid(1001, 751, 256, 3);
        assert_eq!(
            tile_names(ApiVersion::V3, &g, 0, 0, 0),
            vec!["0,0,256,256/256,256", "0,0,256,256/max"]
        );
        assert_eq!(
            tile_names(ApiVersion::V2, &g, 0, 0, 0),
            vec!["0,0,256,256/256,", "0,0,256,256/full"]
        );
        assert_eq!(
            tile_names(ApiVersion::V3, &g, 1, 1, 1),
            vec!["512,512,489,239/245,120"]
        );
        // The top level fits one tile: the whole image, which OpenSeadragon also names `full`.
        assert_eq!(
            tile_names(ApiVersion::V3, &g, 2, 0, 0),
            vec!["full/251,188"]
        );
        assert_eq!(tile_names(ApiVersion::V2, &g, 2, 0, 0), vec!["full/251,"]);
        // A small image is one tile at full size.
        let small = grid(200, 100, 256, 1);
        assert_eq!(
            tile_names(ApiVersion::V3, &small, 0, 0, 0),
            vec!["full/200,100", "full/max"]
        );
        assert_eq!(
            tile_names(ApiVersion::V2, &small, 0, 0, 0),
            vec!["full/200,", "full/full"]
        );
        // A full-width strip of a narrow image: OpenSeadragon 2.x asks for `full` there.
        let narrow = grid(200, 600, 256, 2);
        assert_eq!(
            tile_names(ApiVersion::V2, &narrow, 0, 0, 1),
            vec!["0,256,200,256/200,", "0,256,200,256/full"]
        );
        assert_eq!(
            size_names(
                ApiVersion::V3,
                Dimensions::new(1001, 751),
                Dimensions::new(1001, 751)
            ),
            vec!["full/1001,751", "full/max"]
        );
        assert_eq!(
            size_names(
                ApiVersion::V3,
                Dimensions::new(1001, 751),
                Dimensions::new(501, 376)
            ),
            vec!["full/501,376"]
        );
    }
}
