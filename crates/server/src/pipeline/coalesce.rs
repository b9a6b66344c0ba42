//! Stampede protection: identical concurrent work runs once; later callers wait for its result.
//! The work is abandoned as soon as nobody waits for it any more (every caller timed out or hung
//! up): its [`CancelToken`] is cancelled, so blocking decodes stop at their next check, and its task
//! is aborted, so a render still queued for admission leaves the queue at once.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use tessera_image::cancel::CancelToken;
use tokio::sync::watch;
use tokio::task::AbortHandle;

/// In-flight computations by key.
#[derive(Debug)]
pub struct Coalescer<K, T> {
    inflight: Arc<Mutex<Flights<K, T>>>,
}

/// The in-flight map and the number the next flight gets.
#[derive(Debug)]
struct Flights<K, T> {
    by_key: HashMap<K, Flight<T>>,
    next_id: u64,
}

/// One computation in flight: where its result appears, who still waits for it, how to stop it.
#[derive(Debug)]
struct Flight<T> {
    id: u64,
    result: watch::Receiver<Option<T>>,
    waiting: usize,
    token: CancelToken,
    task: Option<AbortHandle>,
}

impl<K, T> Default for Coalescer<K, T> {
    fn default() -> Self {
        Self {
            inflight: Arc::new(Mutex::new(Flights {
                by_key: HashMap::new(),
                next_id: 0,
            })),
        }
    }
}

/// What the first caller of a flight holds: where to publish the result and where it appears,
/// the work's token, and the guard that removes the flight when the work ends.
struct Lead<K: Hash + Eq, T> {
    id: u64,
    tx: watch::Sender<Option<T>>,
    rx: Published<T>,
    token: CancelToken,
    done: Done<K, T>,
}

/// Where a flight's result appears (`None` until it is published).
type Published<T> = watch::Receiver<Option<T>>;

/// The result a flight publishes; `None` if its work ended without one (panicked, aborted).
async fn result_of<T: Clone>(mut rx: Published<T>) -> Option<T> {
    rx.wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|v| v.clone())
}

/// Removes the in-flight entry when the work ends, even by panic or abort (only its own entry: a
/// newer flight of the same key, started after this one was abandoned, stays).
struct Done<K: Hash + Eq, T> {
    inflight: Arc<Mutex<Flights<K, T>>>,
    key: K,
    id: u64,
}

impl<K: Hash + Eq, T> Drop for Done<K, T> {
    fn drop(&mut self) {
        let mut flights = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
        if flights
            .by_key
            .get(&self.key)
            .is_some_and(|f| f.id == self.id)
        {
            flights.by_key.remove(&self.key);
        }
    }
}

/// One caller's interest in a flight; the last one to leave before the result abandons the work.
struct Waiter<K: Hash + Eq, T> {
    inflight: Arc<Mutex<Flights<K, T>>>,
    key: K,
    id: u64,
}

impl<K: Hash + Eq, T> Drop for Waiter<K, T> {
    fn drop(&mut self) {
        let mut flights = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(flight) = flights
            .by_key
            .get_mut(&self.key)
            .filter(|f| f.id == self.id)
        else {
            // The work has finished (its entry is gone): nothing to abandon.
            return;
        };
        flight.waiting = flight.waiting.saturating_sub(1);
        if flight.waiting > 0 {
            return;
        }
        if let Some(abandoned) = flights.by_key.remove(&self.key) {
            abandoned.token.cancel();
            if let Some(task) = abandoned.task {
                task.abort();
            }
        }
    }
}

/// How a caller got its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// It ran the work.
    Leader,
    /// It waited for another caller's work.
    Follower,
}

