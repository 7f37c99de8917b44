//! Connect/hang-up cycles through an in-process gateway: streams dropped after one event or
//! after the head, connections dropped before or halfway through their request, refused
//! tokens. Afterwards open file descriptors (`/proc/self/fd`) and live tokio tasks are back
//! at their baseline, no stream is counted open and every backend connection was closed.
//!
//! 2,000 cycles by default; `STREAMGATE_SOAK=1 cargo test --test reliability_soak` runs
//! 10,000. Alone in its file: it measures the whole process.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WORKERS: usize = 8;

fn cycles() -> usize {
    match std::env::var("STREAMGATE_SOAK").as_deref() {
        Ok("1") => 10_000,
        _ => 2_000,
    }
}

/// Reads until `needle` appears; false if the connection ended first.
async fn read_until(socket: &mut TcpStream, needle: &[u8]) -> bool {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if got.windows(needle.len()).any(|w| w == needle) {
            return true;
        }
        match tokio::time::timeout(PATIENCE, socket.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return false,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the gateway stalled"),
        }
    }
}

/// One connect/hang-up cycle of kind `i % 6`.
async fn cycle(i: usize, addr: SocketAddr, token: &str) {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let head = |auth: &str, target: &str| {
        format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n{auth}\r\n")
    };
    let bearer = format!("Authorization: Bearer {token}\r\n");
    match i % 6 {
        // A stream dropped after its first event.
        0 => {
            socket
                .write_all(head(&bearer, "/soak/1.0.0/memory").as_bytes())
                .await
                .unwrap();
            assert!(read_until(&mut socket, b"data: ").await);
        }
        // Connected, then gone without a word.
        1 => {}
        // Gone halfway through the request head.
        2 => {
            let full = head(&bearer, "/soak/1.0.0/memory");
            socket
                .write_all(&full.as_bytes()[..full.len() / 2])
                .await
                .unwrap();
        }
        // A refused token, read to the end.
        3 => {
            let auth = "Authorization: Bearer forged.token.here\r\nConnection: close\r\n";
            socket
                .write_all(head(auth, "/soak/1.0.0/memory").as_bytes())
                .await
                .unwrap();
            assert!(read_until(&mut socket, b"900901").await);
        }
        // A stream dropped as soon as its head arrived.
        4 => {
            socket
                .write_all(head(&bearer, "/soak/1.0.0/memory").as_bytes())
                .await
                .unwrap();
            assert!(read_until(&mut socket, b"\r\n\r\n").await);
        }
        // A token in the query, as an EventSource sends it.
        _ => {
            let target = format!("/soak/1.0.0/memory?access_token={token}");
            socket
                .write_all(head("", &target).as_bytes())
                .await
                .unwrap();
            assert!(read_until(&mut socket, b"data: ").await);
        }
    }
    drop(socket);
}

/// Runs `total` cycles over `WORKERS` concurrent workers.
async fn run(total: usize, addr: SocketAddr, token: &Arc<String>) {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (next, token) = (next.clone(), token.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= total {
                    return;
                }
                cycle(i, addr, &token).await;
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_hang_up_cycles_return_fds_and_tasks_to_their_baseline() {
    let env = TestServer::start().await;
    let (backend, _, sub) = env
        .api_on_backend("Soak", "App", events("\n", Duration::from_millis(50), None))
        .await;
    let token = Arc::new(sub.production.clone());
    let metrics = env.telemetry().metrics().clone();
    let settled = |backend: &Backend| {
        metrics.open_streams.load(Ordering::Relaxed) == 0
            && backend.hangups.load(Ordering::SeqCst) == backend.request_count()
    };

    // Warm up every path once, so lazily created state is part of the baseline.
    run(12, env.gateway_addr(), &token).await;
    assert!(eventually(|| settled(&backend)).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (fds, tasks) = (open_fds(), alive_tasks());

    let total = cycles();
    run(total, env.gateway_addr(), &token).await;
    assert!(
        eventually(|| settled(&backend)).await,
        "{} streams still open; backend: {} requests, {} closed",
        metrics.open_streams.load(Ordering::Relaxed),
        backend.request_count(),
        backend.hangups.load(Ordering::SeqCst)
    );
    let back = eventually(|| open_fds() <= fds && alive_tasks() <= tasks).await;
    assert!(
        back,
        "after {total} cycles: fds {fds} -> {}, tasks {tasks} -> {}",
        open_fds(),
        alive_tasks()
    );
    // Every kind ran: streams opened and closed, tokens refused.
    let streams = metrics.streams_total.load(Ordering::Relaxed) as usize;
    assert!(streams >= total / 2, "{streams} streams for {total} cycles");
    assert!(metrics.rejections()[&900901] as usize >= total / 6);
    eprintln!(
        "{total} cycles: fds {fds} -> {}, tasks {tasks} -> {}, {streams} streams",
        open_fds(),
        alive_tasks()
    );
}
