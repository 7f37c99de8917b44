//! The management API from a test: calls with the admin token, and the tutorial's steps
//! through WSO2's Publisher, Developer Portal and OAuth2 routes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use streamgate::mgmt::{ADMIN_BASE, DEVPORTAL_BASE, PUBLISHER_BASE};

use super::TestServer;

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

/// An SSE API's Publisher body: `name` at `context` 1.0.0, production (and, when given,
/// sandbox) endpoint, under `policies` when not empty.
pub fn api_body(
    name: &str,
    context: &str,
    production: &str,
    sandbox: Option<&str>,
    policies: &[&str],
) -> Value {
    let mut endpoints = json!({
        "endpoint_type": "http",
        "production_endpoints": {"url": production}
    });
    if let Some(sandbox) = sandbox {
        endpoints["sandbox_endpoints"] = json!({"url": sandbox});
    }
    let mut body = json!({
        "name": name,
        "context": context,
        "version": "1.0.0",
        "type": "SSE",
        "endpointConfig": endpoints
    });
    if !policies.is_empty() {
        body["policies"] = json!(policies);
    }
    body
}

/// The tutorial's API body (Observer at /observer, both endpoints on localhost:8080).
pub fn observer_body() -> Value {
    api_body(
        "Observer",
        "/observer",
        "http://localhost:8080",
        Some("http://localhost:8080"),
        &[],
    )
}

/// An application's Developer Portal body.
pub fn application_body(name: &str) -> Value {
    json!({"name": name, "throttlingPolicy": "Unlimited", "description": "", "tokenType": "JWT"})
}

/// The `field` of every item in a WSO2 list answer's `list`.
pub fn list_field<'a>(answer: &'a Value, field: &str) -> Vec<&'a str> {
    answer["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|item| item[field].as_str())
        .collect()
}

/// The credentials of an application's PRODUCTION keys and the token the
/// client-credentials grant gave for them.
pub struct Credentials {
    pub consumer_key: String,
    pub consumer_secret: String,
    pub access_token: String,
}

impl TestServer {
    /// A request with the admin token; the body is JSON; answers (status, JSON, or the
    /// text as a JSON string, or Null when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as(Some(self.admin_token()), method, path, body)
            .await
    }

    /// [`TestServer::call`] with this bearer token, or none.
    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.mgmt_url()));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
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

    /// POST JSON with the admin token, asserting `expected`; answers the body.
    pub async fn post_expect(&self, path: &str, body: Value, expected: StatusCode) -> Value {
        let (status, value) = self.post(path, body).await;
        assert_eq!(status, expected, "{path}: {value}");
        value
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

    /// A raw request builder to the management API without any token.
    pub fn anon(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.mgmt_url()))
    }

    /// Creates an API from a Publisher body and returns its id.
    pub async fn create_api(&self, body: Value) -> String {
        let api = self
            .post_expect(&publisher("/apis"), body, StatusCode::CREATED)
            .await;
        api["id"].as_str().unwrap().to_string()
    }

    /// Creates the tutorial's API and returns its id.
    pub async fn create_observer(&self) -> String {
        self.create_api(observer_body()).await
    }

    /// Publishes `id`, makes a first revision and deploys it to the tutorial's environment.
    pub async fn publish_and_deploy(&self, id: &str) {
        expect_status(self.change_lifecycle(id, "Publish").await, StatusCode::OK);
        let rev = expect_status(self.create_revision(id, "first").await, StatusCode::CREATED);
        let rev = rev["id"].as_str().unwrap().to_string();
        expect_status(
            self.deploy_revision(id, &rev, hybrid_deployment()).await,
            StatusCode::OK,
        );
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
        self.publish_and_deploy(&id).await;
        id
    }

    /// Creates an application and subscribes it to `api_id` under `plan`; answers the
    /// application's id and the subscription's id.
    pub async fn subscribe_new_app(
        &self,
        name: &str,
        api_id: &str,
        plan: &str,
    ) -> (String, String) {
        let app = self
            .post_expect(
                &devportal("/applications"),
                application_body(name),
                StatusCode::CREATED,
            )
            .await;
        let app_id = app["applicationId"].as_str().unwrap().to_string();
        let sub = self
            .post_expect(
                &devportal("/subscriptions"),
                json!({"applicationId": app_id, "apiId": api_id, "throttlingPolicy": plan}),
                StatusCode::CREATED,
            )
            .await;
        let sub_id = sub["subscriptionId"].as_str().unwrap().to_string();
        (app_id, sub_id)
    }

    /// Creates an application and subscribes it to `api_id` under AsyncGold; returns the
    /// application's id.
    pub async fn subscribed_app(&self, name: &str, api_id: &str) -> String {
        self.subscribe_new_app(name, api_id, "AsyncGold").await.0
    }

    /// Generates PRODUCTION keys; answers the ApplicationKey JSON.
    pub async fn generate_keys(&self, app_id: &str) -> Value {
        self.post_expect(
            &devportal(&format!("/applications/{app_id}/generate-keys")),
            json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"], "validityTime": "3600"}),
            StatusCode::OK,
        )
        .await
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

    /// PRODUCTION keys for `app_id` and a token from the client-credentials grant, as curl
    /// would get it.
    pub async fn credentials(&self, app_id: &str) -> Credentials {
        let keys = self.generate_keys(app_id).await;
        let consumer_key = keys["consumerKey"].as_str().unwrap().to_string();
        let consumer_secret = keys["consumerSecret"].as_str().unwrap().to_string();
        let resp = self
            .token_request(
                &consumer_key,
                &consumer_secret,
                "grant_type=client_credentials",
            )
            .await;
        assert_eq!(resp.status(), 200);
        let granted: Value = resp.json().await.unwrap();
        Credentials {
            consumer_key,
            consumer_secret,
            access_token: granted["access_token"].as_str().unwrap().to_string(),
        }
    }
}

