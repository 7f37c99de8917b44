//! The load client: opens many SSE streams over raw TCP, or TLS for an `https://` URL
//! (rustls, trusting `--cacert`, HTTP/1.1) (one small task each), parses the
//! events and measures delivery latency from the origin's timestamp; or, in connect mode,
//! opens short streams in a loop (read the first event, close) and counts opens per second.
//!
//! A run has three phases: open every stream, warm up, then a measurement window during
//! which events and latencies are recorded and the CPU time of the measured processes is
//! read from `/proc` at both ends. The hot loop reuses one read buffer per stream and never
//! allocates per event.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls_pki_types::ServerName;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::BoxError;
use crate::clock::now_micros;
use crate::hist::{Histogram, Snapshot};
use crate::procstat::{self, ProcSet};
use crate::wire::{self, BodyDecoder, Framing, SseScanner, WireError};

/// Read buffer per stream when there are few streams (bulk: 100 events per write).
const BIG_BUFFER: usize = 64 * 1024;
/// Read buffer per stream when there are many.
const SMALL_BUFFER: usize = 4 * 1024;
/// At most this many streams use [`BIG_BUFFER`].
const BIG_BUFFER_STREAMS: usize = 100;
/// How long one open (connect, request, response head) may take in connect mode.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// How the client loads the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Hold `streams` streams open and measure event delivery.
    Stream,
    /// `streams` workers each open a stream, read its first event, close, and repeat.
    Connect,
}

/// Command-line arguments of `sg-bench load`.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// The stream URL, `http://IP:PORT/path?query` or `https://...` (then `--cacert`).
    #[arg(long)]
    pub url: String,
    /// The certificate (PEM) trusted for an `https://` URL, e.g. streamgate's generated
    /// `<data dir>/tls/cert.pem`; the server is checked as `localhost`.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<std::path::PathBuf>,
    /// Bearer token sent in `Authorization`.
    #[arg(long)]
    pub token: Option<String>,
    /// What to measure.
    #[arg(long, value_enum, default_value = "stream")]
    pub mode: Mode,
    /// Streams held open (stream mode) or concurrent workers (connect mode).
    #[arg(long, default_value_t = 10)]
    pub streams: usize,
    /// Seconds between the last stream opening and the measurement window.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Seconds of the measurement window.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Streams being opened at once (stream mode).
    #[arg(long, default_value_t = 256)]
    pub open_concurrency: usize,
    /// Process whose CPU time and memory are measured, with its descendants (repeatable).
    #[arg(long = "pid")]
    pub pids: Vec<u32>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Run as one shard of a fan-out too big for one process's open files (`sg-bench
    /// run` starts these): open the streams, print `opened`, wait for a line on standard
    /// input, measure the window (`--warmup` is ignored) and print one JSON object, the
    /// result and the window's latency histogram.
    #[arg(long)]
    pub shard: bool,
}

