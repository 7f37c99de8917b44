//! Bad input on the gateway's request line and headers, written as raw bytes (reqwest
//! would normalise the paths): dot segments plain and percent-encoded, double slashes,
//! encoded slashes, invalid UTF-8, very long paths and headers, many query parameters; and
//! a property test over generated paths. No panic, a precise 4xx, nothing changed, and the
//! backend never sees a request it should not.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use proptest::prelude::*;
use streamgate::catalog::ApiDraft;

fn script() -> Script {
    events("\n", Duration::from_millis(5), Some(2))
}

/// An API whose endpoint has a base path and whose one topic is `/memory/*`, so escaping
/// either would show in what the backend is asked for.
async fn fenced(env: &TestServer, backend: &Backend) -> Subscriber {
    let api = publish_draft(
        env.control(),
        ApiDraft {
            topics: vec!["/memory/*".into()],
            ..sse_draft("Fenced", format!("{}/base/v1", backend.url()))
        },
    )
    .await;
    subscriber(
        env.control(),
        "App",
        "Unlimited",
        &api,
        Some("AsyncUnlimited"),
    )
    .await
}

fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}")
}

/// A server with the [`fenced`] API on a backend of two events, and its subscriber.
struct Fence {
    env: TestServer,
    backend: Backend,
    sub: Subscriber,
    /// The production token's `Authorization` header line.
    auth: String,
}

impl Fence {
    async fn start() -> Fence {
        let env = TestServer::start().await;
        let backend = Backend::start(script()).await;
        let sub = fenced(&env, &backend).await;
        let auth = bearer(&sub.production);
        Fence {
            env,
            backend,
            sub,
            auth,
        }
    }

    /// Sends GET `target` with these header lines, as raw bytes.
    async fn send(&self, target: &[u8], headers: &[&[u8]]) -> RawResponse {
        raw_exchange(self.env.gateway_addr(), get_request(target, headers)).await
    }

    /// Sends GET `target` with the production token in the header.
    async fn get(&self, target: &[u8]) -> RawResponse {
        self.send(target, &[self.auth.as_bytes()]).await
    }

    /// Asserts that `target` is served and reaches the backend as `forwarded` (its request
    /// line starts `GET {forwarded} HTTP/1.1`).
    async fn assert_forwarded(&self, target: &[u8], forwarded: &str) {
        let resp = self.get(target).await;
        assert_eq!(resp.status, 200, "{}", resp.head);
        let last = self.backend.last_request();
        assert!(
            last.starts_with(&format!("GET {forwarded} HTTP/1.1\r\n")),
            "{last}"
        );
    }
}

/// Asserts the gateway's own JSON 400 (code 400).
fn assert_bad_request(resp: &RawResponse, what: &str) {
    assert_eq!(resp.status, 400, "{what}: {}", resp.head);
    let body = resp.json();
    assert_eq!(body["code"], 400, "{what}: {body}");
    assert_eq!(body["message"], "Bad Request", "{what}");
    assert!(body["description"].as_str().is_some_and(|d| !d.is_empty()));
}

#[tokio::test]
async fn the_fenced_resource_reaches_the_endpoints_base_path() {
    let f = Fence::start().await;
    f.assert_forwarded(b"/fenced/1.0.0/memory/heap?x=1", "/base/v1/memory/heap?x=1")
        .await;
    // Outside the topic.
    let resp = f.get(b"/fenced/1.0.0/admin").await;
    assert_eq!(resp.status, 404);
    assert_eq!(f.backend.request_count(), 1);
}

