//! Prometheus metrics: one registry, typed families, rendered in the Prometheus text format at `/metrics`.

use crate::cache::Tier;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;
use tessera_source::{SourceKind, SourceObserver};

/// `route` and `class` (2xx, 3xx, 4xx, 5xx).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// image, info, redirect, health, metrics, admin, other.
    pub route: &'static str,
    /// The status class.
    pub class: &'static str,
}

/// `status`: the exact status code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    /// The status code.
    pub status: u16,
}

/// `tier`: memory, disk or info.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TierLabels {
    /// The cache tier.
    pub tier: &'static str,
}

/// `kind`: image or info.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// What was computed.
    pub kind: &'static str,
}

/// `outcome`: how a piece of work ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// How it ended.
    pub outcome: &'static str,
}

/// `format`: the output format of a decode.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FormatLabels {
    /// jpg, png, webp, gif, tif, avif.
    pub format: &'static str,
}

/// `reason`: why work was refused.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// decode_slots, pixel_budget, queue_full, timeout.
    pub reason: &'static str,
}

/// `kind`: where source bytes came from (s3, http, folder).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceKindLabels {
    /// The source kind.
    pub kind: &'static str,
}

/// `source` and `alternate`: which source answered an image, and from which of its rule's keys.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AnswerLabels {
    /// The source's name.
    pub source: String,
    /// 0 for the rule's first key, 1 for its first alternate, …
    pub alternate: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms .. ~33 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 17))
}

