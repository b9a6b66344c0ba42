//! One pyramid build, on its own thread: open the source at the version it was located at, run the
//! one-pass builder into a temporary file of the store, and rename it into place when complete.

use super::{BuildRequest, Pyramids};
use std::io::{self, BufWriter, Write};
use std::time::Instant;
use tessera_image::pyramid::{build, TiffSink};
use tessera_image::ImageError;

/// Why a build stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The source could not be opened or read.
    #[error("opening the source: {0}")]
    Source(#[from] tessera_source::SourceError),
    /// The source is at another version than the one located.
    #[error("the source changed while its pyramid was started (now at {0})")]
    Changed(String),
    /// The image could not be read or has no pyramid (alpha).
    #[error("{0}")]
    Image(#[from] ImageError),
    /// The store could not be written.
    #[error("writing the pyramid: {0}")]
    Store(io::Error),
    /// The builder panicked (a bug, contained).
    #[error("the builder panicked")]
    Panicked,
    /// Another replica was building it and stored nothing, or the shared store failed meanwhile.
    #[error("not built: {0}")]
    Shared(&'static str),
}

/// Build the pyramid `key` from `request`: its size in bytes once stored. Failures are logged and
/// counted.
pub(super) fn run(
    pyramids: &Pyramids,
    key: &str,
    request: BuildRequest,
) -> Result<u64, BuildError> {
    let started = Instant::now();
    pyramids.metrics.started();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        build_into_store(pyramids, key, &request)
    }))
    .unwrap_or(Err(BuildError::Panicked));
    let seconds = started.elapsed().as_secs_f64();
    pyramids.metrics.store_bytes(pyramids.store.total_bytes());
    match result {
        Ok(bytes) => {
            pyramids.metrics.completed(seconds, bytes);
            tracing::info!(
                identifier = %request.identifier,
                source = %request.candidate.source,
                key = %request.candidate.key,
                seconds,
                bytes,
                "pyramid built"
            );
            Ok(bytes)
        }
        Err(e) => {
            pyramids.metrics.failed(seconds);
            tracing::warn!(
                identifier = %request.identifier,
                source = %request.candidate.source,
                key = %request.candidate.key,
                error = %e,
                "pyramid build failed; the image is read directly"
            );
            Err(e)
        }
    }
}

/// Make the calling thread (and the threads it starts, which inherit it) yield the cores to any
/// other work: nice 10. Only a build's own thread calls it, and it ends with the build.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread's own id; a failure leaves the
        // priority as it was, which is harmless.
        let failed = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10) != 0
        };
        if failed {
            tracing::debug!("could not lower a pyramid build's priority");
        }
    }
}

fn build_into_store(
    pyramids: &Pyramids,
    key: &str,
    request: &BuildRequest,
) -> Result<u64, BuildError> {
    let opened = request.catalog.open(&request.candidate)?;
    if let Some(version) = opened.version.as_ref().filter(|v| v.tag != request.tag) {
        return Err(BuildError::Changed(version.tag.clone()));
    }
    let mut reader = tessera_image::open(opened.data, &request.read)?;
    if request.on_touch && !pyramids.waited_for(reader.header().format) {
        lower_priority();
    }
    let spec = *pyramids.spec();
    let description = format!(
        "Tessera pyramid of {}:{} at version {}",
        request.candidate.source, request.candidate.key, request.tag
    );
    let mut failure = None;
    let stored = pyramids.store.put_streamed(key, |file| {
        let out = BufWriter::with_capacity(1 << 20, file);
        // Readers wait for the build: its tiles are encoded on every core.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut sink =
            TiffSink::new(out, spec.tile, spec.quality, description).with_encoders(cores);
        if let Err(e) = build(reader.as_mut(), &spec, &mut sink) {
            failure = Some(e);
            return Err(io::Error::other("pyramid build failed"));
        }
        sink.into_inner().flush()
    });
    // A remote read that failed under the builder is the origin's failure.
    if let Some(e) = opened.failure.take() {
        return Err(BuildError::Source(e));
    }
    match (stored, failure) {
        (_, Some(e)) => Err(BuildError::Image(e)),
        (Ok(file), None) => Ok(tessera_source::RandomAccess::len(&file)),
        (Err(e), None) => Err(BuildError::Store(e)),
    }
}
