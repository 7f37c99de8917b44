//! https backends (issue 13): platform roots only by default, endpoint certificates
//! trusted for their host:port, reasons for refused handshakes, mutual TLS per API, and
//! the `/endpoint-certificates` REST resource in WSO2's shape.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;

async fn refused_with(env: &TestServer, path: &str, token: &str, reason: &str) {
    let mut traffic = env.telemetry().subscribe();
    let resp = env.open(path, Some(token)).await;
    assert_eq!(resp.status(), 503);
    let body = error_body(resp).await;
    assert_eq!(body["code"], 101503);
    let description = description(&body).to_string();
    assert!(
        !description.contains("TLS") && !description.contains(reason),
        "the client gets no backend details: {description}"
    );
    let (code, message) = rejection(&mut traffic).await;
    assert_eq!(code, 101503);
    assert!(message.contains(reason), "{message}");
}

#[tokio::test]
async fn a_private_ca_backend_is_refused_until_its_ca_is_registered_then_metered_exactly() {
    let env = TestServer::start().await;
    let ca = Ca::new("Private Test CA");
    let backend = TlsBackend::localhost(&ca).await;
    plan_per_minute(env.control(), "Three", 3).await;
    let endpoint = format!("{}/feed", backend.url());
    let api = published_api(env.control(), "Private", Some(&endpoint), None, &["Three"]).await;
    let sub = subscriber(env.control(), "PrivApp", "Unlimited", &api, Some("Three")).await;

    refused_with(
        &env,
        "/private/1.0.0/feed",
        &sub.production,
        "unknown issuer",
    )
    .await;

    env.control()
        .add_endpoint_certificate("private-ca", &backend.url(), &ca.pem)
        .await
        .unwrap();
    let resp = env.open("/private/1.0.0/feed", Some(&sub.production)).await;
    assert_eq!(resp.status(), 200);
    let mut reader = SseReader::new(resp);
    let (events, _) = split(&reader.rest().await);
    assert_eq!(events.len(), 3, "exactly the plan's 3 events: {events:?}");
    backend.wait_hangups(1, PATIENCE).await;

    // Trusted for that host:port only: the same CA does not vouch for another port.
    let other = TlsBackend::localhost(&ca).await;
    let (_, sub2) = env
        .subscribed_api("Other", "OtherApp", Some(&other.url()), None)
        .await;
    refused_with(
        &env,
        "/other/1.0.0/feed",
        &sub2.production,
        "unknown issuer",
    )
    .await;
}

#[tokio::test]
async fn hostname_mismatch_and_expired_certificates_are_refused_with_their_reason() {
    let env = TestServer::start().await;
    let ca = Ca::new("Reasons CA");
    let wrong_name = TlsBackend::start(
        &ca.leaf(&["backend.example"], false),
        None,
        Duration::from_millis(50),
    )
    .await;
    let expired = TlsBackend::start(
        &ca.leaf(&["127.0.0.1"], true),
        None,
        Duration::from_millis(50),
    )
    .await;
    for (alias, backend) in [("wrong", &wrong_name), ("expired", &expired)] {
        env.control()
            .add_endpoint_certificate(alias, &backend.url(), &ca.pem)
            .await
            .unwrap();
    }
    let a = published_api(env.control(), "Wrong", Some(&wrong_name.url()), None, &[]).await;
    let b = published_api(env.control(), "Expired", Some(&expired.url()), None, &[]).await;
    let sa = subscriber(env.control(), "WA", "Unlimited", &a, Some("AsyncUnlimited")).await;
    let sb = subscriber(env.control(), "EA", "Unlimited", &b, Some("AsyncUnlimited")).await;
    refused_with(&env, "/wrong/1.0.0/x", &sa.production, "hostname mismatch").await;
    refused_with(&env, "/expired/1.0.0/x", &sb.production, "expired").await;
}

