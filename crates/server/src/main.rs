//! `tessera`: parse the command line and run the subcommand. Wiring only.

use clap::Parser;
use std::process::ExitCode;
use tessera::cli::{CacheCommand, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => tessera::serve::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Check(args) => tessera::check::run(&args),
        Command::Pyramid(args) => tessera::pyramid::command::run(&args),
        Command::Export(args) => tessera::export::run(&args),
        Command::Cache(CacheCommand::Purge(args)) => {
            tessera::purge::run(&args).map(|()| ExitCode::SUCCESS)
        }
        Command::Health(args) => tessera::probe::run(&args).map_err(Into::into),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tessera: {e}");
            ExitCode::FAILURE
        }
    }
}
