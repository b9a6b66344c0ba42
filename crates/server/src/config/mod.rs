//! Configuration: one typed struct, read from defaults, then a TOML file, then `TESSERA_*` environment
//! variables, then command-line flags, each overriding the one before.
//!
//! - `schema.rs`: the sections and their defaults (what can be said, and what is assumed);
//! - `layer.rs`: the environment and flag layers on top of the file;
//! - `validate.rs`: values that parse but cannot work are refused with the key's name;
//! - `settings.rs`: the config turned into the domain's settings, in one place.

mod layer;
mod schema;
mod settings;
#[cfg(test)]
mod tests;
mod validate;

pub use layer::ENV_PREFIX;
pub use schema::*;

use crate::cli::ServeArgs;
use std::path::PathBuf;

/// Everything Tessera can be told.
#[derive(Debug, Clone, serde::Deserialize, Default)]
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
    /// `[iiif]`: the mount point of each API version.
    pub iiif: IiifConfig,
    /// `[pyramid]`: pyramids of large plain images, built on first touch.
    pub pyramid: PyramidConfig,
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
        layer::apply_env(&mut table, env)?;
        let mut config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        config.apply_args(args);
        config.validate()?;
        Ok(config)
    }
}
