//! SIGHUP reloads the TLS certificate of a real `streamgate serve` process (issue 13): the
//! open stream on the HTTPS port goes on, a new connection gets the new certificate, and
//! the process keeps running.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A `streamgate serve` child, killed on drop.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The fingerprint of the certificate a new TLS connection to `addr` is served.
async fn served_fingerprint(addr: SocketAddr, ca_pem: &str) -> String {
    let tls = tls_connect(addr, client_config(ca_pem, &[b"h2"])).await;
    let cert = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    streamgate::tls::server::fingerprint(cert.as_ref())
}

#[tokio::test]
async fn sighup_reloads_the_certificate_under_an_open_stream() {
    let data = tempfile::tempdir().unwrap();
    let backend = Backend::start(events("\n", Duration::from_millis(20), None)).await;
    // The catalog is made in process, then served by the real binary.
    let mut env = TestServer::builder().data_dir(data.path()).start().await;
    let (_, sub) = env
        .subscribed_api("Hup", "HupApp", Some(&backend.url()), None)
        .await;
    env.stop().await;
    drop(env);

    let files = tempfile::tempdir().unwrap();
    let ca = Ca::new("Signal CA");
    let first = ca.leaf(&["localhost"], false);
    let (cert, key) = first.write_to(files.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_streamgate"))
        .arg("--data-dir")
        .arg(data.path())
        .args(["serve", "--admin-addr", "127.0.0.1:0"])
        .args(["--gateway-addr", "127.0.0.1:0"])
        .args(["--gateway-tls-addr", "127.0.0.1:0"])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .env("RUST_LOG", "info")
        .env_remove("STREAMGATE_ADMIN_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut serve = Serve(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let https: SocketAddr = loop {
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        if let Some(rest) = line.strip_prefix("gateway listening on https://") {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    let first_fingerprint = served_fingerprint(https, &ca.pem).await;

    let mut h2 = h2_client(https, &ca.pem).await;
    let (mut body, mut text) = open_h2_stream(&mut h2, "/hup/1.0.0/x", &sub.production).await;

    let second = ca.leaf(&["localhost"], false);
    std::fs::write(&cert, &second.cert_pem).unwrap();
    std::fs::write(&key, &second.key_pem).unwrap();
    let status = Command::new("kill")
        .arg("-HUP")
        .arg(serve.0.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());

    // A new connection gets the new certificate (the reload runs off the signal).
    let deadline = Instant::now() + PATIENCE;
    let mut now_served = first_fingerprint.clone();
    while now_served == first_fingerprint && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        now_served = served_fingerprint(https, &ca.pem).await;
    }
    let second_der = streamgate::tls::pem::certificates(second.cert_pem.as_bytes()).unwrap();
    assert_eq!(
        now_served,
        streamgate::tls::server::fingerprint(second_der[0].as_ref())
    );

    // The open stream goes on, and the process is still running.
    let seen = text.len();
    assert!(read_until(&mut body, &mut text, |t| t.len() > seen + 60).await);
    assert!(serve.0.try_wait().unwrap().is_none(), "serve still runs");
    assert_eq!(backend.hangups.load(std::sync::atomic::Ordering::SeqCst), 0);
}
