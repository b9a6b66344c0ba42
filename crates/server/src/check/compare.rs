//! Comparing two runs of the check image by image: a baseline report (`--baseline`) or a second
//! server (`--compare-with`) against this run. Each image whose status, `info.json` size, output
//! size or rendition moved is reported with what it was, what it is and the measured difference.

use super::report::{Outcome, Status};
use super::sample::size_matches;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

/// What changed about one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cause {
    /// It passed before and fails now, or the other way round.
    Status,
    /// It failed both times, for different causes.
    Failure,
    /// `info.json` gives another width or height.
    InfoSize,
    /// The sample came out in another size (more than a pixel of rounding apart).
    OutputSize,
    /// The sample's fingerprint moved by more than the tolerance.
    Rendition,
    /// Checked now, absent from the baseline.
    New,
    /// In the baseline, not checked now.
    Missing,
}

impl Cause {
    /// The short name printed in summaries.
    pub fn label(self) -> &'static str {
        match self {
            Cause::Status => "status",
            Cause::Failure => "error cause",
            Cause::InfoSize => "info size",
            Cause::OutputSize => "output size",
            Cause::Rendition => "rendition",
            Cause::New => "not in baseline",
            Cause::Missing => "not checked now",
        }
    }
}

/// One change of one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The image.
    pub identifier: String,
    /// Its source format (in-process runs), else its file extension, else `unknown`.
    pub format: String,
    /// What changed.
    pub cause: Cause,
    /// Before and after, and the measured difference for renditions.
    pub detail: String,
}

/// The result of comparing two runs.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    /// Every change, in the order of this run's images (then the baseline's missing ones).
    pub changes: Vec<Change>,
    /// Images present in both runs.
    pub compared: usize,
    /// Images present in both runs whose renditions could not be compared (a fingerprint missing).
    pub unfingerprinted: usize,
    /// The largest rendition difference that stayed within the tolerance, and its image.
    pub largest_within: Option<(f64, String)>,
}

impl Comparison {
    /// How many distinct images present in both runs changed.
    pub fn changed_images(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| !matches!(c.cause, Cause::New | Cause::Missing))
            .map(|c| c.identifier.as_str())
            .collect::<HashSet<_>>()
            .len()
    }
}

/// Compare `after` (this run) with `before` (the baseline or the other server); a rendition has
/// changed when the largest per-channel mean difference of the fingerprints exceeds `tolerance`.
pub fn compare(before: &[Outcome], after: &[Outcome], tolerance: f64) -> Comparison {
    let by_id: HashMap<&str, &Outcome> =
        before.iter().map(|o| (o.identifier.as_str(), o)).collect();
    let mut result = Comparison::default();
    let mut seen = HashSet::new();
    for now in after {
        seen.insert(now.identifier.as_str());
        let Some(was) = by_id.get(now.identifier.as_str()) else {
            result.changes.push(change(
                None,
                now,
                Cause::New,
                "checked now, absent from the baseline".into(),
            ));
            continue;
        };
        result.compared += 1;
        compare_one(was, now, tolerance, &mut result);
    }
    for was in before
        .iter()
        .filter(|o| !seen.contains(o.identifier.as_str()))
    {
        result.changes.push(change(
            None,
            was,
            Cause::Missing,
            "in the baseline, not checked now".into(),
        ));
    }
    result
}

