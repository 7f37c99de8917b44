//! Event quotas over real sockets: exact counting across concurrent streams and line-end
//! styles, the connect-time 429, the final comment mid-stream, and counters that survive a
//! restart or are flushed periodically.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use streamgate::gateway::{GatewayOptions, THROTTLED_BODY};
use streamgate::sse::Item;

const FAST: Duration = Duration::from_millis(5);

fn last_comment(items: &[Item]) -> String {
    match items.last() {
        Some(Item::Comment(c)) => c.clone(),
        other => panic!("the stream should end with a comment, got {other:?}"),
    }
}

#[tokio::test]
async fn three_concurrent_streams_of_one_subscription_get_exactly_the_quota() {
    let env = TestServer::start().await;
    plan_per_minute(env.control(), "Ten", 10).await;
    // Batches of three, so the tenth event falls in the middle of a chunk.
    let backend = Backend::start(Script::Events {
        line_end: "\n",
        every: FAST,
        count: None,
        batch: 3,
        wait_for: 3,
    })
    .await;
    let api = published_api(
        env.control(),
        "Metered",
        Some(&backend.url()),
        None,
        &["Ten"],
    )
    .await;
    let sub = subscriber(env.control(), "App", "Unlimited", &api, Some("Ten")).await;
    let url = env.url("/metered/1.0.0/memory");
    let mut readers = Vec::new();
    for _ in 0..3 {
        let resp = get(&url, Some(&sub.production)).await;
        assert_eq!(resp.status(), 200);
        readers.push(SseReader::new(resp));
    }
    let results = futures_util::future::join_all(readers.iter_mut().map(|r| r.rest())).await;
    let mut total = 0;
    for items in &results {
        let (events, _) = split(items);
        total += events.len();
        let why = last_comment(items);
        assert!(
            why.starts_with("quota exhausted: plan Ten allows 10 events / 1 min; try again in "),
            "{why}"
        );
    }
    assert_eq!(total, 10);
    // All three backend connections are closed.
    backend.wait_hangups(3).await;

    // Now the subscription is refused at connect, the reference's way.
    let resp = get(&url, Some(&sub.production)).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(resp.text().await.unwrap(), THROTTLED_BODY);
    assert_eq!(backend.request_count(), 3);
    let m = env.telemetry().metrics();
    assert_eq!(m.rejections().get(&900804), Some(&1));
    assert_eq!(
        m.events_total.load(std::sync::atomic::Ordering::Relaxed),
        10
    );
}

#[tokio::test]
async fn crlf_and_cr_delimited_events_are_counted_exactly() {
    let env = TestServer::start().await;
    plan_per_minute(env.control(), "Five", 5).await;
    for (i, line_end) in ["\r\n", "\r", "\n"].into_iter().enumerate() {
        let backend = Backend::start(Script::Events {
            line_end,
            every: FAST,
            count: None,
            batch: 2,
            wait_for: 0,
        })
        .await;
        let name = format!("Ends{i}");
        let api = published_api(env.control(), &name, Some(&backend.url()), None, &["Five"]).await;
        let sub = subscriber(
            env.control(),
            &format!("App{i}"),
            "Unlimited",
            &api,
            Some("Five"),
        )
        .await;
        let resp = env
            .open(&format!("/ends{i}/1.0.0/memory"), Some(&sub.production))
            .await;
        assert_eq!(resp.status(), 200);
        let mut reader = SseReader::new(resp);
        let items = reader.rest().await;
        let (events, comments) = split(&items);
        let expected: Vec<String> = (1..=5).map(|n| format!("{{\"n\":{n}}}")).collect();
        assert_eq!(events, expected, "line end {line_end:?}");
        assert_eq!(comments.len(), 1, "{comments:?}");
        assert!(last_comment(&items).starts_with("quota exhausted: plan Five"));
        // The stream is cut right after the fifth event: nothing of the sixth got through.
        let raw = String::from_utf8(reader.raw.clone()).unwrap();
        let fifth_end = format!("id: 5{line_end}data: {{\"n\":5}}{line_end}{line_end}");
        let cut = raw.find(&fifth_end).unwrap() + fifth_end.len();
        // A retry hint for EventSource (the window's rest, in ms), then the comment.
        let tail = &raw[cut..];
        let (retry, comment) = tail.split_once('\n').unwrap();
        let ms: u64 = retry.strip_prefix("retry: ").unwrap().parse().unwrap();
        assert!((1000..=60_000).contains(&ms), "{tail:?}");
        assert!(comment.starts_with(": quota exhausted"), "{tail:?}");
        assert!(!raw.contains("\"n\":6"), "{raw:?}");
    }
}

