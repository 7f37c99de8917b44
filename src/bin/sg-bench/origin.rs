//! The benchmark's origin: a minimal HTTP/1.1 SSE server that writes `batch` events every
//! `interval_ms` on each stream, each event carrying the time it was written (µs since epoch).
//!
//! It speaks just enough HTTP for a proxy or the load client: it reads one request head,
//! answers `200 text/event-stream` with chunked transfer encoding and then writes one chunk
//! per tick until the peer leaves. The request path is ignored; the query may override the
//! command-line defaults (`?batch=100&interval_ms=10&size=128`), so one origin serves every
//! workload, directly or behind a proxy that passes the query on. The first tick is
//! immediate, so a client gets its first event as soon as the stream opens.
//!
//! Event on the wire (about `size` bytes):
//!
//! ```text
//! id: 7
//! data: {"ts":1700000000000000,"seq":7,"pad":"xxxxxxxx"}
//!
//! ```

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::MissedTickBehavior;

use crate::BoxError;
use crate::clock::now_micros;

/// The longest request head the origin reads.
const MAX_HEAD: usize = 8 * 1024;
/// The shortest interval between writes.
const MIN_INTERVAL_MS: u64 = 1;
/// The most events in one write.
const MAX_BATCH: u32 = 10_000;
/// The largest event size.
const MAX_SIZE: usize = 64 * 1024;
/// What an event costs on the wire besides its padding (`id: `, `data: {"ts":…}` and the
/// blank line), with 16-digit timestamps and 4-digit sequence numbers.
const EVENT_OVERHEAD: usize = 60;

/// The response head: chunked, so it reads like any HTTP/1.1 SSE server's.
const RESPONSE_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\n\
content-type: text/event-stream\r\n\
cache-control: no-store\r\n\
transfer-encoding: chunked\r\n\r\n";

/// Command-line arguments of `sg-bench origin`.
#[derive(Debug, Clone, clap::Args)]
pub struct OriginArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,
    /// Events per write (a request's `batch=` overrides it).
    #[arg(long, default_value_t = 1)]
    pub batch: u32,
    /// Milliseconds between writes (a request's `interval_ms=` overrides it).
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Approximate bytes per event on the wire (a request's `size=` overrides it).
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// Bind with `SO_REUSEPORT`, so more origin processes can listen on the same address
    /// and the kernel spreads connections over them (a fan-out with more streams than one
    /// process may hold sockets for).
    #[arg(long)]
    pub reuse_port: bool,
}

/// What one stream sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// Events per write.
    pub batch: u32,
    /// Milliseconds between writes.
    pub interval_ms: u64,
    /// Approximate bytes per event.
    pub size: usize,
}

impl Profile {
    /// The profile of a request: the defaults overridden by its query.
    pub fn from_query(defaults: Profile, query: &str) -> Profile {
        let mut profile = defaults;
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "batch" => {
                    if let Ok(v) = value.parse() {
                        profile.batch = v;
                    }
                }
                "interval_ms" => {
                    if let Ok(v) = value.parse() {
                        profile.interval_ms = v;
                    }
                }
                "size" => {
                    if let Ok(v) = value.parse() {
                        profile.size = v;
                    }
                }
                _ => {}
            }
        }
        profile.batch = profile.batch.clamp(1, MAX_BATCH);
        profile.interval_ms = profile.interval_ms.max(MIN_INTERVAL_MS);
        profile.size = profile.size.min(MAX_SIZE);
        profile
    }
}

/// Runs the origin until the process is killed; prints `origin listening on http://ADDR`.
pub async fn run(args: OriginArgs) -> Result<(), BoxError> {
    let listener = if args.reuse_port {
        TcpListener::from_std(streamgate::gateway::bind_reuse_port(args.addr, 4096)?)?
    } else {
        TcpListener::bind(args.addr).await?
    };
    let addr = listener.local_addr()?;
    println!("origin listening on http://{addr}");
    std::io::stdout().flush()?;
    let defaults = Profile {
        batch: args.batch,
        interval_ms: args.interval_ms,
        size: args.size,
    };
    serve(listener, defaults).await
}

/// Accepts connections on `listener` for ever, one task per stream.
pub async fn serve(listener: TcpListener, defaults: Profile) -> Result<(), BoxError> {
    loop {
        let (socket, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors or a connection reset before accept: keep going,
                // after a pause so a full table doesn't spin.
                eprintln!("origin: accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            // A stream ends when the peer leaves; nothing to report.
            let _ = stream(socket, defaults).await;
        });
    }
}

/// Serves one connection: reads the request head, then writes events until the peer leaves.
async fn stream(mut socket: TcpStream, defaults: Profile) -> std::io::Result<()> {
    socket.set_nodelay(true)?;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let head_len = loop {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = find(&head, b"\r\n\r\n") {
            break end;
        }
        if head.len() > MAX_HEAD {
            socket
                .write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await?;
            return Ok(());
        }
    };
    let request_line = head[..head_len]
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or_default();
    let target = std::str::from_utf8(request_line)
        .ok()
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or("/");
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let profile = Profile::from_query(defaults, query);
    drop(head);

    socket.write_all(RESPONSE_HEAD).await?;
    let pad = vec![b'x'; profile.size.saturating_sub(EVENT_OVERHEAD)];
    let mut chunk =
        Vec::with_capacity((profile.batch as usize) * (EVENT_OVERHEAD + pad.len() + 16) + 32);
    let mut body = Vec::with_capacity(chunk.capacity());
    let mut seq: u64 = 0;
    let mut ticker = tokio::time::interval(Duration::from_millis(profile.interval_ms));
    // A stalled reader gets fewer writes, not a burst afterwards: the offered load is an
    // upper bound, and what arrives is what is counted.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        let ts = now_micros();
        body.clear();
        for _ in 0..profile.batch {
            seq += 1;
            write!(
                body,
                "id: {seq}\ndata: {{\"ts\":{ts},\"seq\":{seq},\"pad\":\""
            )?;
            body.extend_from_slice(&pad);
            body.extend_from_slice(b"\"}\n\n");
        }
        chunk.clear();
        write!(chunk, "{:x}\r\n", body.len())?;
        chunk.extend_from_slice(&body);
        chunk.extend_from_slice(b"\r\n");
        socket.write_all(&chunk).await?;
    }
}

/// The position of `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_overrides_defaults_and_is_clamped() {
        let defaults = Profile {
            batch: 1,
            interval_ms: 1000,
            size: 128,
        };
        let p = Profile::from_query(defaults, "batch=100&interval_ms=10&other=1");
        assert_eq!(p.batch, 100);
        assert_eq!(p.interval_ms, 10);
        assert_eq!(p.size, 128);
        let p = Profile::from_query(defaults, "batch=0&interval_ms=0&size=x");
        assert_eq!(p.batch, 1);
        assert_eq!(p.interval_ms, 1);
        assert_eq!(p.size, 128);
    }
}
