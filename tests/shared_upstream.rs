//! Shared upstream (issue 16): an API whose backend stream mode is `shared` has one backend
//! stream per revision, resource and query, fanned out to every subscriber, each admitted,
//! metered and closed on its own, with `Last-Event-ID` replay, slow-subscriber eviction,
//! backend reconnection with resume and a linger before the backend stream closes.
//!
//! The backend is a real TCP server the test drives ([`Feed`]): it counts connections,
//! records each request head and writes what the test tells it, when it tells it.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::json;
use streamgate::catalog::{Api, ApiDraft, BackendStream};
use streamgate::control::Control;
use streamgate::gateway::{GatewayOptions, SharedOptions};
use streamgate::sse::Item;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast;

/// What the test tells the backend's connections.
#[derive(Clone, Debug)]
enum Cmd {
    /// Write these bytes.
    Send(Arc<String>),
    /// Close every connection.
    Drop,
}

/// A backend the test drives: every connection gets `SSE_OK`, then what the test sends.
struct Feed {
    backend: RawBackend,
    tx: broadcast::Sender<Cmd>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Feed {
    async fn start() -> Feed {
        let (tx, _) = broadcast::channel::<Cmd>(8192);
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (t, h) = (tx.clone(), heads.clone());
        let backend = RawBackend::start(move |socket, _| {
            let (t, h) = (t.clone(), h.clone());
            async move {
                let (mut rd, mut wr) = socket.into_split();
                let Some(head) = read_head(&mut rd).await else {
                    return;
                };
                // Subscribed before the head is recorded, so nothing sent after the test
                // saw the connection is missed.
                let mut rx = t.subscribe();
                h.lock().unwrap().push(head);
                if wr.write_all(SSE_OK.as_bytes()).await.is_err() {
                    return;
                }
                let mut buf = [0u8; 256];
                loop {
                    tokio::select! {
                        cmd = rx.recv() => match cmd {
                            Ok(Cmd::Send(bytes)) => {
                                if wr.write_all(bytes.as_bytes()).await.is_err() {
                                    return;
                                }
                            }
                            Ok(Cmd::Drop) | Err(_) => return,
                        },
                        n = rd.read(&mut buf) => {
                            if matches!(n, Ok(0) | Err(_)) {
                                return;
                            }
                        }
                    }
                }
            }
        })
        .await;
        Feed { backend, tx, heads }
    }

    fn send(&self, text: String) {
        self.tx.send(Cmd::Send(Arc::new(text))).unwrap();
    }

    /// Events `id: n` / `data: n` for each n in `ids`, in one write.
    fn events(&self, ids: std::ops::RangeInclusive<u64>) {
        let text: String = ids.map(|n| format!("id: {n}\ndata: {n}\n\n")).collect();
        self.send(text);
    }

    fn connections(&self) -> usize {
        self.backend.accepted()
    }

    /// Connections whose script returned (the gateway or the test closed them).
    fn closed(&self) -> usize {
        self.backend.finished()
    }

    async fn wait_connections(&self, n: usize) {
        assert!(
            eventually(|| self.heads.lock().unwrap().len() >= n).await,
            "the backend sees {n} connection(s), saw {}",
            self.heads.lock().unwrap().len()
        );
    }
}

fn options(shared: SharedOptions) -> GatewayOptions {
    GatewayOptions {
        shared,
        ..test_options()
    }
}

fn quick_linger() -> SharedOptions {
    SharedOptions {
        linger: Duration::from_millis(400),
        ..SharedOptions::default()
    }
}

/// A published API in shared mode on `endpoint`, offering `plans` (default AsyncUnlimited).
async fn shared_api(control: &Control, name: &str, endpoint: String, plans: &[&str]) -> Api {
    let api = control
        .create_api(ApiDraft {
            policies: plans.iter().map(|p| p.to_string()).collect(),
            ..sse_draft(name, endpoint)
        })
        .await
        .unwrap();
    control
        .set_api_backend_stream(&api.id, BackendStream::Shared)
        .await
        .unwrap();
    deploy_and_publish(control, &api.id).await
}

async fn open(url: &str, token: &str, last_event_id: Option<&str>) -> SseReader {
    let mut req = client().get(url).bearer_auth(token);
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    SseReader::new(resp)
}

/// The ids of the next `n` events (comments skipped).
async fn ids(reader: &mut SseReader, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let event = reader.next_event().await.expect("an event");
        out.push(event.id.unwrap_or_default());
    }
    out
}

