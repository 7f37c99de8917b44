//! The management API's router called in process with `tower::ServiceExt::oneshot`, without
//! a socket (as axum's `examples/testing`): one test per API it serves (health and metrics,
//! Publisher v4, Developer Portal v3, Admin v4, OAuth2), each through `mgmt::router` with
//! its real state over a temp data dir.
#![allow(clippy::unwrap_used)]

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::*;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use streamgate::control::{Control, ControlOptions};
use streamgate::mgmt;
use streamgate::telemetry::Telemetry;
use tempfile::TempDir;
use tower::ServiceExt;

/// The gateway URL the router hands out.
const GATEWAY_URL: &str = "http://localhost:8280";

/// The router over a new temp data dir, its `Control` and admin token.
fn router() -> (TempDir, Control, Router) {
    let dir = tempfile::tempdir().unwrap();
    let control = Control::open(ControlOptions::new(dir.path())).unwrap();
    let router = mgmt::router(control.clone(), Telemetry::new(), GATEWAY_URL.to_string());
    (dir, control, router)
}

/// One request through `router` without a socket; `token` goes in as a bearer token and
/// `body` as JSON. Answers the status, the content type and the body (JSON, or the text
/// as a JSON string).
async fn oneshot(
    router: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, String, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, content_type, value)
}

#[tokio::test]
async fn health_and_metrics_answer_without_a_token() {
    let (_dir, _control, router) = router();
    let (status, _, body) = oneshot(&router, Method::GET, "/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "UP"}));
    let (status, content_type, body) = oneshot(&router, Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(
        body.as_str()
            .unwrap()
            .contains("# TYPE streamgate_open_streams gauge"),
        "{body}"
    );
}

#[tokio::test]
async fn the_publisher_router_creates_an_api_for_the_admin_token_only() {
    let (_dir, control, router) = router();
    let (status, _, body) = oneshot(
        &router,
        Method::POST,
        &publisher("/apis"),
        None,
        Some(observer_body()),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(control.snapshot().apis.is_empty());
    let (status, _, api) = oneshot(
        &router,
        Method::POST,
        &publisher("/apis"),
        Some(control.admin_token()),
        Some(observer_body()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{api}");
    assert_eq!(api["name"], "Observer");
    assert_eq!(api["lifeCycleStatus"], "CREATED");
    let id = api["id"].as_str().unwrap();
    assert!(control.snapshot().apis.contains_key(id));
}

#[tokio::test]
async fn the_devportal_router_creates_and_lists_applications() {
    let (_dir, control, router) = router();
    let token = Some(control.admin_token());
    let (status, _, app) = oneshot(
        &router,
        Method::POST,
        &devportal("/applications"),
        token,
        Some(application_body("Watcher")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{app}");
    let (status, _, list) = oneshot(
        &router,
        Method::GET,
        &devportal("/applications"),
        token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["count"], 1);
    assert_eq!(list["list"][0]["applicationId"], app["applicationId"]);
    assert_eq!(list["list"][0]["name"], "Watcher");
}

#[tokio::test]
async fn the_admin_router_lists_the_built_in_subscription_plans() {
    let (_dir, control, router) = router();
    let (status, _, plans) = oneshot(
        &router,
        Method::GET,
        &admin("/throttling/policies/subscription"),
        Some(control.admin_token()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{plans}");
    let names = list_field(&plans, "policyName");
    assert!(names.contains(&"AsyncGold"), "{plans}");
}

#[tokio::test]
async fn the_oauth_router_publishes_the_signing_key_and_refuses_unknown_clients() {
    let (_dir, control, router) = router();
    let (status, _, jwks) = oneshot(&router, Method::GET, "/oauth2/jwks", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(kids.contains(&control.keys().kid()), "{jwks}");
    let request = Request::builder()
        .method(Method::POST)
        .uri("/oauth2/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(
            "grant_type=client_credentials&client_id=nobody&client_secret=x",
        ))
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error"], "invalid_client");
}
