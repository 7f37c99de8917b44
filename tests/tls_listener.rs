//! The gateway's HTTPS port gets the plain port's listener rules (issue 13): on shutdown
//! its open streams (HTTP/1.1 and h2) end with the final comment, not dropped after the
//! grace period; the cap on connections without a complete head per client address
//! (a stalled TLS handshake counts) and the send timeout for a client that stops reading.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
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
