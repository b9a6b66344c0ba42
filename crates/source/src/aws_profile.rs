//! The profile part of the standard AWS credential chain, which `object_store` does not read: static keys
//! from the shared credentials file and the region from the config file, for `AWS_PROFILE` (or `default`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Keys and region found for one profile.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Profile {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub region: Option<String>,
}

impl Profile {
    /// The profile named by `AWS_PROFILE` (default `default`) in `AWS_SHARED_CREDENTIALS_FILE` /
    /// `~/.aws/credentials` and `AWS_CONFIG_FILE` / `~/.aws/config`. Missing files give an empty profile.
    pub(crate) fn from_environment() -> Self {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        let home = var("HOME").map(PathBuf::from);
        let aws = |file: &str| home.as_ref().map(|h| h.join(".aws").join(file));
        let credentials = var("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .or_else(|| aws("credentials"));
        let config = var("AWS_CONFIG_FILE")
            .map(PathBuf::from)
            .or_else(|| aws("config"));
        let name = var("AWS_PROFILE").unwrap_or_else(|| "default".into());
        Self::read(credentials.as_deref(), config.as_deref(), &name)
    }

    /// The profile `name` from the given files.
    pub(crate) fn read(credentials: Option<&Path>, config: Option<&Path>, name: &str) -> Self {
        let load = |p: Option<&Path>| p.and_then(|p| std::fs::read_to_string(p).ok());
        let creds = load(credentials)
            .map(|t| section(&t, name))
            .unwrap_or_default();
        let config_section = if name == "default" {
            "default".to_string()
        } else {
            format!("profile {name}")
        };
        let conf = load(config)
            .map(|t| section(&t, &config_section))
            .unwrap_or_default();
        let get = |key: &str| creds.get(key).or_else(|| conf.get(key)).cloned();
        Self {
            access_key_id: get("aws_access_key_id"),
            secret_access_key: get("aws_secret_access_key"),
            session_token: get("aws_session_token"),
            region: conf.get("region").cloned(),
        }
    }
}

/// The `key = value` lines of INI section `[name]`.
fn section(text: &str, name: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = header.trim() == name;
        } else if inside {
            if let Some((k, v)) = line.split_once('=') {
                out.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keys_and_region_of_the_named_profile() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        let config = dir.path().join("config");
        std::fs::write(
            &creds,
            "[default]\naws_access_key_id = AKDEF\naws_secret_access_key = sdef\n\n[work]\n# comment\naws_access_key_id=AKWORK\naws_secret_access_key = swork\naws_session_token = tok\n",
        )
        .unwrap();
        std::fs::write(
            &config,
            "[default]\nregion = us-east-1\n[profile work]\nregion = eu-west-1\n",
        )
        .unwrap();
        let work = Profile::read(Some(&creds), Some(&config), "work");
        assert_eq!(work.access_key_id.as_deref(), Some("AKWORK"));
        assert_eq!(work.secret_access_key.as_deref(), Some("swork"));
        assert_eq!(work.session_token.as_deref(), Some("tok"));
        assert_eq!(work.region.as_deref(), Some("eu-west-1"));
        let default = Profile::read(Some(&creds), Some(&config), "default");
        assert_eq!(default.access_key_id.as_deref(), Some("AKDEF"));
        assert_eq!(default.region.as_deref(), Some("us-east-1"));
        assert_eq!(
            Profile::read(Some(&dir.path().join("none")), None, "x"),
            Profile::default()
        );
    }
}
