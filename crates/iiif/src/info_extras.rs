//! Per-image additions to `info.json`: `rights`, `attribution`, `partOf`, `seeAlso`, `service` and
//! `preferredFormats`, from a sidecar file or a rule's template. Validated once into
//! [`InfoExtras`], then merged into a built document of either version, so a bad sidecar can never
//! produce a broken `info.json`.
//!
//! 3.0 gets `rights`, `partOf`, `seeAlso`, `service` and `preferredFormats` (Image API 3.0 §5.7–5.8);
//! 2.1 gets `license` (from `rights`), `attribution`, `seeAlso` and `service` with `@id`/`@type`
//! (Image API 2.1 §5.3–5.4). `attribution` has no 3.0 home in the Image API and `partOf` and
//! `preferredFormats` none in 2.1: each is left out of the version that lacks it.

use crate::{ApiVersion, OutputFormat};
use serde_json::{json, Map, Value};
use std::str::FromStr;

/// The profile URI of the physical dimensions service.
pub const PHYSDIM_PROFILE: &str = "http://iiif.io/api/annex/services/physdim";
/// The JSON-LD context of the physical dimensions service.
pub const PHYSDIM_CONTEXT: &str = "http://iiif.io/api/annex/services/physdim/1/context.json";

/// The keys an extras object may have.
pub const KEYS: [&str; 6] = [
    "rights",
    "attribution",
    "partOf",
    "seeAlso",
    "service",
    "preferredFormats",
];

/// Validated additions to one image's `info.json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InfoExtras {
    /// `rights` (3.0) / `license` (2.1): a URI.
    pub rights: Option<String>,
    /// `attribution` (2.1 only): a plain string.
    pub attribution: Option<String>,
    /// `partOf` (3.0 only): objects with `id` and `type`.
    pub part_of: Vec<Map<String, Value>>,
    /// `seeAlso`: objects with `id` and `type`.
    pub see_also: Vec<Map<String, Value>>,
    /// `service`: objects with `id` or `@id` and `type` or `@type`.
    pub service: Vec<Map<String, Value>>,
    /// `preferredFormats` (3.0 only): formats Tessera serves.
    pub preferred_formats: Option<Vec<OutputFormat>>,
}

/// Why an extras object was refused: the key (JSON path) and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct ExtrasError {
    /// Where: `rights`, `seeAlso[1].id`, …
    pub path: String,
    /// What is wrong.
    pub problem: String,
}

fn err(path: impl Into<String>, problem: impl Into<String>) -> ExtrasError {
    ExtrasError {
        path: path.into(),
        problem: problem.into(),
    }
}

/// Physical units the physdim service allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhysicalUnits {
    /// Millimetres (`mm`).
    Millimetres,
    /// Centimetres (`cm`).
    Centimetres,
    /// Inches (`in`).
    Inches,
}

impl PhysicalUnits {
    /// The annex's name of the unit.
    pub fn as_str(&self) -> &'static str {
        match self {
            PhysicalUnits::Millimetres => "mm",
            PhysicalUnits::Centimetres => "cm",
            PhysicalUnits::Inches => "in",
        }
    }
}

impl InfoExtras {
    /// Validate `value`, an object of [`KEYS`] only; every error names its key.
    pub fn from_json(value: &Value) -> Result<Self, ExtrasError> {
        let object = value
            .as_object()
            .ok_or_else(|| err("(top level)", "must be a JSON object"))?;
        let mut extras = InfoExtras::default();
        for (key, v) in object {
            match key.as_str() {
                "rights" => extras.rights = Some(uri(v, "rights")?.to_string()),
                "attribution" => {
                    let s = v
                        .as_str()
                        .filter(|s| !s.trim().is_empty())
                        .ok_or_else(|| err("attribution", "must be a non-empty string"))?;
                    extras.attribution = Some(s.to_string());
                }
                "partOf" => extras.part_of = resources(v, "partOf")?,
                "seeAlso" => extras.see_also = resources(v, "seeAlso")?,
                "service" => extras.service = services(v)?,
                "preferredFormats" => extras.preferred_formats = Some(formats(v)?),
                other => {
                    return Err(err(
                        other,
                        format!("unknown key; the keys are {}", KEYS.join(", ")),
                    ))
                }
            }
        }
        Ok(extras)
    }

