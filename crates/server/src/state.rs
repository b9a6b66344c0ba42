//! What every request handler shares.

use crate::config::Config;
use std::io;
use tessera_image::{EncodeOptions, ReadLimits};
use tessera_source::FolderResolver;

/// Shared, read-only server state.
#[derive(Debug)]
pub struct AppState {
    /// Identifier → file.
    pub resolver: FolderResolver,
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
        let resolver = FolderResolver::new(&config.images.root).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("image folder {}: {e}", config.images.root.display()),
            )
        })?;
        Ok(Self {
            resolver,
            limits: config.iiif_limits(),
            read_limits: ReadLimits {
                max_pixels: config.limits.max_source_pixels,
                icc: match config.colour.icc {
                    crate::config::IccSetting::Srgb => tessera_image::colour::IccMode::ToSrgb,
                    crate::config::IccSetting::Keep => tessera_image::colour::IccMode::Keep,
                },
                auto_orient: config.colour.auto_orient,
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
