//! `tessera export`: a static IIIF Level 0 tree of a collection. Each image is read once through
//! the server's pipeline (its sources, rules, limits and colour settings) by the one-pass pyramid
//! builder, whose tiles are written as `OUT/{identifier}/{region}/{size}/0/default.jpg` under every
//! name a viewer or the spec computes from the `info.json` written last beside them.

mod error;
mod flatten;
pub mod geometry;
mod sink;
pub mod target;

pub use error::ExportError;

use crate::check::progress;
use crate::cli::ExportArgs;
use crate::config::Config;
use crate::pipeline::{open::with_image, Pipeline, PipelineError};
use crate::state::AppState;
use sink::{ExportSink, SinkOptions, Written};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use tessera_iiif::{ApiVersion, ImageService, Limits};
use tessera_image::encode::EncodeOptions;
use tessera_image::pyramid::{build, PyramidSpec};

/// What became of one image.
#[derive(Debug)]
enum Outcome {
    /// Written; what was written.
    Exported(Written),
    /// Its `info.json` was already there (no `--force`).
    Skipped,
    /// Not exported, and why.
    Failed(ExportError),
}

/// Everything one export needs, shared by the workers.
struct Export<'a> {
    pipeline: &'a Pipeline,
    out: &'a Path,
    base_url: &'a str,
    options: SinkOptions,
    force: bool,
}

