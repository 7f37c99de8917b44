//! The relay: one client stream fed from one backend response. Forwards each chunk as it
//! arrives while the SSE counter meters events, writes heartbeats only between events, and
//! ends the stream, with a final comment saying why, when quota, rights or the gateway end.
//! Dropping it (the client left) drops the backend response, which closes that connection.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::time::{Instant, Sleep};

use crate::beacon::Watcher;

use crate::catalog::now_millis;
use crate::control::Control;
use crate::sse::EventCounter;
use crate::telemetry::{Metrics, PairCounters, Telemetry, TrafficEvent};

use super::access::Rights;
use super::lease::{Hold, Refill};
use super::meter::EventWindow;
use super::shared::{Delivery, Subscription};
use super::upstream::UpstreamBody;

/// The most bytes an h2 stream's body hands hyper at once (half h2's default frame size
/// limit): with the send timeout it sets the slowest reading an h2 client may do, 8 KiB
/// per `--send-timeout-secs` (136 bytes a second at the default 60 s).
pub(crate) const H2_SLICE_BYTES: usize = 8 * 1024;

/// A stream's end reason until something else ends it: the client went away.
const CLIENT_LEFT: &str = "client left";

/// What the gateway writes on an idle stream: a comment a client ignores.
const HEARTBEAT: &[u8] = b": heartbeat\n\n";
/// A deadline that never comes, for streams without a token.
const FAR_FUTURE: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A stream's event quota: the subscription's window and the plan, for the final comment.
pub(crate) struct Metering {
    /// The subscription's window, shared with its other streams.
    pub window: Arc<EventWindow>,
    /// E.g. `plan Gold10 (10 events / 1 min)`.
    pub plan: String,
    /// The stream's hold on the window's lease in the quota store, if it has one; only
    /// held (dropping it gives the unused lease back).
    #[allow(dead_code)]
    pub hold: Option<Hold>,
}

impl Metering {
    /// A stream's metering by `window` (holding its lease, if any) under `plan`.
    pub(crate) fn new(window: Arc<EventWindow>, plan: String) -> Self {
        let hold = window.hold();
        Self { window, plan, hold }
    }
}

/// What woke a relay up.
enum Wake {
    /// The gateway is shutting down.
    Stop,
    /// The view changed.
    View,
    /// The timer fired: a heartbeat may be due, or the token expired.
    Timer,
    /// The backend sent a chunk, failed or ended.
    Upstream(Option<Result<Bytes, super::upstream::BodyError>>),
    /// The shared stream delivered events (in `batch`), a comment, or its end.
    Shared(Delivery),
}

/// Where a relay's events come from.
pub(crate) enum Source {
    /// A backend connection of the stream's own (`per-client`): chunks, metered by the
    /// SSE counter as they pass.
    Direct(UpstreamBody),
    /// A place in a shared backend stream (`shared`): whole events.
    Shared(Subscription),
}

/// Everything a relay is built from.
pub(crate) struct RelayParts {
    /// The backend's body or shared stream.
    pub upstream: Source,
    /// The quota, if the subscription's plan has one.
    pub metering: Option<Metering>,
    /// The counters of this stream's API and application (events, opens, closes).
    pub pair: Arc<PairCounters>,
    /// Where to report.
    pub telemetry: Telemetry,
    /// The stream's number in traffic events.
    pub stream_id: u64,
    /// Idle time before a heartbeat.
    pub heartbeat: Duration,
    /// When the token expires (seconds since the epoch), if there is one.
    pub token_exp: Option<i64>,
    /// What the stream was admitted on.
    pub rights: Rights,
    /// To read the current view.
    pub control: Control,
    /// Signalled on every view change (made before the view the stream was admitted on
    /// was read).
    pub view: Watcher,
    /// Signalled when the gateway shuts down.
    pub stop: Watcher,
    /// The gateway's stop flag, read after `stop` was made (a stop in between is seen by
    /// one or the other).
    pub stopped: bool,
}

