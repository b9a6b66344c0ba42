//! Starts the real `tessera` binary on a free port and checks the HTTP contract: statuses, headers,
//! redirects, CORS, and that no identifier reaches outside the image folder.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const VALIDATOR_ID: &str = "67352ccc-d1b0-11e1-89ae-279075081939";

struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A folder with the validator image, a sub-folder, a secret beside the root and symlinks out of it.
fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("images");
    std::fs::create_dir_all(root.join("lax:13410")).unwrap();
    let repo_images = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../images");
    let png = repo_images.join(format!("{VALIDATOR_ID}.png"));
    std::fs::copy(&png, root.join(format!("{VALIDATOR_ID}.png"))).unwrap();
    std::fs::copy(&png, root.join("lax:13410/elife-13410-fig4-v2.tif.png")).unwrap();
    std::fs::copy(&png, root.join("twin.png")).unwrap();
    std::fs::copy(repo_images.join("grace-hopper.jpg"), root.join("twin.jpg")).unwrap();
    std::fs::write(root.join("broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    std::fs::write(dir.path().join("secret.png"), b"top secret").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.png"), root.join("link-out.png")).unwrap();
    std::os::unix::fs::symlink(dir.path(), root.join("dir-out")).unwrap();

    // Port 0: the server picks a free port and prints it, so parallel tests never race for one.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--images"])
        .arg(&root)
        .args(["--listen", "127.0.0.1:0"])
        .env("TESSERA_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let server = Server {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

fn request(server: &Server, method: &str, path: &str, extra: &[(&str, &str)]) -> Reply {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
        server.port
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect::<Vec<_>>();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v == "chunked")
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap().trim(), 16)
                .unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 4 + size..];
    }
}

fn get(server: &Server, path: &str) -> Reply {
    request(server, "GET", path, &[])
}

#[test]
fn statuses_follow_the_spec() {
    let s = start();
    let base = format!("/iiif/3/{VALIDATOR_ID}");
    assert_eq!(get(&s, &format!("{base}/info.json")).status, 200);
    assert_eq!(get(&s, "/iiif/3/nope/info.json").status, 404);
    assert_eq!(get(&s, "/iiif/3/nope/full/max/0/default.jpg").status, 404);
    assert_eq!(
        get(&s, "/iiif/3/twin/info.json").status,
        404,
        "ambiguous identifier"
    );
    assert_eq!(get(&s, "/iiif/4/x/info.json").status, 404);
    for bad in [
        "full/max/0/default.xyz",
        "full/max/0/grey.jpg",
        "full/full/0/default.jpg",
        "0,0,0,10/max/0/default.jpg",
        "2000,0,10,10/max/0/default.jpg",
        "full/1001,/0/default.jpg",
        "full/max/361/default.jpg",
        "junk/max/0/default.jpg",
    ] {
        let r = get(&s, &format!("{base}/{bad}"));
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(r.text().starts_with("400 Bad Request: "), "{}", r.text());
    }
    assert_eq!(
        get(
            &s,
            &format!("/iiif/2/{VALIDATOR_ID}/full/full/0/default.jpg")
        )
        .status,
        200
    );
}

#[test]
fn headers_cors_links_and_redirects() {
    let s = start();
    let r = get(&s, &format!("/iiif/3/{VALIDATOR_ID}"));
    assert_eq!(r.status, 303);
    assert_eq!(
        r.header("location"),
        Some(
            format!(
                "http://127.0.0.1:{}/iiif/3/{VALIDATOR_ID}/info.json",
                s.port
            )
            .as_str()
        )
    );

    let r = get(
        &s,
        &format!("/iiif/3/{VALIDATOR_ID}/full/max/0/default.png"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let link = r.header("link").unwrap();
    assert!(
        link.contains("<http://iiif.io/api/image/3/level2.json>;rel=\"profile\""),
        "{link}"
    );
    assert!(
        link.contains(&format!(
            "/iiif/3/{VALIDATOR_ID}/full/max/0/default.png>;rel=\"canonical\""
        )),
        "{link}"
    );

    assert_eq!(
        get(&s, "/iiif/3/nope/info.json").header("access-control-allow-origin"),
        Some("*")
    );
    let r = request(
        &s,
        "OPTIONS",
        &format!("/iiif/3/{VALIDATOR_ID}/info.json"),
        &[
            ("Origin", "https://viewer.org"),
            ("Access-Control-Request-Method", "GET"),
        ],
    );
    assert!(r.status == 204 || r.status == 200);
    assert!(r
        .header("access-control-allow-methods")
        .unwrap()
        .contains("GET"));

    let r = request(
        &s,
        "HEAD",
        &format!("/iiif/3/{VALIDATOR_ID}/info.json"),
        &[],
    );
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());

    let r = request(
        &s,
        "GET",
        &format!("/iiif/3/{VALIDATOR_ID}/info.json"),
        &[
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "images.example.org"),
        ],
    );
    // No proxy is trusted by default: a client's forwarded headers never name the ids.
    let info: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let id = info["id"].as_str().unwrap_or_default();
    assert!(
        id.starts_with("http://127.0.0.1:") && id.ends_with(&format!("/iiif/3/{VALIDATOR_ID}")),
        "{id}"
    );
    let r = request(
        &s,
        "GET",
        &format!("/iiif/2/{VALIDATOR_ID}/info.json"),
        &[("Accept", "application/ld+json")],
    );
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/ld+json"));
}