#[tokio::test]
async fn a_mutual_tls_backend_refuses_without_the_apis_client_certificate_and_serves_with_it() {
    let env = TestServer::start().await;
    let ca = Ca::new("Server CA");
    let client_ca = Ca::new("Client CA");
    let backend = TlsBackend::start(
        &ca.leaf(&["127.0.0.1"], false),
        Some(&client_ca),
        Duration::from_millis(20),
    )
    .await;
    env.control()
        .add_endpoint_certificate("mtls", &backend.url(), &ca.pem)
        .await
        .unwrap();
    let (api, sub) = env
        .subscribed_api("Mutual", "MA", Some(&backend.url()), None)
        .await;
    let resp = env.open("/mutual/1.0.0/x", Some(&sub.production)).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(error_body(resp).await["code"], 101503);

    let identity = client_ca.leaf(&["gateway.test"], false);
    // A key that does not belong to the certificate is refused.
    let stranger = client_ca.leaf(&["other.test"], false);
    assert!(
        env.control()
            .set_backend_client_certificate(&api.id, &identity.cert_pem, &stranger.key_pem)
            .await
            .is_err()
    );
    env.control()
        .set_backend_client_certificate(&api.id, &identity.cert_pem, &identity.key_pem)
        .await
        .unwrap();
    let resp = env.open("/mutual/1.0.0/x", Some(&sub.production)).await;
    assert_eq!(resp.status(), 200);
    let mut reader = SseReader::new(resp);
    let event = reader.next_event().await.unwrap();
    assert_eq!(event.id.as_deref(), Some("1"));
}

