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

/// Why the feed could not be opened.
#[derive(Debug)]
enum FeedError {
    /// The control plane's certificate was refused: nothing was sent to it or read from
    /// it, and trying again cannot help until the certificate or the trust changes.
    Untrusted(String),
    /// The control plane removed this node (said so in its feed): the node may serve
    /// nothing.
    Removed(String),
    /// The feed refused the node token (401), naming the signing key of the control plane
    /// that refused it ([`crate::mgmt::nodes::SIGNING_KEY_ID_HEADER`]). The node serves
    /// nothing only when that is the key it follows: a control plane started on another
    /// data dir (a new key) does not empty a fleet.
    Refused {
        /// Why, in words.
        why: String,
        /// The refusing control plane's signing key id, if it said.
        kid: Option<String>,
    },
    /// Anything else: unreachable, closed, silent, unreadable, an unexpected answer; the
    /// node keeps serving what it has and reconnects.
    Other(String),
}

impl std::fmt::Display for FeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedError::Untrusted(why)
            | FeedError::Removed(why)
            | FeedError::Refused { why, .. }
            | FeedError::Other(why) => f.write_str(why),
        }
    }
}

struct Feed {
    http: HttpsClient,
    /// The control plane's URL without a trailing `/`, for messages.
    base: String,
    /// `--control-plane-cacert`, for messages.
    cacert: Option<PathBuf>,
    feed_url: Url,
    status_url: Url,
    /// `Bearer <node token>`.
    authorization: HeaderValue,
}

impl Feed {
    fn new(config: &NodeConfig) -> Result<Feed, String> {
        let given = &config.control_plane;
        let base = Url::parse(given.trim_end_matches('/'))
            .map_err(|e| format!("--control-plane {given}: {e}"))?;
        let trust = match base.scheme() {
            "https" => {
                let mut trust =
                    mgmt_client::Trust::new((*crate::tls::client::platform_roots()).clone());
                if let Some(path) = &config.control_plane_cacert {
                    mgmt_client::trust_pem_file(&mut trust, path)
                        .map_err(|e| format!("--control-plane-cacert {}: {e}", path.display()))?;
                }
                trust
            }
            "http" => {
                if let Some(path) = &config.control_plane_cacert {
                    return Err(format!(
                        "--control-plane-cacert {} is for an https:// control plane; \
                         --control-plane {given} is http://",
                        path.display()
                    ));
                }
                if !is_loopback(&base) {
                    tracing::warn!(
                        "--control-plane {given} is plain http:// beyond loopback: the node \
                         token and the feed (backend client keys among it) travel \
                         unencrypted, and nothing proves who answers (whoever does can give \
                         this node a token-signing key of their own); serve the management \
                         API over HTTPS (serve --tls-cert FILE --tls-key FILE) and give \
                         https:// here"
                    );
                }
                mgmt_client::Trust::new(RootCertStore::empty())
            }
            other => {
                return Err(format!(
                    "--control-plane {given}: {other}:// is not supported; give an https:// \
                     (or http://) URL"
                ));
            }
        };
        let join = |path: &str| {
            base.join(path)
                .map_err(|e| format!("--control-plane {given}: {e}"))
        };
        let tls = mgmt_client::client_config(trust)?;
        let authorization = HeaderValue::from_str(&format!("Bearer {}", config.token.trim()))
            .map_err(|_| "the node token is not a valid header value".to_string())?;
        Ok(Feed {
            http: mgmt_client::http_client(tls, CONNECT_TIMEOUT),
            base: base.to_string().trim_end_matches('/').to_string(),
            cacert: config.control_plane_cacert.clone(),
            feed_url: join(FEED_PATH)?,
            status_url: join(STATUS_PATH)?,
            authorization,
        })
    }

