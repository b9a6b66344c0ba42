//! Step 4: a job's bytes, from the derivative caches or rendered once for every identical job,
//! through admission, with a time limit and cancellation.

use super::blocking::{blocking, contained};
use super::coalesce::Role;
use super::{open, Job, Origin, Pipeline, PipelineError};
use crate::cache::Entry;
use crate::metrics::Metrics;
use bytes::Bytes;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;
use tessera_iiif::Dimensions;
use tessera_image::cancel::CancelToken;
use tokio::sync::watch;

impl Pipeline {
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
        if self.is_quick(&job) {
            let (result, role) = self
                .renders
                .run_now(key.text.clone(), |cancel| {
                    let entry = self.render_now(&job, cancel)?;
                    // In memory before the flight ends, so a caller after it finds the entry.
                    self.caches.put_memory(&key, Arc::clone(&entry));
                    Ok(entry)
                })
                .await;
            match result.unwrap_or(Err(PipelineError::Failed("worker failure"))) {
                Ok(entry) => {
                    if role == Role::Leader {
                        self.caches.put_disk(&key, &entry).await;
                    }
                    return Ok((entry, self.origin(role, "image")));
                }
                // The file's bytes were not all in memory: rendered below, where reads may wait.
                Err(PipelineError::NotInMemory) => {}
                Err(e) => return Err(e),
            }
        }
        let this = Arc::clone(self);
        let (result, role) = self
            .renders
            .run(key.text.clone(), move |cancel| async move {
                if job.from_pyramid() {
                    this.pyramid_ready(&job).await;
                }
                let entry = this.render_admitted(job, client, cancel).await?;
                this.caches.put(&key, Arc::clone(&entry)).await;
                Ok(entry)
            })
            .await;
        let entry = result.unwrap_or(Err(PipelineError::Failed("worker failure")))?;
        Ok((entry, self.origin(role, "image")))
    }

    /// Start building `located`'s pyramid unless it is built or being built (as an `info.json`
    /// request does, so the pyramid is ready sooner for the tiles a viewer asks next). Returns what
    /// to wait on while a build runs; `None` when there is nothing to wait for.
    pub fn start_pyramid(&self, located: &super::Located) -> Option<watch::Receiver<bool>> {
        let pyramids = self.pyramids.as_ref()?;
        let (key, request) = self.pyramid_build(located)?;
        pyramids.ensure(&key, request)
    }

    /// Make sure the job's pyramid is built or being built, and wait for a build in progress (up to
    /// the configured wait): answered from the pyramid, most requests cost one tile's decode.
    async fn pyramid_ready(self: &Arc<Self>, job: &Job) {
        let started = self.start_pyramid(job.located());
        let Some(pyramids) = &self.pyramids else {
            return;
        };
        if !pyramids.waited_for(job.source_format()) {
            return;
        }
        if let Some(mut done) = started {
            // Never so long that the request's own time limit leaves no time to render directly.
            let wait = pyramids.wait().min(self.settings.request_timeout / 2);
            let _ = tokio::time::timeout(wait, done.wait_for(|over| *over)).await;
        }
    }

    /// Whether `job` is done at once in the task that asked for it, without admission or the hop
    /// to a blocking thread: work as small as one stored tile sent as it is or recoded (well under
    /// a millisecond, where the hop and the wake-ups around it cost as much as the work). Only
    /// from small TIFF tiles (a region's cost says nothing of the strips or the untiled JPEG it may
    /// have to decode), in one file in a local folder (no origin to wait on, no alternate to fall
    /// back to), never from a built pyramid (which may be remote).
    fn is_quick(&self, job: &Job) -> bool {
        let objects = &job.located().objects;
        job.cost() <= QUICK_COST
            && job.reads_small_tiles()
            && !job.from_pyramid()
            && objects.len() == 1
            && objects
                .iter()
                .all(|o| self.catalog().is_local(&o.candidate))
    }

    /// A quick job's entry, rendered in this task (see [`is_quick`](Self::is_quick)) from what the
    /// page cache holds: [`PipelineError::NotInMemory`] when a read would have waited for the
    /// disk, which must never block an async worker thread (every connection it serves would wait
    /// with it).
    fn render_now(&self, job: &Job, cancel: CancelToken) -> Result<Arc<Entry>, PipelineError> {
        let _in_flight = DecodeInFlight::new(&self.metrics);
        let started = Instant::now();
        let cancel = cancel.with_deadline(started + self.settings.request_timeout);
        let body = contained(|| {
            tessera_source::no_wait::from_memory(|| cancel.run(|| self.render_blocking(job)))
                .unwrap_or(Err(PipelineError::NotInMemory))
        });
        let in_memory = !matches!(body, Err(PipelineError::NotInMemory));
        self.metrics
            .quick_render(if in_memory { "done" } else { "not_in_memory" });
        let body = body?;
        let format = job.plan().format;
        self.metrics.decode(format.extension(), started.elapsed());
        Ok(Arc::new(entry_of(job, body)))
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
        let entry = entry_of(&job, Vec::new());
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
        open::with_image(self, job.located(), job.from_pyramid(), |reader| {
            let h = reader.header();
            let plan = job.plan_for(Dimensions::new(h.width, h.height));
            Ok(tessera_image::render(
                reader,
                &plan,
                &job.settings().output,
            )?)
        })
    }
}

/// The most work a quick job may be ([`Job::cost`]: pixels decoded plus pixels out): one 256 px
/// tile read and one written.
const QUICK_COST: u64 = 2 * 256 * 256;

/// The cache entry of `job` with `body`.
fn entry_of(job: &Job, body: Vec<u8>) -> Entry {
    Entry {
        media_type: job.plan().format.media_type().to_string(),
        canonical: job.plan().canonical.clone(),
        body: Bytes::from(body),
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
