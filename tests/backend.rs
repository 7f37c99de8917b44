//! Tests of the sample memory backend over real sockets on 127.0.0.1.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use streamgate::backend::{
    self, BackendHandle, BackendOptions, BackendState, BackendStatus, MemoryEvent,
};

const BIN: &str = env!("CARGO_BIN_EXE_streamgate");
/// Upper bound for any single wait, so a broken build fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(10);

fn options(interval_ms: u64, time_ms: Option<u64>) -> BackendOptions {
    BackendOptions {
        interval: Duration::from_millis(interval_ms),
        time: time_ms.map(Duration::from_millis),
    }
}

async fn start(options: BackendOptions) -> BackendHandle {
    BackendHandle::start("127.0.0.1:0".parse().unwrap(), options)
        .await
        .unwrap()
}

fn memory_url(addr: SocketAddr) -> String {
    format!("http://{addr}/memory")
}

/// One parsed SSE event.
#[derive(Debug)]
struct SseEvent {
    id: Option<String>,
    data: Vec<String>,
    /// Field names other than `id` and `data`.
    other_fields: Vec<String>,
}

impl SseEvent {
    fn id(&self) -> u64 {
        self.id
            .as_deref()
            .expect("event has an id")
            .parse()
            .unwrap()
    }

    fn json(&self) -> Value {
        assert_eq!(self.data.len(), 1, "one data line per event: {self:?}");
        serde_json::from_str(&self.data[0]).unwrap()
    }
}

/// A minimal SSE reader on top of a response body.
struct SseReader {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buf: Vec<u8>,
}

impl SseReader {
    fn new(response: reqwest::Response) -> Self {
        Self {
            body: Box::pin(response.bytes_stream()),
            buf: Vec::new(),
        }
    }

    /// The next event, or `None` at a clean end of the body. Panics on a body
    /// error, on bytes left after the end, and after [`PATIENCE`].
    async fn next(&mut self) -> Option<SseEvent> {
        tokio::time::timeout(PATIENCE, self.next_inner())
            .await
            .expect("an event or the end within PATIENCE")
    }

    async fn next_inner(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buf.drain(..end + 2).collect();
                let text = String::from_utf8(block).unwrap();
                return Some(parse_event(text.trim_end_matches('\n')));
            }
            match self.body.next().await {
                Some(chunk) => self.buf.extend_from_slice(&chunk.unwrap()),
                None => {
                    assert!(
                        self.buf.is_empty(),
                        "partial event at the end: {:?}",
                        self.buf
                    );
                    return None;
                }
            }
        }
    }
}

fn parse_event(block: &str) -> SseEvent {
    let mut event = SseEvent {
        id: None,
        data: Vec::new(),
        other_fields: Vec::new(),
    };
    for line in block.split('\n') {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => event.id = Some(value.to_owned()),
            "data" => event.data.push(value.to_owned()),
            other => event.other_fields.push(other.to_owned()),
        }
    }
    event
}

async fn open(addr: SocketAddr) -> SseReader {
    let response = reqwest::get(memory_url(addr)).await.unwrap();
    assert_eq!(response.status(), 200);
    SseReader::new(response)
}

/// Waits until `check` holds, polling; false after `limit`.
async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    check()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn sysinfo_total_memory() -> u64 {
    let mut system = sysinfo::System::new().unwrap();
    system.refresh_memory();
    system.total_memory()
}

#[tokio::test]
async fn memory_stream_sends_sse_events_with_all_fields() {
    let handle = start(options(50, None)).await;
    let response = reqwest::get(memory_url(handle.addr())).await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-store");

    let total = sysinfo_total_memory();
    let mut reader = SseReader::new(response);
    for expected_id in 1..=3u64 {
        let event = reader.next().await.expect("an event");
        assert!(event.other_fields.is_empty(), "only id and data: {event:?}");
        assert_eq!(event.id(), expected_id);
        let json = event.json();
        let keys: BTreeSet<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let numbers = [
            "total",
            "used",
            "available",
            "free",
            "swapTotal",
            "swapUsed",
            "ts",
        ];
        let expected: BTreeSet<&str> = numbers.into_iter().chain(["identifier"]).collect();
        assert_eq!(keys, expected);
        for key in numbers {
            assert!(json[key].is_u64(), "{key} is a number: {json}");
        }
        let memory: MemoryEvent = serde_json::from_value(json).unwrap();
        assert_eq!(memory.identifier, format!("ram_{expected_id}"));
        assert_eq!(memory.total, total, "total is sysinfo's total memory");
        assert!(memory.used <= memory.total);
        assert!(memory.available <= memory.total);
        assert!(memory.free <= memory.total);
        assert!(memory.swap_used <= memory.swap_total);
        assert!(
            memory.ts.abs_diff(now_ms()) < 60_000,
            "ts is now: {}",
            memory.ts
        );
    }
    handle.stop().await.unwrap();
}

