//! The send timeout for one HTTP/2 stream. On HTTP/1.1 a client that stops reading stops
//! the socket being writable, and the socket's send timeout (`listener::SendTimeout`)
//! closes the connection. Over h2 a client may go on reading the socket while it grants a
//! stream no flow-control window (no `WINDOW_UPDATE`): the socket stays writable, hyper
//! holds the stream's last chunk waiting for window and no longer asks the body for more,
//! so nothing of the stream runs, and it would hold its backend connection for ever.
//!
//! hyper runs each h2 stream as a task of its own through the connection's executor:
//! [`StreamExecutor`] runs it beside a watchdog. A relay's body notes in a [`Progress`]
//! when hyper asks for a chunk and when it hands one out ([`Tally`], found through a task
//! local, so only relays on h2 streams are watched). A chunk handed out and not followed
//! by another ask for the send timeout means hyper could not send it: the watchdog drops
//! the stream's task, which resets the stream (`RST_STREAM` `CANCEL`) and drops the relay
//! with its backend connection, and counts a send timeout. A stream waiting for its
//! backend (idle, heartbeats going out) is asked for its next chunk, so it is not touched.
//!
//! The watchdog is a timer per watched stream that ticks every quarter of the send
//! timeout; the body's side is two plain atomic stores per chunk.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use crate::telemetry::Metrics;

tokio::task_local! {
    /// The progress of the h2 stream whose task is being polled (set by
    /// [`StreamExecutor`]).
    static STREAM: Arc<Progress>;
}

/// The shortest tick of a watchdog (for tiny send timeouts).
const MIN_TICK: Duration = Duration::from_millis(10);

/// What an h2 stream's body did last, as its watchdog samples it: `asks << 1 | owed`,
/// where `asks` counts hyper's asks for a chunk and `owed` is set once the asked chunk was
/// handed out (hyper owes the next ask). Zero until the body is first asked: a stream whose
/// answer is not a relay is never watched.
#[derive(Debug, Default)]
pub(super) struct Progress {
    /// `asks << 1 | owed`, as above.
    state: AtomicU64,
    /// The send timeout in seconds once the watchdog cut the stream, else 0.
    cut_secs: AtomicU64,
}

impl Progress {
    fn load(&self) -> u64 {
        self.state.load(Ordering::Relaxed)
    }

    /// Marks the stream as cut by its watchdog after `timeout` (seconds, at least 1), read
    /// by its body as it is dropped ([`Tally::cut_after_secs`]).
    fn cut(&self, timeout: Duration) {
        self.cut_secs
            .store(timeout.as_secs().max(1), Ordering::Relaxed);
    }
}

/// A relay body's side of its stream's [`Progress`]: it alone writes it, so its count is
/// kept here and each note is a plain store.
#[derive(Debug)]
pub(crate) struct Tally {
    progress: Arc<Progress>,
    asks: u64,
}

impl Tally {
    /// The tally of the h2 stream whose task is running, if it is run by a
    /// [`StreamExecutor`] (on HTTP/1.1 there is none).
    pub(crate) fn for_this_stream() -> Option<Tally> {
        STREAM
            .try_with(|progress| Tally {
                progress: progress.clone(),
                asks: 0,
            })
            .ok()
    }

    /// hyper asked for the next chunk: it had room for the last one.
    pub(crate) fn asked(&mut self) {
        // Never back to zero (that means "not a relay").
        self.asks = self.asks.wrapping_add(1).max(1);
        self.progress.state.store(self.asks << 1, Ordering::Relaxed);
    }

    /// The asked chunk was handed to hyper: the next ask shows it was sent.
    pub(crate) fn handed_out(&self) {
        self.progress
            .state
            .store(self.asks << 1 | 1, Ordering::Relaxed);
    }

    /// The send timeout in seconds if the stream's watchdog cut it (its body is then being
    /// dropped), else `None`.
    pub(crate) fn cut_after_secs(&self) -> Option<u64> {
        Some(self.progress.cut_secs.load(Ordering::Relaxed)).filter(|secs| *secs > 0)
    }
}

