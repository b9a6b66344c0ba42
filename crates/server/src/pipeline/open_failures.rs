//! Objects known not to open, by version: a broken primary with a good alternate is not opened and
//! parsed again for every render (a journal's broken TIFFs would cost a header read each time
//! before their JPEG copies answer). Only failures to open are kept, never read failures, which
//! depend on the request (a tile may read where a whole image is over the budget). Bounded; a
//! replaced object has a new version, so it is tried again.

use super::PipelineError;
use crate::cache::lru::Lru;
use std::sync::{Mutex, PoisonError};

/// Why objects did not open, by version tag, the least recently used forgotten first.
#[derive(Debug)]
pub struct OpenFailures {
    failed: Mutex<Lru<String, PipelineError>>,
}

impl OpenFailures {
    /// Remember at most `entries` failures.
    pub fn new(entries: usize) -> Self {
        Self {
            failed: Mutex::new(Lru::new(entries as u64, entries)),
        }
    }

    /// Why the object tagged `tag` did not open, if it is known not to.
    pub fn get(&self, tag: &str) -> Option<PipelineError> {
        let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
        failed.get(&tag.to_string()).cloned()
    }

    /// The object tagged `tag` did not open, because of `error`.
    pub fn remember(&self, tag: String, error: PipelineError) {
        let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = failed.insert(tag, error, 1);
    }
}
