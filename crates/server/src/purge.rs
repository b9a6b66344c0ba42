//! `tessera cache purge`, and the identifier → cache group rule it shares with the admin endpoint.

use crate::cache::disk::purge_dir;
use crate::cache::group_of;
use crate::cli::{PurgeArgs, ServeArgs};
use crate::config::Config;
use tessera_source::{FolderResolver, ResolveError};

/// The cache group of `identifier`: that of the file it resolves to, or, for a file that is gone,
/// of the path it names.
pub fn group_for(resolver: &FolderResolver, identifier: &str) -> Result<String, ResolveError> {
    match resolver.resolve(identifier) {
        Ok(file) => Ok(group_of(resolver.root(), &file)),
        Err(ResolveError::NotFound) => Ok(group_of(
            resolver.root(),
            &resolver.root().join(identifier.trim_start_matches('/')),
        )),
        Err(e) => Err(e),
    }
}

/// Delete cached derivatives from the disk cache folder.
pub fn run(args: &PurgeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let serve_args = ServeArgs {
        config: args.config.clone(),
        images: args.images.clone(),
        cache_dir: args.cache_dir.clone(),
        ..ServeArgs::default()
    };
    let config = Config::load(&serve_args, std::env::vars())?;
    let dir = config
        .cache
        .dir
        .ok_or("no cache folder: pass --cache-dir or set cache.dir")?;
    let group = match &args.identifier {
        Some(id) => {
            let resolver = FolderResolver::new(&config.images.root)?;
            Some(group_for(&resolver, id)?)
        }
        None => None,
    };
    let purged = purge_dir(&dir, group.as_deref());
    println!(
        "purged {} files ({} bytes) from {}",
        purged.files,
        purged.bytes,
        dir.display()
    );
    Ok(())
}