/// The executor of the h2 connections hyper serves on the TLS port: spawns each stream's
/// task on tokio with a watchdog that ends it once its body's data has waited for the
/// client's flow-control window for `send_timeout` (counted in `metrics.send_timeouts`).
#[derive(Clone)]
pub(super) struct StreamExecutor {
    send_timeout: Duration,
    metrics: Arc<Metrics>,
}

impl StreamExecutor {
    /// An executor whose streams may hold data back for at most `send_timeout`.
    pub(super) fn new(send_timeout: Duration, metrics: Arc<Metrics>) -> Self {
        Self {
            send_timeout,
            metrics,
        }
    }
}

impl<F> hyper::rt::Executor<F> for StreamExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        let progress = Arc::new(Progress::default());
        let mut watchdog = Watchdog::new(progress.clone(), self.send_timeout);
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            let stream = STREAM.scope(progress, fut);
            tokio::select! {
                // The stream first: it is what arms the watchdog.
                biased;
                _ = stream => {}
                () = poll_fn(|cx| watchdog.poll(cx)) => {
                    // The stream's task was dropped above with the select: its body (the
                    // relay and its backend connection) with it, and h2 resets the stream.
                    metrics.send_timeouts.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(
                        "h2 stream: the client granted no window for {:?}; reset",
                        watchdog.timeout
                    );
                }
            }
        });
    }
}

/// Samples a stream's [`Progress`] every tick; ready once a chunk has been owed for the
/// timeout. Its timer is made only once the body was first asked for a chunk.
struct Watchdog {
    progress: Arc<Progress>,
    timeout: Duration,
    tick: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    /// The progress at the last tick, and when it was first seen.
    seen: u64,
    since: Instant,
}

impl Watchdog {
    fn new(progress: Arc<Progress>, timeout: Duration) -> Self {
        Self {
            progress,
            timeout,
            tick: (timeout / 4).max(MIN_TICK),
            sleep: None,
            seen: 0,
            since: Instant::now(),
        }
    }

    /// Ready when the stream's body has had a chunk owed for the timeout: it was seen owed
    /// with no ask since, at ticks at least the timeout apart (so never early; at most a
    /// tick late).
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let Some(sleep) = &mut self.sleep else {
                if self.progress.load() == 0 {
                    // Not a relay (yet): polled again after each poll of the stream.
                    return Poll::Pending;
                }
                self.since = Instant::now();
                self.sleep = Some(Box::pin(tokio::time::sleep_until(self.since + self.tick)));
                continue;
            };
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let now = Instant::now();
            let state = self.progress.load();
            if state & 1 == 1 && state == self.seen {
                if now.duration_since(self.since) >= self.timeout {
                    // Before the stream's task is dropped: its body reads this as it goes.
                    self.progress.cut(self.timeout);
                    return Poll::Ready(());
                }
            } else {
                self.seen = state;
                self.since = now;
            }
            sleep.as_mut().reset(now + self.tick);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_a_chunk_owed_for_the_timeout_fires() {
        let progress = Arc::new(Progress::default());
        let mut tally = Tally {
            progress: progress.clone(),
            asks: 0,
        };
        let mut watchdog = Watchdog::new(progress, Duration::from_secs(1));
        // Not a relay: never fires.
        assert!(!run_for(&mut watchdog, Duration::from_millis(500)).await);
        // Asked, waiting for the backend (idle): never fires.
        tally.asked();
        assert!(!run_for(&mut watchdog, Duration::from_millis(1500)).await);
        // Chunks handed out and asked for again within the timeout: never fires.
        for _ in 0..4 {
            tally.handed_out();
            assert!(!run_for(&mut watchdog, Duration::from_millis(300)).await);
            tally.asked();
        }
        // A chunk owed: not before the timeout, at most a tick (250 ms) after.
        tally.handed_out();
        assert!(!run_for(&mut watchdog, Duration::from_millis(900)).await);
        assert!(run_for(&mut watchdog, Duration::from_millis(1000)).await);
    }

    /// Polls `watchdog` every 10 ms for `span`, as its task would be on its timer;
    /// whether it fired.
    async fn run_for(watchdog: &mut Watchdog, span: Duration) -> bool {
        let end = Instant::now() + span;
        while Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let mut cx = Context::from_waker(std::task::Waker::noop());
            if watchdog.poll(&mut cx).is_ready() {
                return true;
            }
        }
        false
    }
}
