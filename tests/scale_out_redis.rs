//! Scale-out with shared quotas (issue 17, tests 1, 4 and 6) on real processes: one control
//! plane (the real launcher in this process, with `--redis`), a real `redis-server` and
//! three `streamgate gateway --redis URL` child processes on loopback.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use streamgate::catalog::now_millis;
use streamgate::control::{Control, ControlOptions};
use streamgate::gateway::GatewayOptions;
use streamgate::launch::{self, Running, ServeConfig};
use streamgate::sse::Item;
use streamgate::telemetry::Telemetry;
use streamgate::tls::server::ListenerOptions;
use tempfile::TempDir;

/// A `streamgate gateway --redis URL` child process; killed on drop.
struct Node {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Node {
    fn spawn(control_plane: &str, token_file: &Path, data_dir: &Path, redis: &str) -> Node {
        let (child, stderr, rx) = spawn_captured(
            Command::new(env!("CARGO_BIN_EXE_streamgate"))
                .args(["gateway", "--control-plane", control_plane, "--node-token"])
                .arg(token_file)
                .args(["--gateway-addr", "127.0.0.1:0", "--heartbeat-secs", "30"])
                .args(["--redis", redis, "--quota-store-down", "fail"])
                .arg("--data-dir")
                .arg(data_dir)
                .env("RUST_LOG", "info"),
        );
        let addr = listening_addr(&rx, &stderr, "gateway listening on http://")
            .parse()
            .unwrap();
        Node {
            child,
            addr,
            stderr,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    async fn health(&self) -> serde_json::Value {
        send_json(client().get(self.url("/health"))).await
    }

    async fn metrics(&self) -> String {
        let resp = client().get(self.url("/metrics")).send().await.unwrap();
        resp.text().await.unwrap()
    }

    /// Waits until the node's `/metrics` says the quota store is up (or down).
    async fn store_up(&self, up: bool) {
        let want = format!("streamgate_quota_store_up {}", u8::from(up));
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let metrics = self.metrics().await;
            if metrics.contains(&want) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no `{want}`:\n{metrics}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Still running, and never panicked.
    fn assert_alive(&mut self) {
        let exited = self.child.try_wait().unwrap();
        let log = self.log();
        assert!(exited.is_none(), "the node exited: {exited:?}\n{log}");
        assert!(!log.contains("panicked"), "{log}");
    }

    /// SIGKILL.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Control plane with `--redis`, a plan of 3,000 events a minute, one subscription on a
/// scripted backend, and three nodes that have applied the feed.
struct Cluster {
    redis: RedisServer,
    control: Control,
    _running: Running,
    nodes: Vec<Node>,
    backend: Backend,
    sub: Subscriber,
    _dir: TempDir,
}

const QUOTA: usize = 3_000;

impl Cluster {
    async fn start(every: Duration, batch: usize, wait_for: usize) -> Cluster {
        let redis = RedisServer::start();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp");
        let control = tokio::task::spawn_blocking(move || Control::open(ControlOptions::new(path)))
            .await
            .unwrap()
            .unwrap();
        let running = launch::start(
            control.clone(),
            Telemetry::new(),
            ServeConfig {
                admin_addr: "127.0.0.1:0".parse().unwrap(),
                gateway_addr: "127.0.0.1:0".parse().unwrap(),
                gateway: GatewayOptions {
                    redis: Some(redis.url()),
                    ..test_options()
                },
                tls: ListenerOptions::default(),
            },
        )
        .await;
        let admin = running.admin.clone().expect("the management API starts");
        plan_per_minute(&control, "Shared", QUOTA as u64).await;
        let backend = Backend::start(Script::Events {
            line_end: "\n",
            every,
            count: None,
            batch,
            wait_for,
        })
        .await;
        let api = published_api(&control, "Fleet", Some(&backend.url()), None, &["Shared"]).await;
        let sub = subscriber(&control, "FleetApp", "Unlimited", &api, Some("Shared")).await;
        let mut nodes = Vec::new();
        for i in 0..3 {
            let name = format!("node-{i}");
            let issued = control.add_node(&name).await.unwrap();
            let token = dir.path().join(format!("{name}.token"));
            std::fs::write(&token, format!("{}\n", issued.token)).unwrap();
            {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
            let data = dir.path().join(&name);
            nodes.push(Node::spawn(
                &format!("http://{admin}"),
                &token,
                &data,
                &redis.url(),
            ));
        }
        let c = Cluster {
            redis,
            control,
            _running: running,
            nodes,
            backend,
            sub,
            _dir: dir,
        };
        c.synced().await;
        c
    }

    /// Waits until every node has applied the control plane's current feed version.
    async fn synced(&self) {
        let version = self.control.feed_position().version;
        for node in &self.nodes {
            let mut applied = serde_json::Value::Null;
            for _ in 0..250 {
                applied = node.health().await["controlPlane"]["appliedVersion"].clone();
                if applied == version {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(applied, version, "{}", node.log());
        }
    }

    fn url(&self, node: usize) -> String {
        self.nodes[node].url(&memory_path("Fleet"))
    }

    /// Opens a stream on `node` (200 expected).
    async fn open(&self, node: usize, last_event_id: Option<&str>) -> SseReader {
        let mut req = client()
            .get(self.url(node))
            .bearer_auth(&self.sub.production);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let resp = req.send().await.unwrap();
        if resp.status() != 200 {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            panic!("node {node}: {status} {body}\n{}", self.nodes[node].log());
        }
        SseReader::new(resp)
    }

    async fn status(&self, node: usize) -> u16 {
        get(&self.url(node), Some(&self.sub.production))
            .await
            .status()
            .as_u16()
    }

    /// Events leased for the subscription in the current window, as Redis holds it.
    fn leased(&self) -> Option<u64> {
        let key = format!(
            "sg:quota:{}:60000:{}",
            self.sub.subscription_id.as_ref().unwrap(),
            now_millis() / 60_000
        );
        self.redis
            .command(&["INCRBY", &key, "0"])?
            .strip_prefix(':')?
            .parse()
            .ok()
    }
}

/// Waits, if needed, so the test runs well inside one wall-clock minute (windows of the
/// shared store are aligned on the minute).
async fn fresh_minute(needed: Duration) {
    let into = now_millis() % 60_000;
    let needed = i64::try_from(needed.as_millis()).unwrap();
    if into + needed > 60_000 {
        tokio::time::sleep(Duration::from_millis(
            u64::try_from(60_000 - into + 50).unwrap(),
        ))
        .await;
    }
}

/// Events read to the end of a stream, and its last comment.
async fn drain(reader: &mut SseReader) -> (usize, String) {
    let items = reader.rest().await;
    let (events, _) = split(&items);
    let last = match items.last() {
        Some(Item::Comment(c)) => c.clone(),
        other => format!("{other:?}"),
    };
    (events.len(), last)
}

async fn drain_all(readers: &mut [SseReader]) -> Vec<(usize, String)> {
    futures_util::future::join_all(readers.iter_mut().map(drain)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_deliver_exactly_the_quota_then_all_answer_429() {
    if !redis_available() {
        return;
    }
    fresh_minute(Duration::from_secs(25)).await;
    let mut c = Cluster::start(Duration::from_millis(1), 10, 6).await;
    // Two streams per node, reading as fast as they can; the backend starts once all six
    // are connected, so no stream takes the whole quota into socket buffers alone.
    let mut readers = Vec::new();
    for node in [0, 0, 1, 1, 2, 2] {
        readers.push(c.open(node, None).await);
    }
    let results = drain_all(&mut readers).await;
    let total: usize = results.iter().map(|(n, _)| n).sum();
    assert_eq!(total, QUOTA, "{results:?}");
    for (node, (n, why)) in results.iter().enumerate() {
        assert!(*n > 0, "stream {node} got nothing: {results:?}");
        assert!(why.starts_with("quota exhausted: plan Shared"), "{why}");
    }
    for node in 0..3 {
        assert_eq!(c.status(node).await, 429, "node {node}");
    }
    assert_eq!(c.leased(), Some(QUOTA as u64));
    for node in &mut c.nodes {
        node.assert_alive();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_nodes_client_reconnects_elsewhere_with_last_event_id_and_the_total_stays_within_the_quota()
 {
    if !redis_available() {
        return;
    }
    fresh_minute(Duration::from_secs(25)).await;
    // 200 events a second per stream: three streams need about five seconds.
    let mut c = Cluster::start(Duration::from_millis(5), 1, 0).await;
    let mut doomed = c.open(0, None).await;
    let mut survivors = vec![c.open(1, None).await, c.open(2, None).await];
    let mut doomed_events = 0;
    let mut last_id = String::new();
    while doomed_events < 200 {
        let event = doomed.next_event().await.expect("the stream goes on");
        doomed_events += 1;
        last_id = event.id.clone().expect("events carry ids");
    }
    let survivors = tokio::spawn(async move { drain_all(&mut survivors).await });
    c.nodes[0].kill();
    // What the client of the dead node got before the cut.
    for item in doomed.rest().await {
        if let Item::Event(e) = item {
            doomed_events += 1;
            last_id = e.id.unwrap();
        }
    }
    // It reconnects to another node with Last-Event-ID and goes on.
    let requests_before = c.backend.requests.lock().unwrap().len();
    let mut again = c.open(1, Some(&last_id)).await;
    let (again_events, again_why) = drain(&mut again).await;
    let forwarded = c.backend.requests.lock().unwrap()[requests_before..]
        .iter()
        .any(|head| {
            head.to_ascii_lowercase()
                .contains(&format!("last-event-id: {last_id}"))
        });
    assert!(forwarded, "Last-Event-ID {last_id} not passed on");
    let survivors = survivors.await.unwrap();
    let total = doomed_events + again_events + survivors.iter().map(|(n, _)| n).sum::<usize>();
    assert!(
        total <= QUOTA,
        "{total} delivered for a quota of {QUOTA}: {doomed_events} + {again_events} + {survivors:?}"
    );
    assert!(
        again_events > 0,
        "the reconnected client got nothing: {again_why}"
    );
    // Only the dead node's unreturned lease is missing.
    assert!(total >= 1_000, "{total}");
    for (_, why) in survivors.iter().chain([&(again_events, again_why)]) {
        assert!(why.starts_with("quota exhausted"), "{why}");
    }
    for node in 1..3 {
        assert_eq!(c.status(node).await, 429, "node {node}");
        c.nodes[node].assert_alive();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_frozen_then_restarted_mid_stream_no_panic_no_overshoot() {
    if !redis_available() {
        return;
    }
    fresh_minute(Duration::from_secs(40)).await;
    let mut c = Cluster::start(Duration::from_millis(5), 1, 0).await;
    let mut readers = Vec::new();
    for node in 0..3 {
        readers.push(c.open(node, None).await);
    }
    for r in &mut readers {
        for _ in 0..50 {
            r.next_event().await.expect("the stream goes on");
        }
    }
    // Frozen: the leases run out and every stream ends saying why.
    c.redis.pause();
    let mut delivered = 150;
    for (n, why) in drain_all(&mut readers).await {
        delivered += n;
        assert_eq!(why, "quota store unavailable");
    }
    for node in 0..3 {
        c.nodes[node].store_up(false).await;
        let health = c.nodes[node].health().await;
        assert_eq!(health["quotaStore"]["status"], "DOWN", "{health}");
        assert!(health["quotaStore"]["downSince"].is_string(), "{health}");
        let resp = get(&c.url(node), Some(&c.sub.production)).await;
        assert_error(resp, 503, 900810).await;
        c.nodes[node].assert_alive();
    }
    c.redis.resume();
    // Back: streams open again and the total stays exact.
    for node in &c.nodes {
        node.store_up(true).await;
        let health = node.health().await;
        assert_eq!(health["quotaStore"], serde_json::json!({"status": "UP"}));
    }
    let mut readers = Vec::new();
    for node in 0..3 {
        readers.push(c.open(node, None).await);
    }
    let results = drain_all(&mut readers).await;
    delivered += results.iter().map(|(n, _)| n).sum::<usize>();
    // Exactly: the lease calls that timed out while Redis was frozen were settled.
    assert_eq!(delivered, QUOTA, "{results:?}");
    for (_, why) in &results {
        assert!(why.starts_with("quota exhausted"), "{why}");
    }
    assert_eq!(c.leased(), Some(QUOTA as u64));

    // Stopped (its data gone) and started again: an idle node finds out on its next
    // metered connect, refused meanwhile; then new streams work.
    c.redis.down();
    for node in 0..3 {
        let resp = get(&c.url(node), Some(&c.sub.production)).await;
        assert_error(resp, 503, 900810).await;
        c.nodes[node].store_up(false).await;
    }
    c.redis.up();
    for node in 0..3 {
        c.nodes[node].store_up(true).await;
        let mut reader = c.open(node, None).await;
        for _ in 0..20 {
            reader.next_event().await.expect("the stream goes on");
        }
        c.nodes[node].assert_alive();
    }
}
