//! The config sections and their defaults: what an operator can say, and what is assumed.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
    /// AVIF quality, 1–100 (ravif's scale).
    pub avif_quality: u8,
    /// Tile width and height advertised in info.json for untiled images.
    pub tile_size: u32,
    /// `preferredFormats` of 3.0 `info.json`, most preferred first (a TOML list or one
    /// comma-separated string); each must be a format Tessera serves. Empty: not listed.
    #[serde(deserialize_with = "crate::http::trusted_proxies::deserialize_list")]
    pub preferred_formats: Vec<String>,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            jpeg_quality: 85,
            webp_quality: 80,
            avif_quality: 80,
            tile_size: 512,
            preferred_formats: Vec::new(),
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

/// `[pyramid]`: tiled pyramids of large plain (untiled) TIFFs and JPEGs, built once on first touch.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PyramidConfig {
    /// Build pyramids at all; when off, plain images are always read directly.
    pub enabled: bool,
    /// Plain TIFFs and JPEGs of at least this many pixels get a pyramid (tiles of
    /// `output.tile_size`).
    pub min_pixels: u64,
    /// JPEG 2000 images of at least `min_pixels` get one too, built in the background at a low
    /// priority while they are answered from their own levels.
    pub jpeg2000: bool,
    /// Folder of the pyramid store.
    pub dir: PathBuf,
    /// Most bytes the pyramid store may hold (least recently used pyramids are evicted).
    pub max_bytes: u64,
    /// Free space the pyramid store leaves on its filesystem, in bytes.
    pub min_free_bytes: u64,
    /// JPEG quality of the pyramid's tiles (which aligned tile requests are answered with as stored).
    pub quality: u8,
    /// Builds that may run at once (each takes one core).
    pub builds: usize,
    /// Seconds an image request waits for a build in progress before it is answered directly.
    pub wait_secs: f64,
    /// A store shared by the replicas of a cluster, `s3://bucket/prefix`, so that each pyramid is
    /// built once: pyramids missing from `dir` are copied from there, and those built here are put
    /// there. Unset: each server has its own pyramids.
    pub shared: Option<String>,
    /// Seconds a build lease in the shared store holds without renewal (a running build renews it
    /// every quarter of this); an older one is taken over, its builder being gone.
    pub lease_secs: f64,
}

impl Default for PyramidConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_pixels: 16_000_000,
            jpeg2000: true,
            dir: std::env::temp_dir().join("tessera-pyramids"),
            max_bytes: 4 << 30,
            min_free_bytes: 1 << 30,
            quality: 97,
            builds: 1,
            wait_secs: 30.0,
            shared: None,
            lease_secs: 600.0,
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

/// `[iiif]`: where each Image API version is mounted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IiifConfig {
    /// The path of the Image API 2.1 service: `/iiif/2`, another path such as `/loris`, or `/`
    /// for the root (then identifiers start right after the host).
    pub v2_prefix: String,
    /// The path of the Image API 3.0 service, likewise (only one version may be at the root).
    pub v3_prefix: String,
}

impl Default for IiifConfig {
    fn default() -> Self {
        Self {
            v2_prefix: "/iiif/2".into(),
            v3_prefix: "/iiif/3".into(),
        }
    }
}

/// `[colour]`: how source colour and orientation are interpreted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ColourConfig {
    /// `"srgb"` converts pixels with an embedded ICC profile to sRGB; `"keep"` leaves them as stored
    /// and embeds the profile in JPEG, PNG, WebP and TIFF output.
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
    /// Keep the stored values, and embed the profile in the output.
    Keep,
}
