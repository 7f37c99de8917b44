//! The gateway, streamgate's data plane (`:8280`): routes `/{context}/{version}/{resource}`
//! to the deployed revision's backend, checks token, subscription and quotas against the
//! control plane's lock-free view, and relays the SSE stream event-exactly.
//!
//! The request path reads one `Arc` snapshot of the view, verifies the JWT in memory and
//! takes no lock shared by all requests; quota counters live in memory and are flushed to
//! the store every [`GatewayOptions::counter_flush`] and on shutdown.

mod access;
mod cors;
mod fields;
pub mod h1;
mod h1_server;
mod h2_stall;
mod lease;
pub mod listener;
mod meter;
mod open;
mod quota_store;
mod reject;
mod relay;
mod serve;
pub use serve::bind_reuse_port;
mod shared;
mod upstream;
pub mod workers;
use workers::{Packing, WorkerLoad};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

use crate::beacon::Beacon;
use crate::catalog::{BackendStream, now_millis};
use crate::control::{Control, ControlError};
use crate::telemetry::{Telemetry, TrafficEvent};

pub use access::ACCESS_TOKEN_PARAM;
pub use quota_store::{
    QuotaStoreDown, QuotaStoreStatus, configured_url, redact_url, redact_urls_in,
};
pub use reject::{Reject, THROTTLED_BODY};
pub use shared::{
    DEFAULT_LINGER, DEFAULT_QUEUE_BYTES, DEFAULT_REPLAY_BYTES, DEFAULT_REPLAY_EVENTS, SharedOptions,
};

use access::{Admission, Rights};
use lease::Refill;
use listener::ListenerOptions;
use meter::{Meter, RateRefusal, Registry};
use relay::{Metering, Relay, RelayParts, Source};
use upstream::UpstreamBody;

/// Idle time after which a stream gets a heartbeat comment.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);
/// How long the gateway waits for a backend to accept and answer.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often quota counters are written to the store.
pub const DEFAULT_COUNTER_FLUSH: Duration = Duration::from_secs(5);
/// How long shutdown waits for streams to end before dropping their connections.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// Default leeway on a token's `nbf` and `iat` for clocks a little ahead of this one.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(30);
/// The most backend redirects followed for one stream.
pub const MAX_REDIRECTS: usize = 5;

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
    /// Slow-client limits of the gateway's listener (header read and send timeouts, cap
    /// on incomplete request heads per client address).
    pub listener: ListenerOptions,
    /// Leeway on a token's `nbf` and `iat` (never on `exp`) for issuers whose clock is a
    /// little ahead of this one.
    pub clock_skew: Duration,
    /// The shared quota store (`--redis redis://host:port`): subscriptions' event windows
    /// and applications' connection rates kept in Redis, exact across gateway nodes.
    /// `None` (or an empty URL): counted in this process and persisted in the data dir.
    pub redis: Option<String>,
    /// What metered traffic does while the quota store is unavailable
    /// (`--quota-store-down`).
    pub quota_store_down: QuotaStoreDown,
    /// Shared backend streams (APIs whose backend stream mode is `shared`): linger,
    /// replay and per-subscriber queue bounds.
    pub shared: SharedOptions,
    /// Threads of the gateway's own that serve its plain port (`--gateway-workers`), each
    /// with its own event loop, as nginx's `worker_processes`, on one listening socket; a
    /// worker takes new connections while the one before it is busy ([`workers`]), and a
    /// connection lives on the thread that accepted it, so streams wake no other thread. 0 (this type's default; the `streamgate` command's is
    /// one per core): the plain port is served on the process's shared runtime. The TLS
    /// port, the management API and the control plane stay on the shared runtime either
    /// way.
    pub workers: usize,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            heartbeat: DEFAULT_HEARTBEAT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            counter_flush: DEFAULT_COUNTER_FLUSH,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            listener: ListenerOptions::default(),
            clock_skew: DEFAULT_CLOCK_SKEW,
            redis: None,
            quota_store_down: QuotaStoreDown::default(),
            shared: SharedOptions::default(),
            workers: 0,
        }
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The persisted quota counters could not be read.
    #[error("cannot load quota counters: {0}")]
    Counters(#[from] ControlError),
    /// The quota store's URL is not a Redis URL.
    #[error("quota store: {0}")]
    QuotaStore(String),
}

