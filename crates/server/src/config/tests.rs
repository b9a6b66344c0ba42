//! The config's layers, defaults and checks.

use super::*;
use crate::cli::ServeArgs;
use std::path::Path;

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
    assert_eq!(config.output.avif_quality, 80);
    assert!(config.output.preferred_formats.is_empty());
    assert_eq!(config.http.info_max_age, 3_600);
    assert_eq!(config.cache.max_files, 1_000_000);
    assert_eq!(config.server.shutdown_grace_secs, 30.0);
    assert_eq!(config.server.max_connections, 1024);
    assert_eq!(config.server.header_read_timeout_secs, 10.0);
    assert!(config.server.trusted_proxies.is_empty());
    assert_eq!(config.mounts().unwrap(), tessera_iiif::Mounts::default());
}

#[test]
fn mounts_and_rule_info_templates_are_checked() {
    let load = |pairs: &[(&str, &str)]| Config::load(&ServeArgs::default(), env(pairs));
    let root = load(&[("TESSERA_IIIF_V2_PREFIX", "/")]).unwrap();
    assert_eq!(
        root.mounts().unwrap().prefix(tessera_iiif::ApiVersion::V2),
        ""
    );
    let both = load(&[
        ("TESSERA_IIIF_V2_PREFIX", "/"),
        ("TESSERA_IIIF_V3_PREFIX", ""),
    ]);
    assert!(matches!(both, Err(ConfigError::Invalid(m)) if m.contains("share one mount")));
    let rule = |info: &str| -> Result<Config, ConfigError> {
        let table: toml::Table =
            format!("[[rules]]\nprefix = \"\"\nsource = \"images\"\ninfo = {info}\n")
                .parse()
                .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        config.validate().map(|()| config)
    };
    assert!(rule(r#"{ rights = "https://rightsstatements.org/vocab/InC/1.0/" }"#).is_ok());
    let bad = rule(r#"{ seeAlso = [{ id = "https://doi.org/$1" }] }"#);
    assert!(
        matches!(bad, Err(ConfigError::Invalid(m)) if m.contains("rules[0].info: seeAlso[0].type"))
    );
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

#[test]
fn preferred_formats_are_read_in_order_from_a_list_or_a_variable_and_must_be_served() {
    use tessera_iiif::OutputFormat;
    let config = Config::load(&ServeArgs::default(), []).unwrap();
    assert!(config.preferred_formats().unwrap().is_empty());
    assert_eq!(config.output.avif_quality, 80);
    let config = Config::load(
        &ServeArgs::default(),
        env(&[("TESSERA_OUTPUT_PREFERRED_FORMATS", "avif, webp,jpg")]),
    )
    .unwrap();
    assert_eq!(
        config.preferred_formats().unwrap(),
        [OutputFormat::Avif, OutputFormat::Webp, OutputFormat::Jpg]
    );
    let config = Config::load(
        &ServeArgs::default(),
        env(&[("TESSERA_OUTPUT_PREFERRED_FORMATS", "[\"png\"]")]),
    )
    .unwrap();
    assert_eq!(config.preferred_formats().unwrap(), [OutputFormat::Png]);
    for (value, needle) in [
        ("jp2", "\"jp2\" is not a format Tessera serves"),
        ("webp,JPG", "\"JPG\" is not a format"),
        ("webp,webp", "lists \"webp\" twice"),
    ] {
        let err = Config::load(
            &ServeArgs::default(),
            env(&[("TESSERA_OUTPUT_PREFERRED_FORMATS", value)]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("output.preferred_formats"), "{err}");
        assert!(err.contains(needle), "{value}: {err}");
    }
    let err = Config::load(
        &ServeArgs::default(),
        env(&[("TESSERA_OUTPUT_AVIF_QUALITY", "0")]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("output.avif_quality must be from 1 to 100"),
        "{err}"
    );
}

#[test]
fn pyramid_settings_follow_the_output_tile_and_bad_values_are_refused() {
    let load = |pairs: &[(&str, &str)]| Config::load(&ServeArgs::default(), env(pairs));
    let config = load(&[("TESSERA_OUTPUT_TILE_SIZE", "256")]).unwrap();
    let settings = config.pyramid_settings().unwrap();
    assert_eq!(settings.spec.tile, 256);
    assert_eq!(settings.spec.quality, 97);
    assert_eq!(settings.min_pixels, 16_000_000);
    assert!(settings.jpeg2000);
    assert_eq!(settings.max_pixels, 400_000_000);
    let j2k_off = load(&[("TESSERA_PYRAMID_JPEG2000", "false")]).unwrap();
    assert!(!j2k_off.pyramid_settings().unwrap().jpeg2000);
    let off = load(&[("TESSERA_PYRAMID_ENABLED", "false")]).unwrap();
    assert!(off.pyramid_settings().is_none());
    for (key, value, says) in [
        ("TESSERA_PYRAMID_QUALITY", "0", "pyramid.quality"),
        ("TESSERA_PYRAMID_BUILDS", "0", "pyramid.builds"),
        ("TESSERA_PYRAMID_WAIT_SECS", "-1", "pyramid.wait_secs"),
        ("TESSERA_OUTPUT_TILE_SIZE", "5000", "output.tile_size"),
    ] {
        let e = load(&[(key, value)]).unwrap_err().to_string();
        assert!(e.contains(says), "{key}={value}: {e}");
    }
}
