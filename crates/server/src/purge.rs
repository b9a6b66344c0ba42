//! `tessera cache purge`: delete cached derivatives from the disk cache folder, of one identifier or all.

use crate::cache::disk::purge_dir;
use crate::cli::{PurgeArgs, ServeArgs};
use crate::config::Config;
use crate::pipeline::located::group_for;
use std::sync::Arc;
use tessera_source::{NoObserver, Sources};

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
            // The same sources and rules as the server, so the identifier finds the same cache group.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let id = id.clone();
            let lookup = runtime.spawn_blocking(move || {
                let sources = Sources::new(
                    &config.images.root.to_string_lossy(),
                    &config.sources,
                    &config.rules,
                    &config.fetch.settings(),
                    Arc::new(NoObserver),
                )?;
                group_for(&sources, &id).map_err(|e| e.to_string())
            });
            let group = runtime.block_on(lookup)??;
            Some(group)
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
