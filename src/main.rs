//! The `streamgate` command.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use streamgate::backend;

/// streamgate: an API manager for Server-Sent Events APIs in one binary.
#[derive(Debug, Parser)]
#[command(name = "streamgate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the sample memory backend: streams this machine's memory use as
    /// Server-Sent Events on GET /memory.
    Backend(backend::BackendArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Backend(args) => backend::run_cli(args),
    }
}