#[tokio::test]
async fn dot_segments_and_encoded_slashes_are_refused_before_the_backend() {
    let Fence {
        env, backend, sub, ..
    } = Fence::start().await;
    let auth = bearer(&sub.production);
    let before = env.control().snapshot();
    let targets: &[&str] = &[
        // Out of the topic and out of the endpoint's base path.
        "/fenced/1.0.0/memory/../../../admin",
        "/fenced/1.0.0/memory/../admin",
        "/fenced/1.0.0/memory/%2e%2e/%2E%2E/admin",
        "/fenced/1.0.0/memory/.%2e/admin",
        "/fenced/1.0.0/memory/%2e./admin",
        "/fenced/1.0.0/memory/%2E%2e",
        "/fenced/1.0.0/memory/..",
        "/fenced/1.0.0/memory/./heap",
        "/fenced/1.0.0/memory/%2e/heap",
        "/fenced/1.0.0/memory/..%2f..%2fadmin",
        "/fenced/1.0.0/memory/..%2F..%2Fadmin",
        "/fenced/1.0.0/memory/..%5c..%5cadmin",
        "/fenced/1.0.0/memory//heap",
        "/fenced/1.0.0//memory/heap",
        "/fenced//1.0.0/memory/heap",
        "//fenced/1.0.0/memory/heap",
        "/fenced/1.0.0/../../fenced/1.0.0/memory",
        "/other/../fenced/1.0.0/memory",
        "/fenced/1.0.0/memory/..;/..;/admin",
        "/fenced/1.0.0/memory/%2e%2e;x=1/admin",
        // A raw backslash, which a URL parser takes for '/'.
        "/fenced/1.0.0/memory/..\\..\\admin",
        "/fenced/1.0.0/memory\\..\\..\\admin",
    ];
    for target in targets {
        let resp = raw_exchange(
            env.gateway_addr(),
            get_request(target.as_bytes(), &[auth.as_bytes()]),
        )
        .await;
        assert_bad_request(&resp, target);
        // Also with the token in the query, and with none.
        let with_query = format!("{target}?access_token={}", sub.production);
        let resp = raw_exchange(env.gateway_addr(), get_request(with_query.as_bytes(), &[])).await;
        assert_bad_request(&resp, &with_query);
        let resp = raw_exchange(env.gateway_addr(), get_request(target.as_bytes(), &[])).await;
        assert_bad_request(&resp, target);
    }
    assert_eq!(backend.request_count(), 0, "{}", backend.last_request());
    assert!(
        Arc::ptr_eq(&before, &env.control().snapshot()),
        "the catalog changed"
    );
    assert_eq!(env.streams_total(), 0);
    assert_eq!(
        env.telemetry().metrics().rejections().get(&400),
        Some(&(3 * targets.len() as u64))
    );
}

#[tokio::test]
async fn bytes_that_are_no_uri_get_http_400_before_routing() {
    let f = Fence::start().await;
    let targets: &[&[u8]] = &[
        b"/fenced/1.0.0/memory/\xff\xfe",
        b"/fenced/1.0.0/memory/\xc0\xaf",
        b"/fenced/1.0.0/memory/a b",
        b"/fenced/1.0.0/memory/\x00",
        b"/fenced/1.0.0/memory/\x7f",
        b"/fenced/1.0.0/memory/<script>",
    ];
    for target in targets {
        let resp = f.get(target).await;
        let shown = String::from_utf8_lossy(target);
        eprintln!(
            "{shown:?} -> {} {:?}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        );
    }
    assert_eq!(f.backend.request_count(), 0, "{}", f.backend.last_request());
}

#[tokio::test]
async fn raw_utf8_and_quotes_are_passed_on_percent_encoded() {
    Fence::start()
        .await
        .assert_forwarded(
            b"/fenced/1.0.0/memory/caf\xc3\xa9/a\"b",
            "/base/v1/memory/caf%C3%A9/a%22b",
        )
        .await;
}

#[tokio::test]
async fn percent_encoded_invalid_utf8_is_passed_on_verbatim() {
    Fence::start()
        .await
        .assert_forwarded(
            b"/fenced/1.0.0/memory/%ff%fe%00?q=%c0%af",
            "/base/v1/memory/%ff%fe%00?q=%c0%af",
        )
        .await;
}

#[tokio::test]
async fn oversized_paths_and_headers_get_414_or_431() {
    let f = Fence::start().await;
    let auth = &f.auth;

    // A long but acceptable path is served.
    let long = format!("/fenced/1.0.0/memory/{}", "a".repeat(8 * 1024));
    let resp = f.get(long.as_bytes()).await;
    assert_eq!(resp.status, 200, "{}", resp.head);

    // Paths past what a URI may be (64 KiB): 414; past what a request head may be
    // (about 400 KiB): 431.
    for (len, status) in [(70 * 1024, 414), (300 * 1024, 414), (2 * 1024 * 1024, 431)] {
        let huge = format!("/fenced/1.0.0/memory/{}", "a".repeat(len));
        let resp = f.get(huge.as_bytes()).await;
        assert_eq!(resp.status, status, "{len}: {}", resp.head);
    }
    // One huge header, and very many small ones.
    let big = format!("X-Big: {}", "b".repeat(1024 * 1024));
    let resp = f
        .send(b"/fenced/1.0.0/memory", &[auth.as_bytes(), big.as_bytes()])
        .await;
    assert_eq!(resp.status, 431, "{}", resp.head);
    let many: Vec<String> = (0..500).map(|i| format!("X-H{i}: {i}")).collect();
    let mut lines: Vec<&[u8]> = many.iter().map(|h| h.as_bytes()).collect();
    lines.push(auth.as_bytes());
    let resp = f.send(b"/fenced/1.0.0/memory", &lines).await;
    assert_eq!(resp.status, 431, "{}", resp.head);
    // A huge token that fits in a request head: read, and refused as a token.
    let token = format!("Authorization: Bearer {}", "t".repeat(300 * 1024));
    let resp = f.send(b"/fenced/1.0.0/memory", &[token.as_bytes()]).await;
    assert_eq!(resp.status, 401, "{}", resp.head);
    assert_eq!(resp.json()["code"], 900901);
    assert_eq!(f.backend.request_count(), 1);
}

#[tokio::test]
async fn many_query_parameters_go_through_and_many_tokens_are_refused() {
    let f = Fence::start().await;
    let query: Vec<String> = (0..5000).map(|i| format!("p{i}={i}")).collect();
    let query = query.join("&");
    let target = format!("/fenced/1.0.0/memory?{query}");
    let resp = f.get(target.as_bytes()).await;
    assert_eq!(resp.status, 200, "{}", resp.head);
    assert!(
        f.backend
            .last_request()
            .contains(&format!("?{query} HTTP/1.1"))
    );

    let tokens: Vec<String> = (0..50)
        .map(|_| format!("access_token={}", f.sub.production))
        .collect();
    let target = format!("/fenced/1.0.0/memory?{}", tokens.join("&"));
    let resp = f.send(target.as_bytes(), &[]).await;
    assert_eq!(resp.status, 400, "{}", resp.head);
    assert_eq!(resp.json()["code"], 400);
    assert_eq!(f.backend.request_count(), 1);
}

/// One path segment, from the alphabet of trouble.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("memory".to_string()),
        Just("..".to_string()),
        Just(".".to_string()),
        Just(String::new()),
        Just("%2e%2e".to_string()),
        Just("%2E.".to_string()),
        Just(".%2e".to_string()),
        Just("%2e".to_string()),
        Just("..%2f".to_string()),
        Just("%2F".to_string()),
        Just("%5C".to_string()),
        Just("..;".to_string()),
        Just(".;x=1".to_string()),
        Just("a\\b".to_string()),
        Just("\\".to_string()),
        Just("%ff".to_string()),
        Just("fenced".to_string()),
        Just("1.0.0".to_string()),
        Just("...".to_string()),
        Just(".hidden".to_string()),
        "[a-zA-Z0-9_~!$&'()*+,;=:@-]{1,12}",
        "[a-z]{200,2000}",
    ]
}

