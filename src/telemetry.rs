//! Traffic events and metrics: what the gateway reports for the terminal UI's live pane
//! (a broadcast) and for Prometheus (`/metrics` on the management address).

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::catalog::Millis;

/// How many traffic events a slow listener may fall behind before it misses some.
pub const TRAFFIC_CHANNEL_CAPACITY: usize = 4096;

/// One thing that happened on the gateway. Sent once per stream transition, never per
/// event, so the data plane's cost does not grow with event rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrafficEvent {
    /// A stream was opened.
    Opened {
        /// Gateway-wide stream number.
        stream_id: u64,
        /// `Name:version` of the API.
        api: String,
        /// The application's name (empty for pre-released APIs called without a token).
        application: String,
        /// PRODUCTION or SANDBOX (empty without a token).
        key_type: String,
        /// The request path.
        path: String,
        /// The client's address.
        client: String,
        /// When.
        at: Millis,
    },
    /// A request was refused.
    Rejected {
        /// The request path.
        path: String,
        /// HTTP status.
        status: u16,
        /// WSO2-style error code, e.g. 900901.
        code: u32,
        /// Why.
        message: String,
        /// The client's address.
        client: String,
        /// When.
        at: Millis,
    },
    /// A stream ended.
    Closed {
        /// Gateway-wide stream number.
        stream_id: u64,
        /// Events delivered on it.
        events: u64,
        /// Why it ended, e.g. `client left`, `quota exhausted`, `token revoked`.
        reason: String,
        /// When.
        at: Millis,
    },
}

/// Counters for Prometheus. Per-(API, application) event counters are handed out once per
/// stream as an `Arc<AtomicU64>`, so counting an event is one atomic add.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Streams open now.
    pub open_streams: AtomicI64,
    /// Streams opened since start.
    pub streams_total: AtomicU64,
    /// Events delivered since start.
    pub events_total: AtomicU64,
    /// Failures connecting to or reading from backends.
    pub backend_errors: AtomicU64,
    /// Failed `accept` calls on the listeners (e.g. EMFILE: out of file descriptors).
    pub accept_errors: AtomicU64,
    /// Connections closed because the client's request head did not arrive in time, or
    /// because its address had too many connections without a complete head.
    pub slow_clients_closed: AtomicU64,
    /// Connections closed because the client read nothing for the send timeout while
    /// data was waiting.
    pub send_timeouts: AtomicU64,
    /// The shared quota store's state and call count (`--redis`).
    pub quota_store: Arc<crate::gateway::QuotaStoreStatus>,
    rejections: Mutex<HashMap<u32, u64>>,
    per_api_app: Mutex<HashMap<(String, String), Arc<AtomicU64>>>,
}

impl Metrics {
    /// Counts a rejection with its code.
    pub fn reject(&self, code: u32) {
        if let Ok(mut map) = self.rejections.lock() {
            *map.entry(code).or_insert(0) += 1;
        }
    }

