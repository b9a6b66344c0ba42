//! Building `object_store` clients for S3 and HTTP(S) origins from config or a quick-start URL, with
//! timeouts and retries with backoff.

use crate::aws_profile::Profile;
use crate::observer::SourceKind;
use object_store::aws::AmazonS3Builder;
use object_store::http::HttpBuilder;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// One source as written in the config (`[[sources]]`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The name rules use.
    pub name: String,
    /// `folder`, `s3` or `http`.
    pub kind: String,
    /// `folder`: the folder.
    pub root: Option<PathBuf>,
    /// `s3`: the bucket.
    pub bucket: Option<String>,
    /// `s3`: a key prefix (folder) under which keys are looked up.
    pub prefix: Option<String>,
    /// `s3`: the region (default: `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`).
    pub region: Option<String>,
    /// `s3`: a custom endpoint for S3-compatible stores (default: `AWS_ENDPOINT_URL`).
    pub endpoint: Option<String>,
    /// `s3`: path-style addressing (default: true when an endpoint is set, else virtual-hosted).
    pub path_style: Option<bool>,
    /// `s3`/`http`: allow plain `http://` endpoints (default: `AWS_ALLOW_HTTP`, or true for `http://` URLs).
    pub allow_http: Option<bool>,
    /// `http`: the base URL; keys are paths under it.
    pub url: Option<String>,
}

impl SourceConfig {
    /// A source named `name` from a quick-start location: `s3://BUCKET/PREFIX`, `http(s)://HOST/PATH/`
    /// or a folder path.
    pub fn from_location(name: &str, location: &str) -> Self {
        let mut config = SourceConfig {
            name: name.into(),
            ..SourceConfig::default()
        };
        if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            config.kind = "s3".into();
            config.bucket = Some(bucket.into());
            config.prefix = Some(prefix.into()).filter(|p: &String| !p.is_empty());
        } else if location.starts_with("http://") || location.starts_with("https://") {
            config.kind = "http".into();
            config.url = Some(location.into());
        } else {
            config.kind = "folder".into();
            config.root = Some(PathBuf::from(location));
        }
        config
    }
}

/// How remote sources are fetched and cached (`[fetch]` in the config).
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// Longest time for one HTTP request (including its body) before it counts as timed out.
    pub timeout: Duration,
    /// Longest time to connect.
    pub connect_timeout: Duration,
    /// Retries after a timeout, a connection error or a 5xx, with exponential backoff.
    pub retries: usize,
    /// The first backoff delay (doubling, at most 30 times it).
    pub backoff: Duration,
    /// Block size of ranged reads and of cached ranges, in bytes.
    pub block_size: u64,
    /// How long an object's ETag / Last-Modified is trusted before asking the origin again.
    pub revalidate_after: Duration,
    /// The source cache folder.
    pub cache_dir: PathBuf,
    /// The source cache bound, in bytes.
    pub cache_max_bytes: u64,
    /// Free space the source cache leaves on its filesystem, in bytes.
    pub cache_min_free_bytes: u64,
}

impl FetchSettings {
    /// The longest a whole fetch (all retries and backoff) may take before it is answered as a timeout.
    pub fn deadline(&self) -> Duration {
        let attempts = u32::try_from(self.retries + 1).unwrap_or(u32::MAX);
        (self.timeout + self.connect_timeout + self.backoff * 30).saturating_mul(attempts)
    }

    fn client_options(&self, allow_http: bool) -> ClientOptions {
        ClientOptions::new()
            .with_timeout(self.timeout)
            .with_connect_timeout(self.connect_timeout)
            .with_allow_http(allow_http)
    }

    fn retry(&self) -> RetryConfig {
        RetryConfig {
            backoff: BackoffConfig {
                init_backoff: self.backoff,
                max_backoff: self.backoff * 30,
                base: 2.0,
            },
            max_retries: self.retries,
            retry_timeout: self.deadline(),
        }
    }
}

/// A built remote store and the key prefix under it.
pub(crate) struct BuiltStore {
    pub store: Arc<dyn ObjectStore>,
    pub kind: SourceKind,
    pub prefix: String,
}

