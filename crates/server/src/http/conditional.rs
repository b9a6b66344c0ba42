//! HTTP caching headers and conditional requests: `ETag`, `Last-Modified`, `Cache-Control`, and
//! 304 Not Modified for `If-None-Match` / `If-Modified-Since` (RFC 9110 §13).

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::time::SystemTime;

/// The validators and freshness of one response.
#[derive(Debug, Clone)]
pub struct Validators {
    /// A strong ETag, quoted.
    pub etag: String,
    /// When the source last changed.
    pub last_modified: SystemTime,
    /// `Cache-Control: public, max-age=…` seconds.
    pub max_age: u64,
    /// Whether the response varies with `Accept`.
    pub vary_accept: bool,
}

impl Validators {
    /// Whether the client's copy is current: `If-None-Match` decides when present (weak comparison,
    /// as the spec prescribes for GET), else `If-Modified-Since`.
    pub fn not_modified(&self, request: &HeaderMap) -> bool {
        if let Some(inm) = request.get(header::IF_NONE_MATCH) {
            let Ok(inm) = inm.to_str() else {
                return false;
            };
            let ours = self.etag.trim_start_matches("W/");
            return inm
                .split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.trim_start_matches("W/") == ours);
        }
        let since = request
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok());
        since.is_some_and(|since| self.last_modified <= since)
    }

    /// Put the caching headers on `response`.
    pub fn apply(&self, response: &mut Response) {
        let h = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&self.etag) {
            h.insert(header::ETAG, v);
        }
        if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(self.last_modified)) {
            h.insert(header::LAST_MODIFIED, v);
        }
        if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={}", self.max_age)) {
            h.insert(header::CACHE_CONTROL, v);
        }
        if self.vary_accept {
            h.insert(header::VARY, HeaderValue::from_static("Accept"));
        }
    }

    /// A 304 with the same caching headers a 200 would carry.
    pub fn not_modified_response(&self) -> Response {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        self.apply(&mut response);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn v() -> Validators {
        Validators {
            etag: "\"abc\"".into(),
            last_modified: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            max_age: 60,
            vary_accept: false,
        }
    }

    fn req(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn etags_and_dates_decide() {
        let v = v();
        assert!(v.not_modified(&req(header::IF_NONE_MATCH, "\"x\", \"abc\"")));
        assert!(v.not_modified(&req(header::IF_NONE_MATCH, "W/\"abc\"")));
        assert!(v.not_modified(&req(header::IF_NONE_MATCH, "*")));
        assert!(!v.not_modified(&req(header::IF_NONE_MATCH, "\"abd\"")));
        let date = httpdate::fmt_http_date(v.last_modified);
        assert!(v.not_modified(&req(header::IF_MODIFIED_SINCE, &date)));
        let earlier = httpdate::fmt_http_date(v.last_modified - Duration::from_secs(1));
        assert!(!v.not_modified(&req(header::IF_MODIFIED_SINCE, &earlier)));
        assert!(!v.not_modified(&req(header::IF_MODIFIED_SINCE, "yesterday")));
        // If-None-Match wins over If-Modified-Since.
        let mut both = req(header::IF_NONE_MATCH, "\"other\"");
        both.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_str(&date).unwrap(),
        );
        assert!(!v.not_modified(&both));
    }
}