#[tokio::test]
async fn counters_survive_a_restart() {
    let env = TestServer::start().await;
    plan_per_minute(env.control(), "Ten", 10).await;
    let short = Backend::start(events("\n", FAST, Some(4))).await;
    let api = published_api(env.control(), "Durable", Some(&short.url()), None, &["Ten"]).await;
    let sub = subscriber(env.control(), "App", "Unlimited", &api, Some("Ten")).await;
    let url = env.url("/durable/1.0.0/memory");
    let (delivered, _) = split(
        &SseReader::new(get(&url, Some(&sub.production)).await)
            .rest()
            .await,
    );
    assert_eq!(delivered.len(), 4);

    // A long flush period: only the flush on shutdown can have saved the counter.
    let mut options = test_options();
    options.counter_flush = Duration::from_secs(3600);
    let env = env.restart(options).await;
    let sid = sub.subscription_id.clone().unwrap();
    assert_eq!(env.control().load_counters().unwrap()[&sid].count, 4);

    let endless = Backend::start(events("\n", FAST, None)).await;
    let mut draft = api.to_draft();
    draft.production_endpoint = Some(endless.url());
    env.control().update_api(&api.id, draft).await.unwrap();
    env.control()
        .deploy_new_revision(&api.id, "endless", &hybrid())
        .await
        .unwrap();
    let url = env.url("/durable/1.0.0/memory");
    let items = SseReader::new(get(&url, Some(&sub.production)).await)
        .rest()
        .await;
    let (delivered, _) = split(&items);
    assert_eq!(delivered.len(), 6);
    assert!(last_comment(&items).starts_with("quota exhausted"));
    assert_eq!(get(&url, Some(&sub.production)).await.status(), 429);
}

#[tokio::test]
async fn counters_are_flushed_periodically_while_serving() {
    let env = TestServer::with_options(GatewayOptions {
        counter_flush: Duration::from_millis(100),
        ..test_options()
    })
    .await;
    plan_per_minute(env.control(), "Ten", 10).await;
    let backend = Backend::start(events("\n", FAST, Some(3))).await;
    let api = published_api(
        env.control(),
        "Flushed",
        Some(&backend.url()),
        None,
        &["Ten"],
    )
    .await;
    let sub = subscriber(env.control(), "App", "Unlimited", &api, Some("Ten")).await;
    let resp = env
        .open("/flushed/1.0.0/memory", Some(&sub.production))
        .await;
    assert_eq!(events_of(resp).await.len(), 3);
    let sid = sub.subscription_id.unwrap();
    tokio::time::timeout(PATIENCE, async {
        loop {
            let saved = env.control().load_counters().unwrap();
            if saved.get(&sid).is_some_and(|r| r.count == 3) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the counter reaches the store without a shutdown");
}

#[tokio::test]
async fn unlimited_plans_are_not_cut() {
    let env = TestServer::start().await;
    let (_backend, _, sub) = env
        .api_on_backend(
            "Free",
            "App",
            events("\r\n", Duration::from_millis(1), Some(200)),
        )
        .await;
    let resp = env.open("/free/1.0.0/memory", Some(&sub.production)).await;
    let items = SseReader::new(resp).rest().await;
    let (events, comments) = split(&items);
    assert_eq!(events.len(), 200);
    assert!(comments.is_empty(), "{comments:?}");
    assert!(env.control().load_counters().unwrap().is_empty());
}
