//! All configured sources by name, with the rules that map identifiers to them: the one entry point the
//! server uses to find and open an image's bytes.

use crate::disk_cache::DiskCache;
use crate::error::SourceError;
use crate::observer::{SourceKind, SourceObserver};
use crate::remote::RemoteSource;
use crate::rules::{Candidate, RuleConfig, Rules};
use crate::store::{build, FetchSettings, SourceConfig};
use crate::{FailureSlot, FileSource, FolderResolver, RandomAccess};
use std::collections::HashMap;
use std::io;
use std::sync::Arc;

/// The name of the source made from `[images] root` / `--images`.
pub const DEFAULT_SOURCE: &str = "images";

#[derive(Debug)]
enum Source {
    Folder(FolderResolver),
    Remote(Arc<RemoteSource>),
}

/// An object opened for reading, and where it came from.
pub struct Opened {
    /// The bytes.
    pub data: Arc<dyn RandomAccess>,
    /// Where a remote read failure is recorded while decoding.
    pub failure: FailureSlot,
    /// The source's name.
    pub source: String,
    /// The kind of the source.
    pub kind: SourceKind,
    /// The key within the source.
    pub key: String,
}

/// Named sources and the identifier rules.
#[derive(Debug)]
pub struct Sources {
    rules: Rules,
    sources: HashMap<String, Source>,
    observer: Arc<dyn SourceObserver>,
}

impl Sources {
    /// Build every source that a rule uses. `images` is the default source's location (a folder,
    /// `s3://BUCKET/PREFIX` or `http(s)://HOST/PATH/`); without rules, every identifier goes to it.
    pub fn new(
        images: &str,
        configs: &[SourceConfig],
        rule_configs: &[RuleConfig],
        settings: &FetchSettings,
        observer: Arc<dyn SourceObserver>,
    ) -> Result<Self, String> {
        let default_rule = [RuleConfig {
            prefix: Some(String::new()),
            source: DEFAULT_SOURCE.into(),
            ..RuleConfig::default()
        }];
        let rule_configs = if rule_configs.is_empty() {
            &default_rule[..]
        } else {
            rule_configs
        };
        let rules = Rules::new(rule_configs)?;
        let mut all: Vec<SourceConfig> = configs.to_vec();
        if !all.iter().any(|c| c.name == DEFAULT_SOURCE) {
            all.push(SourceConfig::from_location(DEFAULT_SOURCE, images));
        }
        let mut cache: Option<Arc<DiskCache>> = None;
        let mut sources = HashMap::new();
        for rule in rules.iter() {
            let name = rule.source();
            if sources.contains_key(name) {
                continue;
            }
            let config = all
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| format!("a rule names source {name:?}, which is not configured"))?;
            let source = if config.kind == "folder" {
                let root = config
                    .root
                    .as_deref()
                    .ok_or_else(|| format!("source {name:?}: a folder source needs `root`"))?;
                Source::Folder(
                    FolderResolver::new(root)
                        .map_err(|e| format!("source {name:?}: {}: {e}", root.display()))?,
                )
            } else {
                let built = build(config, settings).map_err(|e| format!("source {name:?}: {e}"))?;
                let cache = match &cache {
                    Some(c) => Arc::clone(c),
                    None => {
                        let c = DiskCache::open(&settings.cache_dir, settings.cache_max_bytes)
                            .map(Arc::new)
                            .map_err(|e| {
                                format!("source cache {}: {e}", settings.cache_dir.display())
                            })?;
                        cache = Some(Arc::clone(&c));
                        c
                    }
                };
                Source::Remote(Arc::new(RemoteSource::new(
                    name,
                    built,
                    settings.clone(),
                    cache,
                    Arc::clone(&observer),
                )))
            };
            sources.insert(name.to_string(), source);
        }
        Ok(Self {
            rules,
            sources,
            observer,
        })
    }

    /// Where `identifier` may be, in the order to try (no I/O).
    pub fn candidates(&self, identifier: &str) -> Result<Vec<Candidate>, SourceError> {
        self.rules.candidates(identifier)
    }

    /// The folder of the default source, when it is a local folder (to print an example URL).
    pub fn default_folder(&self) -> Option<&std::path::Path> {
        match self.sources.get(DEFAULT_SOURCE) {
            Some(Source::Folder(resolver)) => Some(resolver.root()),
            _ => None,
        }
    }

    /// A one-line description of the sources, for the startup message.
    pub fn describe(&self) -> String {
        let mut names: Vec<String> = self
            .sources
            .iter()
            .map(|(name, source)| match source {
                Source::Folder(r) => format!("{name} (folder {})", r.root().display()),
                Source::Remote(r) => format!("{name} ({})", r.kind()),
            })
            .collect();
        names.sort();
        names.join(", ")
    }

    /// Open `candidate`. Blocking: call it from a blocking thread of the tokio runtime.
    pub fn open(&self, candidate: &Candidate) -> Result<Opened, SourceError> {
        let source = self
            .sources
            .get(&candidate.source)
            .ok_or(SourceError::NotFound)?;
        let failure = FailureSlot::default();
        let (data, kind): (Arc<dyn RandomAccess>, SourceKind) = match source {
            Source::Folder(resolver) => {
                let path = resolver.resolve(&candidate.key)?;
                let file =
                    FileSource::open(&path).map_err(|e| SourceError::Local(e.to_string()))?;
                let counted = Counted {
                    inner: file,
                    observer: Arc::clone(&self.observer),
                };
                (Arc::new(counted), SourceKind::Folder)
            }
            Source::Remote(remote) => (remote.open(&candidate.key, &failure)?, remote.kind()),
        };
        Ok(Opened {
            data,
            failure,
            source: candidate.source.clone(),
            kind,
            key: candidate.key.clone(),
        })
    }
}

/// A local file whose reads are counted as `folder` bytes.
struct Counted {
    inner: FileSource,
    observer: Arc<dyn SourceObserver>,
}

impl RandomAccess for Counted {
    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_exact_at(offset, buf)?;
        self.observer
            .bytes_read(SourceKind::Folder, buf.len() as u64);
        Ok(())
    }
}
