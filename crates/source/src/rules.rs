//! Identifier rules: an ordered list mapping an identifier to a source and a key, by prefix or by a
//! regular expression with captures expanded into a key template. The first matching rule wins.

use crate::error::SourceError;
use crate::reverse::{IdentifierShape, KeyInverse};
use regex::Regex;
use serde::Deserialize;

/// One rule as written in the config (`[[rules]]`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Match identifiers starting with this; captures `rest` (after the prefix), `stem` (rest without
    /// its extension) and `ext`.
    pub prefix: Option<String>,
    /// Or match this regular expression (searched as written: anchor it with `^…$`).
    pub pattern: Option<String>,
    /// The name of the source (`[[sources]]`, or `images` for `[images] root`).
    pub source: String,
    /// The key template: `$1`, `${name}` expand captures. Default `${rest}` for prefix rules, `$0` for patterns.
    pub key: Option<String>,
    /// Key templates tried in order when the object is missing or cannot be decoded.
    #[serde(default)]
    pub alternates: Vec<String>,
    /// Additions to `info.json` for the identifiers this rule serves (`rights`, `seeAlso`, …), with
    /// `$1`, `${name}` in every string expanded from the identifier's captures.
    #[serde(default)]
    pub info: Option<serde_json::Value>,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    regex: Regex,
    source: String,
    keys: Vec<String>,
    /// The identifier pattern as text and groups, when it can be rebuilt from captures.
    shape: Option<IdentifierShape>,
    /// Each key template run backwards (primary first), where it can be.
    inverses: Vec<KeyInverse>,
    /// The `info.json` additions template.
    info: Option<serde_json::Value>,
}

/// Where to look for an identifier: one source and one key in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The source's name.
    pub source: String,
    /// The key (object key, URL path or relative file path) under the source.
    pub key: String,
}

impl Rule {
    /// Compile `config`, or say why it is invalid.
    pub fn new(config: &RuleConfig) -> Result<Self, String> {
        let (regex, default_key) = match (&config.prefix, &config.pattern) {
            (Some(prefix), None) => (
                format!(
                    r"^{}(?P<rest>(?P<stem>.*?)(?:\.(?P<ext>[A-Za-z0-9]+))?)$",
                    regex::escape(prefix)
                ),
                "${rest}",
            ),
            (None, Some(pattern)) => (pattern.clone(), "$0"),
            _ => return Err("a rule needs exactly one of `prefix` and `pattern`".into()),
        };
        let shape = IdentifierShape::of(&regex);
        let regex = Regex::new(&regex).map_err(|e| format!("rule pattern: {e}"))?;
        let mut keys = vec![config.key.clone().unwrap_or_else(|| default_key.into())];
        keys.extend(config.alternates.iter().cloned());
        let inverses = keys
            .iter()
            .filter_map(|k| KeyInverse::new(k, &regex))
            .collect();
        Ok(Self {
            regex,
            source: config.source.clone(),
            keys,
            shape,
            inverses,
            info: config.info.clone(),
        })
    }

    /// The source this rule names.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Identifiers this rule may map to `key` of its source (unchecked: see [`Rules::identifiers_for`]).
    fn identifiers_for<'a>(&'a self, key: &'a str) -> impl Iterator<Item = String> + 'a {
        self.inverses
            .iter()
            .filter_map(move |inverse| inverse.identifier(key, self.shape.as_ref()))
    }

    /// The candidates for `identifier` (key first, then alternates), or `None` when the rule does not match.
    fn candidates(&self, identifier: &str) -> Option<Result<Vec<Candidate>, SourceError>> {
        let captures = self.regex.captures(identifier)?;
        let mut out: Vec<Candidate> = Vec::with_capacity(self.keys.len());
        for template in &self.keys {
            let mut key = String::new();
            captures.expand(template, &mut key);
            if let Err(e) = checked_key(&key) {
                return Some(Err(e));
            }
            let candidate = Candidate {
                source: self.source.clone(),
                key,
            };
            if !out.contains(&candidate) {
                out.push(candidate);
            }
        }
        Some(Ok(out))
    }
}

/// The ordered rule list.
#[derive(Debug, Clone, Default)]
pub struct Rules(Vec<Rule>);

