//! The gateway's HTTPS port gets the plain port's listener rules (issue 13): on shutdown
//! its open streams (HTTP/1.1 and h2) end with the final comment, not dropped after the
//! grace period; the cap on connections without a complete head per client address
//! (a stalled TLS handshake counts) and the send timeout for a client that stops reading,
//! over HTTP/1.1 (the socket fills) and per h2 stream (the client reads the socket but
//! grants the stream no flow-control window).
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rustls_pki_types::ServerName;
use streamgate::gateway::GatewayOptions;
use streamgate::gateway::listener::ListenerOptions;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

fn limits(max_incomplete_per_ip: usize) -> GatewayOptions {
    GatewayOptions {
        listener: ListenerOptions {
            header_read_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(1),
            max_incomplete_per_ip,
        },
        ..test_options()
    }
}

/// The certificate the HTTPS gateway serves, as PEM.
fn served_pem(env: &TestServer) -> String {
    std::fs::read_to_string(env.tls_identity().cert_path()).unwrap()
}

#[tokio::test]
async fn on_shutdown_https_streams_end_with_the_final_comment() {
    let mut env = TestServer::builder().https(None).start().await;
    let backend = Backend::start(events("\n", Duration::from_millis(50), None)).await;
    let (_, sub) = env
        .subscribed_api("Bye", "ByeApp", Some(&backend.url()), None)
        .await;
    let pem = served_pem(&env);
    let addr = env.https_addr();

    let mut h1 = h1_client(addr, &pem).await;
    let resp = h1
        .send_request(request("/bye/1.0.0/x", &sub.production))
        .await
        .unwrap();
    assert_eq!(resp.version(), hyper::Version::HTTP_11);
    let mut h1_body = resp.into_body();
    let mut h1_text = String::new();
    assert!(read_until(&mut h1_body, &mut h1_text, |t| t.contains("id: 1\n")).await);

    let mut h2 = h2_client(addr, &pem).await;
    let resp = h2
        .send_request(request("/bye/1.0.0/x", &sub.production))
        .await
        .unwrap();
    assert_eq!(resp.version(), hyper::Version::HTTP_2);
    let mut h2_body = resp.into_body();
    let mut h2_text = String::new();
    assert!(read_until(&mut h2_body, &mut h2_text, |t| t.contains("id: 1\n")).await);

    let started = Instant::now();
    let grace = env.options().shutdown_grace;
    let final_comment = ": gateway shutting down\n\n";
    let ((), h1_ended, h2_ended) = tokio::join!(
        env.stop(),
        async {
            // Read to the end of the body: it must end (not be cut) right after the comment.
            read_until(&mut h1_body, &mut h1_text, |_| false).await;
            started.elapsed()
        },
        async {
            read_until(&mut h2_body, &mut h2_text, |_| false).await;
            started.elapsed()
        },
    );
    assert!(h1_text.ends_with(final_comment), "h1: {h1_text:?}");
    assert!(h2_text.ends_with(final_comment), "h2: {h2_text:?}");
    // Ended by the comment at once, not dropped when the grace period ran out.
    assert!(h1_ended < grace, "h1 ended after {h1_ended:?}");
    assert!(h2_ended < grace, "h2 ended after {h2_ended:?}");
    backend.wait_hangups(2).await;
}