/// One live stream.
pub(crate) struct Relay {
    upstream: Source,
    /// Events taken from a shared stream, not yet metered (reused, so no allocation).
    batch: VecDeque<Bytes>,
    counter: EventCounter,
    /// Offsets where events end in the chunk being metered (reused, so no allocation).
    ends: Vec<usize>,
    /// Whether what the client got so far ends between events.
    at_boundary: bool,
    /// The last byte the client got.
    last_byte: Option<u8>,
    metering: Option<Metering>,
    pair: Arc<PairCounters>,
    metrics: Arc<Metrics>,
    telemetry: Telemetry,
    stream_id: u64,
    delivered: u64,
    heartbeat: Duration,
    /// When the backend last sent bytes. The timer is moved only when it fires, not on
    /// every chunk: resetting a tokio timer takes the runtime's timer lock.
    last_activity: Instant,
    /// When the token expires.
    expiry: Instant,
    /// The stream's one timer: the next heartbeat or the token's expiry, whichever is
    /// first.
    timer: Timer,
    rights: Rights,
    control: Control,
    view: Watcher,
    stop: Watcher,
    /// A whole backend chunk to hand out next (kept here, not in `pending`: the common
    /// case touches no other allocation).
    ready: Option<Bytes>,
    /// Bytes to hand out after `ready`, before anything else: a cut chunk and a final
    /// comment, a heartbeat, a shared stream's events (allocated only when used).
    pending: VecDeque<Bytes>,
    done: bool,
    /// Why the stream ends (for the traffic event and the analytics).
    reason: Cow<'static, str>,
}

impl Relay {
    /// Starts a relay; counts the stream as open until it is dropped.
    pub(crate) fn new(parts: RelayParts) -> Self {
        let metrics = parts.telemetry.metrics().clone();
        metrics.open_streams.fetch_add(1, Ordering::Relaxed);
        metrics.streams_total.fetch_add(1, Ordering::Relaxed);
        parts.pair.opened();
        let expiry = match parts.token_exp {
            Some(exp) => {
                let left = exp.saturating_mul(1000).saturating_sub(now_millis()).max(0);
                Instant::now() + Duration::from_millis(u64::try_from(left).unwrap_or(0))
            }
            None => Instant::now() + FAR_FUTURE,
        };
        let now = Instant::now();
        let mut relay = Self {
            upstream: parts.upstream,
            batch: VecDeque::new(),
            counter: EventCounter::new(),
            ends: Vec::new(),
            at_boundary: true,
            last_byte: None,
            metering: parts.metering,
            pair: parts.pair,
            metrics,
            telemetry: parts.telemetry,
            stream_id: parts.stream_id,
            delivered: 0,
            heartbeat: parts.heartbeat,
            last_activity: now,
            expiry,
            timer: Timer::new((now + parts.heartbeat).min(expiry)),
            rights: parts.rights,
            control: parts.control,
            view: parts.view,
            stop: parts.stop,
            ready: None,
            pending: VecDeque::new(),
            done: false,
            reason: Cow::Borrowed(CLIENT_LEFT),
        };
        if parts.stopped {
            relay.close("gateway shutting down".to_string());
        }
        relay
    }

    /// The client's body: the relay as a stream of chunks. With `progress` (an h2
    /// stream's, see [`super::h2_stall`]) each ask for a chunk and each chunk handed out
    /// is noted there (two plain stores), so the stream's watchdog sees one held back by
    /// the client's flow-control window; and chunks are handed out in slices of at most
    /// [`H2_SLICE_BYTES`], so the watchdog's "nothing taken for the send timeout" means
    /// less than a slice went out in it, not less than a whole backend read (up to 32
    /// KiB): a client reading slowly but steadily is not cut.
    pub(crate) fn into_stream(
        self,
        progress: Option<super::h2_stall::Tally>,
    ) -> impl futures_util::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static
    {
        let state = (
            H2Body {
                relay: self,
                progress,
            },
            Bytes::new(),
        );
        futures_util::stream::unfold(state, |(mut body, mut rest)| async move {
            if let Some(progress) = &mut body.progress {
                progress.asked();
            }
            if rest.is_empty() {
                rest = body.relay.next_chunk().await?;
            }
            let chunk = match &body.progress {
                Some(progress) => {
                    progress.handed_out();
                    rest.split_to(rest.len().min(H2_SLICE_BYTES))
                }
                None => std::mem::take(&mut rest),
            };
            Some((Ok(chunk), (body, rest)))
        })
    }

