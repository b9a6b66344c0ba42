//! What every request handler shares.

use crate::admission::Admission;
use crate::cache::{Caches, Entry};
use crate::coalesce::Coalescer;
use crate::config::Config;
use crate::http::ApiError;
use crate::metrics::Metrics;
use crate::reader_pool::ReaderPool;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tessera_iiif::Dimensions;
use tessera_image::colour::CmykProfile;
use tessera_image::{EncodeOptions, ReadLimits, RenderOptions, Storage};
use tessera_source::Sources;

/// Shared server state.
#[derive(Debug)]
pub struct AppState {
    /// Identifier → source and key → bytes.
    pub sources: Sources,
    /// Output size limits.
    pub limits: tessera_iiif::Limits,
    /// Decoding limits.
    pub read_limits: ReadLimits,
    /// Encoder settings and what becomes of embedded ICC profiles.
    pub render: RenderOptions,
    /// Tile size advertised for images without their own tiling.
    pub tile_size: u32,
    /// Base URL for ids, when configured.
    pub public_base_url: Option<String>,
    /// Peers whose forwarded headers are believed.
    pub trusted_proxies: crate::http::TrustedProxies,
    /// Longest URL accepted.
    pub max_url_bytes: usize,
    /// Derivative, response and image-info caches.
    pub caches: Caches,
    /// Identical image renders in flight.
    pub renders: Coalescer<String, Result<Arc<Entry>, ApiError>>,
    /// Open readers kept between requests.
    pub readers: ReaderPool,
    /// Identical header reads (size and storage) in flight.
    pub headers: Coalescer<String, Result<(Dimensions, Storage), ApiError>>,
    /// The render gate.
    pub admission: Admission,
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
    /// Time limit per request.
    pub request_timeout: Duration,
    /// The output-affecting settings (qualities, colour handling) in one short string, for cache keys.
    pub render_settings: String,
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
        let sources = Sources::new(
            &config.images.root.to_string_lossy(),
            &config.sources,
            &config.rules,
            &config.fetch.settings(),
            Arc::clone(&metrics) as Arc<dyn tessera_source::SourceObserver>,
        )
        .map_err(io::Error::other)?;
        let caches = Caches::new(&config.cache, Arc::clone(&metrics)).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cache folder {:?}: {e}", config.cache.dir),
            )
        })?;
        let cmyk_profile = load_cmyk_profile(config.colour.cmyk_profile.as_deref())?;
        let slots = match config.limits.max_concurrent_decodes {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get() * 2),
            n => n,
        };
        Ok(Self {
            sources,
            limits: config.iiif_limits(),
            read_limits: ReadLimits {
                max_pixels: config.limits.max_source_pixels,
                auto_orient: config.colour.auto_orient,
                cmyk_profile,
            },
            render: RenderOptions {
                encode: EncodeOptions {
                    jpeg_quality: config.output.jpeg_quality,
                    webp_quality: config.output.webp_quality,
                },
                icc: match config.colour.icc {
                    crate::config::IccSetting::Srgb => tessera_image::colour::IccMode::ToSrgb,
                    crate::config::IccSetting::Keep => tessera_image::colour::IccMode::Keep,
                },
            },
            tile_size: config.output.tile_size,
            public_base_url: config
                .server
                .public_base_url
                .as_ref()
                .map(|u| u.trim_end_matches('/').to_string()),
            trusted_proxies: crate::http::TrustedProxies::parse(&config.server.trusted_proxies)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
            max_url_bytes: config.server.max_url_bytes,
            caches,
            renders: Coalescer::default(),
            headers: Coalescer::default(),
            readers: ReaderPool::new(config.cache.open_readers, 4),
            admission: Admission::new(
                slots,
                config.limits.max_pixels_in_flight,
                config.limits.large_request_pixels,
                config.limits.large_renders_per_client,
                match config.limits.max_queued_decodes {
                    0 => slots * 4,
                    n => n,
                },
                Duration::from_secs_f64(config.limits.queue_timeout_secs),
            ),
            metrics,
            health: Health::default(),
            image_max_age: config.http.image_max_age,
            info_max_age: config.http.info_max_age,
            admin_token: config.admin.token.clone(),
            request_timeout: Duration::from_secs_f64(config.limits.request_timeout_secs),
            render_settings: format!(
                "q{}w{}-{}-o{}-{}",
                config.output.jpeg_quality,
                config.output.webp_quality,
                match config.colour.icc {
                    crate::config::IccSetting::Srgb => "srgb",
                    crate::config::IccSetting::Keep => "keep",
                },
                u8::from(config.colour.auto_orient),
                cmyk_profile_tag(cmyk_profile),
            ),
        })
    }
}

/// The profile for untagged CMYK: the operator's file, or the built-in one.
fn load_cmyk_profile(path: Option<&std::path::Path>) -> io::Result<CmykProfile> {
    let Some(path) = path else {
        return Ok(CmykProfile::BUILT_IN);
    };
    let bytes = std::fs::read(path)
        .map_err(|e| io::Error::new(e.kind(), format!("colour.cmyk_profile {path:?}: {e}")))?;
    CmykProfile::from_icc(bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("colour.cmyk_profile {path:?}: {e}"),
        )
    })
}

/// A short name of the untagged-CMYK profile for derivative cache keys, so that changing it (or
/// the uncalibrated conversion of earlier versions) never serves stale renders.
fn cmyk_profile_tag(profile: CmykProfile) -> String {
    if profile == CmykProfile::BUILT_IN {
        return "cmyk-builtin".to_string();
    }
    format!("cmyk-{}", &crate::cache::hash_hex(profile.bytes())[..16])
}
