//! A job: the located object, the plan, and the render settings, as one value. Its cache key, ETag
//! and decode cost come from it alone, each computed here and nowhere else.

use super::error::PipelineError;
use super::located::Located;
use super::settings::RenderSettings;
use super::Described;
use crate::cache::CacheKey;
use std::sync::Arc;
use tessera_iiif::levels::decode_cost;
use tessera_iiif::{plan, ApiVersion, Dimensions, ImageRequest, Limits, Plan};
use tessera_image::SourceFormat;

/// One render to do (or to find in the caches).
#[derive(Debug, Clone)]
pub struct Job {
    located: Arc<Located>,
    planned: Dimensions,
    plan: Plan,
    decoded: u64,
    settings: RenderSettings,
    key: CacheKey,
    pyramid: bool,
    format: SourceFormat,
    /// Stored as TIFF tiles of at most 256 × 256, each decoded on its own.
    small_tiles: bool,
}

impl Job {
    /// Plan `request` against the described image under `limits`, with `settings` and their
    /// [`RenderSettings::fingerprint`] (made once by the pipeline).
    pub fn new(
        located: Arc<Located>,
        described: &Described,
        request: &ImageRequest,
        (settings, fingerprint): (RenderSettings, &str),
        limits: &Limits,
    ) -> Result<Self, PipelineError> {
        let planned = described.dimensions;
        let plan = plan(request, planned, limits)?;
        let decoded = decode_cost(planned, &described.storage.levels, plan.region, plan.size);
        let key = key_of(&located, request.version, &plan, fingerprint);
        Ok(Self {
            located,
            planned,
            plan,
            decoded,
            settings,
            key,
            pyramid: described.pyramid,
            format: described.format,
            small_tiles: described.format == SourceFormat::Tiff
                && described
                    .storage
                    .tile
                    .is_some_and(|t| t.area() <= SMALL_TILE_AREA),
        })
    }

    /// The format of the object described (the one that answered).
    pub fn source_format(&self) -> SourceFormat {
        self.format
    }

    /// Whether the object described is stored as TIFF tiles of at most 256 × 256, so that a
    /// region of the size of one tile decodes at most four of them (strips, untiled JPEG and JPEG
    /// 2000 may decode far more than the region).
    pub fn reads_small_tiles(&self) -> bool {
        self.small_tiles
    }

    /// Whether it is answered from the image's pyramid (once built).
    pub fn from_pyramid(&self) -> bool {
        self.pyramid
    }

    /// What it renders.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The object it renders from.
    pub fn located(&self) -> &Located {
        &self.located
    }

    /// The settings it renders with.
    pub fn settings(&self) -> &RenderSettings {
        &self.settings
    }

    /// The plan for a reader of an image stored at `stored` (an alternate copy may be another size).
    pub fn plan_for(&self, stored: Dimensions) -> Plan {
        self.plan.for_stored_size(self.planned, stored)
    }

    /// The derivative's cache key (see [`key_of`]).
    pub fn key(&self) -> &CacheKey {
        &self.key
    }

    /// The response's strong ETag, from the key.
    pub fn etag(&self) -> String {
        self.key.etag()
    }

    /// Pixels the render holds while it runs, for admission: those decoded from the stored level
    /// that serves the region, and the output's.
    pub fn cost(&self) -> u64 {
        self.decoded + self.plan.size.area()
    }
}

/// The one place a derivative's cache key is made: API version, render settings, the object's
/// group and version, and the canonical request.
fn key_of(located: &Located, api: ApiVersion, plan: &Plan, fingerprint: &str) -> CacheKey {
    CacheKey::new(
        &format!("{}/{fingerprint}", api.path_segment()),
        &located.group,
        located.version,
        &plan.canonical,
    )
}

/// The largest stored tile counted as small (256 × 256 pixels).
const SMALL_TILE_AREA: u64 = 256 * 256;