/// Where the streams go: an address, TLS or not, and the request bytes to send.
#[derive(Debug, Clone)]
pub struct Target {
    /// The socket address.
    pub addr: SocketAddr,
    /// The whole request head.
    pub request: Vec<u8>,
    /// For an `https://` URL: the TLS config (HTTP/1.1 by ALPN, trusting the given CA).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// The name TLS connections check the server's certificate against (streamgate's
/// generated certificate is valid for it).
const TLS_SERVER_NAME: &str = "localhost";

/// A connection to the target: TCP or TLS over TCP.
pub trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

/// A TLS client config trusting the certificates in `cacert` (PEM), TLS 1.2/1.3 as
/// streamgate speaks them, offering HTTP/1.1.
fn tls_config(cacert: &std::path::Path) -> Result<Arc<rustls::ClientConfig>, BoxError> {
    let pem = std::fs::read(cacert).map_err(|e| format!("{}: {e}", cacert.display()))?;
    let certs = streamgate::tls::pem::certificates(&pem)
        .map_err(|e| format!("{}: {e}", cacert.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots.add(cert)?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(streamgate::tls::provider())
        .with_protocol_versions(streamgate::tls::PROTOCOL_VERSIONS)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

impl Target {
    /// Parses `http://IP:PORT/path?query` (or `https://`, trusting `cacert`) and builds the
    /// request, with a bearer token if any.
    pub fn new(
        url: &str,
        token: Option<&str>,
        cacert: Option<&std::path::Path>,
    ) -> Result<Target, BoxError> {
        let (rest, tls) = if let Some(rest) = url.strip_prefix("https://") {
            let cacert = cacert.ok_or_else(|| format!("{url}: an https URL needs --cacert"))?;
            (rest, Some(tls_config(cacert)?))
        } else {
            let rest = url
                .strip_prefix("http://")
                .ok_or_else(|| format!("only http:// and https:// URLs are supported: {url}"))?;
            (rest, None)
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let authority = authority.replace("localhost", "127.0.0.1");
        let addr: SocketAddr = authority
            .parse()
            .map_err(|e| format!("the URL's host must be IP:PORT ({authority}): {e}"))?;
        let mut request = format!(
            "GET {path} HTTP/1.1\r\nhost: {authority}\r\naccept: text/event-stream\r\nuser-agent: sg-bench\r\n"
        );
        if let Some(token) = token {
            request.push_str(&format!("authorization: Bearer {token}\r\n"));
        }
        request.push_str("\r\n");
        Ok(Target {
            addr,
            request: request.into_bytes(),
            tls,
        })
    }
}

/// One measurement.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Where to connect.
    pub target: Target,
    /// What to measure.
    pub mode: Mode,
    /// Streams (stream mode) or workers (connect mode).
    pub streams: usize,
    /// Time between opening and measuring.
    pub warmup: Duration,
    /// The measurement window.
    pub duration: Duration,
    /// Streams being opened at once.
    pub open_concurrency: usize,
    /// Processes whose CPU and memory are measured.
    pub measure: ProcSet,
}

/// What a measurement found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadResult {
    /// `stream` or `connect`.
    pub mode: String,
    /// Streams (or workers) asked for.
    pub streams: usize,
    /// Streams that opened (stream mode).
    pub opened: usize,
    /// Stream mode: streams that failed to open, ended early or got no event in the window.
    /// Connect mode: opens that failed in the window.
    pub failures: usize,
    /// The first error seen, if any.
    pub first_error: Option<String>,
    /// Seconds it took to open every stream (stream mode).
    pub open_secs: f64,
    /// Seconds of the measurement window.
    pub window_secs: f64,
    /// Events delivered (stream mode) or streams opened (connect mode) in the window.
    pub events: u64,
    /// `events` per second.
    pub rate: f64,
    /// Median latency in ms: origin timestamp to delivery (stream mode), or connect to
    /// first event (connect mode).
    pub p50_ms: Option<f64>,
    /// 99th percentile latency in ms.
    pub p99_ms: Option<f64>,
    /// Largest latency in ms.
    pub max_ms: Option<f64>,
    /// CPU time of the measured processes during the window, µs.
    pub cpu_us: Option<u64>,
    /// `cpu_us / events`.
    pub cpu_us_per_event: Option<f64>,
    /// Cores the measured processes used on average during the window.
    pub cpu_cores: Option<f64>,
    /// The kernel's share of that CPU time (system / (user + system)).
    pub cpu_sys_share: Option<f64>,
    /// Terminal UI only: cores its main (drawing) thread used.
    pub ui_thread_cores: Option<f64>,
    /// Resident memory of the measured processes before opening, KiB.
    pub rss_base_kib: Option<u64>,
    /// Resident memory at the end of the window, KiB.
    pub rss_kib: Option<u64>,
    /// `(rss - rss_base) / opened`, KiB.
    pub rss_per_stream_kib: Option<f64>,
    /// Shared fan-out: the most connections the origin held during the window (the
    /// proxy's backend connections).
    #[serde(default)]
    pub backend_connections: Option<u64>,
}

#[derive(Default)]
struct Shared {
    recording: AtomicBool,
    stop: AtomicBool,
    /// Events (stream mode) or opens (connect mode) in the window.
    events: AtomicU64,
    /// Failed opens in the window (connect mode).
    failures: AtomicU64,
    opened: AtomicUsize,
    open_failed: AtomicUsize,
    hist: Histogram,
    first_error: Mutex<Option<String>>,
}

impl Shared {
    fn note_error(&self, error: &str) {
        if let Ok(mut first) = self.first_error.lock()
            && first.is_none()
        {
            *first = Some(error.to_string());
        }
    }
}

/// One stream's fate, read at the end of the window.
#[derive(Default)]
struct Slot {
    got_event_in_window: AtomicBool,
    ended: AtomicBool,
}

/// Runs `sg-bench load` and prints its result.
pub async fn run(args: LoadArgs) -> Result<(), BoxError> {
    let spec = LoadSpec {
        target: Target::new(&args.url, args.token.as_deref(), args.cacert.as_deref())?,
        mode: args.mode,
        streams: args.streams.max(1),
        warmup: Duration::from_secs_f64(args.warmup.max(0.0)),
        duration: Duration::from_secs_f64(args.duration.max(0.1)),
        open_concurrency: args.open_concurrency.max(1),
        measure: ProcSet::new(args.pids),
    };
    if args.shard {
        if spec.mode != Mode::Stream {
            return Err("--shard measures stream mode only".into());
        }
        let (result, latency) = stream_window(&spec, async {
            use tokio::io::AsyncBufReadExt as _;
            println!("{SHARD_OPENED}");
            std::io::Write::flush(&mut std::io::stdout())?;
            let mut line = String::new();
            tokio::io::BufReader::new(tokio::io::stdin())
                .read_line(&mut line)
                .await?;
            Ok(())
        })
        .await?;
        println!(
            "{}",
            serde_json::to_string(&ShardReport { result, latency })?
        );
        return Ok(());
    }
    let result = measure(&spec).await?;
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        println!("{}", serde_json::to_string_pretty(&result)?);
    }
    Ok(())
}

/// Runs one measurement.
pub async fn measure(spec: &LoadSpec) -> Result<LoadResult, BoxError> {
    match spec.mode {
        Mode::Stream => measure_streams(spec).await,
        Mode::Connect => measure_connects(spec).await,
    }
}

fn to_ms(us: Option<u64>) -> Option<f64> {
    us.map(|us| us as f64 / 1000.0)
}

async fn measure_streams(spec: &LoadSpec) -> Result<LoadResult, BoxError> {
    let warmup = spec.warmup;
    let (result, _) = stream_window(spec, async move {
        tokio::time::sleep(warmup).await;
        Ok(())
    })
    .await?;
    Ok(result)
}

/// Opens every stream, runs `start` (the warm-up, or a shard's wait for its parent's go),
/// then records events and latencies for `spec.duration`: the result, and the latencies
/// recorded in the window.
async fn stream_window(
    spec: &LoadSpec,
    start: impl std::future::Future<Output = Result<(), BoxError>>,
) -> Result<(LoadResult, Snapshot), BoxError> {
    let pids = spec.measure.pids();
    let rss_base = (!pids.is_empty())
        .then(|| procstat::rss_kib_of(&pids).ok())
        .flatten();
    let shared = Arc::new(Shared::default());
    let permits = Arc::new(Semaphore::new(spec.open_concurrency));
    let buffer = if spec.streams <= BIG_BUFFER_STREAMS {
        BIG_BUFFER
    } else {
        SMALL_BUFFER
    };
    let started = Instant::now();
    let mut slots = Vec::with_capacity(spec.streams);
    let mut tasks = Vec::with_capacity(spec.streams);
    for _ in 0..spec.streams {
        let slot = Arc::new(Slot::default());
        slots.push(slot.clone());
        let shared = shared.clone();
        let permits = permits.clone();
        let target = spec.target.clone();
        tasks.push(tokio::spawn(async move {
            hold_stream(&target, &shared, &slot, &permits, buffer).await;
            slot.ended.store(true, Ordering::Relaxed);
        }));
    }
    // Wait for every stream to open or fail, at most 10 s plus 5 ms per stream.
    let open_deadline = started + open_budget(spec.streams);
    while shared.opened.load(Ordering::Relaxed) + shared.open_failed.load(Ordering::Relaxed)
        < spec.streams
        && Instant::now() < open_deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let open_secs = started.elapsed().as_secs_f64();
    start.await?;

    shared.hist.reset();
    shared.events.store(0, Ordering::Relaxed);
    shared.recording.store(true, Ordering::Relaxed);
    let cpu0 = procstat::cpu_of(&pids).ok();
    let t0 = Instant::now();
    tokio::time::sleep(spec.duration).await;
    let cpu1 = procstat::cpu_of(&pids).ok();
    let window_secs = t0.elapsed().as_secs_f64();
    shared.recording.store(false, Ordering::Relaxed);
    let events = shared.events.load(Ordering::Relaxed);
    let rss = (!pids.is_empty())
        .then(|| procstat::rss_kib_of(&pids).ok())
        .flatten();
    let healthy = slots
        .iter()
        .filter(|s| {
            s.got_event_in_window.load(Ordering::Relaxed) && !s.ended.load(Ordering::Relaxed)
        })
        .count();
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        // Aborted tasks end with a cancellation error: expected.
        let _ = task.await;
    }
    if healthy < spec.streams {
        shared.note_error("stream opened but ended early or got no event in the window");
    }
    let result = stream_result(StreamTally {
        streams: spec.streams,
        opened: shared.opened.load(Ordering::Relaxed),
        healthy,
        first_error: shared.first_error.lock().ok().and_then(|e| e.clone()),
        open_secs,
        window_secs,
        events,
        hist: &shared.hist,
        cpu: cpu0.zip(cpu1).map(|(a, b)| b.since(a)),
        rss_base,
        rss,
    });
    Ok((result, shared.hist.snapshot()))
}

/// How long opening `streams` streams may take: 10 s plus 5 ms per stream.
pub fn open_budget(streams: usize) -> Duration {
    Duration::from_secs(10) + Duration::from_millis(5) * u32::try_from(streams).unwrap_or(u32::MAX)
}

/// What a stream-mode measurement counted, from one load process or from its shards.
pub struct StreamTally<'a> {
    /// Streams asked for.
    pub streams: usize,
    /// Streams that opened.
    pub opened: usize,
    /// Streams open at the end of the window that got an event in it.
    pub healthy: usize,
    /// The first error seen.
    pub first_error: Option<String>,
    /// Seconds it took to open the streams.
    pub open_secs: f64,
    /// Seconds of the window.
    pub window_secs: f64,
    /// Events delivered in the window.
    pub events: u64,
    /// Their latencies, µs.
    pub hist: &'a Histogram,
    /// CPU time of the measured processes in the window.
    pub cpu: Option<procstat::CpuTime>,
    /// Their resident memory before opening and at the end of the window, KiB.
    pub rss_base: Option<u64>,
    /// See `rss_base`.
    pub rss: Option<u64>,
}