impl<K, T> Coalescer<K, T>
where
    K: Hash + Eq + Clone + Send + 'static,
    T: Clone + Send + Sync + 'static,
{
    /// Run `work` for `key` unless the same key is already running, in which case wait for that
    /// result. The work runs in its own task, so one caller that goes away (a closed connection, a
    /// timeout) does not cancel it for the others; when the last one goes, the work is cancelled
    /// through the token it was given, and its task aborted. `None` if the work panicked.
    pub async fn run<F, Fut>(&self, key: K, work: F) -> (Option<T>, Role)
    where
        F: FnOnce(CancelToken) -> Fut,
        Fut: Future<Output = T> + Send + 'static,
    {
        let (rx, role, waiter) = {
            let mut flights = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
            match self.follow(&mut flights, &key) {
                Some((rx, waiter)) => (rx, Role::Follower, waiter),
                None => {
                    let lead = self.lead(&mut flights, &key);
                    let (tx, done) = (lead.tx, lead.done);
                    let fut = work(lead.token);
                    let task = tokio::spawn(async move {
                        let value = fut.await;
                        // Forget the key before publishing: callers after this point find the cache.
                        drop(done);
                        let _ = tx.send(Some(value));
                    });
                    if let Some(flight) = flights.by_key.get_mut(&key) {
                        flight.task = Some(task.abort_handle());
                    }
                    (lead.rx, Role::Leader, self.waiter(key, lead.id))
                }
            }
        };
        let value = result_of(rx).await;
        drop(waiter);
        (value, role)
    }

    /// Join the flight of `key` if one is running: its result and this caller's interest in it.
    fn follow(&self, flights: &mut Flights<K, T>, key: &K) -> Option<(Published<T>, Waiter<K, T>)> {
        let flight = flights.by_key.get_mut(key)?;
        flight.waiting += 1;
        let id = flight.id;
        Some((flight.result.clone(), self.waiter(key.clone(), id)))
    }

    /// Start a flight of `key` (none is running), counting its first caller; the task that does
    /// the work, if any, is set by the caller.
    fn lead(&self, flights: &mut Flights<K, T>, key: &K) -> Lead<K, T> {
        let id = flights.next_id;
        flights.next_id += 1;
        let (tx, rx) = watch::channel(None);
        let token = CancelToken::new();
        flights.by_key.insert(
            key.clone(),
            Flight {
                id,
                result: rx.clone(),
                waiting: 1,
                token: token.clone(),
                task: None,
            },
        );
        let done = Done {
            inflight: Arc::clone(&self.inflight),
            key: key.clone(),
            id,
        };
        Lead {
            id,
            tx,
            rx,
            token,
            done,
        }
    }

    /// A caller's interest in flight `id` of `key`.
    fn waiter(&self, key: K, id: u64) -> Waiter<K, T> {
        Waiter {
            inflight: Arc::clone(&self.inflight),
            key,
            id,
        }
    }
}

