//! Where image bytes come from: local folders, S3 and HTTP(S) origins behind one random-access trait,
//! identifier rules with fallbacks, ranged reads by blocks, and a bounded on-disk source cache.

mod aws_profile;
mod beneath;
mod cache_dir;
mod disk_cache;
mod error;
mod failure;
mod free_space;
mod listing;
pub mod no_wait;
mod observer;
mod random_access;
mod ranged;
mod remote;
mod resolve;
mod reverse;
mod rules;
mod shared;
mod sidecar;
mod sources;
mod store;

pub use beneath::{Access, Beneath};
pub use cache_dir::{CacheDir, Entry, EntryKind};
pub use disk_cache::DiskCache;
pub use error::SourceError;
pub use failure::FailureSlot;
pub use free_space::{available_bytes, is_disk_full, shortfall};
pub use listing::{has_image_extension, image_files, image_files_at_most, Listing};
pub use observer::{NoObserver, SourceKind, SourceObserver};
pub use random_access::{FileSource, RandomAccess, ReadSeek};
pub use resolve::{FileMeta, FolderResolver, Found, ResolveError, IMAGE_EXTENSIONS};
pub use rules::{checked_key, Candidate, Rule, RuleConfig, Rules};
pub use shared::{lease_expired, now_ms, SharedObject, SharedStore};
pub use sidecar::{is_sidecar_name, Sidecar, SidecarError, MAX_SIDECAR_BYTES, SIDECAR_SUFFIX};
pub use sources::{ObjectVersion, Opened, Sources, DEFAULT_SOURCE};
pub use store::{FetchSettings, SourceConfig};
