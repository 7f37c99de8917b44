//! The `streamgate` binary. (Minimal dispatch of the client subcommands; the lead merges it
//! with `serve`, `backend` and the TUI.)

use std::process::ExitCode;

use clap::Parser;
use streamgate::cli::{ClientCommand, ClientOptions, run_client};

/// streamgate: an API manager for Server-Sent Events APIs.
#[derive(Debug, Parser)]
#[command(name = "streamgate", version, about)]
struct Cli {
    #[command(flatten)]
    client: ClientOptions,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    #[command(flatten)]
    Client(ClientCommand),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Client(cmd) => run_client(cmd, &cli.client).await,
    }
}
