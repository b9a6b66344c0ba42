//! The command line: `tessera serve` and its options.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Tessera: a IIIF Image API 2.1 and 3.0 server.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve images over the IIIF Image API (3.0 under /iiif/3/, 2.1 under /iiif/2/).
    Serve(ServeArgs),
    /// Check a whole collection: read info.json and render a sample resize of every image, in
    /// parallel, then print a summary and optionally write a JSON or CSV report.
    Check(CheckArgs),
    /// Build the pyramids of a collection ahead of time (large plain TIFFs and JPEGs, as the
    /// server would on first touch), in parallel, into the store `[pyramid]` names; what is built
    /// already or needs none is skipped. Non-zero exit when any build failed.
    Pyramid(PyramidArgs),
    /// Write a static IIIF Level 0 tree of every image (OUT/{identifier}/info.json with sizes and
    /// tiles, and every tile and size it lists), for serving from a bucket, CDN or plain web
    /// server with no image server
    #[command(override_usage = "tessera export [OPTIONS] --base-url <URL> [SOURCE] <OUT>")]
    Export(ExportArgs),
    /// Manage the derivative cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Exit 0 if the server on this host answers 200 on /health/ready (a container health check).
    Health(HealthArgs),
}

/// Options of `tessera health`.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The server's listen address (0.0.0.0 and [::] are probed on loopback); by default the one
    /// `TESSERA_SERVER_LISTEN` names, else 127.0.0.1:8080.
    #[arg(long, env = "TESSERA_SERVER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

/// `tessera cache …`
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Delete cached derivatives from the disk cache: of one identifier, or all. Works on a stopped or
    /// running server's folder; a running server also keeps small responses in memory, which only
    /// `POST /admin/cache/purge` clears.
    Purge(PurgeArgs),
}

/// Options of `tessera cache purge`.
#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// A TOML config file, as for `tessera serve`, for cache.dir and images.root.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The cache folder (overrides cache.dir).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// The image folder (overrides images.root), to find the identifier's file.
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// Purge only this identifier's derivatives (as in URLs, percent-decoded); all when omitted.
    #[arg(long, value_name = "ID")]
    pub identifier: Option<String>,
}