/// Compare one image present in both runs.
fn compare_one(was: &Outcome, now: &Outcome, tolerance: f64, result: &mut Comparison) {
    let mut push = |cause, detail| result.changes.push(change(Some(was), now, cause, detail));
    match (was.status, now.status) {
        (Status::Ok, Status::Error) => {
            return push(Cause::Status, format!("ok → error ({})", error_text(now)));
        }
        (Status::Error, Status::Ok) => {
            return push(Cause::Status, format!("error ({}) → ok", error_text(was)));
        }
        (Status::Error, Status::Error) => {
            if was.cause != now.cause {
                push(
                    Cause::Failure,
                    format!("{} → {}", error_text(was), error_text(now)),
                );
            }
            return;
        }
        (Status::Ok, Status::Ok) => {}
    }
    let info = |o: &Outcome| o.width.zip(o.height);
    let output = |o: &Outcome| o.output_width.zip(o.output_height);
    if info(was) != info(now) {
        push(
            Cause::InfoSize,
            format!("{} → {}", size_text(info(was)), size_text(info(now))),
        );
    } else if !matches!((output(was), output(now)), (Some(a), Some(b)) if size_matches(a, b)) {
        push(
            Cause::OutputSize,
            format!("{} → {}", size_text(output(was)), size_text(output(now))),
        );
    }
    let difference = match (&was.fingerprint, &now.fingerprint) {
        (Some(a), Some(b)) => a.difference(b),
        _ => None,
    };
    match difference {
        None => result.unfingerprinted += 1,
        Some(d) if d.largest() > tolerance => {
            let [r, g, b] = d.channels;
            result.changes.push(change(
                Some(was),
                now,
                Cause::Rendition,
                format!(
                    "mean difference {:.1} > {tolerance} (r {r:.1}, g {g:.1}, b {b:.1})",
                    d.largest()
                ),
            ));
        }
        Some(d) => {
            if result
                .largest_within
                .as_ref()
                .is_none_or(|(v, _)| d.largest() > *v)
            {
                result.largest_within = Some((d.largest(), now.identifier.clone()));
            }
        }
    }
}

/// A change of `now`, its format taken from whichever run knows the source format.
fn change(was: Option<&Outcome>, now: &Outcome, cause: Cause, detail: String) -> Change {
    Change {
        identifier: now.identifier.clone(),
        format: format_of(now, was),
        cause,
        detail,
    }
}

/// The source format of an image: an in-process run's format name (a server run records the
/// output's media type instead), else the identifier's extension, else `unknown`.
fn format_of(now: &Outcome, was: Option<&Outcome>) -> String {
    let source_format = [Some(now), was]
        .into_iter()
        .flatten()
        .filter_map(|o| o.format.as_deref())
        .find(|f| !f.contains('/'));
    if let Some(f) = source_format {
        return f.to_string();
    }
    let name = now.identifier.rsplit('/').next().unwrap_or_default();
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => ext.to_ascii_lowercase(),
        _ => "unknown".into(),
    }
}

/// `WxH`, or `none`.
fn size_text(size: Option<(u32, u32)>) -> String {
    size.map_or_else(|| "none".into(), |(w, h)| format!("{w}x{h}"))
}

/// A failed outcome's cause, and its message cut to one short line.
fn error_text(o: &Outcome) -> String {
    let cause = o.cause.as_deref().unwrap_or("error");
    let message: String = o.error.as_deref().unwrap_or("").chars().take(120).collect();
    if message.is_empty() {
        cause.to_string()
    } else {
        format!("{cause}: {message}")
    }
}