/// Every metric Tessera exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteLabels, Counter>,
    responses: Family<StatusLabels, Counter>,
    duration: HistogramFamily<RouteLabels>,
    decodes: Family<FormatLabels, Counter>,
    decode_duration: HistogramFamily<FormatLabels>,
    coalesced: Family<KindLabels, Counter>,
    quick_renders: Family<OutcomeLabels, Counter>,
    hits: Family<TierLabels, Counter>,
    misses: Family<TierLabels, Counter>,
    cache_bytes: Family<TierLabels, Gauge>,
    cache_entries: Family<TierLabels, Gauge>,
    in_flight: Gauge,
    decodes_in_flight: Gauge,
    rejected: Family<ReasonLabels, Counter>,
    purged: Counter,
    source_bytes: Family<SourceKindLabels, Counter>,
    source_answers: Family<AnswerLabels, Counter>,
    connections_open: Gauge,
    connections_refused: Counter,
    connections_expired: Family<ReasonLabels, Counter>,
    pyramids: std::sync::Arc<crate::pyramid::PyramidMetrics>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RouteLabels, Counter>::default();
        let responses = Family::<StatusLabels, Counter>::default();
        let duration = HistogramFamily::<RouteLabels>::new_with_constructor(latency_histogram);
        let decodes = Family::<FormatLabels, Counter>::default();
        let decode_duration =
            HistogramFamily::<FormatLabels>::new_with_constructor(latency_histogram);
        let coalesced = Family::<KindLabels, Counter>::default();
        let quick_renders = Family::<OutcomeLabels, Counter>::default();
        let hits = Family::<TierLabels, Counter>::default();
        let misses = Family::<TierLabels, Counter>::default();
        let cache_bytes = Family::<TierLabels, Gauge>::default();
        let cache_entries = Family::<TierLabels, Gauge>::default();
        let in_flight = Gauge::default();
        let decodes_in_flight = Gauge::default();
        let rejected = Family::<ReasonLabels, Counter>::default();
        let purged = Counter::default();
        let source_bytes = Family::<SourceKindLabels, Counter>::default();
        let source_answers = Family::<AnswerLabels, Counter>::default();
        let connections_open = Gauge::default();
        let connections_refused = Counter::default();
        let connections_expired = Family::<ReasonLabels, Counter>::default();
        let pyramids = std::sync::Arc::new(crate::pyramid::PyramidMetrics::register(&mut registry));
        registry.register(
            "tessera_connections_open",
            "Client connections open now",
            connections_open.clone(),
        );
        registry.register(
            "tessera_connections_refused",
            "Client connections closed at once because server.max_connections were open",
            connections_refused.clone(),
        );
        registry.register(
            "tessera_connections_expired",
            "Client connections cut off: header_timeout (a request too slow to arrive) or idle_timeout",
            connections_expired.clone(),
        );
        for reason in ["header_timeout", "idle_timeout"] {
            let _ = connections_expired.get_or_create(&ReasonLabels { reason });
        }
        registry.register(
            "tessera_source_bytes_read",
            "Bytes read from image sources (origins and local folders; source-cache hits excluded), by source kind",
            source_bytes.clone(),
        );
        registry.register(
            "tessera_source_answers",
            "Images opened, by the source that answered and the alternate used (0 = the rule's first key)",
            source_answers.clone(),
        );
        registry.register(
            "tessera_requests",
            "HTTP requests by route and status class",
            requests.clone(),
        );
        registry.register(
            "tessera_responses",
            "HTTP responses by status code",
            responses.clone(),
        );
        registry.register(
            "tessera_request_duration_seconds",
            "Time from request to response headers, by route and status class",
            duration.clone(),
        );
        registry.register(
            "tessera_decodes",
            "Image renders (decode, transform, encode), by output format",
            decodes.clone(),
        );
        registry.register(
            "tessera_decode_duration_seconds",
            "Time to render an image, by output format",
            decode_duration.clone(),
        );
        registry.register(
            "tessera_coalesced",
            "Requests that waited for an identical request's result instead of computing it",
            coalesced.clone(),
        );
        registry.register(
            "tessera_quick_renders",
            "Renders of one small tile done on the request's own thread: done, or not_in_memory \
             (the file's bytes were not in the page cache, so it was rendered where reads may wait)",
            quick_renders.clone(),
        );
        registry.register("tessera_cache_hits", "Cache hits by tier", hits.clone());
        registry.register(
            "tessera_cache_misses",
            "Cache misses by tier",
            misses.clone(),
        );
        registry.register(
            "tessera_cache_bytes",
            "Bytes held by each cache tier",
            cache_bytes.clone(),
        );
        registry.register(
            "tessera_cache_entries",
            "Entries held by each cache tier",
            cache_entries.clone(),
        );
        registry.register(
            "tessera_requests_in_flight",
            "Requests being served now",
            in_flight.clone(),
        );
        registry.register(
            "tessera_decodes_in_flight",
            "Renders running now",
            decodes_in_flight.clone(),
        );
        registry.register(
            "tessera_rejected",
            "Requests refused with 503 because of admission limits or time limits",
            rejected.clone(),
        );
        registry.register(
            "tessera_cache_purged_files",
            "Disk cache files removed by purges",
            purged.clone(),
        );
        registry.register(
            "tessera_log_lines_dropped",
            "Log lines dropped because the log writer was too far behind (a slow disk or pipe)",
            crate::logging::dropped_counter(),
        );
        // Zero series up front, so dashboards and alerts see every label before the first event.
        for kind in ["image", "info"] {
            let _ = coalesced.get_or_create(&KindLabels { kind });
        }
        for outcome in ["done", "not_in_memory"] {
            let _ = quick_renders.get_or_create(&OutcomeLabels { outcome });
        }
        for tier in ["memory", "disk", "info"] {
            let _ = hits.get_or_create(&TierLabels { tier });
            let _ = misses.get_or_create(&TierLabels { tier });
        }
        for reason in ["decode_slots", "pixel_budget", "queue_full", "timeout"] {
            let _ = rejected.get_or_create(&ReasonLabels { reason });
        }
        for format in ["jpg", "png", "webp", "gif", "tif", "avif"] {
            let _ = decodes.get_or_create(&FormatLabels { format });
        }
        Self {
            registry,
            requests,
            responses,
            duration,
            decodes,
            decode_duration,
            coalesced,
            quick_renders,
            hits,
            misses,
            cache_bytes,
            cache_entries,
            in_flight,
            decodes_in_flight,
            rejected,
            purged,
            source_bytes,
            source_answers,
            connections_open,
            connections_refused,
            connections_expired,
            pyramids,
        }
    }

    /// The pyramid builds' and store's metrics.
    pub fn pyramids(&self) -> std::sync::Arc<crate::pyramid::PyramidMetrics> {
        std::sync::Arc::clone(&self.pyramids)
    }

    /// A client connection opened (`+1`) or closed (`-1`).
    pub fn connections_open(&self, delta: i64) {
        self.connections_open.inc_by(delta);
    }

    /// Count a connection refused at the connection limit.
    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    /// Count a connection cut off for `reason` (`header_timeout`, `idle_timeout`).
    pub fn connection_expired(&self, reason: &'static str) {
        self.connections_expired
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// Count an image answered by `source`, from its `alternate`-th candidate.
    pub fn answered(&self, source: &str, alternate: usize) {
        self.source_answers
            .get_or_create(&AnswerLabels {
                source: source.to_string(),
                alternate: alternate.to_string(),
            })
            .inc();
    }

    /// Count a finished request.
    pub fn request(&self, route: &'static str, status: u16, elapsed: Duration) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        let labels = RouteLabels { route, class };
        self.requests.get_or_create(&labels).inc();
        self.duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        self.responses.get_or_create(&StatusLabels { status }).inc();
    }

    /// A request started (`+1`) or ended (`-1`).
    pub fn in_flight(&self, delta: i64) {
        self.in_flight.inc_by(delta);
    }

    /// A render started (`+1`) or ended (`-1`).
    pub fn decodes_in_flight(&self, delta: i64) {
        self.decodes_in_flight.inc_by(delta);
    }

    /// Count a finished render.
    pub fn decode(&self, format: &'static str, elapsed: Duration) {
        let labels = FormatLabels { format };
        self.decodes.get_or_create(&labels).inc();
        self.decode_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Count a quick render by `outcome` (`done`, `not_in_memory`).
    pub fn quick_render(&self, outcome: &'static str) {
        self.quick_renders
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Count a request that waited for another's result.
    pub fn coalesced(&self, kind: &'static str) {
        self.coalesced.get_or_create(&KindLabels { kind }).inc();
    }

    /// Count a hit in `tier`.
    pub fn cache_hit(&self, tier: Tier) {
        self.hits
            .get_or_create(&TierLabels { tier: tier.label() })
            .inc();
    }

    /// Count a miss in `tier`.
    pub fn cache_miss(&self, tier: Tier) {
        self.misses
            .get_or_create(&TierLabels { tier: tier.label() })
            .inc();
    }

    /// Count a hit in the image-info cache.
    pub fn cache_hit_info(&self) {
        self.hits.get_or_create(&TierLabels { tier: "info" }).inc();
    }

    /// Count a miss in the image-info cache.
    pub fn cache_miss_info(&self) {
        self.misses
            .get_or_create(&TierLabels { tier: "info" })
            .inc();
    }

    /// Count work refused for `reason`.
    pub fn rejected(&self, reason: &'static str) {
        self.rejected.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// Count files removed by a purge.
    pub fn purged(&self, files: u64) {
        self.purged.inc_by(files);
    }

    /// The metrics as Prometheus text, with cache sizes as given (memory bytes, disk bytes, disk files).
    pub fn render(&self, usage: (u64, u64, u64)) -> Result<String, std::fmt::Error> {
        let (memory, disk, files) = usage;
        let set = |family: &Family<TierLabels, Gauge>, tier, v: u64| {
            family
                .get_or_create(&TierLabels { tier })
                .set(i64::try_from(v).unwrap_or(i64::MAX));
        };
        set(&self.cache_bytes, "memory", memory);
        set(&self.cache_bytes, "disk", disk);
        set(&self.cache_entries, "disk", files);
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

impl SourceObserver for Metrics {
    fn bytes_read(&self, kind: SourceKind, bytes: u64) {
        self.source_bytes
            .get_or_create(&SourceKindLabels {
                kind: kind.as_str(),
            })
            .inc_by(bytes);
    }
}
