//! A gateway node (`streamgate gateway`): the data plane alone, fed by a control plane.
//!
//! The node runs the same [`Gateway`] as `streamgate serve`, over a replica [`Control`] in
//! its own data dir that it never edits itself: a follower task reads the control plane's
//! configuration feed (see [`crate::mgmt::nodes`]) and applies each snapshot to the replica,
//! which saves it, so the node starts and serves from its data dir while the control plane
//! is down. A reporter task posts the node's status (applied version, open streams,
//! address) every [`HEARTBEAT`]. The gateway's listener also answers `/health` and
//! `/metrics`, which say whether the control plane is reachable and since when it is not.
//!
//! An `https://` control plane is authenticated before anything is sent or read: its
//! certificate must chain to the platform's roots or to `--control-plane-cacert`, and name
//! the URL's host (the CLI's client, [`crate::tls::mgmt_client`]). A plain `http://` one
//! beyond loopback still works, with a warning: the node token and the feed travel in the
//! clear and nothing proves who answers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use reqwest::Url;
use rustls::{CertificateError, RootCertStore};
use tokio::sync::watch;

use crate::catalog::{Millis, now_millis};
use crate::control::{Control, NodeReport, ReplicaState};
use crate::gateway::{Gateway, GatewayOptions};
use crate::mgmt::nodes::{FEED_KEEPALIVE, FEED_PATH, SNAPSHOT_EVENT, STATUS_PATH};
use crate::telemetry::Telemetry;
use crate::tls::mgmt_client::{self, HttpsClient};

mod feed;
mod status;

use feed::{Feed, FeedError, read_feed};
use status::{StatusState, health, metrics};

/// How often a node reports its status to the control plane.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// The first wait before reconnecting to the feed; doubled up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between two attempts to reach the control plane.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How long a TCP connect to the control plane may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the control plane may take to answer the feed request's head (TLS handshake
/// included), so a server that accepts and then says nothing is tried again.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// What a node is started with.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The control plane's management API URL, e.g. `https://cp.internal:9443`.
    pub control_plane: String,
    /// A PEM file of certificates trusted for an `https://` control plane, beside the
    /// platform's roots: the CA that issued its certificate, or that certificate itself.
    pub control_plane_cacert: Option<PathBuf>,
    /// The node token (`streamgate node add NAME`).
    pub token: String,
    /// The node's own data dir (replica, quota counters, TLS certificate).
    pub data_dir: PathBuf,
    /// The gateway's address.
    pub gateway_addr: SocketAddr,
    /// The HTTPS gateway's address (HTTP/2 and HTTP/1.1), if wanted.
    pub gateway_tls_addr: Option<SocketAddr>,
    /// The HTTPS gateway's certificate and key (PEM); without them a self-signed one is
    /// generated in the data dir.
    pub tls_files: Option<(PathBuf, PathBuf)>,
    /// Gateway tuning, including the shared quota store (`GatewayOptions::redis`) that
    /// makes quotas exact across every node given the same Redis URL.
    pub gateway: GatewayOptions,
    /// Whether `/metrics` answers any client; else loopback clients only (it names every
    /// API and application with their traffic, and the gateway port faces clients).
    pub public_metrics: bool,
}

/// The node's link to the control plane, as `/health` and `/metrics` report it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkState {
    /// Whether the feed is connected now.
    pub connected: bool,
    /// Since when the control plane has been unreachable (ms since the epoch).
    pub unreachable_since: Option<Millis>,
    /// Why, the last time it failed.
    pub last_error: Option<String>,
    /// Whether the control plane removed this node or refuses its credential: the
    /// replica is emptied and the node serves nothing until it is let in again.
    pub withdrawn: bool,
}

/// Shared [`LinkState`].
#[derive(Debug, Clone, Default)]
pub struct Link(Arc<Mutex<LinkState>>);

impl Link {
    /// The state now.
    pub fn get(&self) -> LinkState {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn connected(&self) {
        if let Ok(mut s) = self.0.lock() {
            if let Some(since) = s.unreachable_since.take() {
                tracing::info!(
                    "control plane reachable again (unreachable since {})",
                    crate::mgmt::dto::rfc3339(since)
                );
            }
            s.connected = true;
            s.last_error = None;
            s.withdrawn = false;
        }
    }

    fn withdrawn(&self, why: &str) {
        self.failed(why);
        if let Ok(mut s) = self.0.lock() {
            s.withdrawn = true;
        }
    }

    fn failed(&self, why: &str) {
        if let Ok(mut s) = self.0.lock() {
            // Once per outage, and again when the reason changes (the control plane came
            // back with a certificate this node does not trust, say).
            if s.unreachable_since.is_none() || s.last_error.as_deref() != Some(why) {
                tracing::warn!("control plane unreachable: {why}");
            }
            s.connected = false;
            s.unreachable_since.get_or_insert_with(now_millis);
            s.last_error = Some(why.to_string());
        }
    }
}

/// The running node.
pub struct RunningNode {
    /// The gateway's bound address.
    pub gateway_addr: SocketAddr,
    /// The HTTPS gateway's bound address, when asked for.
    pub gateway_tls_addr: Option<Result<SocketAddr, String>>,
    /// The HTTPS gateway's certificate and key (reloaded on SIGHUP), when it runs.
    pub tls_identity: Option<crate::tls::server::ServerIdentity>,
    /// The replica.
    pub control: Control,
    /// The link to the control plane.
    pub link: Link,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningNode {
    /// Stops the gateway (open streams get `: gateway shutting down`, counters are
    /// flushed), the follower and the reporter.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        for task in self.tasks {
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                tracing::warn!("a node task did not stop within 5 s");
            }
        }
    }
}

