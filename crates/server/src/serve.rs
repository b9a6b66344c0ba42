//! `tessera serve`: load the config, bind, serve until Ctrl-C or SIGTERM, then drain: readiness goes
//! to 503, the listener closes after `server.drain_delay_secs`, and in-flight requests get
//! `server.shutdown_grace_secs` to finish. Connections are accepted and limited by `http::serve`.

use crate::cli::ServeArgs;
use crate::config::Config;
use crate::state::AppState;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// Run the server; returns when it has shut down.
pub fn run(args: &ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load(args, std::env::vars())?;
    // Held to the end: dropping it writes out the queued log lines.
    let _log = crate::logging::init(&config)?;
    let state = Arc::new(AppState::new(&config)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.server.listen).await?;
        let addr = listener.local_addr()?;
        let described = state.sources.describe();
        let jpeg = tessera_image::encode::jpeg_encoder_name();
        tracing::info!(sources = %described, %addr, jpeg_encoder = jpeg, "serving");
        // Best effort: a closed stdout (a supervisor, a test harness) must not stop the server.
        let mut out = std::io::stdout();
        let v3 = state.mounts.prefix(tessera_iiif::ApiVersion::V3);
        let _ = writeln!(out, "Tessera is serving {described} on http://{addr}{v3}/");
        if state.viewer.is_some() {
            let _ = writeln!(
                out,
                "Viewer: http://{addr}/ (the images, each in a deep-zoom viewer)"
            );
        }
        if let Some(example) = state.sources.default_folder().and_then(first_image) {
            let _ = writeln!(out, "Try: http://{addr}{v3}/{example}/info.json");
        }
        let _ = out.flush();
        let drain_delay = Duration::from_secs_f64(config.server.drain_delay_secs);
        let grace = Duration::from_secs_f64(config.server.shutdown_grace_secs);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let draining = Arc::clone(&state);
        tokio::spawn(async move {
            shutdown_signal().await;
            draining.health.set_draining();
            tracing::info!(
                drain_delay_s = drain_delay.as_secs_f64(),
                "draining: readiness is 503"
            );
            tokio::time::sleep(drain_delay).await;
            tracing::info!(
                grace_s = grace.as_secs_f64(),
                "closing the listener; finishing in-flight requests"
            );
            let _ = stop_tx.send(true);
        });
        let limits = crate::http::ConnectionLimits {
            max_connections: config.server.max_connections,
            timeouts: crate::http::Timeouts {
                header_read: Duration::from_secs_f64(config.server.header_read_timeout_secs),
                idle: Duration::from_secs_f64(config.server.idle_timeout_secs),
            },
        };
        let server = crate::http::serve(
            listener,
            crate::http::router(Arc::clone(&state)),
            limits,
            Arc::clone(&state.metrics),
            stop_rx,
            grace,
        );
        state.health.set_started();
        if !server.await {
            tracing::warn!("shutdown grace period over; closing the remaining connections");
        }
        tracing::info!("stopped");
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    // Renders still running past the grace period are abandoned, not waited for.
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

/// The identifier of some image in `root`, to print a working URL.
fn first_image(root: &std::path::Path) -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| tessera_source::has_image_extension(n))
        .collect();
    names.sort();
    let name = names.into_iter().next()?;
    let stem = name
        .rsplit_once('.')
        .map_or(name.as_str(), |(stem, _)| stem);
    Some(tessera_iiif::encode_identifier(stem, false))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested");
}