/// The text summary: totals, changes grouped by cause and format, then each change on one line.
pub fn summary(c: &Comparison, against: &str, tolerance: f64) -> String {
    let changed = c.changed_images();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "compared {} images with {against} (tolerance {tolerance}): {} unchanged, {changed} changed",
        c.compared,
        c.compared.saturating_sub(changed)
    );
    let mut groups: BTreeMap<(Cause, &str), usize> = BTreeMap::new();
    for ch in &c.changes {
        *groups.entry((ch.cause, ch.format.as_str())).or_default() += 1;
    }
    if !groups.is_empty() {
        let _ = writeln!(s, "changes by cause and format:");
    }
    for ((cause, format), n) in &groups {
        let _ = writeln!(s, "  {n:>5}  {:<16} {format}", cause.label());
    }
    if c.unfingerprinted > 0 {
        let _ = writeln!(
            s,
            "renditions not compared (no fingerprint on one side): {}",
            c.unfingerprinted
        );
    }
    if let Some((d, id)) = &c.largest_within {
        let _ = writeln!(s, "largest difference within tolerance: {d:.1} ({id})");
    }
    for ch in &c.changes {
        let _ = writeln!(
            s,
            "changed  {} [{}] {}: {}",
            ch.identifier,
            ch.format,
            ch.cause.label(),
            ch.detail
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::fingerprint::Fingerprint;
    use super::*;

    fn ok(id: &str, size: (u32, u32), grey: u8) -> Outcome {
        let mut o = Outcome::new(id);
        o.format = Some("png".into());
        (o.width, o.height) = (Some(size.0), Some(size.1));
        (o.output_width, o.output_height) = (Some(size.0), Some(size.1));
        o.fingerprint = Some(Fingerprint {
            side: 32,
            rgb: format!("{grey:02x}").repeat(32 * 32 * 3),
        });
        o
    }

    fn failed(id: &str, cause: &str) -> Outcome {
        let mut o = Outcome::new(id);
        o.fail(cause, "broken");
        o
    }

    #[test]
    fn identical_runs_have_no_changes() {
        let run = [ok("a.png", (10, 20), 9), failed("b.tif", "corrupt (tiff)")];
        let c = compare(&run, &run, 3.0);
        assert!(c.changes.is_empty(), "{:?}", c.changes);
        assert_eq!((c.compared, c.changed_images()), (2, 0));
        assert_eq!(c.largest_within, Some((0.0, "a.png".into())));
    }

    #[test]
    fn reports_each_kind_of_change() {
        let before = [
            ok("colour.png", (10, 10), 100),
            ok("turned.png", (10, 20), 100),
            ok("broke.png", (10, 10), 100),
            failed("fixed.jpg", "corrupt (jpeg)"),
            failed("other", "corrupt (tiff)"),
            ok("gone.png", (1, 1), 1),
            ok("close.png", (10, 10), 100),
        ];
        let after = [
            ok("colour.png", (10, 10), 110),
            ok("turned.png", (20, 10), 100),
            failed("broke.png", "http 500"),
            ok("fixed.jpg", (5, 5), 0),
            failed("other", "io"),
            ok("close.png", (10, 10), 102),
            ok("new.gif", (1, 1), 1),
        ];
        let c = compare(&before, &after, 3.0);
        let got: Vec<(&str, Cause)> = c
            .changes
            .iter()
            .map(|c| (c.identifier.as_str(), c.cause))
            .collect();
        assert_eq!(
            got,
            vec![
                ("colour.png", Cause::Rendition),
                ("turned.png", Cause::InfoSize),
                ("broke.png", Cause::Status),
                ("fixed.jpg", Cause::Status),
                ("other", Cause::Failure),
                ("new.gif", Cause::New),
                ("gone.png", Cause::Missing),
            ]
        );
        assert!(
            c.changes[0].detail.starts_with("mean difference 10.0 > 3"),
            "{}",
            c.changes[0].detail
        );
        assert_eq!(c.changes[1].detail, "10x20 → 20x10");
        assert_eq!(c.largest_within, Some((2.0, "close.png".into())));
        let s = summary(&c, "base.json", 3.0);
        assert!(
            s.contains("compared 6 images with base.json (tolerance 3): 1 unchanged, 5 changed"),
            "{s}"
        );
        assert!(s.contains("    1  rendition        png"), "{s}");
        assert!(s.contains("    1  error cause      unknown"), "{s}");
    }

    #[test]
    fn format_falls_back_to_the_extension() {
        let mut a = ok("dir.v2/fig.TIF", (1, 1), 0);
        a.format = Some("image/jpeg".into());
        assert_eq!(format_of(&a, None), "tif");
        a.identifier = "dir.v2/fig".into();
        assert_eq!(format_of(&a, None), "unknown");
    }

    #[test]
    fn missing_fingerprints_are_counted_not_flagged() {
        let before = [ok("a", (1, 1), 0)];
        let mut now = ok("a", (1, 1), 200);
        now.fingerprint = None;
        let c = compare(&before, &[now], 3.0);
        assert!(c.changes.is_empty());
        assert_eq!(c.unfingerprinted, 1);
    }
}
