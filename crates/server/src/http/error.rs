//! Errors as HTTP responses: every failure maps to one status and a short readable body, in one place.

use crate::pipeline::admission::Refused;
use crate::pipeline::PipelineError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_iiif::{PathError, RequestError};
use tessera_image::ImageError;
use tessera_source::{ResolveError, SourceError};

/// A failed request: a status and a message for the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, in one line.
    pub message: String,
    /// Seconds after which to try again (`Retry-After`), for 503s.
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 503 Service Unavailable with `Retry-After: retry_after`.
    pub fn unavailable(message: impl Into<String>, retry_after: u32) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
        }
    }
}

/// How long overloaded clients are asked to wait, in seconds.
pub const RETRY_AFTER_SECS: u32 = 2;

impl From<Refused> for ApiError {
    fn from(e: Refused) -> Self {
        ApiError::unavailable(e.to_string(), RETRY_AFTER_SECS)
    }
}

/// The HTTP edge of the pipeline: each domain failure gets its status here and nowhere else.
impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Source(e) => e.into(),
            PipelineError::Image(e) => ApiError::from(&*e),
            PipelineError::Request(e) => e.into(),
            PipelineError::Refused(e) => e.into(),
            PipelineError::Failed(_) | PipelineError::Metadata(_) | PipelineError::NotInMemory => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Overload refusals (503) are expected under load: counted and access-logged, not warned about.
        if self.status.is_server_error() && self.status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(status = self.status.as_u16(), error = %self.message, "request failed");
        }
        let reason = self.status.canonical_reason().unwrap_or("Error");
        let body = format!("{} {reason}: {}\n", self.status.as_u16(), self.message);
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        let status = match e {
            RequestError::Syntax { .. } | RequestError::OutOfBounds(_) => StatusCode::BAD_REQUEST,
            RequestError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<PathError> for ApiError {
    fn from(e: PathError) -> Self {
        let status = match e {
            PathError::NotFound => StatusCode::NOT_FOUND,
            PathError::BadEncoding => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<ResolveError> for ApiError {
    fn from(e: ResolveError) -> Self {
        let status = match e {
            ResolveError::Invalid(_) => StatusCode::BAD_REQUEST,
            ResolveError::NotFound | ResolveError::Ambiguous(_) => StatusCode::NOT_FOUND,
            ResolveError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<SourceError> for ApiError {
    fn from(e: SourceError) -> Self {
        let status = match e {
            SourceError::Invalid(_) => StatusCode::BAD_REQUEST,
            SourceError::NotFound | SourceError::Ambiguous(_) => StatusCode::NOT_FOUND,
            SourceError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            SourceError::Upstream(_) => StatusCode::BAD_GATEWAY,
            SourceError::Local(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<&ImageError> for ApiError {
    fn from(e: &ImageError) -> Self {
        let status = match e {
            ImageError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
            // The image is fine; this request asks for more decoding than the server allows.
            ImageError::OverBudget(_) => StatusCode::BAD_REQUEST,
            // Only a client that timed out can still be listening: ask it to come back.
            ImageError::Cancelled => {
                return ApiError::unavailable(e.to_string(), RETRY_AFTER_SECS);
            }
            ImageError::UnknownFormat
            | ImageError::Corrupt(_)
            | ImageError::TooLarge(_)
            | ImageError::Io(_)
            | ImageError::Encode { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}
