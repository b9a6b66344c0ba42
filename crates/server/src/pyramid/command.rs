//! `tessera pyramid [SOURCE]`: build the pyramids of a collection ahead of time, in parallel, into
//! the store the server reads (`[pyramid]`), skipping what is built or needs none.

use super::Pyramids;
use crate::cli::PyramidArgs;
use crate::config::Config;
use crate::pipeline::Pipeline;
use crate::state::AppState;
use std::io::Write;
use std::process::ExitCode;

use std::sync::Arc;
use std::time::Instant;

/// What became of one image.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Built {
        bytes: u64,
    },
    AlreadyBuilt,
    /// Tiled already, or smaller than `pyramid.min_pixels`, or not a TIFF or JPEG.
    NotNeeded,
    Failed(String),
}

/// Run the command; non-zero exit when any image failed.
pub fn run(args: &PyramidArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let serve_args = crate::check::serve_args(
        args.config.as_ref(),
        args.images.as_ref(),
        args.source.as_ref(),
    );
    let runtime = crate::check::runtime()?;
    let _context = runtime.enter();
    let handle = runtime.handle().clone();
    let config = Config::load(&serve_args, std::env::vars())?;
    let state = AppState::new(&config)?;
    let pipeline = Arc::clone(&state.pipeline);
    let Some(pyramids) = pipeline.pyramids().cloned() else {
        return Err("pyramids are off (pyramid.enabled = false)".into());
    };
    let (identifiers, listing_failed) =
        crate::check::collection(args.source.as_deref(), Some(&state))?;
    let jobs = crate::check::progress::jobs(args.jobs, identifiers.len());
    let start = Instant::now();
    let results = crate::check::progress::each(
        &identifiers,
        jobs,
        &handle,
        |identifier| one(&pipeline, &pyramids, identifier),
        |o| matches!(o, Outcome::Failed(_)),
    );
    let outcomes: Vec<Outcome> = results
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::Failed("the worker stopped".into())))
        .collect();
    for (identifier, outcome) in identifiers.iter().zip(&outcomes) {
        if let Outcome::Failed(why) = outcome {
            eprintln!("failed: {identifier}: {why}");
        }
    }
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let built = count(|o| matches!(o, Outcome::Built { .. }));
    let bytes: u64 = outcomes
        .iter()
        .map(|o| match o {
            Outcome::Built { bytes } => *bytes,
            _ => 0,
        })
        .sum();
    let failed = count(|o| matches!(o, Outcome::Failed(_)));
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{} images in {:.1} s ({jobs} at once): {built} built ({:.1} MB), {} already built, {} need none, {failed} failed",
        outcomes.len(),
        start.elapsed().as_secs_f64(),
        bytes as f64 / 1e6,
        count(|o| *o == Outcome::AlreadyBuilt),
        count(|o| *o == Outcome::NotNeeded),
    );
    let _ = writeln!(
        out,
        "pyramid store {}: {:.1} MB",
        config.pyramid.dir.display(),
        pyramids.store_bytes() as f64 / 1e6
    );
    Ok(if failed > 0 || listing_failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Build one identifier's pyramid unless it has one or needs none.
fn one(pipeline: &Pipeline, pyramids: &Pyramids, identifier: &str) -> Outcome {
    let located = match pipeline.locate_blocking(identifier) {
        Ok(located) => located,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    match pipeline.describe_blocking(&located) {
        Ok(described) if !described.pyramid => return Outcome::NotNeeded,
        Ok(_) => {}
        Err(e) => return Outcome::Failed(e.to_string()),
    }
    let Some((key, request)) = pipeline.pyramid_build(&located) else {
        return Outcome::NotNeeded;
    };
    if pyramids.has(&key) {
        return Outcome::AlreadyBuilt;
    }
    match pyramids.build_now(&key, request) {
        Ok(Some(bytes)) => Outcome::Built { bytes },
        // Copied from the shared store: built by another server.
        Ok(None) => Outcome::AlreadyBuilt,
        Err(e) => Outcome::Failed(e.to_string()),
    }
}
