//! The gateway's HTTPS port (issue 13): HTTP/1.1 and h2 by ALPN with the generated
//! certificate, every stream rule over h2 (revocation closes one stream of a connection,
//! a reset stream closes its backend connection), bad certificate files, reload under an
//! open stream, and garbage or stalled handshakes that leave the listener running.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use streamgate::tls::server::{ServerIdentity, TlsError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The certificate `env`'s HTTPS gateway serves, and its PEM.
fn served(env: &TestServer) -> (ServerIdentity, String) {
    let identity = env.tls_identity().clone();
    let pem = std::fs::read_to_string(identity.cert_path()).unwrap();
    (identity, pem)
}

#[tokio::test]
async fn the_tutorial_stream_over_https_with_http1_and_h2() {
    let env = TestServer::builder().https(None).start().await;
    let (_backend, _, sub) = env
        .api_on_backend(
            "Observer",
            "Tut",
            events("\n", Duration::from_millis(20), None),
        )
        .await;
    let (identity, pem) = served(&env);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = env.dir().join("tls").join("key.pem");
        let mode = std::fs::metadata(key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(identity.fingerprint().len(), 32 * 3 - 1);
    let addr = env.https_addr();

    let mut h1 = h1_client(addr, &pem).await;
    let resp = h1
        .send_request(request("/observer/1.0.0/memory", &sub.production))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), hyper::Version::HTTP_11);
    let mut body = resp.into_body();
    let mut text = String::new();
    assert!(read_until(&mut body, &mut text, |t| t.contains("id: 2\n")).await);

    let mut h2 = h2_client(addr, &pem).await;
    let resp = h2
        .send_request(request("/observer/1.0.0/memory", &sub.production))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), hyper::Version::HTTP_2);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.into_body();
    let mut text = String::new();
    assert!(read_until(&mut body, &mut text, |t| t.contains("id: 2\n")).await);

    // Token checks hold over h2.
    let resp = h2
        .send_request(request("/observer/1.0.0/memory", "not-a-token"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn over_h2_a_revocation_ends_one_stream_and_a_reset_closes_its_backend_while_others_go_on() {
    let env = TestServer::builder().https(None).start().await;
    let backend = Backend::start(events("\n", Duration::from_millis(20), None)).await;
    let (_, sub) = env
        .subscribed_api(
            "Multi",
            "MultiApp",
            Some(&backend.url()),
            Some(&backend.url()),
        )
        .await;
    let (_, pem) = served(&env);
    let addr = env.https_addr();
    let mut h2 = h2_client(addr, &pem).await;

    let mut streams = Vec::new();
    for token in [&sub.production, &sub.sandbox, &sub.sandbox] {
        let (body, text) = open_h2_stream(&mut h2, "/multi/1.0.0/memory", token).await;
        streams.push((body, text));
    }
    let (mut kept, mut kept_text) = streams.pop().unwrap();
    let (reset, _) = streams.pop().unwrap();
    let (mut revoked, mut revoked_text) = streams.pop().unwrap();

    // Revocation: the production stream gets its final comment, then END_STREAM.
    assert!(
        env.control()
            .revoke_token(&sub.production, None)
            .await
            .unwrap()
    );
    loop {
        use http_body_util::BodyExt;
        match tokio::time::timeout(PATIENCE, revoked.frame())
            .await
            .unwrap()
        {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    revoked_text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Some(Err(e)) => panic!("the stream must end cleanly (END_STREAM), got {e}"),
            None => break,
        }
    }
    let last = revoked_text.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with(':') && last.contains("revoked"),
        "{revoked_text}"
    );
    backend.wait_hangups(1).await;

    // A reset stream (the body dropped: RST_STREAM) closes its backend within a second.
    let before = backend.hangups.load(std::sync::atomic::Ordering::SeqCst);
    let reset_at = Instant::now();
    drop(reset);
    backend.wait_hangups(before + 1).await;
    assert!(
        reset_at.elapsed() < Duration::from_secs(1),
        "{:?}",
        reset_at.elapsed()
    );

    // The connection's remaining stream goes on.
    let seen = kept_text.len();
    assert!(read_until(&mut kept, &mut kept_text, |t| t.len() > seen + 40).await);
    assert!(!kept_text[seen..].contains("revoked"));
}

#[tokio::test]
async fn reloading_the_certificate_keeps_open_streams_and_serves_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Reload CA");
    let first = ca.leaf(&["localhost"], false);
    let (cert, key) = first.write_to(dir.path());
    let env = TestServer::builder()
        .temp_dir(dir)
        .https(Some((&cert, &key)))
        .start()
        .await;
    let (_backend, _, sub) = env
        .api_on_backend(
            "Reload",
            "RApp",
            events("\n", Duration::from_millis(20), None),
        )
        .await;
    let identity = env.tls_identity().clone();
    let old_fingerprint = identity.fingerprint();
    let addr = env.https_addr();

    let mut h2 = h2_client(addr, &ca.pem).await;
    let resp = h2
        .send_request(request("/reload/1.0.0/memory", &sub.production))
        .await
        .unwrap();
    let mut body = resp.into_body();
    let mut text = String::new();
    assert!(read_until(&mut body, &mut text, |t| t.contains("id: 1\n")).await);

    // A broken file is refused and the old certificate stays.
    std::fs::write(&cert, "garbage").unwrap();
    assert!(identity.reload().is_err());
    assert_eq!(identity.fingerprint(), old_fingerprint);

    let second = ca.leaf(&["localhost"], false);
    std::fs::write(&cert, &second.cert_pem).unwrap();
    std::fs::write(&key, &second.key_pem).unwrap();
    identity.reload().unwrap();
    assert_ne!(identity.fingerprint(), old_fingerprint);

    // The open stream goes on; a new connection gets the new certificate.
    let seen = text.len();
    assert!(read_until(&mut body, &mut text, |t| t.len() > seen + 40).await);
    let tls = tls_connect(addr, client_config(&ca.pem, &[b"h2"])).await;
    let served = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    assert_eq!(
        streamgate::tls::server::fingerprint(served.as_ref()),
        identity.fingerprint()
    );
}

