//! The node's `/health` and `/metrics` on its gateway port.

use super::*;

#[derive(Clone)]
pub(super) struct StatusState {
    pub(super) telemetry: Telemetry,
    pub(super) control: Control,
    pub(super) link: Link,
    pub(super) control_plane: String,
    pub(super) public_metrics: bool,
}

impl StatusState {
    fn describe(&self) -> (String, serde_json::Value) {
        let link = self.link.get();
        let since = link.unreachable_since.map(crate::mgmt::dto::rfc3339);
        let status = match &since {
            _ if link.withdrawn => {
                "removed by the control plane (or its node token is refused): serving nothing"
                    .to_string()
            }
            Some(since) => format!("control plane unreachable since {since}"),
            None if link.connected => "control plane connected".to_string(),
            None => "control plane not reached yet".to_string(),
        };
        let mut json = serde_json::json!({
            // A load balancer takes a withdrawn node out of rotation.
            "status": if link.withdrawn { "DOWN" } else { "UP" },
            "role": "gateway-node",
            "controlPlane": {
                "url": self.control_plane,
                "connected": link.connected,
                "status": status,
                "unreachableSince": since,
                "lastError": link.last_error,
                "appliedVersion": self.control.applied_position().map(|p| p.version),
            },
        });
        if let Some(quota) = crate::mgmt::quota_store_health(&self.telemetry.metrics().quota_store)
        {
            json["quotaStore"] = quota;
        }
        (status, json)
    }
}

/// `GET /health`: 200 with the node's state, or 503 when the node is withdrawn (removed
/// or refused by the control plane), so a load balancer stops sending it clients.
pub(super) async fn health(State(state): State<StatusState>) -> Response {
    let json = state.describe().1;
    let code = if json["status"] == "DOWN" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, axum::Json(json)).into_response()
}

/// Whether `/metrics` may answer `peer`: any client with `--public-metrics`, else loopback
/// ones only (an unknown peer is not one).
pub(super) fn metrics_allowed(peer: Option<SocketAddr>, public: bool) -> bool {
    public || peer.is_some_and(|p| p.ip().to_canonical().is_loopback())
}

/// `GET /metrics`: Prometheus' text format; 403 to a client beyond loopback unless the
/// node runs with `--public-metrics`.
pub(super) async fn metrics(
    State(state): State<StatusState>,
    request: axum::extract::Request,
) -> Response {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if !metrics_allowed(peer, state.public_metrics) {
        return (
            StatusCode::FORBIDDEN,
            "/metrics answers loopback clients only (it names every API and application); \
             start the node with --public-metrics to serve it to others\n",
        )
            .into_response();
    }
    let (status, _) = state.describe();
    let link = state.link.get();
    let mut text = state.telemetry.metrics().render_prometheus();
    text.push_str(&format!(
        "# {status}\n\
         # HELP streamgate_control_plane_connected Whether this node's configuration feed is connected.\n\
         # TYPE streamgate_control_plane_connected gauge\n\
         streamgate_control_plane_connected {}\n\
         # HELP streamgate_control_plane_unreachable_since_seconds Since when the control plane is unreachable (Unix time; 0: reachable).\n\
         # TYPE streamgate_control_plane_unreachable_since_seconds gauge\n\
         streamgate_control_plane_unreachable_since_seconds {}\n\
         # HELP streamgate_feed_applied_version The configuration feed version this node applied last.\n\
         # TYPE streamgate_feed_applied_version gauge\n\
         streamgate_feed_applied_version {}\n",
        u8::from(link.connected),
        link.unreachable_since.map_or(0, |ms| ms / 1000),
        state.control.applied_position().map_or(0, |p| p.version),
    ));
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_answer_loopback_clients_unless_public() {
        let at = |ip: &str| Some(SocketAddr::new(ip.parse().expect("a test address"), 5000));
        assert!(metrics_allowed(at("127.0.0.1"), false));
        assert!(metrics_allowed(at("::1"), false));
        assert!(metrics_allowed(at("::ffff:127.0.0.1"), false));
        assert!(!metrics_allowed(at("10.0.0.7"), false));
        assert!(!metrics_allowed(at("::ffff:10.0.0.7"), false));
        assert!(!metrics_allowed(None, false));
        assert!(metrics_allowed(at("10.0.0.7"), true));
    }
}
