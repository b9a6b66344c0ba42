//! What every request handler shares.

use crate::cache::Caches;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::pipeline::{Catalog, Pipeline};
use crate::pyramid::Pyramids;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tessera_source::Sources;

/// What every request handler shares: the pipeline, and the HTTP face's own settings.
#[derive(Debug)]
pub struct AppState {
    /// Identifier to bytes: sources, readers, caches, coalescing, admission.
    pub pipeline: Arc<Pipeline>,
    /// The configured sources (for listing and the startup message).
    pub sources: Arc<Sources>,
    /// Base URL for ids, when configured.
    pub public_base_url: Option<String>,
    /// Peers whose forwarded headers are believed.
    pub trusted_proxies: crate::http::TrustedProxies,
    /// Longest URL accepted.
    pub max_url_bytes: usize,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Liveness and readiness.
    pub health: Health,
    /// `Cache-Control` max-age of images.
    pub image_max_age: u64,
    /// `Cache-Control` max-age of info.json.
    pub info_max_age: u64,
    /// The admin token, if the admin endpoints are on.
    pub admin_token: Option<String>,
    /// `preferredFormats` of 3.0 `info.json` (`output.preferred_formats`), most preferred first.
    pub preferred_formats: Vec<tessera_iiif::OutputFormat>,
    /// The viewer pages' state, when they are on (`viewer.enabled`).
    pub viewer: Option<crate::http::ViewerState>,
    /// Where each API version is mounted.
    pub mounts: tessera_iiif::Mounts,
}

/// Whether the server takes work: not before it listens, not while it drains.
#[derive(Debug, Default)]
pub struct Health {
    started: AtomicBool,
    draining: AtomicBool,
}

impl Health {
    /// The listener is up.
    pub fn set_started(&self) {
        self.started.store(true, Ordering::Release);
    }

    /// Shutdown has begun.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Started and not draining.
    pub fn ready(&self) -> bool {
        self.started.load(Ordering::Acquire) && !self.draining.load(Ordering::Acquire)
    }
}

impl AppState {
    /// Build the state from a loaded config.
    pub fn new(config: &Config) -> io::Result<Self> {
        let metrics = Arc::new(Metrics::new());
        let sources = Arc::new(
            Sources::new(
                &config.images.root.to_string_lossy(),
                &config.sources,
                &config.rules,
                &config.fetch.settings(),
                Arc::clone(&metrics) as Arc<dyn tessera_source::SourceObserver>,
            )
            .map_err(io::Error::other)?,
        );
        let caches = Caches::new(&config.cache, Arc::clone(&metrics)).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cache folder {:?}: {e}", config.cache.dir),
            )
        })?;
        let settings = config.pipeline_settings()?;
        let mut pipeline = Pipeline::new(
            Arc::clone(&sources) as Arc<dyn Catalog>,
            settings,
            caches,
            config.admission(),
            Arc::clone(&metrics),
        );
        if let Some(pyramids) = config.pyramid_settings() {
            let p = &config.pyramid;
            let shared = match p.shared.as_deref().filter(|s| !s.is_empty()) {
                Some(location) => {
                    let store =
                        tessera_source::SharedStore::open(location, &config.fetch.settings())
                            .map_err(|e| {
                                io::Error::new(
                                    io::ErrorKind::InvalidInput,
                                    format!("pyramid.shared {location:?}: {e}"),
                                )
                            })?;
                    let lease = std::time::Duration::from_secs_f64(p.lease_secs.max(1.0));
                    Some(crate::pyramid::Shared::new(store, lease))
                }
                None => None,
            };
            let store = Pyramids::open(
                pyramids,
                pipeline.fingerprint(),
                &p.dir,
                p.max_bytes,
                p.min_free_bytes,
                metrics.pyramids(),
                shared,
            )
            .map_err(|e| io::Error::new(e.kind(), format!("pyramid.dir {:?}: {e}", p.dir)))?;
            pipeline = pipeline.with_pyramids(Arc::new(store));
        }
        Ok(Self {
            pipeline: Arc::new(pipeline),
            sources,
            public_base_url: config.public_base_url(),
            trusted_proxies: crate::http::TrustedProxies::parse(&config.server.trusted_proxies)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
            max_url_bytes: config.server.max_url_bytes,
            metrics,
            health: Health::default(),
            image_max_age: config.http.image_max_age,
            info_max_age: config.http.info_max_age,
            admin_token: config.admin.token.clone(),
            preferred_formats: config
                .preferred_formats()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?,
            viewer: config
                .viewer
                .enabled
                .then(crate::http::ViewerState::default),
            mounts: config
                .mounts()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
        })
    }
}
