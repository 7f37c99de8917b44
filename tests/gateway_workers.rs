//! The gateway's plain port on worker threads of its own (`GatewayOptions::workers`,
//! `--gateway-workers`): streams accepted on the workers deliver and are metered, a
//! refusal is answered there, a view change reaches every worker's streams, and shutdown
//! ends them all with the final comment and stops the threads. Each worker listens on a
//! socket of its own.
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
    // Each worker accepts on a socket of its own (SO_REUSEPORT), not on one shared queue.
    assert_eq!(listening_on(env.gateway_addr().port()), 2);

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
