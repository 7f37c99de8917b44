//! Traffic events and metrics: what the gateway reports for the terminal UI's live pane
//! and the analytics sampler (a batched broadcast) and for Prometheus (`/metrics` on the
//! management address).
//!
//! Reporting a traffic event takes no lock: with nobody listening it is one atomic load;
//! otherwise the event goes onto a lock-free bounded queue, and one dispatcher task
//! (started by the first [`Telemetry::subscribe`]) broadcasts whatever has queued up as
//! one batch, so the broadcast's lock is taken once per batch, not once per stream.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, mpsc};

use crate::catalog::Millis;
use crate::gateway::Reject;
use crate::pair_key::PairKey;

/// How many traffic events a slow listener may fall behind before it misses some; also
/// how many may wait for the dispatcher before new ones are dropped (and counted as missed).
pub const TRAFFIC_CHANNEL_CAPACITY: usize = 4096;

/// The most events the dispatcher puts in one batch.
const MAX_TRAFFIC_BATCH: usize = 1024;

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

/// One (API, application) pair's counters, handed out once per stream (see
/// [`Metrics::pair_counters`]): counting an event, an open or a close is one atomic add.
/// The analytics sampler reads them once a second, so streams cost the analytics nothing
/// per open or close.
#[derive(Debug, Default)]
pub struct PairCounters {
    /// SSE events delivered.
    pub events: AtomicU64,
    /// Streams opened.
    pub streams_opened: AtomicU64,
    /// Streams open now.
    pub open_streams: AtomicI64,
    /// Streams that ended because their backend failed (connection lost, or the stream
    /// ended in the middle of an event).
    pub backend_errors: AtomicU64,
}

impl PairCounters {
    /// Counts a stream opened (and open until [`PairCounters::closed`]).
    pub fn opened(&self) {
        self.streams_opened.fetch_add(1, Ordering::Relaxed);
        self.open_streams.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a stream closed; `backend_failed` when its backend failed.
    pub fn closed(&self, backend_failed: bool) {
        self.open_streams.fetch_sub(1, Ordering::Relaxed);
        if backend_failed {
            self.backend_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counters now.
    pub fn reading(&self) -> PairReading {
        PairReading {
            events: self.events.load(Ordering::Relaxed),
            streams_opened: self.streams_opened.load(Ordering::Relaxed),
            open_streams: self.open_streams.load(Ordering::Relaxed),
            backend_errors: self.backend_errors.load(Ordering::Relaxed),
        }
    }
}

/// A reading of [`PairCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PairReading {
    /// SSE events delivered since start.
    pub events: u64,
    /// Streams opened since start.
    pub streams_opened: u64,
    /// Streams open at the reading.
    pub open_streams: i64,
    /// Streams ended by a backend failure since start.
    pub backend_errors: u64,
}

/// Counters for Prometheus. Per-(API, application) counters are handed out once per
/// stream as an `Arc<PairCounters>`, so counting an event is one atomic add.
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
    /// Rejections by code, one counter per code in [`Reject::CODES`] (same order).
    rejections: [AtomicU64; Reject::CODES.len()],
    /// Rejections with a code outside [`Reject::CODES`] (none today; kept so any code
    /// counts).
    other_rejections: Mutex<HashMap<u32, u64>>,
    per_api_app: Mutex<crate::fast_map::FastHashMap<(String, String), Arc<PairCounters>>>,
    /// The gateway's worker threads' loads, in worker order, once they run
    /// (`--gateway-workers`; unset when the plain port shares the process's runtime).
    pub workers: std::sync::OnceLock<Vec<Arc<crate::gateway::workers::WorkerLoad>>>,
}

impl Metrics {
    /// Counts a rejection with its WSO2 error code: one atomic add for the codes of
    /// [`Reject`] ([`Reject::CODES`]).
    pub fn reject(&self, code: u32) {
        match Reject::CODES.iter().position(|c| *c == code) {
            Some(i) => {
                self.rejections[i].fetch_add(1, Ordering::Relaxed);
            }
            None => {
                if let Ok(mut map) = self.other_rejections.lock() {
                    *map.entry(code).or_insert(0) += 1;
                }
            }
        }
    }

    /// Rejections so far by code (codes never counted are absent).
    pub fn rejections(&self) -> HashMap<u32, u64> {
        let mut out = self
            .other_rejections
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        for (code, n) in Reject::CODES.iter().zip(&self.rejections) {
            let n = n.load(Ordering::Relaxed);
            if n > 0 {
                *out.entry(*code).or_insert(0) += n;
            }
        }
        out
    }

