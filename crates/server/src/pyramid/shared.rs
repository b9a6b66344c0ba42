//! Pyramids shared by the replicas of a cluster through an S3 bucket (`pyramid.shared`), each built
//! once: the bucket holds the finished pyramids (`{prefix}/{sha256 of the key}.tif`) and, while one
//! is built, its lease (`….lease`), created with `If-None-Match: *` so that exactly one replica
//! wins it. The others poll for the finished object and copy it into their local store; a lease not
//! renewed within `lease` (its builder died) is taken over. The local store stays each replica's
//! bounded copy, and a pyramid is always served from there.
//!
//! Everything here blocks and runs on the build thread, inside the runtime's context.

use super::{build, BuildError, BuildRequest, Pyramids};
use sha2::{Digest, Sha256};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tessera_source::{SharedStore, SourceError};

/// How often a replica waiting for another's build looks for the finished pyramid.
const POLL: Duration = Duration::from_millis(250);

/// The shared store and how long a lease holds without renewal.
#[derive(Debug)]
pub struct Shared {
    pub(super) store: SharedStore,
    pub(super) lease: Duration,
}

impl Shared {
    /// The shared store `store`, whose leases expire `lease` after their last renewal.
    pub fn new(store: SharedStore, lease: Duration) -> Self {
        Self {
            store,
            lease: lease.max(Duration::from_secs(1)),
        }
    }
}

/// What became of a pyramid that was not in the local store.
#[derive(Debug)]
pub(super) enum Obtained {
    /// Built here: its size in bytes.
    Built(u64),
    /// Copied from the shared store (built by another replica, now or earlier).
    Fetched,
    /// Not now: no build slot free, another replica's build ended without a pyramid, or the
    /// shared store failed while waiting. A later request tries again.
    NotNow(&'static str),
}

/// The shared store's object names of the pyramid `key`: the pyramid and its lease.
pub(super) fn object_names(key: &str) -> (String, String) {
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    (format!("{hex}.tif"), format!("{hex}.lease"))
}

/// How often a held lease is renewed: well within its bound.
pub(super) fn renew_every(lease: Duration) -> Duration {
    (lease / 4).max(Duration::from_millis(250))
}

/// Get the pyramid `key` into the local store: from the shared store when it is there, else built
/// here if this replica wins the lease, else copied once the winner has finished. `slot` takes a
/// local build slot (`None`: all busy); it is taken before the lease, so that a lease is only held
/// by a replica that builds at once.
pub(super) fn obtain<S>(
    pyramids: &Pyramids,
    shared: &Shared,
    key: &str,
    request: BuildRequest,
    slot: impl Fn() -> Option<S>,
) -> Result<Obtained, BuildError> {
    let (object, lease) = object_names(key);
    let store = &shared.store;
    let mut left = false;
    loop {
        match fetch(pyramids, store, &object, key) {
            Ok(true) => return Ok(Obtained::Fetched),
            Ok(false) => {}
            Err(e) => return local_build(pyramids, key, request, &slot, &e),
        }
        let Some(_slot) = slot() else {
            return Ok(Obtained::NotNow("no build slot free"));
        };
        let body = lease_body(key);
        match store.create(&lease, body.clone().into_bytes()) {
            Ok(true) => {
                // Finished by another replica between the look and the lease: nothing to build.
                if let Ok(true) = fetch(pyramids, store, &object, key) {
                    release(pyramids, store, &lease);
                    return Ok(Obtained::Fetched);
                }
                return build_shared(pyramids, shared, key, request, &object, &lease, &body);
            }
            Ok(false) => {}
            Err(e) => return local_build(pyramids, key, request, &slot, &e),
        }
        drop(_slot);
        if !left {
            left = true;
            pyramids.metrics.left();
            tracing::info!(
                identifier = %request.identifier,
                lease = %store.object_key(&lease),
                "pyramid being built by another replica; waiting for it"
            );
        }
        match wait_for_other(pyramids, shared, key, &object, &lease) {
            Waited::Fetched => return Ok(Obtained::Fetched),
            Waited::Expired => {
                tracing::warn!(
                    identifier = %request.identifier,
                    lease = %store.object_key(&lease),
                    "pyramid lease expired (its builder stopped); taking it over"
                );
                release(pyramids, store, &lease);
            }
            Waited::Gone => {
                return Ok(Obtained::NotNow("the other replica's build stored nothing"))
            }
            Waited::Failed(e) => {
                shared_failed(pyramids, store, &e);
                return Ok(Obtained::NotNow("the shared pyramid store failed"));
            }
        }
    }
}

/// Copy the shared `object` into the local store under `key`: whether it was there.
fn fetch(
    pyramids: &Pyramids,
    store: &SharedStore,
    object: &str,
    key: &str,
) -> Result<bool, SourceError> {
    let started = Instant::now();
    let copied = store.download(object, &pyramids.store, key)?;
    pyramids.metrics.store_bytes(pyramids.store.total_bytes());
    let Some(file) = copied else {
        return Ok(false);
    };
    let bytes = tessera_source::RandomAccess::len(&file);
    pyramids.metrics.fetched();
    tracing::info!(
        object = %store.object_key(object),
        bytes,
        seconds = started.elapsed().as_secs_f64(),
        "pyramid copied from the shared store"
    );
    Ok(true)
}

/// Build holding the lease (renewed meanwhile), upload the pyramid, release the lease.
fn build_shared(
    pyramids: &Pyramids,
    shared: &Shared,
    key: &str,
    request: BuildRequest,
    object: &str,
    lease: &str,
    body: &str,
) -> Result<Obtained, BuildError> {
    let store = &shared.store;
    let runtime = tokio::runtime::Handle::try_current().ok();
    let (stop, stopped) = mpsc::channel::<()>();
    let runtime = &runtime;
    let built = std::thread::scope(|scope| {
        scope.spawn(move || {
            let _context = runtime.as_ref().map(tokio::runtime::Handle::enter);
            let every = renew_every(shared.lease);
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                if let Err(e) = store.overwrite(lease, body.as_bytes().to_vec()) {
                    shared_failed(pyramids, store, &e);
                }
            }
        });
        let built = build::run(pyramids, key, request);
        let _ = stop.send(());
        built
    });
    if built.is_ok() {
        match pyramids.store.get_file(key) {
            Some(file) => match store.upload(object, &file) {
                Ok(()) => tracing::info!(object = %store.object_key(object), "pyramid shared"),
                Err(e) => shared_failed(pyramids, store, &e),
            },
            None => tracing::warn!(
                object = %store.object_key(object),
                "pyramid evicted from the local store before it was shared"
            ),
        }
    }
    // Released also after a failed build, so that no replica waits for it.
    release(pyramids, store, lease);
    built.map(Obtained::Built)
}

