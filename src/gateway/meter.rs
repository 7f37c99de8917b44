//! Metering: per-subscription event windows that concurrent streams reserve from with one
//! compare-and-swap (so together they never overshoot a quota), and per-application
//! connection-rate windows. Lookups are lock-free; nothing here touches the disk.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;

use crate::catalog::{Millis, Quota};
use crate::control::CounterRecord;
use crate::fast_map::FastHashMap;

use super::lease::{Hold, Lease, Refill};
use super::quota_store::{QuotaStore, QuotaStoreDown};

/// Bits of a window's packed state that hold the event count; the rest hold the window
/// number, so a reservation and a window roll-over are one atomic step.
const COUNT_BITS: u32 = 40;
/// The largest count a window can hold (about 10^12): larger quotas are clamped to it.
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
/// The largest window number (2^24 windows: 31 years of one-minute windows).
const MAX_EPOCH: u64 = (1 << (64 - COUNT_BITS)) - 1;
/// The application policies' window: one minute.
const APP_WINDOW_MILLIS: i64 = 60_000;
/// Marks a window that was never persisted.
const NEVER_FLUSHED: u64 = u64::MAX;

pub(crate) fn pack(epoch: u64, count: u64) -> u64 {
    (epoch.min(MAX_EPOCH) << COUNT_BITS) | count.min(COUNT_MASK)
}

pub(crate) fn unpack(state: u64) -> (u64, u64) {
    (state >> COUNT_BITS, state & COUNT_MASK)
}

/// A map whose reads are lock-free (one atomic load) and whose rare inserts copy it.
/// Used for things created once per subscription or application and read per request.
pub(crate) struct Registry<K, V> {
    map: ArcSwap<FastHashMap<K, Arc<V>>>,
}

impl<K: Eq + Hash + Clone, V> Default for Registry<K, V> {
    fn default() -> Self {
        Self {
            map: ArcSwap::from_pointee(FastHashMap::default()),
        }
    }
}

impl<K: Eq + Hash + Clone, V> Registry<K, V> {
    /// The value under `key`, if any.
    pub(crate) fn get(&self, key: &K) -> Option<Arc<V>> {
        self.map.load().get(key).cloned()
    }

    /// The value under `key` if `keep` accepts it, else a new one made by `make` (which
    /// sees the value it replaces) and stored under `owned()`. `key` may be a borrowed
    /// form of the key, so a lookup that finds allocates nothing.
    pub(crate) fn get_or_replace<Q: Hash + Eq + ?Sized>(
        &self,
        key: &Q,
        owned: impl Fn() -> K,
        keep: impl Fn(&V) -> bool,
        make: impl Fn(Option<&V>) -> V,
    ) -> Arc<V>
    where
        K: std::borrow::Borrow<Q>,
    {
        if let Some(v) = self.map.load().get(key).filter(|v| keep(v)) {
            return v.clone();
        }
        let mut made: Option<Arc<V>> = None;
        let mut out: Option<Arc<V>> = None;
        self.map.rcu(|map| {
            if let Some(v) = map.get(key).filter(|v| keep(v)) {
                out = Some(v.clone());
                return Arc::clone(map);
            }
            let value = made
                .get_or_insert_with(|| Arc::new(make(map.get(key).map(|v| &**v))))
                .clone();
            out = Some(value.clone());
            let mut next = HashMap::clone(map);
            next.insert(owned(), value);
            Arc::new(next)
        });
        // `rcu` ran the closure at least once, so `out` is set; the fallback is unreachable.
        out.unwrap_or_else(|| Arc::new(make(None)))
    }

    /// Removes the values under `keys`.
    pub(crate) fn remove(&self, keys: &[K]) {
        self.map.rcu(|map| {
            let mut next = HashMap::clone(map);
            for key in keys {
                next.remove(key);
            }
            next
        });
    }

