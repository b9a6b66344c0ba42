//! The layers over the config file: `TESSERA_*` environment variables, then command-line flags.

use super::{Config, ConfigError};
use crate::cli::ServeArgs;

/// The prefix of environment variables that override config keys: `TESSERA_<SECTION>_<KEY>`.
pub const ENV_PREFIX: &str = "TESSERA_";

impl Config {
    /// Put the command line's flags over everything else.
    pub(super) fn apply_args(&mut self, args: &ServeArgs) {
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
}

/// The config sections, as named in TOML and in environment variables.
const SECTIONS: [&str; 13] = [
    "server", "images", "limits", "output", "log", "fetch", "cache", "http", "admin", "colour",
    "viewer", "iiif", "pyramid",
];

/// Put `TESSERA_<SECTION>_<KEY>=value` variables into `table` as `[section] key = value`.
/// Values are read as TOML (numbers, booleans) when they parse as such, otherwise as strings.
/// Variables whose first word is not a section (`TESSERA_LOG`, `TESSERA_BIN`) are not config keys and
/// are left alone; an unknown key inside a known section is an error, so typos are caught.
pub(super) fn apply_env(
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
