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
use crate::tls::server::{ALPN_H2_HTTP11, ListenerOptions, ServerIdentity};

/// The default management API address.
pub const DEFAULT_ADMIN_ADDR: &str = "127.0.0.1:9443";
/// The default gateway address.
pub const DEFAULT_GATEWAY_ADDR: &str = "127.0.0.1:8280";
/// The default HTTPS gateway address (HTTP/2 and HTTP/1.1), as WSO2's 8243.
pub const DEFAULT_GATEWAY_TLS_ADDR: &str = "127.0.0.1:8243";
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
    /// Gateway tuning; its `listener` limits apply to the management API's listener too.
    pub gateway: GatewayOptions,
    /// TLS listeners and their certificate.
    pub tls: ListenerOptions,
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
    /// The HTTPS gateway's address, or why it is not running; `None` when not asked for.
    pub gateway_tls: Option<Result<SocketAddr, String>>,
    /// The TLS listeners' certificate (fingerprint, file, reload), `Ok(None)` when no
    /// listener uses TLS, or why it could not be loaded (nothing is served over TLS then).
    pub tls: Result<Option<ServerIdentity>, String>,
    /// Whether the management API speaks HTTPS.
    pub admin_https: bool,
    /// The gateway both listeners serve (its router, counter flushes); `None` when it
    /// could not be built.
    pub service: Option<Gateway>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops both servers: open streams get a final comment, counters are flushed.
    /// Answers whether every server stopped within the grace period (4 s each).
    pub async fn shutdown(self) -> bool {
        // Receivers may be gone if a server already stopped; that is fine.
        let _ = self.stop.send(true);
        let mut all_stopped = true;
        for task in self.tasks {
            if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
                tracing::warn!("a server did not stop within {SHUTDOWN_GRACE:?}");
                all_stopped = false;
            }
        }
        all_stopped
    }
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    // An error means the sender is gone: stop as well.
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Starts the gateway and the management API. A bind failure is reported in
/// [`Running`] and the other server still starts.
pub async fn start(control: Control, telemetry: Telemetry, config: ServeConfig) -> Running {
    if let Err(e) = crate::gateway::listener::raise_open_files_limit() {
        tracing::warn!("cannot raise the open files limit: {e}");
    }
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let tls = load_identity(&control, &config.tls).await;
    let mut tls_gateway = None;

    let gateway = match bind(config.gateway_addr).await {
        Ok(listener) => {
            let addr = listener.local_addr().map_err(|e| e.to_string());
            match Gateway::new(control.clone(), telemetry.clone(), config.gateway.clone()) {
                Ok(gw) => {
                    tls_gateway = Some(gw.clone());
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
    let gateway_tls = match config.tls.gateway_tls_addr {
        None => None,
        Some(addr) => {
            let shutdown = stopped(stop_rx.clone());
            Some(start_tls_gateway(tls_gateway.clone(), &tls, addr, shutdown, &mut tasks).await)
        }
    };
    let admin_https = config.tls.admin_https();
    let admin_plain_refused =
        !admin_https && !config.tls.insecure_http && !config.admin_addr.ip().is_loopback();
    let admin = match bind(config.admin_addr).await {
        Ok(_) if admin_plain_refused => Err(format!(
            "refusing to serve the management API in plain HTTP on {}, beyond loopback: \
             give --tls-cert/--tls-key or --admin-tls, or --insecure-http",
            config.admin_addr
        )),
        Ok(listener) => {
            let addr = listener.local_addr().map_err(|e| e.to_string());
            let router = mgmt::router(control.clone(), telemetry.clone(), gateway_url);
            let shutdown = {
                let stop = stopped(stop_rx.clone());
                let control = control.clone();
                // Gateway nodes' feeds never end by themselves.
                async move {
                    stop.await;
                    control.close_feeds();
                }
            };
            if admin_https {
                match admin_tls_config(&tls) {
                    Ok(tls_config) => {
                        let options = config.gateway.listener.clone();
                        let metrics = telemetry.metrics().clone();
                        tasks.push(tokio::spawn(async move {
                            let served = crate::gateway::listener::serve_transport(
                                listener,
                                router,
                                options,
                                metrics,
                                crate::gateway::listener::Transport::Tls(tls_config),
                                shutdown,
                            );
                            if let Err(e) = served.await {
                                tracing::error!("management API stopped: {e}");
                            }
                        }));
                        addr
                    }
                    Err(e) => Err(e),
                }
            } else {
                let options = config.gateway.listener.clone();
                let metrics = telemetry.metrics().clone();
                tasks.push(tokio::spawn(async move {
                    let served = mgmt::serve_with(listener, router, options, metrics, shutdown);
                    if let Err(e) = served.await {
                        tracing::error!("management API stopped: {e}");
                    }
                }));
                addr
            }
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
        gateway_tls,
        tls,
        admin_https,
        service: tls_gateway,
        stop,
        tasks,
    }
}

/// The listeners' certificate, when one is needed (blocking file I/O off the runtime).
async fn load_identity(
    control: &Control,
    options: &ListenerOptions,
) -> Result<Option<ServerIdentity>, String> {
    if !options.needs_identity() {
        return Ok(None);
    }
    let data_dir = control.data_dir().to_path_buf();
    let options = options.clone();
    tokio::task::spawn_blocking(move || {
        ServerIdentity::load_or_generate(&data_dir, options.cert.as_deref(), options.key.as_deref())
    })
    .await
    .map_err(|e| format!("TLS certificate: {e}"))?
    .map(Some)
    .map_err(|e| format!("TLS certificate: {e}"))
}

fn admin_tls_config(
    tls: &Result<Option<ServerIdentity>, String>,
) -> Result<std::sync::Arc<rustls::ServerConfig>, String> {
    match tls {
        Ok(Some(identity)) => identity
            .server_config(&[b"http/1.1"])
            .map_err(|e| e.to_string()),
        Ok(None) => Err("no TLS certificate".to_string()),
        Err(e) => Err(e.clone()),
    }
}

/// Starts the gateway's HTTPS listener (h2 and HTTP/1.1 by ALPN) on `addr`, serving the
/// same gateway (routes, meters, streams, slow-client limits, the final comment on
/// shutdown) as the plain listener.
async fn start_tls_gateway(
    gateway: Option<Gateway>,
    tls: &Result<Option<ServerIdentity>, String>,
    addr: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<SocketAddr, String> {
    let gateway = gateway.ok_or_else(|| {
        "not started: it serves the same gateway as the plain port, which did not start".to_string()
    })?;
    let config = match tls {
        Ok(Some(identity)) => identity
            .server_config(&ALPN_H2_HTTP11)
            .map_err(|e| e.to_string())?,
        Ok(None) => return Err("no TLS certificate".to_string()),
        Err(e) => return Err(e.clone()),
    };
    let listener = bind(addr).await?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    tasks.push(tokio::spawn(async move {
        if let Err(e) = gateway.serve_tls(listener, config, shutdown).await {
            tracing::error!("HTTPS gateway stopped: {e}");
        }
    }));
    Ok(bound)
}
