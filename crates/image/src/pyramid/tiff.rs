//! A pyramid as a tiled TIFF that libtiff, libvips and Tessera's own reader open: one directory per
//! level in the main chain (full resolution first, the others marked reduced), each tile a JPEG
//! (YCbCr or gray, edge tiles padded to the full tile size by repeating their last column and
//! row), the image's ICC profile on every level. Tiles are written as they come, the directories
//! at the end; the file is a classic TIFF when it fits in 4 GiB, a BigTIFF otherwise.

use std::io::{Seek, SeekFrom, Write};

use crate::encode::jpeg::{encode_pixels, Engine, Pixels};
use tessera_iiif::Dimensions;

use super::{Chroma, TileSink};
use crate::{ImageError, PixelLayout, Raster};

/// Bytes kept at the start for the header, the larger (BigTIFF) one.
const HEADER_BYTES: u64 = 16;

/// Tiles encoded together, on [`TiffSink::encoders`] threads at once.
const BATCH: usize = 8;

/// Batches being encoded while the builder goes on making tiles; the oldest is written out
/// before another starts.
const IN_FLIGHT: usize = 2;

/// Where an encoded tile goes: level, column, row.
type Slot = (usize, u32, u32);

/// One encoder thread's share of a batch: its tiles' JPEGs, in order.
type Share = std::thread::JoinHandle<Vec<Result<Vec<u8>, ImageError>>>;

/// A batch on its encoder threads: where each tile goes, and each thread's share, in order.
struct Batch {
    slots: Vec<Slot>,
    parts: Vec<Share>,
}

/// The tiles and directories of a pyramid, written to `out`.
pub struct TiffSink<W: Write + Seek> {
    out: W,
    tile: u32,
    quality: u8,
    description: String,
    pos: u64,
    layout: PixelLayout,
    icc: Option<Vec<u8>>,
    levels: Vec<LevelIndex>,
    /// Tiles waiting to be encoded, and where they go.
    pending: Vec<(Slot, Raster)>,
    /// Batches being encoded, oldest first.
    in_flight: std::collections::VecDeque<Batch>,
    encoders: usize,
}

/// Where one level's tiles are.
struct LevelIndex {
    size: Dimensions,
    across: u32,
    /// Chroma subsampling of its JPEG tiles.
    sampling: Sampling,
    /// Offset and length of each tile, row by row; (0, 0) until written.
    tiles: Vec<(u64, u64)>,
}

impl<W: Write + Seek> TiffSink<W> {
    /// A sink writing to `out` (at its start) tiles of `tile` pixels at JPEG `quality`, with
    /// `description` as the full level's ImageDescription (what the file is a pyramid of).
    pub fn new(out: W, tile: u32, quality: u8, description: String) -> Self {
        Self {
            out,
            tile: tile.max(16),
            quality: quality.clamp(1, 100),
            description,
            pos: 0,
            layout: PixelLayout::Rgb8,
            icc: None,
            levels: Vec::new(),
            pending: Vec::new(),
            in_flight: std::collections::VecDeque::new(),
            encoders: 1,
        }
    }

    /// Encode tiles on up to `threads` threads at once (default 1: the builder's own thread).
    pub fn with_encoders(mut self, threads: usize) -> Self {
        self.encoders = threads.clamp(1, 16);
        self
    }

