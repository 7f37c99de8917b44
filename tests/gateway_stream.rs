//! Live streams over real sockets: immediate forwarding, heartbeats only between events,
//! client hang-ups reaching the backend, and streams closed with a final comment when
//! rights are lost, the token expires or the gateway shuts down.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use streamgate::catalog::{KeyType, LifecycleAction, SubscriptionStatus};
use streamgate::control::{Control, KeyPairRef};
use streamgate::gateway::GatewayOptions;
use streamgate::sse::Item;

const LONG: Duration = Duration::from_secs(600);

fn endless() -> Script {
    events("\n", Duration::from_millis(20), None)
}

fn with_heartbeat(ms: u64) -> GatewayOptions {
    GatewayOptions {
        heartbeat: Duration::from_millis(ms),
        ..test_options()
    }
}

#[tokio::test]
async fn each_event_is_forwarded_while_the_backend_holds_the_next() {
    let env = TestServer::start().await;
    let backend = Backend::start(Script::Chunks(vec![
        (Duration::ZERO, "data: first\n\n"),
        (LONG, "data: second\n\n"),
    ]))
    .await;
    let (_, sub) = env
        .subscribed_api("Live", "App", Some(&backend.url()), None)
        .await;
    let resp = env.open("/live/1.0.0/memory", Some(&sub.production)).await;
    let mut reader = SseReader::new(resp);
    // SseReader gives up after PATIENCE: a buffering gateway would never deliver this.
    assert_eq!(reader.next_event().await.unwrap().data, "first");
}

#[tokio::test]
async fn an_idle_stream_gets_heartbeat_comments() {
    let env = TestServer::with_options(with_heartbeat(100)).await;
    let (_backend, _, sub) = env
        .api_on_backend(
            "Quiet",
            "App",
            Script::Chunks(vec![(Duration::ZERO, "data: one\n\n")]),
        )
        .await;
    let resp = env.open("/quiet/1.0.0/memory", Some(&sub.production)).await;
    let mut reader = SseReader::new(resp);
    assert_eq!(reader.next().await, Some(Item::Event(event("one"))));
    assert_eq!(reader.next().await, Some(Item::Comment("heartbeat".into())));
    assert_eq!(reader.next().await, Some(Item::Comment("heartbeat".into())));
    assert!(
        reader
            .raw
            .starts_with(b"data: one\n\n: heartbeat\n\n: heartbeat\n\n")
    );
}

fn event(data: &str) -> streamgate::sse::Event {
    streamgate::sse::Event {
        data: data.to_string(),
        ..Default::default()
    }
}

#[tokio::test]
async fn heartbeats_wait_for_a_partial_event_to_complete() {
    let env = TestServer::with_options(with_heartbeat(50)).await;
    let backend = Backend::start(Script::Chunks(vec![
        (Duration::ZERO, "data: par"),
        (Duration::from_millis(400), "tial\r\n"),
        (Duration::from_millis(200), "\r\n"),
    ]))
    .await;
    let (_, sub) = env
        .subscribed_api("Partial", "App", Some(&backend.url()), None)
        .await;
    let resp = env
        .open("/partial/1.0.0/memory", Some(&sub.production))
        .await;
    let mut reader = SseReader::new(resp);
    assert_eq!(reader.next().await, Some(Item::Event(event("partial"))));
    assert_eq!(reader.next().await, Some(Item::Comment("heartbeat".into())));
    assert!(
        reader
            .raw
            .starts_with(b"data: partial\r\n\r\n: heartbeat\n\n"),
        "{:?}",
        String::from_utf8_lossy(&reader.raw)
    );
}

#[tokio::test]
async fn a_client_hang_up_closes_the_backend_connection() {
    let env = TestServer::start().await;
    let mut traffic = env.telemetry().subscribe();
    let (backend, _, sub) = env.api_on_backend("Hangup", "App", endless()).await;

    let mut socket = open_stream(
        env.gateway_addr(),
        "/hangup/1.0.0/memory",
        Some(&sub.production),
    )
    .await;
    let got = read_until_contains(&mut socket, "data: {\"n\":2}").await;
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200 OK\r\n"));
    assert_eq!(backend.hangups.load(Ordering::SeqCst), 0);
    drop(socket);

    backend.wait_hangups(1).await;
    let closed = closed(&mut traffic).await;
    assert_eq!(closed.0, "client left");
    assert!(closed.1 >= 2);
    assert_eq!(env.open_streams(), 0);
}

