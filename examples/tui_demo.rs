//! Runs the terminal UI with the gateway in process, for trying the UI by hand:
//! `cargo run --example tui_demo -- [--data-dir DIR] [--gateway-addr ADDR]
//! [--backend-addr ADDR] [--theme NAME] [--no-color]`.
//! The management API is not started here (that is `streamgate`'s job).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use streamgate::control::{Control, ControlOptions};
use streamgate::gateway::{Gateway, GatewayOptions};
use streamgate::telemetry::Telemetry;
use streamgate::tui::{self, TuiContext, TuiOptions};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let data_dir = arg(&args, "--data-dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("streamgate-tui-demo"));
    let gateway_addr = arg(&args, "--gateway-addr").unwrap_or_else(|| "127.0.0.1:8280".into());
    let backend_addr: SocketAddr = arg(&args, "--backend-addr")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let opts = TuiOptions {
        theme: arg(&args, "--theme").unwrap_or_else(|| "dark".into()),
        no_color: args.iter().any(|a| a == "--no-color") || tui::no_color_from_env(),
    };
    if let Err(e) = tui::init_logging(&data_dir) {
        eprintln!("{e}");
    }
    let control = match Control::open(ControlOptions::new(&data_dir)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot open {}: {e}", data_dir.display());
            return ExitCode::FAILURE;
        }
    };
    let telemetry = Telemetry::new();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut gateway_task = None;
    let gateway = match tokio::net::TcpListener::bind(&gateway_addr).await {
        Ok(listener) => {
            let addr = listener.local_addr().map_err(|e| e.to_string());
            match Gateway::new(
                control.clone(),
                telemetry.clone(),
                GatewayOptions::default(),
            ) {
                Ok(gw) => {
                    gateway_task = Some(tokio::spawn(gw.serve(listener, async {
                        let _ = stop_rx.await;
                    })));
                    addr
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Err(e) => Err(format!("port of {gateway_addr} is taken or unusable: {e}")),
    };
    let ctx = TuiContext {
        control,
        telemetry,
        admin: Err("the demo does not start the management API".into()),
        gateway,
        backend_addr,
        data_dir,
    };
    let result = tui::run(ctx, opts).await;
    let _ = stop_tx.send(());
    if let Some(task) = gateway_task {
        let _ = task.await;
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
