//! The road from an identifier to bytes, shared by `tessera serve` and `tessera check`:
//!
//! 1. [`Pipeline::locate`]: the identifier resolved once into a [`Located`] (its objects, group, version);
//! 2. [`Pipeline::describe`]: the image's size and storage, from the info cache or its header;
//! 3. [`Pipeline::job`]: the request planned against it, a [`Job`] whose key, ETag and cost it owns;
//! 4. [`Pipeline::render`]: the job answered from the caches or rendered once for every identical
//!    request, through admission, with the fallback rule of [`open::with_image`].
//!
//! No HTTP here: failures are [`PipelineError`]s, and the HTTP edge chooses their statuses.

pub mod admission;
mod blocking;
pub mod catalog;
pub mod coalesce;
mod describe;
mod error;
mod extras;
mod job;
pub mod located;
pub mod open;
mod open_failures;
pub mod reader_pool;
mod render;
mod settings;
#[cfg(test)]
mod tests;

pub use blocking::contained;
pub use catalog::Catalog;
pub use error::PipelineError;
pub use extras::Extras;
pub use job::Job;
pub use located::Located;
pub use settings::RenderSettings;

use crate::cache::{Caches, Entry};
use crate::metrics::Metrics;
use crate::pyramid::Pyramids;
use admission::Admission;
use blocking::blocking;
use coalesce::{Coalescer, Role};
use reader_pool::ReaderPool;
use std::sync::Arc;
use std::time::Duration;
use tessera_iiif::info::InfoPolicy;
use tessera_iiif::{Dimensions, ImageRequest, Limits};
use tessera_image::{PhysicalScale, SourceFormat, Storage};

/// How many objects known not to open are remembered.
const OPEN_FAILURES_KEPT: usize = 4096;

/// What `info.json` is made of: the full size, the format, and how the source stores its pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    /// Full-resolution size (as shown, orientation applied).
    pub dimensions: Dimensions,
    /// The format of the object that answered.
    pub format: SourceFormat,
    /// Stored tiling and reduced levels.
    pub storage: Storage,
    /// The physical size of a pixel, where the file states one (for the physdim service).
    pub physical: Option<PhysicalScale>,
    /// Answered from a pyramid built on first touch (`storage` is then the pyramid's).
    pub pyramid: bool,
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A cache had it.
    Cache,
    /// This request did the work.
    Fresh,
    /// An identical request in flight did the work, and this one waited for it.
    Shared,
}

/// The settings of a pipeline, from the config (`config/settings.rs`).
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// How sources are read and renders encoded.
    pub render: RenderSettings,
    /// Output size limits.
    pub limits: Limits,
    /// What `info.json` advertises for images without their own tiling.
    pub info: InfoPolicy,
    /// Idle open readers kept between requests (0: none).
    pub open_readers: usize,
    /// Time limit of one piece of work.
    pub request_timeout: Duration,
}

/// Sources, open readers, caches, coalescing and admission: everything between a parsed request
/// and its bytes.
#[derive(Debug)]
pub struct Pipeline {
    catalog: Arc<dyn Catalog>,
    settings: PipelineSettings,
    /// `settings.render`'s fingerprint, made once.
    fingerprint: Arc<str>,
    caches: Caches,
    readers: ReaderPool,
    open_failures: open_failures::OpenFailures,
    headers: Coalescer<String, Result<Described, PipelineError>>,
    renders: Coalescer<String, Result<Arc<Entry>, PipelineError>>,
    admission: Admission,
    metrics: Arc<Metrics>,
    pyramids: Option<Arc<Pyramids>>,
}

impl Pipeline {
    /// A pipeline over `catalog`.
    pub fn new(
        catalog: Arc<dyn Catalog>,
        settings: PipelineSettings,
        caches: Caches,
        admission: Admission,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            catalog,
            fingerprint: settings.render.fingerprint().into(),
            readers: ReaderPool::new(settings.open_readers, 4),
            open_failures: open_failures::OpenFailures::new(OPEN_FAILURES_KEPT),
            settings,
            caches,
            headers: Coalescer::default(),
            renders: Coalescer::default(),
            admission,
            metrics,
            pyramids: None,
        }
    }

    /// The same pipeline, answering large plain images from the pyramids of `pyramids`.
    pub fn with_pyramids(mut self, pyramids: Arc<Pyramids>) -> Self {
        self.pyramids = Some(pyramids);
        self
    }

    /// The pyramid store, when pyramids are on.
    pub fn pyramids(&self) -> Option<&Arc<Pyramids>> {
        self.pyramids.as_ref()
    }

    /// The key of `located`'s pyramid and what building it takes: from its first object that has a
    /// version (the one that answers unless it cannot be decoded). `None` without pyramids.
    pub fn pyramid_build(
        &self,
        located: &Located,
    ) -> Option<(String, crate::pyramid::BuildRequest)> {
        let pyramids = self.pyramids.as_ref()?;
        let (object, tag) = located
            .objects
            .iter()
            .find_map(|o| o.version.as_ref().ok().map(|v| (o, v.tag.clone())))?;
        let key = pyramids.key(&object.candidate, &tag);
        let request = crate::pyramid::BuildRequest {
            catalog: Arc::clone(&self.catalog),
            candidate: object.candidate.clone(),
            tag,
            read: self.settings.render.read,
            identifier: located.identifier.clone(),
            on_touch: false,
        };
        Some((key, request))
    }

    /// The render settings' fingerprint (part of every derivative and pyramid key).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The caches (for purging and usage metrics).
    pub fn caches(&self) -> &Caches {
        &self.caches
    }

    /// The sources it reads from.
    pub fn catalog(&self) -> &dyn Catalog {
        self.catalog.as_ref()
    }

    /// The time limit of one request's work (also the HTTP layer's limit per request).
    pub fn request_timeout(&self) -> Duration {
        self.settings.request_timeout
    }

    /// The settings the pipeline was made with.
    pub fn settings(&self) -> &PipelineSettings {
        &self.settings
    }

    /// The output size limits.
    pub fn limits(&self) -> &Limits {
        &self.settings.limits
    }

    /// Step 1: resolve `identifier` (on a blocking thread only when an origin must be asked).
    pub async fn locate(self: &Arc<Self>, identifier: &str) -> Result<Arc<Located>, PipelineError> {
        if let Some(found) = located::locate_now(self.catalog.as_ref(), identifier) {
            return Ok(Arc::new(found?));
        }
        let (this, id) = (Arc::clone(self), identifier.to_string());
        let found = blocking(move || Ok(located::locate(this.catalog.as_ref(), &id)?)).await?;
        Ok(Arc::new(found))
    }

    /// Step 1, blocking (for `tessera check`).
    pub fn locate_blocking(&self, identifier: &str) -> Result<Located, PipelineError> {
        Ok(located::locate(self.catalog.as_ref(), identifier)?)
    }

    /// Step 3: plan `request` against the described image.
    pub fn job(
        &self,
        located: Arc<Located>,
        described: &Described,
        request: &ImageRequest,
    ) -> Result<Job, PipelineError> {
        Job::new(
            located,
            described,
            request,
            (self.settings.render, &self.fingerprint),
            &self.settings.limits,
        )
    }

    fn origin(&self, role: Role, kind: &'static str) -> Origin {
        match role {
            Role::Leader => Origin::Fresh,
            Role::Follower => {
                self.metrics.coalesced(kind);
                Origin::Shared
            }
        }
    }
}
