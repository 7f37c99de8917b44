//! Starting and stopping the in-process servers: the management API and the gateway.
//! `streamgate serve` and the terminal UI both start them here; a port that is taken is
//! reported by address, and the other server keeps running.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::control::Control;
use crate::gateway::{Gateway, GatewayOptions};
use crate::mgmt;
use crate::telemetry::Telemetry;

/// The default management API address.
pub const DEFAULT_ADMIN_ADDR: &str = "127.0.0.1:9443";
/// The default gateway address.
pub const DEFAULT_GATEWAY_ADDR: &str = "127.0.0.1:8280";
/// The default memory backend address.
pub const DEFAULT_BACKEND_ADDR: &str = "127.0.0.1:8080";
/// How long shutdown waits for the servers before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

/// Where to listen.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Management API address.
    pub admin_addr: SocketAddr,
    /// Gateway address.
    pub gateway_addr: SocketAddr,
    /// Gateway tuning.
    pub gateway: GatewayOptions,
}

/// Binds `addr`, turning "address in use" into a sentence that names it.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => format!("{addr} is already in use"),
        std::io::ErrorKind::PermissionDenied => format!("{addr}: permission denied"),
        _ => format!("{addr}: {e}"),
    })
}

/// The URL clients use to reach a listener: loopback and unspecified addresses are shown
/// as `localhost`, as in the tutorial's curl command.
pub fn public_url(addr: SocketAddr) -> String {
    if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        format!("http://localhost:{}", addr.port())
    } else {
        format!("http://{addr}")
    }
}

/// The running servers. Each address is the bound one, or why binding failed.
pub struct Running {
    /// The management API's address, or why it is not running.
    pub admin: Result<SocketAddr, String>,
    /// The gateway's address, or why it is not running.
    pub gateway: Result<SocketAddr, String>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops both servers: open streams get a final comment, counters are flushed.
    pub async fn shutdown(self) {
        // Receivers may be gone if a server already stopped; that is fine.
        let _ = self.stop.send(true);
        for task in self.tasks {
            if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
                tracing::warn!("a server did not stop within {SHUTDOWN_GRACE:?}");
            }
        }
    }
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    // An error means the sender is gone: stop as well.
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Starts the gateway and the management API. A bind failure is reported in
/// [`Running`] and the other server still starts.
pub async fn start(control: Control, telemetry: Telemetry, config: ServeConfig) -> Running {
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();

    let gateway = match bind(config.gateway_addr).await {
        Ok(listener) => {
            let addr = listener.local_addr().map_err(|e| e.to_string());
            match Gateway::new(control.clone(), telemetry.clone(), config.gateway.clone()) {
                Ok(gw) => {
                    let sampler = crate::analytics::run_sampler(control.clone(), telemetry.clone());
                    let sampler_stop = stopped(stop_rx.clone());
                    tokio::spawn(async move {
                        tokio::select! {
                            () = sampler => {}
                            () = sampler_stop => {}
                        }
                    });
                    let shutdown = stopped(stop_rx.clone());
                    tasks.push(tokio::spawn(async move {
                        if let Err(e) = gw.serve(listener, shutdown).await {
                            tracing::error!("gateway stopped: {e}");
                        }
                    }));
                    addr
                }
                Err(e) => Err(format!("gateway: {e}")),
            }
        }
        Err(e) => Err(e),
    };

    let gateway_url = match &gateway {
        Ok(addr) => public_url(*addr),
        Err(_) => public_url(config.gateway_addr),
    };
    let admin = match bind(config.admin_addr).await {
        Ok(listener) => {
            let addr = listener.local_addr().map_err(|e| e.to_string());
            let router = mgmt::router(control.clone(), telemetry.clone(), gateway_url);
            let shutdown = stopped(stop_rx.clone());
            tasks.push(tokio::spawn(async move {
                if let Err(e) = mgmt::serve(listener, router, shutdown).await {
                    tracing::error!("management API stopped: {e}");
                }
            }));
            addr
        }
        Err(e) => Err(e),
    };
    if let Ok(addr) = &admin
        && !addr.ip().is_loopback()
    {
        tracing::warn!(
            "the management API listens on {addr}, beyond loopback: anyone who can reach it and has the admin token can change the catalog"
        );
    }
    Running {
        admin,
        gateway,
        stop,
        tasks,
    }
}