/// Run the export; the exit code is non-zero when any image failed or a source could not be listed.
pub fn run(args: &ExportArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let (source, out) = match args.paths.as_slice() {
        [out] => (None, out),
        [source, out] => (Some(source), out),
        _ => return Err("expected [SOURCE] OUT".into()),
    };
    let version = match args.version {
        2 => ApiVersion::V2,
        _ => ApiVersion::V3,
    };
    if !(args.base_url.starts_with("http://") || args.base_url.starts_with("https://")) {
        return Err("--base-url must be an http:// or https:// URL".into());
    }
    let serve_args = crate::check::serve_args(args.config.as_ref(), args.images.as_ref(), source);
    let runtime = crate::check::runtime()?;
    let _context = runtime.enter();
    let config = Config::load(&serve_args, std::env::vars())?;
    let state = AppState::new(&config)?;
    let (ids, listing_failed) =
        crate::check::collection(source.map(|p| p.as_path()), Some(&state))?;
    std::fs::create_dir_all(out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    let render = &state.pipeline.settings().render.output;
    let export = Export {
        pipeline: &state.pipeline,
        out,
        base_url: &args.base_url,
        options: SinkOptions {
            version,
            tile: args.tile.unwrap_or(config.output.tile_size).clamp(64, 4096),
            encode: EncodeOptions {
                jpeg_quality: args.quality.unwrap_or(render.encode.jpeg_quality),
                ..render.encode
            },
            icc: render.icc,
            max_size_pixels: args.sizes_up_to,
        },
        force: args.force,
    };
    let jobs = progress::jobs(args.jobs, ids.len());
    let start = Instant::now();
    let outcomes = export_all(&export, &ids, jobs, runtime.handle());
    let failed = print_summary(&ids, &outcomes, start.elapsed().as_secs_f64(), jobs, out);
    Ok(if failed == 0 && !listing_failed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Export every identifier on `jobs` threads; outcomes in the order of `ids`.
fn export_all(
    export: &Export<'_>,
    ids: &[String],
    jobs: usize,
    runtime: &tokio::runtime::Handle,
) -> Vec<Outcome> {
    let one = |id: &str| export.one(id).unwrap_or_else(Outcome::Failed);
    progress::each(ids, jobs, runtime, one, |o| matches!(o, Outcome::Failed(_)))
        .into_iter()
        .map(|o| {
            o.unwrap_or(Outcome::Failed(
                PipelineError::Failed("the worker stopped").into(),
            ))
        })
        .collect()
}

impl Export<'_> {
    /// Export one image, unless its `info.json` is there already (without `--force`).
    fn one(&self, identifier: &str) -> Result<Outcome, ExportError> {
        let dir = self.out.join(target::folder(identifier)?);
        let info = dir.join("info.json");
        if info.is_file() && !self.force {
            return Ok(Outcome::Skipped);
        }
        let pipeline = self.pipeline;
        let spec = PyramidSpec {
            tile: self.options.tile,
            quality: self.options.encode.jpeg_quality,
        };
        let mut write_failure = None;
        let mut physical = None;
        // A panic anywhere in one image's export is that image's failure.
        let (written, extras) = crate::pipeline::contained(|| {
            let located = pipeline.locate_blocking(identifier)?;
            let extras = pipeline.extras(&located)?;
            let written = with_image(pipeline, &located, false, |reader| {
                physical = reader.physical_scale();
                clear(&dir).map_err(|e| PipelineError::from(tessera_image::ImageError::from(e)))?;
                let mut flat = flatten::Flattened(reader);
                let mut sink = ExportSink::new(&dir, self.options);
                let built = build(&mut flat, &spec, &mut sink);
                let (written, failure) = sink.into_parts();
                if failure.is_some() {
                    write_failure = failure;
                }
                built.map(|_| written).map_err(PipelineError::from)
            })?;
            Ok((written, extras))
        })
        .map_err(|e| match write_failure.take() {
            Some(source) => ExportError::Write {
                path: dir.clone(),
                source,
            },
            None => ExportError::from(e),
        })?;
        let Some(grid) = written.grid else {
            return Err(PipelineError::Failed("the build wrote no tiles").into());
        };
        let id = target::id(self.base_url, identifier);
        let tiles = [grid.tile_set()];
        let service = ImageService {
            id: &id,
            dimensions: grid.full,
            sizes: &written.sizes,
            tiles: &tiles,
            limits: &Limits::default(),
            preferred_formats: &[],
        };
        let mut doc = service.to_level0_json(self.options.version);
        extras.extras.apply(&mut doc, self.options.version);
        let physdim = physical.and_then(|p: tessera_image::PhysicalScale| p.iiif());
        extras
            .extras
            .add_physdim(&mut doc, self.options.version, &id, physdim);
        // Only JPEG is written.
        if let Some(map) = doc.as_object_mut() {
            map.remove("preferredFormats");
        }
        write_info(&info, &doc).map_err(|source| ExportError::Write { path: info, source })?;
        Ok(Outcome::Exported(written))
    }
}

/// Remove what an earlier export of this image left in `dir`: its `info.json` first (so the tree
/// counts as incomplete from here on), then every region folder (`full` and `x,y,w,h`); other
/// entries (the folders of identifiers under this one) are left alone.
fn clear(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(dir.join("info.json")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let region = name == "full"
            || (name.split(',').count() == 4 && name.split(',').all(|p| p.parse::<u32>().is_ok()));
        if region && entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

/// Write `info.json` through a temporary file renamed into place.
fn write_info(path: &Path, doc: &serde_json::Value) -> std::io::Result<()> {
    let body = serde_json::to_vec_pretty(doc).map_err(std::io::Error::other)?;
    let tmp: PathBuf = path.with_extension("json.tmp");
    std::fs::write(&tmp, body)?;
    std::fs::rename(&tmp, path)
}

/// Print the summary on stdout and each failure on stderr; the number of failures.
fn print_summary(
    ids: &[String],
    outcomes: &[Outcome],
    seconds: f64,
    jobs: usize,
    out: &Path,
) -> usize {
    let (mut exported, mut skipped, mut failed) = (0usize, 0usize, 0usize);
    let (mut images, mut files, mut bytes) = (0u64, 0u64, 0u64);
    let mut err = std::io::stderr().lock();
    for (id, outcome) in ids.iter().zip(outcomes) {
        match outcome {
            Outcome::Exported(w) => {
                exported += 1;
                images += w.images;
                files += w.files;
                bytes += w.bytes;
            }
            Outcome::Skipped => skipped += 1,
            Outcome::Failed(e) => {
                failed += 1;
                let _ = writeln!(err, "failed: {id}: {} ({e})", e.cause());
            }
        }
    }
    // A closed stdout (e.g. piped into `head`) must not turn into a panic.
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(
        stdout,
        "{} images: {exported} exported, {skipped} skipped (already exported), {failed} failed; \
         {images} JPEGs ({:.1} MB) as {files} files in {}, {seconds:.1} s with {jobs} jobs",
        ids.len(),
        bytes as f64 / 1e6,
        out.display()
    );
    failed
}
