//! Analytics end to end: a real server and a real SSE backend, the API created, published,
//! deployed and subscribed to over the management REST API, a token from the OAuth2
//! client-credentials grant, N events read over a real SSE stream through the gateway and
//! one request refused for want of a token (401, 900902). After the gateway's periodic
//! counter flush (shortened to 200 ms here) has written the minutes to the store,
//! `streamgate stats` (the binary) and `GET /api/am/publisher/v4/analytics/stats` report
//! exactly those counts, for the API, the application and the gateway, and a later flush
//! counts nothing twice.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;
use streamgate::gateway::GatewayOptions;

/// Events the backend sends on the stream, then ends it.
const EVENTS: usize = 7;
/// The counter flush for this test.
const FLUSH: Duration = Duration::from_millis(200);

/// The stats resource for `name` (empty: the whole gateway) over the last hour.
async fn rest_stats(s: &TestServer, name: &str) -> Value {
    let query = if name.is_empty() {
        "since=1h".to_string()
    } else {
        format!("name={name}&since=1h")
    };
    let (status, body) = s
        .get(&format!("/api/am/publisher/v4/analytics/stats?{query}"))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn stats_report_exactly_the_traffic_of_a_real_stream_after_the_flush() {
    let s = TestServer::builder()
        .gateway(GatewayOptions {
            counter_flush: FLUSH,
            ..test_options()
        })
        .start()
        .await;
    let backend = Backend::start(events("\n", Duration::from_millis(20), Some(EVENTS))).await;

    // Publisher: create, publish, deploy. Dev Portal: application, subscription, keys.
    let api_id = s
        .create_api(api_body(
            "Observer",
            "/observer",
            &backend.url(),
            None,
            &["AsyncGold"],
        ))
        .await;
    s.publish_and_deploy(&api_id).await;
    let app_id = s.subscribed_app("ObserverApp", &api_id).await;
    let token = s.credentials(&app_id).await.access_token;

    let url = s.url("/observer/1.0.0/memory");
    assert_error(get(&url, None).await, 401, 900902).await;
    let resp = get(&url, Some(&token)).await;
    assert_eq!(resp.status(), 200);
    let (events, _) = split(&SseReader::new(resp).rest().await);
    assert_eq!(events.len(), EVENTS, "{events:?}");

    // Wait until a flush has written everything: nothing pending in memory, and the
    // stored minutes (which the resource merges with the pending ones) add up.
    let series = s.telemetry().series().clone();
    let mut flushed = false;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        let api = rest_stats(&s, "Observer:1.0.0").await;
        if api["totals"]["events"] == EVENTS
            && api["totals"]["rejections"]["900902"] == 1
            && series.pending().is_empty()
        {
            flushed = true;
            break;
        }
        tokio::time::sleep(FLUSH / 2).await;
    }
    assert!(flushed, "{}", rest_stats(&s, "Observer:1.0.0").await);
    // Another flush or two must not count anything twice.
    tokio::time::sleep(FLUSH * 3).await;
    assert!(series.pending().is_empty());

    let api = rest_stats(&s, "Observer:1.0.0").await;
    assert_eq!(api["subject"]["type"], "API");
    assert_eq!(api["totals"]["events"], EVENTS);
    assert_eq!(api["totals"]["streamsOpened"], 1);
    assert_eq!(
        api["totals"]["rejections"],
        serde_json::json!({"900902": 1}),
        "{api}"
    );
    assert_eq!(api["totals"]["backendErrors"], 0);
    assert_eq!(api["top"][0]["name"], "ObserverApp");
    assert_eq!(api["top"][0]["events"], EVENTS);

    // The binary reads the same resource.
    let cli: Value = serde_json::from_str(
        &ok(&s, &["stats", "Observer:1.0.0", "--since", "1h", "--json"]).await,
    )
    .unwrap();
    assert_eq!(cli["totals"], api["totals"], "{cli}");
    let text = ok(&s, &["stats", "Observer", "--since", "1h"]).await;
    assert!(
        text.contains(&format!(
            "events {EVENTS}  streams opened 1  rejections 1  backend errors 0"
        )),
        "{text}"
    );
    assert!(text.contains("rejections by code: 900902x1"), "{text}");
    assert!(
        text.contains(&format!("top applications: ObserverApp ({EVENTS})")),
        "{text}"
    );

    // The application saw the stream; the refused request had no application.
    let app: Value =
        serde_json::from_str(&ok(&s, &["stats", "ObserverApp", "--json"]).await).unwrap();
    assert_eq!(app["subject"]["type"], "APPLICATION");
    assert_eq!(app["totals"]["events"], EVENTS);
    assert_eq!(app["totals"]["streamsOpened"], 1);
    assert_eq!(app["totals"]["rejections"], serde_json::json!({}), "{app}");
    assert_eq!(app["top"][0]["name"], "Observer:1.0.0");

    // The gateway as a whole.
    let all = ok(&s, &["stats", "--quiet"]).await;
    assert_eq!(all.trim(), EVENTS.to_string(), "the gateway's events");
    let gateway = rest_stats(&s, "").await;
    assert_eq!(gateway["totals"]["events"], EVENTS, "{gateway}");
    assert_eq!(gateway["totals"]["rejections"]["900902"], 1, "{gateway}");
}