/// Waits for the first snapshot from the control plane (a node with an empty data dir has
/// nothing to serve before it), retrying with backoff while the control plane is
/// unreachable or down.
///
/// # Errors
/// The sentence saying why when only the operator can fix it: the control plane's
/// certificate is refused, it answers in TLS to `http://`, it refuses the node token (401)
/// or says the node was removed. A node with nothing to serve stops there rather than
/// retry for ever.
async fn first_snapshot(feed: &Feed, link: &Link) -> Result<ReplicaState, String> {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let mut got = None;
        let result = match feed.open(None).await {
            Ok(resp) => {
                link.connected();
                read_feed(resp, |state| {
                    got = Some(state);
                    async { Ok(false) }
                })
                .await
            }
            Err(e) => Err(e),
        };
        if let Err(
            FeedError::Untrusted(e)
            | FeedError::WrongScheme(e)
            | FeedError::Refused { why: e, .. }
            | FeedError::Removed(e),
        ) = result
        {
            link.failed(&e);
            return Err(e);
        }
        if let Some(state) = got {
            return Ok(state);
        }
        if let Err(e) = result {
            link.failed(&e.to_string());
            tracing::info!("waiting for the first snapshot from the control plane: {e}");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Follows the feed for ever, applying every snapshot to the replica; reconnects with
/// backoff, resuming from the last applied position. When the control plane removed the
/// node or refuses its credential, the replica is emptied first (see
/// [`Control::withdraw_replica`]): a node cut off serves nothing.
async fn follow(feed: Arc<Feed>, control: Control, link: Link) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let last = control.applied_position().map(|p| p.to_string());
        let result = match feed.open(last).await {
            Ok(resp) => {
                link.connected();
                backoff = FIRST_BACKOFF;
                let control = &control;
                read_feed(resp, |state| async move {
                    control
                        .apply_replica(state)
                        .await
                        .map(|()| true)
                        .map_err(|e| format!("cannot apply the snapshot: {e}"))
                })
                .await
            }
            Err(e) => Err(e),
        };
        let own_kid = control.keys().kid().to_string();
        let result = match result {
            Err(FeedError::Refused { why, kid }) if kid.as_deref() == Some(own_kid.as_str()) => {
                Err(FeedError::Removed(why))
            }
            Err(FeedError::Refused { why, kid }) => Err(FeedError::Other(format!(
                "{why}; but that control plane signs with key {} where this node follows \
                 key {own_kid}: not the control plane this node follows (started on another \
                 data dir?), so this node keeps serving what it has",
                kid.as_deref().unwrap_or("(not said)")
            ))),
            other => other,
        };
        match result {
            Err(FeedError::Removed(why)) => {
                if !link.get().withdrawn {
                    tracing::error!(
                        "{why}: this node now serves nothing (open streams close, requests \
                         get 404) until `streamgate node add` lets it in again"
                    );
                }
                if let Err(e) = control.withdraw_replica().await {
                    tracing::error!("cannot empty this node's replica: {e}");
                }
                link.withdrawn(&why);
            }
            Err(e) => link.failed(&e.to_string()),
            Ok(()) => link.failed("the feed ended"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Posts the node's status every [`HEARTBEAT`].
async fn report(feed: Arc<Feed>, control: Control, telemetry: Telemetry, address: String) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let report = NodeReport {
            applied_version: control.applied_position().map(|p| p.version),
            address: Some(address.clone()),
            open_streams: telemetry.metrics().open_streams.load(Ordering::Relaxed),
        };
        if let Err(e) = post_status(&feed, &report).await {
            tracing::debug!("status report failed: {e}");
        }
    }
}

/// Posts one status report, reading the answer so the connection is kept for the next.
async fn post_status(feed: &Feed, report: &NodeReport) -> Result<(), String> {
    let json = serde_json::to_vec(report).map_err(|e| e.to_string())?;
    let req = feed.request(hyper::Method::POST, &feed.status_url, Some(json))?;
    let exchange = async {
        let resp = feed
            .http
            .request(req)
            .await
            .map_err(|e| feed.transport_error(&e).to_string())?;
        let status = resp.status();
        resp.into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("{} answered {status}", feed.status_url))
        }
    };
    tokio::time::timeout(HEARTBEAT * 2, exchange)
        .await
        .map_err(|_| format!("{}: no answer within {:?}", feed.status_url, HEARTBEAT * 2))?
}

