//! The IIIF routes: base URI redirects, `info.json`, and image requests, for both versions.

use super::base_url::base_url;
use super::conditional::Validators;
use super::error::ApiError;
use super::negotiate::info_content_type;
use super::observe::Outcome;
use crate::cache::{hash_hex, info_body_key, InfoBody};
use crate::pipeline::{Described, Extras, Origin};
use crate::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tessera_iiif::{ApiVersion, IiifPath, ImageRequest, ImageService, Target};

/// Every path no other route takes: a IIIF request when it is under a version's mount point
/// (`GET`/`HEAD`, and `OPTIONS` for CORS preflights), else 404.
pub async fn mounted(
    State(state): State<Arc<AppState>>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Some((version, rest)) = state.mounts.split(uri.path()) else {
        return super::not_found(&state.mounts).into_response();
    };
    match method {
        Method::GET | Method::HEAD => {
            // The peer address (when the listener records it) gives each client its share of large renders.
            let client = peer.map(|axum::Extension(ConnectInfo(addr))| addr.ip());
            handle(&state, version, rest, &headers, client)
                .await
                .into_response()
        }
        Method::OPTIONS => super::preflight(headers).await,
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD, OPTIONS")],
        )
            .into_response(),
    }
}

/// `GET {mount}/…` of `version`, `rest` being the raw path after the mount point.
async fn handle(
    state: &Arc<AppState>,
    version: ApiVersion,
    rest: &str,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> Result<Response, ApiError> {
    let state = Arc::clone(state);
    let path = IiifPath::parse_in(version, rest)?;
    let service_id = format!(
        "{}{}",
        base_url(state.public_base_url.as_deref(), headers),
        state
            .mounts
            .service_path(path.version, &path.encoded_identifier())
    );
    match &path.target {
        Target::Base => {
            state.pipeline.locate(&path.identifier).await?;
            let location = format!("{service_id}/info.json");
            Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response())
        }
        Target::Info => info(state, &path, &service_id, headers).await,
        Target::Image {
            region,
            size,
            rotation,
            quality_format,
        } => {
            let request =
                ImageRequest::parse(path.version, region, size, rotation, quality_format)?;
            image(state, &path, &service_id, request, headers, client).await
        }
    }
}

impl From<Origin> for Outcome {
    fn from(origin: Origin) -> Self {
        match origin {
            Origin::Cache => Outcome::Hit,
            Origin::Fresh => Outcome::Miss,
            Origin::Shared => Outcome::Coalesced,
        }
    }
}

/// `info.json`: header only, never pixels.
async fn info(
    state: Arc<AppState>,
    path: &IiifPath,
    service_id: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let located = state.pipeline.locate(&path.identifier).await?;
    let extras = state.pipeline.extras(&located)?;
    let content_type = info_content_type(path.version, headers);
    // The finished document is kept: viewers ask for it again and again, and it is the same bytes
    // until the object, its extras or the request's side (id, version, type) change.
    let key = info_body_key(
        &located.group,
        located.version,
        extras.stamp,
        service_id,
        path.version.path_segment(),
        &content_type,
    );
    // The image is described (its header read, or found in the info cache) only to build it anew.
    let (InfoBody { body, etag }, origin) = match state.pipeline.caches().info_body(&key) {
        Some(done) => (done, Origin::Cache),
        None => {
            let (described, origin) = state.pipeline.describe(&located).await?;
            if described.pyramid {
                // Not waited for: the document is answered now.
                let _ = state.pipeline.start_pyramid(&located);
            }
            let done = info_document(&state, path, service_id, &described, &extras, &content_type)?;
            state.pipeline.caches().put_info_body(key, done.clone());
            (done, origin)
        }
    };
    let validators = Validators {
        etag,
        last_modified: extras.modified.map_or(located.version.modified(), |m| {
            m.max(located.version.modified())
        }),
        max_age: state.info_max_age,
        vary_accept: true,
    };
    let profile = header_value(&format!(
        "<{}>;rel=\"profile\"",
        path.version.level2_profile_uri()
    ))?;
    let not_modified = validators.not_modified(headers);
    let mut response = if not_modified {
        validators.not_modified_response()
    } else {
        let mut response = (StatusCode::OK, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, header_value(&content_type)?);
        validators.apply(&mut response);
        response
    };
    response.headers_mut().insert(header::LINK, profile);
    response.extensions_mut().insert(if not_modified {
        Outcome::Revalidated
    } else {
        origin.into()
    });
    Ok(response)
}

/// The `info.json` document of a described image, with its extras and physdim service, as sent
/// (pretty JSON) and its ETag: the hash of the body and its content type, since the body depends on
/// the request's host and Accept.
fn info_document(
    state: &AppState,
    path: &IiifPath,
    service_id: &str,
    described: &Described,
    extras: &Extras,
    content_type: &str,
) -> Result<InfoBody, ApiError> {
    let advertised = state.pipeline.advertise(described);
    let service = ImageService {
        id: service_id,
        dimensions: described.dimensions,
        sizes: &advertised.sizes,
        tiles: std::slice::from_ref(&advertised.tiles),
        limits: state.pipeline.limits(),
        preferred_formats: &state.preferred_formats,
    };
    let mut doc = service.to_json(path.version);
    extras.extras.apply(&mut doc, path.version);
    let physdim = described.physical.and_then(|p| p.iiif());
    extras
        .extras
        .add_physdim(&mut doc, path.version, service_id, physdim);
    let body = serde_json::to_string_pretty(&doc)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let etag = format!(
        "\"{}\"",
        hash_hex(format!("{content_type}\n{body}").as_bytes())
    );
    Ok(InfoBody {
        body: Bytes::from(body),
        etag,
    })
}

/// An image request: locate, describe and plan it as a job, answer 304 when the client has it,
/// else the job's bytes from the pipeline.
async fn image(
    state: Arc<AppState>,
    path: &IiifPath,
    service_id: &str,
    request: ImageRequest,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> Result<Response, ApiError> {
    let located = state.pipeline.locate(&path.identifier).await?;
    let (described, _) = state.pipeline.describe(&located).await?;
    let job = state
        .pipeline
        .job(Arc::clone(&located), &described, &request)?;
    let validators = Validators {
        etag: job.etag(),
        last_modified: located.version.modified(),
        max_age: state.image_max_age,
        vary_accept: false,
    };
    let link = header_value(&format!(
        "<{}>;rel=\"profile\", <{service_id}/{}>;rel=\"canonical\"",
        path.version.level2_profile_uri(),
        job.plan().canonical
    ))?;
    if validators.not_modified(headers) {
        let mut response = validators.not_modified_response();
        response.headers_mut().insert(header::LINK, link);
        response.extensions_mut().insert(Outcome::Revalidated);
        return Ok(response);
    }
    let (entry, origin) = state.pipeline.render(job, client).await?;
    let mut response = (StatusCode::OK, entry.body.clone()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, header_value(&entry.media_type)?);
    response.headers_mut().insert(header::LINK, link);
    validators.apply(&mut response);
    response.extensions_mut().insert(Outcome::from(origin));
    Ok(response)
}

fn header_value(s: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(s).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "a response header could not be encoded",
        )
    })
}
