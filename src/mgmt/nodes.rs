//! Gateway nodes: the Admin resource `/api/am/admin/v4/gateway-nodes` (streamgate's own;
//! WSO2 has none, scope `apim:admin`) and the configuration feed the nodes read.
//!
//! The feed, `GET /internal/gateway/v1/feed` with the node token as Bearer, is an SSE
//! stream (`text/event-stream`): on connect an event `snapshot` whose id is the feed
//! position (`EPOCH-VERSION`) and whose data is the [`ReplicaState`] as one JSON line;
//! then a new `snapshot` event after every change of the catalog, and a `: keep-alive`
//! comment every [`FEED_KEEPALIVE`]. A `Last-Event-ID` equal to the current position skips
//! the first snapshot. The stream ends with `: node removed` when the node's credential is
//! removed. Nodes report their status with `POST /internal/gateway/v1/status`
//! ([`NodeReport`] as JSON, 204).
//!
//! [`ReplicaState`]: crate::control::ReplicaState

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};

use super::dto::{ListDto, rfc3339};
use super::{ApiError, AppState, Json};
use crate::control::{Control, NodeReport, NodeStatus};

/// The Admin API path of the gateway nodes, below [`super::ADMIN_BASE`].
pub const NODES_PATH: &str = "/gateway-nodes";
/// The feed's path.
pub const FEED_PATH: &str = "/internal/gateway/v1/feed";
/// The header of the feed's 401 answer naming the refusing control plane's token-signing
/// key id (the `kid` of the tokens it signs), so a node can tell its own control plane from
/// one started on another data dir.
pub const SIGNING_KEY_ID_HEADER: &str = "streamgate-signing-key-id";
/// The path nodes report their status to.
pub const STATUS_PATH: &str = "/internal/gateway/v1/status";
/// The SSE event type of a full snapshot.
pub const SNAPSHOT_EVENT: &str = "snapshot";
/// How often the feed writes a keep-alive comment; a node that hears nothing for three
/// times this reconnects.
pub const FEED_KEEPALIVE: Duration = Duration::from_secs(5);

/// A gateway node as the Admin API shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayNodeDto {
    /// The node's name.
    pub name: String,
    /// When its credential was created (RFC 3339).
    pub created_time: String,
    /// Its last heartbeat (RFC 3339), if any since the control plane started.
    pub last_seen: Option<String>,
    /// Whether it holds a feed connection now.
    pub connected: bool,
    /// The feed version it last applied.
    pub applied_version: Option<u64>,
    /// Where its gateway listens.
    pub address: Option<String>,
    /// Streams open on it, as it last reported.
    pub open_streams: i64,
}

impl From<&NodeStatus> for GatewayNodeDto {
    fn from(n: &NodeStatus) -> Self {
        GatewayNodeDto {
            name: n.name.clone(),
            created_time: rfc3339(n.created_at),
            last_seen: n.last_seen.map(rfc3339),
            connected: n.connected,
            applied_version: n.report.applied_version,
            address: n.report.address.clone(),
            open_streams: n.report.open_streams,
        }
    }
}

/// The body of `POST /gateway-nodes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayNodeIn {
    /// The node's name.
    pub name: String,
}

/// The answer of `POST /gateway-nodes` (201): the token, shown this once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedGatewayNodeDto {
    /// The node's name.
    pub name: String,
    /// The bearer token the node presents to the feed (`sgn_...`).
    pub token: String,
    /// When it was created (RFC 3339).
    pub created_time: String,
}

pub(super) fn admin_routes() -> Router<AppState> {
    Router::new()
        .route(NODES_PATH, get(list_nodes).post(add_node))
        .route("/gateway-nodes/{name}", delete(remove_node))
}

pub(super) fn feed_routes() -> Router<AppState> {
    Router::new()
        .route(FEED_PATH, get(feed))
        .route(STATUS_PATH, post(status))
}

async fn list_nodes(State(state): State<AppState>) -> axum::Json<ListDto<GatewayNodeDto>> {
    axum::Json(ListDto::new(
        state.control.nodes().iter().map(Into::into).collect(),
    ))
}

async fn add_node(
    State(state): State<AppState>,
    Json(body): Json<GatewayNodeIn>,
) -> Result<Response, ApiError> {
    let issued = state.control.add_node(&body.name).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedGatewayNodeDto {
            name: issued.name,
            token: issued.token,
            created_time: rfc3339(issued.created_at),
        }),
    )
        .into_response())
}

async fn remove_node(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.control.remove_node(&name).await?;
    Ok(StatusCode::OK)
}

/// The node named by the request's bearer token, or 401.
fn node_of(control: &Control, headers: &HeaderMap) -> Result<String, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .ok_or_else(|| {
            ApiError::unauthorized(
                900902,
                "Missing Credentials",
                "send `Authorization: Bearer <node token>` (from `streamgate node add NAME`)",
            )
        })?;
    control.authenticate_node(token).ok_or_else(|| {
        ApiError::unauthorized(
            900901,
            "Invalid Credentials",
            "the node token is unknown or its node was removed",
        )
    })
}

async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(report): Json<NodeReport>,
) -> Result<StatusCode, ApiError> {
    let name = node_of(&state.control, &headers)?;
    if state.control.report_node(&name, report) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("gateway node", &name))
    }
}

async fn feed(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let control = state.control.clone();
    let name = match node_of(&control, &headers) {
        Ok(name) => name,
        Err(refused) => {
            // Says which control plane refused: a node empties itself only when it is the
            // one it follows (same signing key), not a control plane on another data dir.
            let mut answer = refused.into_response();
            if let Ok(kid) = HeaderValue::from_str(control.keys().kid()) {
                answer.headers_mut().insert(SIGNING_KEY_ID_HEADER, kid);
            }
            return Ok(answer);
        }
    };
    let guard = control
        .node_feed_opened(&name)
        .ok_or_else(|| ApiError::not_found("gateway node", &name))?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        let _guard = guard;
        let mut view_rx = control.watch_view();
        let mut nodes_rx = control.watch_nodes();
        let mut closing = control.watch_feed_closings();
        let mut sent = resume;
        let mut keepalive = tokio::time::interval(FEED_KEEPALIVE);
        keepalive.tick().await;
        loop {
            let position = control.feed_position().to_string();
            if sent.as_deref() != Some(position.as_str()) {
                let state = control.feed_state();
                let id = state.position.to_string();
                let data = match serde_json::to_string(&state) {
                    Ok(data) => data,
                    Err(e) => {
                        tracing::error!("feed: cannot encode the snapshot: {e}");
                        return;
                    }
                };
                let event = format!(
                    "event: {SNAPSHOT_EVENT}\n{}",
                    crate::sse::event_bytes(Some(&id), &data)
                );
                if tx.send(Ok(event.into())).await.is_err() {
                    return;
                }
                sent = Some(id);
                continue;
            }
            tokio::select! {
                changed = view_rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                changed = nodes_rx.changed() => {
                    if changed.is_err() || !control.node_exists(&name) {
                        tracing::info!(node = %name, "feed: node removed; closing its feed");
                        let _ = tx.send(Ok(crate::sse::comment("node removed"))).await;
                        return;
                    }
                }
                _ = closing.changed() => {
                    let _ = tx.send(Ok(crate::sse::comment("control plane shutting down"))).await;
                    return;
                }
                _ = keepalive.tick() => {
                    if tx.send(Ok(crate::sse::comment("keep-alive"))).await.is_err() {
                        return;
                    }
                }
                () = tx.closed() => return,
            }
        }
    });
    let body = axum::body::Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response())
}
