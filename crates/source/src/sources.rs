//! All configured sources by name, with the rules that map identifiers to them: the one entry point the
//! server uses to find and open an image's bytes.

use crate::disk_cache::DiskCache;
use crate::error::SourceError;
use crate::listing::{has_image_extension, image_files_at_most, Listing};
use crate::observer::{SourceKind, SourceObserver};
use crate::remote::RemoteSource;
use crate::rules::{Candidate, RuleConfig, Rules};
use crate::store::{build, FetchSettings, SourceConfig};
use crate::{
    Access, FailureSlot, FileSource, FolderResolver, Found, RandomAccess, Sidecar, SidecarError,
};
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
    /// For a folder source, the version of the very file opened (from its descriptor), which may be
    /// newer than one looked up before opening; `None` for remote objects.
    pub version: Option<ObjectVersion>,
}

/// The version of one object, read without its bytes: what a derivative cache keys on. A replaced object
/// gets a new `tag` (remote: ETag or Last-Modified, revalidated like reads; folder: mtime and size).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    /// Modification time, nanoseconds since the Unix epoch.
    pub modified_ns: u128,
    /// Size in bytes.
    pub size: u64,
    /// Source, key and version in one line-separated string; equal tags mean the same bytes.
    pub tag: String,
    /// The object's own name within its source, however the identifier spelled it: the file's path
    /// under the folder (extension included), or the object key.
    pub object: String,
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
                            .map(|c| Arc::new(c.keep_free(settings.cache_min_free_bytes)))
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

    /// The version of `candidate` when it can be had at once: a local file's (one `stat`), or a remote
    /// object's while its last check is fresh. `None` when the origin must be asked ([`Sources::version`]).
    pub fn version_now(&self, candidate: &Candidate) -> Option<Result<ObjectVersion, SourceError>> {
        match self.sources.get(&candidate.source) {
            None => Some(Err(SourceError::NotFound)),
            Some(Source::Folder(_)) => Some(self.version(candidate)),
            Some(Source::Remote(remote)) => remote.known_version(&candidate.key).map(Ok),
        }
    }

    /// Whether `candidate` is in a local folder (read with a `pread` from the page cache, not asked
    /// of an origin).
    pub fn is_local(&self, candidate: &Candidate) -> bool {
        matches!(self.sources.get(&candidate.source), Some(Source::Folder(_)))
    }

    /// The current version of `candidate`. Blocking, like [`Sources::open`].
    pub fn version(&self, candidate: &Candidate) -> Result<ObjectVersion, SourceError> {
        match self.sources.get(&candidate.source) {
            None => Err(SourceError::NotFound),
            Some(Source::Remote(remote)) => remote.object_version(&candidate.key),
            Some(Source::Folder(resolver)) => {
                let found = resolver.resolve(&candidate.key, Access::Handle)?;
                Ok(folder_version(&candidate.source, resolver, &found))
            }
        }
    }

    /// The `info.json` additions of the rule that serves `identifier`, captures expanded (no I/O).
    pub fn info_template(&self, identifier: &str) -> Option<serde_json::Value> {
        self.rules.info_template(identifier)
    }

    /// The sidecar of object `object` (its name in its source, [`ObjectVersion::object`]) of
    /// `candidate`'s source: only folder sources have sidecars. Blocking: one open.
    pub fn sidecar(
        &self,
        candidate: &Candidate,
        object: &str,
    ) -> Result<Option<Sidecar>, SidecarError> {
        match self.sources.get(&candidate.source) {
            Some(Source::Folder(resolver)) => resolver.sidecar(object),
            _ => Ok(None),
        }
    }

    /// Every identifier the rules serve: each source a rule names is listed (a folder walked, a
    /// bucket listed; an HTTP origin cannot be) and each image object is mapped back through the
    /// rules ([`Rules::identifiers_for`]). Blocking, like [`Sources::open`].
    pub fn list_identifiers(&self) -> Listing {
        self.list(false, usize::MAX)
    }

    /// The identifiers of the images in folder sources only, as [`Sources::list_identifiers`] finds
    /// them, from at most `max_files` files per folder (the rest are left out, with a note). Buckets
    /// and origins are not listed: each is named in a note. Blocking: it walks folders.
    pub fn list_folder_identifiers(&self, max_files: usize) -> Listing {
        self.list(true, max_files)
    }

    /// Whether any source is not a local folder (a bucket or an HTTP origin).
    pub fn has_remote_sources(&self) -> bool {
        self.sources
            .values()
            .any(|s| matches!(s, Source::Remote(_)))
    }

    fn list(&self, folders_only: bool, max_files: usize) -> Listing {
        let mut listing = Listing::default();
        let mut names: Vec<&String> = self.sources.keys().collect();
        names.sort();
        for name in names {
            let keys = match self.sources.get(name) {
                Some(Source::Folder(resolver)) => {
                    match image_files_at_most(resolver.root(), max_files) {
                        Ok((keys, truncated)) => {
                            if truncated {
                                listing.notes.push(format!(
                                "source {name:?}: only the first {max_files} image files were listed"
                            ));
                            }
                            Ok(keys)
                        }
                        Err(e) => Err(SourceError::Local(e.to_string())),
                    }
                }
                Some(Source::Remote(remote)) if folders_only => {
                    listing.notes.push(format!(
                        "source {name:?} ({}) is not a folder and is not listed here",
                        remote.kind()
                    ));
                    continue;
                }
                Some(Source::Remote(remote)) if remote.kind() == SourceKind::Http => {
                    listing.notes.push(format!(
                        "source {name:?}: an HTTP origin cannot be listed; give a list of identifiers"
                    ));
                    continue;
                }
                Some(Source::Remote(remote)) => remote.list_keys(),
                None => continue,
            };
            let keys = match keys {
                Ok(k) => k,
                Err(e) => {
                    listing
                        .errors
                        .push(format!("source {name:?}: listing failed: {e}"));
                    continue;
                }
            };
            let mut unreachable = 0usize;
            for key in keys.iter().filter(|k| has_image_extension(k)) {
                let ids = self.rules.identifiers_for(name, key);
                if ids.is_empty() {
                    unreachable += 1;
                }
                listing.identifiers.extend(ids);
            }
            if unreachable > 0 {
                listing.notes.push(format!(
                    "source {name:?}: {unreachable} image object(s) that no rule leads to were left out"
                ));
            }
        }
        listing.identifiers.sort();
        listing.identifiers.dedup();
        listing
    }

    /// Open `candidate`. Blocking: call it from a blocking thread of the tokio runtime.
    pub fn open(&self, candidate: &Candidate) -> Result<Opened, SourceError> {
        let source = self
            .sources
            .get(&candidate.source)
            .ok_or(SourceError::NotFound)?;
        let failure = FailureSlot::default();
        let mut version = None;
        let (data, kind): (Arc<dyn RandomAccess>, SourceKind) = match source {
            Source::Folder(resolver) => {
                let found = resolver.resolve(&candidate.key, Access::Read)?;
                version = Some(folder_version(&candidate.source, resolver, &found));
                let file = FileSource::from_file(std::fs::File::from(found.fd), found.meta.size);
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
            version,
        })
    }
}

