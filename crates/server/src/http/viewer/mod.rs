//! The viewer in the box: `/` lists the images of the folder sources with thumbnails (pages of
//! [`page::PAGE_SIZE`]), `/viewer/{identifier}` opens any identifier in OpenSeadragon, and
//! `/viewer-assets/…` serves the viewer's files from the binary (nothing from a CDN). The pages carry
//! a Content-Security-Policy that allows only those files and the IIIF service.

mod assets;
mod html;
mod listing;
mod page;

pub use listing::ViewerState;

use super::base_url::base_url;
use crate::http::ApiError;
use crate::pipeline::PipelineError;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tessera_source::SourceError;

/// The routes of the viewer pages and their files.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(index))
        .route("/viewer", get(open))
        .route("/viewer/{*identifier}", get(viewer))
        .route("/viewer-assets/{stamp}/{*name}", get(asset))
}

/// `?page=N` on the index.
#[derive(Debug, Deserialize)]
pub struct IndexQuery {
    page: Option<String>,
}

/// `GET /`: one page of the folder sources' images.
async fn index(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<IndexQuery>,
) -> Response {
    let page = match query.page.as_deref().map(str::parse::<usize>) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => {
            return html_error(
                &state,
                &headers,
                StatusCode::BAD_REQUEST,
                "Bad page number",
                "page must be a whole number from 1",
            )
        }
    };
    let Some(viewer) = state.viewer.as_ref() else {
        return ApiError::new(StatusCode::NOT_FOUND, "the viewer is switched off").into_response();
    };
    let listing = match viewer.listing(&state).await {
        Ok(l) => l,
        Err(e) => return html_error(&state, &headers, e.status, "Listing failed", &e.message),
    };
    let view = page::IndexView {
        identifiers: &listing.identifiers,
        page,
        notes: &listing.notes,
        errors: &listing.errors,
        remote_sources: state.sources.has_remote_sources(),
        mounts: &state.mounts,
    };
    match page::index(view) {
        Some(body) => html(&state, &headers, StatusCode::OK, body),
        None => html_error(
            &state,
            &headers,
            StatusCode::NOT_FOUND,
            "No such page",
            &format!(
                "there are {} page(s) of images",
                page::page_count(listing.identifiers.len())
            ),
        ),
    }
}

/// `?id=…` of the index's "open any identifier" form.
#[derive(Debug, Deserialize)]
pub struct OpenQuery {
    id: Option<String>,
}

/// `GET /viewer?id=…`: to that identifier's viewer page (or back to the index without one).
async fn open(Query(query): Query<OpenQuery>) -> Redirect {
    match query
        .id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty())
    {
        Some(id) => Redirect::to(&page::viewer_url(id)),
        None => Redirect::to("/"),
    }
}

/// `GET /viewer/{identifier}`: the viewer page, or a 404 page when no image has that identifier.
/// The identifier is read from the raw path like IIIF's: `%2F` and raw slashes are the same.
async fn viewer(State(state): State<Arc<AppState>>, headers: HeaderMap, uri: Uri) -> Response {
    let raw = uri.path().strip_prefix("/viewer/").unwrap_or_default();
    let identifier = match identifier_of(raw) {
        Ok(id) => id,
        Err(e) => return html_error(&state, &headers, e.status, "Bad identifier", &e.message),
    };
    match state.pipeline.locate(&identifier).await {
        Ok(_) => html(
            &state,
            &headers,
            StatusCode::OK,
            page::viewer(&state.mounts, &identifier),
        ),
        Err(PipelineError::Source(SourceError::NotFound)) => html_error(
            &state,
            &headers,
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("no image has the identifier {identifier:?}"),
        ),
        Err(e) => {
            let e = ApiError::from(e);
            html_error(&state, &headers, e.status, "Not available", &e.message)
        }
    }
}

