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
}
