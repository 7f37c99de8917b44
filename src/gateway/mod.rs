//! The gateway, streamgate's data plane (`:8280`): routes `/{context}/{version}/{resource}`
//! to the deployed revision's backend, checks token, subscription and quotas against the
//! control plane's lock-free view, and relays the SSE stream event-exactly.
//!
//! The request path reads one `Arc` snapshot of the view, verifies the JWT in memory and
//! takes no lock shared by all requests; quota counters live in memory and are flushed to
//! the store every [`GatewayOptions::counter_flush`] and on shutdown.

mod access;
mod meter;
mod reject;
mod relay;
mod upstream;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;
use tower_http::cors::{Any, CorsLayer};

use crate::catalog::now_millis;
use crate::control::{Control, ControlError};
use crate::telemetry::{Telemetry, TrafficEvent};

pub use access::ACCESS_TOKEN_PARAM;
pub use reject::{Reject, THROTTLED_BODY};

use access::{Admission, Rights};
use meter::{Meter, Registry};
use relay::{Metering, Relay, RelayParts};
use upstream::UpstreamBody;

/// Idle time after which a stream gets a heartbeat comment.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);
/// How long the gateway waits for a backend to accept and answer.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often quota counters are written to the store.
pub const DEFAULT_COUNTER_FLUSH: Duration = Duration::from_secs(5);
/// How long shutdown waits for streams to end before dropping their connections.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// How long browsers may cache a CORS preflight answer.
const CORS_MAX_AGE: Duration = Duration::from_secs(3600);

/// Request headers that describe one hop, never forwarded (RFC 9110 §7.6.1), plus the
/// credentials and the ones the gateway sets itself.
const NOT_FORWARDED: [&str; 13] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "authorization",
    "content-length",
    "accept-encoding",
];

/// Settings of the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayOptions {
    /// Idle time after which a stream gets a `: heartbeat` comment (between events only).
    pub heartbeat: Duration,
    /// How long to wait for a backend to accept the connection and send its headers
    /// before answering 503 (code 101503).
    pub connect_timeout: Duration,
    /// How often quota counters are flushed to the store (they are also flushed on
    /// shutdown).
    pub counter_flush: Duration,
    /// How long shutdown waits for streams to end before dropping their connections.
    pub shutdown_grace: Duration,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            heartbeat: DEFAULT_HEARTBEAT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            counter_flush: DEFAULT_COUNTER_FLUSH,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The persisted quota counters could not be read.
    #[error("cannot load quota counters: {0}")]
    Counters(#[from] ControlError),
}

struct Inner {
    control: Control,
    telemetry: Telemetry,
    options: GatewayOptions,
    meter: Meter,
    /// Per (API, application) event counters from telemetry, cached lock-free.
    api_events: Registry<(String, String), Arc<AtomicU64>>,
    next_stream: AtomicU64,
    stop: watch::Sender<bool>,
}

/// The gateway. Cheap to clone; clones share streams, counters and shutdown.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("options", &self.inner.options)
            .finish()
    }
}

impl Gateway {
    /// A gateway over `control`, resuming the quota counters persisted in its store.
    pub fn new(
        control: Control,
        telemetry: Telemetry,
        options: GatewayOptions,
    ) -> Result<Gateway, GatewayError> {
        let loaded = control.load_counters()?;
        let (stop, _) = watch::channel(false);
        Ok(Gateway {
            inner: Arc::new(Inner {
                control,
                telemetry,
                options,
                meter: Meter::new(loaded),
                api_events: Registry::default(),
                next_stream: AtomicU64::new(1),
                stop,
            }),
        })
    }

    /// The options in use.
    pub fn options(&self) -> &GatewayOptions {
        &self.inner.options
    }

    /// The telemetry the gateway reports to.
    pub fn telemetry(&self) -> &Telemetry {
        &self.inner.telemetry
    }

