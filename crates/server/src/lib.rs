//! Tessera's server: configuration, the HTTP face and the process around it.

pub mod check;
pub mod cli;
pub mod config;
pub mod http;
pub mod serve;
pub mod state;
