//! Secrets: consumer secrets, access tokens and the admin token never reach the logs
//! (everything logged at TRACE during a full flow is captured, `log` records included);
//! consumer secrets are stored hashed (the raw redb file is scanned); the signing key and
//! admin token files are owner-only; Debug output of the long-lived handles shows no key
//! material; the management API listens on loopback by default. One test per file owns
//! the global subscriber, so this file has one `#[tokio::test]` that captures.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use streamgate::catalog::KeyType;
use streamgate::control::{Control, ControlOptions};
use streamgate::gateway::Gateway;
use streamgate::keys::{ADMIN_TOKEN_FILE, SIGNING_KEY_FILE, hash_secret};
use streamgate::store::DB_FILE;

/// Everything every subscriber writes, in one buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Secret material that must never be logged, with a name for the failure message.
fn assert_absent(log: &str, secrets: &[(&str, &str)]) {
    for (what, secret) in secrets {
        assert!(!secret.is_empty());
        assert!(!log.contains(secret), "the log contains the {what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_flow_logged_at_trace_shows_no_secret() {
    let captured = Captured::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .try_init()
        .unwrap();

    let mut env = TestServer::start().await;
    let backend = Backend::start(events("\n", Duration::from_millis(5), Some(3))).await;
    let (_, sub) = env
        .subscribed_api(
            "Secretive",
            "Keeper",
            Some(&backend.url()),
            Some(&backend.url()),
        )
        .await;
    // Keys with a secret, the client-credentials grant, a wrong secret, a regenerated
    // secret.
    let app = env
        .control()
        .snapshot()
        .find_application("Keeper")
        .unwrap()
        .clone();
    let generated = env
        .control()
        .snapshot()
        .keys_of(&app.id)
        .into_iter()
        .find(|k| k.key_type == KeyType::Production)
        .cloned()
        .unwrap();
    let (_, secret) = env
        .control()
        .regenerate_secret(&app.id, &generated.key_mapping_id)
        .await
        .unwrap();
    let granted = env
        .control()
        .client_credentials(&generated.consumer_key, &secret, None)
        .unwrap();
    assert!(
        env.control()
            .client_credentials(&generated.consumer_key, "wrong-secret", None)
            .is_err()
    );
    // Streams with the token in the header and in the query; a refused token; a backend
    // failure, which the gateway logs.
    let url = env.url("/secretive/1.0.0/memory");
    let resp = get(&url, Some(&granted.access_token)).await;
    assert_eq!(split(&SseReader::new(resp).rest().await).0.len(), 3);
    let resp = get(&format!("{url}?access_token={}", sub.sandbox), None).await;
    assert_eq!(split(&SseReader::new(resp).rest().await).0.len(), 3);
    let forged = format!("{}x", granted.access_token);
    assert_eq!(get(&url, Some(&forged)).await.status(), 401);
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (_, dead_sub) = env
        .subscribed_api("Gone", "Mourner", Some(&dead), None)
        .await;
    let gone = format!(
        "{}?access_token={}",
        env.url("/gone/1.0.0/memory"),
        dead_sub.production
    );
    assert_eq!(get(&gone, None).await.status(), 503);
    assert!(
        env.control()
            .revoke_token(&granted.access_token, None)
            .await
            .unwrap()
    );
    assert_eq!(get(&url, Some(&granted.access_token)).await.status(), 401);
    env.stop().await;

    let log = captured.text();
    // The capture works: the gateway's warning about the dead backend is there.
    assert!(
        log.contains("/gone/1.0.0/memory"),
        "nothing captured:\n{log}"
    );
    let admin = env.control().admin_token().to_string();
    let pem = std::fs::read_to_string(env.dir().join(SIGNING_KEY_FILE)).unwrap();
    let key_body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let signature = |t: &str| t.rsplit('.').next().unwrap().to_string();
    assert_absent(
        &log,
        &[
            ("consumer secret", &secret),
            ("admin token", &admin),
            ("signing key", &key_body),
            ("access token", &signature(&granted.access_token)),
            ("sandbox token", &signature(&sub.sandbox)),
            ("query token", &signature(&dead_sub.production)),
        ],
    );
    // Debug output of the long-lived handles (a gateway as the launcher builds one).
    let gateway = Gateway::new(
        env.control().clone(),
        env.telemetry().clone(),
        env.options().clone(),
    )
    .unwrap();
    let debug = format!(
        "{:?} {:?} {:?}",
        env.control(),
        gateway,
        env.control().keys()
    );
    assert_absent(
        &debug,
        &[("admin token", &admin), ("signing key", &key_body)],
    );

    // At rest: the redb file holds the secret's hash, never the secret.
    drop(gateway);
    let dir = env.into_dir().await;
    let raw = std::fs::read(dir.path().join(DB_FILE)).unwrap();
    let contains = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
    assert!(
        contains(hash_secret(&secret).as_bytes()),
        "wrong file scanned"
    );
    assert!(
        !contains(secret.as_bytes()),
        "the consumer secret is stored in clear"
    );
    assert!(
        !contains(admin.as_bytes()),
        "the admin token is in the store"
    );
    assert!(
        !contains(key_body.as_bytes()),
        "the signing key is in the store"
    );
}

#[test]
fn the_signing_key_and_admin_token_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let control = Control::open(ControlOptions::new(dir.path())).unwrap();
    for file in [SIGNING_KEY_FILE, ADMIN_TOKEN_FILE] {
        let mode = std::fs::metadata(dir.path().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}: {:o}", mode & 0o777);
    }
    // Reopening keeps them as they are, and the admin token is the same.
    let admin = control.admin_token().to_string();
    drop(control);
    let control = Control::open(ControlOptions::new(dir.path())).unwrap();
    assert_eq!(control.admin_token(), admin);
    assert_eq!(admin.len(), 64);
    for file in [SIGNING_KEY_FILE, ADMIN_TOKEN_FILE] {
        let mode = std::fs::metadata(dir.path().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
}

#[test]
fn the_management_api_listens_on_loopback_by_default() {
    use std::net::SocketAddr;
    for addr in [
        streamgate::launch::DEFAULT_ADMIN_ADDR,
        streamgate::mgmt::DEFAULT_ADDR,
        streamgate::launch::DEFAULT_GATEWAY_ADDR,
    ] {
        let addr: SocketAddr = addr.parse().unwrap();
        assert!(addr.ip().is_loopback(), "{addr}");
    }
    assert!(
        streamgate::cli::DEFAULT_ADMIN_URL.starts_with("http://127.0.0.1:"),
        "{}",
        streamgate::cli::DEFAULT_ADMIN_URL
    );
    // What `serve` actually defaults to, as its help shows it.
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_streamgate"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    let admin = text
        .split("--admin-addr")
        .nth(1)
        .and_then(|rest| rest.split("[default: ").nth(1))
        .and_then(|rest| rest.split(']').next())
        .unwrap_or_else(|| panic!("no default shown for --admin-addr:\n{text}"));
    let admin: SocketAddr = admin.parse().unwrap();
    assert!(admin.ip().is_loopback(), "{admin}");
}