/// The tutorial's deployment body for `deploy-revision`: the hybrid environment on
/// localhost, shown on the Developer Portal.
pub fn hybrid_deployment() -> Value {
    json!([{"name": "Production and Sandbox", "vhost": "localhost", "displayOnDevportal": true}])
}

/// Asserts a management answer's `status` (showing the body when it differs); answers the
/// body.
#[track_caller]
pub fn expect_status(answer: (StatusCode, Value), status: StatusCode) -> Value {
    let (got, body) = answer;
    assert_eq!(got, status, "{body}");
    body
}

/// The `description` of a WSO2 error body.
#[track_caller]
pub fn description(err: &Value) -> &str {
    err["description"]
        .as_str()
        .unwrap_or_else(|| panic!("no description: {err}"))
}

/// Asserts a WSO2 error answer: `status` and a description starting with `prefix` (as
/// `name:` for the field a validation error names). Answers the body.
#[track_caller]
pub fn assert_refused(answer: (StatusCode, Value), status: StatusCode, prefix: &str) -> Value {
    let err = expect_status(answer, status);
    assert!(description(&err).starts_with(prefix), "{err}");
    err
}

/// Asserts a WSO2 error answer: `status` and a description containing `part`. Answers the
/// body.
#[track_caller]
pub fn assert_refused_naming(answer: (StatusCode, Value), status: StatusCode, part: &str) -> Value {
    let err = expect_status(answer, status);
    assert!(description(&err).contains(part), "{err}");
    err
}

impl TestServer {
    /// `POST /apis/change-lifecycle?apiId={id}&action={action}` (the action as given, not
    /// encoded).
    pub async fn change_lifecycle(&self, id: &str, action: &str) -> (StatusCode, Value) {
        self.post_empty(&publisher(&format!(
            "/apis/change-lifecycle?apiId={id}&action={action}"
        )))
        .await
    }

    /// `POST /apis/{id}/revisions` with this description.
    pub async fn create_revision(&self, id: &str, description: &str) -> (StatusCode, Value) {
        self.post(
            &publisher(&format!("/apis/{id}/revisions")),
            json!({ "description": description }),
        )
        .await
    }

    /// `POST /apis/{id}/deploy-revision?revisionId={revision}` with `body`.
    pub async fn deploy_revision(
        &self,
        id: &str,
        revision: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        self.post(
            &publisher(&format!("/apis/{id}/deploy-revision?revisionId={revision}")),
            body,
        )
        .await
    }
}

impl TestServer {
    /// POST `body` as it is, with the admin token and this content type.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: String,
    ) -> reqwest::Response {
        self.anon(Method::POST, path)
            .bearer_auth(self.admin_token())
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }
}