/// Starts a node: opens its replica (waiting for the control plane's first snapshot when
/// the data dir has none), then the gateway, the feed follower and the status reporter.
///
/// # Errors
/// A sentence when the URL is not usable, the data dir cannot be opened or the gateway's
/// address cannot be bound.
pub async fn start(config: NodeConfig, telemetry: Telemetry) -> Result<RunningNode, String> {
    let feed = Arc::new(Feed::new(&config)?);
    let link = Link::default();
    let dir = config.data_dir.clone();
    let open = |initial: Option<ReplicaState>| {
        let dir = dir.clone();
        async move {
            tokio::task::spawn_blocking(move || Control::open_replica(&dir, initial))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
        }
    };
    let control = match open(None).await? {
        Some(control) => {
            let withdrawn = control
                .applied_position()
                .is_some_and(|p| p.epoch == crate::control::WITHDRAWN_EPOCH);
            if withdrawn {
                // Said at once, before the control plane is reached: a load balancer must
                // not send clients to a node that serves nothing.
                link.withdrawn(
                    "the control plane removed this node (or refused its token) before it \
                     stopped: it serves nothing until `streamgate node add` lets it in again",
                );
            } else {
                tracing::info!("serving from the snapshot saved in {}", dir.display());
            }
            control
        }
        None => {
            tracing::info!(
                "no snapshot in {}: waiting for the control plane at {}",
                dir.display(),
                config.control_plane
            );
            let state = first_snapshot(&feed, &link).await?;
            open(Some(state))
                .await?
                .ok_or_else(|| "the first snapshot was not kept".to_string())?
        }
    };
    let listener = crate::launch::bind(config.gateway_addr).await?;
    let gateway_addr = listener.local_addr().map_err(|e| e.to_string())?;
    let gateway = Gateway::new(control.clone(), telemetry.clone(), config.gateway.clone())
        .map_err(|e| format!("gateway: {e}"))?;
    let (stop, _) = watch::channel(false);
    let stopped = |stop: &watch::Sender<bool>| {
        let mut rx = stop.subscribe();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let status = StatusState {
        telemetry: telemetry.clone(),
        control: control.clone(),
        link: link.clone(),
        control_plane: config.control_plane.clone(),
        public_metrics: config.public_metrics,
    };
    let extra = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(status);
    let mut tasks = Vec::new();
    let shutdown = stopped(&stop);
    let gw = gateway.clone();
    let plain_extra = extra.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = gw
            .serve_with_routes(listener, Some(plain_extra), shutdown)
            .await
        {
            tracing::error!("gateway stopped: {e}");
        }
    }));
    let (gateway_tls_addr, tls_identity) = match config.gateway_tls_addr {
        None => (None, None),
        Some(addr) => match start_tls(
            &config,
            &gateway,
            addr,
            extra.clone(),
            stopped(&stop),
            &mut tasks,
        )
        .await
        {
            Ok((bound, identity)) => (Some(Ok(bound)), Some(identity)),
            Err(e) => (Some(Err(e)), None),
        },
    };
    let background = [
        tokio::spawn(follow(feed.clone(), control.clone(), link.clone())),
        tokio::spawn(report(
            feed,
            control.clone(),
            telemetry.clone(),
            crate::launch::public_url(gateway_addr),
        )),
        tokio::spawn(crate::analytics::run_sampler(
            control.clone(),
            telemetry.clone(),
        )),
    ];
    let until = stopped(&stop);
    tasks.push(tokio::spawn(async move {
        until.await;
        for task in background {
            task.abort();
        }
    }));
    Ok(RunningNode {
        gateway_addr,
        gateway_tls_addr,
        tls_identity,
        control,
        link,
        stop,
        tasks,
    })
}

async fn start_tls(
    config: &NodeConfig,
    gateway: &Gateway,
    addr: SocketAddr,
    extra: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> Result<(SocketAddr, crate::tls::server::ServerIdentity), String> {
    let dir = config.data_dir.clone();
    let files = config.tls_files.clone();
    let identity = tokio::task::spawn_blocking(move || {
        crate::tls::server::ServerIdentity::load_or_generate(
            &dir,
            files.as_ref().map(|f| f.0.as_path()),
            files.as_ref().map(|f| f.1.as_path()),
        )
    })
    .await
    .map_err(|e| format!("TLS certificate: {e}"))?
    .map_err(|e| format!("TLS certificate: {e}"))?;
    let tls = identity
        .server_config(&crate::tls::server::ALPN_H2_HTTP11)
        .map_err(|e| e.to_string())?;
    let listener = crate::launch::bind(addr).await?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let gateway = gateway.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = gateway
            .serve_tls_with_routes(listener, tls, Some(extra), shutdown)
            .await
        {
            tracing::error!("HTTPS gateway stopped: {e}");
        }
    }));
    Ok((bound, identity))
}
