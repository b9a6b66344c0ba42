//! Checking an image in this process, through the server's own pipeline: the same sources, limits,
//! alternates and fallback rule as `tessera serve`, so both see every identifier the same way.

use super::report::Outcome;
use super::sample::sample_size;
use super::verify::verify_output;
use crate::pipeline::{Pipeline, PipelineError};
use std::sync::Arc;
use tessera_iiif::{ApiVersion, ImageRequest};
use tessera_image::ImageError;
use tessera_source::SourceError;

/// Check `identifier` as the server would answer it: locate and describe it and read its
/// `info.json` additions (the `info.json` step: a bad sidecar fails as `metadata`), render the
/// sample resize as JPEG, decode the output and compare its size.
pub fn check(pipeline: &Pipeline, identifier: &str, longest: u32, outcome: &mut Outcome) {
    let found = pipeline.locate_blocking(identifier).and_then(|located| {
        let described = pipeline.describe_blocking(&located)?;
        pipeline.extras(&located)?;
        Ok((Arc::new(located), described))
    });
    let (located, described) = match found {
        Ok(found) => found,
        Err(e) => return fail(outcome, &e),
    };
    let (w, h) = (described.dimensions.width, described.dimensions.height);
    outcome.format = Some(described.format.name().to_string());
    outcome.width = Some(w);
    outcome.height = Some(h);
    let (size, want_w, want_h) = sample_size(w, h, longest);
    let request = match ImageRequest::parse(ApiVersion::V3, "full", &size, "0", "default.jpg") {
        Ok(r) => r,
        Err(e) => return outcome.fail("request", e.to_string()),
    };
    outcome.request = Some(request.path());
    let rendered = pipeline
        .job(located, &described, &request)
        .and_then(|job| pipeline.render_blocking(&job));
    match rendered {
        Ok(bytes) => verify_output(outcome, bytes, (want_w, want_h)),
        Err(e) => fail(outcome, &e),
    }
}

/// Record why the image failed, with a short stable cause.
fn fail(outcome: &mut Outcome, e: &PipelineError) {
    outcome.fail(cause(e), e.to_string());
}

/// A short, stable category for a failure: its kind and, for an image error, the format that raised it.
pub fn cause(e: &PipelineError) -> String {
    match e {
        PipelineError::Image(e) => image_cause(e),
        PipelineError::Source(SourceError::NotFound | SourceError::Ambiguous(_)) => {
            "not found".into()
        }
        PipelineError::Source(SourceError::Invalid(_)) => "invalid identifier".into(),
        PipelineError::Source(_) => "io".into(),
        PipelineError::Request(_) => "request".into(),
        PipelineError::Refused(_) => "refused".into(),
        PipelineError::Metadata(_) => "metadata".into(),
        PipelineError::Failed(_) => "panic".into(),
        PipelineError::NotInMemory => "io".into(),
    }
}

/// The cause of an image error: its kind and the format that raised it.
fn image_cause(e: &ImageError) -> String {
    let kind = match e {
        ImageError::UnknownFormat => return "unknown format".into(),
        ImageError::Unsupported(_) => "unsupported",
        ImageError::Corrupt(_) => "corrupt",
        ImageError::TooLarge(_) => "too large",
        ImageError::OverBudget(_) => "over budget",
        ImageError::Io(_) => return "io".into(),
        ImageError::Encode { .. } => return "encode".into(),
        ImageError::Cancelled => return "cancelled".into(),
    };
    let message = match e {
        ImageError::Unsupported(m)
        | ImageError::Corrupt(m)
        | ImageError::TooLarge(m)
        | ImageError::OverBudget(m) => m,
        _ => return kind.into(),
    };
    match message.split_once(':') {
        Some((format, _)) if !format.contains(' ') => format!("{kind} ({format})"),
        _ => kind.into(),
    }
}
