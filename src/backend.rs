//! The sample memory backend: a small Server-Sent Events API that streams the
//! memory use of this machine.
//!
//! It stands in for the `sse-server-1.0.0.jar` of the WSO2 SSE tutorial
//! (`java -jar sse-server-1.0.0.jar --time=5000 --interval=1000`), so that
//! streamgate needs nothing but itself. It runs alone as
//! `streamgate backend [--host H] [--port P] [--interval MS] [--time MS]`, or
//! in process through [`BackendHandle`] (the terminal UI) or [`serve`] /
//! [`router`] (tests).
//!
//! # The API
//!
//! `GET /memory` answers `200` with `Content-Type: text/event-stream` and
//! `Cache-Control: no-store`, and sends one event per interval:
//!
//! ```text
//! id: 1
//! data: {"total":16777216000,"used":4294967296,"available":12482248704,"free":8589934592,"swapTotal":0,"swapUsed":0,"ts":1700000000000,"identifier":"ram_1"}
//!
//! ```
//!
//! Memory figures are bytes, `ts` is milliseconds since the Unix epoch and
//! `identifier` is `ram_<id>`. Ids count per stream from 1, or from `N + 1`
//! when the request carries `Last-Event-ID: N`. With a time limit
//! ([`BackendOptions::time`]) the response ends cleanly after that long;
//! without one it lasts until the client leaves or the server stops. Other
//! paths answer `404`, other methods on `/memory` answer `405`.
//!
//! # Sampling
//!
//! One sampler task per server refreshes memory only (never `refresh_all`)
//! once per interval and publishes the sample through a
//! [`tokio::sync::watch`] channel that every open stream reads; streams never
//! sample on their own. The sampler runs only while at least one stream is
//! open: when the last one goes it sleeps (and skips a tick that finds no
//! stream) until a new stream wakes it. A new stream gets the latest sample at
//! once if it is less than one interval old, and the sampler keeps its beat;
//! otherwise the sampler samples at once. Then every stream gets one event per
//! tick. A slow stream skips samples rather than queueing them.
//!
//! A client that hangs up is forgotten at once: when hyper drops the response
//! body, the stream's receiver and its place in [`BackendStatus`] go with it.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sysinfo::System;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

/// The path of the memory event stream.
pub const MEMORY_PATH: &str = "/memory";

/// The shortest interval the sampler accepts; shorter ones are raised to it.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Command-line arguments of `streamgate backend`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct BackendArgs {
    /// Host name or IP address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// TCP port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,

    /// Milliseconds between two events (at least 1).
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = parse_interval)]
    pub interval: u64,

    /// Milliseconds one request is served before its response ends cleanly;
    /// 0 serves it until the client leaves.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub time: u64,
}

/// Parses `--interval`: a whole number of milliseconds, at least 1.
fn parse_interval(value: &str) -> Result<u64, String> {
    match value.trim().parse::<u64>() {
        Ok(0) => Err("must be at least 1 (milliseconds)".to_owned()),
        Ok(ms) => Ok(ms),
        Err(error) => Err(error.to_string()),
    }
}

impl BackendArgs {
    /// The [`BackendOptions`] these arguments ask for (`--time 0` is no limit).
    pub fn options(&self) -> BackendOptions {
        BackendOptions {
            interval: Duration::from_millis(self.interval),
            time: (self.time > 0).then(|| Duration::from_millis(self.time)),
        }
    }
}

/// How the backend streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendOptions {
    /// Time between two samples, and so between two events of a stream.
    /// Values under [`MIN_INTERVAL`] are raised to it.
    pub interval: Duration,
    /// How long one request is served before its response ends cleanly;
    /// `None` serves it until the client leaves or the server stops.
    pub time: Option<Duration>,
}

impl Default for BackendOptions {
    /// One event per second, no time limit.
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(1000),
            time: None,
        }
    }
}

/// Live counters of a backend, shared between the server and whoever watches
/// it (for example the terminal UI).
#[derive(Debug, Default)]
pub struct BackendStatus {
    running: AtomicBool,
    open_streams: AtomicUsize,
    events_sent: AtomicU64,
    samples_taken: AtomicU64,
}

impl BackendStatus {
    /// Whether the server is accepting requests.
    pub fn running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    /// How many event streams are open right now.
    pub fn open_streams(&self) -> usize {
        self.open_streams.load(Ordering::SeqCst)
    }

    /// How many events have been handed to clients since the start.
    pub fn events_sent(&self) -> u64 {
        self.events_sent.load(Ordering::SeqCst)
    }

    /// How many times the sampler has read memory since the start (it reads
    /// only while streams are open).
    pub fn samples_taken(&self) -> u64 {
        self.samples_taken.load(Ordering::SeqCst)
    }