/// The stream-mode result of `t`.
pub fn stream_result(t: StreamTally<'_>) -> LoadResult {
    let cpu_us = t.cpu.map(|c| c.total_us());
    let events = t.events;
    LoadResult {
        mode: "stream".to_string(),
        streams: t.streams,
        opened: t.opened,
        failures: t.streams.saturating_sub(t.healthy),
        first_error: t.first_error,
        open_secs: t.open_secs,
        window_secs: t.window_secs,
        events,
        rate: events as f64 / t.window_secs,
        p50_ms: to_ms(t.hist.quantile(0.5)),
        p99_ms: to_ms(t.hist.quantile(0.99)),
        max_ms: (t.hist.count() > 0).then(|| t.hist.max() as f64 / 1000.0),
        cpu_us,
        cpu_us_per_event: cpu_us
            .filter(|_| events > 0)
            .map(|c| c as f64 / events as f64),
        cpu_cores: cpu_us.map(|c| c as f64 / 1e6 / t.window_secs),
        cpu_sys_share: t
            .cpu
            .filter(|c| c.total_us() > 0)
            .map(|c| c.sys_us as f64 / c.total_us() as f64),
        ui_thread_cores: None,
        rss_base_kib: t.rss_base,
        rss_kib: t.rss,
        rss_per_stream_kib: t
            .rss_base
            .zip(t.rss)
            .filter(|_| t.opened > 0)
            .map(|(a, b)| (b as f64 - a as f64) / t.opened as f64),
        backend_connections: None,
    }
}