#[test]
fn identifiers_with_folders() {
    let s = start();
    for path in [
        "/iiif/3/lax:13410/elife-13410-fig4-v2.tif/full/,100/0/default.jpg",
        "/iiif/3/lax:13410%2Felife-13410-fig4-v2.tif/full/,100/0/default.jpg",
    ] {
        let r = get(&s, path);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("image/jpeg"));
    }
    let r = get(&s, "/iiif/3/lax:13410/elife-13410-fig4-v2.tif/info.json");
    let info: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert!(info["id"]
        .as_str()
        .unwrap()
        .ends_with("/iiif/3/lax:13410/elife-13410-fig4-v2.tif"));
}

#[test]
fn nothing_outside_the_root_is_served() {
    let s = start();
    for path in [
        "/iiif/3/..%2Fsecret.png/info.json",
        "/iiif/3/%2e%2e%2fsecret.png/info.json",
        "/iiif/3/%2E%2E/secret.png/info.json",
        "/iiif/3/%2Fetc%2Fpasswd/info.json",
        "/iiif/3/link-out.png/info.json",
        "/iiif/3/link-out/full/max/0/default.png",
        "/iiif/3/dir-out/secret.png/info.json",
        "/iiif/3/dir-out%2Fsecret.png/full/max/0/default.png",
        "/iiif/3/lax:13410/..%2F..%2Fsecret.png/info.json",
    ] {
        let r = get(&s, path);
        assert!(r.status == 400 || r.status == 404, "{path}: {}", r.status);
        assert!(!r.text().contains("top secret"));
    }
    let long = format!("/iiif/3/{}/info.json", "a".repeat(10_000));
    assert_eq!(get(&s, &long).status, 414);
}

#[test]
fn a_broken_image_is_an_error_and_the_server_keeps_serving() {
    let s = start();
    let r = get(&s, "/iiif/3/broken.png/full/max/0/default.jpg");
    assert!(r.status >= 500, "{}", r.status);
    assert!(!r.text().is_empty());
    assert_eq!(
        get(
            &s,
            &format!("/iiif/3/{VALIDATOR_ID}/full/100,/0/default.jpg")
        )
        .status,
        200
    );
}

#[test]
fn health_metrics_and_conditional_requests() {
    let server = start();
    assert_eq!(request(&server, "GET", "/health/live", &[]).status, 200);
    assert_eq!(request(&server, "GET", "/health/ready", &[]).status, 200);

    let path = format!("/iiif/3/{VALIDATOR_ID}/full/100,/0/default.jpg");
    let first = request(&server, "GET", &path, &[]);
    assert_eq!(first.status, 200);
    let etag = first.header("etag").expect("an ETag").to_string();
    assert!(etag.starts_with('"'), "strong ETag: {etag}");
    assert_eq!(first.header("cache-control"), Some("public, max-age=86400"));
    let again = request(&server, "GET", &path, &[("If-None-Match", &etag)]);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    let lm = first
        .header("last-modified")
        .expect("Last-Modified")
        .to_string();
    assert_eq!(
        request(&server, "GET", &path, &[("If-Modified-Since", &lm)]).status,
        304
    );

    let metrics = request(&server, "GET", "/metrics", &[]).text();
    for name in [
        "tessera_requests_total{route=\"image\",class=\"2xx\"} 1",
        "tessera_requests_total{route=\"image\",class=\"3xx\"} 2",
        "tessera_decodes_total{format=\"jpg\"} 1",
        "tessera_request_duration_seconds_bucket",
        "tessera_cache_misses_total{tier=\"memory\"} 1",
    ] {
        assert!(metrics.contains(name), "{name} missing from\n{metrics}");
    }
    // Admin endpoints are off without a token.
    assert_eq!(
        request(&server, "POST", "/admin/cache/purge", &[]).status,
        404
    );
}
