//! Leases: a node's share of a subscription's event window kept in the quota store.
//!
//! Streams take events from the node's lease balance with one compare-and-swap (as from a
//! local window); the lease is refilled from Redis a block at a time, prefetched when the
//! balance falls under half the last block, and what is left is given back when the node's
//! last stream of the subscription ends. Blocks hold about [`LEASE_HORIZON_SECS`] of the
//! observed event rate, and never more than `remaining / (2 x nodes)`, so the last events
//! of a window are shared fairly between nodes. Redis grants at most what remains, so the
//! events delivered over all nodes never exceed the quota.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use tokio::time::Instant;

use crate::catalog::{Millis, now_millis};

use super::meter::{pack, unpack};
use super::quota_store::{LeaseCall, LeaseGrant, QuotaStore, QuotaStoreDown, Unavailable};

/// Seconds of events (at the observed rate) one block holds.
pub(crate) const LEASE_HORIZON_SECS: f64 = 2.0;
/// The smallest block.
pub(crate) const MIN_BLOCK: u64 = 1;
/// The largest block.
pub(crate) const MAX_BLOCK: u64 = 100_000;
/// The first block of a window, before a rate is known.
pub(crate) const INITIAL_BLOCK: u64 = 100;
/// How long a window's keys outlive the window in Redis, for clocks a little apart.
const KEY_GRACE_MILLIS: i64 = 5_000;
/// Window numbers are kept modulo this in the packed states (only equality matters).
const TAG_MASK: u64 = (1 << 24) - 1;

/// The size of the next block: about [`LEASE_HORIZON_SECS`] of events at `rate_per_sec`
/// ([`INITIAL_BLOCK`] when no rate is known yet), at least what a stream `need`s now,
/// between [`MIN_BLOCK`] and [`MAX_BLOCK`], and at most `remaining / (2 x nodes)` (at
/// least 1) so the end of the quota is shared fairly.
pub(crate) fn block_size(rate_per_sec: Option<f64>, remaining: u64, nodes: u64, need: u64) -> u64 {
    let by_rate = match rate_per_sec {
        None => INITIAL_BLOCK,
        Some(rate) if rate.is_finite() && rate > 0.0 => {
            let events = (rate * LEASE_HORIZON_SECS).ceil();
            if events >= MAX_BLOCK as f64 {
                MAX_BLOCK
            } else {
                // In range: 0 < events < MAX_BLOCK.
                events as u64
            }
        }
        Some(_) => MIN_BLOCK,
    };
    let fair = (remaining / nodes.max(1).saturating_mul(2)).max(1);
    by_rate.clamp(MIN_BLOCK, MAX_BLOCK).max(need).min(fair)
}

/// How a refill went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refill {
    /// Events were added to the balance (or it already had some).
    Granted,
    /// The window's quota is used up on every node.
    Exhausted,
    /// The quota store is unavailable (and `--quota-store-down=fail`).
    Unavailable,
}

/// A call to the store that failed after it may have run (a timeout, a lost connection),
/// in the window numbered `epoch`. It is sent again, with its number, before any other
/// call of the lease, so what it did is neither lost nor done twice.
#[derive(Debug, Clone, Copy)]
enum InDoubt {
    Lease {
        epoch: u64,
        call: LeaseCall,
    },
    GiveBack {
        epoch: u64,
        number: u64,
        unused: u64,
    },
}

impl InDoubt {
    /// The number of the window the call was made in.
    fn epoch(&self) -> u64 {
        match self {
            Self::Lease { epoch, .. } | Self::GiveBack { epoch, .. } => *epoch,
        }
    }
}

/// The rate bookkeeping of refills and the call in doubt (behind the refill lock).
struct Pace {
    tag: u64,
    at: Instant,
    delivered_at: u64,
    rate: Option<f64>,
    nodes: u64,
    in_doubt: Option<InDoubt>,
}