impl Rules {
    /// Compile every rule, in order.
    pub fn new(configs: &[RuleConfig]) -> Result<Self, String> {
        configs
            .iter()
            .enumerate()
            .map(|(i, c)| Rule::new(c).map_err(|e| format!("rules[{i}]: {e}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Rules)
    }

    /// The rules, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        self.0.iter()
    }

    /// Where `identifier` may be, in the order to try: the first matching rule's key and alternates.
    pub fn candidates(&self, identifier: &str) -> Result<Vec<Candidate>, SourceError> {
        if identifier.is_empty() || identifier.chars().any(char::is_control) {
            return Err(SourceError::Invalid(
                "empty, or contains control characters".into(),
            ));
        }
        self.0
            .iter()
            .find_map(|rule| rule.candidates(identifier))
            .unwrap_or(Err(SourceError::NotFound))
    }

    /// The `info.json` additions of the first rule matching `identifier` (the rule that serves it),
    /// with its captures expanded into every string; `None` when that rule has none.
    pub fn info_template(&self, identifier: &str) -> Option<serde_json::Value> {
        let (rule, captures) = self
            .0
            .iter()
            .find_map(|rule| Some((rule, rule.regex.captures(identifier)?)))?;
        rule.info.as_ref().map(|t| expand(t, &captures))
    }

    /// The identifiers under which object `key` of `source` is served (as the object itself or as
    /// an alternate), found by running the rules backwards and kept only when running them forwards
    /// leads back to it. Rules whose pattern has classes or repetitions cannot be run backwards.
    pub fn identifiers_for(&self, source: &str, key: &str) -> Vec<String> {
        let target = Candidate {
            source: source.into(),
            key: key.into(),
        };
        let mut found: Vec<String> = Vec::new();
        for rule in self.0.iter().filter(|r| r.source == source) {
            for id in rule.identifiers_for(key) {
                let leads_back = self
                    .candidates(&id)
                    .is_ok_and(|candidates| candidates.contains(&target));
                if leads_back && !found.contains(&id) {
                    found.push(id);
                }
            }
        }
        found
    }
}

/// `template` with `$1`, `${name}` expanded from `captures` in every string (keys left alone).
fn expand(template: &serde_json::Value, captures: &regex::Captures<'_>) -> serde_json::Value {
    use serde_json::Value;
    match template {
        Value::String(s) => {
            let mut out = String::new();
            captures.expand(s, &mut out);
            Value::String(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| expand(v, captures)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), expand(v, captures)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A key made from an identifier must be a relative path of plain segments: never `..`, `.`, empty
/// segments, a leading `/`, backslashes or control characters, so that no rule can reach outside its source.
pub fn checked_key(key: &str) -> Result<(), SourceError> {
    let invalid = |why: &str| Err(SourceError::Invalid(why.to_string()));
    if key.is_empty() {
        return invalid("empty key");
    }
    if key.chars().any(|c| c.is_control() || c == '\\') {
        return invalid("control characters and backslashes are not allowed");
    }
    if key.starts_with('/') {
        return invalid("absolute paths are not allowed");
    }
    if key
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return invalid("empty, '.' and '..' segments are not allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        prefix: Option<&str>,
        pattern: Option<&str>,
        source: &str,
        key: Option<&str>,
        alt: &[&str],
    ) -> RuleConfig {
        RuleConfig {
            prefix: prefix.map(Into::into),
            pattern: pattern.map(Into::into),
            source: source.into(),
            key: key.map(Into::into),
            alternates: alt.iter().map(|s| s.to_string()).collect(),
            info: None,
        }
    }

    #[test]
    fn info_templates_expand_the_serving_rules_captures() {
        let mut with_info = rule(None, Some(r"^lax:(\d+)/(.+)\.tif$"), "b", None, &[]);
        with_info.info = Some(serde_json::json!({
            "rights": "https://creativecommons.org/licenses/by/4.0/",
            "seeAlso": [{"id": "https://doi.org/10.7554/eLife.$1", "type": "Dataset", "n": 3}]
        }));
        let rules = Rules::new(&[with_info, rule(Some(""), None, "b", None, &[])]).unwrap();
        let t = rules.info_template("lax:13410/fig4.tif").unwrap();
        assert_eq!(t["seeAlso"][0]["id"], "https://doi.org/10.7554/eLife.13410");
        assert_eq!(t["seeAlso"][0]["n"], 3);
        assert_eq!(t["rights"], "https://creativecommons.org/licenses/by/4.0/");
        // The prefix rule serves this one, and has no template.
        assert!(rules.info_template("other.tif").is_none());
    }

    fn c(source: &str, key: &str) -> Candidate {
        Candidate {
            source: source.into(),
            key: key.into(),
        }
    }

    #[test]
    fn objects_map_back_to_the_identifiers_that_serve_them() {
        let rules = Rules::new(&[
            rule(
                None,
                Some(r"^lax:(\d+)/(.+)\.tif$"),
                "bucket",
                Some("articles/$1/$2.tif"),
                &["articles/$1/$2.jpg"],
            ),
            rule(Some("s3:"), None, "bucket", None, &[]),
            rule(Some("web:"), None, "web", None, &["${stem}.jpg"]),
            rule(None, Some(r"^[a-z]+$"), "bucket", None, &[]),
        ])
        .unwrap();
        let ids = |source: &str, key: &str| rules.identifiers_for(source, key);
        assert_eq!(
            ids("bucket", "articles/7/fig.tif"),
            vec!["lax:7/fig.tif", "s3:articles/7/fig.tif"]
        );
        // A fallback copy is listed under the identifier it stands in for.
        assert_eq!(
            ids("bucket", "articles/7/fig.jpg"),
            vec!["lax:7/fig.tif", "s3:articles/7/fig.jpg"]
        );
        assert_eq!(ids("bucket", "quick/a.png"), vec!["s3:quick/a.png"]);
        assert_eq!(ids("web", "x/y.png"), vec!["web:x/y.png"]);
        // Another source's objects, and keys only a non-invertible rule could serve, map to nothing.
        assert!(ids("web", "articles/7/fig.tif")
            .iter()
            .all(|i| i.starts_with("web:")));
        assert!(ids("other", "a.png").is_empty());
    }

    #[test]
    fn pattern_with_captures_and_template() {
        let rules = Rules::new(&[rule(
            None,
            Some(r"^lax:(\d+)/(.+)\.tif$"),
            "published",
            Some("articles/$1/$2.tif"),
            &["articles/${1}/${2}.jpg"],
        )])
        .unwrap();
        assert_eq!(
            rules
                .candidates("lax:13410/elife-13410-fig4-v2.tif")
                .unwrap(),
            vec![
                c("published", "articles/13410/elife-13410-fig4-v2.tif"),
                c("published", "articles/13410/elife-13410-fig4-v2.jpg"),
            ]
        );
        assert!(matches!(
            rules.candidates("lax:x/a.tif"),
            Err(SourceError::NotFound)
        ));
    }

    #[test]
    fn first_match_wins_and_no_match_is_not_found() {
        let rules = Rules::new(&[
            rule(Some("s3:"), None, "bucket", None, &["${stem}.jpg"]),
            rule(Some(""), None, "images", None, &[]),
        ])
        .unwrap();
        assert_eq!(
            rules.candidates("s3:a/fig4.tif").unwrap(),
            vec![c("bucket", "a/fig4.tif"), c("bucket", "a/fig4.jpg")]
        );
        assert_eq!(
            rules.candidates("grace").unwrap(),
            vec![c("images", "grace")]
        );
        let only = Rules::new(&[rule(Some("x/"), None, "a", None, &[])]).unwrap();
        assert!(matches!(only.candidates("y/1"), Err(SourceError::NotFound)));
        assert!(matches!(
            Rules::default().candidates("a"),
            Err(SourceError::NotFound)
        ));
    }

    #[test]
    fn keys_never_escape_their_source() {
        let rules = Rules::new(&[rule(Some("p:"), None, "a", Some("base/${rest}"), &[])]).unwrap();
        for id in [
            "p:../x",
            "p:a/../../x",
            "p:/etc/passwd",
            "p:a//b",
            "p:./a",
            "p:a\\b",
        ] {
            assert!(
                matches!(rules.candidates(id), Err(SourceError::Invalid(_))),
                "{id}"
            );
        }
        assert!(matches!(
            rules.candidates("p:a\0b"),
            Err(SourceError::Invalid(_))
        ));
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(Rule::new(&rule(None, None, "a", None, &[])).is_err());
        assert!(Rule::new(&rule(Some("a"), Some("b"), "a", None, &[])).is_err());
        assert!(Rule::new(&rule(None, Some("("), "a", None, &[])).is_err());
    }
}
