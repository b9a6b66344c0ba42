//! What every request handler shares.

use crate::config::Config;
use crate::metrics::Metrics;
use std::io;
use std::sync::Arc;
use tessera_image::{EncodeOptions, ReadLimits};
use tessera_source::Sources;

/// Shared, read-only server state.
#[derive(Debug)]
pub struct AppState {
    /// Identifier → source and key → bytes.
    pub sources: Sources,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Output size limits.
    pub limits: tessera_iiif::Limits,
    /// Decoding limits.
    pub read_limits: ReadLimits,
    /// Encoder settings.
    pub encode: EncodeOptions,
    /// Tile size advertised for images without their own tiling.
    pub tile_size: u32,
    /// Base URL for ids, when configured.
    pub public_base_url: Option<String>,
    /// Longest URL accepted.
    pub max_url_bytes: usize,
}

impl AppState {
    /// Build the state from a loaded config.
    pub fn new(config: &Config) -> io::Result<Self> {
        let metrics = Arc::new(Metrics::default());
        let sources = Sources::new(
            &config.images.root.to_string_lossy(),
            &config.sources,
            &config.rules,
            &config.fetch.settings(),
            Arc::clone(&metrics) as Arc<dyn tessera_source::SourceObserver>,
        )
        .map_err(io::Error::other)?;
        Ok(Self {
            sources,
            metrics,
            limits: config.iiif_limits(),
            read_limits: ReadLimits {
                max_pixels: config.limits.max_source_pixels,
            },
            encode: EncodeOptions {
                jpeg_quality: config.output.jpeg_quality,
                webp_quality: config.output.webp_quality,
            },
            tile_size: config.output.tile_size,
            public_base_url: config
                .server
                .public_base_url
                .as_ref()
                .map(|u| u.trim_end_matches('/').to_string()),
            max_url_bytes: config.server.max_url_bytes,
        })
    }
}