/// Build the client for a remote `config` (`s3` or `http`).
pub(crate) fn build(config: &SourceConfig, settings: &FetchSettings) -> Result<BuiltStore, String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let env_true =
        |name: &str| env(name).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    match config.kind.as_str() {
        "s3" => {
            let bucket = config
                .bucket
                .as_deref()
                .ok_or("an s3 source needs `bucket`")?;
            let profile = Profile::from_environment();
            let region = config
                .region
                .clone()
                .or_else(|| env("AWS_REGION"))
                .or_else(|| env("AWS_DEFAULT_REGION"))
                .or(profile.region.clone())
                .unwrap_or_else(|| "us-east-1".into());
            let endpoint = config
                .endpoint
                .clone()
                .or_else(|| env("AWS_ENDPOINT_URL_S3"))
                .or_else(|| env("AWS_ENDPOINT_URL"));
            let allow_http = config
                .allow_http
                .unwrap_or_else(|| env_true("AWS_ALLOW_HTTP"));
            let mut builder = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_region(region)
                .with_client_options(settings.client_options(allow_http))
                .with_retry(settings.retry());
            // Environment keys win (from_env read them); else the shared credentials file's profile.
            if env("AWS_ACCESS_KEY_ID").is_none() {
                if let (Some(key), Some(secret)) =
                    (profile.access_key_id, profile.secret_access_key)
                {
                    builder = builder
                        .with_access_key_id(key)
                        .with_secret_access_key(secret);
                    if let Some(token) = profile.session_token {
                        builder = builder.with_token(token);
                    }
                }
            }
            let path_style = config.path_style.unwrap_or(endpoint.is_some());
            if let Some(endpoint) = endpoint {
                builder = builder.with_endpoint(endpoint);
            }
            builder = builder.with_virtual_hosted_style_request(!path_style);
            let store = builder.build().map_err(|e| e.to_string())?;
            Ok(BuiltStore {
                store: Arc::new(store),
                kind: SourceKind::S3,
                prefix: folder_prefix(config.prefix.as_deref()),
            })
        }
        "http" => {
            let url = config.url.as_deref().ok_or("an http source needs `url`")?;
            let allow_http = config.allow_http.unwrap_or(url.starts_with("http://"));
            let (origin, path) = split_url(url)?;
            let store = HttpBuilder::new()
                .with_url(origin)
                .with_client_options(settings.client_options(allow_http))
                .with_retry(settings.retry())
                .build()
                .map_err(|e| e.to_string())?;
            Ok(BuiltStore {
                store: Arc::new(store),
                kind: SourceKind::Http,
                prefix: folder_prefix(Some(&path)),
            })
        }
        other => Err(format!(
            "unknown source kind {other:?} (folder, s3 or http)"
        )),
    }
}

/// `http(s)://host[:port]/path/` as the origin (`http(s)://host[:port]`) and the decoded path under it.
fn split_url(url: &str) -> Result<(&str, String), String> {
    let after_scheme = url
        .find("://")
        .map(|i| i + 3)
        .ok_or_else(|| format!("not a URL: {url:?}"))?;
    let path_at = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| after_scheme + i);
    let path = percent_encoding::percent_decode_str(&url[path_at..])
        .decode_utf8()
        .map_err(|_| format!("the path of {url:?} is not UTF-8"))?;
    Ok((&url[..path_at], path.into_owned()))
}

/// `prefix` as a folder: empty, or ending in exactly one `/`.
fn folder_prefix(prefix: Option<&str>) -> String {
    match prefix.map(|p| p.trim_matches('/')) {
        Some(p) if !p.is_empty() => format!("{p}/"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_start_locations() {
        let s3 = SourceConfig::from_location("images", "s3://bucket/some/prefix");
        assert_eq!(
            (s3.kind.as_str(), s3.bucket.as_deref()),
            ("s3", Some("bucket"))
        );
        assert_eq!(folder_prefix(s3.prefix.as_deref()), "some/prefix/");
        let bare = SourceConfig::from_location("images", "s3://bucket");
        assert_eq!(folder_prefix(bare.prefix.as_deref()), "");
        let http = SourceConfig::from_location("images", "https://h.org/iiif/");
        assert_eq!(http.kind, "http");
        assert_eq!(
            SourceConfig::from_location("images", "/srv/images").kind,
            "folder"
        );
        let (origin, path) = split_url("https://h.org:8443/a%20b/c/").unwrap();
        assert_eq!(
            (origin, folder_prefix(Some(&path)).as_str()),
            ("https://h.org:8443", "a b/c/")
        );
        assert_eq!(
            split_url("http://h.org").unwrap(),
            ("http://h.org", String::new())
        );
    }
}
