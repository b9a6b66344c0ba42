//! Tessera's server: configuration, the HTTP face and the process around it.

pub mod cache;
pub mod check;
pub mod cli;
pub mod config;
pub mod export;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod pipeline;
pub mod probe;
pub mod purge;
pub mod pyramid;
pub mod serve;
pub mod state;
