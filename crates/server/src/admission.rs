//! Admission control: a bounded number of concurrent renders holding a bounded number of pixels.
//! Work that does not fit is refused at once (503 + Retry-After) instead of queueing behind the rest.
//! Large renders may take only part of the slots, so cheap tile requests always find one.

use std::sync::Arc;
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
}

impl Refused {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Refused::Slots => "decode_slots",
            Refused::Pixels => "pixel_budget",
        }
    }
}

impl Admission {
    /// `slots` concurrent renders holding at most `pixel_budget` pixels; renders of more than
    /// `large_pixels` pixels may use at most half the slots (at least one).
    pub fn new(slots: usize, pixel_budget: u64, large_pixels: u64) -> Self {
        let slots = slots.max(1);
        let pixel_units =
            u32::try_from(pixel_budget.div_ceil(PIXEL_UNIT).max(1)).unwrap_or(u32::MAX);
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            large_slots: Arc::new(Semaphore::new((slots / 2).max(1))),
            pixels: Arc::new(Semaphore::new(pixel_units as usize)),
            pixel_units,
            large_pixels,
        }
    }

    /// Admit a render that holds about `pixels` pixels, or refuse it now. A render larger than the
    /// whole budget is admitted when it can run alone.
    pub fn try_admit(&self, pixels: u64) -> Result<Permit, Refused> {
        let units = u32::try_from(pixels.div_ceil(PIXEL_UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, self.pixel_units);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_renders_leave_room_for_small_ones() {
        let a = Admission::new(4, 100_000_000, 1_000_000);
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
        let a = Admission::new(8, 10_000_000, u64::MAX);
        let p = a.try_admit(6_000_000).unwrap();
        assert_eq!(a.try_admit(6_000_000).unwrap_err(), Refused::Pixels);
        drop(p);
        // Larger than the whole budget: runs alone.
        let alone = a.try_admit(50_000_000).unwrap();
        assert_eq!(a.try_admit(1).unwrap_err(), Refused::Pixels);
        drop(alone);
    }
}