#[tokio::test]
async fn the_endpoint_certificates_resource_speaks_wso2s_shape() {
    let env = TestServer::start().await;
    let base = env.mgmt_url() + &publisher("/endpoint-certificates");
    let token = env.admin_token().to_string();
    let ca = Ca::new("REST CA");
    let post = |fields: Vec<(&'static str, String)>| {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (ct, body) = multipart(&fields);
        client()
            .post(&base)
            .bearer_auth(&token)
            .header("content-type", ct)
            .body(body)
            .send()
    };

    let resp = post(vec![
        ("alias", "backend-ca".into()),
        ("endpoint", "https://backend.example:8443".into()),
        ("certificate", ca.pem.clone()),
    ])
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("location"));
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["alias"], "backend-ca");
    assert_eq!(body["endpoint"], "https://backend.example:8443");

    // Duplicate alias: 409.
    let resp = post(vec![
        ("alias", "backend-ca".into()),
        ("endpoint", "https://x.example".into()),
        ("certificate", ca.pem.clone()),
    ])
    .await
    .unwrap();
    assert_eq!(resp.status(), 409);
    // Not a certificate, and an expired one: 400 with WSO2's error body.
    for bad in [
        "hello".to_string(),
        Ca::new("Old CA").leaf(&["x"], true).cert_pem,
    ] {
        let resp = post(vec![
            ("alias", "bad".into()),
            ("endpoint", "https://x.example".into()),
            ("certificate", bad),
        ])
        .await
        .unwrap();
        assert_eq!(resp.status(), 400);
        let err: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(err["code"], 400);
        assert!(description(&err).starts_with("certificate"), "{err}");
    }
    // An endpoint that is not https: 400 (a certificate is never used for it).
    let resp = post(vec![
        ("alias", "plain".into()),
        ("endpoint", "http://x.example:8080".into()),
        ("certificate", ca.pem.clone()),
    ])
    .await
    .unwrap();
    assert_eq!(resp.status(), 400);
    let err: serde_json::Value = resp.json().await.unwrap();
    assert!(description(&err).contains("not an https endpoint"), "{err}");

    let get_json =
        |query: &str| send_json(client().get(format!("{base}{query}")).bearer_auth(&token));
    let list: serde_json::Value = get_json("?endpoint=https://backend.example:8443").await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["certificates"][0]["alias"], "backend-ca");
    let none: serde_json::Value = get_json("?alias=nope").await;
    assert_eq!(none["count"], 0);

    let info: serde_json::Value = get_json("/backend-ca").await;
    assert_eq!(info["status"], "Active");
    assert_eq!(info["version"], "V3");
    assert!(
        info["subject"].as_str().unwrap().contains("CN=REST CA"),
        "{info}"
    );
    assert!(info["validity"]["from"].as_str().unwrap().ends_with('Z'));

    let resp = client()
        .delete(format!("{base}/backend-ca"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = client()
        .get(format!("{base}/backend-ca"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn a_backend_that_stalls_the_handshake_is_refused_as_a_handshake_timeout() {
    let env = TestServer::start().await;
    // Accepts TCP and never says a word of TLS.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _mute = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let (_, sub) = env
        .subscribed_api("Stall", "StallApp", Some(&format!("https://{addr}")), None)
        .await;
    let started = std::time::Instant::now();
    refused_with(&env, "/stall/1.0.0/x", &sub.production, "handshake timeout").await;
    let took = started.elapsed();
    assert!(
        took >= streamgate::tls::client::HANDSHAKE_TIMEOUT && took < Duration::from_secs(13),
        "{took:?}"
    );
}

/// `streamgate cert add ALIAS --endpoint ENDPOINT --file <pem>`, which must succeed.
async fn cert_add(env: &TestServer, alias: &str, endpoint: &str, pem: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c1.pem");
    std::fs::write(&file, pem).unwrap();
    let out = ok(
        env,
        &[
            "cert",
            "add",
            alias,
            "--endpoint",
            endpoint,
            "--file",
            file.to_str().unwrap(),
        ],
    )
    .await;
    assert!(out.contains(alias), "{out}");
}

/// Opens `path` and expects the backend's events.
async fn streams(env: &TestServer, path: &str, token: &str) {
    let resp = env.open(path, Some(token)).await;
    assert_eq!(resp.status(), 200);
    let mut reader = SseReader::new(resp);
    let event = reader.next_event().await.unwrap();
    assert_eq!(event.id.as_deref(), Some("1"));
}

#[tokio::test]
async fn a_self_signed_ca_true_backend_streams_once_cert_add_registered_it() {
    let env = TestServer::start().await;
    // What `openssl req -x509 -newkey ec ... -subj /CN=localhost -addext
    // subjectAltName=DNS:localhost` makes: self-signed, basicConstraints CA:TRUE.
    let leaf = Leaf::self_signed_ca_for(&["localhost"]);
    let backend = TlsBackend::start(&leaf, None, Duration::from_millis(20)).await;
    let endpoint = format!("https://localhost:{}", backend.addr.port());
    let (_, sub) = env
        .subscribed_api("SelfSigned", "SelfApp", Some(&endpoint), None)
        .await;

    // Not registered: refused, and the reason says what to do.
    refused_with(
        &env,
        "/selfsigned/1.0.0/x",
        &sub.production,
        "the server's certificate is a CA certificate",
    )
    .await;
    refused_with(
        &env,
        "/selfsigned/1.0.0/x",
        &sub.production,
        "register that exact certificate with `streamgate cert add`",
    )
    .await;

    cert_add(&env, "sec1", &endpoint, &leaf.cert_pem).await;
    streams(&env, "/selfsigned/1.0.0/x", &sub.production).await;

    // Pinning is by exact match: another CA:TRUE certificate for the same name, served at
    // another port registered with the first one's PEM, is still refused.
    let stranger = TlsBackend::start(
        &Leaf::self_signed_ca_for(&["localhost"]),
        None,
        Duration::from_millis(20),
    )
    .await;
    let other = format!("https://localhost:{}", stranger.addr.port());
    cert_add(&env, "sec2", &other, &leaf.cert_pem).await;
    let (_, sub2) = env
        .subscribed_api("Stranger", "StrangerApp", Some(&other), None)
        .await;
    refused_with(
        &env,
        "/stranger/1.0.0/x",
        &sub2.production,
        "the server's certificate is a CA certificate",
    )
    .await;
}

#[tokio::test]
async fn a_registered_ca_true_certificate_for_another_name_is_a_hostname_mismatch() {
    let env = TestServer::start().await;
    let leaf = Leaf::self_signed_ca_for(&["backend.example"]);
    let backend = TlsBackend::start(&leaf, None, Duration::from_millis(20)).await;
    let endpoint = format!("https://localhost:{}", backend.addr.port());
    cert_add(&env, "wrong-name", &endpoint, &leaf.cert_pem).await;
    let (_, sub) = env
        .subscribed_api("WrongName", "WrongNameApp", Some(&endpoint), None)
        .await;
    refused_with(
        &env,
        "/wrongname/1.0.0/x",
        &sub.production,
        "hostname mismatch",
    )
    .await;
}

#[tokio::test]
async fn a_registered_ca_true_certificate_streams_until_it_expires_then_is_refused_as_expired() {
    let env = TestServer::start().await;
    let not_after = time::OffsetDateTime::now_utc() + time::Duration::seconds(3);
    let leaf = Leaf::self_signed_ca(&["localhost"], not_after);
    let backend = TlsBackend::start(&leaf, None, Duration::from_millis(20)).await;
    let endpoint = format!("https://localhost:{}", backend.addr.port());
    cert_add(&env, "short-lived", &endpoint, &leaf.cert_pem).await;
    let (_, sub) = env
        .subscribed_api("ShortLived", "ShortApp", Some(&endpoint), None)
        .await;
    streams(&env, "/shortlived/1.0.0/x", &sub.production).await;

    let left = not_after - time::OffsetDateTime::now_utc();
    tokio::time::sleep(Duration::from_millis(
        u64::try_from(left.whole_milliseconds().max(0)).unwrap() + 1_500,
    ))
    .await;
    refused_with(&env, "/shortlived/1.0.0/x", &sub.production, "expired").await;
}
