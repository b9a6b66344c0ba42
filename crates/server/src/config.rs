//! Configuration: one typed struct, read from defaults, then a TOML file, then `TESSERA_*` environment
//! variables, then command-line flags, each overriding the one before.

use crate::cli::ServeArgs;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The prefix of environment variables that override config keys: `TESSERA_<SECTION>_<KEY>`.
pub const ENV_PREFIX: &str = "TESSERA_";

/// Everything Tessera can be told.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The HTTP listener and how it names itself.
    pub server: ServerConfig,
    /// Where images come from.
    pub images: ImagesConfig,
    /// Limits on requests and decoding.
    pub limits: LimitsConfig,
    /// Output encoding and what info.json advertises.
    pub output: OutputConfig,
    /// Logging.
    pub log: LogConfig,
    /// Fetching from remote sources and the source cache.
    pub fetch: FetchConfig,
    /// Named sources (`[[sources]]`), used by `rules`.
    pub sources: Vec<tessera_source::SourceConfig>,
    /// Identifier rules (`[[rules]]`), tried in order; without any, every identifier goes to `images.root`.
    pub rules: Vec<tessera_source::RuleConfig>,
    /// The derivative cache on disk and the in-memory caches.
    pub cache: CacheConfig,
    /// HTTP caching headers.
    pub http: HttpConfig,
    /// The admin endpoints.
    pub admin: AdminConfig,
    /// `[colour]`: ICC profiles and EXIF orientation.
    pub colour: ColourConfig,
    /// `[viewer]`: the HTML pages at `/` and `/viewer/{identifier}`.
    pub viewer: ViewerConfig,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Base URL for ids and links; when unset, built from the request's headers.
    pub public_base_url: Option<String>,
    /// Longest request URL accepted, in bytes (longer ones get 414).
    pub max_url_bytes: usize,
    /// After SIGTERM, how long in-flight requests may take to finish, in seconds.
    pub shutdown_grace_secs: f64,
    /// After SIGTERM, how long to keep answering (with /health/ready at 503) before closing the
    /// listener, in seconds, so that load balancers stop sending work first.
    pub drain_delay_secs: f64,
    /// Longest time a client may take to send a request's headers (from connecting, or from the
    /// first byte of a later request on a kept-alive connection), in seconds; then it is closed.
    pub header_read_timeout_secs: f64,
    /// Longest time a connection may sit with no request running and nothing written, in seconds;
    /// then it is closed.
    pub idle_timeout_secs: f64,
    /// Most client connections open at once; connections beyond it are closed at once (and counted).
    pub max_connections: usize,
    /// Peers (addresses or CIDR blocks) whose `Forwarded` / `X-Forwarded-Host` / `X-Forwarded-Proto`
    /// headers are believed; from anyone else those headers are ignored. Default: nobody.
    #[serde(deserialize_with = "crate::http::trusted_proxies::deserialize_list")]
    pub trusted_proxies: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_base_url: None,
            max_url_bytes: 4096,
            shutdown_grace_secs: 30.0,
            drain_delay_secs: 0.0,
            header_read_timeout_secs: 10.0,
            idle_timeout_secs: 60.0,
            max_connections: 1024,
            trusted_proxies: Vec::new(),
        }
    }
}

/// `[images]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImagesConfig {
    /// The default source: a folder, `s3://BUCKET/PREFIX` or `http(s)://HOST/PATH/`; identifiers are
    /// paths or keys under it.
    pub root: PathBuf,
}

