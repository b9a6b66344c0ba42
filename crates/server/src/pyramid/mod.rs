//! Pyramids of large plain images, built once on first touch and kept in a bounded store.
//!
//! A plain (untiled, single-level) TIFF or JPEG of at least `min_pixels`, or any JPEG 2000 of that
//! size, is answered from a tiled pyramid once one exists for its version. The first request that
//! finds none starts a build in the background ([`build`]), once per object version however many
//! requests arrive, with at most `builds` running at once; requests for a plain image meanwhile wait
//! for it (up to `wait`) or are answered directly, those for a JPEG 2000 are answered from its own
//! levels ([`Pyramids::waited_for`]).
//! `info.json` advertises the pyramid's tiling from the first request, since its geometry is known
//! before it exists ([`Pyramids::storage`]).
//!
//! The store is a [`DiskCache`]: bounded in bytes, least recently used evicted, written atomically,
//! found again after a restart. A pyramid is keyed by its source object, that object's version tag
//! and the render settings, so a replaced original gets a new pyramid and the old one is never used.
//!
//! With `pyramid.shared`, an S3 bucket and prefix, the replicas of a cluster share their pyramids
//! and build each once ([`shared`]): the local store is then each replica's bounded copy.

mod build;
pub mod command;
pub mod metrics;
mod shared;

pub use build::BuildError;

use crate::pipeline::Catalog;
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tessera_iiif::levels::pyramid_levels;
use tessera_iiif::Dimensions;
use tessera_image::pyramid::PyramidSpec;
use tessera_image::{ImageHeader, ReadLimits, SourceFormat, Storage};
use tessera_source::{Candidate, DiskCache, FileSource};
use tokio::sync::watch;

pub use metrics::PyramidMetrics;
pub use shared::Shared;

/// Fetches from the shared store and waits for other replicas' builds that may run at once,
/// besides the builds.
const WAITS: usize = 16;

/// How many failed builds are remembered (not tried again for that version).
const FAILURES_KEPT: usize = 4096;

/// What pyramids are built for and how.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PyramidSettings {
    /// Plain images of at least this many pixels get one.
    pub min_pixels: u64,
    /// Tile size and JPEG quality.
    pub spec: PyramidSpec,
    /// Builds running at once, at most.
    pub builds: usize,
    /// How long an image request waits for a build in progress.
    pub wait: Duration,
    /// JPEG 2000 images of at least `min_pixels` get one too (tiled or not).
    pub jpeg2000: bool,
    /// Images of more pixels get none (`limits.max_source_pixels`): a JPEG 2000, read a window at
    /// a time, may declare any size, and a build decodes all of it.
    pub max_pixels: u64,
}

/// The pyramid store and the builds in progress.
pub struct Pyramids {
    settings: PyramidSettings,
    /// The pipeline's render fingerprint: a pyramid is pixels as read with these settings.
    fingerprint: String,
    store: DiskCache,
    state: Mutex<State>,
    metrics: Arc<PyramidMetrics>,
    /// The store shared by the replicas of a cluster, if any.
    shared: Option<Shared>,
}

impl std::fmt::Debug for Pyramids {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pyramids")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    /// Builds running, by pyramid key: each says `true` once it is over (built or failed).
    running: HashMap<String, watch::Receiver<bool>>,
    /// Keys whose build failed; not tried again until the set is full and cleared.
    failed: HashSet<String>,
    /// Builds running on the threads of `running` (the others fetch or wait for another replica).
    building: usize,
}

/// A build slot, given back when dropped.
struct Slot<'a>(&'a Pyramids);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.building = state.building.saturating_sub(1);
    }
}