fn range(ids: std::ops::RangeInclusive<u64>) -> Vec<String> {
    ids.map(|n| n.to_string()).collect()
}

async fn wait_open_streams(s: &TestServer, n: i64) {
    let metrics = s.telemetry().metrics().clone();
    assert!(
        eventually_within(Duration::from_secs(30), || {
            metrics
                .open_streams
                .load(std::sync::atomic::Ordering::Relaxed)
                == n
        })
        .await,
        "{n} open streams"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_subscribers_share_one_backend_connection_and_get_the_same_ids() {
    let feed = Feed::start().await;
    let mut opts = options(quick_linger());
    // 1,000 connections from one address send their request heads at once.
    opts.listener.max_incomplete_per_ip = 2000;
    let s = TestServer::with_options(opts).await;
    let api = shared_api(s.control(), "Ticks", feed.backend.url(), &[]).await;
    let sub = subscriber(
        s.control(),
        "Fans",
        "Unlimited",
        &api,
        Some("AsyncUnlimited"),
    )
    .await;
    let url = s.url("/ticks/1.0.0/stream");
    let http = client();
    let opens = (0..1000).map(|_| {
        let req = http.get(&url).bearer_auth(&sub.production).send();
        async move {
            let resp = req.await.unwrap();
            assert_eq!(resp.status(), 200);
            SseReader::new(resp)
        }
    });
    let readers = futures_util::future::join_all(opens).await;
    wait_open_streams(&s, 1000).await;
    assert_eq!(
        feed.connections(),
        1,
        "one backend connection for 1,000 subscribers"
    );
    assert_eq!(s.gateway().shared_streams(), 1);
    feed.events(1..=20);
    let tasks: Vec<_> = readers
        .into_iter()
        .map(|mut r| tokio::spawn(async move { ids(&mut r, 20).await }))
        .collect();
    let want = range(1..=20);
    for task in tasks {
        assert_eq!(task.await.unwrap(), want);
    }
    assert_eq!(feed.connections(), 1);
    assert_eq!(feed.heads.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_subscriber_stops_exactly_at_its_own_quota_while_the_others_go_on() {
    let feed = Feed::start().await;
    let s = TestServer::with_options(options(quick_linger())).await;
    plan_per_minute(s.control(), "Fifty", 50).await;
    let api = shared_api(
        s.control(),
        "Quotas",
        feed.backend.url(),
        &["Fifty", "AsyncUnlimited"],
    )
    .await;
    let small = subscriber(s.control(), "Small", "Unlimited", &api, Some("Fifty")).await;
    let big = subscriber(
        s.control(),
        "Big",
        "Unlimited",
        &api,
        Some("AsyncUnlimited"),
    )
    .await;
    let url = s.url("/quotas/1.0.0/feed");
    let mut a = open(&url, &small.production, None).await;
    let mut b = open(&url, &big.production, None).await;
    let mut c = open(&url, &small.production, None).await;
    wait_open_streams(&s, 3).await;
    // Sent in pieces, so the quota falls inside a batch as well as between them.
    feed.events(1..=30);
    feed.events(31..=45);
    feed.events(46..=80);
    assert_eq!(ids(&mut b, 80).await, range(1..=80));
    // `small` has two streams on one subscription: together they get exactly 50.
    let rest_a = a.rest().await;
    let rest_c = c.rest().await;
    let count = |items: &[Item]| items.iter().filter(|i| matches!(i, Item::Event(_))).count();
    assert_eq!(count(&rest_a) + count(&rest_c), 50);
    for (reader, items) in [(&a, &rest_a), (&c, &rest_c)] {
        let raw = String::from_utf8_lossy(&reader.raw);
        assert!(raw.contains("retry: "), "{raw}");
        assert!(
            matches!(items.last(), Some(Item::Comment(c)) if c.starts_with("quota exhausted: plan Fifty")),
            "{items:?}"
        );
    }
    // The unlimited subscriber goes on.
    feed.events(81..=81);
    assert_eq!(ids(&mut b, 1).await, range(81..=81));
    assert_eq!(feed.connections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_is_closed_and_the_others_are_unaffected() {
    let feed = Feed::start().await;
    let s = TestServer::with_options(options(SharedOptions {
        queue_bytes: 4 * 1024 * 1024,
        ..quick_linger()
    }))
    .await;
    let api = shared_api(s.control(), "Bulk", feed.backend.url(), &[]).await;
    let sub = subscriber(
        s.control(),
        "Bulky",
        "Unlimited",
        &api,
        Some("AsyncUnlimited"),
    )
    .await;
    let url = s.url("/bulk/1.0.0/feed");
    let mut fast = open(&url, &sub.production, None).await;
    // The slow one reads nothing until the backend has sent far more than its queue,
    // the kernel's socket buffers and hyper's write buffer hold.
    let slow = tokio::net::TcpSocket::new_v4().unwrap();
    slow.set_recv_buffer_size(4096).unwrap();
    let mut slow = slow.connect(s.gateway_addr()).await.unwrap();
    let request = format!(
        "GET /bulk/1.0.0/feed HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\r\n",
        sub.production
    );
    slow.write_all(request.as_bytes()).await.unwrap();
    wait_open_streams(&s, 2).await;
    let payload = "x".repeat(32 * 1024);
    let total = 400u64;
    let reading = tokio::spawn(async move {
        let got = ids(&mut fast, total as usize).await;
        (got, fast)
    });
    for n in 1..=total {
        feed.send(format!("id: {n}\ndata: {payload}\n\n"));
        tokio::time::sleep(Duration::from_millis(4)).await;
    }
    let (got, mut fast) = reading.await.unwrap();
    assert_eq!(
        got,
        range(1..=total),
        "the fast subscriber gets every event"
    );
    // Now the slow one reads: some events, then the eviction comment, then the end.
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::time::timeout(PATIENCE, slow.read(&mut buf))
            .await
            .expect("the slow stream ends")
            .unwrap();
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if raw.ends_with(b"\r\n0\r\n\r\n") {
            break;
        }
    }
    let tail = String::from_utf8_lossy(&raw[raw.len().saturating_sub(64 * 1024)..]);
    assert!(
        tail.contains(": too slow; reconnect with Last-Event-ID\n"),
        "{}",
        &tail[tail.len().saturating_sub(300)..]
    );
    assert!(
        !tail.contains(&format!("id: {total}\n")),
        "it was evicted before the end"
    );
    // The fast one goes on.
    feed.events(total + 1..=total + 1);
    assert_eq!(ids(&mut fast, 1).await, range(total + 1..=total + 1));
    assert_eq!(feed.connections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_event_id_replays_held_events_or_reports_the_gap_and_replay_is_metered() {
    let feed = Feed::start().await;
    let s = TestServer::with_options(options(SharedOptions {
        replay_events: 5,
        ..quick_linger()
    }))
    .await;
    plan_per_minute(s.control(), "Three", 3).await;
    let api = shared_api(
        s.control(),
        "Replay",
        feed.backend.url(),
        &["AsyncUnlimited", "Three"],
    )
    .await;
    let sub = subscriber(
        s.control(),
        "Live",
        "Unlimited",
        &api,
        Some("AsyncUnlimited"),
    )
    .await;
    let small = subscriber(s.control(), "Tiny", "Unlimited", &api, Some("Three")).await;
    let url = s.url("/replay/1.0.0/feed");
    let mut first = open(&url, &sub.production, None).await;
    wait_open_streams(&s, 1).await;
    feed.events(1..=10);
    assert_eq!(ids(&mut first, 10).await, range(1..=10));

    // Inside the buffer (the newest 5 events are 6..=10).
    let mut inside = open(&url, &sub.production, Some("7")).await;
    assert_eq!(ids(&mut inside, 3).await, range(8..=10));
    // Outside it: the gap comment, then live events only.
    let mut outside = open(&url, &sub.production, Some("2")).await;
    match outside.next().await {
        Some(Item::Comment(c)) => {
            assert_eq!(c, "replay gap: events after 2 are no longer held")
        }
        other => panic!("a replay-gap comment first, got {other:?}"),
    }
    // Replayed events count against the quota like live ones.
    let mut metered = open(&url, &small.production, Some("6")).await;
    let items = metered.rest().await;
    let (events, comments) = split(&items);
    assert_eq!(events, range(7..=9));
    assert!(
        comments
            .last()
            .is_some_and(|c| c.starts_with("quota exhausted")),
        "{comments:?}"
    );

    feed.events(11..=11);
    for reader in [&mut first, &mut inside, &mut outside] {
        assert_eq!(ids(reader, 1).await, range(11..=11));
    }
    assert_eq!(feed.connections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_subscribers_revocation_or_unsubscription_leaves_the_others_streaming() {
    let feed = Feed::start().await;
    let s = TestServer::with_options(options(quick_linger())).await;
    let api = shared_api(s.control(), "Rights", feed.backend.url(), &[]).await;
    let a = subscriber(s.control(), "A", "Unlimited", &api, Some("AsyncUnlimited")).await;
    let b = subscriber(s.control(), "B", "Unlimited", &api, Some("AsyncUnlimited")).await;
    let c = subscriber(s.control(), "C", "Unlimited", &api, Some("AsyncUnlimited")).await;
    let url = s.url("/rights/1.0.0/feed");
    let mut ra = open(&url, &a.production, None).await;
    let mut rb = open(&url, &b.production, None).await;
    let mut rc = open(&url, &c.production, None).await;
    wait_open_streams(&s, 3).await;
    feed.events(1..=2);
    for r in [&mut ra, &mut rb, &mut rc] {
        assert_eq!(ids(r, 2).await, range(1..=2));
    }
    assert!(s.control().revoke_token(&a.production, None).await.unwrap());
    let (events, comments) = split(&ra.rest().await);
    assert!(events.is_empty());
    assert!(
        comments.last().is_some_and(|c| c.contains("revoked")),
        "{comments:?}"
    );
    s.control()
        .unsubscribe(c.subscription_id.as_deref().unwrap())
        .await
        .unwrap();
    let (_, comments) = split(&rc.rest().await);
    assert!(!comments.is_empty(), "C gets a final comment");
    feed.events(3..=4);
    assert_eq!(ids(&mut rb, 2).await, range(3..=4));
    assert_eq!(feed.connections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_backend_restart_the_gateway_resumes_with_last_event_id() {
    let feed = Feed::start().await;
    let s = TestServer::with_options(options(SharedOptions {
        linger: Duration::from_secs(5),
        ..SharedOptions::default()
    }))
    .await;
    let api = shared_api(s.control(), "Resume", feed.backend.url(), &[]).await;
    let sub = subscriber(s.control(), "R", "Unlimited", &api, Some("AsyncUnlimited")).await;
    let url = s.url("/resume/1.0.0/feed");
    let mut a = open(&url, &sub.production, None).await;
    let mut b = open(&url, &sub.production, None).await;
    wait_open_streams(&s, 2).await;
    // A short `retry:` makes the gateway reconnect quickly.
    feed.send("retry: 100\n\n".to_string());
    feed.events(1..=3);
    assert_eq!(ids(&mut a, 3).await, range(1..=3));
    assert_eq!(ids(&mut b, 3).await, range(1..=3));
    feed.tx.send(Cmd::Drop).unwrap();
    for r in [&mut a, &mut b] {
        let (events, comments) = split(&r.rest().await);
        assert!(events.is_empty());
        assert_eq!(
            comments.last().map(String::as_str),
            Some("the backend ended the stream")
        );
    }
    feed.wait_connections(2).await;
    let resumed = feed.heads.lock().unwrap()[1].to_ascii_lowercase();
    assert!(resumed.contains("last-event-id: 3\r\n"), "{resumed}");
    let mut a = open(&url, &sub.production, Some("3")).await;
    wait_open_streams(&s, 1).await;
    feed.events(4..=5);
    assert_eq!(ids(&mut a, 2).await, range(4..=5));
    assert_eq!(feed.connections(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_stream_closes_a_linger_after_the_last_subscriber_leaves() {
    let feed = Feed::start().await;
    let s = TestServer::with_options(options(SharedOptions {
        linger: Duration::from_millis(800),
        ..SharedOptions::default()
    }))
    .await;
    let api = shared_api(s.control(), "Linger", feed.backend.url(), &[]).await;
    let sub = subscriber(s.control(), "L", "Unlimited", &api, Some("AsyncUnlimited")).await;
    let url = s.url("/linger/1.0.0/feed");
    let mut a = open(&url, &sub.production, None).await;
    feed.wait_connections(1).await;
    feed.events(1..=2);
    assert_eq!(ids(&mut a, 2).await, range(1..=2));
    drop(a);
    wait_open_streams(&s, 0).await;
    // Back within the linger: the same backend stream, with replay.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut a = open(&url, &sub.production, Some("1")).await;
    assert_eq!(ids(&mut a, 1).await, range(2..=2));
    assert_eq!(feed.connections(), 1);
    assert_eq!(feed.closed(), 0);
    drop(a);
    wait_open_streams(&s, 0).await;
    let left = tokio::time::Instant::now();
    assert!(
        eventually(|| feed.closed() == 1).await,
        "the backend connection closes"
    );
    assert!(
        left.elapsed() >= Duration::from_millis(600),
        "not before the linger"
    );
    assert_eq!(s.gateway().shared_streams(), 0);
    // The next subscriber opens a new backend stream.
    let _a = open(&url, &sub.production, None).await;
    feed.wait_connections(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_observer_works_shared() {
    let backend = memory_backend(memory_options(50, None)).await;
    let s = TestServer::with_options(options(quick_linger())).await;
    let api = shared_api(
        s.control(),
        "Observer",
        format!("http://{}", backend.addr()),
        &[],
    )
    .await;
    let sub = subscriber(s.control(), "O", "Unlimited", &api, Some("AsyncUnlimited")).await;
    let url = s.url(&memory_path("Observer"));
    let mut a = open(&url, &sub.production, None).await;
    wait_open_streams(&s, 1).await;
    let first = ids(&mut a, 1).await;
    let mut b = open(&url, &sub.production, Some(&first[0])).await;
    let next_a = ids(&mut a, 3).await;
    let next_b = ids(&mut b, 3).await;
    assert_eq!(next_a, next_b, "both get the same events after {first:?}");
    let data = a.next_event().await.unwrap().data;
    assert!(data.contains("used"), "{data}");
    assert_eq!(s.gateway().shared_streams(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mode_is_set_over_rest_and_the_cli_and_served_from_the_next_revision() {
    let feed = Feed::start().await;
    let s = TestServer::with_options(options(quick_linger())).await;
    let m = &s;
    // An unknown mode: 400, WSO2's error body naming the allowed values.
    let mut body = observer_body();
    body["backendStream"] = json!("fanout");
    let (status, err) = m.post(&publisher("/apis"), body).await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["code"], 400, "{err}");
    let text = err.to_string();
    assert!(text.contains("per-client, shared"), "{text}");

    let id = m.create_observer().await;
    let (_, got) = m.get(&publisher(&format!("/apis/{id}"))).await;
    assert_eq!(got["backendStream"], "per-client", "the default");
    let (status, err) = m
        .put(
            &publisher(&format!("/apis/{id}")),
            json!({"backendStream": "broadcast"}),
        )
        .await;
    assert_eq!(status, 400, "{err}");

    // A per-client API deployed, then switched to shared: the deployed revision rules.
    let api = published_api(s.control(), "Switch", Some(&feed.backend.url()), None, &[]).await;
    let sub = subscriber(s.control(), "S", "Unlimited", &api, Some("AsyncUnlimited")).await;
    let (status, got) = m
        .put(
            &publisher(&format!("/apis/{}", api.id)),
            json!({"backendStream": "shared"}),
        )
        .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["backendStream"], "shared");
    let url = s.url("/switch/1.0.0/feed");
    let mut a = open(&url, &sub.production, None).await;
    let _b = open(&url, &sub.production, None).await;
    feed.wait_connections(2).await;
    assert_eq!(s.gateway().shared_streams(), 0, "still per-client");
    s.control()
        .deploy_new_revision(&api.id, "", &hybrid())
        .await
        .unwrap();
    let mut c = open(&url, &sub.production, None).await;
    let mut d = open(&url, &sub.production, None).await;
    feed.wait_connections(3).await;
    feed.events(1..=1);
    assert_eq!(ids(&mut c, 1).await, range(1..=1));
    assert_eq!(ids(&mut d, 1).await, range(1..=1));
    assert_eq!(
        feed.connections(),
        3,
        "the new revision's subscribers share one"
    );
    // The stream opened on the old revision was not broken by the switch.
    assert_eq!(ids(&mut a, 1).await, range(1..=1));

    // The CLI: create with --backend-stream shared, show it, refuse a bad one.
    let out = ok(
        &s,
        &[
            "api",
            "create",
            "--name",
            "Cli",
            "--context",
            "/cli",
            "--version",
            "1.0.0",
            "--endpoint",
            "http://localhost:9",
            "--backend-stream",
            "shared",
        ],
    )
    .await;
    assert!(out.contains("Created API Cli:1.0.0"), "{out}");
    let shown = ok(&s, &["api", "show", "Cli:1.0.0"]).await;
    assert!(shown.contains("backend:     shared stream"), "{shown}");
    let err = fails(&s, &["api", "update", "Cli:1.0.0", "--backend-stream", "x"]).await;
    assert!(err.contains("per-client, shared"), "{err}");
    let out = ok(
        &s,
        &[
            "api",
            "update",
            "Cli:1.0.0",
            "--backend-stream",
            "per-client",
        ],
    )
    .await;
    assert!(out.contains("backend stream: per-client"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_joiners_get_the_backends_non_200_answer_the_first_subscriber_got() {
    // The backend answers late (so every client joins the opening stream), with the head
    // before the body (so joiners wait for the body too): 404 with a small body for
    // `/missing`, 500 with a body for `/broken`.
    let backend = RawBackend::start(|socket, _| async move {
        let (mut rd, mut wr) = socket.into_split();
        let Some(head) = read_head(&mut rd).await else {
            return;
        };
        tokio::time::sleep(Duration::from_millis(600)).await;
        let (status, body) = if head.contains("/missing") {
            ("404 Not Found", "no such topic")
        } else {
            ("500 Internal Server Error", "the backend broke")
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if wr.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = wr.write_all(body.as_bytes()).await;
        wait_closed(&mut rd).await;
    })
    .await;
    let s = TestServer::with_options(options(quick_linger())).await;
    let api = shared_api(s.control(), "Gone", backend.url(), &[]).await;
    let sub = subscriber(
        s.control(),
        "Joiners",
        "Unlimited",
        &api,
        Some("AsyncUnlimited"),
    )
    .await;
    let http = client();
    for (path, status, body) in [
        ("/gone/1.0.0/missing", 404, "no such topic"),
        ("/gone/1.0.0/broken", 500, "the backend broke"),
    ] {
        let url = s.url(path);
        let answers = futures_util::future::join_all((0..5).map(|_| {
            let req = http.get(&url).bearer_auth(&sub.production).send();
            async move {
                let resp = req.await.unwrap();
                let status = resp.status().as_u16();
                let ct = resp
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_string());
                (status, ct, resp.text().await.unwrap())
            }
        }))
        .await;
        for answer in answers {
            assert_eq!(
                answer,
                (status, Some("text/plain".to_string()), body.to_string()),
                "{path}"
            );
        }
    }
    assert_eq!(s.gateway().shared_streams(), 0, "no stream stays open");
    assert!(
        backend.accepted() >= 2,
        "one backend request per path at least"
    );
}