#[tokio::test]
async fn bad_certificate_files_are_named_with_their_problem() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Files CA");
    let leaf = ca.leaf(&["localhost"], false);
    let other = ca.leaf(&["localhost"], false);
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let cert = write("cert.pem", &leaf.cert_pem);
    let key = write("key.pem", &leaf.key_pem);
    let not_pem = write("notpem.pem", "this is not PEM");
    let wrong_key = write("wrong.key", &other.key_pem);
    let missing = dir.path().join("missing.pem");

    let err = ServerIdentity::from_files(&missing, &key).unwrap_err();
    assert!(matches!(err, TlsError::Io { .. }));
    assert!(err.to_string().contains("missing.pem"), "{err}");

    let err = ServerIdentity::from_files(&not_pem, &key).unwrap_err();
    assert!(err.to_string().contains("notpem.pem"), "{err}");
    assert!(err.to_string().contains("no PEM certificate"), "{err}");

    let err = ServerIdentity::from_files(&cert, &not_pem).unwrap_err();
    assert!(err.to_string().contains("private key"), "{err}");

    let err = ServerIdentity::from_files(&cert, &wrong_key).unwrap_err();
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
    assert!(err.to_string().contains("wrong.key"), "{err}");

    assert!(matches!(
        ServerIdentity::load_or_generate(dir.path(), Some(&cert), None),
        Err(TlsError::Incomplete)
    ));
    assert!(ServerIdentity::from_files(&cert, &key).is_ok());
}

#[tokio::test]
async fn garbage_plain_http_and_a_stalled_handshake_leave_the_https_port_serving() {
    let env = TestServer::builder().https(None).start().await;
    let (_backend, _, sub) = env
        .api_on_backend(
            "Sturdy",
            "SApp",
            events("\n", Duration::from_millis(20), None),
        )
        .await;
    let (_, pem) = served(&env);
    let addr = env.https_addr();

    // A client that stalls mid-handshake (sends nothing) holds only its own connection.
    let _stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    for junk in [
        &b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
        &b"\x16\x03\x01\x00\x05garbage-garbage-garbage"[..],
    ] {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(junk).await.unwrap();
        let mut buf = Vec::new();
        // The server closes the connection (maybe after a TLS alert).
        let read = tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "the connection is closed");
        assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
    }
    let mut h2 = h2_client(addr, &pem).await;
    let resp = h2
        .send_request(request("/sturdy/1.0.0/memory", &sub.production))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// With the plain gateway's port taken, the HTTPS gateway (which serves the same gateway)
/// says why it did not start, instead of a bare "not running"; the management API starts.
#[tokio::test]
async fn a_taken_gateway_port_is_named_for_the_https_gateway_too() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let control = tokio::task::spawn_blocking(move || {
        streamgate::control::Control::open(streamgate::control::ControlOptions::new(path))
    })
    .await
    .unwrap()
    .unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let running = streamgate::launch::start(
        control,
        streamgate::telemetry::Telemetry::new(),
        streamgate::launch::ServeConfig {
            admin_addr: any,
            gateway_addr: taken.local_addr().unwrap(),
            gateway: test_options(),
            tls: streamgate::tls::server::ListenerOptions {
                gateway_tls_addr: Some(any),
                ..Default::default()
            },
        },
    )
    .await;
    let plain = running.gateway.clone().unwrap_err();
    assert!(plain.contains("already in use"), "{plain}");
    let https = running.gateway_tls.clone().unwrap().unwrap_err();
    assert!(https.contains("plain port, which did not start"), "{https}");
    assert!(running.admin.is_ok());
    assert!(running.shutdown().await);
}