    /// A copy of all counters at this moment.
    pub fn snapshot(&self) -> BackendStats {
        BackendStats {
            running: self.running(),
            open_streams: self.open_streams(),
            events_sent: self.events_sent(),
            samples_taken: self.samples_taken(),
        }
    }
}

/// A snapshot of [`BackendStatus`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackendStats {
    /// Whether the server is accepting requests.
    pub running: bool,
    /// How many event streams were open.
    pub open_streams: usize,
    /// How many events had been handed to clients.
    pub events_sent: u64,
    /// How many times memory had been read.
    pub samples_taken: u64,
}

/// The JSON payload of one memory event, as it appears on a `data:` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryEvent {
    /// Total memory, in bytes.
    pub total: u64,
    /// Used memory, in bytes.
    pub used: u64,
    /// Available memory (free plus reclaimable), in bytes.
    pub available: u64,
    /// Free memory, in bytes.
    pub free: u64,
    /// Total swap, in bytes.
    pub swap_total: u64,
    /// Used swap, in bytes.
    pub swap_used: u64,
    /// When the sample was taken, in milliseconds since the Unix epoch.
    pub ts: u64,
    /// `ram_<id>`, where `<id>` is the event's id.
    pub identifier: String,
}

/// Why a backend could not start or failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Another socket listens on this address already.
    #[error("{0} is already in use")]
    AddrInUse(SocketAddr),
    /// Listening failed for another reason.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The host name did not resolve to an address.
    #[error("cannot resolve host {host:?}: {source}")]
    Resolve {
        /// The host name asked for.
        host: String,
        /// What the resolver said.
        #[source]
        source: io::Error,
    },
    /// Reading system memory is not possible here, or serving failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// One memory sample, shared by all streams.
#[derive(Debug)]
struct Sample {
    total: u64,
    used: u64,
    available: u64,
    free: u64,
    swap_total: u64,
    swap_used: u64,
    ts: u64,
    taken: Instant,
}

impl Sample {
    fn read(system: &mut System) -> Self {
        system.refresh_memory();
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Self {
            total: system.total_memory(),
            used: system.used_memory(),
            available: system.available_memory(),
            free: system.free_memory(),
            swap_total: system.total_swap(),
            swap_used: system.used_swap(),
            ts,
            taken: Instant::now(),
        }
    }

    fn event(&self, id: u64) -> MemoryEvent {
        MemoryEvent {
            total: self.total,
            used: self.used,
            available: self.available,
            free: self.free,
            swap_total: self.swap_total,
            swap_used: self.swap_used,
            ts: self.ts,
            identifier: format!("ram_{id}"),
        }
    }
}

type SampleSender = watch::Sender<Option<Arc<Sample>>>;
type SampleReceiver = watch::Receiver<Option<Arc<Sample>>>;

/// The shared state of one backend: options, counters, the sampler's channel
/// and the stop signal. Cheap to clone; give it to [`router`].
#[derive(Debug, Clone)]
pub struct BackendState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    options: BackendOptions,
    status: Arc<BackendStatus>,
    samples: SampleSender,
    wake: Arc<Notify>,
    /// `true` once the backend stops; dropping it (with the last state
    /// clone) stops the sampler too.
    stop: watch::Sender<bool>,
}

impl BackendState {
    /// Creates the state with fresh counters and starts its sampler task.
    ///
    /// Fails when this platform does not let sysinfo read memory.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (it spawns the sampler).
    pub fn new(options: BackendOptions) -> io::Result<Self> {
        Self::with_status(options, Arc::new(BackendStatus::default()))
    }

    /// Like [`BackendState::new`], counting into `status`.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (it spawns the sampler).
    pub fn with_status(options: BackendOptions, status: Arc<BackendStatus>) -> io::Result<Self> {
        let system = System::new()
            .map_err(|e| io::Error::other(format!("cannot read system memory: {e}")))?;
        let (samples, _) = watch::channel(None);
        let (stop, stop_rx) = watch::channel(false);
        let wake = Arc::new(Notify::new());
        tokio::spawn(run_sampler(
            system,
            Arc::clone(&status),
            samples.clone(),
            Arc::clone(&wake),
            stop_rx,
            options.interval.max(MIN_INTERVAL),
        ));
        Ok(Self {
            inner: Arc::new(Inner {
                options,
                status,
                samples,
                wake,
                stop,
            }),
        })
    }

    /// The live counters of this backend.
    pub fn status(&self) -> Arc<BackendStatus> {
        Arc::clone(&self.inner.status)
    }

    /// The options this backend streams with.
    pub fn options(&self) -> BackendOptions {
        self.inner.options
    }

