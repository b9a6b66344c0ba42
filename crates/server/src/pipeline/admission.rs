//! Admission control: a bounded number of concurrent renders holding a bounded number of pixels.
//! A render that does not fit waits in a short, bounded queue for a bounded time; beyond either bound it
//! is refused (503 + Retry-After) instead of slowing every request. Large renders may take only part of
//! the slots, so cheap tile requests always find one, and each client address only a share of those,
//! so one crawler's full-size renders cannot take them all.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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
    shares: Arc<Shares>,
}

/// Held while a render runs; dropping it frees the slot and the pixels.
#[derive(Debug)]
pub struct Permit {
    _slot: OwnedSemaphorePermit,
    _large: Option<OwnedSemaphorePermit>,
    _pixels: OwnedSemaphorePermit,
    _share: Option<Share>,
}

/// How many large renders each client address has running or waiting.
#[derive(Debug)]
struct Shares {
    per_client: usize,
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One large render of one client, counted until dropped.
#[derive(Debug)]
struct Share {
    shares: Arc<Shares>,
    client: IpAddr,
}

impl Shares {
    /// Count one more large render for `client`, unless it already has its share.
    fn enter(self: &Arc<Self>, client: IpAddr) -> Option<Share> {
        let client = client.to_canonical();
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(client).or_insert(0);
        if *count >= self.per_client {
            return None;
        }
        *count += 1;
        Some(Share {
            shares: Arc::clone(self),
            client,
        })
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut counts = self.shares.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.client);
            }
        }
    }
}

/// Why a render was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Every render slot (or every slot large renders may use) is busy.
    #[error("every render slot is busy; try again shortly")]
    Slots,
    /// The pixels in flight would exceed the budget.
    #[error("the pixels being rendered are at their limit; try again shortly")]
    Pixels,
    /// The queue of renders waiting for a slot is full.
    #[error("too many renders are waiting; try again shortly")]
    Queue,
    /// This client already has its share of large renders running or waiting.
    #[error("this client already has its share of large renders in progress; try again shortly")]
    Client,
}

impl Refused {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Refused::Slots => "decode_slots",
            Refused::Pixels => "pixel_budget",
            Refused::Queue => "queue_full",
            Refused::Client => "client_share",
        }
    }
}

impl Admission {
    /// `slots` concurrent renders holding at most `pixel_budget` pixels; renders of more than
    /// `large_pixels` pixels may use at most half the slots (at least one), and one client address
    /// at most `per_client` of those, running or waiting (0: half the large slots, at least one).
    /// At most `max_queued` renders wait, each at most `max_wait`.
    pub fn new(
        slots: usize,
        pixel_budget: u64,
        large_pixels: u64,
        per_client: usize,
        max_queued: usize,
        max_wait: Duration,
    ) -> Self {
        let slots = slots.max(1);
        let large_slots = (slots / 2).max(1);
        let per_client = match per_client {
            0 => (large_slots / 2).max(1),
            n => n,
        };
        let pixel_units =
            u32::try_from(pixel_budget.div_ceil(PIXEL_UNIT).max(1)).unwrap_or(u32::MAX);
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            large_slots: Arc::new(Semaphore::new(large_slots)),
            pixels: Arc::new(Semaphore::new(pixel_units as usize)),
            pixel_units,
            large_pixels,
            queued: AtomicUsize::new(0),
            max_queued,
            max_wait,
            shares: Arc::new(Shares {
                per_client,
                counts: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// How many large renders one client address may have running or waiting.
    pub fn per_client(&self) -> usize {
        self.shares.per_client
    }

    /// A large render of `client` takes one of its shares first; refused at once when it has none
    /// left. Small renders and renders of unknown clients take none.
    fn share(&self, pixels: u64, client: Option<IpAddr>) -> Result<Option<Share>, Refused> {
        match client {
            Some(client) if pixels > self.large_pixels => {
                self.shares.enter(client).map(Some).ok_or(Refused::Client)
            }
            _ => Ok(None),
        }
    }

    /// Admit a render that holds about `pixels` pixels for `client` (its address, when known): at
    /// once if it fits, else after waiting in the queue (if there is room in it) for at most the
    /// configured time. A client over its share of large renders is refused at once.
    pub async fn admit(&self, pixels: u64, client: Option<IpAddr>) -> Result<Permit, Refused> {
        let share = self.share(pixels, client)?;
        let refused = match self.try_acquire(pixels) {
            Ok(permit) => return Ok(permit.with_share(share)),
            Err(refused) => refused,
        };
        let queued = self.queued.fetch_add(1, Ordering::AcqRel);
        let _leave = Leave(&self.queued);
        if queued >= self.max_queued {
            return Err(Refused::Queue);
        }
        match tokio::time::timeout(self.max_wait, self.acquire(pixels)).await {
            Ok(Ok(permit)) => Ok(permit.with_share(share)),
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
            _share: None,
        })
    }

    fn units(&self, pixels: u64) -> u32 {
        u32::try_from(pixels.div_ceil(PIXEL_UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, self.pixel_units)
    }

    /// Admit a render that holds about `pixels` pixels for `client`, or refuse it now. A render
    /// larger than the whole budget is admitted when it can run alone.
    pub fn try_admit(&self, pixels: u64, client: Option<IpAddr>) -> Result<Permit, Refused> {
        let share = self.share(pixels, client)?;
        Ok(self.try_acquire(pixels)?.with_share(share))
    }

    /// Take a slot (and a large slot) and the pixels now, or say which is missing.
    fn try_acquire(&self, pixels: u64) -> Result<Permit, Refused> {
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
            _share: None,
        })
    }
}

impl Permit {
    fn with_share(self, share: Option<Share>) -> Self {
        Self {
            _share: share,
            ..self
        }
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
        Admission::new(slots, budget, large, 8, 1, Duration::from_millis(200))
    }