#[tokio::test]
async fn stalled_handshakes_are_capped_per_address_on_the_https_port() {
    let env = TestServer::builder()
        .gateway(limits(2))
        .https(None)
        .start()
        .await;
    let addr = env.https_addr();
    let pem = served_pem(&env);
    // Two connections that never send a ClientHello: both held (handshake timeout 10 s).
    let mut stalled_a = TcpStream::connect(addr).await.unwrap();
    let mut stalled_b = TcpStream::connect(addr).await.unwrap();
    assert!(!closed_within(&mut stalled_a, Duration::from_millis(300)).await);
    let before = env
        .telemetry()
        .metrics()
        .slow_clients_closed
        .load(Ordering::Relaxed);
    // A third from the same address is closed at once.
    let mut third = TcpStream::connect(addr).await.unwrap();
    assert!(closed_within(&mut third, Duration::from_secs(2)).await);
    assert!(
        env.telemetry()
            .metrics()
            .slow_clients_closed
            .load(Ordering::Relaxed)
            > before
    );
    assert!(!closed_within(&mut stalled_b, Duration::from_millis(100)).await);
    // Once they go, a real client is served again.
    drop((stalled_a, stalled_b));
    let mut served = false;
    for _ in 0..50 {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let connector = tokio_rustls::TlsConnector::from(client_config(&pem, &[b"http/1.1"]));
        if connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .is_ok()
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "a TLS client is served once the stalled ones left");
}

#[tokio::test]
async fn an_https_client_that_stops_reading_is_closed_and_its_backend_connection_too() {
    let env = TestServer::builder()
        .gateway(limits(64))
        .https(None)
        .start()
        .await;
    let backend = flood_backend().await;
    let (_, sub) = env
        .subscribed_api("Flood", "App", Some(&backend.url()), None)
        .await;
    let pem = served_pem(&env);
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(env.https_addr()).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(client_config(&pem, &[b"http/1.1"]));
    let mut stalled = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let request = flood_request(&sub.production);
    stalled.write_all(request.as_bytes()).await.unwrap();
    stalled.flush().await.unwrap();
    // Never read: the gateway's send buffer fills, then the send timeout (1 s) fires.
    assert_cut_by_send_timeout(&backend, env.telemetry()).await;
    drop(stalled);
}

/// An HTTPS gateway with a 1 s send timeout, and the API `Flood` subscribed to on a
/// backend that writes 20 events a millisecond on each connection: always ahead of its
/// client, so each backend read is a full one.
async fn flood_over_https() -> (TestServer, Backend, Subscriber) {
    let env = TestServer::builder()
        .gateway(limits(64))
        .https(None)
        .start()
        .await;
    let backend = Backend::start(Script::Events {
        line_end: "\n",
        every: Duration::from_millis(1),
        count: None,
        batch: 20,
        wait_for: 0,
    })
    .await;
    let (_, sub) = env
        .subscribed_api("Flood", "App", Some(&backend.url()), None)
        .await;
    (env, backend, sub)
}

/// An h2 connection (the `h2` crate's client) to `env`'s HTTPS gateway whose streams start
/// with `window` bytes of flow-control window: a stream gets more only when the test
/// releases what it read (`WINDOW_UPDATE`). Its connection task keeps reading the socket.
async fn h2_with_window(env: &TestServer, window: u32) -> h2::client::SendRequest<bytes::Bytes> {
    let tls = tls_connect(env.https_addr(), client_config(&served_pem(env), &[b"h2"])).await;
    let (sender, connection) = h2::client::Builder::new()
        .initial_window_size(window)
        .handshake(tls)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender
}

/// Opens `path` with `token` over `h2`: the 200 answer's body.
async fn h2_stream(
    h2: &h2::client::SendRequest<bytes::Bytes>,
    path: &str,
    token: &str,
) -> h2::RecvStream {
    let request = hyper::Request::builder()
        .uri(format!("https://localhost{path}"))
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap();
    let (answer, _) = h2
        .clone()
        .ready()
        .await
        .unwrap()
        .send_request(request, true)
        .unwrap();
    let answer = tokio::time::timeout(PATIENCE, answer)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.status(), 200);
    answer.into_body()
}

/// Reads `body` on a task of its own, giving back the window of all it reads (a client
/// that reads normally); the text read so far is in the answer, and the task ends with
/// the body (`Err` if it was reset).
fn read_granting(
    mut body: h2::RecvStream,
) -> (
    Arc<Mutex<String>>,
    tokio::task::JoinHandle<Result<(), h2::Error>>,
) {
    let text = Arc::new(Mutex::new(String::new()));
    let seen = text.clone();
    let task = tokio::spawn(async move {
        while let Some(data) = body.data().await {
            let data = data?;
            body.flow_control().release_capacity(data.len())?;
            seen.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&data));
        }
        Ok(())
    });
    (text, task)
}

