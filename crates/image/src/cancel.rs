//! Cooperative cancellation: work that nobody waits for any more, or whose time is up, stops at its
//! next check instead of running to the end and holding its memory.
//!
//! The server makes a [`CancelToken`] per render and runs the render inside [`CancelToken::run`];
//! readers, transforms and encoders call [`check`] between strips, tiles, rows and stages (and the C
//! decoders' stream callbacks between the reads they ask for). Work run outside any token, as in
//! tests and the command-line tools, is never cancelled.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::ImageError;

/// A shared "stop now" flag with an optional deadline. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    cancelled: Arc<AtomicBool>,
    deadline: Option<Instant>,
}

impl CancelToken {
    /// A token that is cancelled only by [`CancelToken::cancel`].
    pub fn new() -> Self {
        Self::default()
    }

    /// This token (sharing its flag) that is also cancelled once `deadline` has passed.
    pub fn with_deadline(&self, deadline: Instant) -> Self {
        Self {
            cancelled: Arc::clone(&self.cancelled),
            deadline: Some(self.deadline.map_or(deadline, |d| d.min(deadline))),
        }
    }

    /// Ask the work to stop at its next check.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
    }

    /// Whether the work should stop: cancelled, or past its deadline.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Run `work` on this thread with this token as the one [`check`] consults (the previous one
    /// is restored afterwards, also when `work` panics).
    pub fn run<T>(&self, work: impl FnOnce() -> T) -> T {
        let previous = CURRENT.with(|c| c.replace(Some(self.clone())));
        let _restore = Restore(previous);
        work()
    }
}

thread_local! {
    static CURRENT: RefCell<Option<CancelToken>> = const { RefCell::new(None) };
}

/// Puts the previous token back when dropped.
struct Restore(Option<CancelToken>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// Whether the work running on this thread has been cancelled.
pub fn cancelled() -> bool {
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(CancelToken::is_cancelled))
}

/// `Err(ImageError::Cancelled)` once the work running on this thread has been cancelled.
pub fn check() -> Result<(), ImageError> {
    if cancelled() {
        Err(ImageError::Cancelled)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn work_outside_a_token_is_never_cancelled() {
        assert!(check().is_ok());
    }

    #[test]
    fn a_cancelled_token_stops_the_work_it_runs() {
        let token = CancelToken::new();
        token.run(|| assert!(check().is_ok()));
        token.cancel();
        let seen = token.run(check);
        assert!(matches!(seen, Err(ImageError::Cancelled)));
        // The thread's token is restored afterwards.
        assert!(check().is_ok());
    }

    #[test]
    fn a_deadline_cancels_by_itself() {
        let shared = CancelToken::new();
        let token = shared.with_deadline(Instant::now() + Duration::from_millis(20));
        assert!(!token.is_cancelled());
        std::thread::sleep(Duration::from_millis(30));
        assert!(token.run(cancelled));
        // The deadline belongs to the derived token only.
        assert!(!shared.is_cancelled());
        // The flag is shared.
        let later = shared.with_deadline(Instant::now() + Duration::from_secs(3600));
        shared.cancel();
        assert!(later.is_cancelled());
    }

    #[test]
    fn tokens_nest_and_restore() {
        let outer = CancelToken::new();
        let inner = CancelToken::new();
        inner.cancel();
        outer.run(|| {
            assert!(inner.run(cancelled));
            assert!(!cancelled());
        });
    }

    #[test]
    fn another_thread_can_cancel() {
        let token = CancelToken::new();
        let remote = token.clone();
        let worker = std::thread::spawn(move || {
            token.run(|| {
                let started = Instant::now();
                while check().is_ok() {
                    assert!(
                        started.elapsed() < Duration::from_secs(10),
                        "never cancelled"
                    );
                    std::thread::yield_now();
                }
            })
        });
        std::thread::sleep(Duration::from_millis(10));
        remote.cancel();
        assert!(worker.join().is_ok());
    }
}
