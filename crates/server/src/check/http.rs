//! Checking an image on a running IIIF server over plain HTTP (`--server URL`).

use super::report::Outcome;
use super::sample::sample_size;
use super::verify::verify_output;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::time::Duration;
use ureq::Agent;

/// Characters escaped in an identifier path segment (everything but unreserved characters).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Largest response body accepted (a sample output or an `info.json`).
const MAX_BODY: u64 = 256 << 20;

/// A client for one IIIF server base URL (the part before the identifier).
pub struct Client {
    agent: Agent,
    base: String,
}

impl Client {
    /// A client for `base` (e.g. `http://127.0.0.1:8080/iiif/3`) with a per-request timeout.
    pub fn new(base: &str, timeout: Duration) -> Self {
        let agent: Agent = Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            agent,
            base: base.trim_end_matches('/').to_string(),
        }
    }

    /// GET `url`: the status and body, or a transport error.
    fn get(&self, url: &str) -> Result<(u16, Vec<u8>, Option<String>), String> {
        let mut response = self.agent.get(url).call().map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let media = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| e.to_string())?;
        Ok((status, body, media))
    }

    /// Check `identifier`: fetch `info.json`, then the sample resize, decode it and compare sizes.
    pub fn check(&self, identifier: &str, longest: u32, outcome: &mut Outcome) {
        let service = format!("{}/{}", self.base, utf8_percent_encode(identifier, SEGMENT));
        let (status, body, _) = match self.get(&format!("{service}/info.json")) {
            Ok(r) => r,
            Err(e) => return outcome.fail("http transport", e),
        };
        if status != 200 {
            return outcome.fail(format!("http {status}"), body_text(&body));
        }
        let Some((width, height)) = info_size(&body) else {
            return outcome.fail("bad info.json", "info.json has no integer width and height");
        };
        outcome.width = Some(width);
        outcome.height = Some(height);
        let (size, want_w, want_h) = sample_size(width, height, longest);
        let request = format!("full/{size}/0/default.jpg");
        outcome.request = Some(request.clone());
        let (status, body, media) = match self.get(&format!("{service}/{request}")) {
            Ok(r) => r,
            Err(e) => return outcome.fail("http transport", e),
        };
        outcome.format = media;
        if status != 200 {
            return outcome.fail(format!("http {status}"), body_text(&body));
        }
        verify_output(outcome, body, (want_w, want_h));
    }
}

/// `width` and `height` of an `info.json` body.
fn info_size(body: &[u8]) -> Option<(u32, u32)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let dim = |k: &str| v.get(k)?.as_u64().and_then(|n| u32::try_from(n).ok());
    Some((dim("width")?, dim("height")?))
}

/// An error body as one short line.
fn body_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    line.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_info_sizes() {
        assert_eq!(info_size(br#"{"width": 10, "height": 20}"#), Some((10, 20)));
        assert_eq!(info_size(br#"{"width": "10", "height": 20}"#), None);
        assert_eq!(info_size(b"not json"), None);
    }

    #[test]
    fn escapes_identifiers_as_one_segment() {
        let e = utf8_percent_encode("a/b c.tif", SEGMENT).to_string();
        assert_eq!(e, "a%2Fb%20c.tif");
    }
}
