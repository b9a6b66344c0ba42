//! Open image readers kept between requests, so a tile of a big pyramid does not parse its
//! directories (a TIFF's tile offsets, a JPEG 2000 main header) again for every request. Readers
//! are keyed by the object's version tag: a replaced file or object gets a new tag and its old
//! readers are never used again (they age out). Bounded by the number of idle readers.

use crate::cache::lru::Lru;
use std::sync::{Mutex, PoisonError};
use tessera_image::ImageReader;
use tessera_source::{FailureSlot, SourceKind};

/// An idle reader and what `with_image` needs besides it.
pub struct Pooled {
    /// The reader, its header parsed.
    pub reader: Box<dyn ImageReader>,
    /// Where a remote read failure is recorded while it decodes.
    pub failure: FailureSlot,
    /// The kind of source it reads from.
    pub kind: SourceKind,
}

/// Idle readers by object version, least recently used dropped first.
pub struct ReaderPool {
    idle: Mutex<Lru<String, Vec<Pooled>>>,
    per_object: usize,
}

impl std::fmt::Debug for ReaderPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderPool")
            .field("per_object", &self.per_object)
            .finish_non_exhaustive()
    }
}

impl ReaderPool {
    /// A pool of at most `max_idle` idle readers in all (0 turns it off), `per_object` per object.
    pub fn new(max_idle: usize, per_object: usize) -> Self {
        Self {
            idle: Mutex::new(Lru::new(max_idle as u64, max_idle)),
            per_object: per_object.max(1),
        }
    }

    /// An idle reader of the object whose version tag is `tag`, if one is kept.
    pub fn take(&self, tag: &str) -> Option<Pooled> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let mut readers = idle.remove(&tag.to_string())?;
        let reader = readers.pop();
        if !readers.is_empty() {
            let weight = readers.len() as u64;
            // Putting back what was there cannot exceed the bound; if it somehow does, drop it.
            let _ = idle.insert(tag.to_string(), readers, weight);
        }
        reader
    }

    /// Keep `reader` for the next request on the object tagged `tag`.
    pub fn give(&self, tag: String, reader: Pooled) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let mut readers = idle.remove(&tag).unwrap_or_default();
        if readers.len() < self.per_object {
            readers.push(reader);
        }
        let weight = readers.len() as u64;
        // Evicted readers (and a list too heavy for the pool) are dropped here, closing their files.
        let _ = idle.insert(tag, readers, weight);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn pooled(width: u32) -> Pooled {
        let img = image_png(width);
        let reader = tessera_image::open(Arc::new(img), &tessera_image::ReadLimits::default())
            .expect("open");
        Pooled {
            reader,
            failure: FailureSlot::default(),
            kind: SourceKind::Folder,
        }
    }

    /// A tiny valid PNG `width` pixels wide (one row, gray).
    fn image_png(width: u32) -> Vec<u8> {
        let raster = tessera_image::Raster::new(width, 1, tessera_image::PixelLayout::Gray8)
            .expect("raster");
        tessera_image::encode::encode(
            &raster,
            tessera_iiif::OutputFormat::Png,
            &tessera_image::EncodeOptions::default(),
            None,
        )
        .expect("png")
    }

    #[test]
    fn readers_come_back_by_version_and_stay_bounded() {
        let pool = ReaderPool::new(3, 2);
        assert!(pool.take("a").is_none());
        pool.give("a".into(), pooled(1));
        pool.give("a".into(), pooled(2));
        pool.give("a".into(), pooled(3)); // beyond 2 per object: dropped
        pool.give("b".into(), pooled(4));
        let widths: Vec<u32> = std::iter::from_fn(|| pool.take("a"))
            .map(|p| p.reader.header().width)
            .collect();
        assert_eq!(widths, vec![2, 1]);
        assert_eq!(pool.take("b").map(|p| p.reader.header().width), Some(4));
        // Three idle readers at most: the least recently used object's go first.
        for (tag, w) in [("c", 5), ("d", 6), ("e", 7), ("f", 8)] {
            pool.give(tag.into(), pooled(w));
        }
        assert!(pool.take("c").is_none());
        assert_eq!(pool.take("f").map(|p| p.reader.header().width), Some(8));
        let off = ReaderPool::new(0, 4);
        off.give("a".into(), pooled(1));
        assert!(off.take("a").is_none());
    }
}
