//! Step 2: what an image is (size, format, storage), from the info cache or its header read once
//! for every concurrent caller, and what `info.json` advertises for it.

use super::blocking::blocking;
use super::{open, Described, Located, Origin, Pipeline, PipelineError};
use std::sync::Arc;
use std::time::Instant;
use tessera_iiif::info::{advertise, Advertised};
use tessera_iiif::Dimensions;

impl Pipeline {
    /// Step 2: the image's size and storage, from the info cache, else from its header (read once
    /// for concurrent callers).
    pub async fn describe(
        self: &Arc<Self>,
        located: &Arc<Located>,
    ) -> Result<(Described, Origin), PipelineError> {
        if let Some(described) = self.caches.info(&located.group, located.version) {
            return Ok((described, Origin::Cache));
        }
        let key = format!("{}\n{}", located.group, located.version);
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
        open::with_image(self, located, false, |reader| {
            let h = reader.header();
            let dimensions = Dimensions::new(h.width, h.height);
            let mut storage = reader.storage();
            // A large plain image is served from its pyramid: its tiling is advertised from the
            // first request, before the pyramid exists.
            let pyramid = self.pyramids.as_ref().filter(|p| p.eligible(h, &storage));
            if let Some(p) = pyramid {
                storage = p.storage(dimensions);
            }
            Ok(Described {
                dimensions,
                format: h.format,
                storage,
                physical: reader.physical_scale(),
                pyramid: pyramid.is_some(),
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
}
