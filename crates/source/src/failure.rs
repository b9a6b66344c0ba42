//! Carries the real cause of a failed remote read past decoders, which only see an `io::Error`.

use crate::error::SourceError;
use std::sync::{Arc, Mutex, PoisonError};

/// The first source failure recorded while reading one opened object.
#[derive(Debug, Clone, Default)]
pub struct FailureSlot(Arc<Mutex<Option<SourceError>>>);

impl FailureSlot {
    /// Remember `error` unless an earlier one is already there.
    pub fn record(&self, error: SourceError) {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(error);
        }
    }

    /// The recorded failure, if any, leaving the slot empty.
    pub fn take(&self) -> Option<SourceError> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}