/// One subscription's lease on one node.
pub(crate) struct Lease {
    store: Arc<QuotaStore>,
    /// `sg:quota:{subscription}:{window length}`; the window number is appended.
    key: String,
    /// This lease's name in the store's records of applied calls.
    caller: String,
    len: i64,
    limit: u64,
    /// Packed (window tag, events leased and not yet delivered).
    balance: AtomicU64,
    /// Packed (window tag, events left in the store after the last lease).
    hint: AtomicU64,
    /// Packed (window tag, events obtained in the window: leases and local grants).
    taken: AtomicU64,
    /// Packed (window tag, events granted locally while the store was down, not yet
    /// charged to it).
    local: AtomicU64,
    /// A prefetch starts when the balance falls below this.
    low_water: AtomicU64,
    prefetching: AtomicBool,
    streams: AtomicUsize,
    warned_local: AtomicBool,
    pace: tokio::sync::Mutex<Pace>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("key", &self.key).finish()
    }
}

fn read(cell: &AtomicU64, tag: u64) -> u64 {
    let (t, n) = unpack(cell.load(Ordering::Acquire));
    if t == tag { n } else { 0 }
}

/// Adds `n` to the cell's count for `tag` (a cell of another window starts from 0).
fn add(cell: &AtomicU64, tag: u64, n: u64) {
    let _ = cell.fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
        let (t, count) = unpack(state);
        let count = if t == tag { count } else { 0 };
        Some(pack(tag, count.saturating_add(n)))
    });
}

/// Takes up to `want` from the cell's count for `tag`; returns how many were taken.
fn take(cell: &AtomicU64, tag: u64, want: u64) -> u64 {
    let mut taken = 0;
    let _ = cell.fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
        let (t, count) = unpack(state);
        let count = if t == tag { count } else { 0 };
        taken = want.min(count);
        Some(pack(tag, count - taken))
    });
    taken
}

impl Lease {
    /// A lease on `subscription_id`'s windows of `len` ms and `limit` events.
    pub(crate) fn new(store: Arc<QuotaStore>, subscription_id: &str, len: i64, limit: u64) -> Self {
        let len = len.max(1);
        Self {
            caller: store.new_caller(),
            store,
            key: format!("sg:quota:{subscription_id}:{len}"),
            len,
            limit,
            balance: AtomicU64::new(0),
            hint: AtomicU64::new(0),
            taken: AtomicU64::new(0),
            local: AtomicU64::new(0),
            low_water: AtomicU64::new(0),
            prefetching: AtomicBool::new(false),
            streams: AtomicUsize::new(0),
            warned_local: AtomicBool::new(false),
            pace: tokio::sync::Mutex::new(Pace {
                tag: u64::MAX,
                at: Instant::now(),
                delivered_at: 0,
                rate: None,
                nodes: 1,
                in_doubt: None,
            }),
        }
    }

    fn epoch(&self, now: Millis) -> u64 {
        u64::try_from(now.max(0) / self.len).unwrap_or(0)
    }

    fn tag(&self, now: Millis) -> u64 {
        self.epoch(now) & TAG_MASK
    }

    fn window_key(&self, epoch: u64) -> String {
        format!("{}:{}", self.key, epoch)
    }

    fn ttl(&self, now: Millis) -> i64 {
        let left = self.len - now.max(0) % self.len;
        left + KEY_GRACE_MILLIS
    }

    /// Events leased to this node and not yet delivered, in the window of `now`.
    pub(crate) fn balance(&self, now: Millis) -> u64 {
        read(&self.balance, self.tag(now))
    }

    /// Events this node may still deliver as far as it knows: its balance plus what the
    /// store had left at the last lease (the whole limit before the window's first lease).
    pub(crate) fn remaining(&self, now: Millis) -> u64 {
        let tag = self.tag(now);
        let (t, hint) = unpack(self.hint.load(Ordering::Acquire));
        let hint = if t == tag { hint } else { self.limit };
        read(&self.balance, tag).saturating_add(hint)
    }