/// `[fetch]`: remote sources and the source cache.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FetchConfig {
    /// Seconds one origin request may take before it times out.
    pub timeout_secs: f64,
    /// Seconds to connect to an origin.
    pub connect_timeout_secs: f64,
    /// Retries after a timeout, connection error or 5xx.
    pub retries: usize,
    /// First backoff delay between retries, in milliseconds (doubling).
    pub backoff_ms: u64,
    /// Block size of ranged reads, in bytes.
    pub block_size: u64,
    /// Seconds an object's ETag / Last-Modified is trusted before asking the origin again.
    pub revalidate_after_secs: f64,
    /// Folder of the source cache.
    pub cache_dir: PathBuf,
    /// Size bound of the source cache, in bytes.
    pub cache_max_bytes: u64,
    /// Free space the source cache leaves on its filesystem, in bytes: it evicts to keep it.
    pub cache_min_free_bytes: u64,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            timeout_secs: 30.0,
            connect_timeout_secs: 5.0,
            retries: 3,
            backoff_ms: 100,
            block_size: 65536,
            revalidate_after_secs: 60.0,
            cache_dir: std::env::temp_dir().join("tessera-source-cache"),
            cache_max_bytes: 1 << 30,
            cache_min_free_bytes: 1 << 30,
        }
    }
}

impl FetchConfig {
    /// The settings the source crate uses.
    pub fn settings(&self) -> tessera_source::FetchSettings {
        let secs = |s: f64| std::time::Duration::from_secs_f64(s.max(0.0));
        tessera_source::FetchSettings {
            timeout: secs(self.timeout_secs),
            connect_timeout: secs(self.connect_timeout_secs),
            retries: self.retries,
            backoff: std::time::Duration::from_millis(self.backoff_ms),
            block_size: self.block_size,
            revalidate_after: secs(self.revalidate_after_secs),
            cache_dir: self.cache_dir.clone(),
            cache_max_bytes: self.cache_max_bytes,
            cache_min_free_bytes: self.cache_min_free_bytes,
        }
    }
}

impl Default for ImagesConfig {
    fn default() -> Self {
        Self {
            root: default_images_root(),
        }
    }
}

/// The sample images: `./images` when run from the repository, else the repository's copy.
fn default_images_root() -> PathBuf {
    let here = Path::new("images");
    if here.join("README.md").is_file() {
        return here.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../images")
}

/// `[limits]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// `maxWidth`: widest output allowed.
    pub max_width: Option<u32>,
    /// `maxHeight`: tallest output allowed.
    pub max_height: Option<u32>,
    /// `maxArea`: most output pixels allowed (default 4096 x 4096; 0 turns the limit off).
    pub max_area: Option<u64>,
    /// Upscaling limit, per side, relative to the region.
    pub max_scale: f64,
    /// Source images declaring more pixels than this are refused before decoding.
    pub max_source_pixels: u64,
    /// Renders running at once; 0 means twice the number of CPUs.
    pub max_concurrent_decodes: usize,
    /// Pixels all running renders may hold together (region plus output of each).
    pub max_pixels_in_flight: u64,
    /// Renders of more pixels than this are "large" and may use only half the render slots.
    pub large_request_pixels: u64,
    /// Large renders one client address may have running or waiting at once; beyond it: 503 at once.
    /// 0 means half the large-render slots (a quarter of all slots), at least 1.
    pub large_renders_per_client: usize,
    /// Renders that may wait for a slot; 0 means four times the slots. Beyond it: 503.
    pub max_queued_decodes: usize,
    /// Longest wait for a slot, in seconds; then 503.
    pub queue_timeout_secs: f64,
    /// Longest time a request may take, in seconds, before it is answered 503.
    pub request_timeout_secs: f64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_width: None,
            max_height: None,
            max_area: Some(tessera_iiif::DEFAULT_MAX_AREA),
            max_scale: 4.0,
            max_source_pixels: 400_000_000,
            max_concurrent_decodes: 0,
            max_pixels_in_flight: 400_000_000,
            large_request_pixels: 4_000_000,
            large_renders_per_client: 0,
            max_queued_decodes: 0,
            queue_timeout_secs: 5.0,
            request_timeout_secs: 60.0,
        }
    }
}

