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
mod error;
mod extras;
mod job;
pub mod located;
mod open;
pub mod reader_pool;
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
use admission::Admission;
use blocking::blocking;
use bytes::Bytes;
use coalesce::{Coalescer, Role};
use reader_pool::ReaderPool;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_iiif::info::{advertise, Advertised, InfoPolicy};
use tessera_iiif::{Dimensions, ImageRequest, Limits};
use tessera_image::cancel::CancelToken;
use tessera_image::{PhysicalScale, SourceFormat, Storage};

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
    headers: Coalescer<String, Result<Described, PipelineError>>,
    renders: Coalescer<String, Result<Arc<Entry>, PipelineError>>,
    admission: Admission,
    metrics: Arc<Metrics>,
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
            settings,
            caches,
            headers: Coalescer::default(),
            renders: Coalescer::default(),
            admission,
            metrics,
        }
    }

    /// The caches (for purging and usage metrics).
    pub fn caches(&self) -> &Caches {
        &self.caches
    }

    /// The sources it reads from.
    pub fn catalog(&self) -> &dyn Catalog {
        self.catalog.as_ref()
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

    /// Step 2: the image's size and storage, from the info cache, else from its header (read once
    /// for concurrent callers).
    pub async fn describe(
        self: &Arc<Self>,
        located: &Arc<Located>,
    ) -> Result<(Described, Origin), PipelineError> {
        if let Some(described) = self.caches.info(&located.group, located.version) {
            return Ok((described, Origin::Cache));
        }
        let v = located.version;
        let key = format!("{}\n{}-{}-{}", located.group, v.mtime_ns, v.size, v.tag);
        let (this, located) = (Arc::clone(self), Arc::clone(located));
        let (result, role) = self
            .headers
            .run(key, move |cancel| async move {
                let worker = Arc::clone(&this);
                let found = Arc::clone(&located);
                let cancel = cancel.with_deadline(Instant::now() + this.settings.request_timeout);
                let d = blocking(move || cancel.run(|| worker.describe_blocking(&found))).await?;
                this.caches
                    .put_info(located.group.clone(), located.version, d.clone());
                Ok(d)
            })
            .await;
        let described = result.unwrap_or(Err(PipelineError::Failed("worker failure")))?;
        Ok((described, self.origin(role, "info")))
    }

    /// Step 2 without caches, blocking.
    pub fn describe_blocking(&self, located: &Located) -> Result<Described, PipelineError> {
        open::with_image(self, located, |reader| {
            let h = reader.header();
            Ok(Described {
                dimensions: Dimensions::new(h.width, h.height),
                format: h.format,
                storage: reader.storage(),
                physical: reader.physical_scale(),
            })
        })
    }

    /// What `info.json` advertises for a described image.
    pub fn advertise(&self, described: &Described) -> Advertised {
        advertise(
            described.dimensions,
            described.storage.tile,
            &described.storage.levels,
            &self.settings.info,
            &self.settings.limits,
        )
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

    /// Step 4: the job's bytes, from the caches, else rendered once for all identical concurrent
    /// jobs if admission allows (counting the job's cost and `client`'s share of large renders).
    /// The render stops at its next check once nobody waits any more or the time limit has passed,
    /// and its admission permit is returned with it.
    pub async fn render(
        self: &Arc<Self>,
        job: Job,
        client: Option<IpAddr>,
    ) -> Result<(Arc<Entry>, Origin), PipelineError> {
        let key = job.key().clone();
        if let Some((entry, _)) = self.caches.get(&key).await {
            return Ok((entry, Origin::Cache));
        }
        let this = Arc::clone(self);
        let (result, role) = self
            .renders
            .run(key.text.clone(), move |cancel| async move {
                let entry = this.render_admitted(job, client, cancel).await?;
                this.caches.put(&key, Arc::clone(&entry)).await;
                Ok(entry)
            })
            .await;
        let entry = result.unwrap_or(Err(PipelineError::Failed("worker failure")))?;
        Ok((entry, self.origin(role, "image")))
    }

    async fn render_admitted(
        self: &Arc<Self>,
        job: Job,
        client: Option<IpAddr>,
        cancel: CancelToken,
    ) -> Result<Arc<Entry>, PipelineError> {
        let permit = self
            .admission
            .admit(job.cost(), client)
            .await
            .inspect_err(|refused| self.metrics.rejected(refused.label()))?;
        let format = job.plan().format;
        let entry = Entry {
            media_type: format.media_type().to_string(),
            canonical: job.plan().canonical.clone(),
            body: Bytes::new(),
        };
        let in_flight = DecodeInFlight::new(&self.metrics);
        let started = Instant::now();
        // However the waiting ends, the work itself never outlives the time limit.
        let cancel = cancel.with_deadline(started + self.settings.request_timeout);
        let worker = Arc::clone(self);
        let result = blocking(move || {
            // Both are returned when the work stops, also when its task was aborted meanwhile.
            let _permit = permit;
            let _in_flight = in_flight;
            cancel.run(|| worker.render_blocking(&job))
        })
        .await;
        self.metrics.decode(format.extension(), started.elapsed());
        Ok(Arc::new(Entry {
            body: Bytes::from(result?),
            ..entry
        }))
    }

    /// Step 4 without caches, coalescing or admission, blocking (for `tessera check`).
    pub fn render_blocking(&self, job: &Job) -> Result<Vec<u8>, PipelineError> {
        open::with_image(self, job.located(), |reader| {
            let h = reader.header();
            let plan = job.plan_for(Dimensions::new(h.width, h.height));
            Ok(tessera_image::render(
                reader,
                &plan,
                &job.settings().encode,
            )?)
        })
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

/// Counts a decode in `tessera_decodes_in_flight` for as long as it lives.
struct DecodeInFlight(Arc<Metrics>);

impl DecodeInFlight {
    fn new(metrics: &Arc<Metrics>) -> Self {
        metrics.decodes_in_flight(1);
        Self(Arc::clone(metrics))
    }
}

impl Drop for DecodeInFlight {
    fn drop(&mut self) {
        self.0.decodes_in_flight(-1);
    }
}