    /// The counters of an (API, application) pair; keep them for the stream's life.
    /// Allocates only the first time a pair is seen.
    pub fn pair_counters(&self, api: &str, application: &str) -> Arc<PairCounters> {
        let Ok(mut map) = self.per_api_app.lock() else {
            return Arc::default();
        };
        if let Some(counters) = map.get(&(api, application) as &dyn PairKey) {
            return counters.clone();
        }
        map.entry((api.to_string(), application.to_string()))
            .or_default()
            .clone()
    }

    /// Every (API, application) pair's counters now, sorted by pair.
    pub fn pairs(&self) -> Vec<((String, String), PairReading)> {
        let mut out: Vec<_> = self
            .per_api_app
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.reading())).collect())
            .unwrap_or_default();
        out.sort_by(|a, b| a.0.cmp(&b.0));
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
        if let Some(workers) = self.workers.get() {
            let now = std::time::Instant::now();
            let _ = writeln!(
                out,
                "# HELP streamgate_gateway_worker_accepted_total Connections each gateway worker thread accepted on the plain port.\n# TYPE streamgate_gateway_worker_accepted_total counter"
            );
            for (k, load) in workers.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "streamgate_gateway_worker_accepted_total{{worker=\"{k}\"}} {}",
                    load.accepted()
                );
            }
            let _ = writeln!(
                out,
                "# HELP streamgate_gateway_worker_busy_seconds_total Seconds each gateway worker thread's event loop was busy (not waiting for events).\n# TYPE streamgate_gateway_worker_busy_seconds_total counter"
            );
            for (k, load) in workers.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "streamgate_gateway_worker_busy_seconds_total{{worker=\"{k}\"}} {:.6}",
                    load.busy_at(now).as_secs_f64()
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP streamgate_api_events_delivered_total SSE events delivered per API and application.\n# TYPE streamgate_api_events_delivered_total counter"
        );
        for ((api, app), reading) in self.pairs() {
            let n = reading.events;
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

/// One batch of traffic events as broadcast: the events and the number of the first
/// (numbers run on across batches, so a listener can tell how many it missed).
#[derive(Debug)]
struct TrafficBatch {
    first: u64,
    events: Vec<TrafficEvent>,
}

/// The traffic broadcast plus the metrics. Cheap to clone (one `Arc`).
#[derive(Debug, Clone)]
pub struct Telemetry {
    shared: Arc<Shared>,
}

/// What every clone of a [`Telemetry`] shares. The dispatcher holds clones of some parts,
/// never this, so it ends once the last `Telemetry` (and with it the queue's sender) is gone.
#[derive(Debug)]
struct Shared {
    /// Where [`Telemetry::report`] puts events (lock-free `try_send`).
    queue: mpsc::Sender<TrafficEvent>,
    /// The queue's other end, until the first subscriber starts the dispatcher.
    pending_dispatch: Mutex<Option<mpsc::Receiver<TrafficEvent>>>,
    /// Events dropped because the queue was full, not yet told to listeners.
    dropped: Arc<AtomicU64>,
    /// The number the dispatcher gives the next event it broadcasts (drops aside).
    dispatched: Arc<AtomicU64>,
    /// Batched listeners of every event alive now.
    listeners: Arc<AtomicUsize>,
    /// Batched listeners of rejections only alive now.
    rejection_listeners: Arc<AtomicUsize>,
    /// The batched broadcast.
    tx: broadcast::Sender<Arc<TrafficBatch>>,
    /// The one-by-one broadcast of [`Telemetry::subscribe`].
    each: broadcast::Sender<TrafficEvent>,
    /// Whether [`Telemetry::subscribe`] was ever called.
    each_listened: std::sync::atomic::AtomicBool,
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
        let (queue, rx) = mpsc::channel(TRAFFIC_CHANNEL_CAPACITY);
        let (each, _) = broadcast::channel(TRAFFIC_CHANNEL_CAPACITY);
        let shared = Shared {
            each,
            each_listened: Default::default(),
            queue,
            pending_dispatch: Mutex::new(Some(rx)),
            dropped: Arc::default(),
            dispatched: Arc::default(),
            listeners: Arc::default(),
            rejection_listeners: Arc::default(),
            tx,
            metrics: Arc::default(),
            series: Arc::default(),
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// Reports a traffic event to whoever listens. Takes no lock: with nobody listening
    /// (no batched listener alive and [`Telemetry::subscribe`] never called; for stream
    /// openings and closings, no listener of every event) the event is dropped at once;
    /// when the dispatcher is [`TRAFFIC_CHANNEL_CAPACITY`] events behind it is dropped
    /// and listeners are told they missed it.
    pub fn report(&self, event: TrafficEvent) {
        let wanted = match event {
            TrafficEvent::Rejected { .. } => self.rejections_watched(),
            TrafficEvent::Opened { .. } | TrafficEvent::Closed { .. } => self.streams_watched(),
        };
        if !wanted {
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = self.shared.queue.try_send(event) {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether anyone listens to stream openings and closings (the terminal UI's live
    /// pane): when not, the gateway builds no [`TrafficEvent::Opened`] or
    /// [`TrafficEvent::Closed`]. One or two atomic loads.
    pub fn streams_watched(&self) -> bool {
        self.shared.listeners.load(Ordering::Acquire) > 0
            || self.shared.each_listened.load(Ordering::Acquire)
    }

    fn rejections_watched(&self) -> bool {
        self.shared.rejection_listeners.load(Ordering::Acquire) > 0 || self.streams_watched()
    }

    /// Listens to traffic events one by one, from the ones reported after this call on.
    /// Simple, but the dispatcher then takes the broadcast's lock once per event: the
    /// long-lived listeners (the UI, the analytics sampler) use
    /// [`Telemetry::subscribe_batched`]. Call inside a Tokio runtime (see there).
    pub fn subscribe(&self) -> broadcast::Receiver<TrafficEvent> {
        let rx = self.shared.each.subscribe();
        self.shared.each_listened.store(true, Ordering::Release);
        self.start_dispatcher();
        rx
    }

    /// Listens to traffic events, from the ones reported after this call on, as the
    /// dispatcher batches them (one broadcast lock per batch). The first subscription
    /// inside a Tokio runtime starts the dispatcher task, which ends when every clone of
    /// this `Telemetry` is gone; a receiver made before any runtime gets nothing until
    /// a later subscription starts it.
    pub fn subscribe_batched(&self) -> TrafficReceiver {
        self.batched(false)
    }

    /// As [`Telemetry::subscribe_batched`], but only [`TrafficEvent::Rejected`] arrives
    /// (the analytics sampler: streams are counted by [`PairCounters`]). While only such
    /// listeners are alive, stream openings and closings are not even queued.
    pub fn subscribe_rejections(&self) -> TrafficReceiver {
        self.batched(true)
    }

    fn batched(&self, only_rejections: bool) -> TrafficReceiver {
        let rx = self.shared.tx.subscribe();
        let listeners = if only_rejections {
            &self.shared.rejection_listeners
        } else {
            &self.shared.listeners
        };
        listeners.fetch_add(1, Ordering::AcqRel);
        self.start_dispatcher();
        TrafficReceiver {
            rx,
            batch: None,
            next: 0,
            expected: self.shared.dispatched.load(Ordering::Acquire),
            listeners: listeners.clone(),
            only_rejections,
        }
    }

    fn start_dispatcher(&self) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let queue = self
            .shared
            .pending_dispatch
            .lock()
            .ok()
            .and_then(|mut pending| pending.take());
        if let Some(queue) = queue {
            handle.spawn(dispatch(
                queue,
                self.shared.tx.clone(),
                self.shared.each.clone(),
                self.shared.dropped.clone(),
                self.shared.dispatched.clone(),
            ));
        }
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    /// The analytics series fed from this telemetry (see [`crate::analytics`]).
    pub fn series(&self) -> &Arc<crate::analytics::Series> {
        &self.shared.series
    }
}

/// The dispatcher: moves queued events to the broadcast, as many at a time as have
/// queued up (at most [`MAX_TRAFFIC_BATCH`]), until every sender is gone.
async fn dispatch(
    mut queue: mpsc::Receiver<TrafficEvent>,
    tx: broadcast::Sender<Arc<TrafficBatch>>,
    each: broadcast::Sender<TrafficEvent>,
    dropped: Arc<AtomicU64>,
    dispatched: Arc<AtomicU64>,
) {
    let mut number = 0u64;
    let mut events = Vec::with_capacity(64);
    while queue.recv_many(&mut events, MAX_TRAFFIC_BATCH).await > 0 {
        // Dropped events leave a gap in the numbers: listeners count it as missed.
        number += dropped.swap(0, Ordering::Relaxed);
        let batch = TrafficBatch {
            first: number,
            events: std::mem::take(&mut events),
        };
        number += batch.events.len() as u64;
        dispatched.store(number, Ordering::Release);
        if each.receiver_count() > 0 {
            for event in &batch.events {
                // Nobody listening right now is fine.
                let _ = each.send(event.clone());
            }
        }
        let _ = tx.send(Arc::new(batch));
    }
}

/// A listener's end of the batched traffic broadcast (from
/// [`Telemetry::subscribe_batched`]): the events one at a time, as a
/// [`broadcast::Receiver`] would give them.
#[derive(Debug)]
pub struct TrafficReceiver {
    rx: broadcast::Receiver<Arc<TrafficBatch>>,
    /// The batch being read, and the index of its next event.
    batch: Option<Arc<TrafficBatch>>,
    next: usize,
    /// The number of the event expected next.
    expected: u64,
    /// The count this listener is in (of every event, or of rejections only).
    listeners: Arc<AtomicUsize>,
    /// Whether only [`TrafficEvent::Rejected`] is handed out (others are skipped).
    only_rejections: bool,
}

impl TrafficReceiver {
    /// The next event of the batch being read, if any is left.
    fn next_in_batch(&mut self) -> Option<TrafficEvent> {
        let batch = self.batch.as_ref()?;
        loop {
            let event = batch.events.get(self.next)?;
            self.next += 1;
            self.expected = batch.first + self.next as u64;
            if !self.only_rejections || matches!(event, TrafficEvent::Rejected { .. }) {
                return Some(event.clone());
            }
        }
    }

    /// Starts reading `batch`; answers how many events were missed before it.
    fn start(&mut self, batch: Arc<TrafficBatch>) -> u64 {
        let missed = batch.first.saturating_sub(self.expected);
        self.expected = batch.first;
        self.batch = Some(batch);
        self.next = 0;
        missed
    }

    /// The next event, waiting for one. Cancel-safe.
    ///
    /// # Errors
    /// [`broadcast::error::RecvError::Lagged`] with the number of events missed when this
    /// listener fell behind (or the queue was full); `Closed` once the [`Telemetry`] is gone.
    pub async fn recv(&mut self) -> Result<TrafficEvent, broadcast::error::RecvError> {
        loop {
            if let Some(event) = self.next_in_batch() {
                return Ok(event);
            }
            match self.rx.recv().await {
                Ok(batch) => {
                    let missed = self.start(batch);
                    if missed > 0 {
                        return Err(broadcast::error::RecvError::Lagged(missed));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // The next batch's number says how many events that was.
                    self.batch = None;
                }
                Err(closed) => return Err(closed),
            }
        }
    }

    /// The next event if one is waiting.
    ///
    /// # Errors
    /// As [`broadcast::Receiver::try_recv`]: `Empty`, `Lagged` with the events missed,
    /// `Closed`.
    pub fn try_recv(&mut self) -> Result<TrafficEvent, broadcast::error::TryRecvError> {
        loop {
            if let Some(event) = self.next_in_batch() {
                return Ok(event);
            }
            match self.rx.try_recv() {
                Ok(batch) => {
                    let missed = self.start(batch);
                    if missed > 0 {
                        return Err(broadcast::error::TryRecvError::Lagged(missed));
                    }
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    // The next batch's number says how many events that was.
                    self.batch = None;
                }
                Err(other) => return Err(other),
            }
        }
    }
}

impl Drop for TrafficReceiver {
    fn drop(&mut self) {
        self.listeners.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_has_every_family_and_escaped_labels() {
        let m = Metrics::default();
        m.open_streams.fetch_add(2, Ordering::Relaxed);
        m.pair_counters("Observer:1.0.0", "my \"app\"")
            .events
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

    #[test]
    fn every_reject_code_has_its_own_counter_and_others_still_count() {
        let m = Metrics::default();
        for (i, code) in Reject::CODES.iter().enumerate() {
            for _ in 0..=i {
                m.reject(*code);
            }
        }
        m.reject(123);
        let counts = m.rejections();
        for (i, code) in Reject::CODES.iter().enumerate() {
            assert_eq!(counts.get(code), Some(&(i as u64 + 1)), "code {code}");
        }
        assert_eq!(counts.get(&123), Some(&1));
        assert_eq!(counts.len(), Reject::CODES.len() + 1);
        let text = m.render_prometheus();
        assert!(text.contains("streamgate_rejections_total{code=\"400\"} 1\n"));
        // The last code in the list was counted once per entry.
        let last = Reject::CODES[Reject::CODES.len() - 1];
        let expected = format!(
            "streamgate_rejections_total{{code=\"{last}\"}} {}\n",
            Reject::CODES.len()
        );
        assert!(text.contains(&expected), "{text}");
        // Codes never counted are not listed, as before.
        assert!(!Metrics::default().render_prometheus().contains("code="));
    }

    fn closed(stream_id: u64) -> TrafficEvent {
        TrafficEvent::Closed {
            stream_id,
            events: 0,
            reason: String::new(),
            at: 0,
        }
    }

    fn id(event: &TrafficEvent) -> u64 {
        match event {
            TrafficEvent::Closed { stream_id, .. } => *stream_id,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn nothing_is_queued_while_nobody_listens() {
        let t = Telemetry::new();
        t.report(closed(1));
        let mut rx = t.subscribe_batched();
        t.report(closed(2));
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            id(&got),
            2,
            "the event reported before anyone listened was skipped"
        );
        drop(rx);
        assert_eq!(t.shared.listeners.load(Ordering::Relaxed), 0);
        t.report(closed(3));
        assert_eq!(
            t.shared.queue.capacity(),
            TRAFFIC_CHANNEL_CAPACITY,
            "skipped again"
        );
    }

    fn rejected(code: u32) -> TrafficEvent {
        TrafficEvent::Rejected {
            path: "/p".into(),
            status: 401,
            code,
            message: String::new(),
            client: String::new(),
            at: 0,
        }
    }

    #[tokio::test]
    async fn a_rejections_listener_gets_only_rejections_and_streams_are_not_queued_for_it() {
        let t = Telemetry::new();
        let mut rejections = t.subscribe_rejections();
        assert!(!t.streams_watched(), "nobody watches streams");
        t.report(closed(1));
        assert_eq!(
            t.shared.queue.capacity(),
            TRAFFIC_CHANNEL_CAPACITY,
            "a stream's close is not queued for a rejections listener"
        );
        t.report(rejected(900901));
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), rejections.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, rejected(900901));

        // With a listener of every event too, streams flow; the rejections listener
        // still skips them.
        let mut all = t.subscribe_batched();
        assert!(t.streams_watched());
        t.report(closed(2));
        t.report(rejected(900902));
        let wait = std::time::Duration::from_secs(5);
        let first = tokio::time::timeout(wait, all.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(id(&first), 2);
        let second = tokio::time::timeout(wait, all.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second, rejected(900902));
        let only = tokio::time::timeout(wait, rejections.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(only, rejected(900902), "the close was skipped");
        drop(all);
        drop(rejections);
        assert_eq!(t.shared.listeners.load(Ordering::Relaxed), 0);
        assert_eq!(t.shared.rejection_listeners.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn pair_counters_are_one_per_pair_and_read_back() {
        let m = Metrics::default();
        let a = m.pair_counters("Observer:1.0.0", "App");
        a.opened();
        a.opened();
        a.events.fetch_add(3, Ordering::Relaxed);
        a.closed(true);
        let again = m.pair_counters("Observer:1.0.0", "App");
        assert!(Arc::ptr_eq(&a, &again), "the same pair, the same counters");
        m.pair_counters("Observer:1.0.0", "Other").opened();
        let pairs = m.pairs();
        assert_eq!(pairs.len(), 2);
        assert_eq!(
            pairs[0],
            (
                ("Observer:1.0.0".to_string(), "App".to_string()),
                PairReading {
                    events: 3,
                    streams_opened: 2,
                    open_streams: 1,
                    backend_errors: 1,
                }
            )
        );
        assert_eq!(pairs[1].1.open_streams, 1);
    }

    #[tokio::test]
    async fn batches_arrive_in_order_and_a_full_queue_is_reported_as_missed() {
        let t = Telemetry::new();
        let mut batched = t.subscribe_batched();
        let mut each = t.subscribe();
        // The single-threaded runtime runs no dispatcher until this test awaits: the queue
        // fills, and the rest is dropped.
        let n = TRAFFIC_CHANNEL_CAPACITY as u64 + 100;
        for i in 0..n {
            t.report(closed(i));
        }
        let wait = std::time::Duration::from_secs(5);
        let first = tokio::time::timeout(wait, batched.recv()).await.unwrap();
        assert_eq!(first, Err(broadcast::error::RecvError::Lagged(100)));
        for i in 0..TRAFFIC_CHANNEL_CAPACITY as u64 {
            let got = tokio::time::timeout(wait, batched.recv())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(id(&got), i);
        }
        assert!(matches!(
            batched.try_recv(),
            Err(broadcast::error::TryRecvError::Empty)
        ));
        // The one-by-one listener got the same events (its channel holds as many).
        let got = tokio::time::timeout(wait, each.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(id(&got), 0);
        t.report(closed(n));
        let got = tokio::time::timeout(wait, batched.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(id(&got), n, "nothing missed after");
    }
}
