//! What `tessera check` records per image, the summary it prints, the JSON/CSV report it writes and
//! the JSON report it reads back as a baseline.

use super::fingerprint::Fingerprint;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::time::Duration;

/// Whether one image passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `info.json` and the sample resize both worked and the output has the expected size.
    Ok,
    /// Something failed; see `cause` and `error`.
    Error,
}

/// The result of checking one image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    /// The identifier checked.
    pub identifier: String,
    /// `ok` or `error`.
    pub status: Status,
    /// Source format (local mode) or output media type (server mode), when known.
    pub format: Option<String>,
    /// Width reported by `info.json` (as served, i.e. after orientation).
    pub width: Option<u32>,
    /// Height reported by `info.json`.
    pub height: Option<u32>,
    /// The sample request that was rendered (`region/size/rotation/quality.format`).
    pub request: Option<String>,
    /// Width of the decoded sample output.
    pub output_width: Option<u32>,
    /// Height of the decoded sample output.
    pub output_height: Option<u32>,
    /// Wall time for this image, in milliseconds.
    pub time_ms: u64,
    /// A short, stable category of the failure (e.g. `unsupported`, `corrupt`, `http 500`).
    pub cause: Option<String>,
    /// The full error message.
    pub error: Option<String>,
    /// The decoded sample's fingerprint (absent from reports of older versions).
    #[serde(default)]
    pub fingerprint: Option<Fingerprint>,
}

/// Why a report could not be read back as a baseline.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("reading the baseline {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: io::Error,
    },
    /// The file is not a JSON report of `tessera check`.
    #[error("the baseline {path} is not a JSON report of tessera check: {source}")]
    Format {
        /// The file.
        path: String,
        /// The error.
        source: serde_json::Error,
    },
}

/// Read a JSON report written by [`write`] (CSV reports hold no fingerprints and are refused).
pub fn read(path: &Path) -> Result<Vec<Outcome>, ReadError> {
    let text = std::fs::read(path).map_err(|source| ReadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|source| ReadError::Format {
        path: path.display().to_string(),
        source,
    })
}

impl Outcome {
    /// A blank outcome for `identifier`, to be filled in as the check proceeds.
    pub fn new(identifier: &str) -> Self {
        Self {
            identifier: identifier.to_string(),
            status: Status::Ok,
            format: None,
            width: None,
            height: None,
            request: None,
            output_width: None,
            output_height: None,
            time_ms: 0,
            cause: None,
            error: None,
            fingerprint: None,
        }
    }

    /// Mark as failed with a cause category and a message.
    pub fn fail(&mut self, cause: impl Into<String>, error: impl Into<String>) {
        self.status = Status::Error;
        self.cause = Some(cause.into());
        self.error = Some(error.into());
    }
}

/// The text summary: totals, failures grouped by cause, and each failure on one line.
pub fn summary(outcomes: &[Outcome], elapsed: Duration, jobs: usize) -> String {
    let ok = outcomes.iter().filter(|o| o.status == Status::Ok).count();
    let failed = outcomes.len() - ok;
    let mut by_cause: BTreeMap<&str, usize> = BTreeMap::new();
    for o in outcomes.iter().filter(|o| o.status == Status::Error) {
        *by_cause
            .entry(o.cause.as_deref().unwrap_or("other"))
            .or_default() += 1;
    }
    let mut s = String::new();
    let seconds = elapsed.as_secs_f64();
    let _ = writeln!(
        s,
        "checked {} images in {seconds:.1} s with {jobs} jobs ({:.1} images/s): {ok} ok, {failed} error",
        outcomes.len(),
        outcomes.len() as f64 / seconds.max(1e-3)
    );
    for (cause, n) in &by_cause {
        let _ = writeln!(s, "  {n:>5}  {cause}");
    }
    if let Some(slow) = outcomes.iter().max_by_key(|o| o.time_ms) {
        let _ = writeln!(s, "slowest: {} ({} ms)", slow.identifier, slow.time_ms);
    }
    for o in outcomes.iter().filter(|o| o.status == Status::Error) {
        let _ = writeln!(
            s,
            "error  {}: {}",
            o.identifier,
            o.error.as_deref().unwrap_or("")
        );
    }
    s
}