    /// The writer, once finished.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.pos
    }

    fn write(&mut self, bytes: &[u8]) -> Result<u64, ImageError> {
        let at = self.pos;
        self.out.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(at)
    }

    fn align(&mut self, to: u64) -> Result<(), ImageError> {
        let pad = (to - self.pos % to) % to;
        self.write(&vec![0u8; pad as usize]).map(|_| ())
    }

    /// Chroma subsampling of a level: full chroma from quality 90 up, unless the level is the
    /// full one and the source's chroma was halved; half in both directions otherwise.
    fn sampling(&self, level: usize, chroma: Chroma) -> Sampling {
        if self.quality >= 90 && !(level == 0 && chroma == Chroma::Halved) {
            Sampling::Full
        } else {
            Sampling::Halved
        }
    }

    /// Start encoding the pending tiles on the encoder threads, writing out the oldest batch
    /// first when [`IN_FLIGHT`] are already being encoded.
    fn send_pending(&mut self) -> Result<(), ImageError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        while self.in_flight.len() >= IN_FLIGHT {
            self.write_oldest()?;
        }
        let pending = std::mem::take(&mut self.pending);
        let (side, quality) = (self.tile, self.quality);
        let per_thread = pending.len().div_ceil(self.encoders).max(1);
        let mut slots = Vec::with_capacity(pending.len());
        let mut jobs: Vec<(Raster, Sampling)> = Vec::with_capacity(pending.len());
        for (slot, pixels) in pending {
            let sampling = self
                .levels
                .get(slot.0)
                .map_or(Sampling::Full, |l| l.sampling);
            slots.push(slot);
            jobs.push((pixels, sampling));
        }
        let mut parts = Vec::new();
        while !jobs.is_empty() {
            let rest = jobs.split_off(per_thread.min(jobs.len()));
            let share = std::mem::replace(&mut jobs, rest);
            parts.push(std::thread::spawn(move || {
                share
                    .iter()
                    .map(|(pixels, sampling)| encode(pixels, side, quality, *sampling))
                    .collect::<Vec<_>>()
            }));
        }
        self.in_flight.push_back(Batch { slots, parts });
        Ok(())
    }

    /// Wait for the oldest batch and write its tiles, in order.
    fn write_oldest(&mut self) -> Result<(), ImageError> {
        let Some(batch) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let panicked = || ImageError::Corrupt("pyramid: a tile encoder panicked".into());
        let mut encoded = Vec::with_capacity(batch.slots.len());
        for part in batch.parts {
            encoded.extend(part.join().map_err(|_| panicked())?);
        }
        if encoded.len() != batch.slots.len() {
            return Err(panicked());
        }
        for ((level, column, row), jpeg) in batch.slots.into_iter().zip(encoded) {
            let jpeg = jpeg?;
            let at = self.write(&jpeg)?;
            let slot = self
                .levels
                .get(level)
                .map(|l| row as usize * l.across as usize + column as usize);
            match (slot, self.levels.get_mut(level)) {
                (Some(i), Some(l)) if i < l.tiles.len() => l.tiles[i] = (at, jpeg.len() as u64),
                _ => {
                    return Err(ImageError::Corrupt(
                        "pyramid: tile outside its level".into(),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Write the directories and the header.
    fn write_directories(&mut self) -> Result<(), ImageError> {
        let tiles: u64 = self.levels.iter().map(|l| l.tiles.len() as u64).sum();
        let icc_len = self.icc.as_ref().map_or(0, |p| p.len() as u64);
        // Generously what is still to be written: the tile arrays at 8 bytes, the directories.
        let rest =
            tiles * 16 + icc_len + self.description.len() as u64 + 4096 * self.levels.len() as u64;
        let big = self.pos + rest > u64::from(u32::MAX);
        let word = if big { 8 } else { 4 };
        let icc_at = match self.icc.take() {
            Some(icc) => {
                self.align(2)?;
                let at = self.write(&icc)?;
                Some((at, icc.len() as u64))
            }
            None => None,
        };
        let mut description = self.description.clone().into_bytes();
        description.push(0);
        let channels = self.layout.channels() as u16;
        let photometric: u16 = if self.layout.is_gray() { 1 } else { 6 };
        let mut next = 0u64;
        // The last level first, so each directory knows where the next one is.
        for index in (0..self.levels.len()).rev() {
            let (size, sampling, offsets, counts) = {
                let level = &self.levels[index];
                let offsets: Vec<u64> = level.tiles.iter().map(|t| t.0).collect();
                let counts: Vec<u64> = level.tiles.iter().map(|t| t.1).collect();
                (level.size, level.sampling, offsets, counts)
            };
            let mut entries = vec![
                Entry::long(254, u64::from(index > 0)),
                Entry::long(256, u64::from(size.width)),
                Entry::long(257, u64::from(size.height)),
                Entry::shorts(258, &vec![8; usize::from(channels)]),
                Entry::shorts(259, &[7]),
                Entry::shorts(262, &[photometric]),
            ];
            if index == 0 {
                entries.push(Entry::raw(
                    270,
                    2,
                    description.len() as u64,
                    description.clone(),
                ));
            }
            entries.extend([
                Entry::shorts(277, &[channels]),
                Entry::shorts(284, &[1]),
                Entry::long(322, u64::from(self.tile)),
                Entry::long(323, u64::from(self.tile)),
                Entry::offsets(324, &offsets, big),
                Entry::offsets(325, &counts, big),
            ]);
            if photometric == 6 {
                let factor = sampling.factor();
                entries.push(Entry::shorts(530, &[factor, factor]));
            }
            if let Some((at, len)) = icc_at {
                entries.push(Entry::pointer(34675, 7, len, at));
            }
            next = self.write_directory(&entries, next, word)?;
        }
        // The header, at the start.
        let mut header = Vec::with_capacity(HEADER_BYTES as usize);
        if big {
            header.extend_from_slice(b"II\x2b\x00\x08\x00\x00\x00");
            header.extend_from_slice(&next.to_le_bytes());
        } else {
            header.extend_from_slice(b"II\x2a\x00");
            header.extend_from_slice(&(next as u32).to_le_bytes());
        }
        self.out.seek(SeekFrom::Start(0))?;
        self.out.write_all(&header)?;
        self.out.seek(SeekFrom::Start(self.pos))?;
        self.out.flush()?;
        Ok(())
    }

    /// Write the values that do not fit in their entries, then the directory; returns its offset.
    fn write_directory(
        &mut self,
        entries: &[Entry],
        next: u64,
        word: usize,
    ) -> Result<u64, ImageError> {
        let mut placed = Vec::with_capacity(entries.len());
        for e in entries {
            let value = match &e.value {
                Value::Inline(bytes) if bytes.len() <= word => {
                    let mut v = bytes.clone();
                    v.resize(word, 0);
                    v
                }
                Value::Inline(bytes) => {
                    self.align(2)?;
                    let at = self.write(bytes)?;
                    offset_bytes(at, word)
                }
                Value::At(at) => offset_bytes(*at, word),
            };
            placed.push((e.tag, e.kind, e.count, value));
        }
        self.align(if word == 8 { 8 } else { 2 })?;
        let mut ifd = Vec::new();
        if word == 8 {
            ifd.extend_from_slice(&(placed.len() as u64).to_le_bytes());
        } else {
            ifd.extend_from_slice(&(placed.len() as u16).to_le_bytes());
        }
        for (tag, kind, count, value) in placed {
            ifd.extend_from_slice(&tag.to_le_bytes());
            ifd.extend_from_slice(&kind.to_le_bytes());
            if word == 8 {
                ifd.extend_from_slice(&count.to_le_bytes());
            } else {
                ifd.extend_from_slice(&(count as u32).to_le_bytes());
            }
            ifd.extend_from_slice(&value);
        }
        ifd.extend_from_slice(&offset_bytes(next, word));
        self.write(&ifd)
    }
}

impl<W: Write + Seek> TileSink for TiffSink<W> {
    fn start(
        &mut self,
        levels: &[Dimensions],
        layout: PixelLayout,
        icc: Option<&[u8]>,
        chroma: Chroma,
    ) -> Result<(), ImageError> {
        self.layout = layout;
        self.icc = icc.map(<[u8]>::to_vec);
        self.levels = levels
            .iter()
            .enumerate()
            .map(|(index, &size)| {
                let across = size.width.div_ceil(self.tile);
                let down = size.height.div_ceil(self.tile);
                LevelIndex {
                    size,
                    across,
                    sampling: self.sampling(index, chroma),
                    tiles: vec![(0, 0); across as usize * down as usize],
                }
            })
            .collect();
        self.out.seek(SeekFrom::Start(0))?;
        self.pos = 0;
        self.write(&[0u8; HEADER_BYTES as usize])?;
        Ok(())
    }

    fn tile(
        &mut self,
        level: usize,
        column: u32,
        row: u32,
        pixels: Raster,
    ) -> Result<(), ImageError> {
        self.pending.push(((level, column, row), pixels));
        if self.pending.len() >= BATCH.max(self.encoders) {
            self.send_pending()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ImageError> {
        self.send_pending()?;
        while !self.in_flight.is_empty() {
            self.write_oldest()?;
        }
        if self.levels.iter().any(|l| l.tiles.iter().any(|t| t.1 == 0)) {
            return Err(ImageError::Corrupt(
                "pyramid: a tile was never written".into(),
            ));
        }
        self.write_directories()
    }
}

/// One directory entry before it is placed.
struct Entry {
    tag: u16,
    kind: u16,
    count: u64,
    value: Value,
}

enum Value {
    /// The value's bytes: inline when they fit, else written before the directory.
    Inline(Vec<u8>),
    /// Already in the file at this offset.
    At(u64),
}

impl Entry {
    fn raw(tag: u16, kind: u16, count: u64, bytes: Vec<u8>) -> Self {
        Self {
            tag,
            kind,
            count,
            value: Value::Inline(bytes),
        }
    }

    fn long(tag: u16, value: u64) -> Self {
        Self::raw(tag, 4, 1, (value as u32).to_le_bytes().to_vec())
    }

    fn shorts(tag: u16, values: &[u16]) -> Self {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self::raw(tag, 3, values.len() as u64, bytes)
    }

    /// Tile offsets or byte counts: LONG in a classic TIFF, LONG8 in a BigTIFF.
    fn offsets(tag: u16, values: &[u64], big: bool) -> Self {
        let bytes = if big {
            values.iter().flat_map(|v| v.to_le_bytes()).collect()
        } else {
            values
                .iter()
                .flat_map(|&v| (v as u32).to_le_bytes())
                .collect()
        };
        Self::raw(tag, if big { 16 } else { 4 }, values.len() as u64, bytes)
    }

    fn pointer(tag: u16, kind: u16, count: u64, at: u64) -> Self {
        Self {
            tag,
            kind,
            count,
            value: Value::At(at),
        }
    }
}

fn offset_bytes(at: u64, word: usize) -> Vec<u8> {
    if word == 8 {
        at.to_le_bytes().to_vec()
    } else {
        (at as u32).to_le_bytes().to_vec()
    }
}

/// Chroma subsampling of a level's JPEG tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sampling {
    /// 4:4:4.
    Full,
    /// 4:2:0.
    Halved,
}

impl Sampling {
    /// As TIFF's YCbCrSubsampling (tag 530) states it, in both directions.
    fn factor(self) -> u16 {
        match self {
            Self::Full => 1,
            Self::Halved => 2,
        }
    }
}

/// One tile as a baseline JPEG of `side × side` (padded), YCbCr at `sampling` or gray.
fn encode(
    tile: &Raster,
    side: u32,
    quality: u8,
    sampling: Sampling,
) -> Result<Vec<u8>, ImageError> {
    let padded = pad(tile, side);
    let edge = u16::try_from(side).map_err(|_| ImageError::Encode {
        format: "jpg",
        message: "tile larger than 65535".into(),
    })?;
    let pixels = Pixels {
        data: &padded,
        width: edge,
        height: edge,
        gray: tile.layout.is_gray(),
    };
    let halve = sampling == Sampling::Halved;
    encode_pixels(Engine::fastest(), pixels, quality, halve, None)
}

/// `tile` grown to `side × side` by repeating its last column and row (as it is when it has
/// that size already).
fn pad(tile: &Raster, side: u32) -> std::borrow::Cow<'_, [u8]> {
    let channels = tile.layout.channels();
    let packed = side as usize * side as usize * channels;
    if tile.width == side && tile.height == side && tile.data.len() == packed {
        return std::borrow::Cow::Borrowed(&tile.data);
    }
    let (w, h) = (
        tile.width.min(side) as usize,
        tile.height.min(side) as usize,
    );
    let side = side as usize;
    let mut out = Vec::with_capacity(side * side * channels);
    for y in 0..side {
        let src = &tile.data[y.min(h - 1) * tile.stride()..][..w * channels];
        out.extend_from_slice(src);
        let last = &src[(w - 1) * channels..];
        for _ in w..side {
            out.extend_from_slice(last);
        }
    }
    std::borrow::Cow::Owned(out)
}
