//! Scale-out (issue 17, part 1): one control plane (the real launcher in this process, so
//! the test can drive `Control`) and gateway nodes as real `streamgate gateway` child
//! processes on loopback, each with its own data dir, fed over the SSE configuration feed.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use streamgate::catalog::{ApiDraft, KeyType, SubscriptionStatus};
use streamgate::control::{Control, ControlOptions};
use streamgate::launch::{self, Running, ServeConfig};
use streamgate::telemetry::Telemetry;
use streamgate::tls::server::ListenerOptions;
use tempfile::TempDir;

/// How fast a change on the control plane must reach every node.
const WITHIN: Duration = Duration::from_secs(1);

/// The control plane: `Control` over a temp dir, served by the real launcher on a fixed
/// management address once known, so it can be stopped and started again on it.
struct ControlPlane {
    control: Control,
    admin: SocketAddr,
    /// The listeners' TLS options: HTTPS on the management API with a certificate, or not.
    tls: ListenerOptions,
    running: Option<Running>,
    dir: TempDir,
}

impl ControlPlane {
    async fn start() -> ControlPlane {
        ControlPlane::start_with(ListenerOptions::default()).await
    }

    /// A control plane whose management API (and so the feed) is served over HTTPS with the
    /// certificate and key files of `leaf`, written in `dir`.
    async fn start_https(leaf: &Leaf, dir: &Path) -> ControlPlane {
        let (cert, key) = leaf.write_to(dir);
        ControlPlane::start_with(ListenerOptions {
            cert: Some(cert),
            key: Some(key),
            ..ListenerOptions::default()
        })
        .await
    }

    async fn start_with(tls: ListenerOptions) -> ControlPlane {
        ControlPlane::start_at("127.0.0.1:0".parse().unwrap(), tls).await
    }

    /// A control plane of its own (new data dir, new signing key) on `admin`.
    async fn start_at(admin: SocketAddr, tls: ListenerOptions) -> ControlPlane {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let control = tokio::task::spawn_blocking(move || Control::open(ControlOptions::new(path)))
            .await
            .unwrap()
            .unwrap();
        let mut cp = ControlPlane {
            control,
            admin,
            tls,
            running: None,
            dir,
        };
        cp.serve().await;
        cp
    }

    async fn serve(&mut self) {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let running = launch::start(
            self.control.clone(),
            Telemetry::new(),
            ServeConfig {
                admin_addr: self.admin,
                gateway_addr: any,
                gateway: test_options(),
                tls: self.tls.clone(),
            },
        )
        .await;
        self.admin = running.admin.clone().expect("the management API starts");
        self.running = Some(running);
    }

    async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            assert!(running.shutdown().await, "the control plane stops");
        }
    }

    fn url(&self) -> String {
        let scheme = if self.tls.admin_https() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.admin)
    }

    /// A node credential, written to a file in `dir`.
    async fn node_token(&self, name: &str, dir: &Path) -> PathBuf {
        let issued = self.control.add_node(name).await.unwrap();
        let file = dir.join(format!("{name}.token"));
        std::fs::write(&file, format!("{}\n", issued.token)).unwrap();
        // As `streamgate node add` says to keep it: readable by its owner only.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        file
    }
}

/// A `streamgate gateway` child process; killed on drop.
struct Node {
    child: Child,
    addr: SocketAddr,
    /// The HTTPS gateway's address, when started with `--gateway-tls-addr`.
    https: Option<SocketAddr>,
    stderr: Arc<Mutex<Vec<u8>>>,
    data_dir: PathBuf,
    token_file: PathBuf,
    control_plane: String,
}

impl Node {
    fn spawn(control_plane: &str, token_file: &Path, data_dir: &Path) -> Node {
        Node::spawn_with(control_plane, token_file, data_dir, &[])
    }

    /// [`Node::spawn`] with `extra` options.
    fn spawn_with(control_plane: &str, token_file: &Path, data_dir: &Path, extra: &[&str]) -> Node {
        let (child, stderr, rx) = spawn_captured(
            Command::new(env!("CARGO_BIN_EXE_streamgate"))
                .args(["gateway", "--control-plane", control_plane, "--node-token"])
                .arg(token_file)
                .args(["--gateway-addr", "127.0.0.1:0", "--heartbeat-secs", "30"])
                .arg("--data-dir")
                .arg(data_dir)
                .args(extra)
                .env("RUST_LOG", "info"),
        );
        let addr = listening_addr(&rx, &stderr, "gateway listening on http://")
            .parse()
            .unwrap();
        let https = extra.contains(&"--gateway-tls-addr").then(|| {
            listening_addr(&rx, &stderr, "gateway listening on https://")
                .split_whitespace()
                .next()
                .and_then(|addr| addr.parse().ok())
                .unwrap()
        });
        Node {
            child,
            addr,
            https,
            stderr,
            data_dir: data_dir.to_path_buf(),
            token_file: token_file.to_path_buf(),
            control_plane: control_plane.to_string(),
        }
    }

