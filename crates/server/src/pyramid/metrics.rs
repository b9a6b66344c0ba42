//! The pyramid metrics: builds started, completed and failed, their seconds and bytes, answers
//! served from a pyramid, and the store's size.

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
        this
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
}