struct Inner {
    control: Control,
    telemetry: Telemetry,
    options: GatewayOptions,
    meter: Meter,
    /// Per (API, application) counters from telemetry, cached lock-free.
    pairs: Registry<(String, String), Arc<crate::telemetry::PairCounters>>,
    next_stream: AtomicU64,
    stop: watch::Sender<bool>,
    /// Signalled when `stop` turns true, for open streams (cheap to poll per event).
    stop_beacon: Arc<Beacon>,
    /// Subscription ids with a counter in the store, so the counters of deleted
    /// subscriptions can be deleted too.
    persisted: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Shared backend streams by revision and backend URL.
    hubs: Arc<shared::Hubs>,
}

impl Inner {
    /// Raises the stop flag: open streams end with `: gateway shutting down`, idle
    /// connections close.
    fn raise_stop(&self) {
        self.stop.send_replace(true);
        self.stop_beacon.signal();
    }
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
        let persisted = loaded.keys().cloned().collect();
        let meter = match quota_store::configured_url(options.redis.as_deref()) {
            Some(url) => {
                let status = telemetry.metrics().quota_store.clone();
                let store = quota_store::QuotaStore::new(url, options.quota_store_down, status)
                    .map_err(GatewayError::QuotaStore)?;
                Meter::with_store(Arc::new(store))
            }
            None => Meter::new(loaded),
        };
        let (stop, _) = watch::channel(false);
        Ok(Gateway {
            inner: Arc::new(Inner {
                control,
                telemetry,
                options,
                meter,
                pairs: Registry::default(),
                next_stream: AtomicU64::new(1),
                stop,
                stop_beacon: Beacon::new(),
                persisted: std::sync::Mutex::new(persisted),
                hubs: Arc::default(),
            }),
        })
    }

    /// The options in use.
    pub fn options(&self) -> &GatewayOptions {
        &self.inner.options
    }

    /// How many shared backend streams are open or opening (one per deployed revision,
    /// backend URL, resource path and query with subscribers or lingering).
    pub fn shared_streams(&self) -> usize {
        self.inner.hubs.len()
    }

    /// The telemetry the gateway reports to.
    pub fn telemetry(&self) -> &Telemetry {
        &self.inner.telemetry
    }

    /// The data plane's routes: every path, with per-API CORS for browser `EventSource`
    /// clients (the gateway's default, any origin, for APIs without a configuration).
    pub fn router(&self) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
    }

    /// Writes the quota counters that changed since the last flush to the store, and
    /// deletes the counters of subscriptions that no longer exist (the subscription, its
    /// application or its API was deleted), from the store and from memory.
    pub async fn flush_counters(&self) {
        crate::analytics::flush(&self.inner.control, &self.inner.telemetry).await;
        let catalog = self.inner.control.snapshot();
        let live = |id: &str| catalog.subscriptions.contains_key(id);
        let dirty: Vec<_> = self
            .inner
            .meter
            .dirty()
            .into_iter()
            .filter(|(id, _, _)| live(id))
            .collect();
        let stale: Vec<String> = match self.inner.persisted.lock() {
            Ok(persisted) => persisted.iter().filter(|id| !live(id)).cloned().collect(),
            Err(_) => Vec::new(),
        };
        if !stale.is_empty() {
            self.inner.meter.forget(&stale);
            match self.inner.control.delete_counters(stale.clone()).await {
                Ok(()) => {
                    if let Ok(mut persisted) = self.inner.persisted.lock() {
                        for id in &stale {
                            persisted.remove(id);
                        }
                    }
                }
                Err(e) => tracing::warn!("gateway: cannot delete stale quota counters: {e}"),
            }
        }
        if dirty.is_empty() {
            return;
        }
        let records = dirty
            .iter()
            .map(|(id, rec, _)| (id.clone(), *rec))
            .collect();
        match self.inner.control.save_counters(records).await {
            Ok(()) => {
                self.inner.meter.mark_flushed(&dirty);
                if let Ok(mut persisted) = self.inner.persisted.lock() {
                    persisted.extend(dirty.into_iter().map(|(id, _, _)| id));
                }
            }
            Err(e) => tracing::warn!("gateway: cannot save quota counters: {e}"),
        }
    }

    /// Answers a request through a router (hyper's connections): an event stream's relay
    /// rides in the answer's extensions as a [`h1_server::RelaySlot`], for
    /// [`h1_server::relay_into_body`].
    async fn handle(&self, req: Request) -> Response {
        // The body is not read (the gateway serves GET); the head is lent to `answer`.
        let (req, _body) = req.into_parts();
        let client = req.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        let (mut response, relay) = self
            .answer(fields::RequestHead::of(&req), client)
            .await
            .into_parts();
        if let Some(relay) = relay {
            response
                .extensions_mut()
                .insert(h1_server::RelaySlot::new(relay));
        }
        response
    }

    /// Answers the request `req` from `client`: a whole answer, or an event stream's relay
    /// and what its head says of CORS ([`Answered::into_parts`] makes the head a
    /// response). The plain port's connection loop calls it directly, with no router and
    /// no extensions between, and writes a stream's head from constants.
    pub(super) async fn answer(
        &self,
        req: fields::RequestHead<'_>,
        client: Option<SocketAddr>,
    ) -> Answered {
        let origin = req.fields.get("origin");
        // Watch before reading the view, so a change in between is not missed.
        let watcher = self.inner.control.view_beacon().watch();
        let view = self.inner.control.view();
        let routed = access::route(&view, req.uri.path());
        // The API's enabled CORS configuration (`None`: the gateway's default, any origin).
        let cors = routed
            .as_ref()
            .ok()
            .map(|routed| &routed.route.cors)
            .filter(|cors| cors.cors_configuration_enabled);
        let outcome = if *req.method == Method::CONNECT {
            // The gateway is no proxy and opens no tunnels: CONNECT (whose target names a
            // host, not a path) is a method the server does not allow, answered as any
            // other on an API path (RFC 9110 §9.3.6, §15.5.6: 405 with `Allow`).
            Err(Reject::MethodNotAllowed)
        } else if cors::is_preflight(req.method, req.fields) {
            cors::preflight(cors, req.fields)
                .map(|headers| Answered::Response((StatusCode::OK, headers).into_response()))
        } else if *req.method == Method::OPTIONS && (routed.is_ok() || req.uri == "*") {
            // A plain OPTIONS asks what the resource (or, as `OPTIONS *`, the server) allows
            // (RFC 9110 §9.3.7): said, not refused with the method it lists.
            Ok(Answered::Response(
                (
                    StatusCode::NO_CONTENT,
                    [(
                        header::ALLOW,
                        HeaderValue::from_static("GET, HEAD, OPTIONS"),
                    )],
                )
                    .into_response(),
            ))
        } else {
            match cors::check_origin(cors, origin) {
                // Refused before anything else: no backend call, nothing metered.
                Err(reject) => Err(reject),
                Ok(()) => {
                    let seen = open::Seen {
                        view: &view,
                        watcher,
                        routed: &routed,
                    };
                    self.open(&req, client, seen)
                        .await
                        .map(|opened| match opened {
                            Opened::Response(mut response) => {
                                cors::decorate(response.headers_mut(), cors, origin);
                                Answered::Response(response)
                            }
                            Opened::Stream(relay) => Answered::Stream {
                                relay,
                                allowance: cors::Allowance::of(cors, origin),
                            },
                        })
                }
            }
        };
        match outcome {
            Ok(answer) => answer,
            Err(reject) => {
                let metrics = self.inner.telemetry.metrics();
                metrics.reject(reject.code());
                if let Reject::BackendUnreachable(detail)
                | Reject::BackendNotSse(detail)
                | Reject::BackendRedirect(detail) = &reject
                {
                    metrics.backend_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("gateway: {}: {detail}", req.uri.path());
                }
                self.inner.telemetry.report(TrafficEvent::Rejected {
                    path: req.uri.path().to_string(),
                    status: reject.status().as_u16(),
                    code: reject.code(),
                    message: reject.detail(),
                    client: client.map(|c| c.to_string()).unwrap_or_default(),
                    at: now_millis(),
                });
                let forbidden = matches!(reject, Reject::CorsForbidden(_));
                let mut response = reject.into_response();
                if !forbidden {
                    // Errors carry CORS too, so the page can read them.
                    cors::decorate(response.headers_mut(), cors, origin);
                }
                Answered::Response(response)
            }
        }
    }
}

