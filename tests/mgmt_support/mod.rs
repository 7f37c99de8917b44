//! Shared helpers for the management API tests: a real server on 127.0.0.1:0 over a
//! temp data dir, and a client that sends the admin token.
#![allow(clippy::unwrap_used, dead_code)]

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use streamgate::control::{Control, ControlOptions};
use streamgate::mgmt::{self, ADMIN_BASE, DEVPORTAL_BASE, PUBLISHER_BASE};
use streamgate::telemetry::Telemetry;
use tempfile::TempDir;
use tokio::sync::oneshot;

/// The gateway URL handed to the router.
pub const GATEWAY_URL: &str = "http://localhost:8280";

/// A running management API.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The admin token.
    pub token: String,
    /// The service behind it.
    pub control: Control,
    /// Its telemetry.
    pub telemetry: Telemetry,
    /// The data dir (kept alive).
    pub dir: TempDir,
    /// A plain client.
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The server may already be gone.
            let _ = stop.send(());
        }
    }
}

/// Starts the management API on a free port.
pub async fn start() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let control = tokio::task::spawn_blocking(move || Control::open(ControlOptions::new(path)))
        .await
        .unwrap()
        .unwrap();
    let telemetry = Telemetry::new();
    let router = mgmt::router(control.clone(), telemetry.clone(), GATEWAY_URL.to_string());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(mgmt::serve(listener, router, async move {
        let _ = stopped.await;
    }));
    TestServer {
        base: format!("http://{addr}"),
        token: control.admin_token().to_string(),
        control,
        telemetry,
        dir,
        http: reqwest::Client::new(),
        stop: Some(stop),
    }
}

/// `/api/am/publisher/v4{path}`.
pub fn publisher(path: &str) -> String {
    format!("{PUBLISHER_BASE}{path}")
}

/// `/api/am/devportal/v3{path}`.
pub fn devportal(path: &str) -> String {
    format!("{DEVPORTAL_BASE}{path}")
}

/// `/api/am/admin/v4{path}`.
pub fn admin(path: &str) -> String {
    format!("{ADMIN_BASE}{path}")
}

/// The tutorial's API body.
pub fn observer_body() -> Value {
    json!({
        "name": "Observer",
        "context": "/observer",
        "version": "1.0.0",
        "type": "SSE",
        "endpointConfig": {
            "endpoint_type": "http",
            "production_endpoints": {"url": "http://localhost:8080"},
            "sandbox_endpoints": {"url": "http://localhost:8080"}
        }
    })
}

impl TestServer {
    /// A request with the admin token; the body is JSON; answers (status, JSON or Null).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// GET with the admin token.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    /// POST JSON with the admin token.
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// POST without a body, with the admin token.
    pub async fn post_empty(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::POST, path, None).await
    }

    /// PUT JSON with the admin token.
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    /// DELETE with the admin token.
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// A raw request builder without any token.
    pub fn anon(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// Creates the tutorial's API and returns its id.
    pub async fn create_observer(&self) -> String {
        let (status, api) = self.post(&publisher("/apis"), observer_body()).await;
        assert_eq!(status, StatusCode::CREATED, "{api}");
        api["id"].as_str().unwrap().to_string()
    }

    /// The tutorial up to a published, deployed API with AsyncGold; returns its id.
    pub async fn published_observer(&self) -> String {
        let id = self.create_observer().await;
        let (status, body) = self
            .put(
                &publisher(&format!("/apis/{id}")),
                json!({"policies": ["AsyncGold"]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = self
            .post_empty(&publisher(&format!(
                "/apis/change-lifecycle?apiId={id}&action=Publish"
            )))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = self
            .post(
                &publisher(&format!("/apis/{id}/revisions")),
                json!({"description": "first"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let rev = body["id"].as_str().unwrap().to_string();
        let (status, body) = self
            .post(
                &publisher(&format!("/apis/{id}/deploy-revision?revisionId={rev}")),
                json!([{"name": "Production and Sandbox", "vhost": "localhost", "displayOnDevportal": true}]),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        id
    }

    /// Creates an application and subscribes it to `api_id` under AsyncGold; returns the
    /// application's id.
    pub async fn subscribed_app(&self, name: &str, api_id: &str) -> String {
        let (status, app) = self
            .post(
                &devportal("/applications"),
                json!({"name": name, "throttlingPolicy": "Unlimited", "description": "", "tokenType": "JWT"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{app}");
        let app_id = app["applicationId"].as_str().unwrap().to_string();
        let (status, sub) = self
            .post(
                &devportal("/subscriptions"),
                json!({"applicationId": app_id, "apiId": api_id, "throttlingPolicy": "AsyncGold"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{sub}");
        app_id
    }

    /// Generates PRODUCTION keys; answers the ApplicationKey JSON.
    pub async fn generate_keys(&self, app_id: &str) -> Value {
        let (status, keys) = self
            .post(
                &devportal(&format!("/applications/{app_id}/generate-keys")),
                json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"], "validityTime": "3600"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{keys}");
        keys
    }

    /// Posts a form to the token endpoint with Basic client credentials.
    pub async fn token_request(&self, key: &str, secret: &str, form: &str) -> reqwest::Response {
        self.anon(Method::POST, "/oauth2/token")
            .basic_auth(key, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_string())
            .send()
            .await
            .unwrap()
    }
}
