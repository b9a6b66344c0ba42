//! Stampede protection: identical concurrent work runs once; later callers wait for its result.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::watch;

/// In-flight computations by key.
#[derive(Debug)]
pub struct Coalescer<K, T> {
    inflight: Arc<Mutex<HashMap<K, watch::Receiver<Option<T>>>>>,
}

impl<K, T> Default for Coalescer<K, T> {
    fn default() -> Self {
        Self {
            inflight: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

/// Removes the in-flight entry when the work ends, even by panic.
struct Done<K: Hash + Eq, T> {
    inflight: Arc<Mutex<HashMap<K, watch::Receiver<Option<T>>>>>,
    key: K,
}

impl<K: Hash + Eq, T> Drop for Done<K, T> {
    fn drop(&mut self) {
        self.inflight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
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
    /// result. The work runs in its own task, so a caller that goes away (a closed connection, a
    /// timeout) does not cancel it for the others. `None` if the work panicked.
    pub async fn run<F, Fut>(&self, key: K, work: F) -> (Option<T>, Role)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T> + Send + 'static,
    {
        let (mut rx, role) = {
            let mut map = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
            match map.get(&key) {
                Some(rx) => (rx.clone(), Role::Follower),
                None => {
                    let (tx, rx) = watch::channel(None);
                    map.insert(key.clone(), rx.clone());
                    let done = Done {
                        inflight: Arc::clone(&self.inflight),
                        key,
                    };
                    let fut = work();
                    tokio::spawn(async move {
                        let value = fut.await;
                        // Forget the key before publishing: callers after this point find the cache.
                        drop(done);
                        let _ = tx.send(Some(value));
                    });
                    (rx, Role::Leader)
                }
            }
        };
        let value = rx
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|v| v.clone());
        (value, role)
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
                c.run("k".to_string(), || async move {
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
        let (v, role) = c.run("k".to_string(), || async { 8 }).await;
        assert_eq!((v, role), (Some(8), Role::Leader));
    }
}