async fn handle(State(gateway): State<Gateway>, req: Request) -> Response {
    gateway.handle(req).await
}

/// What the gateway answers a request with.
pub(super) enum Answered {
    /// A whole answer: an error, a preflight, a backend's other answer, HEAD.
    Response(Response),
    /// An event stream: its relay and what its head says of CORS (the rest of its head is
    /// [`stream_headers`], or [`STREAM_HEAD`] written without a map).
    Stream {
        relay: Box<Relay>,
        allowance: cors::Allowance,
    },
}

impl Answered {
    /// The answer as a response (a stream's head, with an empty body: the plain port's
    /// connection loop drives the relay itself, hyper's connections get it as a
    /// streaming body, `h1_server::relay_into_body`) and the stream's relay.
    pub(super) fn into_parts(self) -> (Response, Option<Box<Relay>>) {
        match self {
            Answered::Response(response) => (response, None),
            Answered::Stream { relay, allowance } => {
                let mut response = (stream_headers(), Body::empty()).into_response();
                allowance.decorate(response.headers_mut());
                (response, Some(relay))
            }
        }
    }
}

/// What [`Gateway::open`] came to: an answer, or an event stream's relay.
pub(super) enum Opened {
    Response(Response),
    Stream(Box<Relay>),
}

/// A stream answer's status line and [`stream_headers`] as HTTP/1.1 field lines, in
/// their order (RFC 9112 §4, §5); its CORS lines ([`cors::Allowance::write_lines`]) and
/// `date` follow.
pub(super) const STREAM_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
    cache-control: no-cache\r\nx-accel-buffering: no\r\n";