/// What a load shard (`sg-bench load --shard`) prints when its window ends: its result
/// and the latencies it recorded, for its parent to add up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardReport {
    /// The shard's own result (no CPU or memory figures: the parent measures those).
    pub result: LoadResult,
    /// The latencies of the shard's window, µs.
    pub latency: Snapshot,
}

/// The line a shard prints once its streams are open (or failed), before it waits for
/// its parent's go on standard input.
pub const SHARD_OPENED: &str = "opened";

/// Opens one stream and reads it until the task is aborted or the stream ends.
async fn hold_stream(
    target: &Target,
    shared: &Shared,
    slot: &Slot,
    permits: &Semaphore,
    buffer: usize,
) {
    let mut buf = vec![0u8; buffer];
    let permit = permits.acquire().await;
    let opened = open(target, &mut buf).await;
    drop(permit);
    let (mut socket, framing, head_end, filled) = match opened {
        Ok(opened) => opened,
        Err(error) => {
            shared.open_failed.fetch_add(1, Ordering::Relaxed);
            shared.note_error(&error);
            return;
        }
    };
    shared.opened.fetch_add(1, Ordering::Relaxed);
    let mut decoder = BodyDecoder::new(framing);
    let mut scanner = SseScanner::default();
    let mut counted = false;
    let mut start = head_end;
    let mut end = filled;
    loop {
        if start < end {
            let recording = shared.recording.load(Ordering::Relaxed);
            let mut batch = Batch::new(&shared.hist, recording);
            let fed = decoder.feed(&buf[start..end], &mut |payload: &[u8]| {
                scanner.feed(payload, &mut |ts| batch.add(ts));
            });
            if let Err(error) = fed {
                shared.note_error(&error.to_string());
                return;
            }
            batch.flush();
            if recording && batch.events > 0 {
                shared.events.fetch_add(batch.events, Ordering::Relaxed);
                if !counted {
                    counted = true;
                    slot.got_event_in_window.store(true, Ordering::Relaxed);
                }
            }
            if decoder.done() {
                shared.note_error("the stream ended");
                return;
            }
        }
        match socket.read(&mut buf).await {
            Ok(0) => {
                shared.note_error("the stream ended");
                return;
            }
            Ok(n) => {
                start = 0;
                end = n;
            }
            Err(error) => {
                shared.note_error(&format!("read failed: {error}"));
                return;
            }
        }
    }
}

