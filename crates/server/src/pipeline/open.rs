//! Opening a located image: its objects in order, moving on to the next when one cannot answer
//! ([`PipelineError::is_undecodable`]); which object answered goes to the log and the metrics. The
//! one fallback rule, for every step that reads an image (describe, render) in `serve` and `check`.

use super::error::PipelineError;
use super::located::Located;
use super::reader_pool::Pooled;
use super::Pipeline;
use tessera_image::{ImageError, ImageReader};
use tessera_source::SourceError;

/// Open `located` and run `work` on a reader of the first object that can answer, as the rule's
/// order says. Blocking: call it on a blocking thread. A missing object passes to the next; an
/// undecodable one too; any other error (a failing origin, a refused request) is answered at once.
/// With `pyramid`, an object whose pyramid is built is read from the pyramid instead.
pub fn with_image<T>(
    pipeline: &Pipeline,
    located: &Located,
    pyramid: bool,
    mut work: impl FnMut(&mut dyn ImageReader) -> Result<T, PipelineError>,
) -> Result<T, PipelineError> {
    let mut last = PipelineError::Source(SourceError::NotFound);
    for object in &located.objects {
        let candidate = &object.candidate;
        if matches!(object.version, Err(SourceError::NotFound)) {
            continue;
        }
        // The version found when locating: a reader kept open for it is used without a new lookup,
        // and an object known not to open at this version is not opened again.
        let mut tag = object.version.as_ref().ok().map(|v| v.tag.clone());
        if let Some(e) = tag.as_deref().and_then(|t| pipeline.open_failures.get(t)) {
            last = e;
            continue;
        }
        if pyramid {
            if let Some(answer) = tag
                .as_deref()
                .and_then(|t| from_pyramid(pipeline, located, object, t, &mut work))
            {
                return answer;
            }
        }
        let pooled = tag.as_deref().and_then(|t| pipeline.readers.take(t));
        let (opened, failure, kind) = match pooled {
            Some(pooled) => (Ok(pooled.reader), pooled.failure, pooled.kind),
            None => {
                let opened = match pipeline.catalog.open(candidate) {
                    Ok(opened) => opened,
                    Err(SourceError::NotFound) | Err(SourceError::Ambiguous(_)) => continue,
                    Err(e) => {
                        let e = PipelineError::from(e);
                        if e.is_undecodable() {
                            moving_on(located, object, &e);
                            last = e;
                            continue;
                        }
                        return Err(e);
                    }
                };
                // A folder file is kept under the version of what was really opened (its own fstat).
                if let Some(v) = &opened.version {
                    tag = Some(v.tag.clone());
                }
                let reader = tessera_image::open(opened.data, &pipeline.settings.render.read);
                (
                    reader.map_err(PipelineError::from),
                    opened.failure,
                    opened.kind,
                )
            }
        };
        let open_failed = opened.is_err();
        let result = opened.and_then(|mut reader| {
            let value = work(reader.as_mut())?;
            Ok((value, reader))
        });
        // A remote read that failed under the decoder is the origin's failure, not the image's.
        if let Some(failure) = failure.take() {
            return Err(failure.into());
        }
        match result {
            Ok((value, reader)) => {
                if let Some(tag) = tag {
                    pipeline.readers.give(
                        tag,
                        Pooled {
                            reader,
                            failure,
                            kind,
                        },
                    );
                }
                tracing::info!(
                    identifier = %located.identifier,
                    source = %candidate.source,
                    kind = %kind,
                    key = %candidate.key,
                    alternate = object.alternate,
                    "image answered"
                );
                pipeline
                    .metrics
                    .answered(&candidate.source, object.alternate);
                return Ok(value);
            }
            // A read that would have waited for the disk says nothing of the image: the render
            // is done again where reads may wait (`tessera_source::no_wait`).
            Err(e) if tessera_source::no_wait::would_have_waited() => return Err(e),
            Err(e) if e.is_undecodable() => {
                moving_on(located, object, &e);
                // An I/O error may pass; what the bytes themselves say does not, at this version.
                let lasting =
                    !matches!(&e, PipelineError::Image(i) if matches!(**i, ImageError::Io(_)));
                if let (true, true, Some(tag)) = (open_failed, lasting, tag) {
                    pipeline.open_failures.remember(tag, e.clone());
                }
                last = e;
            }
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// `work` on the built pyramid of `object` at version `tag`, if there is one; `None` sends the
/// caller to the object itself (no pyramid yet, or one that turned out unreadable, which is
/// discarded so that it is built again).
fn from_pyramid<T>(
    pipeline: &Pipeline,
    located: &Located,
    object: &super::located::Object,
    tag: &str,
    work: &mut impl FnMut(&mut dyn ImageReader) -> Result<T, PipelineError>,
) -> Option<Result<T, PipelineError>> {
    let pyramids = pipeline.pyramids.as_ref()?;
    let key = pyramids.key(&object.candidate, tag);
    let pool_key = format!("pyramid\n{key}");
    let mut reader = match pipeline.readers.take(&pool_key) {
        Some(pooled) => pooled.reader,
        None => {
            let file = pyramids.find(&key)?;
            // The pyramid is Tessera's own tiled TIFF: already oriented, CMYK already in sRGB.
            match tessera_image::open(std::sync::Arc::new(file), &pipeline.settings.render.read) {
                Ok(mut reader) => {
                    reader.mark_as_pyramid();
                    reader
                }
                Err(e) => {
                    tracing::warn!(identifier = %located.identifier, error = %e, "unreadable pyramid discarded");
                    pyramids.discard(&key);
                    return None;
                }
            }
        }
    };
    match work(reader.as_mut()) {
        Err(PipelineError::Image(e))
            if matches!(
                *e,
                ImageError::Corrupt(_) | ImageError::Unsupported(_) | ImageError::UnknownFormat
            ) =>
        {
            tracing::warn!(identifier = %located.identifier, error = %e, "unreadable pyramid discarded");
            pyramids.discard(&key);
            None
        }
        answer => {
            pyramids.answered();
            pipeline.readers.give(
                pool_key,
                Pooled {
                    reader,
                    failure: tessera_source::FailureSlot::default(),
                    kind: tessera_source::SourceKind::Folder,
                },
            );
            Some(answer)
        }
    }
}

fn moving_on(located: &Located, object: &super::located::Object, e: &PipelineError) {
    tracing::warn!(
        identifier = %located.identifier,
        source = %object.candidate.source,
        key = %object.candidate.key,
        error = %e,
        "cannot decode; trying the next alternate if any"
    );
}