    /// Every value.
    pub(crate) fn values(&self) -> Vec<(K, Arc<V>)> {
        self.map
            .load()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// One subscription's event window: `limit` events per `len` milliseconds, windows
/// following each other from `base`. With a quota store the window lives there, windows
/// follow each other from the Unix epoch, and reservations are taken from this node's
/// [`Lease`] instead of `state`.
#[derive(Debug)]
pub(crate) struct EventWindow {
    base: Millis,
    len: i64,
    limit: u64,
    /// Packed (window number, events counted in it).
    state: AtomicU64,
    /// The packed state last persisted.
    flushed: AtomicU64,
    /// The node's lease on the window in the quota store (`--redis`).
    lease: Option<Arc<Lease>>,
}

impl EventWindow {
    fn new(len: i64, limit: u64, record: Option<CounterRecord>, now: Millis) -> Self {
        let len = len.max(1);
        let (base, count, flushed) = match record {
            Some(r) if now >= r.window_start && now < r.window_start.saturating_add(len) => {
                (r.window_start, r.count, pack(0, r.count))
            }
            _ => (now, 0, NEVER_FLUSHED),
        };
        Self {
            base,
            len,
            limit: limit.min(COUNT_MASK),
            state: AtomicU64::new(pack(0, count)),
            flushed: AtomicU64::new(flushed),
            lease: None,
        }
    }

    /// A window kept in the quota store, aligned on the Unix epoch so every node agrees
    /// on window numbers; never persisted locally.
    fn leased(len: i64, limit: u64, store: Arc<QuotaStore>, subscription_id: &str) -> Self {
        let len = len.max(1);
        let limit = limit.min(COUNT_MASK);
        Self {
            base: 0,
            len,
            limit,
            state: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
            lease: Some(Arc::new(Lease::new(store, subscription_id, len, limit))),
        }
    }

    /// Whether the window lives in the quota store (its reservations may need a
    /// [`EventWindow::refill`]).
    pub(crate) fn is_leased(&self) -> bool {
        self.lease.is_some()
    }

    /// A stream's hold on the window's lease (none for a local window): hold it while the
    /// stream lives, so the unused lease is given back when the node's last stream ends.
    pub(crate) fn hold(&self) -> Option<Hold> {
        self.lease.clone().map(Hold::new)
    }

    /// After a short [`EventWindow::reserve`]: leases more events (at least `need` when
    /// the quota allows) from the quota store. A local window has nothing more to give.
    pub(crate) async fn refill(&self, need: u64, now: Millis) -> Refill {
        match &self.lease {
            Some(lease) => lease.refill(need, now).await,
            None => Refill::Exhausted,
        }
    }

    /// Whether a new stream may open: a local window with events left, or a lease with a
    /// balance or one more block from the store (one store call when the balance is empty).
    pub(crate) async fn admit(&self, now: Millis) -> Refill {
        match &self.lease {
            Some(lease) if lease.balance(now) > 0 => Refill::Granted,
            Some(lease) => lease.refill(1, now).await,
            None if self.remaining(now) > 0 => Refill::Granted,
            None => Refill::Exhausted,
        }
    }

    fn epoch_at(&self, now: Millis) -> u64 {
        if now <= self.base {
            0
        } else {
            u64::try_from((now - self.base) / self.len)
                .unwrap_or(MAX_EPOCH)
                .min(MAX_EPOCH)
        }
    }

    /// The packed state as of `now`: a window that has ended reads as empty.
    fn current(&self, state: u64, now: Millis) -> (u64, u64) {
        let (epoch, count) = unpack(state);
        let now_epoch = self.epoch_at(now);
        if epoch < now_epoch {
            (now_epoch, 0)
        } else {
            (epoch, count)
        }
    }

    /// Takes up to `want` events from the window; returns how many were granted. The one
    /// compare-and-swap makes the grants of concurrent streams add up to at most the limit.
    pub(crate) fn reserve(&self, want: u64, now: Millis) -> u64 {
        if let Some(lease) = &self.lease {
            return lease.reserve(want, now);
        }
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let (epoch, count) = self.current(state, now);
            let grant = want.min(self.limit.saturating_sub(count));
            if grant == 0 {
                return 0;
            }
            match self.state.compare_exchange_weak(
                state,
                pack(epoch, count + grant),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return grant,
                Err(actual) => state = actual,
            }
        }
    }

    /// Events still allowed in the window of `now`.
    pub(crate) fn remaining(&self, now: Millis) -> u64 {
        if let Some(lease) = &self.lease {
            return lease.remaining(now);
        }
        let (_, count) = self.current(self.state.load(Ordering::Acquire), now);
        self.limit.saturating_sub(count)
    }

    /// Milliseconds from `now` until the window of `now` ends.
    pub(crate) fn millis_until_reset(&self, now: Millis) -> i64 {
        // From the time itself, not the packed window number, which is capped: a leased
        // window counts from the Unix epoch, so its number is far past the cap.
        let windows = now.saturating_sub(self.base).max(0) / self.len;
        let end = self
            .base
            .saturating_add(windows.saturating_add(1).saturating_mul(self.len));
        (end - now).max(0)
    }

    fn record_of(&self, state: u64) -> CounterRecord {
        let (epoch, count) = unpack(state);
        let epoch = i64::try_from(epoch).unwrap_or(i64::MAX);
        CounterRecord {
            window_start: self.base.saturating_add(epoch.saturating_mul(self.len)),
            count,
        }
    }
}

/// One application's connection requests in the current minute.
#[derive(Debug, Default)]
pub(crate) struct RateWindow {
    /// Packed (minute number since the epoch, requests counted in it) as 32 + 32 bits.
    state: AtomicU64,
}

impl RateWindow {
    /// Counts one request against `per_minute`; on refusal returns the seconds until the
    /// next minute starts.
    pub(crate) fn acquire(&self, per_minute: u32, now: Millis) -> Result<(), u64> {
        let minute = u64::try_from(now.max(0) / APP_WINDOW_MILLIS).unwrap_or(0) & 0xFFFF_FFFF;
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let (m, count) = (state >> 32, state & 0xFFFF_FFFF);
            let count = if m == minute { count } else { 0 };
            if count >= u64::from(per_minute) {
                let into = now.max(0) % APP_WINDOW_MILLIS;
                let wait = (APP_WINDOW_MILLIS - into + 999) / 1000;
                return Err(u64::try_from(wait).unwrap_or(60).max(1));
            }
            match self.state.compare_exchange_weak(
                state,
                (minute << 32) | (count + 1),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => state = actual,
            }
        }
    }
}

