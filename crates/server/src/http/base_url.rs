//! The scheme and host that ids and links are built on: configured, or taken from the request.

use axum::http::{header, HeaderMap};

/// `https://host[:port]` for this request, without a trailing slash.
///
/// A configured public base URL wins; otherwise, for the scheme and for the host each, `X-Forwarded-Proto`
/// / `X-Forwarded-Host` (first value, as Nginx sets them), then the first element of `Forwarded`
/// (RFC 7239 `proto=`, `host=`), then `Host`. The de-facto headers come first because proxies that set
/// them (Nginx among them) pass a client's `Forwarded` on untouched. Header values that are not a plain scheme or host are ignored. Forwarded headers reach this
/// function only from trusted proxies (see `forwarded.rs`).
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
    let forwarded =
        |param: &str| first(header::FORWARDED.as_str()).and_then(|e| parameter(e, param));
    let proto = first("x-forwarded-proto")
        .or_else(|| forwarded("proto"))
        .map(str::to_ascii_lowercase)
        .filter(|p| p == "https" || p == "http")
        .unwrap_or_else(|| "http".to_string());
    let host = first("x-forwarded-host")
        .filter(|h| is_host(h))
        .or_else(|| forwarded("host").filter(|h| is_host(h)))
        .or_else(|| first(header::HOST.as_str()).filter(|h| is_host(h)))
        .unwrap_or("localhost");
    format!("{proto}://{host}")
}

/// The value of `name` in one `Forwarded` element (`for=…;proto=https;host="a.org"`), unquoted.
fn parameter<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim().eq_ignore_ascii_case(name).then(|| {
            let v = v.trim();
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
        })
    })
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

    #[test]
    fn forwarded_is_read_after_x_forwarded_and_unquoted() {
        let both = headers(&[
            ("x-forwarded-host", "x.example.org"),
            ("forwarded", "proto=https;host=f.example.org"),
        ]);
        assert_eq!(base_url(None, &both), "https://x.example.org");
        let h = headers(&[
            ("host", "127.0.0.1:8080"),
            (
                "forwarded",
                "for=192.0.2.60;Proto=https;host=\"img.example.org:8443\", for=10.0.0.1;host=inner",
            ),
        ]);
        assert_eq!(base_url(None, &h), "https://img.example.org:8443");
        let h = headers(&[
            ("host", "ok.org"),
            ("forwarded", "for=1.2.3.4;host=\"evil.org/<x>\""),
            ("x-forwarded-proto", "https"),
        ]);
        assert_eq!(base_url(None, &h), "https://ok.org");
    }
}