    /// The next bytes for the client, or `None` when the stream is over. Awaited by the
    /// connection loop that owns the client socket, one chunk at a time (the next only
    /// after the last was written). Not cancel-safe while metering a chunk: a caller
    /// that gives up on the future drops the relay too.
    pub(crate) async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if let Some(bytes) = self.ready.take().or_else(|| self.pending.pop_front()) {
                return Some(bytes);
            }
            if self.done {
                return None;
            }
            let wake = tokio::select! {
                biased;
                // Both are one atomic load per poll (see `crate::beacon`).
                () = poll_fn(|cx| self.stop.poll_signalled(cx)) => Wake::Stop,
                () = poll_fn(|cx| self.view.poll_signalled(cx)) => Wake::View,
                // Before the backend, so a backend that never pauses cannot hold off the
                // token's expiry.
                () = poll_fn(|cx| self.timer.poll(cx)) => Wake::Timer,
                wake = next_from(&mut self.upstream, &mut self.batch) => wake,
            };
            match wake {
                Wake::Stop => self.close("gateway shutting down".to_string()),
                Wake::View => {
                    if let Some(why) = self.rights.lost(&self.control.view()) {
                        self.close(why);
                    }
                }
                Wake::Upstream(Some(Ok(chunk))) => {
                    self.last_activity = Instant::now();
                    self.forward(chunk).await;
                }
                Wake::Upstream(Some(Err(_))) => {
                    self.metrics.backend_errors.fetch_add(1, Ordering::Relaxed);
                    self.close("the backend connection failed".to_string());
                }
                Wake::Upstream(None) if !self.at_boundary => {
                    // The partial event is never completed: the final comment ends its
                    // line without the blank line that would dispatch it.
                    self.metrics.backend_errors.fetch_add(1, Ordering::Relaxed);
                    self.close("the backend ended the stream in the middle of an event".into());
                }
                Wake::Upstream(None) => {
                    self.done = true;
                    self.reason = Cow::Borrowed("the backend ended the stream");
                }
                Wake::Shared(Delivery::Events) => {
                    self.last_activity = Instant::now();
                    self.forward_events().await;
                }
                Wake::Shared(Delivery::Comment(comment)) => self.pending.push_back(comment),
                Wake::Shared(Delivery::End(why)) => self.close(why),
                Wake::Timer if self.timer.deadline >= self.expiry => {
                    self.close("the access token expired".to_string());
                }
                Wake::Timer => {
                    let now = Instant::now();
                    let due = self.last_activity + self.heartbeat;
                    if due > now {
                        // Bytes came since the timer was set: wait out the rest.
                        self.timer.reset(due.min(self.expiry));
                        continue;
                    }
                    self.last_activity = now;
                    self.timer.reset((now + self.heartbeat).min(self.expiry));
                    // Never inside an event: a blank line there would dispatch it early.
                    if self.at_boundary {
                        self.pending.push_back(Bytes::from_static(HEARTBEAT));
                    }
                }
            }
        }
    }

    /// Meters a backend chunk and queues what may be forwarded of it.
    async fn forward(&mut self, chunk: Bytes) {
        let Some(metering) = &self.metering else {
            let n = self.counter.count_events(&chunk) as u64;
            self.count(n);
            self.queue_whole(chunk);
            return;
        };
        let window = metering.window.clone();
        self.ends.clear();
        let ends = &mut self.ends;
        self.counter.for_each_dispatch(&chunk, |end| ends.push(end));
        let n = self.ends.len() as u64;
        if n == 0 {
            self.queue_whole(chunk);
            return;
        }
        let (granted, now, store_down) = reserve(&window, n).await;
        self.count(granted);
        if granted == n && window.remaining(now) > 0 {
            self.queue_whole(chunk);
            return;
        }
        // Forward exactly up to the end of the last granted event, then stop.
        let granted = usize::try_from(granted).unwrap_or(0);
        if let Some(&cut) = granted.checked_sub(1).and_then(|i| self.ends.get(i)) {
            self.at_boundary = true;
            self.last_byte = cut.checked_sub(1).and_then(|i| chunk.get(i)).copied();
            self.pending.push_back(chunk.slice(..cut));
        }
        if store_down {
            self.close("quota store unavailable".to_string());
            return;
        }
        self.quota_exhausted(&window, now);
    }

    /// Meters whole events from a shared stream and queues those granted; each is one
    /// event, so no scan is needed and the stream is always between events.
    async fn forward_events(&mut self) {
        let n = self.batch.len() as u64;
        let Some(metering) = &self.metering else {
            self.count(n);
            self.pending.extend(self.batch.drain(..));
            return;
        };
        let window = metering.window.clone();
        let (granted, now, store_down) = reserve(&window, n).await;
        self.count(granted);
        let granted = usize::try_from(granted).unwrap_or(0);
        self.pending.extend(self.batch.drain(..).take(granted));
        self.batch.clear();
        if granted as u64 == n && window.remaining(now) > 0 {
            return;
        }
        if store_down {
            self.close("quota store unavailable".to_string());
            return;
        }
        self.quota_exhausted(&window, now);
    }

    /// Ends the stream because the quota is used up, with `retry:` set to when it is back.
    fn quota_exhausted(&mut self, window: &EventWindow, now: crate::catalog::Millis) {
        let reset = window.millis_until_reset(now);
        let wait = (reset + 999) / 1000;
        let plan = self
            .metering
            .as_ref()
            .map(|m| m.plan.as_str())
            .unwrap_or("");
        // `retry:` makes a browser EventSource reconnect (with Last-Event-ID) just when
        // the quota is back, instead of after 3 s into a 429 that ends it for good.
        self.close_with(
            format!("quota exhausted: {plan}; try again in {wait} s"),
            Some(reset.max(1000)),
        );
    }

    fn queue_whole(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.at_boundary = self.counter.at_event_boundary();
        self.last_byte = chunk.last().copied();
        // Nothing is queued when a chunk is metered: the backend is read only then.
        debug_assert!(self.ready.is_none() && self.pending.is_empty());
        self.ready = Some(chunk);
    }

    fn count(&mut self, n: u64) {
        if n > 0 {
            self.delivered += n;
            self.pair.events.fetch_add(n, Ordering::Relaxed);
            self.metrics.events_total.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Records that the client's connection is closed because it read nothing for the
    /// send timeout (`secs`), the reason its traffic event gives when the relay is
    /// dropped (instead of `client left`). Nothing more is written to that client.
    /// A stream already ending for another reason (its final comment is what could not
    /// be written) keeps that reason.
    pub(crate) fn client_stopped_reading(&mut self, secs: u64) {
        if self.reason != CLIENT_LEFT {
            return;
        }
        self.reason = Cow::Owned(format!(
            "send timeout: the client read nothing for {secs} s"
        ));
    }

    /// Ends the stream with a final comment saying why.
    fn close(&mut self, why: String) {
        self.close_with(why, None);
    }

    /// Ends the stream with a final comment saying why, after a `retry:` line if given.
    /// Inside an event the lines go out without the blank line, so the partial event is
    /// never dispatched (a client applies `retry:` as soon as it reads the line).
    fn close_with(&mut self, why: String, retry_millis: Option<i64>) {
        let text = why.replace(['\r', '\n'], " ");
        let retry = retry_millis
            .map(|ms| format!("retry: {ms}\n"))
            .unwrap_or_default();
        let tail = if self.at_boundary {
            format!("{retry}: {text}\n\n")
        } else if matches!(self.last_byte, Some(b'\n' | b'\r')) {
            format!("{retry}: {text}\n")
        } else {
            format!("\n{retry}: {text}\n")
        };
        self.pending.push_back(Bytes::from(tail));
        self.done = true;
        self.reason = Cow::Owned(why);
    }
}

/// A tokio timer that is polled only when it may have fired: a stream is woken by its
/// traffic far more often than by its timer, and polling a registered timer costs a
/// visit to its entry (a separate allocation, cold by the stream's next event).
struct Timer {
    sleep: std::pin::Pin<Box<Sleep>>,
    /// When it fires.
    deadline: Instant,
    /// The waker the timer's entry holds, once polled (`None` after a reset).
    waker: Option<Waker>,
}

impl Timer {
    fn new(deadline: Instant) -> Self {
        Self {
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            deadline,
            waker: None,
        }
    }

    /// Ready once the deadline is reached. Before it, a timer already registered with
    /// `cx`'s waker is not polled: it wakes that waker when it fires (never before the
    /// deadline: tokio rounds deadlines up to its next millisecond tick).
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(waker) = &self.waker
            && waker.will_wake(cx.waker())
            && Instant::now() < self.deadline
        {
            return Poll::Pending;
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            self.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Moves the deadline; the next poll registers the timer again.
    fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        self.sleep.as_mut().reset(deadline);
        self.waker = None;
    }
}

/// What the relay's source has next (cancel-safe, as the select in `next_chunk` needs).
async fn next_from(source: &mut Source, batch: &mut VecDeque<Bytes>) -> Wake {
    match source {
        Source::Direct(body) => Wake::Upstream(body.next().await),
        Source::Shared(sub) => Wake::Shared(sub.next(batch).await),
    }
}

/// A relay as a body, with its h2 stream's tally if it has one: dropped after the stream's
/// watchdog cut it, the relay's end reason says so (not `client left`).
struct H2Body {
    relay: Relay,
    progress: Option<super::h2_stall::Tally>,
}

impl Drop for H2Body {
    fn drop(&mut self) {
        if let Some(secs) = self
            .progress
            .as_ref()
            .and_then(super::h2_stall::Tally::cut_after_secs)
        {
            self.relay.client_stopped_reading(secs);
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.metrics.open_streams.fetch_sub(1, Ordering::Relaxed);
        self.pair.closed(is_backend_failure(&self.reason));
        if self.telemetry.streams_watched() {
            self.telemetry.report(TrafficEvent::Closed {
                stream_id: self.stream_id,
                events: self.delivered,
                reason: std::mem::take(&mut self.reason).into_owned(),
                at: now_millis(),
            });
        }
    }
}

/// Whether a stream's end `reason` is a failure of its backend (a direct stream's, or the
/// shared stream's it was subscribed to): the connection failed or the stream ended in
/// the middle of an event.
fn is_backend_failure(reason: &str) -> bool {
    reason.starts_with("the backend connection failed")
        || reason.starts_with("the backend ended the stream in the middle")
}

/// Reserves `n` events from `window` at the current time, refilling a lease that ran dry
/// from the quota store (rarely: leases are prefetched; a local window has nothing more to
/// give). Answers the events granted (at most `n`), the time of the last reservation, and
/// whether the quota store was unavailable.
async fn reserve(window: &EventWindow, n: u64) -> (u64, crate::catalog::Millis, bool) {
    let mut now = now_millis();
    let mut granted = window.reserve(n, now);
    let mut store_down = false;
    while granted < n && window.is_leased() {
        // Boxed: the quota store call is rare and large; inline it would size every
        // stream's task.
        match Box::pin(window.refill(n - granted, now)).await {
            Refill::Granted => {
                now = now_millis();
                granted += window.reserve(n - granted, now);
            }
            Refill::Exhausted => break,
            Refill::Unavailable => {
                store_down = true;
                break;
            }
        }
    }
    (granted, now, store_down)
}
