//! The IIIF routes: base URI redirects, `info.json`, and image requests, for both versions.

use super::base_url::base_url;
use super::conditional::Validators;
use super::error::ApiError;
use super::negotiate::info_content_type;
use super::observe::Outcome;
use crate::cache::{hash_hex, CacheKey, Entry, SourceVersion};
use crate::coalesce::Role;
use crate::locate::{locate, locate_now};
use crate::open_image::with_image;
use crate::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;
use tessera_iiif::info::{default_sizes, default_tiles, level_sizes, native_tiles, within_budget};
use tessera_iiif::{plan, Dimensions, IiifPath, ImageRequest, ImageService, Plan, Target};
use tessera_image::cancel::CancelToken;
use tessera_image::{choose_level, Storage};

/// Sizes smaller than this (long side) are not listed in `info.json`.
const SMALLEST_LISTED_SIZE: u32 = 64;

/// `GET /iiif/{version}/…`
pub async fn handle(
    State(state): State<Arc<AppState>>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // The peer address (when the listener records it) gives each client its share of large renders.
    let client = peer.map(|axum::Extension(ConnectInfo(addr))| addr.ip());
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
            Source::resolve(&state, &path.identifier).await?;
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
            image(state, &path, &service_id, request, &headers, client).await
        }
    }
}

/// An image's identifier with the version and cache group of the object that answers it (the first of
/// its rule's candidates that exists).
struct Source {
    identifier: String,
    version: SourceVersion,
    group: String,
}

impl Source {
    async fn resolve(state: &Arc<AppState>, identifier: &str) -> Result<Self, ApiError> {
        let (group, version) = match locate_now(&state.sources, identifier) {
            Some(found) => found?,
            None => {
                let (st, id) = (Arc::clone(state), identifier.to_string());
                blocking(move || Ok(locate(&st.sources, &id)?)).await?
            }
        };
        Ok(Self {
            identifier: identifier.to_string(),
            version,
            group,
        })
    }
}

/// The image's size and storage (tiling, levels): from the info cache, else from its header (read
/// once for concurrent callers). Also says whether it came from the cache.
async fn dimensions(
    state: &Arc<AppState>,
    source: &Source,
) -> Result<((Dimensions, Storage), Outcome), ApiError> {
    if let Some(d) = state.caches.info(&source.group, source.version) {
        return Ok((d, Outcome::Hit));
    }
    let key = format!(
        "{}\n{}-{}-{}",
        source.group, source.version.mtime_ns, source.version.size, source.version.tag
    );
    let (st, id, group, version) = (
        Arc::clone(state),
        source.identifier.clone(),
        source.group.clone(),
        source.version,
    );
    let (result, role) = state
        .headers
        .run(key, move |cancel| async move {
            let worker = Arc::clone(&st);
            let cancel = cancel.with_deadline(Instant::now() + st.request_timeout);
            let d = blocking(move || {
                cancel.run(|| {
                    with_image(&worker, &id, |r| {
                        let h = r.header();
                        Ok((Dimensions::new(h.width, h.height), r.storage()))
                    })
                })
            })
            .await?;
            st.caches.put_info(group, version, d.clone());
            Ok(d)
        })
        .await;
    let outcome = match role {
        Role::Leader => Outcome::Miss,
        Role::Follower => {
            state.metrics.coalesced("info");
            Outcome::Coalesced
        }
    };
    Ok((result.unwrap_or_else(|| Err(worker_died()))?, outcome))
}

/// `info.json`: header only, never pixels.
async fn info(
    state: Arc<AppState>,
    path: &IiifPath,
    service_id: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let source = Source::resolve(&state, &path.identifier).await?;
    let ((dimensions, storage), outcome) = dimensions(&state, &source).await?;
    let mut tiles = [storage
        .tile
        .and_then(|t| native_tiles(dimensions, t, &state.limits))
        .unwrap_or_else(|| default_tiles(dimensions, state.tile_size, &state.limits))];
    let mut sizes = level_sizes(dimensions, &storage.levels, &state.limits);
    if storage.levels.is_empty() || sizes.is_empty() {
        sizes = default_sizes(dimensions, SMALLEST_LISTED_SIZE, &state.limits);
    }
    // What one read may decode (tiled images are opened however large they are).
    let [tile_set] = &mut tiles;
    within_budget(
        dimensions,
        &storage.levels,
        state.read_limits.max_pixels,
        tile_set,
        &mut sizes,
    );
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
    // The body depends on the request's host and Accept, so its own hash is the ETag.
    let validators = Validators {
        etag: format!(
            "\"{}\"",
            hash_hex(format!("{content_type}\n{body}").as_bytes())
        ),
        last_modified: source.version.modified(),
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
        outcome
    });
    Ok(response)
}

