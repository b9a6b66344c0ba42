//! Tessera's server: configuration, the HTTP face and the process around it.

pub mod admission;
pub mod cache;
pub mod check;
pub mod cli;
pub mod coalesce;
pub mod config;
pub mod http;
pub mod locate;
pub mod metrics;
pub mod open_image;
pub mod purge;
pub mod reader_pool;
pub mod serve;
pub mod state;