/// Why a connection was refused by its application's rate policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateRefusal {
    /// The policy's connections are used up; retry after this many seconds.
    Throttled(u64),
    /// The quota store is unavailable (and `--quota-store-down=fail`).
    StoreUnavailable,
}

/// All event windows and rate windows of the gateway.
pub(crate) struct Meter {
    windows: Registry<String, EventWindow>,
    rates: Registry<String, RateWindow>,
    /// Counters read from the store at start, used when a window is first needed.
    loaded: HashMap<String, CounterRecord>,
    /// The shared quota store, if any (`--redis`).
    store: Option<Arc<QuotaStore>>,
}

impl Meter {
    /// A meter that resumes from persisted counters.
    pub(crate) fn new(loaded: HashMap<String, CounterRecord>) -> Self {
        Self {
            windows: Registry::default(),
            rates: Registry::default(),
            loaded,
            store: None,
        }
    }

    /// A meter whose event and rate windows live in the shared quota `store`.
    pub(crate) fn with_store(store: Arc<QuotaStore>) -> Self {
        Self {
            store: Some(store),
            ..Self::new(HashMap::new())
        }
    }

    /// The shared quota store, if any.
    pub(crate) fn store(&self) -> Option<&Arc<QuotaStore>> {
        self.store.as_ref()
    }

    /// Counts one connection of `application_id` against its policy's `per_minute`: in
    /// the quota store when there is one (a sliding minute shared by every node), else in
    /// this node's wall-clock minute (also while the store is down in `local` mode).
    pub(crate) async fn acquire_rate(
        &self,
        application_id: &str,
        per_minute: u32,
        now: Millis,
    ) -> Result<(), RateRefusal> {
        if let Some(store) = &self.store {
            match store.acquire_rate(application_id, per_minute).await {
                Ok(counted) => return counted.map_err(RateRefusal::Throttled),
                Err(_) if store.down_mode == QuotaStoreDown::Fail => {
                    return Err(RateRefusal::StoreUnavailable);
                }
                Err(_) => {}
            }
        }
        self.rate(application_id)
            .acquire(per_minute, now)
            .map_err(RateRefusal::Throttled)
    }

    /// Settles what the leases hold for the quota store (see [`Lease::tidy`]): calls in
    /// doubt, local counts, and the balances of leases no stream uses. With `wait`, waits
    /// for refills under way (at shutdown). Returns whether something is left for later.
    pub(crate) async fn tidy_leases(&self, wait: bool) -> bool {
        let mut left = false;
        for (_, window) in self.windows.values() {
            if let Some(lease) = &window.lease {
                left |= lease.tidy(wait).await;
            }
        }
        left
    }

    /// The event window of a subscription with a limited quota (`None` when unlimited).
    pub(crate) fn window(
        &self,
        subscription_id: &str,
        quota: Quota,
        now: Millis,
    ) -> Option<Arc<EventWindow>> {
        let len = quota.window_millis()?;
        let limit = quota.limit()?.min(COUNT_MASK);
        Some(self.windows.get_or_replace(
            subscription_id,
            || subscription_id.to_string(),
            |w| w.len == len.max(1) && w.limit == limit,
            |old| {
                if let Some(store) = &self.store {
                    return EventWindow::leased(len, limit, store.clone(), subscription_id);
                }
                // A changed plan keeps the events already counted in the current window.
                let record = match old {
                    Some(w) => Some(w.record_of(w.state.load(Ordering::Acquire))),
                    None => self.loaded.get(subscription_id).copied(),
                };
                EventWindow::new(len, limit, record, now)
            },
        ))
    }