/// Latencies of the events found in one read, grouped by timestamp (a batch of events
/// written together shares one), recorded into the histogram when `recording`.
struct Batch<'a> {
    hist: &'a Histogram,
    recording: bool,
    now: u64,
    ts: u64,
    run: u64,
    events: u64,
}

impl<'a> Batch<'a> {
    fn new(hist: &'a Histogram, recording: bool) -> Self {
        Batch {
            hist,
            recording,
            now: 0,
            ts: 0,
            run: 0,
            events: 0,
        }
    }

    fn add(&mut self, ts: Option<u64>) {
        self.events += 1;
        let Some(ts) = ts else { return };
        if self.run > 0 && ts == self.ts {
            self.run += 1;
            return;
        }
        self.flush();
        if self.now == 0 {
            self.now = now_micros();
        }
        self.ts = ts;
        self.run = 1;
    }

    fn flush(&mut self) {
        if self.run > 0 && self.recording {
            self.hist
                .record_n(self.now.saturating_sub(self.ts), self.run);
        }
        self.run = 0;
    }
}

/// Connects, sends the request and reads the response head into `buf`: the socket, the
/// body framing, where the body starts in `buf` and how much of `buf` is filled.
async fn open(
    target: &Target,
    buf: &mut [u8],
) -> Result<(Box<dyn Conn>, Framing, usize, usize), String> {
    let tcp = TcpStream::connect(target.addr)
        .await
        .map_err(|e| format!("connect failed: {e}"))?;
    tcp.set_nodelay(true)
        .map_err(|e| format!("set_nodelay failed: {e}"))?;
    let mut socket: Box<dyn Conn> = match &target.tls {
        None => Box::new(tcp),
        Some(config) => {
            let name =
                ServerName::try_from(TLS_SERVER_NAME).map_err(|e| format!("server name: {e}"))?;
            let tls = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake failed: {e}"))?;
            Box::new(tls)
        }
    };
    socket
        .write_all(&target.request)
        .await
        .map_err(|e| format!("request write failed: {e}"))?;
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            return Err("response head too large".to_string());
        }
        let n = socket
            .read(&mut buf[filled..])
            .await
            .map_err(|e| format!("response read failed: {e}"))?;
        if n == 0 {
            return Err("closed before the response head".to_string());
        }
        filled += n;
        match wire::parse_head(&buf[..filled]) {
            Ok(None) => continue,
            Ok(Some(head)) if head.status == 200 => {
                return Ok((socket, head.framing, head.len, filled));
            }
            Ok(Some(head)) => {
                let body = String::from_utf8_lossy(&buf[head.len..filled]);
                let body: String = body.chars().take(200).collect();
                return Err(format!("HTTP {}: {}", head.status, body.trim()));
            }
            Err(WireError::BadHead(why)) => return Err(format!("bad response head: {why}")),
            Err(error) => return Err(error.to_string()),
        }
    }
}