    /// Takes up to `want` events from the balance (one compare-and-swap); starts a
    /// prefetch when the balance runs low.
    pub(crate) fn reserve(self: &Arc<Self>, want: u64, now: Millis) -> u64 {
        let tag = self.tag(now);
        let granted = take(&self.balance, tag, want);
        if granted > 0 {
            let left = read(&self.balance, tag);
            if left < self.low_water.load(Ordering::Relaxed)
                && read(&self.hint, tag) > 0
                && !self.prefetching.swap(true, Ordering::AcqRel)
            {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    let lease = self.clone();
                    runtime.spawn(async move {
                        if let Ok(mut pace) = lease.pace.try_lock() {
                            let now = now_millis();
                            if lease.balance(now) < lease.low_water.load(Ordering::Relaxed) {
                                lease.fetch(0, now, &mut pace).await;
                            }
                        }
                        lease.prefetching.store(false, Ordering::Release);
                    });
                } else {
                    self.prefetching.store(false, Ordering::Release);
                }
            }
        }
        granted
    }

    /// Waits for events when the balance is empty: leases a block (at least `need` when
    /// the quota allows), one refill at a time per node.
    pub(crate) async fn refill(&self, need: u64, now: Millis) -> Refill {
        let mut pace = self.pace.lock().await;
        if self.balance(now) > 0 {
            return Refill::Granted;
        }
        self.fetch(need, now, &mut pace).await
    }

    /// Leases the next block from the store (or, while it is unavailable and the mode is
    /// `local`, grants it from this node's own count).
    async fn fetch(&self, need: u64, now: Millis, pace: &mut Pace) -> Refill {
        let tag = self.tag(now);
        let delivered = read(&self.taken, tag).saturating_sub(read(&self.balance, tag));
        if pace.tag != tag {
            pace.tag = tag;
            pace.at = Instant::now();
            pace.delivered_at = 0;
            pace.nodes = 1;
        } else {
            let elapsed = pace.at.elapsed().as_secs_f64();
            if elapsed >= 0.05 {
                let rate = delivered.saturating_sub(pace.delivered_at) as f64 / elapsed;
                pace.rate = Some(match pace.rate {
                    Some(old) => 0.5 * old + 0.5 * rate,
                    None => rate,
                });
                pace.at = Instant::now();
                pace.delivered_at = delivered;
            }
        }
        let (t, hint) = unpack(self.hint.load(Ordering::Acquire));
        let remaining = if t == tag { hint } else { self.limit };
        let want = block_size(pace.rate, remaining, pace.nodes, need);
        match self.settle(now, pace).await {
            Ok(true) => return Refill::Granted,
            Ok(false) => {}
            Err(Unavailable) => return self.unavailable(tag, want, need),
        }
        let call = LeaseCall {
            number: self.store.next_call(),
            want,
            charge: take(&self.local, tag, u64::MAX),
        };
        match self.send_lease(self.epoch(now), call, now, pace).await {
            Ok(grant) if grant.granted > 0 => Refill::Granted,
            Ok(_) => Refill::Exhausted,
            Err(Unavailable) => self.unavailable(tag, want, need),
        }
    }

    /// Sends a lease call of the window numbered `epoch` and adds its grant; when it fails
    /// (it may still have run), keeps it in doubt, to be sent again before any other call.
    async fn send_lease(
        &self,
        epoch: u64,
        call: LeaseCall,
        now: Millis,
        pace: &mut Pace,
    ) -> Result<LeaseGrant, Unavailable> {
        let key = self.window_key(epoch);
        let sent = self
            .store
            .lease(&key, &self.caller, call, self.limit, self.ttl(now))
            .await;
        match sent {
            Ok(grant) => self.add_grant(epoch & TAG_MASK, grant, call.charge, pace),
            Err(Unavailable) => self.in_doubt(InDoubt::Lease { epoch, call }, pace),
        }
        sent
    }

    /// Sends a give-back call of `unused` events of the window numbered `epoch` and adds
    /// what it gave back to the hint; when it fails, keeps it in doubt as
    /// [`send_lease`](Self::send_lease) does.
    async fn send_give_back(
        &self,
        epoch: u64,
        number: u64,
        unused: u64,
        now: Millis,
        pace: &mut Pace,
    ) -> Result<(), Unavailable> {
        let key = self.window_key(epoch);
        let sent = self
            .store
            .give_back(&key, &self.caller, unused, number, self.ttl(now))
            .await;
        match sent {
            Ok(back) => {
                self.hint_more(epoch & TAG_MASK, back);
                Ok(())
            }
            Err(Unavailable) => {
                let call = InDoubt::GiveBack {
                    epoch,
                    number,
                    unused,
                };
                self.in_doubt(call, pace);
                Err(Unavailable)
            }
        }
    }

    /// Keeps `call` in doubt, and has the probe settle it once the store answers.
    fn in_doubt(&self, call: InDoubt, pace: &mut Pace) {
        pace.in_doubt = Some(call);
        self.store.mark_unsettled();
    }

    /// Adds a lease's grant to the balance, and what the store said with it to the pace.
    /// When the window could not take all of the call's `charge` (events counted here
    /// while the store was away), as many events leave the balance: the quota has no room
    /// for them, so they are not delivered.
    fn add_grant(&self, tag: u64, grant: LeaseGrant, charge: u64, pace: &mut Pace) {
        add(&self.balance, tag, grant.granted);
        add(&self.taken, tag, grant.granted);
        let refused = charge.saturating_sub(grant.charged);
        if refused > 0 {
            let dropped = take(&self.balance, tag, refused);
            let _ = take(&self.taken, tag, dropped);
            tracing::warn!(
                "quota store: {} had room for {} of the {charge} events counted while it was away; {dropped} not yet delivered are dropped",
                self.key,
                grant.charged
            );
        }
        self.hint
            .store(pack(tag, grant.remaining), Ordering::Release);
        pace.nodes = grant.nodes;
        self.low_water
            .store(grant.granted.div_ceil(2), Ordering::Relaxed);
    }

    /// What a refill does while the store is unavailable: nothing with
    /// `--quota-store-down=fail`; with `local`, grants `want` events from this node's own
    /// count, to be charged to the store when it returns. A prefetch (`need` 0: the
    /// balance is not empty yet) grants nothing: the balance is used up first.
    fn unavailable(&self, tag: u64, want: u64, need: u64) -> Refill {
        if self.store.down_mode != QuotaStoreDown::Local || need == 0 {
            return Refill::Unavailable;
        }
        self.store.mark_unsettled();
        if !self.warned_local.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "quota store unavailable: counting {} locally; its limits are per node until the store returns",
                self.key
            );
        }
        let grant = want.min(self.limit.saturating_sub(read(&self.taken, tag)));
        add(&self.balance, tag, grant);
        add(&self.taken, tag, grant);
        add(&self.local, tag, grant);
        self.low_water.store(grant.div_ceil(2), Ordering::Relaxed);
        if grant > 0 {
            Refill::Granted
        } else {
            Refill::Exhausted
        }
    }

    /// Sends the call in doubt again, if there is one in the window of `now` (one of an
    /// ended window is dropped: its events ended with it). `Ok(true)`: it was a lease that
    /// granted events. Errors (the call stays in doubt) when the store is unavailable.
    async fn settle(&self, now: Millis, pace: &mut Pace) -> Result<bool, Unavailable> {
        let epoch = self.epoch(now);
        match pace.in_doubt.take() {
            Some(call) if call.epoch() != epoch => Ok(false),
            Some(InDoubt::Lease { call, .. }) => self
                .send_lease(epoch, call, now, pace)
                .await
                .map(|grant| grant.granted > 0),
            Some(InDoubt::GiveBack { number, unused, .. }) => self
                .send_give_back(epoch, number, unused, now, pace)
                .await
                .map(|()| false),
            None => Ok(false),
        }
    }

    /// Adds `back` given-back events to what the store is known to have left.
    fn hint_more(&self, tag: u64, back: u64) {
        let (t, hint) = unpack(self.hint.load(Ordering::Acquire));
        if t == tag {
            self.hint
                .store(pack(tag, hint.saturating_add(back)), Ordering::Release);
        }
    }

    /// Gives the unused balance back to the store (what was granted locally and never
    /// charged is just dropped), after settling the call in doubt; then charges what was
    /// delivered from local grants while the store was away. Errors when the store is
    /// unavailable: what was not given back or charged stays in the balance, in the local
    /// count, or in doubt.
    async fn give_back(&self, pace: &mut Pace) -> Result<(), Unavailable> {
        let now = now_millis();
        let epoch = self.epoch(now);
        let tag = epoch & TAG_MASK;
        self.settle(now, pace).await?;
        let unused = take(&self.balance, tag, u64::MAX);
        let _ = take(&self.taken, tag, unused);
        let uncharged = take(&self.local, tag, unused);
        let back = unused - uncharged;
        if back > 0 {
            let number = self.store.next_call();
            self.send_give_back(epoch, number, back, now, pace).await?;
        }
        self.charge_local(now, pace).await
    }

    /// Charges the local count (events granted here while the store was away) to the
    /// store with a lease call that asks for nothing. Errors (the call stays in doubt)
    /// when the store is unavailable.
    async fn charge_local(&self, now: Millis, pace: &mut Pace) -> Result<(), Unavailable> {
        let epoch = self.epoch(now);
        let charge = take(&self.local, epoch & TAG_MASK, u64::MAX);
        if charge == 0 {
            return Ok(());
        }
        let call = LeaseCall {
            number: self.store.next_call(),
            want: 0,
            charge,
        };
        self.send_lease(epoch, call, now, pace).await.map(|_| ())
    }

    /// Settles what the lease holds for the store while no stream uses it (gives its
    /// balance back, charges its local count, settles a call in doubt); with streams, only
    /// the call in doubt and the local count (the next refill would). Skipped when a
    /// refill is under way. Returns whether something is left for later.
    /// With `wait`, waits for a refill under way instead.
    pub(crate) async fn tidy(&self, wait: bool) -> bool {
        let mut pace = if wait {
            self.pace.lock().await
        } else {
            match self.pace.try_lock() {
                Ok(pace) => pace,
                Err(_) => return true,
            }
        };
        let now = now_millis();
        if !self.unsettled(now, &pace) {
            return false;
        }
        if self.streams.load(Ordering::Acquire) == 0 {
            return self.give_back(&mut pace).await.is_err() && self.unsettled(now, &pace);
        }
        // With streams, the balance is theirs: the call in doubt, then a charge-only lease.
        self.settle(now, &mut pace).await.is_err()
            || self.charge_local(now, &mut pace).await.is_err()
    }

    /// Whether the lease still holds something for the store in the window of `now`: a
    /// balance to give back, a local count to charge, or a call in doubt.
    fn unsettled(&self, now: Millis, pace: &Pace) -> bool {
        let epoch = self.epoch(now);
        self.balance(now) > 0
            || read(&self.local, epoch & TAG_MASK) > 0
            || pace.in_doubt.is_some_and(|call| call.epoch() == epoch)
    }
}

