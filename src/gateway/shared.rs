//! Shared upstream (an API's backend stream mode `shared`): one backend stream per deployed
//! revision, endpoint, resource path and query feeds every subscriber of that key.
//!
//! A [`Hub`] reads the backend stream, cuts it into complete events with the SSE counter
//! ([`crate::sse::EventCounter`]) and the parser (for each event's id and the backend's
//! `retry:`), and appends them to one ring of reference-counted [`Bytes`] with sequence
//! numbers. Each subscriber is only a cursor into that ring: nothing is copied or queued per
//! subscriber, and waking subscribers is one `watch` send per backend chunk. The ring holds
//! at least the replay bounds (the newest [`SharedOptions::replay_events`] events within
//! [`SharedOptions::replay_bytes`]) and at most [`SharedOptions::queue_bytes`] or the replay
//! bytes, whichever is larger: a subscriber whose cursor falls off the ring's front is more
//! than its bounded queue behind, and is closed with `: too slow; reconnect with
//! Last-Event-ID`.
//!
//! Each subscriber is otherwise a [`super::relay::Relay`] like a per-client stream: its own
//! admission, exact metering against its subscription, rights checks, token expiry and
//! heartbeats. A client that sends `Last-Event-ID` gets the held events after that id, or a
//! `: replay gap: events after <id> are no longer held` comment, then live events.
//!
//! When the backend fails or ends, every subscriber gets the final comment after the events
//! it was sent; the hub reconnects with backoff (the backend's `retry:` as the first delay,
//! doubling up to [`MAX_BACKOFF`]) and sends the last id it saw as `Last-Event-ID`. The hub
//! closes the backend stream [`SharedOptions::linger`] after its last subscriber left.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::http::HeaderValue;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::upstream::UpstreamBody;

mod splitter;
use splitter::Splitter;

/// Default time a backend stream stays open after its last subscriber left.
pub const DEFAULT_LINGER: Duration = Duration::from_secs(5);
/// Default number of events a shared stream keeps for `Last-Event-ID` replay.
pub const DEFAULT_REPLAY_EVENTS: usize = 1_000;
/// Default bytes of events a shared stream keeps for `Last-Event-ID` replay (1 MiB).
pub const DEFAULT_REPLAY_BYTES: usize = 1024 * 1024;
/// Default bound on how far (in event bytes) a subscriber may fall behind (1 MiB).
pub const DEFAULT_QUEUE_BYTES: usize = 1024 * 1024;
/// The first reconnection delay when the backend sent no `retry:`.
pub const DEFAULT_RETRY: Duration = Duration::from_secs(1);
/// The longest reconnection delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The most events a subscriber takes from the ring in one go.
const MAX_BATCH: usize = 64;
/// What a subscriber that fell too far behind is told.
pub const TOO_SLOW: &str = "too slow; reconnect with Last-Event-ID";

/// Settings of shared backend streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedOptions {
    /// How long a backend stream stays open after its last subscriber left (a client that
    /// reconnects within it resumes from the replay buffer without a new backend stream).
    pub linger: Duration,
    /// The most events kept for `Last-Event-ID` replay.
    pub replay_events: usize,
    /// The most bytes of events kept for `Last-Event-ID` replay (the smaller bound wins).
    pub replay_bytes: usize,
    /// How many bytes of events a subscriber may be behind before it is closed with
    /// `: too slow; reconnect with Last-Event-ID`.
    pub queue_bytes: usize,
}

impl Default for SharedOptions {
    fn default() -> Self {
        Self {
            linger: DEFAULT_LINGER,
            replay_events: DEFAULT_REPLAY_EVENTS,
            replay_bytes: DEFAULT_REPLAY_BYTES,
            queue_bytes: DEFAULT_QUEUE_BYTES,
        }
    }
}

/// What identifies a shared stream: the deployed revision, the endpoint (production and
/// sandbox may differ), the resource path and the query (without `access_token`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct HubKey {
    /// The deployed revision's id.
    pub revision_id: String,
    /// The backend URL the stream is read from.
    pub url: String,
}

/// One complete event as the backend sent it (with any comments before it).
struct Held {
    seq: u64,
    /// The last event id as of this event (the spec's persistent last event ID).
    id: Arc<str>,
    bytes: Bytes,
}

/// Where a hub's backend connection is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Status {
    /// The first connection is being made.
    Connecting,
    /// The first connection's backend answered other than 200; its bounded body is being
    /// read until at most the instant given (then the hub closes with that answer).
    Answering(Instant),
    /// Connection number `gen` is streaming.
    Live,
    /// The last attempt failed with this error; the next is at `retry_at`.
    Down { error: String, retry_at: Instant },
    /// The hub is gone (linger over, first connection failed, or shutdown).
    Closed(String),
}

