//! The scheme and host that ids and links are built on: configured, or taken from the request.

use axum::http::{header, HeaderMap};

/// `https://host[:port]` for this request, without a trailing slash.
///
/// A configured public base URL wins; otherwise `X-Forwarded-Proto` and `X-Forwarded-Host` (first value,
/// as Nginx sets them), then `Host`. Header values that are not a plain scheme or host are ignored.
pub fn base_url(configured: Option<&str>, headers: &HeaderMap) -> String {
    if let Some(url) = configured {
        return url.to_string();
    }
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let proto = match first("x-forwarded-proto").map(str::to_ascii_lowercase) {
        Some(p) if p == "https" || p == "http" => p,
        _ => "http".to_string(),
    };
    let host = first("x-forwarded-host")
        .filter(|h| is_host(h))
        .or_else(|| first(header::HOST.as_str()).filter(|h| is_host(h)))
        .unwrap_or("localhost");
    format!("{proto}://{host}")
}

/// A host name or address with an optional port: letters, digits, `.-:[]` only.
fn is_host(h: &str) -> bool {
    h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn prefers_config_then_forwarded_then_host() {
        let h = headers(&[
            ("host", "127.0.0.1:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "img.example.org, proxy"),
        ]);
        assert_eq!(base_url(Some("https://cfg.org"), &h), "https://cfg.org");
        assert_eq!(base_url(None, &h), "https://img.example.org");
        assert_eq!(
            base_url(None, &headers(&[("host", "127.0.0.1:8080")])),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn ignores_hostile_values() {
        let h = headers(&[
            ("host", "ok.org"),
            ("x-forwarded-host", "evil.org/<x>"),
            ("x-forwarded-proto", "javascript"),
        ]);
        assert_eq!(base_url(None, &h), "http://ok.org");
    }
}
