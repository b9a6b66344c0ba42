//! Which stored resolution level answers a request (the smallest that still gives its size), and
//! what reading from it costs. The one home of this arithmetic: readers choose their level with it,
//! admission counts the pixels with it, and `info.json` advertises only what it allows.

use crate::{Dimensions, Rect};

/// The smallest of `levels` (reduced sizes of an image of size `full`, largest first) whose part
/// of `region` is at least `target`, as an index (0 for full resolution, `i` for `levels[i - 1]`)
/// and that part in the level's own coordinates. A level whose exact share of the region, rounded
/// up, reaches `target` still counts, so its part may be one pixel short: levels round their sizes
/// down while viewers round tile sizes up.
pub fn choose_level(
    full: Dimensions,
    levels: &[Dimensions],
    region: Rect,
    target: Dimensions,
) -> (usize, Rect) {
    // ceil(len * level / full): the level's exact share of `len` pixels, rounded up.
    let share = |len: u32, level: u32, full: u32| {
        (u64::from(len) * u64::from(level)).div_ceil(u64::from(full.max(1)))
    };
    for (i, level) in levels.iter().enumerate().rev() {
        if level.width == 0 || level.height == 0 {
            continue;
        }
        let mapped = map(region, full, *level);
        let wide = mapped.w >= target.width
            || share(region.w, level.width, full.width) >= u64::from(target.width);
        let tall = mapped.h >= target.height
            || share(region.h, level.height, full.height) >= u64::from(target.height);
        if wide && tall {
            return (i + 1, mapped);
        }
    }
    (0, region)
}

/// Pixels decoded to make `target` from `region` (full-resolution coordinates) of an image of size
/// `full` stored at `levels` as well (largest first): the region's part of the level
/// [`choose_level`] picks.
pub fn decode_cost(
    full: Dimensions,
    levels: &[Dimensions],
    region: Rect,
    target: Dimensions,
) -> u64 {
    choose_level(full, levels, region, target).1.area()
}

/// `region` of an image of size `full` in the coordinates of a `level`-sized reduction of it,
/// edges rounded to the nearest pixel, at least one pixel, inside the level.
pub fn map(region: Rect, full: Dimensions, level: Dimensions) -> Rect {
    let axis = |start: u32, len: u32, full: u32, level: u32| -> (u32, u32) {
        let scale = |v: u32| {
            ((u64::from(v) * u64::from(level) + u64::from(full) / 2) / u64::from(full).max(1))
                as u32
        };
        let a = scale(start).min(level - 1);
        let b = scale(start.saturating_add(len)).clamp(a + 1, level);
        (a, b - a)
    };
    let (x, w) = axis(region.x, region.w, full.width, level.width);
    let (y, h) = axis(region.y, region.h, full.height, level.height);
    Rect { x, y, w, h }
}

/// The reduced levels of a pyramid built from an image of size `full` in tiles of `tile` pixels:
/// each half the one before, rounded down (as libvips builds them, and as [`choose_level`] expects),
/// down to the first that fits in one tile. The full size itself is not listed; an image that
/// already fits in one tile has no reduced levels.
pub fn pyramid_levels(full: Dimensions, tile: u32) -> Vec<Dimensions> {
    let tile = tile.max(1);
    let mut levels = Vec::new();
    let mut at = full;
    while (at.width > tile || at.height > tile) && at.width > 1 && at.height > 1 {
        at = Dimensions::new(at.width / 2, at.height / 2);
        levels.push(at);
    }
    levels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_scales_aligned_tiles_exactly() {
        let r = Rect::new(1024, 512, 1024, 512);
        let m = map(r, Dimensions::new(4096, 2048), Dimensions::new(1024, 512));
        assert_eq!(m, Rect::new(256, 128, 256, 128));
    }

    #[test]
    fn map_stays_inside_the_level() {
        let r = Rect::new(4095, 0, 1, 2048);
        let m = map(r, Dimensions::new(4096, 2048), Dimensions::new(3, 1));
        assert!(m.x + m.w <= 3 && m.w >= 1 && m.h == 1);
    }

    #[test]
    fn the_smallest_sufficient_level_is_chosen() {
        let full = Dimensions::new(1001, 601);
        let levels = [Dimensions::new(500, 300), Dimensions::new(250, 150)];
        let whole = Rect::full(1001, 601);
        let pick = |target| choose_level(full, &levels, whole, target).0;
        assert_eq!(pick(Dimensions::new(1001, 601)), 0);
        assert_eq!(pick(Dimensions::new(501, 10)), 0);
        assert_eq!(pick(Dimensions::new(500, 300)), 1);
        assert_eq!(pick(Dimensions::new(251, 151)), 1);
        assert_eq!(pick(Dimensions::new(100, 100)), 2);
        // An edge tile at 1/2 asks ceil(489 / 2) = 245 of a level that holds 244.
        let edge = Rect::new(512, 0, 489, 100);
        let (i, m) = choose_level(full, &levels, edge, Dimensions::new(245, 50));
        assert_eq!((i, m.x, m.w), (1, 256, 244));
        // A level that holds less than the target, even before rounding, does not count.
        let exact = [Dimensions::new(500, 300)];
        let twice = Dimensions::new(1000, 600);
        let whole = Rect::full(1000, 600);
        assert_eq!(
            choose_level(twice, &exact, whole, Dimensions::new(501, 300)).0,
            0
        );
        assert_eq!(
            choose_level(twice, &exact, whole, Dimensions::new(500, 300)).0,
            1
        );
    }

    #[test]
    fn pyramid_levels_halve_down_to_one_tile() {
        let levels = pyramid_levels(Dimensions::new(10_001, 3_000), 512);
        let widths: Vec<(u32, u32)> = levels.iter().map(|d| (d.width, d.height)).collect();
        assert_eq!(
            widths,
            vec![
                (5000, 1500),
                (2500, 750),
                (1250, 375),
                (625, 187),
                (312, 93)
            ]
        );
        assert!(pyramid_levels(Dimensions::new(512, 300), 512).is_empty());
        // A long thin strip stops at one pixel rather than reaching zero.
        let thin = pyramid_levels(Dimensions::new(100_000, 3), 512);
        assert_eq!(thin.last(), Some(&Dimensions::new(50_000, 1)));
    }
}
