//! The IIIF Image API 2.1 and 3.0 as pure data: parse and validate request URLs, put them in
//! canonical form, build `info.json` documents, and plan the pixel work of a request.
//!
//! Nothing here performs I/O.

mod error;
mod format;
mod geometry;
pub mod info;
pub mod info_extras;
pub mod levels;
mod limits;
pub mod mounts;
mod number;
mod path;
mod plan;
mod quality;
mod region;
mod request;
mod rotation;
mod size;
mod version;

pub use error::RequestError;
pub use format::OutputFormat;
pub use geometry::{Dimensions, Rect};
pub use info::{ImageService, TileSet};
pub use info_extras::{ExtrasError, InfoExtras, PhysicalUnits};
pub use limits::{Limits, DEFAULT_MAX_AREA};
pub use mounts::{MountError, Mounts};
pub use path::{encode_identifier, IiifPath, PathError, Target};
pub use plan::{plan, rotated_size, Plan};
pub use quality::Quality;
pub use region::Region;
pub use request::ImageRequest;
pub use rotation::Rotation;
pub use size::{Size, SizeKind};
pub use version::ApiVersion;
