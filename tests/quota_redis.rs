//! Shared quotas across gateway nodes through a real Redis (`--redis`): several gateways
//! over one control plane, each in its own runtime (so one can be killed with everything
//! it runs), with their own meters and Redis connections, on their own ports.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use streamgate::catalog::now_millis;
use streamgate::gateway::{Gateway, GatewayOptions, QuotaStoreDown};
use streamgate::sse::Item;
use streamgate::telemetry::Telemetry;

/// A gateway node: its own runtime, gateway, meter and Redis connection.
struct Node {
    runtime: Option<tokio::runtime::Runtime>,
    addr: SocketAddr,
    telemetry: Telemetry,
    /// Stops the gateway as a SIGTERM does.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
}

impl Node {
    fn start(env: &TestServer, redis: &RedisServer, down: QuotaStoreDown) -> Node {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let telemetry = Telemetry::new();
        let options = GatewayOptions {
            redis: Some(redis.url()),
            quota_store_down: down,
            ..test_options()
        };
        let gateway = Gateway::new(env.control().clone(), telemetry.clone(), options).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let _ = gateway
                .serve(listener, async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Node {
            runtime: Some(runtime),
            addr,
            telemetry,
            stop: Some(stop),
            served: Some(served),
        }
    }

    /// Stops the gateway gracefully (as on SIGTERM) and waits until it has stopped.
    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            served.await.unwrap();
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Kills the node with everything it runs: its unreturned lease is lost.
    fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    fn store_up(&self) -> Option<bool> {
        self.telemetry.metrics().quota_store.up()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
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

struct Setup {
    env: TestServer,
    redis: RedisServer,
    backend: Backend,
    sub: Subscriber,
    path: String,
}

async fn setup(plan: u64, every: Duration, batch: usize) -> Setup {
    setup_with(plan, every, batch, None).await
}

/// [`setup`] with a backend that ends its stream after `count` events (`None`: never).
async fn setup_with(plan: u64, every: Duration, batch: usize, count: Option<usize>) -> Setup {
    let redis = RedisServer::start();
    let env = TestServer::start().await;
    plan_per_minute(env.control(), "Shared", plan).await;
    let backend = Backend::start(Script::Events {
        line_end: "\n",
        every,
        count,
        batch,
        wait_for: 0,
    })
    .await;
    let api = published_api(
        env.control(),
        "Shared",
        Some(&backend.url()),
        None,
        &["Shared"],
    )
    .await;
    let sub = subscriber(env.control(), "App", "Unlimited", &api, Some("Shared")).await;
    Setup {
        env,
        redis,
        backend,
        sub,
        path: "/shared/1.0.0/memory".to_string(),
    }
}

fn events_and_last_comment(items: &[Item]) -> (usize, String) {
    let (events, _) = split(items);
    let last = match items.last() {
        Some(Item::Comment(c)) => c.clone(),
        other => format!("{other:?}"),
    };
    (events.len(), last)
}

async fn read_all(urls: Vec<String>, token: String) -> Vec<(usize, String)> {
    let mut readers = Vec::new();
    for url in urls {
        let resp = get(&url, Some(&token)).await;
        assert_eq!(resp.status(), 200, "{url}");
        readers.push(SseReader::new(resp));
    }
    let results = futures_util::future::join_all(readers.iter_mut().map(|r| r.rest())).await;
    results.iter().map(|i| events_and_last_comment(i)).collect()
}

#[tokio::test]
async fn three_nodes_deliver_exactly_the_quota_then_all_answer_429() {
    if !redis_available() {
        return;
    }
    fresh_minute(Duration::from_secs(30)).await;
    let s = setup(3_000, Duration::from_millis(1), 10).await;
    let nodes: Vec<Node> = (0..3)
        .map(|_| Node::start(&s.env, &s.redis, QuotaStoreDown::Fail))
        .collect();
    // Two streams per node, reading as fast as they can.
    let urls = nodes
        .iter()
        .flat_map(|n| [n.url(&s.path), n.url(&s.path)])
        .collect();
    let results = read_all(urls, s.sub.production.clone()).await;
    let total: usize = results.iter().map(|(n, _)| n).sum();
    assert_eq!(total, 3_000, "{results:?}");
    for (_, why) in &results {
        assert!(why.starts_with("quota exhausted: plan Shared"), "{why}");
    }
    for node in &nodes {
        let resp = get(&node.url(&s.path), Some(&s.sub.production)).await;
        assert_eq!(resp.status(), 429);
        assert_eq!(
            resp.text().await.unwrap(),
            streamgate::gateway::THROTTLED_BODY
        );
    }
    // Far fewer store calls than events: leases, not a call per event.
    let ops: u64 = nodes
        .iter()
        .map(|n| {
            n.telemetry
                .metrics()
                .quota_store
                .operations
                .load(std::sync::atomic::Ordering::Relaxed)
        })
        .sum();
    assert!(ops > 0 && ops < 300, "{ops} store calls for 3,000 events");
    let metrics = nodes[0].telemetry.metrics().render_prometheus();
    assert!(metrics.contains("streamgate_quota_store_up 1"), "{metrics}");
    assert!(metrics.contains("streamgate_quota_store_operations_total"));
}

#[tokio::test]
async fn a_killed_node_loses_only_its_lease_and_the_total_never_exceeds_the_quota() {
    if !redis_available() {
        return;
    }
    fresh_minute(Duration::from_secs(30)).await;
    let s = setup(3_000, Duration::from_millis(2), 5).await;
    let mut nodes: Vec<Node> = (0..3)
        .map(|_| Node::start(&s.env, &s.redis, QuotaStoreDown::Fail))
        .collect();
    // A stream on the node that dies, read until it is cut off.
    let resp = get(&nodes[0].url(&s.path), Some(&s.sub.production)).await;
    assert_eq!(resp.status(), 200);
    let mut doomed = SseReader::new(resp);
    let mut doomed_events = 0;
    while doomed_events < 200 {
        if let Some(Item::Event(_)) = doomed.next().await {
            doomed_events += 1;
        }
    }
    let survivors = tokio::spawn(read_all(
        vec![nodes[1].url(&s.path), nodes[2].url(&s.path)],
        s.sub.production.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    nodes[0].kill();
    // What the client of the dead node got before the cut.
    let rest = doomed.rest().await;
    doomed_events += split(&rest).0.len();
    // It reconnects to another node and goes on.
    let again = read_all(vec![nodes[1].url(&s.path)], s.sub.production.clone());
    let (again, survivors) = tokio::join!(again, survivors);
    let survivors = survivors.unwrap();
    let total = doomed_events
        + survivors.iter().map(|(n, _)| n).sum::<usize>()
        + again.iter().map(|(n, _)| n).sum::<usize>();
    assert!(total <= 3_000, "{total} delivered for a quota of 3,000");
    // Only the dead node's unreturned lease is missing (at most a few blocks).
    assert!(total >= 1_000, "{total}");
    for (_, why) in survivors.iter().chain(&again) {
        assert!(why.starts_with("quota exhausted"), "{why}");
    }
    let resp = get(&nodes[2].url(&s.path), Some(&s.sub.production)).await;
    assert_eq!(resp.status(), 429);
}

#[tokio::test]
async fn with_redis_down_streams_end_after_their_leases_and_connects_get_503() {
    if !redis_available() {
        return;
    }
    fresh_minute(Duration::from_secs(40)).await;
    let s = setup(3_000, Duration::from_millis(5), 1).await;
    let nodes: Vec<Node> = (0..2)
        .map(|_| Node::start(&s.env, &s.redis, QuotaStoreDown::Fail))
        .collect();
    let mut readers = Vec::new();
    for node in &nodes {
        let resp = get(&node.url(&s.path), Some(&s.sub.production)).await;
        assert_eq!(resp.status(), 200);
        readers.push(SseReader::new(resp));
    }
    for r in &mut readers {
        for _ in 0..50 {
            r.next_event().await.unwrap();
        }
    }
    s.redis.pause();
    let mut delivered = 100;
    for r in &mut readers {
        let (n, why) = events_and_last_comment(&r.rest().await);
        delivered += n;
        assert_eq!(why, "quota store unavailable");
    }
    for node in &nodes {
        assert_eq!(node.store_up(), Some(false));
        let resp = get(&node.url(&s.path), Some(&s.sub.production)).await;
        assert_eq!(resp.status(), 503);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["code"], 900810, "{body}");
        assert_eq!(body["message"], "Quota store unavailable");
    }
    let health = client()
        .get(format!("{}/health", s.env.mgmt_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    s.redis.resume();
    // Back within the probe's backoff: streams open again and the total stays exact.
    assert!(eventually(|| nodes.iter().all(|n| n.store_up() == Some(true))).await);
    let urls = nodes.iter().map(|n| n.url(&s.path)).collect();
    let results = read_all(urls, s.sub.production.clone()).await;
    delivered += results.iter().map(|(n, _)| n).sum::<usize>();
    // Exactly the quota: the lease calls that timed out while Redis was frozen (and ran
    // when it thawed) were sent again and settled, not lost (2,411 of 3,000 before).
    assert_eq!(delivered, 3_000, "delivered");
    for (_, why) in &results {
        assert!(why.starts_with("quota exhausted"), "{why}");
    }
    // Everything was leased, nothing beyond the quota.
    assert_eq!(get_value(&s.redis, &redis_key(&s.sub)), Some(3_000));
    let _ = &s.backend;
}

fn redis_key(sub: &Subscriber) -> String {
    format!(
        "sg:quota:{}:60000:{}",
        sub.subscription_id.as_ref().unwrap(),
        now_millis() / 60_000
    )
}

#[tokio::test]
async fn in_local_mode_nodes_go_on_without_redis_and_charge_it_when_it_returns() {
    if !redis_available() {
        return;
    }
    fresh_minute(Duration::from_secs(40)).await;
    let mut s = setup(100_000, Duration::from_millis(5), 1).await;
    let node = Node::start(&s.env, &s.redis, QuotaStoreDown::Local);
    let resp = get(&node.url(&s.path), Some(&s.sub.production)).await;
    assert_eq!(resp.status(), 200);
    let mut reader = SseReader::new(resp);
    for _ in 0..20 {
        reader.next_event().await.unwrap();
    }
    s.redis.down();
    // Well past the lease it held, the stream goes on, counted locally.
    for _ in 0..600 {
        reader.next_event().await.unwrap();
    }
    assert_eq!(node.store_up(), Some(false));
    // New connections are admitted too.
    let resp = get(&node.url(&s.path), Some(&s.sub.production)).await;
    assert_eq!(resp.status(), 200);
    drop(resp);
    s.redis.up();
    assert!(eventually(|| node.store_up() == Some(true)).await);
    // The next lease charges what was counted locally to the fresh store.
    let key = redis_key(&s.sub);
    let mut charged = 0;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while charged < 600 && tokio::time::Instant::now() < deadline {
        reader.next_event().await.unwrap();
        charged = get_value(&s.redis, &key).unwrap_or(0);
    }
    assert!(
        charged >= 600,
        "{charged} charged after the store came back"
    );
}

fn get_value(redis: &RedisServer, key: &str) -> Option<u64> {
    // `INCRBY key 0` answers the number on its first line (`:n`).
    redis
        .command(&["INCRBY", key, "0"])?
        .strip_prefix(':')?
        .parse()
        .ok()
}

/// Redis, the servers, and application `Rated`'s subscription to an API of one-event
/// streams, under a 5-connections-a-minute policy.
async fn rated_setup() -> (RedisServer, TestServer, Backend, Subscriber) {
    let redis = RedisServer::start();
    let env = TestServer::start().await;
    app_policy_per_minute(env.control(), "FivePerMin", 5).await;
    let backend = Backend::start(events("\n", Duration::from_millis(50), Some(1))).await;
    let api = published_api(
        env.control(),
        "Rated",
        Some(&backend.url()),
        None,
        &["AsyncUnlimited"],
    )
    .await;
    let sub = subscriber(
        env.control(),
        "Rated",
        "FivePerMin",
        &api,
        Some("AsyncUnlimited"),
    )
    .await;
    (redis, env, backend, sub)
}

#[tokio::test]
async fn connection_rate_policies_are_exact_across_nodes() {
    if !redis_available() {
        return;
    }
    let (redis, env, _backend, sub) = rated_setup().await;
    let nodes: Vec<Node> = (0..3)
        .map(|_| Node::start(&env, &redis, QuotaStoreDown::Fail))
        .collect();
    let mut statuses = Vec::new();
    for i in 0..9 {
        let resp = get(
            &nodes[i % 3].url("/rated/1.0.0/memory"),
            Some(&sub.production),
        )
        .await;
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 {
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(body["code"], 900803);
        }
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429, 429]);
}

/// A gateway served on worker threads (`--gateway-workers`) keeps one connection to the
/// store that outlives them: a reconnection made for a worker's stream (Redis restarted)
/// does not die with that worker's runtime, so the gateway served again calls the store
/// without a failure.
#[tokio::test]
async fn the_store_connection_outlives_the_gateway_workers() {
    if !redis_available() {
        return;
    }
    fresh_minute(Duration::from_secs(30)).await;
    let mut s = setup(1_000_000, Duration::from_millis(2), 1).await;
    let telemetry = Telemetry::new();
    let options = GatewayOptions {
        redis: Some(s.redis.url()),
        quota_store_down: QuotaStoreDown::Local,
        workers: 2,
        ..test_options()
    };
    let gateway = Gateway::new(s.env.control().clone(), telemetry.clone(), options).unwrap();
    let status = &telemetry.metrics().quota_store;
    let failures = || status.failures.load(std::sync::atomic::Ordering::Relaxed);
    let serve = |gateway: Gateway| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(gateway.serve(listener, async move {
            let _ = stopped.await;
        }));
        (format!("http://{addr}"), stop, served)
    };

    let (url, stop, served) = serve(gateway.clone()).await;
    let resp = get(&format!("{url}{}", s.path), Some(&s.sub.production)).await;
    assert_eq!(resp.status(), 200);
    let mut reader = SseReader::new(resp);
    for _ in 0..20 {
        reader.next_event().await.unwrap();
    }
    // Redis restarts: the worker's stream runs out of its lease, the call fails and the
    // store reconnects for it.
    s.redis.down();
    s.redis.up();
    let before = failures();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while failures() == before || status.up() != Some(true) {
        assert!(tokio::time::Instant::now() < deadline, "no reconnection");
        reader.next_event().await.unwrap();
    }
    for _ in 0..500 {
        reader.next_event().await.unwrap();
    }
    drop(reader);
    stop.send(()).unwrap();
    served.await.unwrap().unwrap();

    // Served again, on new workers: the store answers at once.
    let before = failures();
    let (url, stop, served) = serve(gateway).await;
    let resp = get(&format!("{url}{}", s.path), Some(&s.sub.production)).await;
    assert_eq!(resp.status(), 200);
    let mut reader = SseReader::new(resp);
    for _ in 0..500 {
        reader.next_event().await.unwrap();
    }
    assert_eq!(
        failures(),
        before,
        "a store call failed after the workers changed"
    );
    assert_eq!(status.up(), Some(true));
    drop(reader);
    stop.send(()).unwrap();
    served.await.unwrap().unwrap();
    let _ = &s.backend;
}

/// The probe notices Redis' return within about a second, however long the calls' backoff
/// has grown while it was down (5 s at most): it probes once a second, backoff or not.
#[tokio::test]
async fn the_store_is_seen_back_soon_after_a_long_outage() {
    if !redis_available() {
        return;
    }
    let mut s = setup(1_000_000, Duration::from_millis(5), 1).await;
    let node = Node::start(&s.env, &s.redis, QuotaStoreDown::Fail);
    let resp = get(&node.url(&s.path), Some(&s.sub.production)).await;
    assert_eq!(resp.status(), 200);
    drop(resp);
    assert_eq!(node.store_up(), Some(true));
    // The stream ended and its lease went back: the next connection needs the store.
    let metrics = node.telemetry.metrics();
    assert!(
        eventually(|| metrics
            .open_streams
            .load(std::sync::atomic::Ordering::Relaxed)
            == 0)
        .await
    );
    assert!(
        eventually(|| get_value(&s.redis, &redis_key(&s.sub)).is_some_and(|used| used < 100)).await
    );
    s.redis.down();
    // A metered connection needs the store: refused, and the store is seen down.
    let resp = get(&node.url(&s.path), Some(&s.sub.production)).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(node.store_up(), Some(false));
    // Down long enough for the backoff to reach its 5 s cap.
    tokio::time::sleep(Duration::from_secs(8)).await;
    s.redis.up();
    let back = tokio::time::Instant::now();
    assert!(
        eventually_within(Duration::from_millis(2_500), || node.store_up()
            == Some(true))
        .await,
        "the store was not seen back within 2.5 s"
    );
    eprintln!("seen back after {:?}", back.elapsed());
    let resp = get(&node.url(&s.path), Some(&s.sub.production)).await;
    assert_eq!(resp.status(), 200);
    let _ = &s.backend;
}

#[tokio::test]
async fn the_store_is_seen_gone_within_seconds_while_nothing_calls_it() {
    if !redis_available() {
        return;
    }
    let s = setup(1_000_000, Duration::from_millis(5), 1).await;
    let node = Node::start(&s.env, &s.redis, QuotaStoreDown::Fail);
    let resp = get(&node.url(&s.path), Some(&s.sub.production)).await;
    assert_eq!(resp.status(), 200);
    drop(resp);
    assert_eq!(node.store_up(), Some(true));
    // The closed stream's lease is given back; then nothing calls the store, and no
    // connection comes after this: only the gateway's own probe can notice.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let mut redis = s.redis;
    redis.down();
    let gone = tokio::time::Instant::now();
    assert!(
        eventually_within(Duration::from_millis(2_500), || node.store_up()
            == Some(false))
        .await,
        "the store was not seen gone within 2.5 s"
    );
    eprintln!("seen gone after {:?}", gone.elapsed());
    redis.up();
    assert!(
        eventually_within(Duration::from_millis(2_500), || node.store_up()
            == Some(true))
        .await,
        "the store was not seen back within 2.5 s"
    );
    let _ = &s.backend;
}

/// One node and a stream of 30 events at 10 a second (from the window's first block of
/// 100), read for 5 events.
async fn thirty_events_started() -> (Setup, Node, SseReader) {
    fresh_minute(Duration::from_secs(30)).await;
    let s = setup_with(1_000, Duration::from_millis(100), 1, Some(30)).await;
    let node = Node::start(&s.env, &s.redis, QuotaStoreDown::Fail);
    let resp = get(&node.url(&s.path), Some(&s.sub.production)).await;
    assert_eq!(resp.status(), 200);
    let mut reader = SseReader::new(resp);
    for _ in 0..5 {
        reader.next_event().await.unwrap();
    }
    (s, node, reader)
}

#[tokio::test]
async fn a_lease_given_back_while_redis_is_frozen_is_given_back_when_it_thaws() {
    if !redis_available() {
        return;
    }
    let (s, _node, mut reader) = thirty_events_started().await;
    assert_eq!(get_value(&s.redis, &redis_key(&s.sub)), Some(100));
    s.redis.pause();
    // The backend ends the stream after its 30 events; the unused 70 cannot be given back.
    let (rest, _) = events_and_last_comment(&reader.rest().await);
    assert_eq!(rest + 5, 30);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    s.redis.resume();
    assert!(
        eventually_within(Duration::from_secs(5), || get_value(
            &s.redis,
            &redis_key(&s.sub)
        ) == Some(30))
        .await,
        "the window holds {:?}, not the 30 delivered",
        get_value(&s.redis, &redis_key(&s.sub))
    );
    let _ = &s.backend;
}

#[tokio::test]
async fn connection_attempts_refused_while_redis_is_frozen_do_not_count() {
    if !redis_available() {
        return;
    }
    let (redis, env, _backend, sub) = rated_setup().await;
    let node = Node::start(&env, &redis, QuotaStoreDown::Fail);
    let url = node.url("/rated/1.0.0/memory");
    let mut statuses = Vec::new();
    for _ in 0..2 {
        statuses.push(get(&url, Some(&sub.production)).await.status().as_u16());
    }
    // Frozen: the attempt's counting call times out (503) and runs when Redis thaws.
    redis.pause();
    statuses.push(get(&url, Some(&sub.production)).await.status().as_u16());
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    redis.resume();
    assert!(eventually(|| node.store_up() == Some(true)).await);
    for _ in 0..4 {
        statuses.push(get(&url, Some(&sub.production)).await.status().as_u16());
    }
    // 5 a minute: the refused attempt took none of them.
    assert_eq!(statuses, [200, 200, 503, 200, 200, 200, 429]);
}

#[tokio::test]
async fn a_gateway_stopped_just_after_redis_returns_gives_its_lease_back() {
    if !redis_available() {
        return;
    }
    let (s, mut node, mut reader) = thirty_events_started().await;
    // Redis goes away with its data saved: the lease's give-back at the stream's end
    // fails.
    let mut redis = s.redis;
    redis.down_saving();
    let (rest, _) = events_and_last_comment(&reader.rest().await);
    assert_eq!(rest + 5, 30);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    // Redis returns with the window's 100 leased, and the gateway stops at once (before
    // its once-a-second probe settles the lease).
    redis.up();
    assert_eq!(get_value(&redis, &redis_key(&s.sub)), Some(100));
    node.stop().await;
    // The process exits: nothing of the node runs on.
    node.kill();
    assert_eq!(get_value(&redis, &redis_key(&s.sub)), Some(30));
    let _ = &s.backend;
}
