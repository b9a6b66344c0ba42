//! Prometheus metrics served at `/metrics`. For now the source counters only; the full set comes with
//! the metrics issue and joins this registry.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use tessera_source::{SourceKind, SourceObserver};

type Labels = Vec<(&'static str, String)>;

/// The registry and the counters the server updates.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    bytes_read: Family<Labels, Counter>,
    answers: Family<Labels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let bytes_read = Family::<Labels, Counter>::default();
        registry.register(
            "tessera_source_bytes_read",
            "Bytes read from image sources (origins and local folders; source-cache hits excluded), by source kind",
            bytes_read.clone(),
        );
        let answers = Family::<Labels, Counter>::default();
        registry.register(
            "tessera_source_answers",
            "Images opened, by the source that answered and the alternate used (0 = the rule's first key)",
            answers.clone(),
        );
        Self {
            registry,
            bytes_read,
            answers,
        }
    }
}

impl Metrics {
    /// Count an image answered by `source`, from its `alternate`-th candidate.
    pub fn answered(&self, source: &str, alternate: usize) {
        self.answers
            .get_or_create(&vec![
                ("source", source.to_string()),
                ("alternate", alternate.to_string()),
            ])
            .inc();
    }

    /// The text exposition format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

impl SourceObserver for Metrics {
    fn bytes_read(&self, kind: SourceKind, bytes: u64) {
        self.bytes_read
            .get_or_create(&vec![("kind", kind.as_str().to_string())])
            .inc_by(bytes);
    }
}

/// `GET /metrics`
pub async fn handler(State(state): State<Arc<crate::state::AppState>>) -> Response {
    match state.metrics.encode() {
        Ok(body) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "metrics encoding failed\n",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_bytes_by_kind() {
        let m = Metrics::default();
        m.bytes_read(SourceKind::S3, 10);
        m.bytes_read(SourceKind::S3, 5);
        m.answered("images", 1);
        let text = m.encode().unwrap();
        assert!(
            text.contains("tessera_source_bytes_read_total{kind=\"s3\"} 15"),
            "{text}"
        );
        assert!(
            text.contains("tessera_source_answers_total{source=\"images\",alternate=\"1\"} 1"),
            "{text}"
        );
    }
}