/// What one build needs to open its source.
pub struct BuildRequest {
    /// The sources.
    pub catalog: Arc<dyn Catalog>,
    /// The object to build from.
    pub candidate: Candidate,
    /// Its version tag when located: a build that opens another version stores nothing.
    pub tag: String,
    /// How it is read (orientation, CMYK profile, pixel limit).
    pub read: ReadLimits,
    /// The identifier, for the log.
    pub identifier: String,
    /// Started by a request (not ahead of time): a build nobody waits for then runs at a low
    /// priority ([`Pyramids::waited_for`]).
    pub on_touch: bool,
}

impl Pyramids {
    /// A store in `dir` (created if missing) of at most `max_bytes`, leaving `min_free_bytes` free;
    /// pyramids left there by an earlier run are found again. With `shared`, pyramids missing there
    /// are looked for in the shared store, and those built here are put there.
    pub fn open(
        settings: PyramidSettings,
        fingerprint: &str,
        dir: &Path,
        max_bytes: u64,
        min_free_bytes: u64,
        metrics: Arc<PyramidMetrics>,
        shared: Option<Shared>,
    ) -> io::Result<Self> {
        let store = DiskCache::open(dir, max_bytes)?.keep_free(min_free_bytes);
        metrics.store_bytes(store.total_bytes());
        Ok(Self {
            settings,
            fingerprint: fingerprint.to_string(),
            store,
            state: Mutex::new(State::default()),
            metrics,
            shared,
        })
    }

    /// Whether an image with this header and storage is answered from a pyramid: a plain TIFF or
    /// JPEG (no tiles, no reduced levels), or with `jpeg2000` any JPEG 2000, of `min_pixels` to
    /// `max_pixels`.
    pub fn eligible(&self, header: &ImageHeader, storage: &Storage) -> bool {
        let pixels = u64::from(header.width) * u64::from(header.height);
        let plain = matches!(header.format, SourceFormat::Tiff | SourceFormat::Jpeg)
            && storage.tile.is_none()
            && storage.levels.is_empty();
        let jpeg2000 = self.settings.jpeg2000 && header.format == SourceFormat::Jpeg2000;
        (plain || jpeg2000)
            && pixels >= self.settings.min_pixels
            && pixels <= self.settings.max_pixels
    }

    /// Whether requests for an image of `format` wait for its pyramid's build. A plain image's
    /// do: a tile of it costs a decode of many rows, the whole build hardly more. A JPEG 2000's
    /// are answered directly from its own levels meanwhile, and its build runs at a low priority,
    /// on what the cores have left.
    pub fn waited_for(&self, format: SourceFormat) -> bool {
        format != SourceFormat::Jpeg2000
    }

    /// The storage a pyramid of an image of size `full` has: what `info.json` advertises.
    pub fn storage(&self, full: Dimensions) -> Storage {
        let tile = self.settings.spec.tile;
        Storage {
            tile: Some(Dimensions::new(tile, tile)),
            levels: pyramid_levels(full, tile),
        }
    }

    /// The build settings.
    pub fn spec(&self) -> &PyramidSpec {
        &self.settings.spec
    }

    /// The key of the pyramid of `candidate` at version `tag`.
    pub fn key(&self, candidate: &Candidate, tag: &str) -> String {
        let spec = &self.settings.spec;
        format!(
            "tessera-pyramid 1\n{}\n{}\n{tag}\n{}x{} q{}\n{}",
            candidate.source, candidate.key, spec.tile, spec.tile, spec.quality, self.fingerprint
        )
    }

    /// The finished pyramid stored under `key`, opened.
    pub fn find(&self, key: &str) -> Option<FileSource> {
        self.store.get_file(key)
    }

    /// Whether the pyramid under `key` is in the local store (no file is opened).
    pub fn has(&self, key: &str) -> bool {
        self.store.contains(key)
    }

    /// Count a render answered from a pyramid.
    pub fn answered(&self) {
        self.metrics.hit();
    }

    /// Forget a stored pyramid that turned out unreadable.
    pub fn discard(&self, key: &str) {
        self.store.remove(key);
        self.metrics.store_bytes(self.store.total_bytes());
    }