    /// The data plane's routes: every path, with CORS for browser `EventSource` clients.
    pub fn router(&self) -> Router {
        let cors = CorsLayer::new()
            .allow_origin(Any)
            .allow_methods([Method::GET, Method::OPTIONS])
            .allow_headers([
                header::AUTHORIZATION,
                HeaderName::from_static("last-event-id"),
                header::CACHE_CONTROL,
                header::ACCEPT,
                HeaderName::from_static("x-requested-with"),
            ])
            .expose_headers([header::RETRY_AFTER, header::WWW_AUTHENTICATE])
            .max_age(CORS_MAX_AGE);
        Router::new()
            .fallback(handle)
            .with_state(self.clone())
            .layer(cors)
    }

    /// Serves on `listener` until `shutdown` resolves; then ends every open stream with
    /// `: gateway shutting down`, waits up to [`GatewayOptions::shutdown_grace`] for them,
    /// flushes the quota counters and returns.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // A gateway served again after a shutdown starts afresh.
        self.inner.stop.send_replace(false);
        let stop = self.inner.stop.clone();
        let mut flusher = AbortOnDrop(tokio::spawn(self.clone().flush_periodically()));
        let app = self
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            shutdown.await;
            stop.send_replace(true);
        });
        let mut stopped = self.inner.stop.subscribe();
        let grace = self.inner.options.shutdown_grace;
        let result = tokio::select! {
            result = server.into_future() => result,
            () = async {
                // An error means the sender is gone, which cannot happen while `self` lives.
                let _ = stopped.wait_for(|s| *s).await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!("gateway: streams still open after {grace:?}; dropping them");
                Ok(())
            }
        };
        self.inner.stop.send_replace(true);
        // Wait for the flusher to be gone, so its handle on control is released on return.
        flusher.0.abort();
        let _ = (&mut flusher.0).await;
        self.flush_counters().await;
        result
    }

    /// Writes the quota counters that changed since the last flush to the store.
    pub async fn flush_counters(&self) {
        crate::analytics::flush(&self.inner.control, &self.inner.telemetry).await;
        let dirty = self.inner.meter.dirty();
        if dirty.is_empty() {
            return;
        }
        let records = dirty
            .iter()
            .map(|(id, rec, _)| (id.clone(), *rec))
            .collect();
        match self.inner.control.save_counters(records).await {
            Ok(()) => self.inner.meter.mark_flushed(&dirty),
            Err(e) => tracing::warn!("gateway: cannot save quota counters: {e}"),
        }
    }

    async fn flush_periodically(self) {
        let mut tick = tokio::time::interval(self.inner.options.counter_flush);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            self.flush_counters().await;
        }
    }

    async fn handle(&self, req: Request) -> Response {
        let client = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let path = req.uri().path().to_string();
        match self.open(req, client).await {
            Ok(response) => response,
            Err(reject) => {
                let metrics = self.inner.telemetry.metrics();
                metrics.reject(reject.code());
                if let Reject::BackendUnreachable(detail) | Reject::BackendNotSse(detail) = &reject
                {
                    metrics.backend_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("gateway: {path}: {detail}");
                }
                self.inner.telemetry.report(TrafficEvent::Rejected {
                    path,
                    status: reject.status().as_u16(),
                    code: reject.code(),
                    message: reject.detail(),
                    client: client.map(|c| c.to_string()).unwrap_or_default(),
                    at: now_millis(),
                });
                reject.into_response()
            }
        }
    }

    /// Admits a request and opens its backend stream.
    async fn open(&self, req: Request, client: Option<SocketAddr>) -> Result<Response, Reject> {
        let inner = &*self.inner;
        // Watch before reading the view, so a change in between is not missed.
        let view_rx = inner.control.watch_view();
        let view = inner.control.view();
        let query = req.uri().query();
        let token = access::request_token(req.headers(), query)?;
        let admission = access::admit(
            &view,
            inner.control.keys(),
            req.method(),
            req.uri().path(),
            token.as_deref(),
        )?;
        let now = now_millis();
        let mut metering = None;
        if let Some(caller) = &admission.caller {
            let app_id = &caller.claims.application.uuid;
            if let Some(Some(per_minute)) = view.app_rate_limits.get(app_id) {
                inner
                    .meter
                    .rate(app_id)
                    .acquire(*per_minute, now)
                    .map_err(|retry_after| Reject::AppThrottled {
                        retry_after,
                        per_minute: *per_minute,
                    })?;
            }
            if let Some(sub) = &caller.subscription
                && let Some(window) = inner.meter.window(&sub.id, sub.quota, now)
            {
                if window.remaining(now) == 0 {
                    let wait = (window.millis_until_reset(now) + 999) / 1000;
                    return Err(Reject::QuotaExhausted {
                        retry_after: u64::try_from(wait).unwrap_or(1).max(1),
                    });
                }
                metering = Some(Metering {
                    window,
                    plan: format!("plan {} allows {}", sub.policy, sub.quota.describe()),
                });
            }
        }
        let url = upstream_url(&admission, query)?;
        let headers = upstream_headers(req.headers(), client);
        drop(req);
        // The endpoint is what the publisher configured: a backend's redirect is passed on
        // (without its Location), never followed to a host nobody configured.
        let sent =
            tokio::time::timeout(inner.options.connect_timeout, upstream::get(&url, headers)).await;
        let (upstream, body) = match sent {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => {
                return Err(Reject::BackendUnreachable(format!(
                    "Cannot reach the back end {}: {e}",
                    admission.endpoint,
                )));
            }
            Err(_) => {
                return Err(Reject::BackendUnreachable(format!(
                    "The back end {} did not answer within {} ms",
                    admission.endpoint,
                    inner.options.connect_timeout.as_millis()
                )));
            }
        };
        let api = api_handle(&admission);
        let path = format!("{}{}", admission.route.base_path, admission.resource);
        if upstream.status() != StatusCode::OK {
            return Ok(self.pass_on(&upstream, body, path, client));
        }
        if let Some(why) = not_an_event_stream(upstream.headers()) {
            // Neither relayed nor metered: an event quota cannot count what is not events.
            return Err(Reject::BackendNotSse(format!(
                "The back end {} answered 200 with {why}, not an event stream",
                admission.endpoint
            )));
        }
        let application = admission
            .caller
            .as_ref()
            .map(|c| c.claims.application.name.clone())
            .unwrap_or_default();
        let stream_id = inner.next_stream.fetch_add(1, Ordering::Relaxed);
        inner.telemetry.report(TrafficEvent::Opened {
            stream_id,
            api: api.clone(),
            application: application.clone(),
            key_type: admission
                .caller
                .as_ref()
                .map(|c| c.claims.keytype.as_str().to_string())
                .unwrap_or_default(),
            path,
            client: client.map(|c| c.to_string()).unwrap_or_default(),
            at: now,
        });
        let relay = Relay::new(RelayParts {
            upstream: body,
            metering,
            api_events: self.api_events(&api, &application),
            telemetry: inner.telemetry.clone(),
            stream_id,
            heartbeat: inner.options.heartbeat,
            token_exp: admission.caller.as_ref().map(|c| c.claims.exp),
            rights: Rights::of(&admission),
            control: inner.control.clone(),
            view_rx,
            shutdown: inner.stop.subscribe(),
        });
        Ok((
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/event-stream"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                (
                    HeaderName::from_static("x-accel-buffering"),
                    HeaderValue::from_static("no"),
                ),
            ],
            Body::from_stream(relay.into_stream()),
        )
            .into_response())
    }

    /// A backend that answered other than 200: its status and body go to the client.
    fn pass_on(
        &self,
        upstream: &axum::http::Response<()>,
        body: UpstreamBody,
        path: String,
        client: Option<SocketAddr>,
    ) -> Response {
        let status = upstream.status();
        let metrics = self.inner.telemetry.metrics();
        metrics.backend_errors.fetch_add(1, Ordering::Relaxed);
        self.inner.telemetry.report(TrafficEvent::Rejected {
            path,
            status: status.as_u16(),
            code: u32::from(status.as_u16()),
            message: format!("the back end answered {status}"),
            client: client.map(|c| c.to_string()).unwrap_or_default(),
            at: now_millis(),
        });
        let mut builder = Response::builder().status(status);
        if let Some(ct) = upstream.headers().get(header::CONTENT_TYPE) {
            builder = builder.header(header::CONTENT_TYPE, ct.clone());
        }
        builder
            .body(Body::from_stream(body))
            .unwrap_or_else(|_| status.into_response())
    }

    fn api_events(&self, api: &str, application: &str) -> Arc<AtomicU64> {
        let key = (api.to_string(), application.to_string());
        let telemetry = &self.inner.telemetry;
        let cached = self.inner.api_events.get_or_replace(
            &key,
            |_| true,
            |_| telemetry.metrics().events_counter(api, application),
        );
        Arc::clone(&cached)
    }
}