/// A connection that ended: subscribers of it are closed after event `seq - 1`.
#[derive(Debug, Clone)]
struct Ended {
    generation: u64,
    seq: u64,
    reason: String,
}

struct State {
    ring: VecDeque<Held>,
    ring_bytes: usize,
    /// The sequence number the next event gets.
    next_seq: u64,
    status: Status,
    /// The connection now streaming (or last streamed); 0 before the first.
    generation: u64,
    /// Failed attempts since the hub was made (joiners wait for the next one).
    attempts: u64,
    ended: Option<Ended>,
    subscribers: usize,
    /// The first connection's answer other than 200, once read: what joiners get.
    answer: Option<Arc<OtherAnswer>>,
}

/// A backend's answer other than 200 as it is passed on to a client: its status, content
/// type and bounded body (empty for an event stream under another status).
#[derive(Debug, Clone)]
pub(crate) struct OtherAnswer {
    /// The backend's status.
    pub status: axum::http::StatusCode,
    /// The backend's `Content-Type`, if any.
    pub content_type: Option<HeaderValue>,
    /// The body passed on (already bounded).
    pub body: Bytes,
}

/// Why a joiner gets no stream from a hub.
#[derive(Debug, Clone)]
pub(crate) enum NotReady {
    /// The backend could not be reached, or the stream closed: the error.
    Error(String),
    /// The first connection's backend answered other than 200: every joiner gets that
    /// answer, as its first subscriber did.
    Answered(Arc<OtherAnswer>),
}

/// One shared backend stream and its subscribers.
pub(crate) struct Hub {
    key: HubKey,
    options: SharedOptions,
    state: RwLock<State>,
    /// Bumped after every change subscribers or joiners may wait for.
    changed: watch::Sender<u64>,
    /// Signalled when the last subscriber leaves.
    emptied: Notify,
}

/// Every shared stream of the gateway, by key.
#[derive(Default)]
pub(crate) struct Hubs {
    map: Mutex<HashMap<HubKey, Arc<Hub>>>,
}

impl Hubs {
    /// Joins the hub of `key`, making it if there is none; `true` with a new hub, whose
    /// first connection the caller makes ([`Hub::start`] or [`Hub::fail`]). The returned
    /// subscription keeps the hub open; it is positioned with [`Subscription::position`].
    pub(crate) fn join(&self, key: HubKey, options: &SharedOptions) -> (Subscription, bool) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hub) = map.get(&key) {
            let hub = hub.clone();
            drop(map);
            return (Subscription::new(hub), false);
        }
        let (changed, _) = watch::channel(0);
        let hub = Arc::new(Hub {
            key: key.clone(),
            options: options.clone(),
            state: RwLock::new(State {
                ring: VecDeque::new(),
                ring_bytes: 0,
                next_seq: 0,
                status: Status::Connecting,
                generation: 0,
                attempts: 0,
                ended: None,
                subscribers: 0,
                answer: None,
            }),
            changed,
            emptied: Notify::new(),
        });
        map.insert(key, hub.clone());
        // Counted under the map's lock, so the hub cannot close before it is joined.
        let sub = Subscription::new(hub);
        drop(map);
        (sub, true)
    }

    /// Removes `hub` if it has no subscribers (under the map's lock, so no join races it).
    fn close_if_idle(&self, hub: &Arc<Hub>, why: &str) -> bool {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        {
            let mut st = hub.write();
            if st.subscribers > 0 {
                return false;
            }
            st.status = Status::Closed(why.to_string());
        }
        if map.get(&hub.key).is_some_and(|h| Arc::ptr_eq(h, hub)) {
            map.remove(&hub.key);
        }
        drop(map);
        hub.bump();
        true
    }

    /// Removes `hub` whatever its subscribers (its first connection failed, or shutdown).
    fn remove(&self, hub: &Arc<Hub>, why: &str) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        hub.write().status = Status::Closed(why.to_string());
        if map.get(&hub.key).is_some_and(|h| Arc::ptr_eq(h, hub)) {
            map.remove(&hub.key);
        }
        drop(map);
        hub.bump();
    }

    /// How many shared backend streams are open (or opening).
    pub(crate) fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }
}

impl Hub {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// The first connection failed: the hub closes, and those waiting for it get `error`.
    pub(crate) fn fail(self: &Arc<Self>, hubs: &Hubs, error: &str) {
        hubs.remove(self, error);
    }

