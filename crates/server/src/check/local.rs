//! Checking an image in this process: the same sources, limits and pipeline as `tessera serve`.

use super::report::Outcome;
use super::sample::sample_size;
use super::verify::verify_output;
use crate::state::AppState;
use std::sync::Arc;
use tessera_iiif::{plan, ApiVersion, Dimensions, ImageRequest};
use tessera_image::{ImageError, ImageReader};
use tessera_source::{RandomAccess, SourceError};

/// Check `identifier` against `state`: open it (the `info.json` step), render the sample resize as
/// JPEG, decode the output and compare its size.
pub fn check(state: &AppState, identifier: &str, longest: u32, outcome: &mut Outcome) {
    let source = match open_source(state, identifier) {
        Ok(s) => s,
        Err((cause, message)) => return outcome.fail(cause, message),
    };
    let mut reader = match tessera_image::open(source, &state.read_limits) {
        Ok(r) => r,
        Err(e) => return outcome.fail(cause(&e), e.to_string()),
    };
    let header = *reader.header();
    outcome.format = Some(header.format.name().to_string());
    outcome.width = Some(header.width);
    outcome.height = Some(header.height);
    let (size, want_w, want_h) = sample_size(header.width, header.height, longest);
    let request = match ImageRequest::parse(ApiVersion::V3, "full", &size, "0", "default.jpg") {
        Ok(r) => r,
        Err(e) => return outcome.fail("request", e.to_string()),
    };
    outcome.request = Some(request.path());
    let plan = match plan(
        &request,
        Dimensions::new(header.width, header.height),
        &state.limits,
    ) {
        Ok(p) => p,
        Err(e) => return outcome.fail("request", e.to_string()),
    };
    let bytes = match render(reader.as_mut(), &plan, state) {
        Ok(b) => b,
        Err(e) => return outcome.fail(cause(&e), e.to_string()),
    };
    verify_output(outcome, bytes, (want_w, want_h));
}

/// The bytes of the first of `identifier`'s candidates that exists, or a failure cause and message.
fn open_source(
    state: &AppState,
    identifier: &str,
) -> Result<Arc<dyn RandomAccess>, (&'static str, String)> {
    let candidates = state
        .sources
        .candidates(identifier)
        .map_err(|e| ("not found", e.to_string()))?;
    for candidate in &candidates {
        match state.sources.open(candidate) {
            Ok(opened) => return Ok(opened.data),
            Err(SourceError::NotFound) => continue,
            Err(e) => return Err(("io", format!("opening the image: {e}"))),
        }
    }
    Err(("not found", SourceError::NotFound.to_string()))
}

/// Render with the server's pipeline and encoder settings.
fn render(
    reader: &mut dyn ImageReader,
    plan: &tessera_iiif::Plan,
    state: &AppState,
) -> Result<Vec<u8>, ImageError> {
    tessera_image::render(reader, plan, &state.encode)
}

/// A short, stable category for an image error: its kind and the format that raised it.
pub fn cause(e: &ImageError) -> String {
    let kind = match e {
        ImageError::UnknownFormat => return "unknown format".into(),
        ImageError::Unsupported(_) => "unsupported",
        ImageError::Corrupt(_) => "corrupt",
        ImageError::TooLarge(_) => "too large",
        ImageError::Io(_) => return "io".into(),
        ImageError::Encode { .. } => return "encode".into(),
    };
    let message = match e {
        ImageError::Unsupported(m) | ImageError::Corrupt(m) | ImageError::TooLarge(m) => m,
        _ => return kind.into(),
    };
    match message.split_once(':') {
        Some((format, _)) if !format.contains(' ') => format!("{kind} ({format})"),
        _ => kind.into(),
    }
}
