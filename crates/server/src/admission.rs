//! Admission control: a bounded number of concurrent renders holding a bounded number of pixels.
//! A render that does not fit waits in a short, bounded queue for a bounded time; beyond either bound it
//! is refused (503 + Retry-After) instead of slowing every request. Large renders may take only part of
//! the slots, so cheap tile requests always find one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Pixels are counted in units of this many, so that budgets fit a semaphore's `u32` permits.
const PIXEL_UNIT: u64 = 1024;

/// The render gate.
#[derive(Debug)]
pub struct Admission {
    slots: Arc<Semaphore>,
    large_slots: Arc<Semaphore>,
    pixels: Arc<Semaphore>,
    pixel_units: u32,
    large_pixels: u64,
    queued: AtomicUsize,
    max_queued: usize,
    max_wait: Duration,
}

/// Held while a render runs; dropping it frees the slot and the pixels.
#[derive(Debug)]
pub struct Permit {
    _slot: OwnedSemaphorePermit,
    _large: Option<OwnedSemaphorePermit>,
    _pixels: OwnedSemaphorePermit,
}

/// Why a render was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Every render slot (or every slot large renders may use) is busy.
    Slots,
    /// The pixels in flight would exceed the budget.
    Pixels,
    /// The queue of renders waiting for a slot is full.
    Queue,
}

impl Refused {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Refused::Slots => "decode_slots",
            Refused::Pixels => "pixel_budget",
            Refused::Queue => "queue_full",
        }
    }
}

impl Admission {
    /// `slots` concurrent renders holding at most `pixel_budget` pixels; renders of more than
    /// `large_pixels` pixels may use at most half the slots (at least one). At most `max_queued`
    /// renders wait, each at most `max_wait`.
    pub fn new(
        slots: usize,
        pixel_budget: u64,
        large_pixels: u64,
        max_queued: usize,
        max_wait: Duration,
    ) -> Self {
        let slots = slots.max(1);
        let pixel_units =
            u32::try_from(pixel_budget.div_ceil(PIXEL_UNIT).max(1)).unwrap_or(u32::MAX);
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            large_slots: Arc::new(Semaphore::new((slots / 2).max(1))),
            pixels: Arc::new(Semaphore::new(pixel_units as usize)),
            pixel_units,
            large_pixels,
            queued: AtomicUsize::new(0),
            max_queued,
            max_wait,
        }
    }

    /// Admit a render that holds about `pixels` pixels: at once if it fits, else after waiting in the
    /// queue (if there is room in it) for at most the configured time.
    pub async fn admit(&self, pixels: u64) -> Result<Permit, Refused> {
        let refused = match self.try_admit(pixels) {
            Ok(permit) => return Ok(permit),
            Err(refused) => refused,
        };
        let queued = self.queued.fetch_add(1, Ordering::AcqRel);
        let _leave = Leave(&self.queued);
        if queued >= self.max_queued {
            return Err(Refused::Queue);
        }
        match tokio::time::timeout(self.max_wait, self.acquire(pixels)).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(())) | Err(_) => Err(refused),
        }
    }

    /// Wait for a slot (and a large slot) and the pixels, in that order for every caller.
    async fn acquire(&self, pixels: u64) -> Result<Permit, ()> {
        let large = if pixels > self.large_pixels {
            Some(
                Arc::clone(&self.large_slots)
                    .acquire_owned()
                    .await
                    .map_err(|_| ())?,
            )
        } else {
            None
        };
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| ())?;
        let pixels = Arc::clone(&self.pixels)
            .acquire_many_owned(self.units(pixels))
            .await
            .map_err(|_| ())?;
        Ok(Permit {
            _slot: slot,
            _large: large,
            _pixels: pixels,
        })
    }

    fn units(&self, pixels: u64) -> u32 {
        u32::try_from(pixels.div_ceil(PIXEL_UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, self.pixel_units)
    }

    /// Admit a render that holds about `pixels` pixels, or refuse it now. A render larger than the
    /// whole budget is admitted when it can run alone.
    pub fn try_admit(&self, pixels: u64) -> Result<Permit, Refused> {
        let units = self.units(pixels);
        let large = if pixels > self.large_pixels {
            Some(
                Arc::clone(&self.large_slots)
                    .try_acquire_owned()
                    .map_err(|_| Refused::Slots)?,
            )
        } else {
            None
        };
        let slot = Arc::clone(&self.slots)
            .try_acquire_owned()
            .map_err(|_| Refused::Slots)?;
        let pixels = Arc::clone(&self.pixels)
            .try_acquire_many_owned(units)
            .map_err(|_| Refused::Pixels)?;
        Ok(Permit {
            _slot: slot,
            _large: large,
            _pixels: pixels,
        })
    }
}

/// Leaves the queue when dropped.
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(slots: usize, budget: u64, large: u64) -> Admission {
        Admission::new(slots, budget, large, 1, Duration::from_millis(200))
    }

    #[test]
    fn large_renders_leave_room_for_small_ones() {
        let a = gate(4, 100_000_000, 1_000_000);
        let big1 = a.try_admit(5_000_000).unwrap();
        let _big2 = a.try_admit(5_000_000).unwrap();
        assert_eq!(a.try_admit(5_000_000).unwrap_err(), Refused::Slots);
        let _small1 = a.try_admit(65_536).unwrap();
        let _small2 = a.try_admit(65_536).unwrap();
        assert_eq!(a.try_admit(65_536).unwrap_err(), Refused::Slots);
        drop(big1);
        assert!(a.try_admit(65_536).is_ok());
    }

    #[test]
    fn the_pixel_budget_bounds_what_runs_at_once() {
        let a = gate(8, 10_000_000, u64::MAX);
        let p = a.try_admit(6_000_000).unwrap();
        assert_eq!(a.try_admit(6_000_000).unwrap_err(), Refused::Pixels);
        drop(p);
        // Larger than the whole budget: runs alone.
        let alone = a.try_admit(50_000_000).unwrap();
        assert_eq!(a.try_admit(1).unwrap_err(), Refused::Pixels);
        drop(alone);
    }

    #[tokio::test]
    async fn a_short_queue_waits_then_refuses() {
        let a = Arc::new(gate(1, 1_000_000, u64::MAX));
        let busy = a.try_admit(10).unwrap();
        // One may wait; the next is refused at once.
        let waiting = tokio::spawn({
            let a = Arc::clone(&a);
            async move { a.admit(10).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(a.admit(10).await.unwrap_err(), Refused::Queue);
        drop(busy);
        assert!(waiting.await.unwrap().is_ok());
        // Waiting longer than allowed is refused too.
        let _busy = a.try_admit(10).unwrap();
        assert_eq!(a.admit(10).await.unwrap_err(), Refused::Slots);
    }
}
