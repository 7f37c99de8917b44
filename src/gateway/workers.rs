//! How the gateway's worker threads share its plain port: one listening socket, and a
//! worker takes new connections only while the workers before it are busy.
//!
//! A light load then stays on the first worker, the way nginx's workers share a listening
//! socket (`EPOLLEXCLUSIVE` wakes the first idle one): ten bulk streams on one thread cost
//! one wake-up per burst of events, where spread over two threads each burst wakes both
//! (on a VM, a wake-up costs tens of microseconds of CPU in the kernel and hypervisor). A
//! worker more than [`OPEN_ABOVE`] busy opens the next worker's gate, which then takes
//! connections as well; that worker closes its gate again once the one before it is less
//! than [`CLOSE_BELOW`] busy. A closed worker's thread does not watch the socket at all,
//! so new connections do not wake it.
//!
//! "Busy" is the share of wall time the worker's event loop spent outside its wait for
//! events (tokio's `on_thread_park` / `on_thread_unpark` hooks), over the last
//! [`SAMPLE_WINDOW`] or more.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// A worker busier than this share of the time opens the next worker's gate.
pub const OPEN_ABOVE: f64 = 0.5;

/// A worker's gate closes when the worker before it is less busy than this share.
pub const CLOSE_BELOW: f64 = 0.25;

/// The shortest span a busy share is measured over; readings in between reuse it.
pub const SAMPLE_WINDOW: Duration = Duration::from_millis(50);

/// How often a worker other than the first looks at the worker before it without waiting
/// for an accept: a closed one in case that one became busy without accepting anything
/// (its streams grew; connections in between wait for it), an open one in case it has
/// room again (so an idle pair goes back to one worker).
pub const RECHECK: Duration = Duration::from_millis(100);

/// One worker thread's load: the time its event loop was busy, and connections it took.
#[derive(Debug)]
pub struct WorkerLoad {
    /// The origin of the nanosecond stamps below.
    epoch: Instant,
    /// Nanoseconds busy up to the last park.
    busy_ns: AtomicU64,
    /// When the loop last woke (nanoseconds since `epoch`, at least 1); 0 while parked.
    woke_at: AtomicU64,
    /// Connections this worker accepted.
    accepted: AtomicU64,
}

impl Default for WorkerLoad {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            busy_ns: AtomicU64::new(0),
            // A worker starts busy: its loop runs before it first parks.
            woke_at: AtomicU64::new(1),
            accepted: AtomicU64::new(0),
        }
    }
}