/// Options of `tessera pyramid`.
#[derive(Debug, Args, Default)]
pub struct PyramidArgs {
    /// A folder of images, a text file of identifiers, or nothing for every identifier the
    /// config's rules serve (as for `tessera check`)
    #[arg(value_name = "SOURCE")]
    pub source: Option<PathBuf>,
    /// A TOML config file, as for `tessera serve` (`[pyramid]` names the store)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Folder the identifiers of a list are relative to [default: SOURCE when it is a folder]
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// Pyramids built at once [default: the number of cores]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

/// Options of `tessera check`.
#[derive(Debug, Args, Default)]
pub struct CheckArgs {
    /// A folder of images (every file with an image extension, recursively), or a text file
    /// listing one identifier per line (resolved through the config's rules or --images, or by
    /// --server). Without it, every identifier the config's rules serve is checked: each source
    /// they name is listed (folders walked, S3 buckets listed) and mapped back through the rules
    #[arg(value_name = "SOURCE")]
    pub source: Option<PathBuf>,
    /// A running IIIF server (e.g. http://127.0.0.1:8080/iiif/3) to check over plain HTTP
    /// instead of decoding in this process
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Write a per-image report: JSON (an array) unless the name ends in .csv
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Images checked at once [default: the number of cores]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Longest side of the sample resize; images smaller than this are rendered at full size
    #[arg(long, value_name = "PIXELS", default_value_t = 1000)]
    pub sample_size: u32,
    /// A TOML config file, as for `tessera serve` (limits, colour and orientation settings)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Folder the identifiers of a list are relative to [default: SOURCE when it is a folder]
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// Seconds allowed per HTTP request in --server and --compare-with mode
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub timeout: u64,
    /// A JSON report of an earlier run (--report): report every image whose status, info.json
    /// size, output size or rendition differs from it; the exit status is then non-zero on any change
    #[arg(long, value_name = "FILE", conflicts_with = "compare_with")]
    pub baseline: Option<PathBuf>,
    /// A second IIIF server (e.g. the old version) to check the same images on and compare with,
    /// as with --baseline
    #[arg(long, value_name = "URL")]
    pub compare_with: Option<String>,
    /// Largest mean difference per channel (0-255) between two renditions' 32x32 fingerprints
    /// that still counts as unchanged
    #[arg(long, value_name = "LEVEL", default_value_t = 3.0)]
    pub tolerance: f64,
}

/// Options of `tessera export`.
#[derive(Debug, Args, Default)]
pub struct ExportArgs {
    /// [SOURCE] OUT: the images (a folder, or a text file of identifiers resolved through the
    /// config's rules or --images; without SOURCE, every identifier the config's rules serve) and
    /// the folder the tree is written to. Each image goes to OUT/{identifier}/ (an identifier's `/`
    /// makes subfolders: static servers decode the `%2F` of its URL to `/`); info.json is written
    /// last, so an image without one is incomplete and is exported again
    #[arg(value_name = "PATH", num_args = 1..=2, required = true)]
    pub paths: Vec<PathBuf>,
    /// The URL the tree will be served at: ids are URL/{identifier, percent-encoded}
    #[arg(long, value_name = "URL")]
    pub base_url: String,
    /// IIIF Image API version of info.json and the file names: 3 or 2 (2.1)
    #[arg(long, value_name = "VERSION", default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=3))]
    pub version: u8,
    /// Tile width and height [default: output.tile_size of the config, 512]
    #[arg(long, value_name = "PIXELS", value_parser = clap::value_parser!(u32).range(64..=4096))]
    pub tile: Option<u32>,
    /// JPEG quality, 1-100 [default: output.jpeg_quality of the config, 85]
    #[arg(long, value_name = "Q", value_parser = clap::value_parser!(u8).range(1..=100))]
    pub quality: Option<u8>,
    /// Images exported at once [default: the number of cores]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Largest level, in pixels, also written whole and listed in `sizes` (the full image too,
    /// as full/max or full/full, when it is this small); larger levels are held in memory as tiles only
    #[arg(long, value_name = "PIXELS", default_value_t = 4_194_304)]
    pub sizes_up_to: u64,
    /// Export again images whose info.json already exists (they are skipped otherwise)
    #[arg(long)]
    pub force: bool,
    /// A TOML config file, as for `tessera serve` (sources, rules, limits, colour settings)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Folder the identifiers of a list are relative to [default: SOURCE when it is a folder]
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
}

/// Options of `tessera serve`. Each overrides the config file and the environment.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// A TOML config file (see config/tessera.example.toml). Keys can also be set by environment
    /// variables named TESSERA_<SECTION>_<KEY>, e.g. TESSERA_LIMITS_MAX_WIDTH=4000.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where images come from: a folder, s3://BUCKET/PREFIX or http(s)://HOST/PATH/; an identifier is a
    /// path or key under it [default: the sample images in the repo]. S3 endpoint, region and credentials
    /// come from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (AWS_ALLOW_HTTP=true
    /// for a plain-http endpoint); with an endpoint, path-style addressing is used
    #[arg(long, value_name = "DIR|URL")]
    pub images: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Public base URL used in info.json ids and Link headers (e.g. https://images.example.org),
    /// instead of the request's Host / X-Forwarded-Host and X-Forwarded-Proto
    #[arg(long, value_name = "URL")]
    pub public_base_url: Option<String>,
    /// Largest output width allowed (maxWidth in info.json)
    #[arg(long, value_name = "PIXELS")]
    pub max_width: Option<u32>,
    /// Largest output height allowed (maxHeight in info.json)
    #[arg(long, value_name = "PIXELS")]
    pub max_height: Option<u32>,
    /// Largest output area allowed (maxArea in info.json)
    #[arg(long, value_name = "PIXELS")]
    pub max_area: Option<u64>,
    /// How many times its region's size an upscaled output may be, per side [default: 4]
    #[arg(long, value_name = "FACTOR")]
    pub max_scale: Option<f64>,
    /// Log format: text or json [default: text]
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Keep rendered images in this folder (the disk cache; off when unset)
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Most bytes the disk cache may hold [default: 10 GiB]
    #[arg(long, value_name = "BYTES")]
    pub cache_max_bytes: Option<u64>,
}