/// The headers of a stream answer (and of HEAD on a stream URL).
fn stream_headers() -> [(HeaderName, HeaderValue); 3] {
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
    ]
}

/// An API's endpoint as a URL (parsed once per view, see
/// [`crate::control::Route::endpoint_url`]). The error names the endpoint.
pub(crate) fn endpoint_url(endpoint: &str) -> Result<reqwest::Url, String> {
    reqwest::Url::parse(endpoint)
        .map_err(|e| format!("The API's endpoint {endpoint} is not a valid URL: {e}"))
}

/// The backend URL (RFC 3986 §3.3, §3.4): the endpoint's path with the resource appended
/// as the client wrote it (what a URL path may not hold raw, e.g. UTF-8 or `"`, is
/// percent-encoded; existing `%XX` are kept); the endpoint's query, then `&`, then the
/// request's query without `access_token`. `http://b/base?k=1` + `/events?x=1` is
/// `http://b/base/events?k=1&x=1`. A fragment in the endpoint is dropped.
fn join_url(base: &reqwest::Url, resource: &str, query: Option<&str>) -> reqwest::Url {
    let mut url = base.clone();
    let base_path = base.path().trim_end_matches('/');
    let mut path = String::with_capacity(base_path.len() + resource.len() + 1);
    path.push_str(base_path);
    if resource != "/" {
        path.push_str(resource);
    }
    if path.is_empty() {
        path.push('/');
    }
    url.set_path(&path);
    let mut joined = String::new();
    joined.push_str(base.query().unwrap_or_default());
    if let Some(query) = query {
        access::push_query_without_token(&mut joined, query);
    }
    url.set_query((!joined.is_empty()).then_some(joined.as_str()));
    url.set_fragment(None);
    url
}