    /// A request to `url` with the node token, and `body` as JSON when given.
    fn request(
        &self,
        method: hyper::Method,
        url: &Url,
        body: Option<Vec<u8>>,
    ) -> Result<hyper::Request<Full<Bytes>>, String> {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(url.as_str())
            .header(header::AUTHORIZATION, self.authorization.clone());
        let bytes = match body {
            Some(json) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(json)
            }
            None => Bytes::new(),
        };
        req.body(Full::new(bytes))
            .map_err(|e| format!("a request to {url}: {e}"))
    }

    /// Opens the feed, resuming from `last_id` when given.
    async fn open(&self, last_id: Option<String>) -> Result<hyper::Response<Incoming>, FeedError> {
        let mut req = self
            .request(hyper::Method::GET, &self.feed_url, None)
            .map_err(FeedError::Other)?;
        req.headers_mut().insert(
            header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
        if let Some(id) = last_id
            && let Ok(id) = HeaderValue::from_str(&id)
        {
            req.headers_mut().insert("Last-Event-ID", id);
        }
        let resp = match tokio::time::timeout(ANSWER_TIMEOUT, self.http.request(req)).await {
            Err(_) => {
                return Err(FeedError::Other(format!(
                    "{}: no answer within {ANSWER_TIMEOUT:?}",
                    self.feed_url
                )));
            }
            Ok(Err(e)) => return Err(self.transport_error(&e)),
            Ok(Ok(resp)) => resp,
        };
        match resp.status() {
            StatusCode::OK => Ok(resp),
            StatusCode::UNAUTHORIZED => Err(FeedError::Refused {
                why: format!(
                    "{} refused the node token (401): wrong token, or the node was removed",
                    self.feed_url
                ),
                kid: resp
                    .headers()
                    .get(crate::mgmt::nodes::SIGNING_KEY_ID_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
            }),
            other => Err(FeedError::Other(format!(
                "{} answered {other}",
                self.feed_url
            ))),
        }
    }

    /// A transport error in words: a refused certificate says which and what to do;
    /// anything else gives its innermost cause ("Connection refused").
    fn transport_error(&self, e: &(dyn std::error::Error + 'static)) -> FeedError {
        let Some(tls) = mgmt_client::handshake_error(e) else {
            let mut detail = mgmt_client::innermost(e);
            if self.base.starts_with("http://") && mgmt_client::tls_answered_plain_http(&detail) {
                detail.push_str(
                    " (the control plane answers in TLS: use https:// in --control-plane)",
                );
            }
            return FeedError::Other(format!("{}: {detail}", self.feed_url));
        };
        let hint = match tls {
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
                let trusted = match &self.cacert {
                    Some(path) => format!("neither the platform's roots nor {}", path.display()),
                    None => "not the platform's roots; no --control-plane-cacert given".to_string(),
                };
                format!(
                    "its certificate is not signed by a CA this node trusts ({trusted}): give the CA that issued it, or the certificate itself (the \
                     control plane's <data dir>/tls/cert.pem when it generated one), with \
                     --control-plane-cacert FILE"
                )
            }
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            ) => "its certificate does not name the host of --control-plane: use a name the \
                  certificate holds, or serve one that names that host (serve --tls-cert FILE \
                  --tls-key FILE)"
                .to_string(),
            tls if crate::tls::pinned::is_ca_used_as_end_entity(tls) => format!(
                "{}; give that exact certificate with --control-plane-cacert",
                crate::tls::client::CA_AS_LEAF
            ),
            rustls::Error::InvalidCertificate(_) => "its certificate is not acceptable \
                (expired, not yet valid, revoked or not for a server)"
                .to_string(),
            _ => "the TLS handshake failed".to_string(),
        };
        let message = format!(
            "TLS with the control plane at {} failed ({tls}): {hint}; nothing from it is applied",
            self.base
        );
        match tls {
            rustls::Error::InvalidCertificate(_) => FeedError::Untrusted(message),
            _ => FeedError::Other(message),
        }
    }
}

