//! The IIIF routes: base URI redirects, `info.json`, and image requests, for both versions.

use super::base_url::base_url;
use super::error::ApiError;
use super::negotiate::info_content_type;
use super::open::with_image;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tessera_iiif::info::{default_sizes, default_tiles};
use tessera_iiif::{plan, Dimensions, IiifPath, ImageRequest, ImageService, Target};

/// Sizes smaller than this (long side) are not listed in `info.json`.
const SMALLEST_LISTED_SIZE: u32 = 64;

/// `GET /iiif/{version}/…`
pub async fn handle(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let rest = uri.path().strip_prefix("/iiif/").unwrap_or_default();
    let path = IiifPath::parse(rest)?;
    let service_id = format!(
        "{}/iiif/{}/{}",
        base_url(state.public_base_url.as_deref(), &headers),
        path.version.path_segment(),
        path.encoded_identifier()
    );
    match &path.target {
        Target::Base => {
            let id = path.identifier.clone();
            blocking(move || with_image(&state, &id, |_| Ok(()))).await?;
            let location = format!("{service_id}/info.json");
            Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response())
        }
        Target::Info => info(state, &path, &service_id, &headers).await,
        Target::Image {
            region,
            size,
            rotation,
            quality_format,
        } => {
            let request =
                ImageRequest::parse(path.version, region, size, rotation, quality_format)?;
            image(state, &path, &service_id, request).await
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
    let worker_state = Arc::clone(&state);
    let id = path.identifier.clone();
    let header = blocking(move || with_image(&worker_state, &id, |r| Ok(*r.header()))).await?;
    let dimensions = Dimensions::new(header.width, header.height);
    let tiles = [default_tiles(dimensions, state.tile_size, &state.limits)];
    let sizes = default_sizes(dimensions, SMALLEST_LISTED_SIZE, &state.limits);
    let service = ImageService {
        id: service_id,
        dimensions,
        sizes: &sizes,
        tiles: &tiles,
        limits: &state.limits,
    };
    let body = serde_json::to_string_pretty(&service.to_json(path.version))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let content_type = info_content_type(path.version, headers);
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, header_value(&content_type)?);
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    h.insert(
        header::LINK,
        header_value(&format!(
            "<{}>;rel=\"profile\"",
            path.version.level2_profile_uri()
        ))?,
    );
    Ok(response)
}

/// An image request: plan against the header, then read, transform and encode.
async fn image(
    state: Arc<AppState>,
    path: &IiifPath,
    service_id: &str,
    request: ImageRequest,
) -> Result<Response, ApiError> {
    let worker_state = Arc::clone(&state);
    let id = path.identifier.clone();
    let (bytes, plan) = blocking(move || {
        with_image(&worker_state, &id, |reader| {
            let h = reader.header();
            let plan = plan(
                &request,
                Dimensions::new(h.width, h.height),
                &worker_state.limits,
            )?;
            let bytes = tessera_image::render(reader, &plan, &worker_state.encode)?;
            Ok((bytes, plan))
        })
    })
    .await?;
    let link = format!(
        "<{}>;rel=\"profile\", <{service_id}/{}>;rel=\"canonical\"",
        path.version.level2_profile_uri(),
        plan.canonical
    );
    let mut response = (StatusCode::OK, bytes).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(plan.format.media_type()),
    );
    h.insert(header::LINK, header_value(&link)?);
    Ok(response)
}

/// Run decoding work off the async threads; a panic in a codec becomes a 500, not a dead server.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
    })
    .await
    {
        Ok(Ok(result)) => result,
        Ok(Err(_)) | Err(_) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the image could not be processed (decoder failure)",
        )),
    }
}

fn header_value(s: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(s).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "a response header could not be encoded",
        )
    })
}
