//! The gateway's traffic log from a test: the next event, the next rejection.

use streamgate::telemetry::TrafficEvent;
use tokio::sync::broadcast::Receiver;

use super::PATIENCE;

/// The next traffic event, waiting at most [`PATIENCE`].
pub async fn next_traffic(traffic: &mut Receiver<TrafficEvent>) -> TrafficEvent {
    tokio::time::timeout(PATIENCE, traffic.recv())
        .await
        .unwrap()
        .unwrap()
}

/// Asserts that the next traffic event is a rejection with this WSO2 `code`; answers its
/// message.
pub async fn next_rejection(traffic: &mut Receiver<TrafficEvent>, code: u32) -> String {
    match next_traffic(traffic).await {
        TrafficEvent::Rejected {
            code: got, message, ..
        } => {
            assert_eq!(got, code, "{message}");
            message
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// The next rejection in the traffic log, passing over other events: its code and
/// message.
pub async fn rejection(traffic: &mut Receiver<TrafficEvent>) -> (u32, String) {
    loop {
        if let TrafficEvent::Rejected { code, message, .. } = next_traffic(traffic).await {
            return (code, message);
        }
    }
}

/// The next stream end in the traffic log, passing over other events: its reason and the
/// events it delivered. Waits at most [`PATIENCE`].
pub async fn closed(traffic: &mut Receiver<TrafficEvent>) -> (String, u64) {
    tokio::time::timeout(PATIENCE, async {
        loop {
            if let Ok(TrafficEvent::Closed { reason, events, .. }) = traffic.recv().await {
                return (reason, events);
            }
        }
    })
    .await
    .unwrap()
}

impl super::TestServer {
    /// Events delivered through the gateway so far (the `events_total` counter).
    pub fn events_total(&self) -> u64 {
        self.telemetry()
            .metrics()
            .events_total
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Streams opened through the gateway so far (the `streams_total` counter).
    pub fn streams_total(&self) -> u64 {
        self.telemetry()
            .metrics()
            .streams_total
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Streams open on the gateway now (the `open_streams` gauge).
    pub fn open_streams(&self) -> i64 {
        self.telemetry()
            .metrics()
            .open_streams
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Backend failures counted so far (the `backend_errors` counter).
    pub fn backend_errors(&self) -> u64 {
        self.telemetry()
            .metrics()
            .backend_errors
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}