/// How a wait for another replica's build ended.
enum Waited {
    /// Its pyramid was copied here.
    Fetched,
    /// Its lease is older than the bound: the builder is gone.
    Expired,
    /// Its lease was released without a pyramid: its build failed.
    Gone,
    /// The shared store failed.
    Failed(SourceError),
}

fn wait_for_other(
    pyramids: &Pyramids,
    shared: &Shared,
    key: &str,
    object: &str,
    lease: &str,
) -> Waited {
    let store = &shared.store;
    loop {
        std::thread::sleep(POLL);
        match fetch(pyramids, store, object, key) {
            Ok(true) => return Waited::Fetched,
            Ok(false) => {}
            Err(e) => return Waited::Failed(e),
        }
        match store.head(lease) {
            Ok(Some(held)) => {
                if tessera_source::lease_expired(
                    held.modified_ms,
                    tessera_source::now_ms(),
                    shared.lease,
                ) {
                    return Waited::Expired;
                }
            }
            // Released: the pyramid was uploaded just before, or the build failed.
            Ok(None) => {
                return match fetch(pyramids, store, object, key) {
                    Ok(true) => Waited::Fetched,
                    Ok(false) => Waited::Gone,
                    Err(e) => Waited::Failed(e),
                }
            }
            Err(e) => return Waited::Failed(e),
        }
    }
}

/// The shared store cannot be used: build here, unshared, so that this replica still gets its
/// pyramid.
fn local_build<S>(
    pyramids: &Pyramids,
    key: &str,
    request: BuildRequest,
    slot: &impl Fn() -> Option<S>,
    e: &SourceError,
) -> Result<Obtained, BuildError> {
    if let Some(shared) = &pyramids.shared {
        shared_failed(pyramids, &shared.store, e);
    }
    let Some(_slot) = slot() else {
        return Ok(Obtained::NotNow("no build slot free"));
    };
    build::run(pyramids, key, request).map(Obtained::Built)
}

fn release(pyramids: &Pyramids, store: &SharedStore, lease: &str) {
    if let Err(e) = store.delete(lease) {
        shared_failed(pyramids, store, &e);
    }
}

fn shared_failed(pyramids: &Pyramids, store: &SharedStore, e: &SourceError) {
    pyramids.metrics.shared_error();
    tracing::warn!(store = %store.location(), error = %e, "shared pyramid store request failed");
}

/// What a lease says, for whoever looks at the bucket.
fn lease_body(key: &str) -> String {
    format!(
        "tessera pyramid build lease\npid {}\nwritten {} ms\n{key}\n",
        std::process::id(),
        tessera_source::now_ms()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_keys_digest() {
        let (object, lease) =
            object_names("tessera-pyramid 1\nimages\na.tif\ntag\n512x512 q97\nfp");
        assert_eq!(object.len(), 64 + 4);
        assert!(object.ends_with(".tif"));
        assert_eq!(lease, format!("{}.lease", &object[..64]));
        assert!(object[..64].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(object_names("k"), object_names("k"));
        assert_ne!(object_names("k").0, object_names("k2").0);
        // SHA-256 of "abc".
        assert_eq!(
            object_names("abc").0,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.tif"
        );
    }

    #[test]
    fn leases_are_renewed_well_within_their_bound() {
        assert_eq!(
            renew_every(Duration::from_secs(600)),
            Duration::from_secs(150)
        );
        assert_eq!(renew_every(Duration::ZERO), Duration::from_millis(250));
    }
}
