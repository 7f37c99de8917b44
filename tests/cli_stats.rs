//! `streamgate stats` and `GET /api/am/publisher/v4/analytics/stats` against a real
//! management API whose telemetry saw traffic: the binary's table and JSON, flushed and
//! not-yet-flushed minutes, and the unknown-name error (404, non-zero exit).
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;

use common::*;
use serde_json::Value;
use streamgate::catalog::now_millis;
use streamgate::telemetry::TrafficEvent;

/// An API and an application, then traffic: one stream of 42 events, one rejection.
async fn with_traffic() -> TestServer {
    let s = TestServer::start().await;
    ok(&s, &observer_create(&["--quiet"])).await;
    ok(&s, &["app", "create", "ObserverApp", "--quiet"]).await;
    let series = s.telemetry().series();
    let metrics = s.telemetry().metrics();
    let now = now_millis();
    let pair = metrics.pair_counters("Observer:1.0.0", "ObserverApp");
    pair.opened();
    series.on_traffic(
        &TrafficEvent::Rejected {
            path: "/observer/1.0.0/memory".into(),
            status: 429,
            code: 900804,
            message: "quota exhausted".into(),
            client: "127.0.0.1:6".into(),
            at: now,
        },
        |_| Some("Observer:1.0.0".into()),
    );
    pair.events.fetch_add(42, Ordering::Relaxed);
    series.sample(metrics, now);
    s
}

#[tokio::test]
async fn stats_of_an_api_before_and_after_the_flush() {
    let s = with_traffic().await;
    // Not flushed yet: the server merges what it holds in memory.
    let json: Value =
        serde_json::from_str(&ok(&s, &["stats", "Observer:1.0.0", "--json"]).await).unwrap();
    assert_eq!(json["subject"]["type"], "API");
    assert_eq!(json["subject"]["name"], "Observer:1.0.0");
    assert_eq!(json["totals"]["events"], 42);
    assert_eq!(json["totals"]["streamsOpened"], 1);
    assert_eq!(json["totals"]["rejections"]["900804"], 1);
    assert_eq!(json["top"][0]["name"], "ObserverApp");
    assert_eq!(json["top"][0]["events"], 42);

    // Flushed: the store answers, and nothing is counted twice.
    streamgate::analytics::flush(s.control(), s.telemetry()).await;
    assert!(s.telemetry().series().pending().is_empty());
    let out = ok(&s, &["stats", "Observer", "--since", "30m"]).await;
    assert!(out.starts_with("API Observer:1.0.0, last 30m"), "{out}");
    assert!(
        out.contains("events 42  streams opened 1  rejections 1  backend errors 0"),
        "{out}"
    );
    assert!(out.contains("rejections by code: 900804x1"), "{out}");
    assert!(out.contains("top applications: ObserverApp (42)"), "{out}");
    assert!(out.contains("MINUTE (UTC)"), "{out}");

    let app: Value =
        serde_json::from_str(&ok(&s, &["stats", "ObserverApp", "--json"]).await).unwrap();
    assert_eq!(app["subject"]["type"], "APPLICATION");
    assert_eq!(app["totals"]["events"], 42);
    assert_eq!(app["top"][0]["name"], "Observer:1.0.0");

    let all = ok(&s, &["stats", "--quiet"]).await;
    assert_eq!(all.trim(), "42", "the gateway's events");
}

#[tokio::test]
async fn an_unknown_name_is_a_404_and_a_failed_run() {
    let s = with_traffic().await;
    let run = streamgate(&s, &["stats", "Nope:9.9.9"]).await;
    assert!(!run.ok, "{}", run.stdout);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("Nope:9.9.9"), "{}", run.stderr);
    assert!(run.stderr.contains("not found"), "{}", run.stderr);

    let resp = s
        .http
        .get(format!(
            "{}/api/am/publisher/v4/analytics/stats?name=Nope",
            s.mgmt_url()
        ))
        .bearer_auth(s.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], 404);

    let bad = s
        .http
        .get(format!(
            "{}/api/am/publisher/v4/analytics/stats?since=forever",
            s.mgmt_url()
        ))
        .bearer_auth(s.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let run = streamgate(&s, &["stats", "--since", "9d"]).await;
    assert!(!run.ok);
    assert!(run.stderr.contains("7 days"), "{}", run.stderr);
}