/// A stream's hold on its subscription's lease: when the node's last stream of the
/// subscription lets go, the unused balance is given back to the store.
#[derive(Debug)]
pub(crate) struct Hold(Arc<Lease>);

impl Hold {
    /// Counts one more stream on `lease`.
    pub(crate) fn new(lease: Arc<Lease>) -> Self {
        lease.streams.fetch_add(1, Ordering::AcqRel);
        Self(lease)
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if self.0.streams.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let lease = self.0.clone();
            runtime.spawn(async move {
                // Between the refills of other streams, not in the middle of one.
                let mut pace = lease.pace.lock().await;
                // A stream came back: its refills settle what is left. A failed call is
                // in doubt, and the probe settles it once the store answers.
                if lease.streams.load(Ordering::Acquire) == 0 {
                    let _ = lease.give_back(&mut pace).await;
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::quota_store::QuotaStoreStatus;
    use super::super::quota_store::tests::{free_port, redis_available, redis_on, set, used};
    use super::*;

    /// Local mode: a node that counted events on its own while the store was away charges
    /// them when it returns; when the window has no room left for them, the events it
    /// granted itself and has not delivered are dropped instead of delivered over the
    /// quota.
    #[tokio::test]
    async fn a_local_count_the_window_has_no_room_for_is_not_delivered() {
        if !redis_available() {
            return;
        }
        let port = free_port();
        let status = Arc::new(QuotaStoreStatus::default());
        let url = format!("redis://127.0.0.1:{port}");
        let store =
            Arc::new(QuotaStore::new(&url, QuotaStoreDown::Local, status).expect("a store"));
        let lease = Arc::new(Lease::new(store, "sub", 60_000, 100));
        let _stream = Hold::new(lease.clone());
        // The store is away: the node grants itself a block and delivers 20 of it.
        let now = now_millis();
        assert_eq!(lease.refill(1, now).await, Refill::Granted);
        // Half the window at most: a fair share for 1 node.
        assert_eq!(lease.balance(now), 50);
        assert_eq!(lease.reserve(20, now), 20);
        // The store returns; other nodes used 90 of the window meanwhile.
        let redis = redis_on(port).await;
        let key = lease.window_key(lease.epoch(now));
        set(&redis, &key, 90).await;
        lease.store.end_backoff();
        let mut left = true;
        for _ in 0..20 {
            left = lease.tidy(false).await;
            if !left {
                break;
            }
            lease.store.end_backoff();
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(!left, "the lease was not settled");
        // The window is full (the lost call's 10, then the charge); nothing more is
        // delivered from the node's own grant.
        assert_eq!(used(&redis, &key).await, 100);
        assert_eq!(lease.balance(now_millis()), 0);
    }

    #[test]
    fn blocks_follow_the_rate_between_the_bounds() {
        assert_eq!(block_size(None, 1_000_000, 1, 1), INITIAL_BLOCK);
        assert_eq!(block_size(Some(500.0), 1_000_000, 1, 1), 1_000);
        assert_eq!(block_size(Some(0.0), 1_000_000, 1, 1), MIN_BLOCK);
        assert_eq!(block_size(Some(f64::NAN), 1_000_000, 1, 1), MIN_BLOCK);
        assert_eq!(block_size(Some(1e12), u64::MAX, 1, 1), MAX_BLOCK);
        assert_eq!(block_size(Some(0.2), 1_000_000, 1, 1), 1);
    }

    #[test]
    fn blocks_cover_what_a_stream_needs_now() {
        assert_eq!(block_size(Some(1.0), 1_000_000, 1, 40), 40);
    }

    #[test]
    fn blocks_shrink_to_a_fair_share_near_the_end_of_the_quota() {
        // 3 nodes, 600 left: at most 600 / 6 each.
        assert_eq!(block_size(Some(10_000.0), 600, 3, 1), 100);
        assert_eq!(block_size(Some(10_000.0), 600, 3, 500), 100);
        assert_eq!(block_size(Some(10_000.0), 5, 3, 1), 1);
        // Even with nothing known left, one event is asked for (the store grants 0).
        assert_eq!(block_size(Some(10_000.0), 0, 3, 1), 1);
    }
}