    /// Make sure the pyramid under `key` is built or being built: start its build unless one is
    /// running, it is stored, it failed before, or `builds` are running already. With a shared
    /// store, the thread started first looks there, and may wait for another replica's build
    /// instead of building. Returns what to wait on meanwhile; `None` when there is nothing to wait
    /// for. Call it inside the runtime's context: the thread enters it, for remote reads.
    pub fn ensure(
        self: &Arc<Self>,
        key: &str,
        request: BuildRequest,
    ) -> Option<watch::Receiver<bool>> {
        let mut state = self.lock();
        if let Some(running) = state.running.get(key) {
            return Some(running.clone());
        }
        let at_once = self.settings.builds + if self.shared.is_some() { WAITS } else { 0 };
        if state.failed.contains(key) || state.running.len() >= at_once {
            return None;
        }
        if self.store.contains(key) {
            return None;
        }
        let (done, waiting) = watch::channel(false);
        state.running.insert(key.to_string(), waiting.clone());
        self.metrics.in_progress(state.running.len());
        drop(state);
        let (this, owned) = (Arc::clone(self), key.to_string());
        let request = BuildRequest {
            on_touch: true,
            ..request
        };
        let runtime = tokio::runtime::Handle::try_current().ok();
        let spawned = std::thread::Builder::new()
            .name("tessera-pyramid".into())
            .spawn(move || {
                let _context = runtime.as_ref().map(tokio::runtime::Handle::enter);
                let ok = match this.obtain(&owned, request, true) {
                    Ok(shared::Obtained::NotNow(why)) => {
                        tracing::debug!(why, "no pyramid for now");
                        true
                    }
                    Ok(_) => true,
                    Err(_) => false,
                };
                let mut state = this.lock();
                state.running.remove(&owned);
                this.metrics.in_progress(state.running.len());
                if !ok {
                    if state.failed.len() >= FAILURES_KEPT {
                        state.failed.clear();
                    }
                    state.failed.insert(owned);
                }
                drop(state);
                let _ = done.send(true);
            });
        match spawned {
            Ok(_) => Some(waiting),
            Err(e) => {
                tracing::warn!(error = %e, "could not start a pyramid build");
                let mut state = self.lock();
                state.running.remove(key);
                self.metrics.in_progress(state.running.len());
                None
            }
        }
    }

    /// Get the pyramid `key` now, on this thread (for `tessera pyramid`): its size in bytes when
    /// built here, `None` when copied from the shared store (built by another replica). Call it
    /// inside the runtime's context.
    pub fn build_now(&self, key: &str, request: BuildRequest) -> Result<Option<u64>, BuildError> {
        match self.obtain(key, request, false)? {
            shared::Obtained::Built(bytes) => Ok(Some(bytes)),
            shared::Obtained::Fetched => Ok(None),
            shared::Obtained::NotNow(why) => Err(BuildError::Shared(why)),
        }
    }

    /// Get the pyramid `key` into the local store: through the shared store if there is one, else
    /// built here. `limited`: within `builds` (else the caller limits).
    fn obtain(
        &self,
        key: &str,
        request: BuildRequest,
        limited: bool,
    ) -> Result<shared::Obtained, BuildError> {
        let slot = || {
            let mut state = self.lock();
            if limited && state.building >= self.settings.builds {
                return None;
            }
            state.building += 1;
            Some(Slot(self))
        };
        match &self.shared {
            Some(shared) => shared::obtain(self, shared, key, request, slot),
            None => {
                let Some(_slot) = slot() else {
                    return Ok(shared::Obtained::NotNow("no build slot free"));
                };
                build::run(self, key, request).map(shared::Obtained::Built)
            }
        }
    }

    /// How long a request waits for a build in progress.
    pub fn wait(&self) -> Duration {
        self.settings.wait
    }

    /// Bytes held by the store.
    pub fn store_bytes(&self) -> u64 {
        self.store.total_bytes()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