/// Opens a stream, reads one event, applies `change`, and returns the stream's final
/// comment; also checks that the backend connection was closed.
async fn close_reason(
    env: &TestServer,
    name: &str,
    token_of: impl Fn(&Subscriber) -> String,
    change: impl AsyncFnOnce(&Control, &Subscriber, &str),
) -> String {
    let backend = Backend::start(endless()).await;
    let (api, sub) = env
        .subscribed_api(
            name,
            &format!("{name}App"),
            Some(&backend.url()),
            Some(&backend.url()),
        )
        .await;
    let path = format!("/{}/1.0.0/memory", name.to_ascii_lowercase());
    let resp = env.open(&path, Some(&token_of(&sub))).await;
    assert_eq!(resp.status(), 200);
    let mut reader = SseReader::new(resp);
    assert!(reader.next_event().await.is_some());
    change(env.control(), &sub, &api.id).await;
    let items = reader.rest().await;
    backend.wait_hangups(1).await;
    match items.last() {
        Some(Item::Comment(c)) => c.clone(),
        other => panic!("expected a final comment, got {other:?}"),
    }
}

fn production(sub: &Subscriber) -> String {
    sub.production.clone()
}

#[tokio::test]
async fn revoking_the_token_closes_a_live_stream() {
    let env = TestServer::start().await;
    let why = close_reason(
        &env,
        "Revoke",
        production,
        async |c: &Control, s: &Subscriber, _: &str| {
            assert!(c.revoke_token(&s.production, None).await.unwrap());
        },
    )
    .await;
    assert_eq!(why, "the access token was revoked");
}

#[tokio::test]
async fn blocking_the_api_closes_a_live_stream() {
    let env = TestServer::start().await;
    let why = close_reason(
        &env,
        "BlockApi",
        production,
        async |c: &Control, _: &Subscriber, api: &str| {
            c.change_lifecycle(api, LifecycleAction::Block)
                .await
                .unwrap();
        },
    )
    .await;
    assert_eq!(why, "the API was blocked");
}

#[tokio::test]
async fn removing_or_blocking_the_subscription_closes_a_live_stream() {
    let env = TestServer::start().await;
    let why = close_reason(
        &env,
        "Unsub",
        production,
        async |c: &Control, s: &Subscriber, _: &str| {
            c.unsubscribe(s.subscription_id.as_deref().unwrap())
                .await
                .unwrap();
        },
    )
    .await;
    assert_eq!(why, "the subscription was removed");
    let why = close_reason(
        &env,
        "BlockSub",
        production,
        async |c: &Control, s: &Subscriber, _: &str| {
            c.set_subscription_status(
                s.subscription_id.as_deref().unwrap(),
                SubscriptionStatus::ProdOnlyBlocked,
            )
            .await
            .unwrap();
        },
    )
    .await;
    assert_eq!(why, "the subscription was blocked for production keys");
}

#[tokio::test]
async fn undeploying_or_retiring_the_api_closes_a_live_stream() {
    let env = TestServer::start().await;
    let why = close_reason(
        &env,
        "Undeploy",
        production,
        async |c: &Control, _: &Subscriber, api: &str| {
            let rev = c.snapshot().deployments_of(api)[0].revision_id.clone();
            c.undeploy_revision(api, &rev, &[]).await.unwrap();
        },
    )
    .await;
    assert_eq!(why, "the API was undeployed or retired");
    let why = close_reason(
        &env,
        "Retire",
        production,
        async |c: &Control, _: &Subscriber, api: &str| {
            c.change_lifecycle(api, LifecycleAction::Deprecate)
                .await
                .unwrap();
            c.change_lifecycle(api, LifecycleAction::Retire)
                .await
                .unwrap();
        },
    )
    .await;
    assert_eq!(why, "the API was undeployed or retired");
}

#[tokio::test]
async fn an_expiring_token_closes_its_stream() {
    let env = TestServer::start().await;
    let (backend, _, sub) = env.api_on_backend("Expiry", "App", endless()).await;
    let short = env
        .control()
        .generate_token(&sub.app_id, &KeyPairRef::Type(KeyType::Production), Some(1))
        .unwrap();
    let resp = env
        .open("/expiry/1.0.0/memory", Some(&short.access_token))
        .await;
    assert_eq!(resp.status(), 200);
    let items = SseReader::new(resp).rest().await;
    assert!(matches!(items.first(), Some(Item::Event(_))));
    assert_eq!(
        items.last(),
        Some(&Item::Comment("the access token expired".into()))
    );
    backend.wait_hangups(1).await;
}