impl<K, T> Coalescer<K, T>
where
    K: Hash + Eq + Clone + Send + 'static,
    T: Clone + Send + Sync + 'static,
{
    /// [`run`](Self::run) for short synchronous work: the first caller does it in its own task
    /// (nothing is spawned, and it cannot be abandoned half-way: it has no point to stop at), and
    /// callers that come while it runs wait for its result, as with `run`. `None` if the work
    /// panicked.
    pub async fn run_now(&self, key: K, work: impl FnOnce(CancelToken) -> T) -> (Option<T>, Role) {
        let leader = {
            let mut flights = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
            match self.follow(&mut flights, &key) {
                Some(following) => Err(following),
                // The leader counts as one who waits, and never leaves (it has no `Waiter`):
                // followers that go cannot abandon work running in the leader's own task.
                None => Ok(self.lead(&mut flights, &key)),
            }
        };
        match leader {
            Ok(Lead {
                tx, token, done, ..
            }) => {
                let value =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(token))).ok();
                drop(done);
                if let Some(v) = &value {
                    let _ = tx.send(Some(v.clone()));
                }
                (value, Role::Leader)
            }
            Err((rx, waiter)) => {
                let value = result_of(rx).await;
                drop(waiter);
                (value, Role::Follower)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn identical_concurrent_work_runs_once() {
        let c = Arc::new(Coalescer::<String, u32>::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Barrier::new(50));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (c, runs, gate) = (Arc::clone(&c), Arc::clone(&runs), Arc::clone(&gate));
            tasks.push(tokio::spawn(async move {
                gate.wait().await;
                c.run("k".to_string(), |_| async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    7
                })
                .await
            }));
        }
        let mut followers = 0;
        for t in tasks {
            let (v, role) = t.await.unwrap();
            assert_eq!(v, Some(7));
            followers += usize::from(role == Role::Follower);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(followers, 49);
        // Finished work is forgotten: the next call runs again.
        let (v, role) = c.run("k".to_string(), |_| async { 8 }).await;
        assert_eq!((v, role), (Some(8), Role::Leader));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_nobody_waits_for_is_cancelled_and_aborted() {
        let c = Arc::new(Coalescer::<String, u32>::default());
        let (seen_tx, seen_rx) = std::sync::mpsc::channel();
        let blocking_stopped = Arc::new(AtomicUsize::new(0));
        let stopped = Arc::clone(&blocking_stopped);
        let caller = {
            let c = Arc::clone(&c);
            tokio::spawn(async move {
                c.run("k".to_string(), move |token| async move {
                    let worker = token.clone();
                    // Blocking work that checks its token, as a decode does.
                    let _ = tokio::task::spawn_blocking(move || {
                        let _ = seen_tx.send(());
                        while !worker.is_cancelled() {
                            std::thread::sleep(std::time::Duration::from_millis(1));
                        }
                        stopped.fetch_add(1, Ordering::SeqCst);
                    })
                    .await;
                    // Never reached: the task is aborted while it waits above.
                    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                    1
                })
                .await
            })
        };
        tokio::task::spawn_blocking(move || seen_rx.recv())
            .await
            .unwrap()
            .unwrap();
        caller.abort();
        let _ = caller.await;
        let started = std::time::Instant::now();
        while blocking_stopped.load(Ordering::SeqCst) == 0 {
            assert!(
                started.elapsed().as_secs() < 5,
                "the blocking work was not cancelled"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // The abandoned key is free again.
        let (v, role) = c.run("k".to_string(), |_| async { 2 }).await;
        assert_eq!((v, role), (Some(2), Role::Leader));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_goes_on_while_one_caller_still_waits() {
        let c = Arc::new(Coalescer::<String, u32>::default());
        let gate = Arc::new(tokio::sync::Notify::new());
        let cancelled = Arc::new(AtomicUsize::new(0));
        let leader = {
            let (c, gate, cancelled) = (Arc::clone(&c), Arc::clone(&gate), Arc::clone(&cancelled));
            tokio::spawn(async move {
                c.run("k".to_string(), move |token| async move {
                    gate.notified().await;
                    cancelled.fetch_add(usize::from(token.is_cancelled()), Ordering::SeqCst);
                    5
                })
                .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let follower = {
            let c = Arc::clone(&c);
            tokio::spawn(async move { c.run("k".to_string(), |_| async { 9 }).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        leader.abort();
        let _ = leader.await;
        gate.notify_one();
        let (v, role) = follower.await.unwrap();
        assert_eq!((v, role), (Some(5), Role::Follower));
        assert_eq!(cancelled.load(Ordering::SeqCst), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn synchronous_work_runs_once_for_the_callers_that_come_while_it_runs() {
        let c = Arc::new(Coalescer::<String, u32>::default());
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let runs = Arc::new(AtomicUsize::new(0));
        let leader = {
            let (c, runs) = (Arc::clone(&c), Arc::clone(&runs));
            tokio::spawn(async move {
                c.run_now("k".to_string(), move |_| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    let _ = started_tx.send(());
                    let _ = release_rx.recv();
                    5
                })
                .await
            })
        };
        tokio::task::spawn_blocking(move || started_rx.recv())
            .await
            .expect("join")
            .expect("started");
        let followers: Vec<_> = (0..10)
            .map(|_| {
                let (c, runs) = (Arc::clone(&c), Arc::clone(&runs));
                tokio::spawn(async move {
                    c.run_now("k".to_string(), move |_| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        6
                    })
                    .await
                })
            })
            .collect();
        // Until all ten wait on the leader's flight (the leader counts as one).
        loop {
            let waiting = c
                .inflight
                .lock()
                .expect("lock")
                .by_key
                .get("k")
                .map(|f| f.waiting);
            if waiting == Some(11) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        release_tx.send(()).expect("release");
        assert_eq!(leader.await.expect("leader"), (Some(5), Role::Leader));
        for f in followers {
            assert_eq!(f.await.expect("follower"), (Some(5), Role::Follower));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(c.inflight.lock().expect("lock").by_key.is_empty());
        // Once it is over, the next caller runs the work again.
        let (v, role) = c.run_now("k".to_string(), |_| 7).await;
        assert_eq!((v, role), (Some(7), Role::Leader));
    }

    #[tokio::test]
    async fn synchronous_work_that_panics_gives_none_and_leaves_no_flight() {
        let c = Coalescer::<String, u32>::default();
        let (v, role) = c.run_now("k".to_string(), |_| panic!("broken")).await;
        assert_eq!((v, role), (None, Role::Leader));
        assert!(c.inflight.lock().expect("lock").by_key.is_empty());
    }
}
