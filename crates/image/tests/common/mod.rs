//! Helpers shared by the integration tests: corpus access and plan building.

#![allow(dead_code)]

pub mod pyramid;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tessera_iiif::{Dimensions, OutputFormat, Plan, Quality, Rect};
use tessera_image::{open, ImageError, ImageReader, Raster, ReadLimits};
use tessera_source::{FileSource, RandomAccess};

/// An in-memory source that counts the bytes read from it.
pub struct Counting {
    inner: Vec<u8>,
    read: AtomicU64,
}

impl Counting {
    /// `bytes`, nothing read yet.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self {
            inner: bytes,
            read: AtomicU64::new(0),
        }
    }

    /// Bytes read since the last [`Counting::reset`].
    pub fn read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// Start counting from zero.
    pub fn reset(&self) {
        self.read.store(0, Ordering::Relaxed);
    }
}

impl RandomAccess for Counting {
    fn len(&self) -> u64 {
        self.inner.len() as u64
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.read.fetch_add(buf.len() as u64, Ordering::Relaxed);
        self.inner.read_exact_at(offset, buf)
    }
}

/// The shared read-only corpus: `$TESSERA_CORPUS`, else `shared/corpus` beside the repository
/// (where the project's machines and CI put it).
pub fn corpus_root() -> PathBuf {
    match std::env::var_os("TESSERA_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    }
}

/// The IIIF validator test image (1000x1000 PNG).
pub const VALIDATOR_PNG: &str = "iiif-validator/67352ccc-d1b0-11e1-89ae-279075081939.png";

/// Absolute path of a corpus file.
pub fn corpus(rel: &str) -> PathBuf {
    corpus_root().join(rel)
}

/// Open a corpus file with default limits.
pub fn open_file(rel: &str) -> Result<Box<dyn ImageReader>, ImageError> {
    let source = FileSource::open(&corpus(rel)).map_err(ImageError::Io)?;
    open(Arc::new(source), &ReadLimits::default())
}

/// Open a corpus file as stored, without turning it to its EXIF or TIFF orientation (the
/// manifest gives stored sizes).
pub fn open_stored(rel: &str) -> Result<Box<dyn ImageReader>, ImageError> {
    let source = FileSource::open(&corpus(rel)).map_err(ImageError::Io)?;
    let limits = ReadLimits {
        auto_orient: false,
        ..ReadLimits::default()
    };
    open(Arc::new(source), &limits)
}

/// Open in-memory bytes with default limits.
pub fn open_bytes(bytes: Vec<u8>) -> Result<Box<dyn ImageReader>, ImageError> {
    open(Arc::new(bytes), &ReadLimits::default())
}

/// Read the whole image at full resolution.
pub fn read_full(reader: &mut dyn ImageReader) -> Result<Raster, ImageError> {
    let h = *reader.header();
    reader.read(
        Rect::full(h.width, h.height),
        Dimensions::new(h.width, h.height),
    )
}

/// One row of manifest.tsv.
pub struct Entry {
    pub path: String,
    pub format: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// The file embeds an ICC profile.
    pub icc: bool,
    pub ok: bool,
}

/// The corpus manifest.
pub fn manifest() -> Vec<Entry> {
    let text = std::fs::read_to_string(corpus("manifest.tsv")).expect("manifest.tsv");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            Some(Entry {
                path: cols.first()?.to_string(),
                format: cols.get(1)?.to_string(),
                width: cols.get(2)?.parse().ok(),
                height: cols.get(3)?.parse().ok(),
                icc: *cols.get(9)? == "y",
                ok: *cols.get(11)? == "ok",
            })
        })
        .collect()
}

/// Whether Tessera's readers claim this manifest format.
pub fn readable_format(format: &str) -> bool {
    matches!(
        format,
        "PNG" | "JPEG" | "GIF" | "TIFF" | "BigTIFF" | "WebP" | "JP2" | "JPX" | "J2K"
    )
}

/// A plan with the given pieces.
pub fn plan(
    region: Rect,
    size: (u32, u32),
    mirror: bool,
    rotation: f64,
    quality: Quality,
    format: OutputFormat,
) -> Plan {
    Plan {
        region,
        size: Dimensions::new(size.0, size.1),
        mirror,
        rotation,
        quality,
        format,
        canonical: String::new(),
    }
}