    /// Whether nothing would be added.
    pub fn is_empty(&self) -> bool {
        self == &InfoExtras::default()
    }

    /// `self` with every key that `over` sets replaced by `over`'s (a sidecar over a rule's template).
    pub fn overlaid_by(self, over: InfoExtras) -> InfoExtras {
        let list = |mine: Vec<_>, theirs: Vec<_>| if theirs.is_empty() { mine } else { theirs };
        InfoExtras {
            rights: over.rights.or(self.rights),
            attribution: over.attribution.or(self.attribution),
            part_of: list(self.part_of, over.part_of),
            see_also: list(self.see_also, over.see_also),
            service: list(self.service, over.service),
            preferred_formats: over.preferred_formats.or(self.preferred_formats),
        }
    }

    /// Whether a service with the physdim profile is among the extras (then none is generated).
    pub fn has_physdim(&self) -> bool {
        self.service
            .iter()
            .any(|s| s.get("profile").and_then(Value::as_str) == Some(PHYSDIM_PROFILE))
    }

    /// Add to `doc`, an `info.json` of `version` whose `id` is `service_id`, the physdim service of
    /// `physdim` (scale and units, as the file states them), unless the extras bring their own.
    pub fn add_physdim(
        &self,
        doc: &mut Value,
        version: ApiVersion,
        service_id: &str,
        physdim: Option<(f64, PhysicalUnits)>,
    ) {
        if let (Some((scale, units)), Some(object), false) =
            (physdim, doc.as_object_mut(), self.has_physdim())
        {
            push_service(object, physdim_service(version, service_id, scale, units));
        }
    }

    /// Merge into `doc`, an `info.json` of `version` (a JSON object; anything else is left alone).
    /// Services are appended to any the document has.
    pub fn apply(&self, doc: &mut Value, version: ApiVersion) {
        let Some(doc) = doc.as_object_mut() else {
            return;
        };
        match version {
            ApiVersion::V3 => {
                if let Some(r) = &self.rights {
                    doc.insert("rights".into(), json!(r));
                }
                if !self.part_of.is_empty() {
                    doc.insert("partOf".into(), json!(self.part_of));
                }
                if !self.see_also.is_empty() {
                    doc.insert("seeAlso".into(), json!(self.see_also));
                }
                if let Some(formats) = &self.preferred_formats {
                    let names: Vec<&str> = formats.iter().map(|f| f.extension()).collect();
                    doc.insert("preferredFormats".into(), json!(names));
                }
            }
            ApiVersion::V2 => {
                if let Some(r) = &self.rights {
                    doc.insert("license".into(), json!(r));
                }
                if let Some(a) = &self.attribution {
                    doc.insert("attribution".into(), json!(a));
                }
                if !self.see_also.is_empty() {
                    let v2: Vec<Value> = self.see_also.iter().map(see_also_v2).collect();
                    doc.insert("seeAlso".into(), Value::Array(v2));
                }
            }
        }
        for s in &self.service {
            let s = match version {
                ApiVersion::V3 => Value::Object(s.clone()),
                ApiVersion::V2 => Value::Object(at_keys(s)),
            };
            push_service(doc, s);
        }
    }
}

/// The physical dimensions service of an image whose pixels are each `scale` `units` wide and
/// high, as `version` writes services; `service_id` is the image service's id.
pub fn physdim_service(
    version: ApiVersion,
    service_id: &str,
    scale: f64,
    units: PhysicalUnits,
) -> Value {
    let id = format!("{service_id}#physdim");
    match version {
        ApiVersion::V3 => json!({
            "@context": PHYSDIM_CONTEXT,
            "id": id,
            "type": "PhysicalDimensions",
            "profile": PHYSDIM_PROFILE,
            "physicalScale": scale,
            "physicalUnits": units.as_str(),
        }),
        ApiVersion::V2 => json!({
            "@context": PHYSDIM_CONTEXT,
            "@id": id,
            "profile": PHYSDIM_PROFILE,
            "physicalScale": scale,
            "physicalUnits": units.as_str(),
        }),
    }
}

