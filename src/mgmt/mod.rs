//! The management REST API: WSO2 API Manager 4.x's Publisher v4, Developer Portal v3 and
//! Admin v4 routes (streamgate's subset), the OAuth2 key manager, health and metrics. A thin
//! translation to [`Control`]; every `/api/am/...` and `/scim2/...` route needs a token
//! with the scopes [`auth::ROUTE_SCOPES`] gives it.

mod admin;
pub mod analytics;
pub mod asyncapi;
pub mod auth;
mod devportal;
pub mod dto;
pub mod endpoint_certificates;
mod error;
pub mod nodes;
mod oauth;
mod publisher;
pub mod scim;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, Method, Uri, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::control::Control;
use crate::gateway::listener::ListenerOptions;
use crate::telemetry::Telemetry;

pub use error::{ApiError, Json, OptionalJson, Query};

/// The management API's default address, as WSO2's (plain HTTP here).
pub const DEFAULT_ADDR: &str = "127.0.0.1:9443";
/// Where the Publisher API is mounted.
pub const PUBLISHER_BASE: &str = "/api/am/publisher/v4";
/// Where the Developer Portal API is mounted.
pub const DEVPORTAL_BASE: &str = "/api/am/devportal/v3";
/// Where the Admin API is mounted.
pub const ADMIN_BASE: &str = "/api/am/admin/v4";
/// The largest request body read (bodies here are small JSON documents).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler needs.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) control: Control,
    pub(crate) telemetry: Telemetry,
    /// The gateway's public URL, e.g. `http://localhost:8280`, for the URLs we hand out.
    pub(crate) gateway_url: Arc<str>,
}

/// The management API's routes. `gateway_url` is the gateway's public URL (e.g.
/// `http://localhost:8280`), used for the Developer Portal's endpoint URLs and AsyncAPI.
pub fn router(control: Control, telemetry: Telemetry, gateway_url: String) -> Router {
    let state = AppState {
        control,
        telemetry,
        gateway_url: Arc::from(gateway_url.trim_end_matches('/')),
    };
    let protected = Router::new()
        .nest(
            PUBLISHER_BASE,
            with_json_405(publisher::routes().merge(endpoint_certificates::routes())),
        )
        .nest(DEVPORTAL_BASE, with_json_405(devportal::routes()))
        .nest(
            ADMIN_BASE,
            with_json_405(admin::routes().merge(nodes::admin_routes())),
        )
        .merge(with_json_405(scim::routes()))
        .merge(with_json_405(analytics::routes()))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_scopes,
        ));
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .merge(with_json_405(oauth::routes()))
        .merge(with_json_405(nodes::feed_routes()))
        .merge(protected)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

fn with_json_405(router: Router<AppState>) -> Router<AppState> {
    router.method_not_allowed_fallback(method_not_allowed)
}

/// Serves `router` on `listener` until `shutdown` resolves, with the default slow-client
/// limits ([`ListenerOptions::default`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(
        listener,
        router,
        ListenerOptions::default(),
        Arc::default(),
        shutdown,
    )
    .await
}

/// Serves `router` on `listener` until `shutdown` resolves, with `options`' header read
/// and send timeouts and per-address cap; accept failures and closed slow clients are
/// counted in `metrics` (the `/metrics` figures).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    router: Router,
    options: ListenerOptions,
    metrics: Arc<crate::telemetry::Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::gateway::listener::serve(listener, router, options, metrics, shutdown).await
}

async fn health(State(state): State<AppState>) -> Response {
    let mut health = serde_json::json!({"status": "UP"});
    // The process is up either way; the quota store's state is shown beside it.
    if let Some(quota) = quota_store_health(&state.telemetry.metrics().quota_store) {
        health["quotaStore"] = quota;
    }
    axum::Json(health).into_response()
}

/// The quota store's part of `/health` (control plane and gateway nodes alike):
/// `{"status": "UP"}`, or `{"status": "DOWN", "downSince": RFC 3339}`; `None` without a
/// store (`--redis`).
pub(crate) fn quota_store_health(
    store: &crate::gateway::QuotaStoreStatus,
) -> Option<serde_json::Value> {
    let up = store.up()?;
    let mut quota = serde_json::json!({"status": if up { "UP" } else { "DOWN" }});
    if !up {
        let since = store.down_since.load(std::sync::atomic::Ordering::Relaxed);
        quota["downSince"] = serde_json::json!(crate::mgmt::dto::rfc3339(since));
    }
    Some(quota)
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.telemetry.metrics().render_prometheus(),
    )
        .into_response()
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError {
        status: axum::http::StatusCode::NOT_FOUND,
        code: 404,
        message: "Not Found".to_string(),
        description: format!("no resource at {method} {}", uri.path()),
        challenge: None,
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError {
        status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
        code: 405,
        message: "Method Not Allowed".to_string(),
        description: format!("{} does not accept {method}", uri.path()),
        challenge: None,
    }
}

/// Compares in time independent of where the strings differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The API named by an id or `Name:version`, or 404.
fn api_or_404<'a>(
    catalog: &'a crate::control::Snapshot,
    id: &str,
) -> Result<&'a crate::catalog::Api, ApiError> {
    catalog
        .find_api(id)
        .ok_or_else(|| ApiError::not_found("API", id))
}

/// The application named by an id or name if `who` owns it (admin: any), or 404.
fn app_or_404<'a>(
    catalog: &'a crate::control::Snapshot,
    who: &crate::control::Principal,
    id: &str,
) -> Result<&'a crate::catalog::Application, ApiError> {
    catalog
        .application_for(who, id)
        .ok_or_else(|| ApiError::not_found("application", id))
}

/// `GET /environments` of the Publisher and Admin APIs: every gateway environment, each
/// in that API's view (`EnvironmentDto::for_publisher` or `for_admin`), in WSO2's list
/// envelope.
fn environment_list(
    state: &AppState,
    view: fn(&crate::catalog::Environment, &str) -> dto::EnvironmentDto,
) -> axum::Json<dto::ListDto<dto::EnvironmentDto>> {
    let catalog = state.control.snapshot();
    axum::Json(dto::ListDto::new(
        catalog
            .environments
            .iter()
            .map(|e| view(e, &state.gateway_url))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