/// The identifier in the raw path after `/viewer/`: each segment percent-decoded, joined by `/`.
fn identifier_of(raw: &str) -> Result<String, ApiError> {
    let segments: Vec<&str> = raw.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no identifier in the path; the viewer is at /viewer/{identifier}",
        ));
    }
    let decoded = segments
        .iter()
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|d| d.into_owned())
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid percent-encoding in the URL path",
            )
        })?;
    Ok(decoded.join("/"))
}

/// `GET /viewer-assets/{stamp}/{name}`: an embedded file. Under the current stamp it may be cached
/// for a year; under another (a page from another build) it is the current file, not to be cached.
async fn asset(Path((stamp, name)): Path<(String, String)>) -> Response {
    let Some(asset) = assets::find(&name) else {
        return ApiError::new(StatusCode::NOT_FOUND, "no such viewer file").into_response();
    };
    let cache = if stamp == assets::stamp() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, cache),
        ],
        asset.bytes,
    )
        .into_response()
}

/// An HTML page with the pages' headers: not cached without asking, and the CSP.
fn html(state: &AppState, headers: &HeaderMap, status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    let origin = base_url(state.public_base_url.as_deref(), headers);
    if let Ok(v) = HeaderValue::from_str(&content_security_policy(&origin)) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    response
}

fn html_error(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    heading: &str,
    message: &str,
) -> Response {
    html(state, headers, status, page::error(heading, message))
}

/// The pages' Content-Security-Policy: scripts and styles from this server only (plus the one style
/// OpenSeadragon injects, by its hash), images and `info.json` from here or from `iiif_base` (the
/// base that `info.json` ids name, which tiles are then fetched from), nothing else.
fn content_security_policy(iiif_base: &str) -> String {
    let hash = Sha256::digest(assets::OPENSEADRAGON_INLINE_STYLE.as_bytes());
    let style = base64::engine::general_purpose::STANDARD.encode(hash);
    let extra = origin_of(iiif_base)
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self' 'sha256-{style}'; \
         img-src 'self' data: blob:{extra}; connect-src 'self'{extra}; worker-src blob:; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
    )
}

/// `scheme://host[:port]` of `url`, when it is plain enough to go into a CSP source list.
fn origin_of(url: &str) -> Option<&str> {
    let after_scheme = url.find("://")? + 3;
    let end = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| after_scheme + i);
    let origin = &url[..end];
    let plain = origin.len() > after_scheme
        && origin[after_scheme..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b));
    (plain && (origin.starts_with("http://") || origin.starts_with("https://"))).then_some(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_read_like_iiif_paths() {
        assert_eq!(identifier_of("a%2Fb.png").ok().as_deref(), Some("a/b.png"));
        assert_eq!(identifier_of("a/b.png").ok().as_deref(), Some("a/b.png"));
        assert_eq!(identifier_of("lax:1%20x").ok().as_deref(), Some("lax:1 x"));
        assert_eq!(
            identifier_of("").map_err(|e| e.status).err(),
            Some(StatusCode::NOT_FOUND)
        );
        assert_eq!(
            identifier_of("a//b").map_err(|e| e.status).err(),
            Some(StatusCode::NOT_FOUND)
        );
        assert_eq!(
            identifier_of("%ff").map_err(|e| e.status).err(),
            Some(StatusCode::BAD_REQUEST)
        );
    }

    #[test]
    fn the_policy_names_only_plain_origins() {
        assert_eq!(
            origin_of("https://img.example.org/iiif"),
            Some("https://img.example.org")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8080"),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin_of("https://a.org;script-src *"), None);
        assert_eq!(origin_of("ftp://a.org"), None);
        assert_eq!(origin_of("https://"), None);
        let csp = content_security_policy("https://img.example.org");
        assert!(
            csp.contains("img-src 'self' data: blob: https://img.example.org;"),
            "{csp}"
        );
        assert!(csp.contains("script-src 'self';"));
        assert!(csp.contains("style-src 'self' 'sha256-"));
        assert!(!content_security_policy("https://a.org script-src *").contains('*'));
    }
}