/// Whether `url`'s host is this machine (127.0.0.0/8, ::1, localhost).
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_matches(['[', ']']);
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Reads snapshots from an open feed, handing each to `apply`, until it ends or fails.
async fn read_feed<F, Fut>(resp: hyper::Response<Incoming>, mut apply: F) -> Result<(), FeedError>
where
    F: FnMut(ReplicaState) -> Fut,
    Fut: Future<Output = Result<bool, String>>,
{
    let mut parser = crate::sse::Parser::new();
    let mut body = resp.into_body();
    let silence = FEED_KEEPALIVE * 3;
    loop {
        let failed = |why: String| Err(FeedError::Other(why));
        let frame = match tokio::time::timeout(silence, body.frame()).await {
            Err(_) => return failed(format!("the feed was silent for {silence:?}")),
            Ok(None) => return failed("the control plane closed the feed".to_string()),
            Ok(Some(Err(e))) => return failed(format!("reading the feed: {e}")),
            Ok(Some(Ok(frame))) => frame,
        };
        // Trailers carry nothing for the feed.
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        for item in parser.push_items(&chunk) {
            match item {
                crate::sse::Item::Event(ev) if ev.event.as_deref() == Some(SNAPSHOT_EVENT) => {
                    let state: ReplicaState = serde_json::from_str(&ev.data).map_err(|e| {
                        FeedError::Other(format!(
                            "the feed sent a snapshot this node cannot read: {e}"
                        ))
                    })?;
                    if !apply(state).await.map_err(FeedError::Other)? {
                        return Ok(());
                    }
                }
                crate::sse::Item::Comment(c) if c == "node removed" => {
                    return Err(FeedError::Removed(
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
///
/// # Errors
/// The sentence saying why, when the control plane's certificate is refused: a node with
/// nothing to serve stops there rather than wait on a trust that only the operator can fix.
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
            Err(FeedError::Untrusted(e)) => {
                link.failed(&e);
                return Err(e);
            }
            Err(e) => Err(e),
        };
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

#[derive(Clone)]
struct StatusState {
    telemetry: Telemetry,
    control: Control,
    link: Link,
    control_plane: String,
    public_metrics: bool,
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

/// Whether `/metrics` may answer `peer`: any client with `--public-metrics`, else loopback
/// ones only (an unknown peer is not one).
fn metrics_allowed(peer: Option<SocketAddr>, public: bool) -> bool {
    public || peer.is_some_and(|p| p.ip().to_canonical().is_loopback())
}

/// `GET /metrics`: Prometheus' text format; 403 to a client beyond loopback unless the
/// node runs with `--public-metrics`.
async fn metrics(State(state): State<StatusState>, request: axum::extract::Request) -> Response {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if !metrics_allowed(peer, state.public_metrics) {
        return (
            StatusCode::FORBIDDEN,
            "/metrics answers loopback clients only (it names every API and application); \
             start the node with --public-metrics to serve it to others\n",
        )
            .into_response();
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_answer_loopback_clients_unless_public() {
        let at = |ip: &str| Some(SocketAddr::new(ip.parse().expect("a test address"), 5000));
        assert!(metrics_allowed(at("127.0.0.1"), false));
        assert!(metrics_allowed(at("::1"), false));
        assert!(metrics_allowed(at("::ffff:127.0.0.1"), false));
        assert!(!metrics_allowed(at("10.0.0.7"), false));
        assert!(!metrics_allowed(at("::ffff:10.0.0.7"), false));
        assert!(!metrics_allowed(None, false));
        assert!(metrics_allowed(at("10.0.0.7"), true));
    }

    #[test]
    fn only_this_machine_counts_as_loopback() {
        let loopback = |url: &str| is_loopback(&Url::parse(url).expect("a test URL"));
        for url in [
            "http://127.0.0.1:9443",
            "http://127.8.9.10:9443",
            "http://[::1]:9443",
            "http://localhost:9443",
            "http://LOCALHOST",
        ] {
            assert!(loopback(url), "{url}");
        }
        for url in [
            "http://10.0.0.2:9443",
            "http://[fd00::2]:9443",
            "http://cp.internal:9443",
            "http://localhost.example.com",
        ] {
            assert!(!loopback(url), "{url}");
        }
    }
}
