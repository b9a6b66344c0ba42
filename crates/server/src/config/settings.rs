//! The config turned into the domain's settings, in one place: what the pipeline, the sources and
//! the HTTP face are given. Nothing else reads config sections to build them.

use super::{Config, FetchConfig, IccSetting};
use crate::pipeline::admission::Admission;
use crate::pipeline::{PipelineSettings, RenderSettings};
use std::io;
use std::path::Path;
use std::time::Duration;
use tessera_iiif::info::InfoPolicy;
use tessera_image::colour::{CmykProfile, IccMode};
use tessera_image::{EncodeOptions, ReadLimits, RenderOptions};

impl Config {
    /// Where each API version is mounted (`[iiif]`), checked.
    pub fn mounts(&self) -> Result<tessera_iiif::Mounts, tessera_iiif::MountError> {
        tessera_iiif::Mounts::new(&self.iiif.v2_prefix, &self.iiif.v3_prefix)
    }

    /// The output limits of IIIF requests (`[limits]`).
    pub fn iiif_limits(&self) -> tessera_iiif::Limits {
        tessera_iiif::Limits {
            max_width: self.limits.max_width,
            max_height: self.limits.max_height,
            max_area: self.limits.max_area.filter(|&a| a > 0),
            max_scale: self.limits.max_scale,
        }
    }
}

impl FetchConfig {
    /// The settings the source crate uses.
    pub fn settings(&self) -> tessera_source::FetchSettings {
        let secs = |s: f64| std::time::Duration::from_secs_f64(s.max(0.0));
        tessera_source::FetchSettings {
            timeout: secs(self.timeout_secs),
            connect_timeout: secs(self.connect_timeout_secs),
            retries: self.retries,
            backoff: std::time::Duration::from_millis(self.backoff_ms),
            block_size: self.block_size,
            revalidate_after: secs(self.revalidate_after_secs),
            cache_dir: self.cache_dir.clone(),
            cache_max_bytes: self.cache_max_bytes,
            cache_min_free_bytes: self.cache_min_free_bytes,
        }
    }
}

impl Config {
    /// The pipeline's settings: how sources are read and renders encoded, the output limits, what
    /// `info.json` advertises, and the time limit. Reads the CMYK profile file when one is set.
    pub fn pipeline_settings(&self) -> std::io::Result<PipelineSettings> {
        let cmyk_profile = load_cmyk_profile(self.colour.cmyk_profile.as_deref())?;
        let read = ReadLimits {
            max_pixels: self.limits.max_source_pixels,
            auto_orient: self.colour.auto_orient,
            cmyk_profile,
        };
        let output = RenderOptions {
            encode: EncodeOptions {
                jpeg_quality: self.output.jpeg_quality,
                webp_quality: self.output.webp_quality,
                avif_quality: self.output.avif_quality,
            },
            icc: match self.colour.icc {
                IccSetting::Srgb => IccMode::ToSrgb,
                IccSetting::Keep => IccMode::Keep,
            },
        };
        Ok(PipelineSettings {
            render: RenderSettings { read, output },
            limits: self.iiif_limits(),
            info: InfoPolicy {
                default_tile: self.output.tile_size,
                smallest_size: SMALLEST_LISTED_SIZE,
                max_pixels: self.limits.max_source_pixels,
            },
            open_readers: self.cache.open_readers,
            request_timeout: Duration::from_secs_f64(self.limits.request_timeout_secs),
        })
    }

    /// The pyramid settings (`[pyramid]`), when pyramids are on.
    pub fn pyramid_settings(&self) -> Option<crate::pyramid::PyramidSettings> {
        let p = &self.pyramid;
        p.enabled.then(|| crate::pyramid::PyramidSettings {
            min_pixels: p.min_pixels,
            spec: tessera_image::pyramid::PyramidSpec {
                tile: self.output.tile_size,
                quality: p.quality,
            },
            builds: p.builds.max(1),
            wait: Duration::from_secs_f64(p.wait_secs.max(0.0)),
            jpeg2000: p.jpeg2000,
            max_pixels: self.limits.max_source_pixels,
        })
    }

    /// The render gate: slots (0: two per core), pixels in flight, large renders per client, queue.
    pub fn admission(&self) -> Admission {
        let slots = match self.limits.max_concurrent_decodes {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get() * 2),
            n => n,
        };
        Admission::new(
            slots,
            self.limits.max_pixels_in_flight,
            self.limits.large_request_pixels,
            self.limits.large_renders_per_client,
            match self.limits.max_queued_decodes {
                0 => slots * 4,
                n => n,
            },
            Duration::from_secs_f64(self.limits.queue_timeout_secs),
        )
    }

    /// The base URL for ids, without a trailing slash, when configured.
    pub fn public_base_url(&self) -> Option<String> {
        self.server
            .public_base_url
            .as_ref()
            .map(|u| u.trim_end_matches('/').to_string())
    }
}

/// Sizes smaller than this (long side) are not listed in `info.json`.
const SMALLEST_LISTED_SIZE: u32 = 64;

/// The profile for untagged CMYK: the operator's file, or the built-in one.
fn load_cmyk_profile(path: Option<&Path>) -> io::Result<CmykProfile> {
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
