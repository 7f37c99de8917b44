//! A gateway node (`streamgate gateway`): the data plane alone, fed by a control plane.
//!
//! The node runs the same [`Gateway`] as `streamgate serve`, over a replica [`Control`] in
//! its own data dir that it never edits itself: a follower task reads the control plane's
//! configuration feed (see [`crate::mgmt::nodes`]) and applies each snapshot to the replica,
//! which saves it, so the node starts and serves from its data dir while the control plane
//! is down. A reporter task posts the node's status (applied version, open streams,
//! address) every [`HEARTBEAT`]. The gateway's listener also answers `/health` and
//! `/metrics`, which say whether the control plane is reachable and since when it is not.

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
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::catalog::{Millis, now_millis};
use crate::control::{Control, NodeReport, ReplicaState};
use crate::gateway::{Gateway, GatewayOptions};
use crate::mgmt::nodes::{FEED_KEEPALIVE, FEED_PATH, SNAPSHOT_EVENT, STATUS_PATH};
use crate::telemetry::Telemetry;

/// How often a node reports its status to the control plane.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// The first wait before reconnecting to the feed; doubled up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between two attempts to reach the control plane.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What a node is started with.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The control plane's management API URL, e.g. `http://10.0.0.2:9443`.
    pub control_plane: String,
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
            if s.unreachable_since.is_none() {
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

struct Feed {
    http: reqwest::Client,
    feed_url: reqwest::Url,
    status_url: reqwest::Url,
    token: String,
}

impl Feed {
    fn new(config: &NodeConfig) -> Result<Feed, String> {
        let base = reqwest::Url::parse(config.control_plane.trim_end_matches('/'))
            .map_err(|e| format!("--control-plane {}: {e}", config.control_plane))?;
        if base.scheme() != "http" {
            return Err(format!(
                "--control-plane {}: only http:// URLs are supported yet",
                config.control_plane
            ));
        }
        let join = |path: &str| {
            base.join(path)
                .map_err(|e| format!("--control-plane {}: {e}", config.control_plane))
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .no_proxy()
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        Ok(Feed {
            http,
            feed_url: join(FEED_PATH)?,
            status_url: join(STATUS_PATH)?,
            token: config.token.trim().to_string(),
        })
    }

    /// Opens the feed, resuming from `last_id` when given.
    async fn open(&self, last_id: Option<String>) -> Result<reqwest::Response, FeedError> {
        let mut req = self
            .http
            .get(self.feed_url.clone())
            .bearer_auth(&self.token);
        if let Some(id) = last_id {
            req = req.header("Last-Event-ID", id);
        }
        let resp = req.send().await.map_err(|e| {
            // reqwest's own message says only "error sending request"; the cause says why.
            let mut cause: &dyn std::error::Error = &e;
            while let Some(next) = cause.source() {
                cause = next;
            }
            FeedError::Failed(format!("{}: {cause}", self.feed_url))
        })?;
        match resp.status() {
            StatusCode::OK => Ok(resp),
            StatusCode::UNAUTHORIZED => Err(FeedError::Refused(format!(
                "{} refused the node token (401): wrong token, or the node was removed",
                self.feed_url
            ))),
            other => Err(FeedError::Failed(format!(
                "{} answered {other}",
                self.feed_url
            ))),
        }
    }
}

/// Why following the feed stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum FeedError {
    /// The control plane removed this node, or refuses its credential (401): the node
    /// may serve nothing.
    #[error("{0}")]
    Refused(String),
    /// Anything else (unreachable, closed, silent, unreadable): the node keeps serving
    /// what it has and reconnects.
    #[error("{0}")]
    Failed(String),
}

/// Reads snapshots from an open feed, handing each to `apply`, until it ends or fails.
async fn read_feed<F, Fut>(resp: reqwest::Response, mut apply: F) -> Result<(), FeedError>
where
    F: FnMut(ReplicaState) -> Fut,
    Fut: Future<Output = Result<bool, String>>,
{
    let mut parser = crate::sse::Parser::new();
    let mut body = resp.bytes_stream();
    let silence = FEED_KEEPALIVE * 3;
    loop {
        let failed = |why: String| Err(FeedError::Failed(why));
        let chunk = match tokio::time::timeout(silence, body.next()).await {
            Err(_) => return failed(format!("the feed was silent for {silence:?}")),
            Ok(None) => return failed("the control plane closed the feed".to_string()),
            Ok(Some(Err(e))) => return failed(format!("reading the feed: {e}")),
            Ok(Some(Ok(chunk))) => chunk,
        };
        for item in parser.push_items(&chunk) {
            match item {
                crate::sse::Item::Event(ev) if ev.event.as_deref() == Some(SNAPSHOT_EVENT) => {
                    let state: ReplicaState = serde_json::from_str(&ev.data).map_err(|e| {
                        FeedError::Failed(format!(
                            "the feed sent a snapshot this node cannot read: {e}"
                        ))
                    })?;
                    if !apply(state).await.map_err(FeedError::Failed)? {
                        return Ok(());
                    }
                }
                crate::sse::Item::Comment(c) if c == "node removed" => {
                    return Err(FeedError::Refused(
                        "the control plane removed this node".to_string(),
                    ));
                }
                _ => {}
            }
        }
    }
}

/// Waits for the first snapshot from the control plane (a node with an empty data dir has
/// nothing to serve before it), retrying with backoff.
async fn first_snapshot(feed: &Feed, link: &Link) -> ReplicaState {
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
        if let Some(state) = got {
            return state;
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
        match result {
            Err(FeedError::Refused(why)) => {
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
            Err(FeedError::Failed(why)) => link.failed(&why),
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
        let sent = feed
            .http
            .post(feed.status_url.clone())
            .bearer_auth(&feed.token)
            .timeout(HEARTBEAT * 2)
            .json(&report)
            .send()
            .await;
        if let Err(e) = sent {
            tracing::debug!("status report failed: {e}");
        }
    }
}

#[derive(Clone)]
struct StatusState {
    telemetry: Telemetry,
    control: Control,
    link: Link,
    control_plane: String,
}

impl StatusState {
    fn describe(&self) -> (String, serde_json::Value) {
        let link = self.link.get();
        let since = link.unreachable_since.map(crate::mgmt::dto::rfc3339);
        let status = match &since {
            _ if link.withdrawn => {
                "removed by the control plane (or its node token is refused): serving nothing"
                    .to_string()
            }
            Some(since) => format!("control plane unreachable since {since}"),
            None if link.connected => "control plane connected".to_string(),
            None => "control plane not reached yet".to_string(),
        };
        let mut json = serde_json::json!({
            // A load balancer takes a withdrawn node out of rotation.
            "status": if link.withdrawn { "DOWN" } else { "UP" },
            "role": "gateway-node",
            "controlPlane": {
                "url": self.control_plane,
                "connected": link.connected,
                "status": status,
                "unreachableSince": since,
                "lastError": link.last_error,
                "appliedVersion": self.control.applied_position().map(|p| p.version),
            },
        });
        if let Some(quota) = crate::mgmt::quota_store_health(&self.telemetry.metrics().quota_store)
        {
            json["quotaStore"] = quota;
        }
        (status, json)
    }
}

/// `GET /health`: 200 with the node's state, or 503 when the node is withdrawn (removed
/// or refused by the control plane), so a load balancer stops sending it clients.
async fn health(State(state): State<StatusState>) -> Response {
    let json = state.describe().1;
    let code = if json["status"] == "DOWN" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, axum::Json(json)).into_response()
}

async fn metrics(State(state): State<StatusState>) -> Response {
    let (status, _) = state.describe();
    let link = state.link.get();
    let mut text = state.telemetry.metrics().render_prometheus();
    text.push_str(&format!(
        "# {status}\n\
         # HELP streamgate_control_plane_connected Whether this node's configuration feed is connected.\n\
         # TYPE streamgate_control_plane_connected gauge\n\
         streamgate_control_plane_connected {}\n\
         # HELP streamgate_control_plane_unreachable_since_seconds Since when the control plane is unreachable (Unix time; 0: reachable).\n\
         # TYPE streamgate_control_plane_unreachable_since_seconds gauge\n\
         streamgate_control_plane_unreachable_since_seconds {}\n\
         # HELP streamgate_feed_applied_version The configuration feed version this node applied last.\n\
         # TYPE streamgate_feed_applied_version gauge\n\
         streamgate_feed_applied_version {}\n",
        u8::from(link.connected),
        link.unreachable_since.map_or(0, |ms| ms / 1000),
        state.control.applied_position().map_or(0, |p| p.version),
    ));
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
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
            tracing::info!("serving from the snapshot saved in {}", dir.display());
            control
        }
        None => {
            tracing::info!(
                "no snapshot in {}: waiting for the control plane at {}",
                dir.display(),
                config.control_plane
            );
            let state = first_snapshot(&feed, &link).await;
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
    };
    let extra = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(status);
    let mut tasks = Vec::new();
    let shutdown = stopped(&stop);
    let gw = gateway.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = gw.serve_with_routes(listener, Some(extra), shutdown).await {
            tracing::error!("gateway stopped: {e}");
        }
    }));
    let (gateway_tls_addr, tls_identity) = match config.gateway_tls_addr {
        None => (None, None),
        Some(addr) => match start_tls(&config, &gateway, addr, stopped(&stop), &mut tasks).await {
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
        if let Err(e) = gateway.serve_tls(listener, tls, shutdown).await {
            tracing::error!("HTTPS gateway stopped: {e}");
        }
    }));
    Ok((bound, identity))
}
