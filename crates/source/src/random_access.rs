//! The one interface readers use to reach bytes, wherever they live.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

/// Random-access, read-only bytes of one source object.
pub trait RandomAccess: Send + Sync {
    /// Total length in bytes.
    fn len(&self) -> u64;

    /// Whether the object is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fill `buf` with the bytes starting at `offset`; fewer bytes than asked is an error.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;

    /// Read `len` bytes at `offset` (clipped to the end of the object).
    fn read_range(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let available = self.len().saturating_sub(offset);
        let n = usize::try_from(available).unwrap_or(usize::MAX).min(len);
        let mut buf = vec![0; n];
        self.read_exact_at(offset, &mut buf)?;
        Ok(buf)
    }

    /// Read the whole object.
    fn read_all(&self) -> io::Result<Vec<u8>> {
        let len = usize::try_from(self.len())
            .map_err(|_| io::Error::new(io::ErrorKind::OutOfMemory, "object too large"))?;
        self.read_range(0, len)
    }
}

/// A file on local disk.
#[derive(Debug)]
pub struct FileSource {
    file: File,
    len: u64,
}

impl FileSource {
    /// Open `path` for reading.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Self { file, len })
    }

    /// An already opened `file` whose length `len` was read from its own descriptor (`fstat`), so
    /// nothing about it is looked up by path again.
    pub fn from_file(file: File, len: u64) -> Self {
        Self { file, len }
    }

    /// An already opened `file`, its length from its own descriptor.
    pub fn from_opened(file: File) -> io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(Self { file, len })
    }
}

impl RandomAccess for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        if crate::no_wait::active() {
            return crate::no_wait::read_exact_at(&self.file, offset, buf);
        }
        self.file.read_exact_at(buf, offset)
    }
}

/// An in-memory object, for tests and for sources fetched whole.
impl RandomAccess for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let end = start
            .checked_add(buf.len())
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        let src = self.get(start..end).ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// A `Read + Seek` cursor over a [`RandomAccess`] object, for decoders that want one.
pub struct ReadSeek {
    inner: Arc<dyn RandomAccess>,
    pos: u64,
}

impl ReadSeek {
    /// A cursor at offset 0.
    pub fn new(inner: Arc<dyn RandomAccess>) -> Self {
        Self { inner, pos: 0 }
    }
}

impl Read for ReadSeek {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let remaining = self.inner.len().saturating_sub(self.pos);
        let n = usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        if n == 0 {
            return Ok(0);
        }
        self.inner.read_exact_at(self.pos, &mut buf[..n])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for ReadSeek {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.inner.len().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before start"))?;
        Ok(self.pos)
    }
}
