//! Forwarded headers: believed only from `server.trusted_proxies`, and named in `Vary` wherever ids are
//! built from the request's headers, so a shared cache never hands one host's ids to another.

use super::trusted_proxies::TrustedProxies;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;
use std::sync::Arc;

/// The request headers that can name the public scheme and host.
const FORWARDED_HEADERS: [&str; 3] = ["forwarded", "x-forwarded-host", "x-forwarded-proto"];

/// Middleware: drop forwarded headers unless the peer is a trusted proxy (a request without a known
/// peer address is not trusted); then, when ids come from the request (no `server.public_base_url`),
/// add the headers they were built from to the `Vary` of IIIF responses.
pub async fn forwarded(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if !peer.is_some_and(|ip| state.trusted_proxies.contains(ip)) {
        strip(request.headers_mut());
    }
    let iiif = state.mounts.split(request.uri().path()).is_some();
    let mut response = next.run(request).await;
    if iiif && state.public_base_url.is_none() {
        add_vary(response.headers_mut(), &vary_names(&state.trusted_proxies));
    }
    response
}

/// Remove every forwarded header.
fn strip(headers: &mut HeaderMap) {
    for name in FORWARDED_HEADERS {
        headers.remove(name);
    }
}

/// What ids depend on: `Host`, and the forwarded headers when some peer's are believed.
fn vary_names(trusted: &TrustedProxies) -> Vec<&'static str> {
    let mut names = vec!["Host"];
    if !trusted.is_empty() {
        names.extend(["Forwarded", "X-Forwarded-Host", "X-Forwarded-Proto"]);
    }
    names
}

/// Append `names` to the response's `Vary`, keeping what it lists already.
fn add_vary(headers: &mut HeaderMap, names: &[&str]) {
    let mut listed: Vec<String> = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if listed.iter().any(|v| v == "*") {
        return;
    }
    for name in names {
        if !listed.iter().any(|v| v.eq_ignore_ascii_case(name)) {
            listed.push((*name).to_string());
        }
    }
    if let Ok(v) = HeaderValue::from_str(&listed.join(", ")) {
        headers.insert(header::VARY, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary_keeps_accept_and_adds_what_ids_depend_on() {
        let mut h = HeaderMap::new();
        h.insert(header::VARY, HeaderValue::from_static("Accept"));
        let trusted = TrustedProxies::parse(&["127.0.0.1"]).unwrap();
        add_vary(&mut h, &vary_names(&trusted));
        assert_eq!(
            h[header::VARY],
            "Accept, Host, Forwarded, X-Forwarded-Host, X-Forwarded-Proto"
        );
        // Applied twice (or to a response that had them), nothing is repeated.
        add_vary(&mut h, &vary_names(&trusted));
        assert_eq!(h.get_all(header::VARY).iter().count(), 1);
        let mut h = HeaderMap::new();
        add_vary(&mut h, &vary_names(&TrustedProxies::default()));
        assert_eq!(h[header::VARY], "Host");
    }

    #[test]
    fn strip_removes_every_forwarded_header_and_nothing_else() {
        let mut h = HeaderMap::new();
        for name in ["forwarded", "x-forwarded-host", "x-forwarded-proto", "host"] {
            h.insert(name, HeaderValue::from_static("evil.example"));
        }
        strip(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key(header::HOST));
    }
}
