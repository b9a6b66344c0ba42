//! `tessera check`: check every image of a collection the way a viewer would use it (read
//! `info.json`, render a sample resize, decode the output and compare its size), in parallel with
//! a bounded number of images in flight, then print a summary and write a report.
//!
//! Images are checked in this process with the server's own resolver and limits, or over HTTP
//! against any IIIF server with `--server`. With `--baseline` (an earlier report) or
//! `--compare-with` (a second server) the run is also compared image by image with that reference.

mod compare;
mod fingerprint;
mod http;
pub mod identifiers;
mod local;
pub mod progress;
pub mod report;
pub use local::cause;
mod sample;
mod verify;

use crate::cli::{CheckArgs, ServeArgs};
use crate::config::Config;
use crate::state::AppState;
use report::{Outcome, Status};
use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How one image is checked: in this process or against a server.
enum Checker {
    /// The server's state, built from the config.
    Local(Box<AppState>),
    /// A client for a running server.
    Http(http::Client),
}

impl Checker {
    fn check(&self, identifier: &str, longest: u32) -> Outcome {
        let start = Instant::now();
        let mut outcome = Outcome::new(identifier);
        // A panic anywhere in one image's check is that image's failure (the pipeline's one guard).
        let run = crate::pipeline::contained(|| {
            let mut o = Outcome::new(identifier);
            match self {
                Checker::Local(state) => local::check(&state.pipeline, identifier, longest, &mut o),
                Checker::Http(client) => client.check(identifier, longest, &mut o),
            }
            Ok(o)
        });
        match run {
            Ok(o) => outcome = o,
            Err(_) => outcome.fail("panic", "the check panicked"),
        }
        outcome.time_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        outcome
    }
}

/// The identifiers of a collection, as `tessera check` and `tessera pyramid` take it: every image
/// file of a folder, the lines of a list file, or (with no `source`) every identifier the rules of
/// `state` serve, listed from their sources (notes and listing errors printed on stderr). Also
/// whether any listing failed.
pub fn collection(
    source: Option<&std::path::Path>,
    state: Option<&AppState>,
) -> Result<(Vec<String>, bool), Box<dyn std::error::Error>> {
    match (source, state) {
        (Some(dir), _) if dir.is_dir() => Ok((identifiers::from_folder(dir)?, false)),
        (Some(list), _) => Ok((identifiers::from_list(list)?, false)),
        (None, Some(state)) => Ok(identifiers::from_sources(&state.sources)),
        (None, None) => {
            Err("no collection: give a folder or a list, or a config with rules".into())
        }
    }
}

/// The serve options a collection command (check, pyramid, export) loads its config with: its
/// `--config`, and its `--images`, else SOURCE when SOURCE is a folder.
pub fn serve_args(
    config: Option<&std::path::PathBuf>,
    images: Option<&std::path::PathBuf>,
    source: Option<&std::path::PathBuf>,
) -> ServeArgs {
    ServeArgs {
        config: config.cloned(),
        images: images.or(source.filter(|s| s.is_dir())).cloned(),
        ..ServeArgs::default()
    }
}

/// The runtime whose blocking threads remote sources are read (and listed) from, as in the server.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Run the check; the exit code is non-zero when any image failed, or, when comparing with a
/// baseline or a second server, when any image changed.
pub fn run(args: &CheckArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if !(args.tolerance.is_finite() && args.tolerance >= 0.0) {
        return Err("--tolerance must be a number of at least 0".into());
    }
    // Read the baseline first: a bad file fails before the collection is checked.
    let baseline = match &args.baseline {
        Some(path) => Some(report::read(path)?),
        None => None,
    };
    let serve_args = serve_args(
        args.config.as_ref(),
        args.images.as_ref(),
        args.source.as_ref(),
    );
    let runtime = runtime()?;
    let _context = runtime.enter();
    // The server's state: to check images in this process, or to list what the rules serve.
    let state = if args.server.is_none() || args.source.is_none() {
        let config = Config::load(&serve_args, std::env::vars())?;
        Some(Box::new(AppState::new(&config)?))
    } else {
        None
    };
    let (identifiers, listing_failed) = match (&args.source, &state) {
        (Some(_), _) | (None, Some(_)) => collection(args.source.as_deref(), state.as_deref())?,
        (None, None) => return Err("nothing to check".into()),
    };
    let timeout = Duration::from_secs(args.timeout.max(1));
    let checker = match (&args.server, state) {
        (Some(url), _) => Checker::Http(http::Client::new(url, timeout)),
        (None, Some(state)) => Checker::Local(state),
        (None, None) => return Err("no state to check with".into()),
    };
    let jobs = progress::jobs(args.jobs, identifiers.len());
    let start = Instant::now();
    let outcomes = check_all(
        &checker,
        &identifiers,
        jobs,
        args.sample_size,
        runtime.handle(),
    );
    let elapsed = start.elapsed();
    // A closed stdout (e.g. piped into `head`) must not turn into a panic.
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{}", report::summary(&outcomes, elapsed, jobs));
    if let Some(path) = &args.report {
        report::write(path, &outcomes)
            .map_err(|e| format!("writing the report {}: {e}", path.display()))?;
        let _ = writeln!(out, "report written to {}", path.display());
    }
    let reference = match (baseline, &args.compare_with) {
        (Some(before), _) => {
            let name = args.baseline.as_ref().map(|p| p.display().to_string());
            Some((before, name.unwrap_or_default()))
        }
        (None, Some(url)) => {
            let other = Checker::Http(http::Client::new(url, timeout));
            let start = Instant::now();
            let before = check_all(
                &other,
                &identifiers,
                jobs,
                args.sample_size,
                runtime.handle(),
            );
            let _ = write!(
                out,
                "{url}: {}",
                report::summary(&before, start.elapsed(), jobs)
            );
            Some((before, url.clone()))
        }
        (None, None) => None,
    };
    // A source that could not be listed leaves the collection unchecked: that fails too.
    let all_ok = match reference {
        Some((before, name)) => {
            let comparison = compare::compare(&before, &outcomes, args.tolerance);
            let _ = write!(
                out,
                "{}",
                compare::summary(&comparison, &name, args.tolerance)
            );
            !listing_failed && comparison.changes.is_empty()
        }
        None => !listing_failed && outcomes.iter().all(|o| o.status == Status::Ok),
    };
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Check every identifier on `jobs` threads (inside `runtime`'s context); at most `jobs` images are open at any time.
/// Outcomes come back in the order of `identifiers`.
fn check_all(
    checker: &Checker,
    identifiers: &[String],
    jobs: usize,
    longest: u32,
    runtime: &tokio::runtime::Handle,
) -> Vec<Outcome> {
    let results = progress::each(
        identifiers,
        jobs,
        runtime,
        |id| checker.check(id, longest),
        |outcome| outcome.status == Status::Error,
    );
    results
        .into_iter()
        .zip(identifiers)
        .map(|(o, id)| {
            o.unwrap_or_else(|| {
                let mut o = Outcome::new(id);
                o.fail("panic", "the worker stopped");
                o
            })
        })
        .collect()
}
