//! Content negotiation for `info.json`: JSON-LD when asked for (and by default in 3.0), plain JSON otherwise.

use axum::http::{header, HeaderMap};
use tessera_iiif::ApiVersion;

/// The `Content-Type` to answer an `info.json` request with.
pub fn info_content_type(version: ApiVersion, headers: &HeaderMap) -> String {
    let ld = format!("application/ld+json;profile=\"{}\"", version.context());
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let wants = |media: &str| {
        accept.split(',').any(|part| {
            let mut params = part.split(';').map(str::trim);
            let matches = params.next().is_some_and(|m| m.eq_ignore_ascii_case(media));
            let refused = params.any(|p| {
                p.replace(' ', "").starts_with("q=0") && !p.contains('.')
                    || p.replace(' ', "") == "q=0.0"
            });
            matches && !refused
        })
    };
    if wants("application/ld+json") {
        ld
    } else if wants("application/json") {
        "application/json".into()
    } else {
        match version {
            ApiVersion::V3 => ld,
            ApiVersion::V2 => "application/json".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accept(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_static(v));
        h
    }

    #[test]
    fn negotiates() {
        assert!(
            info_content_type(ApiVersion::V2, &accept("application/ld+json"))
                .starts_with("application/ld+json")
        );
        assert_eq!(
            info_content_type(ApiVersion::V2, &HeaderMap::new()),
            "application/json"
        );
        assert!(info_content_type(ApiVersion::V3, &HeaderMap::new())
            .starts_with("application/ld+json;profile="));
        assert_eq!(
            info_content_type(ApiVersion::V3, &accept("application/json")),
            "application/json"
        );
        assert_eq!(
            info_content_type(
                ApiVersion::V3,
                &accept("application/ld+json;q=0, application/json")
            ),
            "application/json"
        );
    }
}
