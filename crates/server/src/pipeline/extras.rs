//! An image's `info.json` additions: the template of the rule that serves its identifier, with the
//! sidecar beside the image file over it key by key. Both are validated here, every time (a
//! sidecar can change on its own; reading one is one `openat2` and a parse of at most 64 KiB), so an
//! invalid one is an error naming the file and key, never a broken document.

use super::{Located, Pipeline, PipelineError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tessera_iiif::InfoExtras;

/// What to add to one image's `info.json`, and when its sidecar last changed.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// The validated additions (empty when there are none).
    pub extras: InfoExtras,
    /// The sidecar's modification time, when there is one (it bounds `Last-Modified`).
    pub modified: Option<SystemTime>,
    /// A hash of the sidecar's bytes and time (0 without one): equal stamps, equal extras.
    pub stamp: u64,
}

impl Pipeline {
    /// The additions for `located`'s `info.json`. Blocking: opens the sidecar beside the first
    /// object that exists (the image the identifier names; folder sources only).
    pub fn extras(&self, located: &Located) -> Result<Extras, PipelineError> {
        let template = match self.catalog.info_template(&located.identifier) {
            Some(t) => InfoExtras::from_json(&t).map_err(|e| {
                PipelineError::Metadata(format!("the info template of the rule serving it: {e}"))
            })?,
            None => InfoExtras::default(),
        };
        let Some((first, Ok(version))) = located.objects.first().map(|o| (o, &o.version)) else {
            return Ok(Extras {
                extras: template,
                modified: None,
                stamp: 0,
            });
        };
        let sidecar = self
            .catalog
            .sidecar(&first.candidate, &version.object)
            .map_err(|e| PipelineError::Metadata(format!("sidecar {e}")))?;
        let Some(sidecar) = sidecar else {
            return Ok(Extras {
                extras: template,
                modified: None,
                stamp: 0,
            });
        };
        let bad = |why: String| PipelineError::Metadata(format!("sidecar {}: {why}", sidecar.name));
        let value: serde_json::Value =
            serde_json::from_slice(&sidecar.bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        let own = InfoExtras::from_json(&value).map_err(|e| bad(e.to_string()))?;
        let secs = u64::try_from(sidecar.modified_ns / 1_000_000_000).unwrap_or(u64::MAX);
        let mut stamped = sidecar.bytes.clone();
        stamped.extend_from_slice(&sidecar.modified_ns.to_le_bytes());
        Ok(Extras {
            extras: template.overlaid_by(own),
            modified: Some(UNIX_EPOCH + Duration::from_secs(secs)),
            stamp: crate::cache::hash_u64(&stamped).max(1),
        })
    }
}
