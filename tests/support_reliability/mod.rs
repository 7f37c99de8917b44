//! Helpers for the reliability suite, on top of `support_gateway`: raw HTTP exchanges
//! (reqwest normalises what the attacks need to send), backends that misbehave on cue,
//! and process gauges (open fds, resident memory, live tokio tasks).
#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::support_gateway::PATIENCE;

/// Open file descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Resident memory of this process in KiB (`VmRSS`).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Tasks alive on the current tokio runtime.
pub fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Polls `probe` until it returns true or `PATIENCE` runs out; returns the last answer.
pub async fn eventually(mut probe: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if probe() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A response read off a raw socket.
#[derive(Debug, Clone, Default)]
pub struct RawResponse {
    /// The status code; 0 when the connection closed without a status line.
    pub status: u16,
    /// The head, status line included.
    pub head: String,
    /// Everything after the head (not de-chunked).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    /// A header's value (first one, name case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// Writes `request` (which should ask for `Connection: close`) and reads until the server
/// closes. The write runs concurrently with the read, so a server that answers before it
/// has read everything (431, 414) is still heard.
pub async fn raw_exchange(addr: SocketAddr, request: Vec<u8>) -> RawResponse {
    let socket = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = socket.into_split();
    let writer = tokio::spawn(async move {
        // The server may close first; that is what some of these requests are for.
        let _ = wr.write_all(&request).await;
        wr
    });
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let read = tokio::time::timeout(PATIENCE, async {
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the gateway answers and closes");
    drop(writer.await);
    parse_response(&got)
}

/// Splits raw bytes into status, head and body.
pub fn parse_response(raw: &[u8]) -> RawResponse {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return RawResponse {
            head: String::from_utf8_lossy(raw).into_owned(),
            ..Default::default()
        };
    };
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    RawResponse {
        status,
        head,
        body: raw[end + 4..].to_vec(),
    }
}

/// A GET request head with `Connection: close` and extra header lines.
pub fn get_request(target: &[u8], headers: &[&[u8]]) -> Vec<u8> {
    let mut req = b"GET ".to_vec();
    req.extend_from_slice(target);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for h in headers {
        req.extend_from_slice(h);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    req
}

/// Reads a request head off a backend connection; `None` if the peer closed first.
pub async fn read_head(socket: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// Waits until the peer closes its end (EOF or reset), discarding what it sends.
pub async fn wait_closed(socket: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    loop {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// The head of a 200 SSE answer that ends at EOF.
pub const SSE_OK: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";

/// A backend that runs `script` on every connection it accepts, counting connections and
/// the ones whose script has returned.
pub struct RawBackend {
    pub addr: SocketAddr,
    /// Connections accepted.
    pub accepted: Arc<AtomicUsize>,
    /// Connection scripts that have returned (their socket dropped).
    pub finished: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for RawBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RawBackend {
    pub async fn start<F, Fut>(script: F) -> RawBackend
    where
        F: Fn(TcpStream, usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let (a, f) = (accepted.clone(), finished.clone());
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((socket, _)) = accepted else { return };
                        let n = a.fetch_add(1, Ordering::SeqCst);
                        let run = script(socket, n);
                        let f = f.clone();
                        conns.spawn(async move {
                            run.await;
                            f.fetch_add(1, Ordering::SeqCst);
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        RawBackend {
            addr,
            accepted,
            finished,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub fn finished(&self) -> usize {
        self.finished.load(Ordering::SeqCst)
    }
}

/// A backend that can be taken down (listener closed, every connection dropped) and
/// brought back up on the same port.
pub struct Flapper {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
    script: Arc<dyn Fn(TcpStream) -> futures_util::future::BoxFuture<'static, ()> + Send + Sync>,
    running: Option<JoinHandle<()>>,
}

impl Drop for Flapper {
    fn drop(&mut self) {
        if let Some(task) = self.running.take() {
            task.abort();
        }
    }
}

impl Flapper {
    /// Starts up, serving `script` on each connection.
    pub async fn start(
        script: Arc<
            dyn Fn(TcpStream) -> futures_util::future::BoxFuture<'static, ()> + Send + Sync,
        >,
    ) -> Flapper {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut flapper = Flapper {
            addr,
            accepted: Arc::new(AtomicUsize::new(0)),
            script,
            running: None,
        };
        flapper.serve(listener);
        flapper
    }

    fn serve(&mut self, listener: TcpListener) {
        let script = self.script.clone();
        let accepted = self.accepted.clone();
        self.running = Some(tokio::spawn(async move {
            // Dropping this set (the task aborted) drops every connection.
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    got = listener.accept() => {
                        let Ok((socket, _)) = got else { return };
                        accepted.fetch_add(1, Ordering::SeqCst);
                        conns.spawn(script(socket));
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        }));
    }

    /// Closes the listener and every connection.
    pub async fn down(&mut self) {
        if let Some(task) = self.running.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    pub async fn up(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}