/// The backend request's target: what [`join_url`] gives, built as a string where that is
/// certain to be the same (a resource and query of characters a URL keeps as they are, and
/// no dot segment), so a request costs no URL parsing; else through [`join_url`].
fn join_target<'a>(
    base: &'a reqwest::Url,
    resource: &str,
    query: Option<&str>,
) -> upstream::Target<'a> {
    let plain = resource.bytes().all(kept_in_path)
        && !resource.split('/').any(is_dot_segment)
        && query.is_none_or(|q| q.bytes().all(|b| kept_in_path(b) || b == b'?'));
    if !plain {
        return upstream::Target::of(join_url(base, resource, query));
    }
    let base_path = base.path().trim_end_matches('/');
    let base_query = base.query().unwrap_or_default();
    let mut target = String::with_capacity(
        base_path.len() + resource.len() + base_query.len() + query.map_or(0, str::len) + 2,
    );
    target.push_str(base_path);
    if resource != "/" {
        target.push_str(resource);
    }
    if target.is_empty() {
        target.push('/');
    }
    let path_len = target.len();
    target.push('?');
    target.push_str(base_query);
    let mut has_query = !base_query.is_empty();
    for pair in query.into_iter().flat_map(access::pairs_without_token) {
        if has_query {
            target.push('&');
        }
        target.push_str(pair);
        has_query = true;
    }
    if !has_query {
        target.truncate(path_len);
    }
    upstream::Target {
        url: std::borrow::Cow::Borrowed(base),
        path_and_query: target,
    }
}

/// Whether a URL keeps `b` as it is in a path and in a query (RFC 3986 `pchar` but `'`,
/// and `/`; `%` as written): the WHATWG URL parser percent-encodes none of these.
fn kept_in_path(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&()*+,;=:@/%".contains(&b)
}

/// Whether a path segment is `.` or `..`, also percent-encoded (`%2e`), which a URL
/// resolves away.
fn is_dot_segment(segment: &str) -> bool {
    let s = segment.as_bytes();
    let dot = |part: &[u8]| part == b"." || part.eq_ignore_ascii_case(b"%2e");
    match s.len() {
        1 | 3 => dot(s),
        2 => s == b"..",
        4 => (dot(&s[..1]) && dot(&s[1..])) || (dot(&s[..3]) && dot(&s[3..])),
        6 => dot(&s[..3]) && dot(&s[3..]),
        _ => false,
    }
}

/// A transfer coding other than `chunked` in a backend answer, if there is one: only
/// `chunked` is decoded, so anything else would reach the client undecoded and unmetered.
fn unknown_transfer_coding(answer: &h1::AnswerHead) -> Option<String> {
    let list = answer.transfer_codings.as_ref()?.unknown.as_ref()?;
    Some(format!("Transfer-Encoding {list:?}"))
}

