//! A client that stops reading: the gateway pulls from the backend only when the client's
//! connection takes more, so backpressure reaches the backend. A backend trying to push
//! 200 MB into a client that reads nothing gets a few MB (the sockets' and hyper's
//! buffers) out and then blocks; the process's resident memory stays flat; when the client
//! reads again the stream resumes where it was. Alone in its file: it measures the whole
//! process.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the backend tries to push.
const PUSH: u64 = 200 * 1024 * 1024;
/// The documented bound on what is in flight for one stalled client: kernel socket buffers
/// on both of the gateway's connections plus hyper's (about 400 KiB each way).
const IN_FLIGHT_BOUND: u64 = 32 * 1024 * 1024;
/// How much the process may grow while the backend pushes.
const RSS_BOUND_KIB: u64 = 48 * 1024;

/// Waits until `written` has not moved for a while; returns its value.
async fn plateau(written: &AtomicU64) -> u64 {
    let mut last = written.load(Ordering::SeqCst);
    let mut still = 0;
    while still < 10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = written.load(Ordering::SeqCst);
        assert!(now < PUSH, "the backend pushed everything: no backpressure");
        if now == last {
            still += 1;
        } else {
            still = 0;
            last = now;
        }
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_blocks_the_backend_and_keeps_memory_flat() {
    let env = TestServer::start().await;
    let written = Arc::new(AtomicU64::new(0));
    let w = written.clone();
    let backend = RawBackend::start(move |mut socket: TcpStream, _| {
        let written = w.clone();
        async move {
            read_head(&mut socket).await;
            if socket.write_all(SSE_OK.as_bytes()).await.is_err() {
                return;
            }
            let filler = "x".repeat(64 * 1024 - 32);
            let mut n = 0u64;
            while written.load(Ordering::SeqCst) < PUSH {
                n += 1;
                let event = format!("id: {n}\ndata: {filler}\n\n");
                if socket.write_all(event.as_bytes()).await.is_err() {
                    return;
                }
                written.fetch_add(event.len() as u64, Ordering::SeqCst);
            }
        }
    })
    .await;
    let (_, sub) = env
        .subscribed_api("Flood", "App", Some(&backend.url()), None)
        .await;
    let rss_before = rss_kib();

    let mut socket = open_stream(
        env.gateway_addr(),
        "/flood/1.0.0/memory",
        Some(&sub.production),
    )
    .await;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        socket.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 200 OK\r\n"));

    // The client reads nothing more: the backend stalls well short of its 200 MB.
    let stalled = plateau(&written).await;
    let rss_stalled = rss_kib();
    assert!(
        stalled < IN_FLIGHT_BOUND,
        "{stalled} bytes left the backend for a client that reads nothing"
    );
    assert!(
        rss_stalled.saturating_sub(rss_before) < RSS_BOUND_KIB,
        "resident memory grew from {rss_before} KiB to {rss_stalled} KiB"
    );
    assert_eq!(env.open_streams(), 1);

    // Reading again resumes the stream: everything the client now reads was held, not
    // dropped, and the backend moves again.
    let mut got = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    let target = stalled + 8 * 1024 * 1024;
    while got < target {
        let n = tokio::time::timeout(PATIENCE, socket.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the stream ended");
        got += n as u64;
    }
    assert!(written.load(Ordering::SeqCst) > stalled);
    assert_eq!(env.open_streams(), 1);

    // Hanging up releases the backend.
    drop(socket);
    assert!(eventually(|| backend.finished() == 1).await);
    assert!(eventually(|| env.open_streams() == 0).await);
    eprintln!(
        "stalled after {stalled} bytes; RSS {rss_before} -> {rss_stalled} KiB; final {} bytes written",
        written.load(Ordering::SeqCst)
    );
}
