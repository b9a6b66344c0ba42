//! Checking an image in this process: the same sources, limits and pipeline as `tessera serve`.

use super::report::Outcome;
use super::sample::sample_size;
use super::verify::verify_output;
use crate::open_image::{with_image, OpenError};
use crate::state::AppState;
use tessera_iiif::{plan, ApiVersion, Dimensions, ImageRequest};
use tessera_image::{ImageError, ImageHeader};
use tessera_source::SourceError;

/// Why checking one image failed: a short cause and the message.
struct Failure {
    cause: String,
    message: String,
    undecodable: bool,
}

impl From<ImageError> for Failure {
    fn from(e: ImageError) -> Self {
        let undecodable = !matches!(e, ImageError::Io(_) | ImageError::Cancelled);
        Self {
            cause: cause(&e),
            message: e.to_string(),
            undecodable,
        }
    }
}

impl From<SourceError> for Failure {
    fn from(e: SourceError) -> Self {
        let cause = match e {
            SourceError::NotFound | SourceError::Ambiguous(_) => "not found",
            SourceError::Invalid(_) => "invalid identifier",
            _ => "io",
        };
        Self {
            cause: cause.into(),
            message: e.to_string(),
            undecodable: false,
        }
    }
}

impl OpenError for Failure {
    fn undecodable(&self) -> bool {
        self.undecodable
    }

    fn message(&self) -> &str {
        &self.message
    }
}

/// Check `identifier` against `state` as the server would answer it (alternates included): open it
/// (the `info.json` step), render the sample resize as JPEG, decode the output and compare its size.
pub fn check(state: &AppState, identifier: &str, longest: u32, outcome: &mut Outcome) {
    let mut header: Option<ImageHeader> = None;
    let mut request_path = None;
    let result = with_image(state, identifier, |reader| {
        let h = *reader.header();
        header = Some(h);
        let (size, _, _) = sample_size(h.width, h.height, longest);
        let request = ImageRequest::parse(ApiVersion::V3, "full", &size, "0", "default.jpg")
            .map_err(|e| request_failure(e.to_string()))?;
        request_path = Some(request.path());
        let plan = plan(&request, Dimensions::new(h.width, h.height), &state.limits)
            .map_err(|e| request_failure(e.to_string()))?;
        Ok::<_, Failure>(tessera_image::render(reader, &plan, &state.render)?)
    });
    if let Some(h) = header {
        outcome.format = Some(h.format.name().to_string());
        outcome.width = Some(h.width);
        outcome.height = Some(h.height);
    }
    outcome.request = request_path;
    match (result, header) {
        (Ok(bytes), Some(h)) => {
            let (_, want_w, want_h) = sample_size(h.width, h.height, longest);
            verify_output(outcome, bytes, (want_w, want_h));
        }
        (Ok(_), None) => outcome.fail("other", "rendered without a header"),
        (Err(f), _) => outcome.fail(f.cause, f.message),
    }
}

/// A request the planner refused (a bug in the sample size, or the configured limits).
fn request_failure(message: String) -> Failure {
    Failure {
        cause: "request".into(),
        message,
        undecodable: false,
    }
}

/// A short, stable category for an image error: its kind and the format that raised it.
pub fn cause(e: &ImageError) -> String {
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