/// An image request: plan against the (cached) header, answer 304 or from the cache when possible,
/// else render once for all identical concurrent requests.
async fn image(
    state: Arc<AppState>,
    path: &IiifPath,
    service_id: &str,
    request: ImageRequest,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> Result<Response, ApiError> {
    let source = Source::resolve(&state, &path.identifier).await?;
    let ((dimensions, storage), _) = dimensions(&state, &source).await?;
    let plan = plan(&request, dimensions, &state.limits)?;
    // Pixels decoded: the region at the stored level that serves it, not at full resolution.
    let (_, decoded) = choose_level(dimensions, &storage.levels, plan.region, plan.size);
    // The settings that change pixels are part of the key: a config change never serves old renders.
    let key = CacheKey::new(
        &format!("{}/{}", path.version.path_segment(), state.render_settings),
        &source.group,
        source.version,
        &plan.canonical,
    );
    let validators = Validators {
        etag: key.etag(),
        last_modified: source.version.modified(),
        max_age: state.image_max_age,
        vary_accept: false,
    };
    let link = header_value(&format!(
        "<{}>;rel=\"profile\", <{service_id}/{}>;rel=\"canonical\"",
        path.version.level2_profile_uri(),
        plan.canonical
    ))?;
    if validators.not_modified(headers) {
        let mut response = validators.not_modified_response();
        response.headers_mut().insert(header::LINK, link);
        response.extensions_mut().insert(Outcome::Revalidated);
        return Ok(response);
    }
    let (entry, outcome) = match state.caches.get(&key).await {
        Some((entry, _)) => (entry, Outcome::Hit),
        None => {
            let worker = Arc::clone(&state);
            let identifier = source.identifier.clone();
            let (result, role) = state
                .renders
                .run(key.text.clone(), move |cancel| {
                    render(
                        worker,
                        identifier,
                        plan,
                        decoded.area(),
                        key,
                        client,
                        cancel,
                    )
                })
                .await;
            let entry = result.unwrap_or_else(|| Err(worker_died()))?;
            let outcome = match role {
                Role::Leader => Outcome::Miss,
                Role::Follower => {
                    state.metrics.coalesced("image");
                    Outcome::Coalesced
                }
            };
            (entry, outcome)
        }
    };
    let mut response = (StatusCode::OK, entry.body.clone()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, header_value(&entry.media_type)?);
    response.headers_mut().insert(header::LINK, link);
    validators.apply(&mut response);
    response.extensions_mut().insert(outcome);
    Ok(response)
}

/// Render `plan` from the image `identifier` names if admission allows (counting the `decoded`
/// pixels read from the source plus the output's, and `client`'s share of large renders), and cache
/// the result. The decode stops at its next check once `cancel` is cancelled (nobody waits any
/// more) or the request time limit has passed, and its admission permit is returned with it.
async fn render(
    state: Arc<AppState>,
    identifier: String,
    plan: Plan,
    decoded: u64,
    key: CacheKey,
    client: Option<IpAddr>,
    cancel: CancelToken,
) -> Result<Arc<Entry>, ApiError> {
    let pixels = decoded + plan.size.area();
    let permit = state
        .admission
        .admit(pixels, client)
        .await
        .map_err(|refused| {
            state.metrics.rejected(refused.label());
            ApiError::from(refused)
        })?;
    let format = plan.format.extension();
    let entry = Entry {
        media_type: plan.format.media_type().to_string(),
        canonical: plan.canonical.clone(),
        body: Bytes::new(),
    };
    let worker = Arc::clone(&state);
    let in_flight = DecodeInFlight::new(&state.metrics);
    let started = Instant::now();
    // However the waiting ends, the work itself never outlives the request time limit.
    let cancel = cancel.with_deadline(started + state.request_timeout);
    let result = blocking(move || {
        // Both are returned when the work stops, also when its task was aborted meanwhile.
        let _permit = permit;
        let _in_flight = in_flight;
        cancel.run(|| {
            with_image(&worker, &identifier, |reader| {
                Ok(tessera_image::render(reader, &plan, &worker.render)?)
            })
        })
    })
    .await;
    state.metrics.decode(format, started.elapsed());
    let entry = Arc::new(Entry {
        body: Bytes::from(result?),
        ..entry
    });
    state.caches.put(&key, Arc::clone(&entry)).await;
    Ok(entry)
}

/// Counts a decode in `tessera_decodes_in_flight` for as long as it lives.
struct DecodeInFlight(Arc<crate::metrics::Metrics>);

impl DecodeInFlight {
    fn new(metrics: &Arc<crate::metrics::Metrics>) -> Self {
        metrics.decodes_in_flight(1);
        Self(Arc::clone(metrics))
    }
}

impl Drop for DecodeInFlight {
    fn drop(&mut self) {
        self.0.decodes_in_flight(-1);
    }
}

fn worker_died() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the image could not be processed (worker failure)",
    )
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