    /// Ends every open stream cleanly and stops the sampler; new streams end
    /// at once. [`serve`] calls this when its shutdown signal fires.
    pub fn shutdown(&self) {
        self.inner.stop.send_replace(true);
    }
}

/// Samples memory once per tick while at least one stream listens.
async fn run_sampler(
    mut system: System,
    status: Arc<BackendStatus>,
    samples: SampleSender,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        if samples.receiver_count() == 0 {
            tokio::select! {
                _ = stop.wait_for(|stopped| *stopped) => return,
                () = wake.notified() => {
                    // A fresh sample went to the new stream already: keep the
                    // beat. Otherwise sample at once.
                    let fresh = samples
                        .borrow()
                        .as_ref()
                        .is_some_and(|sample| sample.taken.elapsed() < interval);
                    if !fresh {
                        ticker.reset_immediately();
                    }
                }
            }
            continue;
        }
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            _ = ticker.tick() => {
                // The last stream may have gone during the wait.
                if samples.receiver_count() > 0 {
                    let sample = Sample::read(&mut system);
                    status.samples_taken.fetch_add(1, Ordering::SeqCst);
                    samples.send_replace(Some(Arc::new(sample)));
                }
            }
        }
    }
}

/// The routes of the backend: `GET /memory`; anything else is 404, other
/// methods on `/memory` are 405.
pub fn router(state: BackendState) -> Router {
    Router::new()
        .route(MEMORY_PATH, get(memory))
        .with_state(state)
}

/// Counts one open stream for as long as it lives.
struct OpenStream {
    status: Arc<BackendStatus>,
}