/// Append `service` to `doc`'s `service` array (made when absent).
pub fn push_service(doc: &mut Map<String, Value>, service: Value) {
    match doc.get_mut("service") {
        Some(Value::Array(list)) => list.push(service),
        Some(one) => {
            let first = one.take();
            *one = Value::Array(vec![first, service]);
        }
        None => {
            doc.insert("service".into(), Value::Array(vec![service]));
        }
    }
}

/// A 3.0 `seeAlso` entry as 2.1 writes one: `@id`, a plain-string `label`, no 3.0 `type`.
fn see_also_v2(entry: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (k, v) in entry {
        match k.as_str() {
            "id" => {
                out.insert("@id".into(), v.clone());
            }
            "type" => {}
            "label" => {
                out.insert("label".into(), plain_label(v));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// A service with 3.0's `id` / `type` written as 2.1's `@id` / `@type` (legacy keys kept).
fn at_keys(service: &Map<String, Value>) -> Map<String, Value> {
    service
        .iter()
        .map(|(k, v)| match k.as_str() {
            "id" if !service.contains_key("@id") => ("@id".to_string(), v.clone()),
            "type" if !service.contains_key("@type") => ("@type".to_string(), v.clone()),
            "label" => (k.clone(), plain_label(v)),
            _ => (k.clone(), v.clone()),
        })
        .collect()
}

/// A 3.0 language map (`{"en": ["A book"]}`) as its first string; anything else as it is.
fn plain_label(v: &Value) -> Value {
    v.as_object()
        .and_then(|m| m.values().next())
        .and_then(|l| l.as_array()?.first().cloned())
        .unwrap_or_else(|| v.clone())
}

/// An absolute `http(s)` URI without spaces.
fn uri<'v>(v: &'v Value, path: &str) -> Result<&'v str, ExtrasError> {
    let s = v
        .as_str()
        .ok_or_else(|| err(path, "must be a URI string"))?;
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Ok(s)
        }
        _ => Err(err(
            path,
            format!("must be an http:// or https:// URI, not {s:?}"),
        )),
    }
}

fn non_empty_str<'v>(v: Option<&'v Value>, path: &str) -> Result<&'v str, ExtrasError> {
    v.and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| err(path, "is required and must be a non-empty string"))
}

/// The objects of array `v`, each with a `label`, if any, that is a 3.0 language map.
fn objects<'v>(v: &'v Value, key: &str) -> Result<Vec<&'v Map<String, Value>>, ExtrasError> {
    let list = v
        .as_array()
        .ok_or_else(|| err(key, "must be an array of objects"))?;
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("{key}[{i}]");
            let o = item
                .as_object()
                .ok_or_else(|| err(&at, "must be an object"))?;
            if let Some(label) = o.get("label") {
                language_map(label, &format!("{at}.label"))?;
            }
            Ok(o)
        })
        .collect()
}

/// A 3.0 language map: `{"en": ["A book"]}` (2.1 documents get its first string).
fn language_map(v: &Value, path: &str) -> Result<(), ExtrasError> {
    let shape = "must be a language map such as {\"en\": [\"A book\"]}";
    let map = v.as_object().ok_or_else(|| err(path, shape))?;
    let strings = |l: &Value| {
        l.as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string))
    };
    if map.is_empty() || !map.values().all(strings) {
        return Err(err(path, shape));
    }
    Ok(())
}

/// `partOf` / `seeAlso`: objects with a URI `id` and a `type`.
fn resources(v: &Value, key: &str) -> Result<Vec<Map<String, Value>>, ExtrasError> {
    objects(v, key)?
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            let at = format!("{key}[{i}]");
            let id = o
                .get("id")
                .ok_or_else(|| err(format!("{at}.id"), "is required"))?;
            uri(id, &format!("{at}.id"))?;
            non_empty_str(o.get("type"), &format!("{at}.type"))?;
            Ok(o.clone())
        })
        .collect()
}