    /// The rate window of an application.
    pub(crate) fn rate(&self, application_id: &str) -> Arc<RateWindow> {
        self.rates.get_or_replace(
            application_id,
            || application_id.to_string(),
            |_| true,
            |_| RateWindow::default(),
        )
    }

    /// Counters changed since they were last persisted, each with the packed state it was
    /// read from (hand that back to [`Meter::mark_flushed`] once saved).
    pub(crate) fn dirty(&self) -> Vec<(String, CounterRecord, u64)> {
        self.windows
            .values()
            .into_iter()
            .filter_map(|(id, w)| {
                let state = w.state.load(Ordering::Acquire);
                (state != w.flushed.load(Ordering::Acquire))
                    .then(|| (id, w.record_of(state), state))
            })
            .collect()
    }

    /// Forgets the windows of deleted subscriptions.
    pub(crate) fn forget(&self, subscription_ids: &[String]) {
        self.windows.remove(subscription_ids);
    }

    /// Notes that these states are persisted.
    pub(crate) fn mark_flushed(&self, saved: &[(String, CounterRecord, u64)]) {
        for (id, _, state) in saved {
            if let Some(w) = self.windows.get(id) {
                w.flushed.store(*state, Ordering::Release);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::catalog::TimeUnit;

    fn per_minute(count: u64) -> Quota {
        Quota::Events {
            count,
            unit: TimeUnit::Min,
            unit_time: 1,
        }
    }

    #[test]
    fn reservations_never_exceed_the_limit_and_roll_over_with_the_window() {
        let meter = Meter::new(HashMap::new());
        let w = meter.window("s", per_minute(10), 1_000).unwrap();
        assert_eq!(w.reserve(4, 1_000), 4);
        assert_eq!(w.reserve(4, 2_000), 4);
        assert_eq!(w.reserve(4, 3_000), 2);
        assert_eq!(w.reserve(1, 3_000), 0);
        assert_eq!(w.remaining(3_000), 0);
        assert_eq!(w.millis_until_reset(3_000), 58_000);
        // A window aligned on the clock from the Unix epoch (a lease's), at 16:13:16 UTC.
        let aligned = EventWindow {
            base: 0,
            ..EventWindow::new(60_000, 10, None, 0)
        };
        assert_eq!(aligned.millis_until_reset(1_796_141_596_000), 44_000);
        // The next window starts one minute after the first event.
        assert_eq!(w.remaining(61_000), 10);
        assert_eq!(w.reserve(3, 61_000), 3);
        assert_eq!(
            w.record_of(w.state.load(Ordering::Acquire)).window_start,
            61_000
        );
    }

    #[test]
    fn concurrent_reservations_add_up_to_exactly_the_limit() {
        let meter = Arc::new(Meter::new(HashMap::new()));
        let w = meter.window("s", per_minute(1000), 0).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let w = w.clone();
                std::thread::spawn(move || (0..1000).map(|_| w.reserve(3, 10)).sum::<u64>())
            })
            .collect();
        let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(total, 1000);
    }

    #[test]
    fn persisted_counters_resume_in_their_window_and_are_dropped_after_it() {
        let mut loaded = HashMap::new();
        loaded.insert(
            "live".to_string(),
            CounterRecord {
                window_start: 100_000,
                count: 7,
            },
        );
        loaded.insert(
            "old".to_string(),
            CounterRecord {
                window_start: 0,
                count: 9,
            },
        );
        let meter = Meter::new(loaded);
        let live = meter.window("live", per_minute(10), 130_000).unwrap();
        assert_eq!(live.remaining(130_000), 3);
        let old = meter.window("old", per_minute(10), 130_000).unwrap();
        assert_eq!(old.remaining(130_000), 10);
        assert!(meter.dirty().iter().all(|(id, _, _)| id == "old"));
        live.reserve(1, 131_000);
        let dirty = meter.dirty();
        assert_eq!(dirty.len(), 2);
        meter.mark_flushed(&dirty);
        assert!(meter.dirty().is_empty());
    }

    #[test]
    fn unlimited_quotas_have_no_window() {
        let meter = Meter::new(HashMap::new());
        assert!(meter.window("s", Quota::Unlimited, 0).is_none());
    }

    #[test]
    fn rate_windows_count_requests_per_wall_clock_minute() {
        let r = RateWindow::default();
        assert_eq!(r.acquire(2, 60_500), Ok(()));
        assert_eq!(r.acquire(2, 61_000), Ok(()));
        assert_eq!(r.acquire(2, 90_000), Err(30));
        assert_eq!(r.acquire(2, 120_000), Ok(()));
    }
}