/// What the gateway must answer to `path` (sent without a token): the oracle is written
/// from the documented rules, not from the implementation.
fn expected(path: &str) -> u16 {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let inner_empty = segments
        .iter()
        .take(segments.len().saturating_sub(1))
        .any(|s| s.is_empty());
    let decoded: Vec<String> = segments
        .iter()
        .map(|s| {
            s.split(';')
                .next()
                .unwrap()
                .replace("%2e", ".")
                .replace("%2E", ".")
        })
        .collect();
    let dots = decoded.iter().any(|s| s == "." || s == "..");
    let lower = path.to_ascii_lowercase();
    let separators = lower.contains("%2f") || lower.contains("%5c") || path.contains('\\');
    if inner_empty || dots || separators {
        return 400;
    }
    if path == "/fenced/1.0.0" || path.starts_with("/fenced/1.0.0/") {
        let resource = &path["/fenced/1.0.0".len()..];
        if resource.starts_with("/memory/") || resource == "/memory" {
            return 401;
        }
    }
    404
}

#[test]
fn generated_paths_get_their_documented_answer_and_change_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let Fence { env, backend, .. } = rt.block_on(Fence::start());
    let before = env.control().snapshot();
    let config = ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(segments in proptest::collection::vec(segment(), 0..8), query in "[a-z0-9=&%]{0,40}")| {
        let path = format!("/{}", segments.join("/"));
        let target = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
        let want = expected(&path);
        let resp = rt.block_on(raw_exchange(env.gateway_addr(), get_request(target.as_bytes(), &[])));
        prop_assert_eq!(resp.status, want, "{} -> {}", target, resp.head);
        let body = resp.json();
        let code: u64 = match want {
            401 => 900902,
            other => u64::from(other),
        };
        prop_assert_eq!(&body["code"], code, "{}", target);
    });
    assert_eq!(backend.request_count(), 0);
    assert!(Arc::ptr_eq(&before, &env.control().snapshot()));
    assert_eq!(env.streams_total(), 0);
    drop(rt);
}