    /// The first connection's backend answered other than 200 and its body is read until
    /// at most `until`: joiners wait for it (beyond their patience) to get the same answer.
    pub(crate) fn answering(&self, until: Instant) {
        self.write().status = Status::Answering(until);
        self.bump();
    }

    /// The first connection's backend answered other than 200 with `answer`: the hub
    /// closes, and those waiting for it get that answer.
    pub(crate) fn answered(self: &Arc<Self>, hubs: &Hubs, answer: OtherAnswer) {
        let why = format!("The back end answered {}", answer.status);
        self.write().answer = Some(Arc::new(answer));
        hubs.remove(self, &why);
    }

    /// Waits until the backend stream is live; otherwise the error (the first connection
    /// or the next reconnection attempt failed, or the hub closed) or the first
    /// connection's answer other than 200, or an error when `patience` (beyond any backoff
    /// still to run, or the reading of the first connection's other answer) passes.
    pub(crate) async fn ready(&self, patience: Duration) -> Result<(), NotReady> {
        let mut rx = self.changed.subscribe();
        let (attempts, mut deadline) = {
            let st = self.read();
            let wait_until = match &st.status {
                Status::Down { retry_at, .. } => *retry_at,
                _ => Instant::now(),
            };
            (st.attempts, wait_until + patience)
        };
        loop {
            rx.borrow_and_update();
            {
                let st = self.read();
                match &st.status {
                    Status::Live => return Ok(()),
                    Status::Closed(why) => {
                        return Err(match &st.answer {
                            Some(answer) => NotReady::Answered(answer.clone()),
                            None => NotReady::Error(why.clone()),
                        });
                    }
                    Status::Down { error, .. } if st.attempts > attempts => {
                        return Err(NotReady::Error(error.clone()));
                    }
                    // The answer is on its way: wait for it, bounded by its own reading.
                    Status::Answering(until) => deadline = deadline.max(*until),
                    _ => {}
                }
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    return Err(NotReady::Error(
                        "the shared backend stream closed".to_string(),
                    ));
                }
                Err(_) => {
                    let st = self.read();
                    return Err(NotReady::Error(match &st.status {
                        Status::Down { error, .. } => error.clone(),
                        _ => "the shared backend stream did not open in time".to_string(),
                    }));
                }
            }
        }
    }

    /// Starts reading the backend stream `body` (the hub's first connection); `connect`
    /// makes later ones, given the `Last-Event-ID` to send. The task ends when the hub
    /// closes: linger over, or `stop` turns true.
    pub(crate) fn start<C, F>(
        self: &Arc<Self>,
        hubs: Arc<Hubs>,
        body: UpstreamBody,
        connect: C,
        stop: watch::Receiver<bool>,
        metrics: Arc<crate::telemetry::Metrics>,
    ) where
        C: Fn(Option<String>) -> F + Send + Sync + 'static,
        F: std::future::Future<Output = Result<UpstreamBody, String>> + Send + 'static,
    {
        {
            let mut st = self.write();
            st.generation = 1;
            st.status = Status::Live;
        }
        self.bump();
        let hub = self.clone();
        tokio::spawn(async move {
            hub.run(hubs, body, connect, stop, metrics).await;
        });
    }

    async fn run<C, F>(
        self: Arc<Self>,
        hubs: Arc<Hubs>,
        body: UpstreamBody,
        connect: C,
        mut stop: watch::Receiver<bool>,
        metrics: Arc<crate::telemetry::Metrics>,
    ) where
        C: Fn(Option<String>) -> F + Send + Sync + 'static,
        F: std::future::Future<Output = Result<UpstreamBody, String>> + Send + 'static,
    {
        let mut body = Some(body);
        let mut splitter = Splitter::new();
        let mut backoff: Option<Duration> = None;
        let mut retry_at: Option<Instant> = None;
        let mut linger_at: Option<Instant> = None;
        let mut batch: Vec<(Bytes, Arc<str>)> = Vec::new();
        if *stop.borrow_and_update() {
            hubs.remove(&self, "gateway shutting down");
            return;
        }
        enum Wake {
            Stop,
            Chunk(Option<Result<Bytes, super::upstream::BodyError>>),
            Retry,
            Emptied,
            Linger,
        }
        loop {
            let wake = tokio::select! {
                biased;
                _ = stop.changed() => Wake::Stop,
                () = self.emptied.notified() => Wake::Emptied,
                () = sleep_until(linger_at) => Wake::Linger,
                item = next_chunk(&mut body) => Wake::Chunk(item),
                () = sleep_until(retry_at) => Wake::Retry,
            };
            match wake {
                Wake::Stop => {
                    hubs.remove(&self, "gateway shutting down");
                    return;
                }
                Wake::Emptied | Wake::Linger => {
                    if self.read().subscribers > 0 {
                        linger_at = None;
                        continue;
                    }
                    if matches!(wake, Wake::Linger) {
                        if hubs.close_if_idle(&self, "no subscribers") {
                            return;
                        }
                        linger_at = None;
                    } else {
                        // The last subscriber just left: the linger starts now.
                        linger_at = Some(Instant::now() + self.options.linger);
                    }
                }
                Wake::Chunk(Some(Ok(chunk))) => {
                    batch.clear();
                    match splitter.split(chunk, &mut batch, self.options.queue_bytes) {
                        Ok(()) => {
                            backoff = None;
                            self.publish(&mut batch);
                        }
                        Err(why) => {
                            self.publish(&mut batch);
                            metrics.backend_errors.fetch_add(1, Ordering::Relaxed);
                            body = None;
                            retry_at = Some(self.end(why, &splitter, &mut backoff));
                            splitter.restart();
                        }
                    }
                }
                Wake::Chunk(end) => {
                    let why = match end {
                        Some(Err(_)) => "the backend connection failed",
                        _ if !splitter.at_boundary() => {
                            "the backend ended the stream in the middle of an event"
                        }
                        _ => "the backend ended the stream",
                    };
                    if why != "the backend ended the stream" {
                        metrics.backend_errors.fetch_add(1, Ordering::Relaxed);
                    }
                    body = None;
                    retry_at = Some(self.end(why.to_string(), &splitter, &mut backoff));
                    splitter.restart();
                }
                Wake::Retry => {
                    retry_at = None;
                    let last = splitter.last_id();
                    match connect((!last.is_empty()).then(|| last.to_string())).await {
                        Ok(next) => {
                            body = Some(next);
                            {
                                let mut st = self.write();
                                st.generation += 1;
                                st.status = Status::Live;
                            }
                            self.bump();
                        }
                        Err(error) => {
                            metrics.backend_errors.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!("gateway: shared stream {}: {error}", self.key.url);
                            let delay = next_backoff(&mut backoff, splitter.retry());
                            let at = Instant::now() + delay;
                            {
                                let mut st = self.write();
                                st.attempts += 1;
                                st.status = Status::Down {
                                    error,
                                    retry_at: at,
                                };
                            }
                            self.bump();
                            retry_at = Some(at);
                        }
                    }
                }
            }
        }
    }

    /// The connection ended for `why`: its subscribers get that final comment after the
    /// events already held. Returns when to reconnect.
    fn end(&self, why: String, splitter: &Splitter, backoff: &mut Option<Duration>) -> Instant {
        let delay = next_backoff(backoff, splitter.retry());
        let at = Instant::now() + delay;
        {
            let mut st = self.write();
            st.ended = Some(Ended {
                generation: st.generation,
                seq: st.next_seq,
                reason: why.clone(),
            });
            st.status = Status::Down {
                error: format!("The shared backend stream is reconnecting: {why}"),
                retry_at: at,
            };
        }
        self.bump();
        at
    }

    /// Appends complete events to the ring, trims it, and wakes the subscribers.
    fn publish(&self, batch: &mut Vec<(Bytes, Arc<str>)>) {
        if batch.is_empty() {
            return;
        }
        {
            let mut st = self.write();
            let bound = self
                .options
                .queue_bytes
                .max(self.options.replay_bytes)
                .max(1);
            for (bytes, id) in batch.drain(..) {
                let seq = st.next_seq;
                st.next_seq += 1;
                st.ring_bytes += bytes.len();
                st.ring.push_back(Held { seq, id, bytes });
            }
            while st.ring_bytes > bound && st.ring.len() > 1 {
                if let Some(old) = st.ring.pop_front() {
                    st.ring_bytes -= old.bytes.len();
                }
            }
        }
        self.bump();
    }
}

