//! The pipeline asks each candidate object for its version once per request, and moves on to an
//! alternate by the one rule.

use super::*;
use crate::cache::Caches;
use crate::cli::ServeArgs;
use crate::config::Config;
use std::collections::HashMap;
use std::sync::Mutex;
use tessera_image::ImageError;
use tessera_source::{Candidate, ObjectVersion, Opened, SourceError, Sources};

/// The real sources, with every version lookup counted per object key.
#[derive(Debug)]
struct Counting {
    inner: Sources,
    versions: Mutex<HashMap<String, usize>>,
    opens: Mutex<HashMap<String, usize>>,
}

impl Counting {
    fn count(&self, candidate: &Candidate) {
        let mut v = self
            .versions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *v.entry(candidate.key.clone()).or_default() += 1;
    }

    fn counts(&self) -> HashMap<String, usize> {
        self.versions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn opened(&self) -> HashMap<String, usize> {
        self.opens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Catalog for Counting {
    fn candidates(&self, identifier: &str) -> Result<Vec<Candidate>, SourceError> {
        self.inner.candidates(identifier)
    }

    fn version_now(&self, candidate: &Candidate) -> Option<Result<ObjectVersion, SourceError>> {
        let found = self.inner.version_now(candidate);
        if found.is_some() {
            self.count(candidate);
        }
        found
    }

    fn version(&self, candidate: &Candidate) -> Result<ObjectVersion, SourceError> {
        self.count(candidate);
        self.inner.version(candidate)
    }

    fn open(&self, candidate: &Candidate) -> Result<Opened, SourceError> {
        let mut o = self
            .opens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *o.entry(candidate.key.clone()).or_default() += 1;
        drop(o);
        self.inner.open(candidate)
    }
}

/// A folder with `fig.png` (a good image) beside a corrupt `fig.tif`, under a rule whose primary
/// is the missing `fig.gif`, then the TIFF, then the PNG.
fn pipeline(dir: &std::path::Path) -> (Arc<Pipeline>, Arc<Counting>) {
    let root = dir.join("images");
    std::fs::create_dir_all(&root).expect("folder");
    let raster =
        tessera_image::Raster::new(300, 200, tessera_image::PixelLayout::Rgb8).expect("raster");
    let png = tessera_image::encode::encode(
        &raster,
        tessera_iiif::OutputFormat::Png,
        &tessera_image::EncodeOptions::default(),
        None,
    )
    .expect("png");
    std::fs::write(root.join("fig.png"), png).expect("write");
    std::fs::write(root.join("fig.tif"), b"II*\x00not a tiff at all").expect("write");
    let config_path = dir.join("tessera.toml");
    std::fs::write(
        &config_path,
        "[[rules]]\nprefix = \"\"\nsource = \"images\"\nkey = \"$0.gif\"\nalternates = [\"$0.tif\", \"$0.png\"]\n",
    )
    .expect("config");
    let args = ServeArgs {
        config: Some(config_path),
        images: Some(root.clone()),
        ..ServeArgs::default()
    };
    let config = Config::load(&args, []).expect("config loads");
    let metrics = Arc::new(Metrics::new());
    let sources = Sources::new(
        &root.to_string_lossy(),
        &config.sources,
        &config.rules,
        &config.fetch.settings(),
        Arc::new(tessera_source::NoObserver),
    )
    .expect("sources");
    let counting = Arc::new(Counting {
        inner: sources,
        versions: Mutex::default(),
        opens: Mutex::default(),
    });
    let caches = Caches::new(&config.cache, Arc::clone(&metrics)).expect("caches");
    let pipeline = Pipeline::new(
        Arc::clone(&counting) as Arc<dyn Catalog>,
        config.pipeline_settings().expect("settings"),
        caches,
        config.admission(),
        metrics,
    );
    (Arc::new(pipeline), counting)
}

async fn one_image_request(pipeline: &Arc<Pipeline>, region: &str) -> Arc<Entry> {
    let located = pipeline.locate("fig").await.expect("located");
    let (described, _) = pipeline.describe(&located).await.expect("described");
    let request = ImageRequest::parse(
        tessera_iiif::ApiVersion::V3,
        region,
        "max",
        "0",
        "default.png",
    )
    .expect("request");
    let job = pipeline.job(located, &described, &request).expect("job");
    let (entry, _) = pipeline.render(job, None).await.expect("rendered");
    entry
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_request_asks_each_candidate_for_its_version_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let (pipeline, counting) = pipeline(dir.path());
    let entry = one_image_request(&pipeline, "full").await;
    assert_eq!(entry.media_type, "image/png");
    let once: HashMap<String, usize> = [("fig.gif", 1), ("fig.tif", 1), ("fig.png", 1)]
        .map(|(k, n)| (k.to_string(), n))
        .into();
    assert_eq!(counting.counts(), once);
    // Another (uncached) region of the same image: one more lookup each, no more.
    one_image_request(&pipeline, "0,0,100,100").await;
    let twice: HashMap<String, usize> = [("fig.gif", 2), ("fig.tif", 2), ("fig.png", 2)]
        .map(|(k, n)| (k.to_string(), n))
        .into();
    assert_eq!(counting.counts(), twice);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_object_passes_to_the_alternate_for_describe_and_render() {
    let dir = tempfile::tempdir().expect("tmp");
    let (pipeline, _) = pipeline(dir.path());
    let located = pipeline.locate("fig").await.expect("located");
    // The missing GIF is skipped when locating: the TIFF is the object that answers first.
    assert_eq!(located.objects[0].candidate.key, "fig.tif");
    assert_eq!(located.objects[0].alternate, 1);
    let (described, _) = pipeline.describe(&located).await.expect("described");
    assert_eq!(described.dimensions, Dimensions::new(300, 200));
    assert_eq!(described.format, SourceFormat::Png);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_that_does_not_open_is_not_opened_again_at_the_same_version() {
    let dir = tempfile::tempdir().expect("tmp");
    let (pipeline, counting) = pipeline(dir.path());
    for region in ["full", "0,0,100,100", "10,10,50,50"] {
        let entry = one_image_request(&pipeline, region).await;
        assert_eq!(entry.media_type, "image/png");
    }
    // The corrupt TIFF was opened once; the PNG once too (then kept open between requests).
    let once: HashMap<String, usize> = [("fig.tif", 1), ("fig.png", 1)]
        .map(|(k, n)| (k.to_string(), n))
        .into();
    assert_eq!(counting.opened(), once);
    // A replaced TIFF (another size) is a new version: it is tried again.
    let png = std::fs::read(dir.path().join("images/fig.png")).expect("read");
    std::fs::write(
        dir.path().join("images/fig.tif"),
        b"II*\x00still not a tiff",
    )
    .expect("write");
    let _ = png;
    one_image_request(&pipeline, "0,0,20,20").await;
    assert_eq!(counting.opened().get("fig.tif"), Some(&2));
}

#[test]
fn which_failures_move_on_to_the_alternate() {
    let image = |e: ImageError| PipelineError::from(e).is_undecodable();
    assert!(image(ImageError::Corrupt("x".into())));
    assert!(image(ImageError::UnknownFormat));
    assert!(image(ImageError::Unsupported("x".into())));
    assert!(image(ImageError::TooLarge("x".into())));
    assert!(image(ImageError::OverBudget("x".into())));
    assert!(image(ImageError::Io(std::io::Error::other("x"))));
    assert!(!image(ImageError::Cancelled));
    assert!(PipelineError::Source(SourceError::Local("eacces".into())).is_undecodable());
    assert!(!PipelineError::Source(SourceError::Upstream("503".into())).is_undecodable());
    assert!(!PipelineError::Source(SourceError::Timeout("slow".into())).is_undecodable());
    assert!(!PipelineError::Source(SourceError::NotFound).is_undecodable());
    assert!(!PipelineError::Refused(admission::Refused::Queue).is_undecodable());
}
