//! `sg-bench gateway`: hosts streamgate's gateway alone (no management API) over a data dir,
//! for benchmarking before `streamgate serve` exists, or to measure the data plane by itself.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use streamgate::control::{Control, ControlOptions};
use streamgate::gateway::{Gateway, GatewayOptions};
use streamgate::telemetry::Telemetry;
use tokio::net::TcpListener;

use crate::BoxError;

/// Command-line arguments of `sg-bench gateway`.
#[derive(Debug, Clone, clap::Args)]
pub struct HostArgs {
    /// The data dir, set up beforehand.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,
}

/// Serves the gateway until SIGTERM or Ctrl-C; prints `gateway listening on http://ADDR`.
pub async fn run(args: HostArgs) -> Result<(), BoxError> {
    let data_dir = args.data_dir.clone();
    let control =
        tokio::task::spawn_blocking(move || Control::open(ControlOptions::new(data_dir))).await??;
    let gateway = Gateway::new(control, Telemetry::new(), GatewayOptions::default())?;
    let listener = TcpListener::bind(args.addr).await?;
    println!("gateway listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    gateway
        .serve(listener, async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        })
        .await?;
    Ok(())
}