    #[test]
    fn large_renders_leave_room_for_small_ones() {
        let a = gate(4, 100_000_000, 1_000_000);
        let big1 = a.try_admit(5_000_000, None).unwrap();
        let _big2 = a.try_admit(5_000_000, None).unwrap();
        assert_eq!(a.try_admit(5_000_000, None).unwrap_err(), Refused::Slots);
        let _small1 = a.try_admit(65_536, None).unwrap();
        let _small2 = a.try_admit(65_536, None).unwrap();
        assert_eq!(a.try_admit(65_536, None).unwrap_err(), Refused::Slots);
        drop(big1);
        assert!(a.try_admit(65_536, None).is_ok());
    }

    #[test]
    fn the_pixel_budget_bounds_what_runs_at_once() {
        let a = gate(8, 10_000_000, u64::MAX);
        let p = a.try_admit(6_000_000, None).unwrap();
        assert_eq!(a.try_admit(6_000_000, None).unwrap_err(), Refused::Pixels);
        drop(p);
        // Larger than the whole budget: runs alone.
        let alone = a.try_admit(50_000_000, None).unwrap();
        assert_eq!(a.try_admit(1, None).unwrap_err(), Refused::Pixels);
        drop(alone);
    }

    #[tokio::test]
    async fn a_short_queue_waits_then_refuses() {
        let a = Arc::new(gate(1, 1_000_000, u64::MAX));
        let busy = a.try_admit(10, None).unwrap();
        // One may wait; the next is refused at once.
        let waiting = tokio::spawn({
            let a = Arc::clone(&a);
            async move { a.admit(10, None).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(a.admit(10, None).await.unwrap_err(), Refused::Queue);
        drop(busy);
        assert!(waiting.await.unwrap().is_ok());
        // Waiting longer than allowed is refused too.
        let _busy = a.try_admit(10, None).unwrap();
        assert_eq!(a.admit(10, None).await.unwrap_err(), Refused::Slots);
    }

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([127, 0, 0, last]))
    }

    #[test]
    fn one_client_gets_only_its_share_of_the_large_slots() {
        // 8 slots: 4 large, 2 per client by default.
        let a = Admission::new(8, 1_000_000_000, 1_000_000, 0, 4, Duration::from_millis(50));
        assert_eq!(a.per_client(), 2);
        let crawler1 = a.try_admit(5_000_000, ip(1)).unwrap();
        let _crawler2 = a.try_admit(5_000_000, ip(1)).unwrap();
        assert_eq!(a.try_admit(5_000_000, ip(1)).unwrap_err(), Refused::Client);
        // The same address written as IPv4-mapped IPv6 is the same client.
        let mapped = Some(IpAddr::from(
            std::net::Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped(),
        ));
        assert_eq!(a.try_admit(5_000_000, mapped).unwrap_err(), Refused::Client);
        // Its tiles, other clients' large renders, and unknown clients still get in.
        let _tile = a.try_admit(65_536, ip(1)).unwrap();
        let _reader = a.try_admit(5_000_000, ip(2)).unwrap();
        let _unknown = a.try_admit(5_000_000, None).unwrap();
        drop(crawler1);
        assert!(a.try_admit(5_000_000, ip(1)).is_ok());
    }

    #[tokio::test]
    async fn a_client_over_its_share_is_refused_without_waiting() {
        let a = Arc::new(Admission::new(
            4,
            1_000_000_000,
            1_000_000,
            1,
            8,
            Duration::from_secs(30),
        ));
        let _held = a.try_admit(5_000_000, ip(1)).unwrap();
        let started = std::time::Instant::now();
        assert_eq!(
            a.admit(5_000_000, ip(1)).await.unwrap_err(),
            Refused::Client
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        // A waiting large render holds its share too: the client cannot fill the queue.
        let _other = a.try_admit(5_000_000, ip(2)).unwrap();
        let waiting = tokio::spawn({
            let a = Arc::clone(&a);
            async move { a.admit(5_000_000, ip(3)).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(a.try_admit(5_000_000, ip(3)).unwrap_err(), Refused::Client);
        waiting.abort();
    }
}