/// `[output]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// JPEG quality, 1–100.
    pub jpeg_quality: u8,
    /// WebP quality, 1–100.
    pub webp_quality: u8,
    /// Tile width and height advertised in info.json for untiled images.
    pub tile_size: u32,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            jpeg_quality: 85,
            webp_quality: 80,
            tile_size: 512,
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter such as `info` or `tessera=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

/// `[cache]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Folder of the derivative cache; no disk cache when unset.
    pub dir: Option<PathBuf>,
    /// Most bytes the disk cache may hold.
    pub max_bytes: u64,
    /// Most files the disk cache may hold.
    pub max_files: u64,
    /// Free space the disk cache leaves on its filesystem, in bytes: it evicts to keep it.
    pub min_free_bytes: u64,
    /// Most bytes of rendered responses kept in memory.
    pub memory_max_bytes: u64,
    /// Largest response kept in memory, in bytes.
    pub memory_max_entry_bytes: u64,
    /// Image headers (sizes) kept in memory.
    pub info_entries: usize,
    /// Image readers kept open between requests (headers and tile indexes parsed); 0 = none.
    pub open_readers: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            dir: None,
            max_bytes: 10 * 1024 * 1024 * 1024,
            max_files: 1_000_000,
            min_free_bytes: 1 << 30,
            memory_max_bytes: 64 * 1024 * 1024,
            memory_max_entry_bytes: 256 * 1024,
            info_entries: 10_000,
            open_readers: 64,
        }
    }
}

/// `[http]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// `Cache-Control: max-age` of image responses, in seconds.
    pub image_max_age: u64,
    /// `Cache-Control: max-age` of info.json responses, in seconds.
    pub info_max_age: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            image_max_age: 86_400,
            info_max_age: 3_600,
        }
    }
}

/// `[admin]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Bearer token for /admin/*; the admin endpoints answer 404 when unset.
    pub token: Option<String>,
}

/// `[viewer]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ViewerConfig {
    /// Serve the image list at `/` and the OpenSeadragon viewer at `/viewer/{identifier}`; when off,
    /// `/` is a few lines of plain text and `/viewer/…` is 404.
    pub enabled: bool,
}