/// Write the report to `path`: CSV when the name ends in `.csv`, a JSON array otherwise.
pub fn write(path: &Path, outcomes: &[Outcome]) -> io::Result<()> {
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let body = if is_csv {
        to_csv(outcomes)
    } else {
        serde_json::to_string_pretty(outcomes).map_err(io::Error::other)?
    };
    std::fs::write(path, body)
}

/// The CSV form: a header row, then one row per image (RFC 4180 quoting).
pub fn to_csv(outcomes: &[Outcome]) -> String {
    let mut s = String::from(
        "identifier,status,format,width,height,request,output_width,output_height,time_ms,cause,error\n",
    );
    let num = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
    for o in outcomes {
        let status = match o.status {
            Status::Ok => "ok",
            Status::Error => "error",
        };
        let fields = [
            o.identifier.clone(),
            status.to_string(),
            o.format.clone().unwrap_or_default(),
            num(o.width),
            num(o.height),
            o.request.clone().unwrap_or_default(),
            num(o.output_width),
            num(o.output_height),
            o.time_ms.to_string(),
            o.cause.clone().unwrap_or_default(),
            o.error.clone().unwrap_or_default(),
        ];
        let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        s.push_str(&row.join(","));
        s.push('\n');
    }
    s
}

/// Quote a CSV field when it holds a comma, quote or line break.
fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed() -> Outcome {
        let mut o = Outcome::new("a/b, \"c\".tif");
        o.fail("corrupt", "broken image: tiff: bad strip");
        o
    }

    #[test]
    fn json_has_the_documented_fields() {
        let v = serde_json::to_value([failed()]).unwrap_or_default();
        let first = &v[0];
        assert_eq!(first["identifier"], "a/b, \"c\".tif");
        assert_eq!(first["status"], "error");
        assert!(first["width"].is_null() && first["height"].is_null());
        assert_eq!(first["error"], "broken image: tiff: bad strip");
    }

    #[test]
    fn csv_quotes_fields() {
        let csv = to_csv(&[failed()]);
        let row = csv.lines().nth(1).unwrap_or_default();
        assert!(row.starts_with("\"a/b, \"\"c\"\".tif\",error,"), "{row}");
    }

    #[test]
    fn json_reports_read_back_with_or_without_fingerprints(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let mut ok = Outcome::new("x");
        ok.fingerprint = Some(Fingerprint {
            side: 1,
            rgb: "0a0b0c".into(),
        });
        let path = dir.path().join("r.json");
        write(&path, &[ok, failed()])?;
        let back = read(&path)?;
        assert_eq!(back.len(), 2);
        assert_eq!(
            back[0].fingerprint.as_ref().map(|f| f.rgb.as_str()),
            Some("0a0b0c")
        );
        assert_eq!(back[1].status, Status::Error);
        // A report of an older version has no fingerprint field.
        std::fs::write(
            &path,
            r#"[{"identifier":"a","status":"ok","format":null,"width":1,"height":1,"request":null,"output_width":1,"output_height":1,"time_ms":3,"cause":null,"error":null}]"#,
        )?;
        assert!(read(&path)?[0].fingerprint.is_none());
        std::fs::write(&path, "identifier,status\n")?;
        assert!(matches!(read(&path), Err(ReadError::Format { .. })));
        Ok(())
    }

    #[test]
    fn summary_groups_by_cause() {
        let mut ok = Outcome::new("x");
        ok.width = Some(1);
        let s = summary(&[ok, failed(), failed()], Duration::from_secs(1), 2);
        assert!(s.contains("3 images"), "{s}");
        assert!(s.contains("1 ok, 2 error"), "{s}");
        assert!(s.contains("    2  corrupt"), "{s}");
    }
}
