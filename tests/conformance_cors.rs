//! Per-API CORS (WSO2's `corsConfiguration`) over real sockets and through the Publisher
//! REST API, and the CORS and redirect cases with a real browser: headless Chromium runs a
//! page served from a second origin whose `EventSource` opens a stream through the gateway.
//! Without `chromium` the browser tests say they are skipped and pass, unless
//! `STREAMGATE_REQUIRE_BROWSER=1`.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use streamgate::catalog::{Api, CorsConfiguration};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

fn cors(origins: &[&str], credentials: bool) -> CorsConfiguration {
    CorsConfiguration {
        cors_configuration_enabled: true,
        access_control_allow_origins: origins.iter().map(|s| s.to_string()).collect(),
        access_control_allow_credentials: credentials,
        access_control_allow_headers: Vec::new(),
        access_control_allow_methods: Vec::new(),
    }
}

/// Sets the API's CORS configuration and deploys it in a new revision.
async fn deploy_cors(env: &TestServer, api: &Api, config: CorsConfiguration) {
    env.control().set_api_cors(&api.id, config).await.unwrap();
    env.control()
        .deploy_new_revision(&api.id, "cors", &hybrid())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_allowed_origin_is_echoed_with_credentials_and_others_are_refused_before_the_backend() {
    let env = TestServer::start().await;
    let (backend, api, sub) = env
        .api_on_backend("Cred", "A", events("\n", Duration::from_millis(5), Some(2)))
        .await;
    deploy_cors(&env, &api, cors(&["http://page.example:8000"], true)).await;
    let url = env.url("/cred/1.0.0/x");

    let pre = preflight(&url, "http://page.example:8000", Some("last-event-id")).await;
    assert_eq!(pre.status(), 200);
    let h = pre.headers();
    assert_eq!(h["access-control-allow-origin"], "http://page.example:8000");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert!(h["vary"].to_str().unwrap().contains("origin"));
    assert_eq!(h.get_all("vary").iter().count(), 1, "one Vary: {h:?}");

    let resp = get_from(&url, "http://page.example:8000", Some(&sub.production)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "http://page.example:8000"
    );
    assert_eq!(resp.headers()["access-control-allow-credentials"], "true");
    assert_eq!(resp.headers()["vary"], "origin");
    assert_eq!(events_of(resp).await.len(), 2);
    let metered = env.events_total();
    assert_eq!(metered, 2);
    let calls = backend.request_count();

    let resp = get_from(&url, "http://evil.example", Some(&sub.production)).await;
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    assert_eq!(error_body(resp).await["code"], 403);
    let pre = preflight(&url, "http://evil.example", None).await;
    assert_eq!(pre.status(), 403);
    assert_eq!(backend.request_count(), calls, "the backend was called");
    assert_eq!(env.events_total(), metered);

    // No Origin (curl): served as before.
    let resp = get(&url, Some(&sub.production)).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn without_a_configuration_any_origin_is_allowed_as_before() {
    let env = TestServer::start().await;
    let (_backend, _, sub) = env
        .api_on_backend("Open", "A", events("\n", Duration::from_millis(5), Some(1)))
        .await;
    let resp = get_from(
        &env.url("/open/1.0.0/x"),
        "http://any.example",
        Some(&sub.production),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert!(
        resp.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
}

#[tokio::test]
async fn the_publisher_api_stores_and_returns_cors_configuration() {
    let env = TestServer::start().await;
    let control = env.control();
    let body = serde_json::json!({
        "name": "Corsy", "context": "/corsy", "version": "1.0.0", "type": "SSE",
        "endpointConfig": {"endpoint_type": "http", "production_endpoints": {"url": "http://localhost:8080"}},
        "corsConfiguration": {
            "corsConfigurationEnabled": true,
            "accessControlAllowOrigins": ["https://app.example"],
            "accessControlAllowCredentials": true,
            "accessControlAllowHeaders": ["authorization", "last-event-id"],
            "accessControlAllowMethods": ["GET"]
        }
    });
    let (_, created) = env.post(&publisher("/apis"), body.clone()).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["corsConfiguration"], body["corsConfiguration"]);
    let api_path = publisher(&format!("/apis/{id}"));
    let (_, got) = env.get(&api_path).await;
    assert_eq!(got["corsConfiguration"], body["corsConfiguration"]);
    // A revision keeps the configuration of its time.
    control
        .deploy_new_revision(&id, "first", &hybrid())
        .await
        .unwrap();
    let mut update = got.clone();
    update["corsConfiguration"]["accessControlAllowOrigins"] =
        serde_json::json!(["https://other.example"]);
    let (status, updated) = env.put(&api_path, update).await;
    assert_eq!(status, 200);
    assert_eq!(
        updated["corsConfiguration"]["accessControlAllowOrigins"],
        serde_json::json!(["https://other.example"])
    );
    let snapshot = control.snapshot();
    let revision = snapshot
        .revisions
        .values()
        .find(|r| r.api_id == id)
        .unwrap();
    assert_eq!(
        revision.snapshot.cors.access_control_allow_origins,
        vec!["https://app.example"]
    );
    // Credentials with any origin is refused: browsers would refuse it anyway.
    let mut bad = got.clone();
    bad["corsConfiguration"]["accessControlAllowOrigins"] = serde_json::json!(["*"]);
    let (status, _) = env.put(&api_path, bad).await;
    assert_eq!(status, 400);
    // An update without the field keeps the configuration.
    let mut plain = got.clone();
    plain.as_object_mut().unwrap().remove("corsConfiguration");
    plain["description"] = "changed".into();
    let (_, kept) = env.put(&api_path, plain).await;
    assert_eq!(
        kept["corsConfiguration"]["accessControlAllowOrigins"],
        serde_json::json!(["https://other.example"])
    );
}

// ---- The browser ----

/// The Chromium binary, or `None` (skip) when it is not installed and not required.
fn chromium() -> Option<String> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let found = std::process::Command::new("which")
            .arg(name)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        if let Some(path) = found {
            return Some(path);
        }
    }
    if std::env::var("STREAMGATE_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("STREAMGATE_REQUIRE_BROWSER=1 but chromium is not installed");
    }
    eprintln!("skipped: chromium is not installed (set STREAMGATE_REQUIRE_BROWSER=1 to fail)");
    None
}

/// Serves `page` at every path on a second origin; returns its origin.
async fn page_server(page: String) -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let page = page.clone();
            tokio::spawn(async move {
                if read_head(&mut socket).await.is_none() {
                    return;
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = socket.write_all(resp.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (origin, task)
}

/// A page whose `EventSource` reads two events from `stream_url` and writes the outcome
/// into `<pre id="out">`: `events:a,b` or `error:...`.
fn event_source_page(stream_url: &str, with_credentials: bool) -> String {
    format!(
        r#"<!doctype html><html><body><pre id="out">pending</pre><script>
const out = document.getElementById('out');
const got = [];
const es = new EventSource({stream_url:?}, {{withCredentials: {with_credentials}}});
es.onmessage = (e) => {{ got.push(e.data); if (got.length === 2) {{ out.textContent = 'events:' + got.join(','); es.close(); }} }};
es.onerror = () => {{ if (got.length < 2) {{ out.textContent = 'error:' + got.join(','); es.close(); }} }};
</script></body></html>"#
    )
}

/// Loads `page_url` in headless Chromium and returns the text of `<pre id="out">`.
async fn run_in_browser(browser: &str, page_url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = tokio::time::timeout(
        Duration::from_secs(90),
        tokio::process::Command::new(browser)
            .args(HEADLESS_FLAGS)
            .args([
                "--disable-dev-shm-usage",
                &format!("--user-data-dir={}", profile.path().display()),
                "--virtual-time-budget=15000",
                "--dump-dom",
                page_url,
            ])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("chromium finishes")
    .unwrap();
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    let start = dom.find("<pre id=\"out\">").unwrap_or_else(|| {
        panic!(
            "no result in the page: {dom}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    }) + "<pre id=\"out\">".len();
    let end = dom[start..].find("</pre>").unwrap() + start;
    dom[start..end].to_string()
}

#[tokio::test]
async fn a_browser_streams_with_credentials_from_an_allowed_origin_only() {
    let Some(browser) = chromium() else {
        return;
    };
    let env = TestServer::start().await;
    let (backend, api, sub) = env
        .api_on_backend("Web", "A", events("\n", Duration::from_millis(50), Some(2)))
        .await;
    let stream_url = format!(
        "{}?access_token={}",
        env.url("/web/1.0.0/x"),
        sub.production
    );
    let (origin, _page) = page_server(event_source_page(&stream_url, true)).await;

    // Default CORS (`*`): the browser refuses a credentialed stream.
    assert!(
        run_in_browser(&browser, &origin)
            .await
            .starts_with("error:")
    );

    // Allowed with credentials: the browser reads both events.
    deploy_cors(&env, &api, cors(&[&origin], true)).await;
    assert_eq!(
        run_in_browser(&browser, &origin).await,
        r#"events:{"n":1},{"n":2}"#
    );
    let metered = env.events_total();

    // Another origin only: refused before the backend, nothing metered.
    let calls = backend.request_count();
    deploy_cors(&env, &api, cors(&["http://elsewhere.example"], true)).await;
    assert!(
        run_in_browser(&browser, &origin)
            .await
            .starts_with("error:")
    );
    assert_eq!(backend.request_count(), calls);
    assert_eq!(env.events_total(), metered);
}

#[tokio::test]
async fn a_browser_follows_a_backend_redirect_through_the_gateway() {
    let Some(browser) = chromium() else {
        return;
    };
    let env = TestServer::start().await;
    // The backend redirects /start to /events on its own origin; the gateway follows.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend_url = format!("http://{}", listener.local_addr().unwrap());
    let _backend = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Some(head) = read_head(&mut socket).await else {
                    return;
                };
                let resp = if head.starts_with("GET /events") {
                    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\ndata: one\n\ndata: two\n\n"
                } else {
                    "HTTP/1.1 307 Temporary Redirect\r\nLocation: /events\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                };
                let _ = socket.write_all(resp.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    let (_, sub) = env
        .subscribed_api("Moved", "A", Some(&backend_url), None)
        .await;
    let stream_url = format!(
        "{}?access_token={}",
        env.url("/moved/1.0.0/start"),
        sub.production
    );
    let (origin, _page) = page_server(event_source_page(&stream_url, false)).await;
    assert_eq!(run_in_browser(&browser, &origin).await, "events:one,two");
    assert_eq!(env.events_total(), 2);
}