#[tokio::test]
async fn an_h2_stream_granted_no_window_is_reset_after_the_send_timeout_while_others_go_on() {
    let (env, backend, sub) = flood_over_https().await;
    let mut traffic = env.telemetry().subscribe();
    let h2 = h2_with_window(&env, 1024).await;

    // A stream that reads what arrives but never grants window: after 1024 bytes the
    // gateway can send it nothing, while the connection stays readable.
    let mut stalled = h2_stream(&h2, "/flood/1.0.0/x", &sub.production).await;
    let mut got = 0;
    while got < 1024 {
        let data = tokio::time::timeout(PATIENCE, stalled.data())
            .await
            .unwrap();
        got += data.unwrap().unwrap().len();
    }
    let stalled_at = Instant::now();
    // A stream on the same connection that reads normally.
    let (kept, kept_task) = read_granting(h2_stream(&h2, "/flood/1.0.0/x", &sub.production).await);

    // The stalled stream is reset after the send timeout (1 s), not long after.
    let end = match tokio::time::timeout(PATIENCE, stalled.data()).await {
        Ok(Some(Ok(data))) => panic!("{} bytes beyond the window", data.len()),
        Ok(end) => end,
        Err(_) => panic!("the stalled stream is still open after {PATIENCE:?}"),
    };
    let waited = stalled_at.elapsed();
    match end {
        Some(Err(e)) => assert_eq!(e.reason(), Some(h2::Reason::CANCEL), "{e}"),
        Some(Ok(_)) => unreachable!(),
        None => {} // Ended (END_STREAM) would do as well.
    }
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(4),
        "reset after {waited:?}"
    );
    // Its backend connection is let go at once, and the send timeout counted (once: the
    // connection itself was not cut).
    let reset_at = Instant::now();
    backend.wait_hangups(1).await;
    assert!(
        reset_at.elapsed() < Duration::from_secs(1),
        "{:?}",
        reset_at.elapsed()
    );
    assert_eq!(
        env.telemetry()
            .metrics()
            .send_timeouts
            .load(Ordering::Relaxed),
        1
    );
    // Its traffic event gives the send timeout as the reason, not "client left".
    let (reason, _) = closed(&mut traffic).await;
    assert_eq!(reason, "send timeout: the client read nothing for 1 s");

    // The other stream goes on, past its own send timeout.
    let before = kept.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = kept.lock().unwrap().len();
    assert!(after > before + 1000, "{before} -> {after} bytes");
    assert!(kept.lock().unwrap().contains("id: "));
    assert!(!kept_task.is_finished(), "{:?}", kept_task.await);
    assert_eq!(backend.hangups.load(Ordering::SeqCst), 1);
    assert_eq!(
        env.telemetry()
            .metrics()
            .send_timeouts
            .load(Ordering::Relaxed),
        1
    );
}

