//! The identifiers of the folder sources for the index page: walked on a blocking thread, at most
//! [`MAX_FILES`] per folder, and kept for [`FRESH_FOR`] so that paging through them walks once.

use crate::http::ApiError;
use crate::state::AppState;
use axum::http::StatusCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_source::Listing;
use tokio::sync::Mutex;

/// Most image files listed per folder source.
pub const MAX_FILES: usize = 100_000;

/// How long one walk's result is used before the folders are walked again.
pub const FRESH_FOR: Duration = Duration::from_secs(10);

/// The viewer's share of the server state: the last listing of the folder sources.
#[derive(Debug, Default)]
pub struct ViewerState {
    last: Mutex<Option<(Instant, Arc<Listing>)>>,
}

impl ViewerState {
    /// The folder listing, walked again when the last one is older than [`FRESH_FOR`]. One walk at
    /// a time: concurrent requests wait for it and share its result.
    pub async fn listing(&self, state: &Arc<AppState>) -> Result<Arc<Listing>, ApiError> {
        let mut last = self.last.lock().await;
        if let Some((at, listing)) = last.as_ref() {
            if at.elapsed() < FRESH_FOR {
                return Ok(Arc::clone(listing));
            }
        }
        let st = Arc::clone(state);
        let listing =
            tokio::task::spawn_blocking(move || st.sources.list_folder_identifiers(MAX_FILES))
                .await
                .map(Arc::new)
                .map_err(|_| {
                    ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the image folders could not be listed",
                    )
                })?;
        *last = Some((Instant::now(), Arc::clone(&listing)));
        Ok(listing)
    }
}