impl OpenStream {
    fn new(status: Arc<BackendStatus>) -> Self {
        status.open_streams.fetch_add(1, Ordering::SeqCst);
        Self { status }
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.status.open_streams.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Everything one event stream needs; dropped with the response body.
struct Stream {
    samples: SampleReceiver,
    stop: watch::Receiver<bool>,
    deadline: Option<Instant>,
    next_id: u64,
    /// A sample to send before waiting for the next tick.
    pending: Option<Arc<Sample>>,
    open: OpenStream,
}

impl Stream {
    /// The next event, or `None` when the stream is over.
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            let sample = match self.pending.take() {
                Some(sample) => sample,
                None => {
                    let deadline = self.deadline;
                    let expired = async move {
                        match deadline {
                            Some(at) => tokio::time::sleep_until(at).await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        biased;
                        _ = self.stop.wait_for(|stopped| *stopped) => return None,
                        () = expired => return None,
                        changed = self.samples.changed() => {
                            changed.ok()?;
                            let latest = self.samples.borrow_and_update().clone();
                            match latest {
                                Some(sample) => sample,
                                None => continue,
                            }
                        }
                    }
                }
            };
            let id = self.next_id;
            let data = match serde_json::to_string(&sample.event(id)) {
                Ok(data) => data,
                Err(error) => {
                    tracing::error!(%error, "cannot encode a memory event");
                    continue;
                }
            };
            self.next_id = id.wrapping_add(1);
            self.open.status.events_sent.fetch_add(1, Ordering::SeqCst);
            return Some(Bytes::from(format!("id: {id}\ndata: {data}\n\n")));
        }
    }
}

/// The id a stream starts at: one after `Last-Event-ID`, else 1.
fn first_id(headers: &HeaderMap) -> u64 {
    headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map_or(1, |last| last.wrapping_add(1))
}

async fn memory(State(state): State<BackendState>, headers: HeaderMap) -> Response {
    let inner = &state.inner;
    let mut samples = inner.samples.subscribe();
    inner.wake.notify_one();
    let interval = inner.options.interval.max(MIN_INTERVAL);
    // Share the latest sample at once if the sampler is running (it is fresh).
    let pending = samples
        .borrow_and_update()
        .clone()
        .filter(|sample| sample.taken.elapsed() < interval);
    let stream = Stream {
        samples,
        stop: inner.stop.subscribe(),
        deadline: inner.options.time.map(|time| Instant::now() + time),
        next_id: first_id(&headers),
        pending,
        open: OpenStream::new(Arc::clone(&inner.status)),
    };
    let body = futures_util::stream::unfold(stream, |mut stream| async move {
        let chunk = stream.next().await?;
        Some((Ok::<_, Infallible>(chunk), stream))
    });
    (
        StatusCode::OK,
        [
            (CONTENT_TYPE, HeaderValue::from_static("text/event-stream")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// Marks the status as running for as long as it lives.
struct Running(Arc<BackendStatus>);

impl Running {
    fn new(status: Arc<BackendStatus>) -> Self {
        status.running.store(true, Ordering::SeqCst);
        Self(status)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::SeqCst);
    }
}

/// Serves the backend on `listener` until `shutdown` completes, then ends all
/// open streams cleanly and returns.
///
/// Fails when sysinfo cannot read memory on this platform or the listener
/// fails.
pub async fn serve(
    listener: TcpListener,
    options: BackendOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with_status(
        listener,
        options,
        Arc::new(BackendStatus::default()),
        shutdown,
    )
    .await
}

/// Like [`serve`], counting into `status` so the caller can watch it.
pub async fn serve_with_status(
    listener: TcpListener,
    options: BackendOptions,
    status: Arc<BackendStatus>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let state = BackendState::with_status(options, status)?;
    serve_state(listener, state, shutdown).await
}

async fn serve_state(
    listener: TcpListener,
    state: BackendState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let _running = Running::new(state.status());
    let stopper = state.clone();
    let result = axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(async move {
            shutdown.await;
            stopper.shutdown();
        })
        .await;
    state.shutdown();
    result
}

/// Binds `addr`, telling "already in use" apart from other failures.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, BackendError> {
    TcpListener::bind(addr).await.map_err(|source| {
        if source.kind() == io::ErrorKind::AddrInUse {
            BackendError::AddrInUse(addr)
        } else {
            BackendError::Bind { addr, source }
        }
    })
}

/// A backend running in this process, as the terminal UI starts it.
///
/// Dropping the handle stops the server too, without waiting for it.
#[derive(Debug)]
pub struct BackendHandle {
    addr: SocketAddr,
    status: Arc<BackendStatus>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl BackendHandle {
    /// Listens on `addr` (port 0 picks a free port) and serves in a spawned
    /// task. Returns once the socket listens.
    pub async fn start(addr: SocketAddr, options: BackendOptions) -> Result<Self, BackendError> {
        let listener = bind(addr).await?;
        Self::from_listener(listener, options)
    }

    /// Serves on a listener the caller bound, in a spawned task.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn from_listener(
        listener: TcpListener,
        options: BackendOptions,
    ) -> Result<Self, BackendError> {
        let addr = listener.local_addr()?;
        let status = Arc::new(BackendStatus::default());
        let state = BackendState::with_status(options, Arc::clone(&status))?;
        let (stop, stopped) = oneshot::channel::<()>();
        // Mark running before returning so callers never see a false start.
        status.running.store(true, Ordering::SeqCst);
        let task = tokio::spawn(serve_state(listener, state, async move {
            // Fires on `stop()` and when the handle is dropped.
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            status,
            stop,
            task,
        })
    }

    /// The address the server listens on (with the real port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Same as [`BackendHandle::addr`].
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> BackendStats {
        self.status.snapshot()
    }

    /// The live counters, to watch after the handle is gone.
    pub fn status(&self) -> Arc<BackendStatus> {
        Arc::clone(&self.status)
    }

    /// Stops accepting, ends open streams cleanly and waits for the server.
    pub async fn stop(self) -> Result<(), BackendError> {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(result) => result.map_err(BackendError::Io),
            Err(join) => Err(BackendError::Io(io::Error::other(join))),
        }
    }
}

/// Resolves `host:port` to the first address it names.
pub async fn resolve(host: &str, port: u16) -> Result<SocketAddr, BackendError> {
    let resolve_error = |source| BackendError::Resolve {
        host: host.to_owned(),
        source,
    };
    let mut addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(resolve_error)?;
    addrs
        .next()
        .ok_or_else(|| resolve_error(io::Error::other("no address found")))
}

/// Runs `streamgate backend` until Ctrl-C (or SIGTERM), in the current Tokio
/// runtime.
pub async fn run(args: BackendArgs) -> Result<(), BackendError> {
    let options = args.options();
    let addr = resolve(&args.host, args.port).await?;
    let listener = bind(addr).await?;
    let addr = listener.local_addr()?;
    let time = match options.time {
        Some(time) => format!("{} ms per request", time.as_millis()),
        None => "until the client leaves".to_owned(),
    };
    eprintln!(
        "streamgate backend: serving http://{addr}{MEMORY_PATH} \
         (one event every {} ms, {time}); Ctrl-C stops",
        options.interval.as_millis()
    );
    serve(listener, options, stop_signal()).await?;
    eprintln!("streamgate backend: stopped");
    Ok(())
}

/// Completes on Ctrl-C, or on SIGTERM on Unix.
async fn stop_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    () = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}

/// Runs `streamgate backend` on a runtime of its own and turns the outcome
/// into an exit status: 0 after a clean stop, 1 with a message on standard
/// error otherwise. Call it from a synchronous `main`, not inside a runtime;
/// inside one, await [`run`] instead.
pub fn run_cli(args: BackendArgs) -> ExitCode {
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
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