/// A client that reads slowly but steadily (16 KiB a second, the window given back in
/// 1.6 KiB steps) is not cut by the send timeout (1 s), though one backend read (up to
/// 32 KiB) takes it longer than that: the gateway hands hyper 8 KiB at a time.
#[tokio::test]
async fn an_h2_stream_read_slowly_but_steadily_is_not_cut_by_the_send_timeout() {
    let (env, backend, sub) = flood_over_https().await;
    let h2 = h2_with_window(&env, 8 * 1024).await;
    let mut body = h2_stream(&h2, "/flood/1.0.0/x", &sub.production).await;
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let (mut read, mut owed) = (0, 0);
    while started.elapsed() < Duration::from_secs(4) {
        tick.tick().await;
        // Take what has arrived...
        while let Ok(next) = tokio::time::timeout(Duration::from_millis(5), body.data()).await {
            match next {
                Some(Ok(data)) => {
                    read += data.len();
                    owed += data.len();
                }
                Some(Err(e)) => panic!("cut after {:?}, {read} bytes: {e}", started.elapsed()),
                None => panic!("ended after {:?}, {read} bytes", started.elapsed()),
            }
        }
        // ...and give back at most 1.6 KiB of window per 100 ms.
        let step = owed.min(1638);
        if step > 0 {
            body.flow_control().release_capacity(step).unwrap();
            owed -= step;
        }
    }
    assert!(read > 30_000, "{read} bytes in 4 s");
    assert_eq!(
        env.telemetry()
            .metrics()
            .send_timeouts
            .load(Ordering::Relaxed),
        0
    );
    assert_eq!(backend.hangups.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_idle_h2_stream_whose_heartbeats_are_read_is_not_cut_by_the_send_timeout() {
    let options = GatewayOptions {
        heartbeat: Duration::from_millis(100),
        ..limits(64)
    };
    let env = TestServer::builder()
        .gateway(options)
        .https(None)
        .start()
        .await;
    // One event, then nothing.
    let backend =
        Backend::start(Script::Chunks(vec![(Duration::ZERO, "id: 1\ndata: x\n\n")])).await;
    let (_, sub) = env
        .subscribed_api("Quiet", "App", Some(&backend.url()), None)
        .await;
    let h2 = h2_with_window(&env, 1024).await;
    let (text, task) = read_granting(h2_stream(&h2, "/quiet/1.0.0/x", &sub.production).await);
    // A window-less stream on the same connection that gets nothing to send is idle too.
    let mut silent = h2_stream(&h2, "/quiet/1.0.0/x", &sub.production).await;
    let first = tokio::time::timeout(PATIENCE, silent.data()).await.unwrap();
    assert!(first.unwrap().unwrap().len() < 1024);

    // Three send timeouts of heartbeats (about 30): more than the window, read and
    // granted again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let heartbeats = text.lock().unwrap().matches(": heartbeat").count();
    assert!(
        heartbeats >= 10,
        "{heartbeats} heartbeats: {:?}",
        text.lock().unwrap()
    );
    assert!(!task.is_finished(), "{:?}", task.await);
    assert_eq!(backend.hangups.load(Ordering::SeqCst), 0);
    assert_eq!(
        env.telemetry()
            .metrics()
            .send_timeouts
            .load(Ordering::Relaxed),
        0
    );
}

/// The HTTPS port's HTTP/1.1 refuses a transfer coding before a final `chunked` as the
/// plain port does (501, RFC 9112 §6.1), a malformed list with 400, both closing the
/// connection (a list not ending in `chunked` gets hyper's own 400); a plain `chunked`
/// body is read as usual.
#[tokio::test]
async fn the_https_port_refuses_a_transfer_coding_other_than_chunked() {
    let env = TestServer::builder().https(None).start().await;
    let pem = served_pem(&env);
    for (codings, status) in [
        ("gzip, chunked", "501"),
        ("chunked, chunked", "400"),
        // Not ending in `chunked`: hyper's own 400, before the service.
        ("gzip", "400"),
        ("chunked", "404"),
    ] {
        let mut tls = tls_connect(env.https_addr(), client_config(&pem, &[b"http/1.1"])).await;
        let request = format!(
            "POST /nowhere HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: {codings}\r\n\r\n\
             5\r\nhello\r\n0\r\n\r\n"
        );
        tls.write_all(request.as_bytes()).await.unwrap();
        tls.flush().await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(5), read_head(&mut tls))
            .await
            .unwrap();
        let text = answer
            .unwrap_or_else(|| panic!("{codings}: closed without an answer"))
            .to_lowercase();
        assert!(
            text.starts_with(&format!("http/1.1 {status} ")),
            "{codings}: {text}"
        );
        if status != "404" {
            assert!(text.contains("connection: close"), "{codings}: {text}");
            let closed = tokio::time::timeout(Duration::from_secs(5), wait_closed(&mut tls)).await;
            assert!(closed.is_ok(), "{codings}: the connection stayed open");
        }
    }
}