#[tokio::test]
async fn wire_format_is_id_then_compact_data_then_blank_line() {
    let handle = start(options(50, Some(120))).await;
    let body = tokio::time::timeout(PATIENCE, async {
        reqwest::get(memory_url(handle.addr()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    })
    .await
    .unwrap();
    assert!(body.starts_with("id: 1\ndata: {\"total\":"), "{body:?}");
    assert!(body.ends_with("\"}\n\n"), "{body:?}");
    for block in body.trim_end_matches('\n').split("\n\n") {
        let lines: Vec<&str> = block.split('\n').collect();
        assert_eq!(lines.len(), 2, "{block:?}");
        assert!(lines[0].starts_with("id: "));
        assert!(lines[1].starts_with("data: {"), "{block:?}");
        // Compact JSON: the only space is the one after "data:".
        assert!(!lines[1]["data: ".len()..].contains(' '), "{block:?}");
    }
    handle.stop().await.unwrap();
}

#[tokio::test]
async fn time_limit_ends_the_stream_cleanly_after_about_five_events() {
    let handle = start(options(100, Some(500))).await;
    let mut reader = open(handle.addr()).await;
    let started = Instant::now();
    let mut ids = Vec::new();
    while let Some(event) = reader.next().await {
        ids.push(event.id());
    }
    let took = started.elapsed();
    assert!((3..=7).contains(&ids.len()), "about 5 events: {ids:?}");
    let expected: Vec<u64> = (1..=ids.len() as u64).collect();
    assert_eq!(ids, expected, "ids increase by 1 from 1");
    assert!(
        took >= Duration::from_millis(400),
        "served about 500 ms: {took:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "ended soon after 500 ms: {took:?}"
    );
    assert!(eventually(Duration::from_secs(2), || handle.stats().open_streams == 0).await);
    handle.stop().await.unwrap();
}

#[tokio::test]
async fn last_event_id_continues_the_numbering() {
    let handle = start(options(50, None)).await;
    let response = reqwest::Client::new()
        .get(memory_url(handle.addr()))
        .header("Last-Event-ID", "41")
        .send()
        .await
        .unwrap();
    let mut reader = SseReader::new(response);
    let first = reader.next().await.unwrap();
    assert_eq!(first.id(), 42);
    assert_eq!(first.json()["identifier"], "ram_42");
    assert_eq!(reader.next().await.unwrap().id(), 43);
    assert_eq!(reader.next().await.unwrap().id(), 44);

    // A garbled Last-Event-ID starts from 1.
    let response = reqwest::Client::new()
        .get(memory_url(handle.addr()))
        .header("Last-Event-ID", "not-a-number")
        .send()
        .await
        .unwrap();
    let mut reader = SseReader::new(response);
    assert_eq!(reader.next().await.unwrap().id(), 1);
    handle.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_that_hangs_up_is_forgotten() {
    let handle = start(options(50, None)).await;
    let mut reader = open(handle.addr()).await;
    reader.next().await.unwrap();
    reader.next().await.unwrap();
    assert_eq!(handle.stats().open_streams, 1);
    drop(reader);

    assert!(
        eventually(Duration::from_secs(1), || handle.stats().open_streams == 0).await,
        "open streams back to 0 within 1 s: {:?}",
        handle.stats()
    );
    // Nothing more is sampled or sent once it is gone (the sampler may finish
    // the tick it was waiting for, but then idles).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = handle.stats();
    tokio::time::sleep(Duration::from_millis(250)).await;
    let after = handle.stats();
    assert_eq!(after.events_sent, before.events_sent);
    assert_eq!(after.samples_taken, before.samples_taken);

    // A new stream wakes the sampler again.
    let mut reader = open(handle.addr()).await;
    assert_eq!(reader.next().await.unwrap().id(), 1);
    assert!(handle.stats().samples_taken > after.samples_taken);
    handle.stop().await.unwrap();
}

#[tokio::test]
async fn streams_share_one_sampler() {
    let handle = start(options(50, None)).await;
    let mut a = open(handle.addr()).await;
    let mut b = open(handle.addr()).await;
    let mut ts_a = BTreeSet::new();
    let mut ts_b = BTreeSet::new();
    for _ in 0..5 {
        ts_a.insert(a.next().await.unwrap().json()["ts"].as_u64().unwrap());
        ts_b.insert(b.next().await.unwrap().json()["ts"].as_u64().unwrap());
    }
    assert!(
        !ts_a.is_disjoint(&ts_b),
        "both streams carry the same samples: {ts_a:?} {ts_b:?}"
    );
    assert_eq!(handle.stats().open_streams, 2);
    handle.stop().await.unwrap();
}

#[tokio::test]
async fn other_paths_are_404_and_other_methods_405() {
    let handle = start(options(20, None)).await;
    let client = reqwest::Client::new();
    let other = client
        .get(format!("http://{}/other", handle.addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    let post = client.post(memory_url(handle.addr())).send().await.unwrap();
    assert_eq!(post.status(), 405);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stats = handle.stats();
    assert_eq!(stats.open_streams, 0);
    assert_eq!(stats.events_sent, 0);
    assert_eq!(stats.samples_taken, 0, "no sampling without a stream");
    handle.stop().await.unwrap();
}

#[tokio::test]
async fn stop_ends_open_streams_cleanly() {
    let handle = start(options(50, None)).await;
    assert!(handle.stats().running);
    let status = handle.status();
    let mut reader = open(handle.addr()).await;
    reader.next().await.unwrap();
    tokio::time::timeout(PATIENCE, handle.stop())
        .await
        .expect("stop does not wait for the stream forever")
        .unwrap();
    // The client sees the end of the body (after any events in flight).
    while reader.next().await.is_some() {}
    let stats = status.snapshot();
    assert!(!stats.running);
    assert_eq!(stats.open_streams, 0);
    assert!(stats.events_sent >= 1);
}

#[tokio::test]
async fn serve_and_router_work_on_a_callers_listener() {
    // serve() with a shutdown future.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let status = std::sync::Arc::new(BackendStatus::default());
    let server = tokio::spawn(backend::serve_with_status(
        listener,
        options(50, None),
        status.clone(),
        async move {
            let _ = rx.await;
        },
    ));
    let mut reader = open(addr).await;
    assert_eq!(reader.next().await.unwrap().id(), 1);
    assert!(status.running());
    tx.send(()).unwrap();
    tokio::time::timeout(PATIENCE, server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    while reader.next().await.is_some() {}
    assert!(!status.running());

    // router() under a plain axum server.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = BackendState::new(options(50, Some(100))).unwrap();
    let status = state.status();
    let app = backend::router(state.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let mut reader = open(addr).await;
    let mut count = 0;
    while reader.next().await.is_some() {
        count += 1;
    }
    assert!(count >= 1);
    assert_eq!(status.events_sent(), count);
    state.shutdown();
    server.abort();
}

#[tokio::test]
async fn handle_reports_a_port_in_use() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap();
    let error = BackendHandle::start(addr, BackendOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, backend::BackendError::AddrInUse(a) if a == addr));
    assert_eq!(error.to_string(), format!("{addr} is already in use"));
}

// The standalone binary.

/// Runs the binary to completion, killing it after [`PATIENCE`].
fn run_binary(args: &[&str]) -> Output {
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_with_patience(child)
}

fn wait_with_patience(mut child: Child) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > PATIENCE {
            child.kill().unwrap();
            panic!("the binary did not exit within {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn binary_help_mentions_the_default_time() {
    let output = run_binary(&["backend", "--help"]);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    let time_help = &help[help.find("--time").expect("--time in help")..];
    let time_help = &time_help[..time_help.find("-h, --help").unwrap_or(time_help.len())];
    assert!(time_help.contains("[default: 0]"), "{help}");
    assert!(time_help.contains("until the client leaves"), "{help}");
    for flag in ["--port", "--host", "--interval"] {
        assert!(help.contains(flag), "{help}");
    }
}

#[test]
fn binary_rejects_a_bad_interval_with_status_2() {
    for bad in ["--interval=abc", "--interval=0"] {
        let output = run_binary(&["backend", bad]);
        assert_eq!(output.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains("--interval"), "{bad}: {stderr}");
    }
    let output = run_binary(&["backend", "--port", "http"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8(output.stderr).unwrap().contains("--port"));
}

#[test]
fn binary_reports_a_port_in_use() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = run_binary(&["backend", "--host", "127.0.0.1", "--port", &port]);
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(&format!("127.0.0.1:{port} is already in use")),
        "{stderr}"
    );
}

#[tokio::test]
async fn binary_serves_memory_events() {
    let mut child = Command::new(BIN)
        .args(["backend", "--port", "0", "--time=300", "--interval", "100"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first line on stderr names the address, e.g. "... http://127.0.0.1:PORT/memory ...".
    let stderr = child.stderr.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stderr).read_line(&mut line).unwrap();
        line
    });
    let line = tokio::time::timeout(PATIENCE, line).await.unwrap().unwrap();
    let url = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("an address in {line:?}"));
    let response = reqwest::get(url).await.unwrap();
    let mut reader = SseReader::new(response);
    let mut ids = Vec::new();
    while let Some(event) = reader.next().await {
        ids.push(event.id());
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!((1..=5).contains(&ids.len()), "{ids:?}");
    assert_eq!(ids[0], 1);
}
