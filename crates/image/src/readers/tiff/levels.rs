//! Reduced-resolution levels of a pyramidal TIFF: further directories of the main chain (as
//! libvips and libtiff tools write them) and SubIFDs of the first directory, each accepted only
//! when it is a smaller image of the same aspect.

use std::collections::HashSet;

use tessera_source::RandomAccess;

use super::ifd::{tag, Header, Ifd};
use super::layout::Layout;

/// Most directories visited when looking for levels (main chain and SubIFDs together).
const MAX_DIRECTORIES: usize = 64;

/// The first directory's layout followed by its reduced levels, largest first.
///
/// Directories that cannot be parsed, masks (NewSubfileType bit 2) and images of another aspect
/// (thumbnails, labels) are skipped: a damaged level never makes the full image unreadable.
pub(crate) fn find(
    source: &dyn RandomAccess,
    header: Header,
    base: Layout,
    first: &Ifd,
    next: u64,
) -> Vec<Layout> {
    // The main chain after the first directory, then each SubIFD (which may chain on).
    let mut starts = vec![next];
    starts.extend(
        first
            .ints(tag::SUB_IFDS)
            .unwrap_or(&[])
            .iter()
            .filter_map(|&o| u64::try_from(o).ok()),
    );
    let mut seen = HashSet::from([header.first]);
    let mut rest = Vec::new();
    for start in starts {
        let mut at = start;
        while at != 0 && seen.len() < MAX_DIRECTORIES && seen.insert(at) {
            let Ok((ifd, following)) = Ifd::read_at(source, header, at) else {
                break;
            };
            rest.extend(accept(&ifd, &base));
            at = following;
        }
    }
    rest.sort_by_key(|l| std::cmp::Reverse(l.width));
    rest.dedup_by_key(|l| l.width);
    let mut levels = vec![base];
    levels.extend(rest);
    levels
}

/// `ifd` as a level of `base`: strictly smaller, the same aspect within rounding, not a mask.
fn accept(ifd: &Ifd, base: &Layout) -> Option<Layout> {
    if ifd.int(tag::NEW_SUBFILE_TYPE).unwrap_or(0) & 4 != 0 {
        return None;
    }
    let mut layout = Layout::from_ifd(ifd).ok()?;
    let (w, h) = (f64::from(layout.width), f64::from(layout.height));
    let (bw, bh) = (f64::from(base.width), f64::from(base.height));
    let same_aspect = (h - bh * w / bw).abs() <= 2.0 && (w - bw * h / bh).abs() <= 2.0;
    if layout.width >= base.width || layout.height >= base.height || !same_aspect {
        return None;
    }
    // Levels often carry no profile of their own: they are the same image.
    if layout.icc.is_none() {
        layout.icc.clone_from(&base.icc);
    }
    Some(layout)
}