/// Opens a stream, reads until its first event and closes it.
async fn open_read_first(target: &Target, buf: &mut [u8]) -> Result<(), String> {
    let (mut socket, framing, head_end, filled) = open(target, buf).await?;
    let mut decoder = BodyDecoder::new(framing);
    let mut scanner = SseScanner::default();
    let (mut start, mut end) = (head_end, filled);
    loop {
        let mut got = false;
        decoder
            .feed(&buf[start..end], &mut |payload: &[u8]| {
                scanner.feed(payload, &mut |_| got = true);
            })
            .map_err(|e| e.to_string())?;
        if got {
            return Ok(());
        }
        let n = socket
            .read(buf)
            .await
            .map_err(|e| format!("read failed: {e}"))?;
        if n == 0 {
            return Err("the stream ended before its first event".to_string());
        }
        (start, end) = (0, n);
    }
}

async fn measure_connects(spec: &LoadSpec) -> Result<LoadResult, BoxError> {
    let pids = spec.measure.pids();
    let shared = Arc::new(Shared::default());
    let mut tasks = Vec::with_capacity(spec.streams);
    for _ in 0..spec.streams {
        let shared = shared.clone();
        let target = spec.target.clone();
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; SMALL_BUFFER];
            while !shared.stop.load(Ordering::Relaxed) {
                let t0 = Instant::now();
                let outcome =
                    tokio::time::timeout(OPEN_TIMEOUT, open_read_first(&target, &mut buf)).await;
                let recording = shared.recording.load(Ordering::Relaxed);
                match outcome {
                    Ok(Ok(())) => {
                        if recording {
                            let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
                            shared.hist.record(us);
                            shared.events.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(Err(error)) => {
                        if recording {
                            shared.failures.fetch_add(1, Ordering::Relaxed);
                        }
                        shared.note_error(&error);
                        // Don't spin on a refusing server.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err(_) => {
                        if recording {
                            shared.failures.fetch_add(1, Ordering::Relaxed);
                        }
                        shared.note_error("open timed out");
                    }
                }
            }
        }));
    }
    tokio::time::sleep(spec.warmup).await;
    shared.hist.reset();
    shared.events.store(0, Ordering::Relaxed);
    shared.failures.store(0, Ordering::Relaxed);
    shared.recording.store(true, Ordering::Relaxed);
    let cpu0 = procstat::cpu_of(&pids).ok();
    let t0 = Instant::now();
    tokio::time::sleep(spec.duration).await;
    let cpu1 = procstat::cpu_of(&pids).ok();
    let window = t0.elapsed().as_secs_f64();
    shared.recording.store(false, Ordering::Relaxed);
    shared.stop.store(true, Ordering::Relaxed);
    let opens = shared.events.load(Ordering::Relaxed);
    let failures = shared.failures.load(Ordering::Relaxed);
    let rss = (!pids.is_empty())
        .then(|| procstat::rss_kib_of(&pids).ok())
        .flatten();
    for task in tasks {
        // A worker ends after its current open; a cancellation here is not an error.
        let _ = tokio::time::timeout(OPEN_TIMEOUT, task).await;
    }
    let cpu = cpu0.zip(cpu1).map(|(a, b)| b.since(a));
    let cpu_us = cpu.map(|c| c.total_us());
    Ok(LoadResult {
        mode: "connect".to_string(),
        streams: spec.streams,
        opened: usize::try_from(opens).unwrap_or(usize::MAX),
        failures: usize::try_from(failures).unwrap_or(usize::MAX),
        first_error: shared.first_error.lock().ok().and_then(|e| e.clone()),
        open_secs: 0.0,
        window_secs: window,
        events: opens,
        rate: opens as f64 / window,
        p50_ms: to_ms(shared.hist.quantile(0.5)),
        p99_ms: to_ms(shared.hist.quantile(0.99)),
        max_ms: (shared.hist.count() > 0).then(|| shared.hist.max() as f64 / 1000.0),
        cpu_us,
        cpu_us_per_event: cpu_us
            .filter(|_| opens > 0)
            .map(|c| c as f64 / opens as f64),
        cpu_cores: cpu_us.map(|c| c as f64 / 1e6 / window),
        cpu_sys_share: cpu
            .filter(|c| c.total_us() > 0)
            .map(|c| c.sys_us as f64 / c.total_us() as f64),
        ui_thread_cores: None,
        rss_base_kib: None,
        rss_kib: rss,
        rss_per_stream_kib: None,
        backend_connections: None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn target_builds_the_request_with_the_token() {
        let t = Target::new("http://127.0.0.1:9/a/b?x=1", Some("tok"), None).unwrap();
        assert_eq!(t.addr, "127.0.0.1:9".parse().unwrap());
        let req = String::from_utf8(t.request).unwrap();
        assert!(req.starts_with("GET /a/b?x=1 HTTP/1.1\r\nhost: 127.0.0.1:9\r\n"));
        assert!(req.contains("authorization: Bearer tok\r\n"));
        assert!(req.ends_with("\r\n\r\n"));
        assert!(Target::new("https://x", None, None).is_err());
        assert!(Target::new("ftp://x", None, None).is_err());
    }

    #[test]
    fn batch_groups_equal_timestamps() {
        let h = Histogram::default();
        let mut b = Batch::new(&h, true);
        for ts in [Some(1), Some(1), Some(2), None] {
            b.add(ts);
        }
        b.flush();
        assert_eq!(b.events, 4);
        assert_eq!(h.count(), 3);
    }
}
