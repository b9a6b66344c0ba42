//! Values that parse but cannot work are refused, naming the key.

use tessera_iiif::OutputFormat;

use super::{Config, ConfigError};

impl Config {
    /// `output.preferred_formats` as formats, in order; an entry Tessera does not serve, or one
    /// given twice, is refused.
    pub fn preferred_formats(&self) -> Result<Vec<OutputFormat>, ConfigError> {
        let mut formats = Vec::new();
        for name in &self.output.preferred_formats {
            let format: OutputFormat = name.parse().map_err(|()| {
                let served: Vec<&str> = OutputFormat::ALL.iter().map(|f| f.extension()).collect();
                ConfigError::Invalid(format!(
                    "output.preferred_formats: {name:?} is not a format Tessera serves ({})",
                    served.join(", ")
                ))
            })?;
            if formats.contains(&format) {
                return Err(ConfigError::Invalid(format!(
                    "output.preferred_formats lists {name:?} twice"
                )));
            }
            formats.push(format);
        }
        Ok(formats)
    }

    /// Refuse what cannot work, with the key's name.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if let Err(e) = self.mounts() {
            return bad(e.to_string());
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if let Some(info) = &rule.info {
                if let Err(e) = tessera_iiif::InfoExtras::from_json(info) {
                    return bad(format!("rules[{i}].info: {e}"));
                }
            }
        }
        if !(self.limits.max_scale.is_finite() && self.limits.max_scale >= 1.0) {
            return bad(format!(
                "limits.max_scale must be at least 1, not {}",
                self.limits.max_scale
            ));
        }
        for (name, q) in [
            ("output.jpeg_quality", self.output.jpeg_quality),
            ("output.webp_quality", self.output.webp_quality),
            ("output.avif_quality", self.output.avif_quality),
            ("pyramid.quality", self.pyramid.quality),
        ] {
            if !(1..=100).contains(&q) {
                return bad(format!("{name} must be from 1 to 100, not {q}"));
            }
        }
        self.preferred_formats()?;
        if self.pyramid.enabled && self.pyramid.builds == 0 {
            return bad(
                "pyramid.builds must be at least 1 (or set pyramid.enabled = false)".into(),
            );
        }
        if self.output.tile_size > 4096 {
            return bad(format!(
                "output.tile_size must be at most 4096, not {}",
                self.output.tile_size
            ));
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
            ("pyramid.wait_secs", self.pyramid.wait_secs),
            ("pyramid.lease_secs", self.pyramid.lease_secs),
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
}
