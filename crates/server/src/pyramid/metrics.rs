//! The pyramid metrics: builds started, completed and failed, their seconds and bytes, answers
//! served from a pyramid, the store's size, the pyramids being obtained, and the shared store's fetches, builds left to another
//! replica and failures.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Counters and gauges of pyramid builds and the store, registered in the server's registry.
#[derive(Debug, Clone)]
pub struct PyramidMetrics {
    started: Counter,
    completed: Counter,
    failed: Counter,
    seconds: Histogram,
    bytes: Counter,
    hits: Counter,
    store_bytes: Gauge,
    in_progress: Gauge,
    fetched: Counter,
    left: Counter,
    shared_errors: Counter,
}

impl PyramidMetrics {
    /// Fresh metrics, registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let this = Self {
            started: Counter::default(),
            completed: Counter::default(),
            failed: Counter::default(),
            // 0.1 s .. ~55 min
            seconds: Histogram::new(exponential_buckets(0.1, 2.0, 16)),
            bytes: Counter::default(),
            hits: Counter::default(),
            store_bytes: Gauge::default(),
            in_progress: Gauge::default(),
            fetched: Counter::default(),
            left: Counter::default(),
            shared_errors: Counter::default(),
        };
        registry.register(
            "tessera_pyramid_builds_started",
            "Pyramid builds started (one per object version)",
            this.started.clone(),
        );
        registry.register(
            "tessera_pyramid_builds_completed",
            "Pyramid builds that stored a pyramid",
            this.completed.clone(),
        );
        registry.register(
            "tessera_pyramid_builds_failed",
            "Pyramid builds that stored nothing (the image is then read directly)",
            this.failed.clone(),
        );
        registry.register(
            "tessera_pyramid_build_duration_seconds",
            "Time a pyramid build took, completed or failed",
            this.seconds.clone(),
        );
        registry.register(
            "tessera_pyramid_built_bytes",
            "Bytes of the pyramids built",
            this.bytes.clone(),
        );
        registry.register(
            "tessera_pyramid_hits",
            "Image renders answered from a pyramid",
            this.hits.clone(),
        );
        registry.register(
            "tessera_pyramid_store_bytes",
            "Bytes held by the pyramid store",
            this.store_bytes.clone(),
        );
        registry.register(
            "tessera_pyramid_in_progress",
            "Pyramids being built, fetched from the shared store or waited for on another replica",
            this.in_progress.clone(),
        );
        registry.register(
            "tessera_pyramid_shared_fetches",
            "Pyramids copied from the shared store (pyramid.shared) into the local one",
            this.fetched.clone(),
        );
        registry.register(
            "tessera_pyramid_builds_left",
            "Pyramid builds left to another replica that held the lease",
            this.left.clone(),
        );
        registry.register(
            "tessera_pyramid_shared_errors",
            "Requests to the shared pyramid store that failed",
            this.shared_errors.clone(),
        );
        this
    }

    /// The number of pyramids being obtained now.
    pub(super) fn in_progress(&self, count: usize) {
        self.in_progress
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    pub(super) fn started(&self) {
        self.started.inc();
    }

    pub(super) fn completed(&self, seconds: f64, bytes: u64) {
        self.completed.inc();
        self.seconds.observe(seconds);
        self.bytes.inc_by(bytes);
    }

    pub(super) fn failed(&self, seconds: f64) {
        self.failed.inc();
        self.seconds.observe(seconds);
    }

    pub(super) fn hit(&self) {
        self.hits.inc();
    }

    pub(super) fn store_bytes(&self, bytes: u64) {
        self.store_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    pub(super) fn fetched(&self) {
        self.fetched.inc();
    }

    pub(super) fn left(&self) {
        self.left.inc();
    }

    pub(super) fn shared_error(&self) {
        self.shared_errors.inc();
    }
}
