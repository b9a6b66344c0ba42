//! Reduced-resolution levels of a pyramidal TIFF: further directories of the main chain (as
//! libvips and libtiff tools write them) and SubIFDs of the first directory, each accepted only
//! when it is a smaller image of the same aspect. In the main chain, a directory that is neither
//! marked reduced (NewSubfileType bit 0) nor a plausible reduction is the next page of a
//! multi-page file and ends the pyramid.

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
    // Aperio (.svs) files put an unmarked, stripped thumbnail between the pyramid's levels.
    let aperio = first
        .bytes(tag::IMAGE_DESCRIPTION)
        .is_some_and(|d| d.starts_with(b"Aperio"));
    let mut seen = HashSet::from([header.first]);
    let mut rest = Vec::new();
    for (i, start) in starts.into_iter().enumerate() {
        let main_chain = i == 0;
        let mut at = start;
        while at != 0 && seen.len() < MAX_DIRECTORIES && seen.insert(at) {
            let Ok((ifd, following)) = Ifd::read_at(source, header, at) else {
                break;
            };
            match accept(&ifd, &base) {
                Some(level) => rest.push(level),
                None if main_chain && !aperio && is_page(&ifd) => break,
                None => {}
            }
            at = following;
        }
    }
    rest.sort_by_key(|l| std::cmp::Reverse(l.width));
    rest.dedup_by_key(|l| l.width);
    let mut levels = vec![base];
    levels.extend(rest);
    levels
}

/// NewSubfileType bit 0: a reduced-resolution version of another image.
const REDUCED: i64 = 1;
/// NewSubfileType bit 2: a transparency mask.
const MASK: i64 = 4;

/// Whether a directory that is not a level is a page of its own (which ends the pyramid) rather
/// than a mask or a reduced image of another kind (a label or overview), which is skipped.
fn is_page(ifd: &Ifd) -> bool {
    ifd.int(tag::NEW_SUBFILE_TYPE).unwrap_or(0) & (REDUCED | MASK) == 0
}

/// `ifd` as a level of `base`: strictly smaller, the same aspect within rounding, not a mask;
/// and, unless marked reduced, with the same samples and colour model (a plausible reduction
/// rather than another page that happens to be smaller).
fn accept(ifd: &Ifd, base: &Layout) -> Option<Layout> {
    let subfile = ifd.int(tag::NEW_SUBFILE_TYPE).unwrap_or(0);
    if subfile & MASK != 0 {
        return None;
    }
    let mut layout = Layout::from_ifd(ifd).ok()?;
    let (w, h) = (f64::from(layout.width), f64::from(layout.height));
    let (bw, bh) = (f64::from(base.width), f64::from(base.height));
    let same_aspect = (h - bh * w / bw).abs() <= 2.0 && (w - bw * h / bh).abs() <= 2.0;
    if layout.width >= base.width || layout.height >= base.height || !same_aspect {
        return None;
    }
    let same_kind = layout.spp == base.spp && layout.photometric == base.photometric;
    if subfile & REDUCED == 0 && !same_kind {
        return None;
    }
    // Levels often carry no profile of their own: they are the same image.
    if layout.icc.is_none() {
        layout.icc.clone_from(&base.icc);
    }
    Some(layout)
}