    /// The node's `/health` once it reports the control plane disconnected (or after
    /// 100 tries 50 ms apart).
    async fn health_once_disconnected(&self) -> serde_json::Value {
        let mut health = serde_json::Value::Null;
        for _ in 0..100 {
            health = self.health().await;
            if health["controlPlane"]["connected"] == false {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        health
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    async fn health(&self) -> serde_json::Value {
        self.get("/health").await.json().await.unwrap()
    }

    /// The node's `/metrics` text.
    async fn metrics(&self) -> String {
        self.get("/metrics").await.text().await.unwrap()
    }

    /// `GET path` on the node.
    async fn get(&self, path: &str) -> reqwest::Response {
        client().get(self.url(path)).send().await.unwrap()
    }

    /// SIGKILLs the node and starts it again on the same data dir.
    fn restart(mut self) -> Node {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        Node::spawn(&self.control_plane, &self.token_file, &self.data_dir)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A control plane, `n` nodes and a published API on the memory backend with an
/// application subscribed under AsyncUnlimited.
struct Cluster {
    cp: ControlPlane,
    nodes: Vec<Node>,
    api_id: String,
    sub: Subscriber,
    _backend: streamgate::backend::BackendHandle,
    dir: TempDir,
}

impl Cluster {
    async fn start(n: usize) -> Cluster {
        Cluster::start_on(ControlPlane::start().await, n, &[]).await
    }

    /// [`Cluster::start`] on the control plane `cp`, each node started with `extra` options.
    async fn start_on(cp: ControlPlane, n: usize, extra: &[&str]) -> Cluster {
        let backend = memory_backend(memory_options(100, None)).await;
        let api = published_api(
            &cp.control,
            "Fleet",
            Some(&format!("http://{}", backend.addr())),
            None,
            &[],
        )
        .await;
        let sub = subscriber(
            &cp.control,
            "FleetApp",
            "Unlimited",
            &api,
            Some("AsyncUnlimited"),
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        let mut nodes = Vec::new();
        for i in 0..n {
            let token = cp.node_token(&format!("node-{i}"), dir.path()).await;
            let data = dir.path().join(format!("node-{i}"));
            nodes.push(Node::spawn_with(&cp.url(), &token, &data, extra));
        }
        Cluster {
            cp,
            nodes,
            api_id: api.id,
            sub,
            _backend: backend,
            dir,
        }
    }

    /// Waits until every node has applied the control plane's current feed version.
    async fn synced(&self) {
        let version = self.cp.control.feed_position().version;
        for node in &self.nodes {
            let mut applied = serde_json::Value::Null;
            for _ in 0..200 {
                applied = node.health().await["controlPlane"]["appliedVersion"].clone();
                if applied == version {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(applied, version, "{}", node.log());
        }
    }

    /// A stream through every node, each past its first event.
    async fn streams(&self, token: &str) -> Vec<SseReader> {
        let mut readers = Vec::new();
        for node in &self.nodes {
            let resp = get(&node.url(&memory_path("Fleet")), Some(token)).await;
            if resp.status() != 200 {
                let status = resp.status();
                let body = resp.text().await.unwrap_or_default();
                panic!("{status} {body}\n{}", node.log());
            }
            let mut reader = SseReader::new(resp);
            assert!(reader.next_event().await.is_some());
            readers.push(reader);
        }
        readers
    }
}

/// Reads every stream to its end; asserts each ended within [`WITHIN`] of `since` with a
/// final comment containing `why`.
async fn all_close(readers: Vec<SseReader>, since: Instant, why: &str) {
    for (i, mut reader) in readers.into_iter().enumerate() {
        let items = reader.rest().await;
        let took = since.elapsed();
        let (_, comments) = split(&items);
        assert!(
            comments.iter().any(|c| c.contains(why)),
            "stream {i}: {comments:?}"
        );
        assert!(took <= WITHIN, "stream {i} closed after {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoke_unsubscribe_and_block_close_streams_on_every_node_within_a_second() {
    let c = Cluster::start(3).await;
    let control = &c.cp.control;

    // Revoke the token: the streams on every node end.
    let readers = c.streams(&c.sub.production).await;
    let t0 = Instant::now();
    assert!(control.revoke_token(&c.sub.production, None).await.unwrap());
    all_close(readers, t0, "the access token was revoked").await;
    for node in &c.nodes {
        let resp = get(&node.url(&memory_path("Fleet")), Some(&c.sub.production)).await;
        assert_eq!(
            resp.status(),
            401,
            "a revoked token is refused on every node"
        );
    }

    // Unsubscribe: a fresh token's streams end.
    let token = access_token(control, &c.sub.app_id, KeyType::Production).await;
    let readers = c.streams(&token).await;
    let t0 = Instant::now();
    control
        .unsubscribe(c.sub.subscription_id.as_deref().unwrap())
        .await
        .unwrap();
    all_close(readers, t0, "the subscription was removed").await;

    // Block the API: subscribe again, open streams, block.
    let sub = control
        .subscribe(&c.sub.app_id, &c.api_id, "AsyncUnlimited")
        .await
        .unwrap();
    c.synced().await;
    let readers = c.streams(&token).await;
    let t0 = Instant::now();
    control
        .set_subscription_status(&sub.id, SubscriptionStatus::Blocked)
        .await
        .unwrap();
    all_close(readers, t0, "the subscription was blocked").await;
    control
        .set_subscription_status(&sub.id, SubscriptionStatus::Unblocked)
        .await
        .unwrap();
    c.synced().await;
    let readers = c.streams(&token).await;
    let t0 = Instant::now();
    control
        .change_lifecycle(&c.api_id, streamgate::catalog::LifecycleAction::Block)
        .await
        .unwrap();
    all_close(readers, t0, "the API was blocked").await;

    // Every node reported its status: address, applied version, last seen.
    let nodes = control.nodes();
    assert_eq!(nodes.len(), 3);
    let version = control.feed_position().version;
    assert!(
        eventually(|| control
            .nodes()
            .iter()
            .all(|n| n.connected && n.report.applied_version == Some(version)))
        .await,
        "{:?}",
        control.nodes()
    );
    for (node, status) in c.nodes.iter().zip(control.nodes()) {
        assert_eq!(
            status.report.address.as_deref(),
            Some(launch::public_url(node.addr).as_str())
        );
        assert!(status.last_seen.is_some());
    }
    drop(c.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_revision_is_routed_on_every_node_within_a_second() {
    let c = Cluster::start(3).await;
    let control = &c.cp.control;
    let second = memory_backend(memory_options(100, None)).await;
    let api = control.snapshot().apis[&c.api_id].clone();
    control
        .update_api(
            &c.api_id,
            ApiDraft {
                production_endpoint: Some(format!("http://{}", second.addr())),
                ..api.to_draft()
            },
        )
        .await
        .unwrap();
    let t0 = Instant::now();
    control
        .deploy_new_revision(&c.api_id, "second backend", &hybrid())
        .await
        .unwrap();
    let mut held = Vec::new();
    for (i, node) in c.nodes.iter().enumerate() {
        loop {
            let before = second.stats().open_streams;
            let resp = get(&node.url(&memory_path("Fleet")), Some(&c.sub.production)).await;
            assert_eq!(resp.status(), 200);
            let mut reader = SseReader::new(resp);
            assert!(reader.next_event().await.is_some());
            if second.stats().open_streams > before {
                held.push(reader);
                break;
            }
            assert!(
                t0.elapsed() <= WITHIN,
                "node {i} still routes to the old revision after {:?}",
                t0.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(t0.elapsed() <= WITHIN, "{:?}", t0.elapsed());
    assert_eq!(second.stats().open_streams, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_serve_while_the_control_plane_is_down_and_catch_up_when_it_returns() {
    let mut c = Cluster::start(2).await;
    let path = memory_path("Fleet");
    drop(c.streams(&c.sub.production).await);
    let extra = access_token(&c.cp.control, &c.sub.app_id, KeyType::Production).await;
    c.cp.stop().await;

    // Every node notices, says so, and keeps serving existing routes and tokens.
    for node in &c.nodes {
        let health = node.health_once_disconnected().await;
        let status = health["controlPlane"]["status"]
            .as_str()
            .unwrap_or_default();
        assert!(
            status.starts_with("control plane unreachable since "),
            "{health}"
        );
        let metrics = node.metrics().await;
        assert!(
            metrics.contains("streamgate_control_plane_connected 0"),
            "{metrics}"
        );
        assert!(
            metrics.contains("# control plane unreachable since "),
            "{metrics}"
        );
    }
    drop(c.streams(&c.sub.production).await);

    // A node restarted meanwhile serves from its data dir.
    let node = c.nodes.remove(0).restart();
    c.nodes.insert(0, node);
    drop(c.streams(&extra).await);
    let health = c.nodes[0].health().await;
    assert_eq!(health["controlPlane"]["connected"], false, "{health}");

    // Changes made while it is down, and after it returns, reach every node.
    assert!(c.cp.control.revoke_token(&extra, None).await.unwrap());
    c.cp.serve().await;
    for node in &c.nodes {
        let mut status = 0;
        for _ in 0..200 {
            status = get(&node.url(&path), Some(&extra)).await.status().as_u16();
            if status == 401 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(status, 401, "{}", node.log());
        assert_eq!(node.health().await["controlPlane"]["connected"], true);
    }
    let readers = c.streams(&c.sub.production).await;
    let t0 = Instant::now();
    c.cp.control
        .unsubscribe(c.sub.subscription_id.as_deref().unwrap())
        .await
        .unwrap();
    all_close(readers, t0, "the subscription was removed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_or_removed_node_token_cannot_read_the_feed() {
    let mut c = Cluster::start(1).await;
    let http = client();
    let feed = format!("{}{}", c.cp.url(), streamgate::mgmt::nodes::FEED_PATH);
    let resp = http.get(&feed).send().await.unwrap();
    assert_error(resp, 401, 900902).await;
    let resp = get_feed(&http, &feed, "sgn_not-a-node-token").await;
    assert_error(resp, 401, 900901).await;
    // The admin token is not a node token either.
    let resp = get_feed(&http, &feed, c.cp.control.admin_token()).await;
    assert_eq!(resp.status(), 401);

    // A valid token reads a snapshot that carries no secrets.
    let other = c.cp.node_token("reader", c.dir.path()).await;
    let token = std::fs::read_to_string(&other).unwrap();
    let resp = get_feed(&http, &feed, token.trim()).await;
    assert_eq!(resp.status(), 200);
    let mut reader = SseReader::new(resp);
    let event = reader.next_event().await.unwrap();
    assert_eq!(event.event.as_deref(), Some("snapshot"));
    assert_eq!(
        event.id.as_deref(),
        Some(c.cp.control.feed_position().to_string().as_str())
    );
    let data = event.data;
    assert!(data.contains(c.cp.control.keys().public_x()));
    for secret in [
        "secretHash",
        "secret_hash",
        "passwordHash",
        "password_hash",
        "PRIVATE KEY",
    ] {
        assert!(!data.contains(secret), "the feed carries {secret}");
    }
    // Removing the reader ends its feed and refuses its token.
    c.cp.control.remove_node("reader").await.unwrap();
    let rest = reader.rest().await;
    let (_, comments) = split(&rest);
    assert!(comments.iter().any(|c| c == "node removed"), "{comments:?}");
    let resp = get_feed(&http, &feed, token.trim()).await;
    assert_eq!(resp.status(), 401);

    // Removing a running node cuts it off: it loses the feed and cannot reconnect, and
    // so misses later changes.
    let node = &c.nodes[0];
    assert!(
        eventually(|| c
            .cp
            .control
            .nodes()
            .iter()
            .any(|n| n.name == "node-0" && n.connected))
        .await
    );
    let readers = c.streams(&c.sub.production).await;
    let t0 = Instant::now();
    c.cp.control.remove_node("node-0").await.unwrap();
    let health = node.health_once_disconnected().await;
    assert_eq!(health["controlPlane"]["connected"], false, "{health}");
    // And it serves nothing more: its open stream ends, a new one is refused, its health
    // says DOWN (503, for a load balancer) and a restart with the refused token serves
    // nothing either (the emptied replica is what its data dir holds).
    all_close(readers, t0, "the API was undeployed").await;
    let resp = get(&node.url(&memory_path("Fleet")), Some(&c.sub.production)).await;
    assert_eq!(resp.status(), 404, "a removed node serves no API");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let resp = node.get("/health").await;
    assert_eq!(resp.status(), 503);
    let health: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(health["status"], "DOWN", "{health}");
    assert_eq!(health["controlPlane"]["connected"], false, "{health}");
    assert!(
        health["controlPlane"]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("401")),
        "{health}"
    );
    let node = c.nodes.into_iter().next().unwrap().restart();
    let resp = get(&node.url(&memory_path("Fleet")), Some(&c.sub.production)).await;
    assert_eq!(resp.status(), 404, "{}", node.log());
    // Restarted while the control plane is down, it says DOWN at once (its saved state
    // is the withdrawn one), not UP with nothing to serve.
    c.cp.stop().await;
    let node = node.restart();
    let resp = node.get("/health").await;
    assert_eq!(resp.status(), 503, "{}", node.log());
    c.cp.serve().await;
    assert!(
        eventually(|| node.log().contains("serves nothing")).await,
        "{}",
        node.log()
    );

    // Added again under its name, the same node (same data dir) gets a whole snapshot.
    let issued = c.cp.control.add_node("node-0").await.unwrap();
    std::fs::write(&node.token_file, format!("{}\n", issued.token)).unwrap();
    let node = node.restart();
    let mut status = 0;
    for _ in 0..100 {
        let resp = get(&node.url(&memory_path("Fleet")), Some(&c.sub.production)).await;
        status = resp.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200, "{}", node.log());
}

/// A node's TLS is as `serve`'s: SIGHUP reloads its certificate (it used to end the node),
/// and an HTTPS gateway that cannot start (a taken port) stops the node, named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_reloads_its_certificate_on_sighup_and_stops_when_its_tls_cannot_start() {
    let c = Cluster::start(0).await;
    let cp = &c.cp;
    let dir = tempfile::tempdir().unwrap();
    let token = cp.node_token("tls-node", dir.path()).await;
    // Waiting for the node's first line blocks this thread: the control plane's tasks
    // move to another first.
    let mut node = tokio::task::block_in_place(|| {
        Node::spawn_with(
            &cp.url(),
            &token,
            &dir.path().join("data"),
            &["--gateway-tls-addr", "127.0.0.1:0"],
        )
    });
    let status = Command::new("kill")
        .args(["-HUP", &node.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        eventually(|| node.log().contains("TLS certificate reloaded")).await,
        "{}",
        node.log()
    );
    assert!(node.child.try_wait().unwrap().is_none(), "{}", node.log());
    assert_eq!(node.get("/health").await.status(), 200);
    // The HTTPS port answers `/health` and (to loopback) `/metrics` too, as the plain one.
    let https = node.https.unwrap();
    let cert =
        std::fs::read_to_string(dir.path().join("data").join("tls").join("cert.pem")).unwrap();
    let mut h2 = tls::h2_client(https, &cert).await;
    for (path, expect) in [
        ("/health", "\"status\":\"UP\""),
        ("/metrics", "streamgate_"),
    ] {
        let resp = h2.send_request(tls::request(path, "none")).await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains(expect), "{path}: {body}");
    }

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let token = cp.node_token("busy-node", dir.path()).await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_streamgate"))
        .args(["gateway", "--control-plane", &cp.url(), "--node-token"])
        .arg(&token)
        .args(["--gateway-addr", "127.0.0.1:0", "--gateway-tls-addr", &port])
        .arg("--data-dir")
        .arg(dir.path().join("busy"))
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&port), "{stderr}");
}

/// A control plane started on another data dir (a new signing key) at the address the
/// nodes follow refuses their tokens; that must not empty them: they keep serving, say why,
/// and follow their own control plane again when it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_control_plane_on_another_data_dir_does_not_empty_the_nodes() {
    let mut c = Cluster::start(1).await;
    c.synced().await;
    let mut readers = c.streams(&c.sub.production).await;
    c.cp.stop().await;
    let mut other = ControlPlane::start_at(c.cp.admin, ListenerOptions::default()).await;
    let node = &c.nodes[0];
    let mut health = serde_json::Value::Null;
    for _ in 0..100 {
        health = node.health().await;
        if health["controlPlane"]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("401"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let error = health["controlPlane"]["lastError"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("where this node follows"), "{health}");
    assert_eq!(health["status"], "UP", "{health}");
    assert!(
        readers[0].next_event().await.is_some(),
        "the open stream goes on"
    );
    let resp = get(&node.url(&memory_path("Fleet")), Some(&c.sub.production)).await;
    assert_eq!(resp.status(), 200, "{}", node.log());
    other.stop().await;
    c.cp.serve().await;
    c.synced().await;
}

/// `GET feed` with `token` as the bearer.
async fn get_feed(http: &reqwest::Client, feed: &str, token: &str) -> reqwest::Response {
    http.get(feed).bearer_auth(token).send().await.unwrap()
}

#[tokio::test]
async fn node_credentials_through_the_cli_and_the_admin_api() {
    let s = TestServer::start().await;
    let token = ok(&s, &["node", "add", "edge-1", "-q"]).await;
    let token = token.trim();
    assert!(token.starts_with("sgn_"), "{token}");
    assert_eq!(
        s.control().authenticate_node(token).as_deref(),
        Some("edge-1")
    );
    // Stored hashed: the token is nowhere in the store file.
    let db = std::fs::read(s.dir().join("streamgate.redb")).unwrap();
    assert!(!db.windows(token.len()).any(|w| w == token.as_bytes()));

    let listed = ok(&s, &["node", "list"]).await;
    assert!(
        listed.contains("NAME") && listed.contains("edge-1"),
        "{listed}"
    );
    let (status, body) = s.get(&admin("/gateway-nodes")).await;
    assert_eq!(status, 200);
    assert_eq!(body["count"], 1, "{body}");
    assert_eq!(body["list"][0]["name"], "edge-1");
    assert_eq!(body["list"][0]["connected"], false);
    assert!(body["list"][0].get("token").is_none(), "{body}");

    let (status, body) = s
        .post(
            &admin("/gateway-nodes"),
            serde_json::json!({"name": "edge-1"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = s
        .post(&admin("/gateway-nodes"), serde_json::json!({"name": "a b"}))
        .await;
    assert_eq!(status, 400, "{body}");
    let anonymous = s
        .anon(reqwest::Method::GET, &admin("/gateway-nodes"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    ok(&s, &["node", "remove", "edge-1"]).await;
    assert_eq!(s.control().authenticate_node(token), None);
    let err = fails(&s, &["node", "remove", "edge-1"]).await;
    assert!(err.contains("404"), "{err}");
    let listed = ok(&s, &["node", "list"]).await;
    assert!(listed.contains("No gateway nodes"), "{listed}");
}

/// A node takes the slow-client limits as `serve` does: with at most 2 incomplete heads per
/// address and 1 s to send one, of 4 half-sent heads 2 are closed at once and the other 2
/// after their second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_takes_the_slow_client_limits() {
    let cp = ControlPlane::start().await;
    let dir = tempfile::tempdir().unwrap();
    let token = cp.node_token("slow", dir.path()).await;
    let node = Node::spawn_with(
        &cp.url(),
        &token,
        &dir.path().join("slow"),
        &[
            "--header-read-timeout-secs",
            "1",
            "--max-incomplete-per-ip",
            "2",
        ],
    );
    let half_head = b"GET /fleet/1.0.0/memory HTTP/1.1\r\n";
    let slow = connections_sending("127.0.0.1", node.addr, 4, half_head).await;
    // Past the over-cap probation (100 ms).
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut kept = still_open(slow, Duration::from_millis(20)).await;
    assert_eq!(kept.len(), 2, "the cap of 2 incomplete heads");
    let since = Instant::now();
    for s in &mut kept {
        assert!(closed_within(s, Duration::from_secs(3)).await);
    }
    assert!(
        since.elapsed() < Duration::from_secs(2),
        "{:?}",
        since.elapsed()
    );
}

/// `streamgate gateway` following `control_plane` with `token_file` over `data_dir`, its
/// plain gateway on a free port, logging at info, with `extra` options and no trust from
/// the environment.
fn node_command(
    control_plane: &str,
    token_file: &Path,
    data_dir: &Path,
    extra: &[&str],
) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_streamgate"));
    cmd.args(["gateway", "--control-plane", control_plane, "--node-token"])
        .arg(token_file)
        .args(["--gateway-addr", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .env_remove("STREAMGATE_CONTROL_PLANE_CACERT")
        .env("RUST_LOG", "info");
    cmd
}

/// A `streamgate gateway` child process expected to stop on its own: its exit status and
/// what it logged, or a panic when it still runs after [`PATIENCE`].
fn node_exits(
    control_plane: &str,
    token_file: &Path,
    data_dir: &Path,
    extra: &[&str],
) -> (std::process::ExitStatus, String) {
    let (mut child, stderr, _rx) = spawn_captured(&mut node_command(
        control_plane,
        token_file,
        data_dir,
        extra,
    ));
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            // The pipe reader may still be copying the last lines.
            std::thread::sleep(Duration::from_millis(100));
            return (
                status,
                String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned(),
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the node still runs after {PATIENCE:?}: {}",
                String::from_utf8_lossy(&stderr.lock().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The TLS fix of the feed: a control plane serving its management API over HTTPS (a
/// certificate for 127.0.0.1 from a private CA) feeds a node given that CA, whose gateway
/// then admits a token the control plane issued; `/health` shows the https link.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_follows_an_https_control_plane_and_admits_its_tokens() {
    let certs = tempfile::tempdir().unwrap();
    let ca = Ca::new("control plane CA");
    let ca_file = certs.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let cp = ControlPlane::start_https(&ca.leaf(&["127.0.0.1"], false), certs.path()).await;
    assert!(cp.url().starts_with("https://"), "{}", cp.url());
    let c = Cluster::start_on(
        cp,
        1,
        &["--control-plane-cacert", ca_file.to_str().unwrap()],
    )
    .await;
    c.synced().await;
    let readers = c.streams(&c.sub.production).await;
    assert_eq!(readers.len(), 1);
    let node = &c.nodes[0];
    let health = node.health().await;
    assert_eq!(health["controlPlane"]["connected"], true, "{health}");
    assert_eq!(health["controlPlane"]["url"], c.cp.url(), "{health}");
    // A token the control plane revokes is refused there within a second: the feed flows.
    let t0 = Instant::now();
    assert!(
        c.cp.control
            .revoke_token(&c.sub.production, None)
            .await
            .unwrap()
    );
    all_close(readers, t0, "the access token was revoked").await;
    assert!(
        !node.log().contains("plain http://"),
        "no clear-text warning for https: {}",
        node.log()
    );
}

/// A node that trusts another CA than the one that issued the control plane's certificate
/// (a stand-in for anyone else answering at that address) refuses it: a fresh node stops
/// with the reason and never listens; a node with a saved snapshot keeps serving that one,
/// applies none of the control plane's changes, and says why on `/health` and in its log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_given_the_wrong_ca_refuses_the_control_plane_and_applies_nothing_from_it() {
    let certs = tempfile::tempdir().unwrap();
    let ca = Ca::new("control plane CA");
    let ca_file = certs.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let wrong_file = certs.path().join("wrong-ca.pem");
    std::fs::write(&wrong_file, Ca::new("some other CA").pem).unwrap();
    let wrong = ["--control-plane-cacert", wrong_file.to_str().unwrap()];
    let cp = ControlPlane::start_https(&ca.leaf(&["127.0.0.1"], false), certs.path()).await;

    // A fresh node: nothing to serve, and a trust only the operator can fix.
    let token = cp.node_token("fresh", certs.path()).await;
    let fresh = certs.path().join("fresh");
    let (status, log) = node_exits(&cp.url(), &token, &fresh, &wrong);
    assert!(!status.success(), "{log}");
    assert!(log.contains("UnknownIssuer"), "{log}");
    assert!(log.contains("--control-plane-cacert"), "{log}");
    assert!(!log.contains("gateway listening"), "{log}");

    // A node that followed with the right CA, restarted with the wrong one.
    let mut c = Cluster::start_on(
        cp,
        1,
        &["--control-plane-cacert", ca_file.to_str().unwrap()],
    )
    .await;
    c.synced().await;
    let node = c.nodes.remove(0);
    let applied = node.health().await["controlPlane"]["appliedVersion"].clone();
    let (data, token, url) = (
        node.data_dir.clone(),
        node.token_file.clone(),
        node.control_plane.clone(),
    );
    drop(node);
    let node = Node::spawn_with(&url, &token, &data, &wrong);
    let mut health = node.health().await;
    for _ in 0..100 {
        if health["controlPlane"]["lastError"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        health = node.health().await;
    }
    let error = health["controlPlane"]["lastError"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(error.contains("UnknownIssuer"), "{health}");
    assert!(error.contains("--control-plane-cacert"), "{health}");
    assert!(error.contains("nothing from it is applied"), "{health}");
    assert!(node.log().contains("UnknownIssuer"), "{}", node.log());
    // The revocation on the control plane does not reach it: it still serves its saved
    // snapshot, at the version applied before.
    assert!(
        c.cp.control
            .revoke_token(&c.sub.production, None)
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let health = node.health().await;
    assert_eq!(health["controlPlane"]["connected"], false, "{health}");
    assert_eq!(
        health["controlPlane"]["appliedVersion"], applied,
        "{health}"
    );
    let resp = get(&node.url(&memory_path("Fleet")), Some(&c.sub.production)).await;
    assert_eq!(resp.status(), 200, "the saved snapshot is still served");
}

/// An https control plane with its generated certificate (`--admin-tls`): a node given no
/// certificate to trust stops with a clear reason and how to fix it; given the control
/// plane's `<data dir>/tls/cert.pem` through `STREAMGATE_CONTROL_PLANE_CACERT`, it follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_https_control_plane_without_trust_configured_fails_clearly() {
    let cp = ControlPlane::start_with(ListenerOptions {
        admin_tls: true,
        ..ListenerOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let token = cp.node_token("edge", dir.path()).await;
    let (status, log) = node_exits(&cp.url(), &token, &dir.path().join("edge"), &[]);
    assert!(!status.success(), "{log}");
    assert!(
        log.contains(&format!(
            "TLS with the control plane at {} failed",
            cp.url()
        )),
        "{log}"
    );
    assert!(log.contains("UnknownIssuer"), "{log}");
    assert!(log.contains("--control-plane-cacert FILE"), "{log}");
    assert!(!log.contains("gateway listening"), "{log}");

    let generated = cp.dir.path().join("tls").join("cert.pem");
    assert!(generated.exists());
    let (child, stderr, rx) = spawn_captured(
        Command::new(env!("CARGO_BIN_EXE_streamgate"))
            .args(["gateway", "--control-plane", &cp.url(), "--node-token"])
            .arg(&token)
            .args(["--gateway-addr", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(dir.path().join("edge"))
            .env("STREAMGATE_CONTROL_PLANE_CACERT", &generated)
            .env("RUST_LOG", "info"),
    );
    let mut child = child;
    let addr = listening_addr(&rx, &stderr, "gateway listening on http://");
    let health: serde_json::Value = client()
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(health["controlPlane"]["connected"], true, "{health}");
}

/// A node with nothing to serve yet stops, saying what to fix, where retrying cannot help:
/// `http://` for a control plane that answers in TLS, and a node token the control plane
/// refuses (401). It serves nothing before that.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fresh_node_stops_on_a_wrong_scheme_or_a_refused_token() {
    let cp = ControlPlane::start_with(ListenerOptions {
        admin_tls: true,
        ..ListenerOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let token = cp.node_token("edge", dir.path()).await;
    let cacert = cp.dir.path().join("tls").join("cert.pem");
    let cacert = cacert.to_str().unwrap();
    let plain = cp.url().replacen("https://", "http://", 1);
    let (status, log) = node_exits(&plain, &token, &dir.path().join("edge"), &[]);
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("the control plane answers in TLS: use https:// in --control-plane"),
        "{log}"
    );
    assert!(!log.contains("gateway listening"), "{log}");

    assert!(!log.contains("other users may read it"), "{log}");

    // Something that is not HTTP, and not TLS either, is retried as unreachable: the node
    // waits (it stopped, told to use https://, for any answer that was not HTTP).
    let ssh = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ssh_url = format!("http://{}", ssh.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in ssh.incoming().flatten() {
            let mut stream = stream;
            // After the request, as a server that does not speak HTTP answers it.
            let mut request = [0u8; 1024];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let _ = std::io::Write::write_all(&mut stream, b"SSH-2.0-OpenSSH_9.6\r\n");
        }
    });
    let mut waiting = tokio::task::block_in_place(|| {
        let (child, stderr, _rx) = spawn_captured(&mut node_command(
            &ssh_url,
            &token,
            &dir.path().join("edge-ssh"),
            &[],
        ));
        std::thread::sleep(Duration::from_secs(3));
        (child, stderr)
    });
    let still_running = waiting.0.try_wait().unwrap().is_none();
    let _ = waiting.0.kill();
    let _ = waiting.0.wait();
    let log = String::from_utf8_lossy(&waiting.1.lock().unwrap()).into_owned();
    assert!(still_running, "{log}");
    assert!(log.contains("not an HTTP answer"), "{log}");
    assert!(!log.contains("use https://"), "{log}");

    // A token file others may read is run, with a warning.
    let wrong = dir.path().join("wrong.token");
    std::fs::write(&wrong, "sgn_not-a-node-token\n").unwrap();
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (status, log) = node_exits(
        &cp.url(),
        &wrong,
        &dir.path().join("edge2"),
        &["--control-plane-cacert", cacert],
    );
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("refused the node token (401): wrong token, or the node was removed"),
        "{log}"
    );
    assert!(!log.contains("gateway listening"), "{log}");
    assert!(
        log.contains("other users may read it (mode 0644)") && log.contains("chmod 600"),
        "{log}"
    );
}

/// `streamgate node add` against an https control plane prints the command that starts the
/// node with its https URL, the certificate file to trust and that certificate's
/// fingerprint; the printed command, run as printed, follows the control plane.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_add_prints_an_https_start_command_and_the_certificate_to_trust() {
    let cp = ControlPlane::start_with(ListenerOptions {
        admin_tls: true,
        ..ListenerOptions::default()
    })
    .await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_streamgate"))
        .arg("--data-dir")
        .arg(cp.dir.path())
        .args(["node", "add", "edge", "--admin-url", &cp.url()])
        .env_remove("STREAMGATE_ADMIN_TOKEN")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated = cp.dir.path().join("tls").join("cert.pem");
    let pem = std::fs::read(&generated).unwrap();
    let cert = streamgate::tls::pem::certificates(&pem).unwrap().remove(0);
    let fingerprint = streamgate::tls::server::fingerprint(cert.as_ref());
    let command = format!(
        "streamgate gateway --control-plane {} --control-plane-cacert CERT --node-token FILE",
        cp.url()
    );
    assert!(text.contains(&command), "{text}");
    assert!(
        text.contains(&format!("CERT: {}", generated.display())),
        "{text}"
    );
    assert!(text.contains(&fingerprint), "{text}");

    // With a --cacert that is not what the server presents, the file named is still the
    // one that is (the data dir's), not the --cacert.
    let other = Ca::new("Unrelated CA");
    let other_file = cp.dir.path().join("unrelated-ca.pem");
    std::fs::write(&other_file, &other.pem).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_streamgate"))
        .arg("--data-dir")
        .arg(cp.dir.path())
        .args([
            "node",
            "add",
            "edge-2",
            "--admin-url",
            &cp.url(),
            "--cacert",
        ])
        .arg(&other_file)
        .env_remove("STREAMGATE_ADMIN_TOKEN")
        .output()
        .await
        .unwrap();
    let second = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{second}");
    assert!(
        second.contains(&format!("CERT: {}", generated.display())),
        "{second}"
    );

    // The token it printed, with the certificate it named, starts a node that follows.
    let token = text.lines().nth(1).unwrap().trim().to_string();
    assert!(token.starts_with("sgn_"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("edge.token");
    std::fs::write(&token_file, &token).unwrap();
    let node = Node::spawn_with(
        &cp.url(),
        &token_file,
        &dir.path().join("edge"),
        &["--control-plane-cacert", generated.to_str().unwrap()],
    );
    let health = node.health().await;
    assert_eq!(health["controlPlane"]["url"], cp.url(), "{health}");
    assert!(
        health["controlPlane"]["appliedVersion"].is_number(),
        "{health}"
    );
}