/// `service`: objects with `id` or `@id` and `type` or `@type` (Image API 3.0 §5.8).
fn services(v: &Value) -> Result<Vec<Map<String, Value>>, ExtrasError> {
    objects(v, "service")?
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            let at = format!("service[{i}]");
            let id = o
                .get("id")
                .or_else(|| o.get("@id"))
                .ok_or_else(|| err(format!("{at}.id"), "is required (id or @id)"))?;
            uri(id, &format!("{at}.id"))?;
            non_empty_str(
                o.get("type").or_else(|| o.get("@type")),
                &format!("{at}.type"),
            )
            .map_err(|_| err(format!("{at}.type"), "is required (type or @type)"))?;
            Ok(o.clone())
        })
        .collect()
}

/// `preferredFormats`: format names Tessera serves, each once.
fn formats(v: &Value) -> Result<Vec<OutputFormat>, ExtrasError> {
    let list = v
        .as_array()
        .ok_or_else(|| err("preferredFormats", "must be an array of format names"))?;
    let mut out: Vec<OutputFormat> = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let at = format!("preferredFormats[{i}]");
        let name = item.as_str().ok_or_else(|| err(&at, "must be a string"))?;
        let format = OutputFormat::from_str(name).map_err(|()| {
            let served: Vec<&str> = OutputFormat::ALL.iter().map(|f| f.extension()).collect();
            err(
                &at,
                format!(
                    "{name:?} is not a format Tessera serves ({})",
                    served.join(", ")
                ),
            )
        })?;
        if out.contains(&format) {
            return Err(err(&at, format!("{name:?} is listed twice")));
        }
        out.push(format);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Value {
        json!({
            "rights": "http://creativecommons.org/licenses/by/4.0/",
            "attribution": "eLife Sciences",
            "partOf": [{"id": "https://example.org/manifest/1", "type": "Manifest",
                        "label": {"en": ["A book"]}}],
            "seeAlso": [{"id": "https://doi.org/10.7554/eLife.13410", "type": "Dataset",
                         "label": {"en": ["The article"]}, "format": "text/html"}],
            "service": [{"@id": "https://example.org/auth/login", "@type": "AuthCookieService1",
                         "profile": "http://iiif.io/api/auth/1/login", "label": {"en": ["Log in"]}},
                        {"id": "https://example.org/search", "type": "SearchService1"}],
            "preferredFormats": ["webp", "png"]
        })
    }

    #[test]
    fn merges_into_3_0() {
        let extras = InfoExtras::from_json(&full()).unwrap();
        let mut doc = json!({"id": "x", "service": [{"id": "https://a", "type": "Other"}]});
        extras.apply(&mut doc, ApiVersion::V3);
        assert_eq!(doc["rights"], "http://creativecommons.org/licenses/by/4.0/");
        assert_eq!(doc["partOf"][0]["type"], "Manifest");
        assert_eq!(doc["seeAlso"][0]["label"]["en"][0], "The article");
        assert_eq!(doc["preferredFormats"], json!(["webp", "png"]));
        assert_eq!(doc["service"].as_array().unwrap().len(), 3);
        assert_eq!(doc["service"][1]["@type"], "AuthCookieService1");
        assert_eq!(doc["service"][2]["id"], "https://example.org/search");
        assert!(doc.get("attribution").is_none());
        assert!(doc.get("license").is_none());
    }

    #[test]
    fn merges_into_2_1_with_its_own_names() {
        let extras = InfoExtras::from_json(&full()).unwrap();
        let mut doc = json!({"@id": "x"});
        extras.apply(&mut doc, ApiVersion::V2);
        assert_eq!(
            doc["license"],
            "http://creativecommons.org/licenses/by/4.0/"
        );
        assert_eq!(doc["attribution"], "eLife Sciences");
        assert_eq!(
            doc["seeAlso"][0]["@id"],
            "https://doi.org/10.7554/eLife.13410"
        );
        assert_eq!(doc["seeAlso"][0]["label"], "The article");
        assert_eq!(doc["seeAlso"][0]["format"], "text/html");
        assert!(doc["seeAlso"][0].get("type").is_none());
        assert_eq!(doc["service"][0]["@id"], "https://example.org/auth/login");
        assert_eq!(doc["service"][0]["label"], "Log in");
        assert_eq!(doc["service"][1]["@id"], "https://example.org/search");
        assert_eq!(doc["service"][1]["@type"], "SearchService1");
        assert!(doc["service"][1].get("id").is_none());
        for absent in ["rights", "partOf", "preferredFormats"] {
            assert!(doc.get(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn refuses_bad_extras_naming_the_key() {
        let cases = [
            (json!([1]), "(top level)"),
            (json!({"rights": 3}), "rights"),
            (json!({"rights": "CC-BY"}), "rights"),
            (json!({"rights": "https://a b"}), "rights"),
            (json!({"licence": "https://a"}), "licence"),
            (json!({"attribution": ""}), "attribution"),
            (
                json!({"seeAlso": {"id": "https://a", "type": "Dataset"}}),
                "seeAlso",
            ),
            (json!({"seeAlso": [{"type": "Dataset"}]}), "seeAlso[0].id"),
            (json!({"seeAlso": [{"id": "https://a"}]}), "seeAlso[0].type"),
            (json!({"partOf": ["https://a"]}), "partOf[0]"),
            (json!({"service": [{"id": "https://a"}]}), "service[0].type"),
            (
                json!({"service": [{"profile": "p", "type": "T"}]}),
                "service[0].id",
            ),
            (
                json!({"preferredFormats": ["jpg", "bmp"]}),
                "preferredFormats[1]",
            ),
            (
                json!({"preferredFormats": ["jpg", "jpg"]}),
                "preferredFormats[1]",
            ),
            (json!({"preferredFormats": "jpg"}), "preferredFormats"),
            (
                json!({"service": [{"@id": "https://a", "@type": "T", "label": "Log in"}]}),
                "service[0].label",
            ),
            (
                json!({"seeAlso": [{"id": "https://a", "type": "T", "label": {"en": []}}]}),
                "seeAlso[0].label",
            ),
        ];
        for (value, path) in cases {
            let e = InfoExtras::from_json(&value).unwrap_err();
            assert_eq!(e.path, path, "{value}: {e}");
        }
    }

    #[test]
    fn a_sidecar_overrides_a_template_key_by_key() {
        let template = InfoExtras::from_json(&json!({
            "rights": "https://rightsstatements.org/vocab/InC/1.0/",
            "seeAlso": [{"id": "https://doi.org/1", "type": "Dataset"}]
        }))
        .unwrap();
        let sidecar = InfoExtras::from_json(
            &json!({"rights": "http://creativecommons.org/publicdomain/zero/1.0/"}),
        )
        .unwrap();
        let both = template.overlaid_by(sidecar);
        assert_eq!(
            both.rights.as_deref(),
            Some("http://creativecommons.org/publicdomain/zero/1.0/")
        );
        assert_eq!(both.see_also.len(), 1);
        assert!(InfoExtras::from_json(&json!({})).unwrap().is_empty());
    }

    #[test]
    fn physdim_in_both_versions() {
        let v3 = physdim_service(
            ApiVersion::V3,
            "https://h/iiif/3/a",
            0.0254,
            PhysicalUnits::Inches,
        );
        assert_eq!(v3["id"], "https://h/iiif/3/a#physdim");
        assert_eq!(v3["profile"], PHYSDIM_PROFILE);
        assert_eq!(v3["physicalUnits"], "in");
        assert_eq!(v3["physicalScale"], 0.0254);
        let v2 = physdim_service(
            ApiVersion::V2,
            "https://h/iiif/2/a",
            0.5,
            PhysicalUnits::Millimetres,
        );
        assert_eq!(v2["@id"], "https://h/iiif/2/a#physdim");
        assert_eq!(v2["@context"], PHYSDIM_CONTEXT);
        assert!(v2.get("type").is_none());
        let mut doc = Map::new();
        push_service(&mut doc, v2.clone());
        push_service(&mut doc, v2);
        assert_eq!(doc["service"].as_array().map(Vec::len), Some(2));
        let extras = InfoExtras::from_json(&json!({"service": [v3]})).unwrap();
        assert!(extras.has_physdim());
    }
}
