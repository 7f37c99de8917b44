//! Gateway routing and access control over real sockets: the error table, production and
//! sandbox routing, the deployed revision, pre-released APIs, header and query handling,
//! CORS, application rate limits and telemetry.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use streamgate::catalog::{ApiDraft, LifecycleAction, SubscriptionStatus};
use streamgate::keys::AccessClaims;
use streamgate::telemetry::TrafficEvent;

fn events_script() -> Script {
    events("\n", Duration::from_millis(20), Some(3))
}

#[tokio::test]
async fn a_subscribed_production_token_streams_events_from_the_production_endpoint() {
    let env = TestServer::start().await;
    let prod = Backend::start(events_script()).await;
    let sand = Backend::start(events_script()).await;
    let (_, sub) = env
        .subscribed_api("Observer", "App", Some(&prod.url()), Some(&sand.url()))
        .await;

    let resp = env
        .open("/observer/1.0.0/memory", Some(&sub.production))
        .await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(h["content-type"], "text/event-stream");
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(h["x-accel-buffering"], "no");
    let items = SseReader::new(resp).rest().await;
    let (events, _) = split(&items);
    assert_eq!(events, vec![r#"{"n":1}"#, r#"{"n":2}"#, r#"{"n":3}"#]);
    assert_eq!(prod.request_count(), 1);
    assert_eq!(sand.request_count(), 0);
    assert!(prod.last_request().starts_with("GET /memory HTTP/1.1\r\n"));

    let resp = env.open("/observer/1.0.0/memory", Some(&sub.sandbox)).await;
    assert_eq!(resp.status(), 200);
    let (events, _) = split(&SseReader::new(resp).rest().await);
    assert_eq!(events.len(), 3);
    assert_eq!(sand.request_count(), 1);
    assert_eq!(prod.request_count(), 1);
}

#[tokio::test]
async fn a_key_type_without_an_endpoint_answers_403_with_code_900901() {
    let env = TestServer::start().await;
    let (prod, _, sub) = env.api_on_backend("OnlyProd", "App", events_script()).await;
    let resp = env.open("/onlyprod/1.0.0/memory", Some(&sub.sandbox)).await;
    let body = assert_error(resp, 403, 900901).await;
    assert!(
        body["description"]
            .as_str()
            .unwrap()
            .contains("Sandbox key offered to the API with no sandbox endpoint")
    );
    assert_eq!(prod.request_count(), 0);
}

#[tokio::test]
async fn unknown_paths_and_unmatched_topics_answer_404_json() {
    let env = TestServer::start().await;
    let resp = env.open("/nothing/1.0.0/memory", None).await;
    assert_error(resp, 404, 404).await;

    let prod = Backend::start(events_script()).await;
    publish_draft(
        env.control(),
        ApiDraft {
            topics: vec!["/memory".into()],
            ..sse_draft("Topics", prod.url())
        },
    )
    .await;
    let resp = env.open("/topics/1.0.0/cpu", None).await;
    assert_error(resp, 404, 404).await;
    let resp = env.open("/topics/1.0.0/memory", None).await;
    assert_error(resp, 401, 900902).await;
}

#[tokio::test]
async fn created_undeployed_and_retired_apis_answer_404() {
    let env = TestServer::start().await;
    let prod = Backend::start(events_script()).await;
    let api = env
        .control()
        .create_api(sse_draft("Draft", prod.url()))
        .await
        .unwrap();
    // CREATED without a deployment.
    assert_error(env.open("/draft/1.0.0/memory", None).await, 404, 404).await;
    // Published but nothing deployed.
    env.set_lifecycle(&api.id, LifecycleAction::Publish).await;
    assert_error(env.open("/draft/1.0.0/memory", None).await, 404, 404).await;
    // Deployed: it answers (401 without a token).
    let (rev, _) = env
        .control()
        .deploy_new_revision(&api.id, "", &hybrid())
        .await
        .unwrap();
    assert_error(env.open("/draft/1.0.0/memory", None).await, 401, 900902).await;
    // Undeployed again.
    env.control()
        .undeploy_revision(&api.id, &rev.id, &[])
        .await
        .unwrap();
    assert_error(env.open("/draft/1.0.0/memory", None).await, 404, 404).await;
    // Deprecated still serves, retired does not.
    env.control()
        .deploy_revision(&api.id, &rev.id, &hybrid())
        .await
        .unwrap();
    env.set_lifecycle(&api.id, LifecycleAction::Deprecate).await;
    assert_error(env.open("/draft/1.0.0/memory", None).await, 401, 900902).await;
    env.set_lifecycle(&api.id, LifecycleAction::Retire).await;
    assert_error(env.open("/draft/1.0.0/memory", None).await, 404, 404).await;
}

#[tokio::test]
async fn deprecated_apis_keep_serving_their_subscribers() {
    let env = TestServer::start().await;
    let (_prod, api, sub) = env.api_on_backend("Old", "App", events_script()).await;
    env.set_lifecycle(&api.id, LifecycleAction::Deprecate).await;
    let resp = env.open("/old/1.0.0/memory", Some(&sub.production)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(events_of(resp).await.len(), 3);
}

#[tokio::test]
async fn a_blocked_api_answers_503_with_code_700700() {
    let env = TestServer::start().await;
    let (prod, api, sub) = env.api_on_backend("Blocky", "App", events_script()).await;
    env.set_lifecycle(&api.id, LifecycleAction::Block).await;
    let resp = env
        .open("/blocky/1.0.0/memory", Some(&sub.production))
        .await;
    let body = assert_error(resp, 503, 700700).await;
    assert_eq!(body["message"], "API blocked");
    env.set_lifecycle(&api.id, LifecycleAction::RePublish).await;
    let resp = env
        .open("/blocky/1.0.0/memory", Some(&sub.production))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(prod.request_count(), 1);
}

#[tokio::test]
async fn credentials_errors_follow_the_reference_codes() {
    let env = TestServer::start().await;
    let prod = Backend::start(events_script()).await;
    let (_, sub) = env
        .subscribed_api("Secure", "App", Some(&prod.url()), Some(&prod.url()))
        .await;
    let url = env.url("/secure/1.0.0/memory");

    // Missing.
    let resp = get(&url, None).await;
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let body = assert_error(resp, 401, 900902).await;
    assert_eq!(body["message"], "Missing Credentials");
    // Another scheme counts as missing.
    let resp = client()
        .get(&url)
        .basic_auth("a", Some("b"))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, 900902).await;

    let invalid = |resp: reqwest::Response| async move {
        let www = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(www.starts_with("Bearer error=\"invalid_token\""), "{www}");
        let body = assert_error(resp, 401, 900901).await;
        assert_eq!(body["message"], "Invalid Credentials");
        body
    };
    // Tampered: one character of the signature changed.
    let mut tampered = sub.production.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    invalid(get(&url, Some(&tampered)).await).await;
    invalid(get(&url, Some("not-a-jwt")).await).await;

    // Expired, not yet valid, wrong issuer, wrong audience: signed with our own key.
    let claims = env.control().keys().verify(&sub.production).unwrap();
    let now = claims.iat;
    let forge = |f: &dyn Fn(&mut AccessClaims)| {
        let mut c = claims.clone();
        f(&mut c);
        env.control().keys().sign(&c).unwrap()
    };
    let expired = forge(&|c| {
        c.iat = now - 100;
        c.nbf = now - 100;
        c.exp = now - 10;
    });
    let body = invalid(get(&url, Some(&expired)).await).await;
    assert!(body["description"].as_str().unwrap().contains("expired"));
    invalid(get(&url, Some(&forge(&|c| c.nbf = now + 600))).await).await;
    invalid(get(&url, Some(&forge(&|c| c.iss = "https://evil".into()))).await).await;
    invalid(get(&url, Some(&forge(&|c| c.aud = "someone-else".into()))).await).await;

    // Revoked.
    assert!(
        env.control()
            .revoke_token(&sub.production, None)
            .await
            .unwrap()
    );
    let body = invalid(get(&url, Some(&sub.production)).await).await;
    assert!(body["description"].as_str().unwrap().contains("revoked"));
    assert_eq!(prod.request_count(), 0);

    // The sandbox token of the same application still works.
    assert_eq!(get(&url, Some(&sub.sandbox)).await.status(), 200);
}

#[tokio::test]
async fn an_unsubscribed_or_blocked_subscription_answers_403() {
    let env = TestServer::start().await;
    let prod = Backend::start(events_script()).await;
    let api = published_api(
        env.control(),
        "Members",
        Some(&prod.url()),
        Some(&prod.url()),
        &[],
    )
    .await;
    let outsider = subscriber(env.control(), "Outsider", "Unlimited", &api, None).await;
    let url = env.url("/members/1.0.0/memory");
    let body = assert_error(get(&url, Some(&outsider.production)).await, 403, 900908).await;
    assert_eq!(body["message"], "Resource forbidden");

    let member = subscriber(
        env.control(),
        "Member",
        "Unlimited",
        &api,
        Some("AsyncUnlimited"),
    )
    .await;
    let sid = member.subscription_id.clone().unwrap();
    env.control()
        .set_subscription_status(&sid, SubscriptionStatus::ProdOnlyBlocked)
        .await
        .unwrap();
    assert_error(get(&url, Some(&member.production)).await, 403, 900907).await;
    assert_eq!(get(&url, Some(&member.sandbox)).await.status(), 200);
    env.control()
        .set_subscription_status(&sid, SubscriptionStatus::Blocked)
        .await
        .unwrap();
    assert_error(get(&url, Some(&member.sandbox)).await, 403, 900907).await;
    env.control().unsubscribe(&sid).await.unwrap();
    assert_error(get(&url, Some(&member.production)).await, 403, 900908).await;
}

#[tokio::test]
async fn the_gateway_serves_the_deployed_revision_not_the_working_copy() {
    let env = TestServer::start().await;
    let first = Backend::start(events_script()).await;
    let second = Backend::start(events_script()).await;
    let (api, sub) = env
        .subscribed_api("Rev", "App", Some(&first.url()), None)
        .await;
    let mut draft = api.to_draft();
    draft.production_endpoint = Some(second.url());
    env.control().update_api(&api.id, draft).await.unwrap();
    let url = env.url("/rev/1.0.0/memory");
    assert_eq!(get(&url, Some(&sub.production)).await.status(), 200);
    assert_eq!((first.request_count(), second.request_count()), (1, 0));
    env.control()
        .deploy_new_revision(&api.id, "second", &hybrid())
        .await
        .unwrap();
    assert_eq!(get(&url, Some(&sub.production)).await.status(), 200);
    assert_eq!((first.request_count(), second.request_count()), (1, 1));
}

#[tokio::test]
async fn a_pre_released_api_streams_without_a_token() {
    let env = TestServer::start().await;
    let prod = Backend::start(events_script()).await;
    let api = env
        .control()
        .create_api(sse_draft("Proto", prod.url()))
        .await
        .unwrap();
    env.control()
        .deploy_new_revision(&api.id, "", &hybrid())
        .await
        .unwrap();
    env.set_lifecycle(&api.id, LifecycleAction::DeployAsPrototype)
        .await;
    let resp = env.open("/proto/1.0.0/memory", None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(events_of(resp).await.len(), 3);
    // A bad token is still refused.
    assert_error(
        env.open("/proto/1.0.0/memory", Some("junk")).await,
        401,
        900901,
    )
    .await;
}

#[tokio::test]
async fn credentials_stay_at_the_gateway_while_query_and_last_event_id_go_through() {
    let env = TestServer::start().await;
    let (prod, _, sub) = env.api_on_backend("Fwd", "App", events_script()).await;

    // Token in the query, as a browser EventSource sends it.
    let url = env.url(&format!(
        "/fwd/1.0.0/memory?interval=5&access_token={}&x=y",
        sub.production
    ));
    let resp = client()
        .get(&url)
        .header("Last-Event-ID", "41")
        .header("X-Custom", "kept")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (events, _) = split(&SseReader::new(resp).rest().await);
    assert_eq!(events.len(), 3);
    let head = prod.last_request();
    assert!(
        head.starts_with("GET /memory?interval=5&x=y HTTP/1.1\r\n"),
        "{head}"
    );
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("\r\nlast-event-id: 41\r\n"), "{head}");
    assert!(lower.contains("\r\nx-custom: kept\r\n"), "{head}");
    assert!(!lower.contains("access_token"), "{head}");
    assert!(!head.contains(&sub.production), "{head}");

    // Token in the header.
    let resp = env.open("/fwd/1.0.0/memory", Some(&sub.production)).await;
    assert_eq!(resp.status(), 200);
    drop(resp);
    let head = prod.last_request();
    assert!(
        !head.to_ascii_lowercase().contains("authorization"),
        "{head}"
    );
    assert!(!head.contains(&sub.production), "{head}");
}

#[tokio::test]
async fn backend_failures_answer_503_or_pass_the_status_on() {
    let env = TestServer::start().await;
    // A port nobody listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (_, sub) = env.subscribed_api("Dead", "App", Some(&dead), None).await;
    let body = assert_error(
        env.open("/dead/1.0.0/memory", Some(&sub.production)).await,
        503,
        101503,
    )
    .await;
    assert_eq!(body["message"], "Error connecting to the back end");
    // The client is not told where the back end lives.
    assert!(
        !body["description"].as_str().unwrap().contains("127.0.0.1"),
        "{body}"
    );

    // A backend that accepts and never answers: 503 within the connect timeout.
    let (_mute, _, sub2) = env.api_on_backend("Mute", "App2", Script::Mute).await;
    assert_error(
        env.open("/mute/1.0.0/memory", Some(&sub2.production)).await,
        503,
        101503,
    )
    .await;

    let (_missing, _, sub3) = env
        .api_on_backend("Missing", "App3", Script::Status(404))
        .await;
    let resp = env
        .open("/missing/1.0.0/memory", Some(&sub3.production))
        .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.text().await.unwrap(), "{\"status\":404}");

    let m = env.telemetry().metrics();
    assert!(m.backend_errors.load(std::sync::atomic::Ordering::Relaxed) >= 3);
    assert_eq!(m.rejections().get(&101503), Some(&2));
}

#[tokio::test]
async fn cors_preflight_and_responses_let_another_origin_open_the_stream() {
    let env = TestServer::start().await;
    let (prod, _, sub) = env.api_on_backend("Cors", "App", events_script()).await;
    let url = env.url("/cors/1.0.0/memory");
    let resp = preflight(
        &url,
        "http://page.example",
        Some("authorization, last-event-id"),
    )
    .await;
    assert!(resp.status().is_success());
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("last-event-id"),
        "{allowed}"
    );
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("GET")
    );
    assert_eq!(prod.request_count(), 0);

    let resp = get_from(&url, "http://page.example", Some(&sub.production)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    // Errors carry CORS too, so the page can read them.
    let resp = get_from(&url, "http://page.example", None).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn application_policies_limit_connection_requests_per_minute() {
    let env = TestServer::start().await;
    let prod = Backend::start(events_script()).await;
    app_policy_per_minute(env.control(), "Two", 2).await;
    let api = published_api(
        env.control(),
        "Rate",
        Some(&prod.url()),
        Some(&prod.url()),
        &[],
    )
    .await;
    let sub = subscriber(env.control(), "App", "Two", &api, Some("AsyncUnlimited")).await;
    let url = env.url("/rate/1.0.0/memory");
    assert_eq!(get(&url, Some(&sub.production)).await.status(), 200);
    assert_eq!(get(&url, Some(&sub.sandbox)).await.status(), 200);
    let resp = get(&url, Some(&sub.production)).await;
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let body = assert_error(resp, 429, 900803).await;
    assert_eq!(body["message"], "Message throttled out");
    assert_eq!(prod.request_count(), 2);
}

#[tokio::test]
async fn traffic_events_and_metrics_record_streams_and_rejections() {
    let env = TestServer::start().await;
    let mut traffic = env.telemetry().subscribe();
    let (_prod, _, sub) = env
        .api_on_backend("Watched", "Viewer", events_script())
        .await;
    let url = env.url("/watched/1.0.0/memory");
    assert_eq!(get(&url, None).await.status(), 401);
    let resp = get(&url, Some(&sub.production)).await;
    assert_eq!(events_of(resp).await.len(), 3);

    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen.push(next_traffic(&mut traffic).await);
    }
    assert!(matches!(
        &seen[0],
        TrafficEvent::Rejected {
            status: 401,
            code: 900902,
            ..
        }
    ));
    match &seen[1] {
        TrafficEvent::Opened {
            api,
            application,
            key_type,
            path,
            ..
        } => {
            assert_eq!(api, "Watched:1.0.0");
            assert_eq!(application, "Viewer");
            assert_eq!(key_type, "PRODUCTION");
            assert_eq!(path, "/watched/1.0.0/memory");
        }
        other => panic!("{other:?}"),
    }
    match &seen[2] {
        TrafficEvent::Closed { events, reason, .. } => {
            assert_eq!(*events, 3);
            assert_eq!(reason, "the backend ended the stream");
        }
        other => panic!("{other:?}"),
    }
    let text = env.telemetry().metrics().render_prometheus();
    assert!(text.contains("streamgate_open_streams 0"), "{text}");
    assert!(
        text.contains("streamgate_events_delivered_total 3"),
        "{text}"
    );
    assert!(
        text.contains(
            "streamgate_api_events_delivered_total{api=\"Watched:1.0.0\",application=\"Viewer\"} 3"
        ),
        "{text}"
    );
    assert!(
        text.contains("streamgate_rejections_total{code=\"900902\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn only_get_is_served() {
    let env = TestServer::start().await;
    let (prod, _, sub) = env.api_on_backend("Verbs", "App", events_script()).await;
    let resp = client()
        .post(env.url("/verbs/1.0.0/memory"))
        .bearer_auth(&sub.production)
        .send()
        .await
        .unwrap();
    assert_error(resp, 405, 405).await;
    assert_eq!(prod.request_count(), 0);
}

#[tokio::test]
async fn an_https_endpoint_is_refused_with_the_reason_until_trusted_then_streams() {
    let env = TestServer::start().await;
    let ca = Ca::new("Gateway Test CA");
    let backend = TlsBackend::localhost(&ca).await;
    let mut traffic = env.telemetry().subscribe();
    let endpoint = format!("{}/feed", backend.url());
    let (_, sub) = env
        .subscribed_api("Secure", "Sec", Some(&endpoint), None)
        .await;
    assert_error(
        env.open("/secure/1.0.0/memory", Some(&sub.production))
            .await,
        503,
        101503,
    )
    .await;
    let message = next_rejection(&mut traffic, 101503).await;
    assert!(message.contains("unknown issuer"), "{message}");
    env.control()
        .add_endpoint_certificate("gateway-test-ca", &backend.url(), &ca.pem)
        .await
        .unwrap();
    let resp = env
        .open("/secure/1.0.0/memory", Some(&sub.production))
        .await;
    assert_eq!(resp.status(), 200);
    let mut reader = SseReader::new(resp);
    let event = reader.next_event().await.unwrap();
    assert_eq!(event.id.as_deref(), Some("1"));
}