impl WorkerLoad {
    /// Nanoseconds from `epoch` to `at` (0 before it), at least 1.
    fn stamp(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// The event loop is about to wait for events (`on_thread_park`).
    pub fn parked(&self) {
        self.parked_at(Instant::now());
    }

    /// The event loop woke up (`on_thread_unpark`).
    pub fn woke(&self) {
        self.woke_at(Instant::now());
    }

    fn parked_at(&self, at: Instant) {
        let woke = self.woke_at.swap(0, Ordering::Relaxed);
        if woke != 0 {
            let busy = self.stamp(at).saturating_sub(woke);
            self.busy_ns.fetch_add(busy, Ordering::Relaxed);
        }
    }

    fn woke_at(&self, at: Instant) {
        self.woke_at.store(self.stamp(at), Ordering::Relaxed);
    }

    /// Time busy from the start to `at`, the running stretch included.
    pub fn busy_at(&self, at: Instant) -> Duration {
        let woke = self.woke_at.load(Ordering::Relaxed);
        let running = if woke == 0 {
            0
        } else {
            self.stamp(at).saturating_sub(woke)
        };
        Duration::from_nanos(self.busy_ns.load(Ordering::Relaxed).saturating_add(running))
    }

    /// Counts a connection this worker accepted.
    pub fn accepted_one(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// Connections this worker accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }
}

/// One reader's view of a worker's busy share: the share over the time since the reader's
/// previous measurement, when that is at least [`SAMPLE_WINDOW`] ago, else the previous
/// share.
#[derive(Debug)]
pub struct BusyShare {
    load: Arc<WorkerLoad>,
    /// When the last measurement was taken, and the busy time then.
    since: Instant,
    busy_then: Duration,
    share: f64,
}

impl BusyShare {
    /// A reader of `load`, with no measurement yet (share 0).
    pub fn new(load: Arc<WorkerLoad>) -> Self {
        let since = Instant::now();
        let busy_then = load.busy_at(since);
        Self {
            load,
            since,
            busy_then,
            share: 0.0,
        }
    }

    /// The busy share (0 to 1) as of now.
    pub fn now(&mut self) -> f64 {
        self.at(Instant::now())
    }

    /// The busy share (0 to 1) as of `at`.
    pub fn at(&mut self, at: Instant) -> f64 {
        let span = at.saturating_duration_since(self.since);
        if span >= SAMPLE_WINDOW {
            let busy = self.load.busy_at(at);
            let grew = busy.saturating_sub(self.busy_then);
            self.share = (grew.as_secs_f64() / span.as_secs_f64()).clamp(0.0, 1.0);
            self.since = at;
            self.busy_then = busy;
        }
        self.share
    }
}

/// Whether a worker (other than the first) takes new connections.
#[derive(Debug, Default)]
pub struct AcceptGate {
    open: AtomicBool,
    opened: Notify,
}

impl AcceptGate {
    /// Whether the worker takes connections now.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// Lets the worker take connections, waking it if it waits in [`AcceptGate::wait`].
    pub fn open(&self) {
        if !self.open.swap(true, Ordering::AcqRel) {
            self.opened.notify_waiters();
        }
    }

    /// Stops the worker taking connections (from its next accept on).
    pub fn close(&self) {
        self.open.store(false, Ordering::Release);
    }

    /// Waits until the gate is open, or, every [`RECHECK`], until the worker
    /// before (`before`) is busier than [`OPEN_ABOVE`], which opens it.
    pub async fn wait(&self, before: &mut BusyShare) {
        loop {
            let opened = self.opened.notified();
            let mut opened = std::pin::pin!(opened);
            opened.as_mut().enable();
            if self.is_open() {
                return;
            }
            tokio::select! {
                () = opened => {}
                () = tokio::time::sleep(RECHECK) => {
                    if before.now() > OPEN_ABOVE {
                        self.open();
                    }
                }
            }
        }
    }
}

/// An accept loop's place among the gateway's workers.
#[derive(Debug)]
pub struct Packing {
    /// This worker's busy share, over its load (which also counts its accepts): opens the
    /// next gate when busy.
    own: BusyShare,
    /// This worker's gate and the share of the worker before it; `None` for the first
    /// worker, which always takes connections.
    gate: Option<(Arc<AcceptGate>, BusyShare)>,
    /// The next worker's gate, if there is a next worker.
    next: Option<Arc<AcceptGate>>,
}

impl Packing {
    /// The accept loops of workers with `loads` (in order), one [`Packing`] each.
    pub fn chain(loads: &[Arc<WorkerLoad>]) -> Vec<Self> {
        let gates: Vec<Arc<AcceptGate>> = loads.iter().map(|_| Arc::default()).collect();
        loads
            .iter()
            .enumerate()
            .map(|(k, load)| Self {
                own: BusyShare::new(load.clone()),
                gate: k
                    .checked_sub(1)
                    .and_then(|before| loads.get(before))
                    .zip(gates.get(k))
                    .map(|(before, gate)| (gate.clone(), BusyShare::new(before.clone()))),
                next: gates.get(k + 1).cloned(),
            })
            .collect()
    }

    /// Whether this worker takes connections now (without waiting).
    pub fn may_accept(&self) -> bool {
        self.gate.as_ref().is_none_or(|(gate, _)| gate.is_open())
    }

    /// Waits until this worker may take connections.
    pub async fn wait(&mut self) {
        if let Some((gate, before)) = &mut self.gate {
            gate.wait(before).await;
        }
    }

    /// Whether this worker's gate is open, so it should look again in
    /// [`RECHECK`] whether the worker before it still needs it
    /// ([`Packing::recheck`]).
    pub fn is_helping(&self) -> bool {
        self.gate.as_ref().is_some_and(|(gate, _)| gate.is_open())
    }

    /// While this worker's gate is open and nothing arrives: closes it when the worker
    /// before is less than [`CLOSE_BELOW`] busy, so an idle pair goes back to one worker.
    pub fn recheck(&mut self) {
        self.recheck_at(Instant::now());
    }

    fn recheck_at(&mut self, at: Instant) {
        if let Some((gate, before)) = &mut self.gate
            && before.at(at) < CLOSE_BELOW
        {
            gate.close();
        }
    }

    /// After this worker accepted a connection: counts it, opens the next worker's gate
    /// when this one is busy, and closes this worker's own when the one before has room.
    pub fn accepted(&mut self) {
        self.accepted_at(Instant::now());
    }

    fn accepted_at(&mut self, at: Instant) {
        self.own.load.accepted_one();
        if let Some(next) = &self.next
            && self.own.at(at) > OPEN_ABOVE
        {
            next.open();
        }
        self.recheck_at(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A load parked from `start` (which is after its epoch) on.
    fn parked_load() -> (Arc<WorkerLoad>, Instant) {
        let load = Arc::new(WorkerLoad::default());
        let start = Instant::now();
        load.parked_at(start);
        (load, start)
    }

    /// Marks `load` busy for `busy` of every 10 ms, `n` times from `from`; returns the end.
    fn run(load: &WorkerLoad, from: Instant, n: u32, busy: Duration) -> Instant {
        let every = Duration::from_millis(10);
        for k in 0..n {
            load.woke_at(from + every * k);
            load.parked_at(from + every * k + busy);
        }
        from + every * n
    }

    #[test]
    fn busy_time_counts_the_stretches_between_wake_and_park() {
        let (load, start) = parked_load();
        let before = load.busy_at(start);
        let end = run(&load, start, 10, Duration::from_millis(3));
        assert_eq!(load.busy_at(end) - before, Duration::from_millis(30));
        // A running stretch counts up to the reading.
        load.woke_at(end);
        assert_eq!(
            load.busy_at(end + Duration::from_millis(4)) - before,
            Duration::from_millis(34)
        );
    }

    #[test]
    fn the_share_is_measured_over_at_least_the_sample_window() {
        let (load, start) = parked_load();
        let mut share = BusyShare {
            load: load.clone(),
            since: start,
            busy_then: load.busy_at(start),
            share: 0.0,
        };
        // 60% busy over 100 ms.
        let t = run(&load, start, 10, Duration::from_millis(6));
        assert!((share.at(t) - 0.6).abs() < 1e-9, "{}", share.at(t));
        // Less than a window later the reading stays.
        load.woke_at(t);
        load.parked_at(t + Duration::from_millis(10));
        assert!((share.at(t + Duration::from_millis(10)) - 0.6).abs() < 1e-9);
        // A window later it is the new span's share: 10 of 50 ms.
        assert!((share.at(t + Duration::from_millis(50)) - 0.2).abs() < 1e-9);
    }

    #[test]
    fn a_busy_worker_opens_the_next_gate_and_an_idle_one_lets_it_close() {
        let loads: Vec<Arc<WorkerLoad>> = (0..3).map(|_| Arc::default()).collect();
        let mut chain = Packing::chain(&loads);
        assert!(chain[0].may_accept());
        assert!(!chain[1].may_accept() && !chain[2].may_accept());
        let start = chain[0].own.since;
        for load in &loads {
            load.parked_at(start);
        }

        // Worker 0, 20% busy, keeps the connections to itself.
        let t = run(&loads[0], start, 10, Duration::from_millis(2));
        chain[0].accepted_at(t);
        assert!(!chain[1].may_accept());

        // 80% busy: the next worker's gate opens; the one after stays closed.
        let t = run(&loads[0], t, 10, Duration::from_millis(8));
        chain[0].accepted_at(t);
        assert!(chain[1].may_accept());
        assert!(!chain[2].may_accept());
        assert_eq!(loads[0].accepted(), 2);

        // Worker 1 takes one while worker 0 is still busy: its gate stays open...
        chain[1].accepted_at(t);
        assert!(chain[1].may_accept());
        assert_eq!(loads[1].accepted(), 1);
        // ...and closes at its next accept once worker 0 is under a quarter busy.
        let t = run(&loads[0], t, 10, Duration::from_millis(1));
        chain[1].accepted_at(t);
        assert!(!chain[1].may_accept());

        // Opened again (worker 0's share since its last reading at 200 ms: 110 of 200
        // ms), it closes without an accept once worker 0 has room.
        let t = run(&loads[0], t, 10, Duration::from_millis(10));
        chain[0].accepted_at(t);
        assert!(chain[1].is_helping());
        chain[1].recheck_at(t);
        assert!(chain[1].is_helping());
        let t = run(&loads[0], t, 10, Duration::from_millis(1));
        chain[1].recheck_at(t);
        assert!(!chain[1].is_helping() && !chain[1].may_accept());
    }

    #[tokio::test]
    async fn a_closed_gate_waits_until_opened() {
        let gate = Arc::new(AcceptGate::default());
        let mut before = BusyShare::new(Arc::new(WorkerLoad::default()));
        let waiting = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.wait(&mut before).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        gate.open();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the gate opened")
            .expect("the waiter ran");
    }
}
