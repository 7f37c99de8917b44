//! The gateway's plain port on worker threads of its own (`GatewayOptions::workers`,
//! `--gateway-workers`): streams accepted on the workers deliver and are metered, a
//! refusal is answered there, a view change reaches every worker's streams, and shutdown
//! ends them all with the final comment and stops the threads. The workers share one
//! listening socket, and a light load stays on the first.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use streamgate::catalog::LifecycleAction;
use streamgate::gateway::GatewayOptions;
use streamgate::sse::Item;

fn endless() -> Script {
    events("\n", Duration::from_millis(20), None)
}

fn on_workers(workers: usize) -> GatewayOptions {
    GatewayOptions {
        workers,
        ..test_options()
    }
}

/// Streams the API at `path` `n` times, each read to its first event, the rest read on.
async fn streams(
    env: &TestServer,
    path: &str,
    token: &str,
    n: usize,
) -> Vec<tokio::task::JoinHandle<Vec<Item>>> {
    let mut reading = Vec::new();
    for _ in 0..n {
        let resp = env.open(path, Some(token)).await;
        assert_eq!(resp.status(), 200);
        let mut reader = SseReader::new(resp);
        assert!(reader.next_event().await.is_some());
        reading.push(tokio::spawn(async move { reader.rest().await }));
    }
    reading
}

async fn last_items(reading: Vec<tokio::task::JoinHandle<Vec<Item>>>) -> Vec<Option<Item>> {
    let mut last = Vec::new();
    for read in reading {
        let items = tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .unwrap()
            .unwrap();
        last.push(items.last().cloned());
    }
    last
}

/// One test, so no other gateway's workers run in this process meanwhile.
#[tokio::test]
async fn streams_on_worker_threads_deliver_close_on_a_view_change_and_end_at_shutdown() {
    let mut env = TestServer::with_options(on_workers(2)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while threads_named("self", "sg-gateway-") < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no workers started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(threads_named("self", "sg-gateway-"), 2, "two workers");
    // The workers share one listening socket (and its accept queue).
    assert_eq!(listening_on(env.gateway_addr().port()), 1);

    let (_bye, _, bye) = env.api_on_backend("Bye", "App", endless()).await;
    let (_held, held_api, held) = env.api_on_backend("Held", "Other", endless()).await;
    assert_error(get(&env.url("/bye/1.0.0/memory"), None).await, 401, 900902).await;
    let staying = streams(&env, "/bye/1.0.0/memory", &bye.production, 8).await;
    let blocked = streams(&env, "/held/1.0.0/memory", &held.production, 6).await;
    let open = env
        .telemetry()
        .metrics()
        .open_streams
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(open, 14);
    // Each connection was accepted by one worker, and /metrics says which.
    let loads = env.telemetry().metrics().workers.get().unwrap();
    let accepted = |k: usize| loads[k].accepted();
    assert_eq!(accepted(0) + accepted(1), 15, "connections accepted");
    let text = env.telemetry().metrics().render_prometheus();
    for k in 0..2 {
        let line = format!(
            "streamgate_gateway_worker_accepted_total{{worker=\"{k}\"}} {}\n",
            accepted(k)
        );
        assert!(text.contains(&line), "{text}");
    }
    assert!(
        text.contains("streamgate_gateway_worker_busy_seconds_total{worker=\"1\"} "),
        "{text}"
    );
    // A light load stays on the first worker: the second one takes connections only while
    // the first is more than half busy (as it may have been above, opening 14 streams back
    // to back on a debug build), and goes back to waiting once the first has room again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (first, second) = (accepted(0), accepted(1));
    let mut paced = Vec::new();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        paced.extend(streams(&env, "/bye/1.0.0/memory", &bye.production, 1).await);
    }
    assert_eq!(
        (accepted(0) - first, accepted(1) - second),
        (4, 0),
        "paced connections accepted per worker"
    );

    // A view change reaches the streams of both workers.
    env.control()
        .change_lifecycle(&held_api.id, LifecycleAction::Block)
        .await
        .unwrap();
    let ends = last_items(blocked).await;
    assert!(
        ends.iter()
            .all(|end| *end == Some(Item::Comment("the API was blocked".into()))),
        "{ends:?}"
    );

    // Shutdown ends every other stream with the final comment, and the threads.
    env.stop().await;
    let ends = last_items(staying).await;
    assert!(
        ends.iter()
            .all(|end| *end == Some(Item::Comment("gateway shutting down".into()))),
        "{ends:?}"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while threads_named("self", "sg-gateway-") > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "workers still running"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