/// The next reconnection delay: the backend's `retry:` (or [`DEFAULT_RETRY`]) first,
/// then doubling up to [`MAX_BACKOFF`].
fn next_backoff(backoff: &mut Option<Duration>, retry: Option<u64>) -> Duration {
    let first = retry.map_or(DEFAULT_RETRY, Duration::from_millis);
    let delay = match *backoff {
        None => first,
        Some(prev) => (prev * 2).max(first),
    }
    .min(MAX_BACKOFF);
    *backoff = Some(delay);
    delay
}

async fn next_chunk(
    body: &mut Option<UpstreamBody>,
) -> Option<Result<Bytes, super::upstream::BodyError>> {
    match body {
        Some(b) => b.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What a subscriber gets next.
pub(crate) enum Delivery {
    /// Events were appended to the output (each a whole event block).
    Events,
    /// A comment to write first: `: replay gap: ...`.
    Comment(Bytes),
    /// The stream ends with this final comment.
    End(String),
}

/// One subscriber's place in a hub. Dropping it leaves the hub.
pub(crate) struct Subscription {
    hub: Arc<Hub>,
    rx: watch::Receiver<u64>,
    cursor: u64,
    generation: u64,
    gap: Option<Bytes>,
}

impl Subscription {
    fn new(hub: Arc<Hub>) -> Self {
        hub.write().subscribers += 1;
        let rx = hub.changed.subscribe();
        Self {
            hub,
            rx,
            cursor: u64::MAX,
            generation: 0,
            gap: None,
        }
    }

    /// The hub joined.
    pub(crate) fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Places the subscriber after the held event with id `last_event_id` (so it gets the
    /// events after it), or at the live end (with a replay-gap comment first when the id
    /// is no longer held). Call once the hub is ready.
    pub(crate) fn position(&mut self, last_event_id: Option<&str>) {
        let st = self.hub.read();
        self.generation = st.generation;
        self.cursor = st.next_seq;
        let Some(id) = last_event_id else {
            return;
        };
        let limit = self.hub.options.replay_events;
        let mut bytes = 0usize;
        let mut found = None;
        for held in st.ring.iter().rev().take(limit) {
            if &*held.id == id {
                found = Some(held.seq + 1);
                break;
            }
            bytes += held.bytes.len();
            if bytes > self.hub.options.replay_bytes {
                break;
            }
        }
        match found {
            Some(seq) => self.cursor = seq,
            None => {
                let id = id.replace(['\r', '\n'], " ");
                self.gap = Some(Bytes::from(format!(
                    ": replay gap: events after {id} are no longer held\n\n"
                )));
            }
        }
    }

    /// Waits for what comes next; events go to `out` (at most [`MAX_BATCH`]). Cancel-safe:
    /// nothing is taken from the ring across an await.
    pub(crate) async fn next(&mut self, out: &mut VecDeque<Bytes>) -> Delivery {
        if let Some(gap) = self.gap.take() {
            return Delivery::Comment(gap);
        }
        loop {
            self.rx.borrow_and_update();
            if let Some(delivery) = self.take(out) {
                return delivery;
            }
            if self.rx.changed().await.is_err() {
                return Delivery::End("gateway shutting down".to_string());
            }
        }
    }

    fn take(&mut self, out: &mut VecDeque<Bytes>) -> Option<Delivery> {
        let st = self.hub.read();
        let front = st.ring.front().map_or(st.next_seq, |h| h.seq);
        if self.cursor < front {
            return Some(Delivery::End(TOO_SLOW.to_string()));
        }
        let end = match &st.ended {
            Some(e) if e.generation >= self.generation => e.seq,
            _ => st.next_seq,
        };
        if self.cursor < end {
            let from = usize::try_from(self.cursor - front).unwrap_or(usize::MAX);
            let n = usize::try_from(end - self.cursor)
                .unwrap_or(usize::MAX)
                .min(MAX_BATCH);
            out.extend(st.ring.iter().skip(from).take(n).map(|h| h.bytes.clone()));
            self.cursor += n as u64;
            return Some(Delivery::Events);
        }
        if let Some(e) = &st.ended
            && e.generation >= self.generation
        {
            return Some(Delivery::End(e.reason.clone()));
        }
        if let Status::Closed(why) = &st.status {
            return Some(Delivery::End(why.clone()));
        }
        None
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let left = {
            let mut st = self.hub.write();
            st.subscribers = st.subscribers.saturating_sub(1);
            st.subscribers
        };
        if left == 0 {
            self.hub.emptied.notify_one();
        }
    }
}

/// The headers of a shared backend request: no client's headers (the stream is everyone's),
/// only `Accept`, `Accept-Encoding: identity` and, on a reconnection, `Last-Event-ID`.
pub(crate) fn backend_headers(last_event_id: Option<&str>) -> Vec<u8> {
    let mut lines = Vec::with_capacity(96);
    super::h1::push_header_line(&mut lines, "accept", b"text/event-stream");
    super::h1::push_header_line(&mut lines, "accept-encoding", b"identity");
    // An id is what the backend sent as one (no CR or LF, RFC 9112 §5 needs none).
    if let Some(id) = last_event_id.filter(|id| HeaderValue::from_str(id).is_ok()) {
        super::h1::push_header_line(&mut lines, "last-event-id", id.as_bytes());
    }
    lines
}

#[cfg(test)]
mod tests;