impl Default for ViewerConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML (after environment overrides) does not describe a valid config.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Load from `args.config` (if any), the environment `env`, and `args`' flags.
    pub fn load(
        args: &ServeArgs,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?
            }
            None => toml::Table::new(),
        };
        apply_env(&mut table, env)?;
        let mut config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        config.apply_args(args);
        config.validate()?;
        Ok(config)
    }

    fn apply_args(&mut self, args: &ServeArgs) {
        if let Some(v) = &args.images {
            self.images.root = v.clone();
        }
        if let Some(v) = args.listen {
            self.server.listen = v;
        }
        if let Some(v) = &args.public_base_url {
            self.server.public_base_url = Some(v.clone());
        }
        self.limits.max_width = args.max_width.or(self.limits.max_width);
        self.limits.max_height = args.max_height.or(self.limits.max_height);
        self.limits.max_area = args.max_area.or(self.limits.max_area);
        if let Some(v) = args.max_scale {
            self.limits.max_scale = v;
        }
        if let Some(v) = &args.log_format {
            self.log.format = v.clone();
        }
        if let Some(v) = &args.cache_dir {
            self.cache.dir = Some(v.clone());
        }
        if let Some(v) = args.cache_max_bytes {
            self.cache.max_bytes = v;
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if !(self.limits.max_scale.is_finite() && self.limits.max_scale >= 1.0) {
            return bad(format!(
                "limits.max_scale must be at least 1, not {}",
                self.limits.max_scale
            ));
        }
        for (name, q) in [
            ("output.jpeg_quality", self.output.jpeg_quality),
            ("output.webp_quality", self.output.webp_quality),
        ] {
            if !(1..=100).contains(&q) {
                return bad(format!("{name} must be from 1 to 100, not {q}"));
            }
        }
        if self.output.tile_size < 16 {
            return bad(format!(
                "output.tile_size must be at least 16, not {}",
                self.output.tile_size
            ));
        }
        for (name, v) in [
            ("fetch.timeout_secs", self.fetch.timeout_secs),
            (
                "fetch.connect_timeout_secs",
                self.fetch.connect_timeout_secs,
            ),
            (
                "fetch.revalidate_after_secs",
                self.fetch.revalidate_after_secs,
            ),
        ] {
            if !(v.is_finite() && (0.0..1e9).contains(&v)) {
                return bad(format!("{name} must be a number of seconds, not {v}"));
            }
        }
        if self.fetch.block_size < 1024 {
            return bad(format!(
                "fetch.block_size must be at least 1024, not {}",
                self.fetch.block_size
            ));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return bad(format!(
                "log.format must be text or json, not {:?}",
                self.log.format
            ));
        }
        if let Some(url) = &self.server.public_base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return bad(format!(
                    "server.public_base_url must start with http:// or https://: {url:?}"
                ));
            }
        }
        for (name, v) in [
            ("max_width", self.limits.max_width),
            ("max_height", self.limits.max_height),
        ] {
            if v == Some(0) {
                return bad(format!("limits.{name} must be positive"));
            }
        }
        for (name, secs) in [
            (
                "server.shutdown_grace_secs",
                self.server.shutdown_grace_secs,
            ),
            ("server.drain_delay_secs", self.server.drain_delay_secs),
            (
                "limits.request_timeout_secs",
                self.limits.request_timeout_secs,
            ),
        ] {
            if !(secs.is_finite() && (0.0..=86_400.0).contains(&secs)) {
                return bad(format!(
                    "{name} must be from 0 to 86400 seconds, not {secs}"
                ));
            }
        }
        for (name, secs) in [
            (
                "server.header_read_timeout_secs",
                self.server.header_read_timeout_secs,
            ),
            ("server.idle_timeout_secs", self.server.idle_timeout_secs),
        ] {
            if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
                return bad(format!(
                    "{name} must be more than 0 and at most 86400 seconds, not {secs}"
                ));
            }
        }
        if !(1..=1_000_000).contains(&self.server.max_connections) {
            return bad(format!(
                "server.max_connections must be from 1 to 1000000, not {}",
                self.server.max_connections
            ));
        }
        if let Err(e) = crate::http::TrustedProxies::parse(&self.server.trusted_proxies) {
            return bad(format!("server.trusted_proxies: {e}"));
        }
        if self.limits.request_timeout_secs == 0.0 {
            return bad("limits.request_timeout_secs must be positive".into());
        }
        if self.admin.token.as_deref().is_some_and(|t| t.len() < 16) {
            return bad("admin.token must be at least 16 characters".into());
        }
        if self.limits.max_height.is_some() && self.limits.max_width.is_none() {
            return bad("limits.max_height needs limits.max_width too (the IIIF spec requires maxWidth with maxHeight)".into());
        }
        Ok(())
    }

    /// The IIIF size limits this config sets.
    pub fn iiif_limits(&self) -> tessera_iiif::Limits {
        tessera_iiif::Limits {
            max_width: self.limits.max_width,
            max_height: self.limits.max_height,
            max_area: self.limits.max_area.filter(|&a| a > 0),
            max_scale: self.limits.max_scale,
        }
    }
}

/// The config sections, as named in TOML and in environment variables.
const SECTIONS: [&str; 11] = [
    "server", "images", "limits", "output", "log", "fetch", "cache", "http", "admin", "colour",
    "viewer",
];

/// Put `TESSERA_<SECTION>_<KEY>=value` variables into `table` as `[section] key = value`.
/// Values are read as TOML (numbers, booleans) when they parse as such, otherwise as strings.
/// Variables whose first word is not a section (`TESSERA_LOG`, `TESSERA_BIN`) are not config keys and
/// are left alone; an unknown key inside a known section is an error, so typos are caught.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (name, value) in env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let Some((section, key)) = rest.split_once('_') else {
            continue;
        };
        let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
        if !SECTIONS.contains(&section.as_str()) {
            continue;
        }
        // Secrets and paths stay strings even when they look like numbers.
        let always_string = matches!(
            (section.as_str(), key.as_str()),
            ("admin", "token") | ("cache", "dir")
        );
        let parsed = format!("v = {value}")
            .parse::<toml::Table>()
            .ok()
            .filter(|_| !always_string)
            .and_then(|mut t| t.remove("v"))
            .unwrap_or(toml::Value::String(value));
        let entry = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(section_table) = entry else {
            return Err(ConfigError::Invalid(format!(
                "{name}: [{section}] is not a section"
            )));
        };
        section_table.insert(key, parsed);
    }
    Ok(())
}

