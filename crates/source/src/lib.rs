//! Where image bytes come from: identifiers resolved safely under a root folder, and
//! random-access reads through one trait that every reader uses.

mod random_access;
mod resolve;

pub use random_access::{FileSource, RandomAccess, ReadSeek};
pub use resolve::{FolderResolver, ResolveError, IMAGE_EXTENSIONS};