/// A stream's one timer serves both its heartbeats and its token's expiry: a silent stream
/// gets heartbeats until the token expires, then the final comment instead of the next.
#[tokio::test]
async fn a_silent_stream_gets_heartbeats_until_its_token_expires() {
    let env = TestServer::with_options(with_heartbeat(200)).await;
    let (_backend, _, sub) = env
        .api_on_backend(
            "Hush",
            "App",
            Script::Chunks(vec![(Duration::ZERO, "data: one\n\n")]),
        )
        .await;
    let short = env
        .control()
        .generate_token(&sub.app_id, &KeyPairRef::Type(KeyType::Production), Some(2))
        .unwrap();
    let resp = env
        .open("/hush/1.0.0/memory", Some(&short.access_token))
        .await;
    assert_eq!(resp.status(), 200);
    let items = SseReader::new(resp).rest().await;
    assert_eq!(items.first(), Some(&Item::Event(event("one"))));
    assert_eq!(
        items.last(),
        Some(&Item::Comment("the access token expired".into()))
    );
    // The token lives 1 to 2 s (its expiry is in whole seconds): at least 4 heartbeats
    // of 200 ms, and nothing but heartbeats between the event and the final comment.
    let middle = &items[1..items.len() - 1];
    assert!(middle.len() >= 4, "{items:?}");
    assert!(
        middle
            .iter()
            .all(|item| *item == Item::Comment("heartbeat".into())),
        "{items:?}"
    );
}

#[tokio::test]
async fn shutdown_ends_open_streams_with_a_final_comment() {
    let mut env = TestServer::start().await;
    let (backend, _, sub) = env.api_on_backend("Bye", "App", endless()).await;
    let resp = env.open("/bye/1.0.0/memory", Some(&sub.production)).await;
    let mut reader = SseReader::new(resp);
    assert!(reader.next_event().await.is_some());
    let reading = tokio::spawn(async move { reader.rest().await });
    env.stop().await;
    let items = reading.await.unwrap();
    assert_eq!(
        items.last(),
        Some(&Item::Comment("gateway shutting down".into()))
    );
    backend.wait_hangups(1).await;
}

#[tokio::test]
async fn a_final_comment_inside_a_partial_event_never_dispatches_it() {
    let env = TestServer::start().await;
    let backend = Backend::start(Script::Chunks(vec![(
        Duration::ZERO,
        "data: done\n\ndata: half",
    )]))
    .await;
    let (_, sub) = env
        .subscribed_api("Cut", "App", Some(&backend.url()), None)
        .await;
    let resp = env.open("/cut/1.0.0/memory", Some(&sub.production)).await;
    let mut reader = SseReader::new(resp);
    assert_eq!(reader.next_event().await.unwrap().data, "done");
    // Wait until the partial event has reached the client, then revoke.
    while !reader.raw.ends_with(b"data: half") {
        let next = tokio::time::timeout(Duration::from_millis(50), reader.next()).await;
        assert!(next.is_err(), "no item can complete yet: {next:?}");
    }
    env.control()
        .revoke_token(&sub.production, None)
        .await
        .unwrap();
    let items = reader.rest().await;
    assert_eq!(
        items,
        vec![Item::Comment("the access token was revoked".into())]
    );
    assert!(
        reader
            .raw
            .ends_with(b"data: half\n: the access token was revoked\n")
    );
}

#[tokio::test]
async fn a_client_hang_up_on_an_idle_stream_closes_the_backend_connection() {
    let env = TestServer::start().await;
    let (backend, _, sub) = env
        .api_on_backend(
            "Idle",
            "App",
            Script::Chunks(vec![(Duration::ZERO, "data: one\n\n")]),
        )
        .await;
    let target = format!("/idle/1.0.0/memory?access_token={}", sub.production);
    let mut socket = open_stream(env.gateway_addr(), &target, None).await;
    read_until_contains(&mut socket, "data: one").await;
    // The backend is silent from now on: the gateway must notice the hang-up by itself.
    drop(socket);
    backend.wait_hangups(1).await;
}
