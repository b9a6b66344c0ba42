//! Random access to a remote object by blocks: blocks come from memory, then the source cache, and only
//! the missing ones from the origin, each run of neighbouring missing blocks in one ranged request.

use crate::error::SourceError;
use crate::remote::{RemoteSource, Version};
use crate::{FailureSlot, RandomAccess};
use object_store::path::Path;
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

/// One version of one remote object, read by blocks of `settings.block_size`.
#[derive(Debug)]
pub(crate) struct RangedObject {
    source: Arc<RemoteSource>,
    path: Path,
    version: Version,
    block_size: u64,
    blocks: Mutex<HashMap<u64, Arc<[u8]>>>,
    failure: FailureSlot,
}

impl RangedObject {
    pub(crate) fn new(
        source: Arc<RemoteSource>,
        path: Path,
        version: Version,
        failure: FailureSlot,
    ) -> Self {
        let block_size = source.settings.block_size.max(1);
        Self {
            source,
            path,
            version,
            block_size,
            blocks: Mutex::new(HashMap::new()),
            failure,
        }
    }

    fn block_key(&self, index: u64) -> String {
        format!("block\n{}\n{}\n{index}", self.version.tag, self.block_size)
    }

    /// Make blocks `first..=last` present in memory.
    fn ensure(&self, first: u64, last: u64) -> Result<(), SourceError> {
        let mut missing = Vec::new();
        for index in first..=last {
            if self.lock_blocks().contains_key(&index) {
                continue;
            }
            match self.source.cache.get(&self.block_key(index)) {
                Some(bytes) if bytes.len() as u64 == self.block_len(index) => {
                    self.lock_blocks().insert(index, bytes.into());
                }
                _ => missing.push(index),
            }
        }
        for run in runs(&missing) {
            self.fetch_run(run.0, run.1)?;
        }
        Ok(())
    }

    /// Fetch blocks `first..=last` in one request (or find them cached by a concurrent fetch).
    fn fetch_run(&self, first: u64, last: u64) -> Result<(), SourceError> {
        let flight = self.source.cache.flight(&self.block_key(first));
        let _one_fetch = flight.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(bytes) = self.source.cache.get(&self.block_key(first)) {
            if bytes.len() as u64 == self.block_len(first) {
                self.lock_blocks().insert(first, bytes.into());
                return if first == last {
                    Ok(())
                } else {
                    self.ensure(first + 1, last)
                };
            }
        }
        let start = first * self.block_size;
        let end = ((last + 1) * self.block_size).min(self.version.size);
        let bytes = self
            .source
            .fetch(&self.path, &self.version, Some(start..end))?;
        for (i, chunk) in bytes.chunks(self.block_size_usize()).enumerate() {
            let index = first + i as u64;
            if let Err(e) = self.source.cache.put(&self.block_key(index), chunk) {
                tracing::warn!(error = %e, "source cache write failed");
            }
            self.lock_blocks().insert(index, chunk.into());
        }
        Ok(())
    }

    fn block_len(&self, index: u64) -> u64 {
        let start = index * self.block_size;
        (start + self.block_size).min(self.version.size) - start.min(self.version.size)
    }

    fn block_size_usize(&self) -> usize {
        usize::try_from(self.block_size).unwrap_or(usize::MAX)
    }

    fn lock_blocks(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<[u8]>>> {
        self.blocks.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RandomAccess for RangedObject {
    fn len(&self) -> u64 {
        self.version.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&end| end <= self.version.size)
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        let first = offset / self.block_size;
        let last = (end - 1) / self.block_size;
        if let Err(e) = self.ensure(first, last) {
            let message = e.to_string();
            self.failure.record(e);
            return Err(io::Error::other(message));
        }
        let blocks = self.lock_blocks();
        let mut written = 0usize;
        for index in first..=last {
            let block = blocks.get(&index).ok_or(io::ErrorKind::UnexpectedEof)?;
            let block_start = index * self.block_size;
            let from = usize::try_from((offset + written as u64) - block_start)
                .map_err(|_| io::ErrorKind::InvalidInput)?;
            let n = (block.len().saturating_sub(from)).min(buf.len() - written);
            let src = block
                .get(from..from + n)
                .ok_or(io::ErrorKind::UnexpectedEof)?;
            buf[written..written + n].copy_from_slice(src);
            written += n;
        }
        if written == buf.len() {
            Ok(())
        } else {
            Err(io::ErrorKind::UnexpectedEof.into())
        }
    }
}

/// Sorted block indices grouped into runs of neighbours: `[1,2,3,7,8]` → `[(1,3),(7,8)]`.
fn runs(indices: &[u64]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &i in indices {
        match out.last_mut() {
            Some(run) if run.1 + 1 == i => run.1 = i,
            _ => out.push((i, i)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::runs;

    #[test]
    fn neighbouring_blocks_merge_into_runs() {
        assert_eq!(runs(&[1, 2, 3, 7, 8, 10]), vec![(1, 3), (7, 8), (10, 10)]);
        assert!(runs(&[]).is_empty());
    }
}
