//! The viewer pages through the real router, in process: the index lists the folder's images in
//! pages with thumbnails, identifiers are escaped, unknown ones are a 404 page, the embedded files
//! are served with long caching, and `viewer.enabled = false` leaves the plain-text root.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use std::sync::Arc;
use tessera::config::Config;
use tessera::state::AppState;
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// A folder of `count` tiny PNGs plus one in a sub-folder whose name needs escaping.
fn folder(count: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let png = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../images/67352ccc-d1b0-11e1-89ae-279075081939.png"),
    )
    .unwrap();
    for i in 0..count {
        std::fs::write(dir.path().join(format!("img-{i:03}.png")), &png).unwrap();
    }
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/<b>\"x\" & y.png"), &png).unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"not an image").unwrap();
    dir
}

fn app(dir: &tempfile::TempDir, viewer: bool) -> axum::Router {
    let mut config = Config::default();
    config.images.root = dir.path().to_path_buf();
    config.viewer.enabled = viewer;
    let state = Arc::new(AppState::new(&config).unwrap());
    state.health.set_started();
    tessera::http::router(state)
}

async fn get(app: &axum::Router, path: &str) -> Reply {
    let request = Request::get(path)
        .header("host", "127.0.0.1:8080")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

#[tokio::test]
async fn the_index_lists_folder_images_in_pages() {
    let dir = folder(60);
    let app = app(&dir, true);
    let first = get(&app, "/").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.header("content-type"), "text/html; charset=utf-8");
    assert!(first
        .header("content-security-policy")
        .contains("script-src 'self';"));
    assert!(first
        .body
        .contains("61 images in the image folders; 1–48 are shown."));
    assert_eq!(first.body.matches("<li class=\"card\">").count(), 48);
    assert!(first
        .body
        .contains("<img src=\"/iiif/3/img-000.png/full/%5E!200,200/0/default.jpg\""));
    assert!(first.body.contains("href=\"/viewer/img-000.png\""));
    assert!(first
        .body
        .contains("href=\"/iiif/2/img-000.png/info.json\""));
    assert!(!first.body.contains("notes.txt"));
    assert!(first.body.contains("href=\"/?page=2\""));

    let second = get(&app, "/?page=2").await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body.matches("<li class=\"card\">").count(), 13);
    assert!(second.body.contains("img-059.png") && !second.body.contains("img-047.png"));
    // The sub-folder's image, escaped in text and attributes, `%2F` in its URLs.
    assert!(second
        .body
        .contains(">sub/&lt;b&gt;&quot;x&quot; &amp; y.png</a>"));
    assert!(second
        .body
        .contains("href=\"/viewer/sub%2F%3Cb%3E%22x%22%20%26%20y.png\""));
    assert!(!second.body.contains("<b>\"x\""));

    assert_eq!(get(&app, "/?page=3").await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, "/?page=0").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(get(&app, "/?page=x").await.status, StatusCode::BAD_REQUEST);

    // The thumbnail each card names is served.
    let thumb = get(&app, "/iiif/3/img-000.png/full/%5E!200,200/0/default.jpg").await;
    assert_eq!(thumb.status, StatusCode::OK);
    assert_eq!(thumb.header("content-type"), "image/jpeg");
}

#[tokio::test]
async fn the_viewer_page_opens_known_identifiers_only() {
    let dir = folder(1);
    let app = app(&dir, true);
    for path in [
        "/viewer/sub%2F%3Cb%3E%22x%22%20%26%20y.png",
        "/viewer/sub/%3Cb%3E%22x%22%20%26%20y.png",
    ] {
        let page = get(&app, path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page
            .body
            .contains("data-info=\"/iiif/3/sub%2F%3Cb%3E%22x%22%20%26%20y.png/info.json\""));
        assert!(page
            .body
            .contains("href=\"/iiif/2/sub%2F%3Cb%3E%22x%22%20%26%20y.png/info.json\""));
        assert!(page
            .body
            .contains("<h1 class=\"title\">sub/&lt;b&gt;&quot;x&quot; &amp; y.png</h1>"));
    }
    let page = get(&app, "/viewer/img-000").await;
    assert_eq!(page.status, StatusCode::OK, "the extension may be left out");
    let missing = get(&app, "/viewer/nothing-here%3Cscript%3E").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.header("content-type"), "text/html; charset=utf-8");
    assert!(missing.body.contains("nothing-here&lt;script&gt;"));
    assert!(!missing.body.contains("<script>"));
    assert_eq!(get(&app, "/viewer/").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&app, "/viewer/%FF").await.status,
        StatusCode::BAD_REQUEST
    );

    let open = get(&app, "/viewer?id=sub/a%20b").await;
    assert_eq!(open.status, StatusCode::SEE_OTHER);
    assert_eq!(open.header("location"), "/viewer/sub%2Fa%20b");
}

#[tokio::test]
async fn the_embedded_files_are_served_from_the_binary() {
    let dir = folder(1);
    let app = app(&dir, true);
    let page = get(&app, "/viewer/img-000.png").await;
    let srcs: Vec<&str> = page
        .body
        .split("src=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert_eq!(srcs.len(), 2, "{srcs:?}");
    for src in srcs {
        let file = get(&app, src).await;
        assert_eq!(file.status, StatusCode::OK, "{src}");
        assert_eq!(
            file.header("content-type"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            file.header("cache-control"),
            "public, max-age=31536000, immutable"
        );
    }
    let prefix = page
        .body
        .split("data-prefix=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_string();
    let button = get(&app, &format!("{prefix}zoomin_rest.png")).await;
    assert_eq!(button.status, StatusCode::OK);
    assert_eq!(button.header("content-type"), "image/png");
    let old = get(&app, "/viewer-assets/0000/viewer.js").await;
    assert_eq!(old.status, StatusCode::OK);
    assert_eq!(old.header("cache-control"), "no-cache");
    assert_eq!(
        get(&app, &format!("{prefix}../../Cargo.toml")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn switched_off_the_root_is_plain_text_and_the_viewer_is_gone() {
    let dir = folder(1);
    let app = app(&dir, false);
    let root = get(&app, "/").await;
    assert_eq!(root.status, StatusCode::OK);
    assert!(root.header("content-type").starts_with("text/plain"));
    assert!(root.body.starts_with("Tessera IIIF Image API server."));
    assert_eq!(
        get(&app, "/viewer/img-000.png").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, "/viewer-assets/x/viewer.js").await.status,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn the_switch_is_read_from_toml_and_the_environment() {
    let args = tessera::cli::ServeArgs::default();
    let on = Config::load(&args, Vec::new()).unwrap();
    assert!(on.viewer.enabled, "on by default");
    let off = Config::load(
        &args,
        vec![("TESSERA_VIEWER_ENABLED".to_string(), "false".to_string())],
    )
    .unwrap();
    assert!(!off.viewer.enabled);
}