/// The version of a file found in a folder source, from its own descriptor's `fstat`: its name under
/// the folder, inode, modification time and size, so a file replaced under the same name (even with
/// the same size and time) is a new version.
fn folder_version(source: &str, resolver: &FolderResolver, found: &Found) -> ObjectVersion {
    let meta = &found.meta;
    ObjectVersion {
        object: found.relative.clone(),
        modified_ns: meta.modified_ns,
        size: meta.size,
        tag: format!(
            "{source}\n{}/{}\n{}:{}\n{}\n{}",
            resolver.root().display(),
            found.relative,
            meta.dev,
            meta.ino,
            meta.modified_ns,
            meta.size
        ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoObserver;

    fn settings(dir: &std::path::Path) -> FetchSettings {
        FetchSettings {
            timeout: std::time::Duration::from_secs(1),
            connect_timeout: std::time::Duration::from_secs(1),
            retries: 0,
            backoff: std::time::Duration::from_millis(1),
            block_size: 1024,
            revalidate_after: std::time::Duration::from_secs(1),
            cache_dir: dir.join("cache"),
            cache_max_bytes: 1000,
            cache_min_free_bytes: 0,
        }
    }

    #[test]
    fn folder_versions_change_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.png"), b"one").unwrap();
        let sources = Sources::new(
            &dir.path().to_string_lossy(),
            &[],
            &[],
            &settings(dir.path()),
            Arc::new(NoObserver),
        )
        .unwrap();
        let candidate = &sources.candidates("a").unwrap()[0];
        let before = sources.version(candidate).unwrap();
        assert_eq!(before.size, 3);
        std::fs::write(dir.path().join("a.png"), b"three").unwrap();
        let after = sources.version(candidate).unwrap();
        assert_ne!(before.tag, after.tag);
        let missing = &sources.candidates("b").unwrap()[0];
        assert!(matches!(
            sources.version(missing),
            Err(SourceError::NotFound)
        ));
        assert_eq!(
            sources.open(candidate).unwrap().data.read_all().unwrap(),
            b"three"
        );
    }

    #[test]
    fn folder_listing_skips_remote_sources_and_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("images");
        std::fs::create_dir_all(images.join("sub")).unwrap();
        for name in ["a.png", "b.jpg", "sub/c.tif", "notes.txt"] {
            std::fs::write(images.join(name), b"x").unwrap();
        }
        let remote = SourceConfig::from_location("web", "http://127.0.0.1:9/images/");
        let rules = [
            RuleConfig {
                prefix: Some("web:".into()),
                source: "web".into(),
                ..RuleConfig::default()
            },
            RuleConfig {
                prefix: Some(String::new()),
                source: DEFAULT_SOURCE.into(),
                ..RuleConfig::default()
            },
        ];
        let sources = Sources::new(
            &images.to_string_lossy(),
            &[remote],
            &rules,
            &settings(dir.path()),
            Arc::new(NoObserver),
        )
        .unwrap();
        assert!(sources.has_remote_sources());
        let all = sources.list_folder_identifiers(100);
        assert_eq!(all.identifiers, ["a.png", "b.jpg", "sub/c.tif"]);
        assert_eq!(
            all.notes,
            [r#"source "web" (http) is not a folder and is not listed here"#]
        );
        assert!(all.errors.is_empty());
        let bounded = sources.list_folder_identifiers(2);
        assert_eq!(bounded.identifiers, ["a.png", "b.jpg"]);
        assert!(bounded.notes.iter().any(|n| n.contains("only the first 2")));
    }
}