/// The header lines of the backend request (`name: value` CRLF each, RFC 9112 §5, names
/// lowercase): the client's headers minus credentials and hop-by-hop ones (also those its
/// `Connection` lists), then `Accept-Encoding: identity` (the event counter must see the
/// events, not gzip), `Accept: text/event-stream` unless the client sent an `Accept`, and
/// `X-Forwarded-For` with the client's address appended to the list it sent (its lines
/// joined with `, `, RFC 9110 §5.3).
fn upstream_headers(incoming: fields::Fields<'_>, client: Option<SocketAddr>) -> Vec<u8> {
    const FORWARDED_FOR: &str = "x-forwarded-for";
    // What `Connection` lists is hop-by-hop too (RFC 9110 §7.6.1); most requests have none.
    // A line that is not text (obs-text) lists nothing, as `HeaderValue::to_str` fails.
    let listed = |name: &[u8]| {
        incoming
            .get_all("connection")
            .filter(|v| h1::visible_ascii(v))
            .flat_map(|v| v.split(|b| *b == b','))
            .any(|h| h.trim_ascii().eq_ignore_ascii_case(name))
    };
    let connection = incoming.contains("connection");
    let mut out = Vec::with_capacity(256);
    let mut accept = false;
    // Several lines are one list (RFC 9110 §5.3): joined in order with ", ", as nginx's
    // `$proxy_add_x_forwarded_for` does; a line that is empty or not text is dropped.
    let mut forwarded: Vec<&[u8]> = Vec::new();
    for (name, value) in incoming.iter() {
        if name.eq_ignore_ascii_case(FORWARDED_FOR.as_bytes()) {
            let prior = value.trim_ascii();
            if !prior.is_empty() && h1::visible_ascii(value) {
                forwarded.push(prior);
            }
            continue;
        }
        if not_forwarded(name) || (connection && listed(name)) {
            continue;
        }
        accept |= name.eq_ignore_ascii_case(b"accept");
        h1::push_header_line_lowercase(&mut out, name, value);
    }
    h1::push_header_line(&mut out, "accept-encoding", b"identity");
    if !accept {
        h1::push_header_line(&mut out, "accept", b"text/event-stream");
    }
    let dropped = client.is_none() && connection && listed(FORWARDED_FOR.as_bytes());
    if dropped || (client.is_none() && forwarded.is_empty()) {
        return out;
    }
    out.extend_from_slice(b"x-forwarded-for: ");
    for (i, prior) in forwarded.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(prior);
    }
    if let Some(addr) = client {
        if !forwarded.is_empty() {
            out.extend_from_slice(b", ");
        }
        push_ip(&mut out, addr.ip());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Whether a request field named `name` (any case) is one of [`NOT_FORWARDED`].
fn not_forwarded(name: &[u8]) -> bool {
    NOT_FORWARDED
        .iter()
        .any(|n| n.len() == name.len() && n.as_bytes().eq_ignore_ascii_case(name))
}

/// Appends `ip` as text (RFC 4001: dotted decimal, or RFC 5952 for IPv6), an IPv4
/// address without the formatting machinery (once per stream open).
fn push_ip(out: &mut Vec<u8>, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                if octet >= 100 {
                    out.push(b'0' + octet / 100);
                }
                if octet >= 10 {
                    out.push(b'0' + octet / 10 % 10);
                }
                out.push(b'0' + octet % 10);
            }
        }
        std::net::IpAddr::V6(v6) => {
            use std::io::Write;
            // Writing to a Vec cannot fail.
            let _ = write!(out, "{v6}");
        }
    }
}

/// Why a backend's 200 answer is no event stream the gateway may relay, if it is not: a
/// content type other than `text/event-stream` (parameters and case aside), or a content
/// encoding the event counter cannot read.
fn not_an_event_stream(answer: &h1::AnswerHead) -> Option<String> {
    // Allocates only to say why.
    let content_type = answer.content_type.as_ref();
    if !content_type.is_some_and(is_event_stream_type) {
        let content_type = content_type.map(HeaderValue::as_bytes);
        return Some(match content_type {
            Some(ct) => format!("Content-Type {:?}", String::from_utf8_lossy(ct)),
            None => "no Content-Type".to_string(),
        });
    }
    let encoding = answer
        .content_encoding
        .as_ref()
        .map(|v| v.as_bytes().trim_ascii());
    match encoding {
        Some(e) if !e.is_empty() && !e.eq_ignore_ascii_case(b"identity") => {
            Some(format!("Content-Encoding {:?}", String::from_utf8_lossy(e)))
        }
        _ => None,
    }
}

/// Whether a `Content-Type` value is `text/event-stream` (any parameters, any case).
fn is_event_stream_type(content_type: &HeaderValue) -> bool {
    content_type
        .as_bytes()
        .split(|b| *b == b';')
        .next()
        .map(<[u8]>::trim_ascii)
        .is_some_and(|e| e.eq_ignore_ascii_case(b"text/event-stream"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
