//! The `streamgate` command. (Dispatch of `backend` and of the management API's client
//! subcommands; the lead adds `serve` and the TUI.)

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use streamgate::backend;
use streamgate::cli::{ClientCommand, ClientOptions, run_client};

/// streamgate: an API manager for Server-Sent Events APIs in one binary.
#[derive(Debug, Parser)]
#[command(name = "streamgate", version, about)]
struct Cli {
    #[command(flatten)]
    client: ClientOptions,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the sample memory backend: streams this machine's memory use as
    /// Server-Sent Events on GET /memory.
    Backend(backend::BackendArgs),
    #[command(flatten)]
    Client(ClientCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Backend(args) => backend::run_cli(args),
        Command::Client(cmd) => match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime.block_on(run_client(cmd, &cli.client)),
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
