//! `sg-bench`: the benchmark of issue 7. `origin` is the SSE origin (timestamped events),
//! `load` the load client (many streams, latency from the timestamps, proxy CPU from
//! `/proc`), `gateway` hosts streamgate's gateway alone, `run` the whole side-by-side benchmark (direct, streamgate's gateway, nginx)
//! that `scripts/bench.sh` drives.

mod child;
mod clock;
mod hist;
mod host;
mod load;
mod origin;
mod procstat;
mod report;
mod run;
mod tui;
mod wire;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Errors of the benchmark tools: they are reported, never matched on.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// streamgate's benchmark tools.
#[derive(Debug, Parser)]
#[command(name = "sg-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the SSE origin: `batch` timestamped events every `interval_ms` on each stream.
    Origin(origin::OriginArgs),
    /// Open SSE streams against a URL and measure delivery, latency and a process's CPU.
    Load(load::LoadArgs),
    /// Set up a data dir for the benchmark: an API on the origin, published and deployed,
    /// an application subscribed on AsyncUnlimited; prints its token and the stream path.
    Setup(run::SetupArgs),
    /// Host streamgate's gateway alone over a data dir (when `streamgate serve` is missing).
    Gateway(host::HostArgs),
    /// Run the whole benchmark: direct, through streamgate, through nginx; print the table.
    Run(Box<run::RunArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Origin(args) => origin::run(args).await,
            Command::Load(args) => load::run(args).await,
            Command::Setup(args) => run::setup(args).await,
            Command::Gateway(args) => host::run(args).await,
            Command::Run(args) => run::run(*args).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