/// Aborts a task when dropped, so the periodic flusher stops with `serve` even when
/// `serve` itself is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn handle(State(gateway): State<Gateway>, req: Request) -> Response {
    gateway.handle(req).await
}

/// `Name:version` of the admitted API.
fn api_handle(admission: &Admission) -> String {
    let version = admission
        .route
        .base_path
        .rsplit('/')
        .next()
        .unwrap_or_default();
    format!("{}:{version}", admission.route.name)
}

/// The backend URL: the endpoint, the resource and the query without `access_token`.
fn upstream_url(admission: &Admission, query: Option<&str>) -> Result<reqwest::Url, Reject> {
    let mut url = admission.endpoint.trim_end_matches('/').to_string();
    if admission.resource != "/" {
        url.push_str(&admission.resource);
    }
    let query = query.map(access::strip_access_token).unwrap_or_default();
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query);
    }
    reqwest::Url::parse(&url).map_err(|e| {
        Reject::BackendUnreachable(format!(
            "The API's endpoint {} is not a valid URL: {e}",
            admission.endpoint
        ))
    })
}

/// The client's headers minus credentials and hop-by-hop ones, plus `X-Forwarded-For` and
/// `Accept-Encoding: identity` (the event counter must see the events, not gzip).
fn upstream_headers(incoming: &HeaderMap, client: Option<SocketAddr>) -> HeaderMap {
    let listed: Vec<String> = incoming
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::with_capacity(incoming.len() + 2);
    for (name, value) in incoming {
        let n = name.as_str();
        if NOT_FORWARDED.contains(&n) || listed.iter().any(|l| l == n) {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    if !out.contains_key(header::ACCEPT) {
        out.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
    }
    if let Some(addr) = client {
        let forwarded = match incoming
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        {
            Some(prior) => format!("{prior}, {}", addr.ip()),
            None => addr.ip().to_string(),
        };
        if let Ok(value) = HeaderValue::from_str(&forwarded) {
            out.insert(HeaderName::from_static("x-forwarded-for"), value);
        }
    }
    out
}

/// Why a backend's 200 answer is no event stream the gateway may relay, if it is not: a
/// content type other than `text/event-stream` (parameters and case aside), or a content
/// encoding the event counter cannot read.
fn not_an_event_stream(headers: &HeaderMap) -> Option<String> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let essence = content_type
        .as_deref()
        .and_then(|ct| ct.split(';').next())
        .map(str::trim);
    if !essence.is_some_and(|e| e.eq_ignore_ascii_case("text/event-stream")) {
        return Some(match content_type {
            Some(ct) => format!("Content-Type {ct:?}"),
            None => "no Content-Type".to_string(),
        });
    }
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string());
    match encoding {
        Some(e) if !e.is_empty() && !e.eq_ignore_ascii_case("identity") => {
            Some(format!("Content-Encoding {e:?}"))
        }
        _ => None,
    }
}

/// An error with its causes, e.g. `error sending request: connection refused`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