/// `[colour]`: how source colour and orientation are interpreted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ColourConfig {
    /// `"srgb"` converts pixels with an embedded ICC profile to sRGB; `"keep"` leaves them as stored.
    pub icc: IccSetting,
    /// Show JPEGs, WebPs and PNGs in their EXIF orientation and TIFFs in their Orientation tag's
    /// (and give info.json sizes accordingly).
    pub auto_orient: bool,
    /// The ICC profile assumed for CMYK images that embed none; unset means the built-in one.
    pub cmyk_profile: Option<PathBuf>,
}

impl Default for ColourConfig {
    fn default() -> Self {
        Self {
            icc: IccSetting::Srgb,
            auto_orient: true,
            cmyk_profile: None,
        }
    }
}

/// The `colour.icc` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IccSetting {
    /// Convert to sRGB.
    Srgb,
    /// Keep the stored values.
    Keep,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_example_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/tessera.example.toml");
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        let config = Config::load(&args, []).unwrap();
        assert_eq!(config.output.jpeg_quality, 85);
        assert_eq!(config.http.info_max_age, 3_600);
        assert_eq!(config.cache.max_files, 1_000_000);
        assert_eq!(config.server.shutdown_grace_secs, 30.0);
        assert_eq!(config.server.max_connections, 1024);
        assert_eq!(config.server.header_read_timeout_secs, 10.0);
        assert!(config.server.trusted_proxies.is_empty());
    }

    #[test]
    fn trusted_proxies_come_as_a_list_or_a_comma_separated_variable_and_are_checked() {
        let config = Config::load(
            &ServeArgs::default(),
            env(&[("TESSERA_SERVER_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")]),
        )
        .unwrap();
        assert_eq!(config.server.trusted_proxies, ["127.0.0.1", "10.0.0.0/8"]);
        let config = Config::load(
            &ServeArgs::default(),
            env(&[("TESSERA_SERVER_TRUSTED_PROXIES", "[\"::1\"]")]),
        )
        .unwrap();
        assert_eq!(config.server.trusted_proxies, ["::1"]);
        for (key, bad) in [
            ("TESSERA_SERVER_TRUSTED_PROXIES", "localhost"),
            ("TESSERA_SERVER_MAX_CONNECTIONS", "0"),
            ("TESSERA_SERVER_HEADER_READ_TIMEOUT_SECS", "0"),
            ("TESSERA_SERVER_IDLE_TIMEOUT_SECS", "-1"),
        ] {
            assert!(
                Config::load(&ServeArgs::default(), env(&[(key, bad)])).is_err(),
                "{key}={bad}"
            );
        }
    }

    #[test]
    fn new_sections_take_environment_overrides_and_quick_flags() {
        let args = ServeArgs {
            cache_max_bytes: Some(5_000),
            ..ServeArgs::default()
        };
        let config = Config::load(
            &args,
            env(&[
                ("TESSERA_CACHE_DIR", "/tmp/c"),
                ("TESSERA_CACHE_MAX_BYTES", "1"),
                ("TESSERA_HTTP_IMAGE_MAX_AGE", "60"),
                ("TESSERA_ADMIN_TOKEN", "1234567890123456"),
                ("TESSERA_LIMITS_MAX_CONCURRENT_DECODES", "3"),
                ("TESSERA_SERVER_SHUTDOWN_GRACE_SECS", "5"),
            ]),
        )
        .unwrap();
        assert_eq!(config.cache.dir.as_deref(), Some(Path::new("/tmp/c")));
        assert_eq!(config.cache.max_bytes, 5_000);
        assert_eq!(config.http.image_max_age, 60);
        assert_eq!(config.admin.token.as_deref(), Some("1234567890123456"));
        assert_eq!(config.limits.max_concurrent_decodes, 3);
        assert_eq!(config.server.shutdown_grace_secs, 5.0);
        assert!(Config::load(
            &ServeArgs::default(),
            env(&[("TESSERA_ADMIN_TOKEN", "short")])
        )
        .is_err());
    }

    #[test]
    fn environment_overrides_file_and_flags_override_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(&file, "[limits]\nmax_width = 100\nmax_scale = 2.0\n[server]\npublic_base_url = \"https://a.org\"\n").unwrap();
        let args = ServeArgs {
            config: Some(file),
            max_scale: Some(3.0),
            ..ServeArgs::default()
        };
        let config = Config::load(
            &args,
            env(&[
                ("TESSERA_LIMITS_MAX_WIDTH", "200"),
                ("TESSERA_SERVER_PUBLIC_BASE_URL", "https://b.org"),
                ("OTHER", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(config.limits.max_width, Some(200));
        assert_eq!(config.limits.max_scale, 3.0);
        assert_eq!(
            config.server.public_base_url.as_deref(),
            Some("https://b.org")
        );
    }

    #[test]
    fn sources_rules_and_fetch_settings_parse() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(
            &file,
            r#"
[fetch]
retries = 1
[[sources]]
name = "published"
kind = "s3"
bucket = "published"
endpoint = "http://127.0.0.1:9000"
[[rules]]
pattern = '^lax:(\d+)/(.+)\.tif$'
source = "published"
key = "articles/$1/$2.tif"
alternates = ["articles/$1/$2.jpg"]
"#,
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file),
            ..ServeArgs::default()
        };
        let config = Config::load(&args, env(&[("TESSERA_FETCH_TIMEOUT_SECS", "2.5")])).unwrap();
        assert_eq!(config.fetch.retries, 1);
        assert_eq!(config.fetch.timeout_secs, 2.5);
        assert_eq!(config.sources[0].bucket.as_deref(), Some("published"));
        assert_eq!(config.rules[0].alternates.len(), 1);
        let rules = tessera_source::Rules::new(&config.rules).unwrap();
        let found = rules
            .candidates("lax:13410/elife-13410-fig4-v2.tif")
            .unwrap();
        assert_eq!(found[0].key, "articles/13410/elife-13410-fig4-v2.tif");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(Config::load(
            &ServeArgs::default(),
            env(&[("TESSERA_LIMITS_MAX_WIDHT", "1")])
        )
        .is_err());
        assert!(Config::load(
            &ServeArgs::default(),
            env(&[("TESSERA_OUTPUT_JPEG_QUALITY", "0")])
        )
        .is_err());
        assert!(Config::load(
            &ServeArgs::default(),
            env(&[("TESSERA_LIMITS_MAX_SCALE", "0.5")])
        )
        .is_err());
        // Not config keys: other tools' variables and the log filter.
        assert!(Config::load(
            &ServeArgs::default(),
            env(&[("TESSERA_BIN", "x"), ("TESSERA_LOG", "debug")])
        )
        .is_ok());
    }

    #[test]
    fn the_output_area_is_limited_by_default_and_zero_turns_it_off() {
        let config = Config::load(&ServeArgs::default(), env(&[])).unwrap();
        assert_eq!(
            config.iiif_limits().max_area,
            Some(tessera_iiif::DEFAULT_MAX_AREA)
        );
        assert_eq!(config.limits.large_renders_per_client, 0);
        let config = Config::load(
            &ServeArgs::default(),
            env(&[
                ("TESSERA_LIMITS_MAX_AREA", "0"),
                ("TESSERA_LIMITS_LARGE_RENDERS_PER_CLIENT", "3"),
            ]),
        )
        .unwrap();
        assert_eq!(config.iiif_limits().max_area, None);
        assert_eq!(config.limits.large_renders_per_client, 3);
    }
}