    /// Rejections so far by code.
    pub fn rejections(&self) -> HashMap<u32, u64> {
        self.rejections
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// The event counter of an (API, application) pair; keep it for the stream's life.
    pub fn events_counter(&self, api: &str, application: &str) -> Arc<AtomicU64> {
        match self.per_api_app.lock() {
            Ok(mut map) => map
                .entry((api.to_string(), application.to_string()))
                .or_default()
                .clone(),
            Err(_) => Arc::default(),
        }
    }

    /// Events delivered per (API, application).
    pub fn events_by_api_app(&self) -> Vec<((String, String), u64)> {
        let mut out: Vec<_> = self
            .per_api_app
            .lock()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// The Prometheus text exposition of every metric.
    pub fn render_prometheus(&self) -> String {
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, kind: &str, value: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        gauge(
            "streamgate_open_streams",
            "SSE streams open through the gateway now.",
            "gauge",
            self.open_streams.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            "streamgate_streams_total",
            "SSE streams opened through the gateway since start.",
            "counter",
            self.streams_total.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            "streamgate_events_delivered_total",
            "SSE events delivered to clients since start.",
            "counter",
            self.events_total.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            "streamgate_backend_errors_total",
            "Failures connecting to or reading from backends.",
            "counter",
            self.backend_errors.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            "streamgate_accept_errors_total",
            "Failed accepts on the listeners (e.g. EMFILE, out of file descriptors).",
            "counter",
            self.accept_errors.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            "streamgate_slow_clients_closed_total",
            "Connections closed for a request head not received in time or too many incomplete heads from one address.",
            "counter",
            self.slow_clients_closed.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            "streamgate_send_timeouts_total",
            "Connections closed because the client stopped reading with data waiting.",
            "counter",
            self.send_timeouts.load(Ordering::Relaxed).to_string(),
        );
        if let Some(up) = self.quota_store.up() {
            gauge(
                "streamgate_quota_store_up",
                "Whether the shared quota store (Redis) answers: 1 up, 0 unavailable.",
                "gauge",
                u8::from(up).to_string(),
            );
            gauge(
                "streamgate_quota_store_operations_total",
                "Calls to the shared quota store (lease, give back, connection rate, ping).",
                "counter",
                self.quota_store
                    .operations
                    .load(Ordering::Relaxed)
                    .to_string(),
            );
            gauge(
                "streamgate_quota_store_failures_total",
                "Calls to the shared quota store that failed or timed out.",
                "counter",
                self.quota_store
                    .failures
                    .load(Ordering::Relaxed)
                    .to_string(),
            );
        }
        let _ = writeln!(
            out,
            "# HELP streamgate_api_events_delivered_total SSE events delivered per API and application.\n# TYPE streamgate_api_events_delivered_total counter"
        );
        for ((api, app), n) in self.events_by_api_app() {
            let _ = writeln!(
                out,
                "streamgate_api_events_delivered_total{{api=\"{}\",application=\"{}\"}} {n}",
                escape_label(&api),
                escape_label(&app)
            );
        }
        let _ = writeln!(
            out,
            "# HELP streamgate_rejections_total Requests refused by the gateway, by error code.\n# TYPE streamgate_rejections_total counter"
        );
        let mut rejections: Vec<_> = self.rejections().into_iter().collect();
        rejections.sort();
        for (code, n) in rejections {
            let _ = writeln!(out, "streamgate_rejections_total{{code=\"{code}\"}} {n}");
        }
        out
    }
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The traffic broadcast plus the metrics. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Telemetry {
    tx: broadcast::Sender<TrafficEvent>,
    metrics: Arc<Metrics>,
    series: Arc<crate::analytics::Series>,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    /// A fresh channel and zeroed metrics.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(TRAFFIC_CHANNEL_CAPACITY);
        Self {
            tx,
            metrics: Arc::default(),
            series: Arc::default(),
        }
    }

    /// Reports a traffic event to whoever listens (nobody listening is fine).
    pub fn report(&self, event: TrafficEvent) {
        let _ = self.tx.send(event);
    }

    /// Listens to traffic events.
    pub fn subscribe(&self) -> broadcast::Receiver<TrafficEvent> {
        self.tx.subscribe()
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The analytics series fed from this telemetry (see [`crate::analytics`]).
    pub fn series(&self) -> &Arc<crate::analytics::Series> {
        &self.series
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_has_every_family_and_escaped_labels() {
        let m = Metrics::default();
        m.open_streams.fetch_add(2, Ordering::Relaxed);
        m.events_counter("Observer:1.0.0", "my \"app\"")
            .fetch_add(7, Ordering::Relaxed);
        m.reject(900901);
        m.reject(900901);
        let text = m.render_prometheus();
        assert!(text.contains("streamgate_open_streams 2"), "{text}");
        assert!(text.contains(
            "streamgate_api_events_delivered_total{api=\"Observer:1.0.0\",application=\"my \\\"app\\\"\"} 7"
        ));
        assert!(text.contains("streamgate_rejections_total{code=\"900901\"} 2"));
    }
}
