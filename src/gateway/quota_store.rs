//! The shared quota store: Redis, holding each subscription's event window and each
//! application's connection-rate window for every gateway node (`--redis URL`).
//!
//! A node never calls Redis per event: it leases blocks of events with one atomic Lua
//! script ([`QuotaStore::lease`]) and gives back what it did not use
//! ([`QuotaStore::give_back`]). Connection-rate policies are one script call per connection
//! attempt ([`QuotaStore::acquire_rate`]), a sliding window on Redis' clock. When Redis
//! cannot be reached, calls fail fast during an exponential backoff (0.2 s to 5 s), and the
//! store's state is published in [`QuotaStoreStatus`] (`/health`, `/metrics`, the TUI).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::catalog::now_millis;

/// How long one Redis call may take before the store counts as unavailable.
const CALL_TIMEOUT: Duration = Duration::from_millis(1000);
/// The length of a connection-rate window (a sliding minute), in ms.
const RATE_WINDOW_MILLIS: u64 = 60_000;
/// The first wait before calling Redis again after a failure.
const MIN_BACKOFF: Duration = Duration::from_millis(200);
/// The longest wait between attempts while Redis is unavailable.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Leases up to ARGV[2] events from the window KEYS[1] (limit ARGV[1]), first charging
/// ARGV[5] events counted locally while the store was down; records node ARGV[4] in the set
/// KEYS[2]. Returns {granted, remaining, nodes, charged}: of the charge, only what the
/// window had left is charged.
///
/// Exactly once per call number ARGV[6] (increasing per node): KEYS[3] records the node's
/// last applied call number and its result. A call the node sends again after a timeout
/// (it may or may not have run) gets the recorded result, and a call that arrives after
/// a later one (a delayed copy) changes nothing. All keys expire ARGV[3] ms from now.
const LEASE_SCRIPT: &str = r"
local limit = tonumber(ARGV[1])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local call = tonumber(ARGV[6])
local last = redis.call('HMGET', KEYS[3], 'call', 'result', 'charged')
local last_call = tonumber(last[1] or '0')
if call <= last_call then
  local grant, charged = 0, 0
  if call == last_call then
    grant = tonumber(last[2] or '0')
    charged = tonumber(last[3] or '0')
  end
  return {grant, math.max(0, limit - used), redis.call('SCARD', KEYS[2]), charged}
end
local charged = math.min(tonumber(ARGV[5]), math.max(0, limit - used))
used = used + charged
local grant = math.min(tonumber(ARGV[2]), math.max(0, limit - used))
used = used + grant
redis.call('SET', KEYS[1], used, 'PX', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[3], 'call', call, 'result', grant, 'charged', charged)
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return {grant, math.max(0, limit - used), redis.call('SCARD', KEYS[2]), charged}
";

/// Gives back up to ARGV[1] unused events to the window KEYS[1] (never below zero; an
/// expired window is left alone). Returns how many were given back. Exactly once per call
/// number ARGV[2], recorded in KEYS[2] as by [`LEASE_SCRIPT`]; keys expire ARGV[3] ms
/// from now.
const GIVE_BACK_SCRIPT: &str = r"
local call = tonumber(ARGV[2])
local last = redis.call('HMGET', KEYS[2], 'call', 'result')
local last_call = tonumber(last[1] or '0')
if call <= last_call then
  if call == last_call then return tonumber(last[2] or '0') end
  return 0
end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = math.min(used, tonumber(ARGV[1]))
if n > 0 then redis.call('DECRBY', KEYS[1], n) end
redis.call('HSET', KEYS[2], 'call', call, 'result', n)
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return n
";

/// Counts one connection in the sliding window KEYS[1] (ARGV[1] ms long, at most ARGV[2]
/// connections) as the member ARGV[3], unique per attempt, on Redis' clock. Returns 0
/// when counted, else the milliseconds until the oldest connection leaves the window.
/// A member in the set KEYS[2] is one the node gave up on (its call failed): it is not
/// counted, whenever the call runs.
const RATE_SCRIPT: &str = r"
if redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 1 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local win = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - win)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], win)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + win - now)
";

/// What the gateway does with metered traffic while the quota store is unavailable
/// (`--quota-store-down`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QuotaStoreDown {
    /// Deliver from the leases held; then end metered streams with
    /// `: quota store unavailable` and refuse new metered connections (503, code 900810).
    #[default]
    Fail,
    /// Count locally on each node (limits become per node) and charge what was counted to
    /// the store when it returns.
    Local,
}

impl std::str::FromStr for QuotaStoreDown {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fail" => Ok(Self::Fail),
            "local" => Ok(Self::Local),
            other => Err(format!("{other:?}: expected fail or local")),
        }
    }
}

impl std::fmt::Display for QuotaStoreDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Fail => "fail",
            Self::Local => "local",
        })
    }
}

/// The quota store's state, as `/health`, `/metrics` and the TUI show it.
#[derive(Debug, Default)]
pub struct QuotaStoreStatus {
    /// Whether the gateway uses a quota store at all (`--redis`).
    pub configured: AtomicBool,
    /// Since when (ms since the Unix epoch) the store is unreachable; 0 while reachable.
    pub down_since: AtomicI64,
    /// Calls made to the store (script invocations and probes) since start.
    pub operations: AtomicU64,
    /// Calls that failed (timeout, connection refused, script error) since start.
    pub failures: AtomicU64,
}

impl QuotaStoreStatus {
    /// `None` without a store; `Some(true)` while it answers.
    pub fn up(&self) -> Option<bool> {
        self.configured
            .load(Ordering::Relaxed)
            .then(|| self.down_since.load(Ordering::Relaxed) == 0)
    }
}

/// A lease call to the store: its number and what it asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LeaseCall {
    /// The call's number ([`QuotaStore::next_call`]); the store applies it once.
    pub number: u64,
    /// Events asked for.
    pub want: u64,
    /// Events delivered while the store was unavailable, charged before the grant.
    pub charge: u64,
}

/// A grant from [`QuotaStore::lease`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LeaseGrant {
    /// Events leased to this node.
    pub granted: u64,
    /// Events left in the window for everyone after this grant.
    pub remaining: u64,
    /// Nodes that leased from this window so far (at least 1).
    pub nodes: u64,
    /// Of the call's charge, what the window had left to charge (the rest was delivered
    /// beyond the quota while the store was away).
    pub charged: u64,
}

/// The store could not be reached (or is in its backoff after a failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unavailable;

/// A connection to the shared quota store, with its state and backoff.
pub(crate) struct QuotaStore {
    client: redis::Client,
    conn: OnceCell<ConnectionManager>,
    /// This node's name in the windows' node sets.
    node: Arc<str>,
    /// What to do while the store is unavailable.
    pub(crate) down_mode: QuotaStoreDown,
    status: Arc<QuotaStoreStatus>,
    /// (earliest next attempt, current backoff) while unavailable.
    backoff: std::sync::Mutex<Option<(Instant, Duration)>>,
    lease: Arc<redis::Script>,
    give_back: Arc<redis::Script>,
    rate: Arc<redis::Script>,
    next_member: AtomicU64,
    /// The number of this node's next lease or give-back call (from 1).
    next_call: AtomicU64,
    /// The number of the next lease made on this store ([`QuotaStore::new_caller`]).
    next_caller: AtomicU64,
    /// Some lease may hold something for the store (a call in doubt, a local count):
    /// the probe has the meter tidy the leases once the store answers.
    unsettled: AtomicBool,
    /// Connection attempts whose counting call failed, as (when, window key, member): the
    /// connection was refused, but the call may have run; taken out of their windows
    /// once the store answers again (for the minute they can matter).
    rate_in_doubt: std::sync::Mutex<Vec<(Instant, String, String)>>,
    /// When (ms since the Unix epoch) the store last answered a call; 0 before the first.
    last_answer: AtomicI64,
    /// The runtime every call runs on once set ([`QuotaStore::make_home`]: the one the
    /// gateway was last served on, which outlives its workers). The connection manager spawns
    /// its connection's driver, and a reconnection, on the runtime of the call that needs
    /// it, and a gateway worker's runtime ends with the gateway. Unset: calls run where
    /// they are made.
    home: std::sync::Mutex<Option<tokio::runtime::Handle>>,
}

impl std::fmt::Debug for QuotaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuotaStore")
            .field("node", &self.node)
            .field("down_mode", &self.down_mode)
            .finish()
    }
}

/// `url` as messages and logs may show it: the password of its user info
/// (`redis://user:PASSWORD@host`) and the value of a `pass` or `password` query parameter
/// (`redis+unix:///run/redis.sock?pass=PASSWORD`) replaced by `***`. Works on text that does
/// not parse as a URL too (that is when it is shown in an error), erring towards hiding
/// more: everything between the first `:` after the scheme and the last `@` is hidden.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let (user_info, host_part) = match rest.rfind('@') {
        Some(at) => rest.split_at(at),
        None => ("", rest),
    };
    let user_info = match user_info.find(':') {
        Some(colon) => format!("{}:***", &user_info[..colon]),
        None => user_info.to_string(),
    };
    let host_part = match host_part.split_once('?') {
        None => host_part.to_string(),
        Some((before, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((key, _))
                        if key.eq_ignore_ascii_case("pass")
                            || key.eq_ignore_ascii_case("password") =>
                    {
                        format!("{key}=***")
                    }
                    _ => param.to_string(),
                })
                .collect();
            format!("{before}?{}", params.join("&"))
        }
    };
    format!("{scheme}{user_info}{host_part}")
}

/// `text` with every URL in it (a space-separated word with `://`) passed through
/// [`redact_url`], e.g. a command line that names `--redis redis://:PASSWORD@host`.
pub fn redact_urls_in(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains("://") {
                redact_url(word)
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The quota store's URL as configured: `None` when not given or empty (a
/// `STREAMGATE_REDIS=` that is set but empty means no Redis).
pub fn configured_url(url: Option<&str>) -> Option<&str> {
    url.map(str::trim).filter(|u| !u.is_empty())
}

impl QuotaStore {
    /// A store at `url` (`redis://host:port/db`); nothing is connected until first use.
    /// Errors when the URL is not a Redis URL.
    pub(crate) fn new(
        url: &str,
        down_mode: QuotaStoreDown,
        status: Arc<QuotaStoreStatus>,
    ) -> Result<Self, String> {
        let client =
            redis::Client::open(url).map_err(|e| format!("--redis {}: {e}", redact_url(url)))?;
        status.configured.store(true, Ordering::Relaxed);
        Ok(Self {
            client,
            conn: OnceCell::new(),
            node: uuid::Uuid::new_v4().to_string().into(),
            down_mode,
            status,
            backoff: std::sync::Mutex::new(None),
            lease: Arc::new(redis::Script::new(LEASE_SCRIPT)),
            give_back: Arc::new(redis::Script::new(GIVE_BACK_SCRIPT)),
            rate: Arc::new(redis::Script::new(RATE_SCRIPT)),
            next_member: AtomicU64::new(0),
            next_call: AtomicU64::new(1),
            next_caller: AtomicU64::new(0),
            unsettled: AtomicBool::new(false),
            rate_in_doubt: std::sync::Mutex::new(Vec::new()),
            last_answer: AtomicI64::new(0),
            home: std::sync::Mutex::new(None),
        })
    }

    /// Makes `runtime` the store's home, where every call runs from now on.
    pub(crate) fn make_home(&self, runtime: tokio::runtime::Handle) {
        if let Ok(mut home) = self.home.lock() {
            *home = Some(runtime);
        }
    }

    /// The store's home runtime, if it has one.
    fn home(&self) -> Option<tokio::runtime::Handle> {
        self.home.lock().ok().and_then(|home| home.clone())
    }

    /// Whether the store answered the last call.
    pub(crate) fn is_up(&self) -> bool {
        self.status.down_since.load(Ordering::Relaxed) == 0
    }

    /// Whether the store's state needs a probe at `now` (ms since the Unix epoch): while it
    /// is unavailable, or when it has answered no call for `quiet` ms (so `/health` sees it
    /// go away within about a probe's period even while nothing else calls it).
    pub(crate) fn needs_probe(&self, now: i64, quiet: i64) -> bool {
        !self.is_up() || now.saturating_sub(self.last_answer.load(Ordering::Relaxed)) >= quiet
    }

    async fn connection(&self) -> Result<ConnectionManager, redis::RedisError> {
        let conn = self
            .conn
            .get_or_try_init(|| async {
                // The manager spawns its tasks on the current runtime: make that home.
                let home = self.home();
                let _entered = home.as_ref().map(tokio::runtime::Handle::enter);
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CALL_TIMEOUT))
                    .set_response_timeout(Some(CALL_TIMEOUT))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(MAX_BACKOFF);
                ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            })
            .await?;
        Ok(conn.clone())
    }

    /// Runs one store call, unless the store is in its backoff; updates the state. The
    /// call runs on the store's home runtime (see `home`).
    async fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>> + Send + 'static,
        T: Send + 'static,
    {
        if let Ok(backoff) = self.backoff.lock()
            && let Some((next, _)) = *backoff
            && Instant::now() < next
        {
            return Err(Unavailable);
        }
        self.call_now(what, f).await
    }

    /// [`call`](Self::call) even during the backoff (the probe's, so the store's return is
    /// noticed within a probe's period whatever the backoff has grown to).
    async fn call_now<T, F, Fut>(&self, what: &str, f: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>> + Send + 'static,
        T: Send + 'static,
    {
        self.status.operations.fetch_add(1, Ordering::Relaxed);
        let result = match self.connection().await {
            Ok(conn) => {
                let call = f(conn);
                let timed = async move {
                    tokio::time::timeout(CALL_TIMEOUT, call)
                        .await
                        .unwrap_or_else(|_| {
                            Err(redis::RedisError::from((redis::ErrorKind::Io, "timed out")))
                        })
                };
                match self.home() {
                    Some(home) => home.spawn(timed).await.unwrap_or_else(|e| {
                        // The home runtime is shutting down (or the call panicked).
                        Err(redis::RedisError::from((
                            redis::ErrorKind::Io,
                            "the store's runtime ended",
                            e.to_string(),
                        )))
                    }),
                    None => timed.await,
                }
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(value) => {
                self.last_answer.store(now_millis(), Ordering::Relaxed);
                self.end_backoff();
                let since = self.status.down_since.swap(0, Ordering::Relaxed);
                if since != 0 {
                    tracing::info!("quota store: reachable again");
                }
                Ok(value)
            }
            Err(e) => {
                self.status.failures.fetch_add(1, Ordering::Relaxed);
                let wait = match self.backoff.lock() {
                    Ok(mut backoff) => {
                        let wait = backoff
                            .map(|(_, d)| (d * 2).min(MAX_BACKOFF))
                            .unwrap_or(MIN_BACKOFF);
                        *backoff = Some((Instant::now() + wait, wait));
                        wait
                    }
                    Err(_) => MIN_BACKOFF,
                };
                if self
                    .status
                    .down_since
                    .compare_exchange(0, now_millis().max(1), Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
                {
                    tracing::warn!(
                        "quota store unavailable ({what}: {e}); retrying with backoff (next in {wait:?}); quota mode while down: {}",
                        self.down_mode
                    );
                }
                Err(Unavailable)
            }
        }
    }

    /// A new number for a lease or give-back call of this node (increasing). A call that
    /// failed is sent again with its number: the store applies each number once.
    pub(crate) fn next_call(&self) -> u64 {
        self.next_call.fetch_add(1, Ordering::Relaxed)
    }

    /// Notes that a lease holds something for the store (see [`take_unsettled`](Self::take_unsettled)).
    pub(crate) fn mark_unsettled(&self) {
        self.unsettled.store(true, Ordering::Release);
    }

    /// Whether some lease was marked as holding something for the store since the last
    /// call (and clears the mark).
    pub(crate) fn take_unsettled(&self) -> bool {
        self.unsettled.swap(false, Ordering::AcqRel)
    }

    /// Ends the backoff, so the next call is made at once (after a call that answered, and
    /// at shutdown, to settle the leases if the store is back).
    pub(crate) fn end_backoff(&self) {
        if let Ok(mut backoff) = self.backoff.lock() {
            *backoff = None;
        }
    }

    /// A name for one lease's calls, unique to this node and lease: each caller's last
    /// applied call is recorded apart, so two leases on one window (a plan changed while
    /// streams of the old one still run) do not take each other's calls for old copies.
    pub(crate) fn new_caller(&self) -> String {
        let n = self.next_caller.fetch_add(1, Ordering::Relaxed);
        format!("{}:{n}", self.node)
    }

    /// The key recording `caller`'s last applied call on the window `key`.
    fn last_call_key(key: &str, caller: &str) -> String {
        format!("{key}:last:{caller}")
    }

    /// Leases up to `want` events of the window `key` (`limit` events, expiring
    /// `ttl_millis` from now), after charging `charge` events this node delivered while
    /// the store was unavailable. `call` is the call's number ([`next_call`](Self::next_call))
    /// among those of `caller` ([`new_caller`](Self::new_caller)): sent again after an
    /// error, it returns what the first sending granted, if that ran.
    pub(crate) async fn lease(
        &self,
        key: &str,
        caller: &str,
        call: LeaseCall,
        limit: u64,
        ttl_millis: i64,
    ) -> Result<LeaseGrant, Unavailable> {
        let (script, node) = (self.lease.clone(), self.node.clone());
        let (last_key, key) = (Self::last_call_key(key, caller), key.to_string());
        let reply: Vec<i64> = self
            .call("lease", |mut conn| async move {
                let nodes_key = format!("{key}:nodes");
                let mut invocation = script.key(&key);
                invocation
                    .key(&nodes_key)
                    .key(&last_key)
                    .arg(limit)
                    .arg(call.want)
                    .arg(ttl_millis.max(1))
                    .arg(&*node)
                    .arg(call.charge)
                    .arg(call.number);
                invocation.invoke_async(&mut conn).await
            })
            .await?;
        let at = |i: usize| reply.get(i).copied().unwrap_or(0).max(0).unsigned_abs();
        Ok(LeaseGrant {
            granted: at(0).min(call.want),
            remaining: at(1),
            nodes: at(2).max(1),
            charged: at(3).min(call.charge),
        })
    }

    /// Gives `unused` leased events back to the window `key` (expiring `ttl_millis` from
    /// now); `call` is the call's number, as for [`lease`](Self::lease).
    pub(crate) async fn give_back(
        &self,
        key: &str,
        caller: &str,
        unused: u64,
        call: u64,
        ttl_millis: i64,
    ) -> Result<u64, Unavailable> {
        let script = self.give_back.clone();
        let (last_key, key) = (Self::last_call_key(key, caller), key.to_string());
        let n: i64 = self
            .call("give back", |mut conn| async move {
                let mut invocation = script.key(&key);
                invocation
                    .key(&last_key)
                    .arg(unused)
                    .arg(call)
                    .arg(ttl_millis.max(1));
                invocation.invoke_async(&mut conn).await
            })
            .await?;
        Ok(n.max(0).unsigned_abs().min(unused))
    }

    /// Counts one connection of `application_id` against `per_minute` in a one-minute
    /// sliding window shared by every node. `Ok(Err(secs))`: refused, retry after `secs`.
    /// Attempts refused because the store was unavailable are taken out of the window
    /// first (see [`settle_rate`](Self::settle_rate)).
    pub(crate) async fn acquire_rate(
        &self,
        application_id: &str,
        per_minute: u32,
    ) -> Result<Result<(), u64>, Unavailable> {
        self.settle_rate().await?;
        let key = format!("sg:rate:{application_id}");
        let member = format!(
            "{}:{}",
            self.node,
            self.next_member.fetch_add(1, Ordering::Relaxed)
        );
        let script = self.rate.clone();
        let (call_key, call_member) = (key.clone(), member.clone());
        let wait: Result<i64, Unavailable> = self
            .call("connection rate", |mut conn| async move {
                let mut invocation = script.key(&call_key);
                invocation
                    .key(format!("{call_key}:given-up"))
                    .arg(RATE_WINDOW_MILLIS)
                    .arg(per_minute)
                    .arg(&call_member);
                invocation.invoke_async(&mut conn).await
            })
            .await;
        let wait = match wait {
            Ok(wait) => wait,
            Err(Unavailable) => {
                if let Ok(mut in_doubt) = self.rate_in_doubt.lock() {
                    in_doubt.push((Instant::now(), key, member));
                }
                return Err(Unavailable);
            }
        };
        Ok(if wait <= 0 {
            Ok(())
        } else {
            Err(wait.unsigned_abs().div_ceil(1000).max(1))
        })
    }

    /// Takes the connection attempts refused while the store was unavailable out of their
    /// windows, and marks them given up so their counting call, if it is still on its way,
    /// counts nothing: they do not use up an application's connections for a minute.
    /// Those older than the window are dropped. Errors (and keeps them) when the store is
    /// unavailable.
    pub(crate) async fn settle_rate(&self) -> Result<(), Unavailable> {
        let window = Duration::from_millis(RATE_WINDOW_MILLIS);
        let pending: Vec<(Instant, String, String)> = match self.rate_in_doubt.lock() {
            Ok(mut in_doubt) if !in_doubt.is_empty() => std::mem::take(&mut *in_doubt)
                .into_iter()
                .filter(|(at, _, _)| at.elapsed() < window)
                .collect(),
            _ => return Ok(()),
        };
        if pending.is_empty() {
            return Ok(());
        }
        let members: Vec<(String, String)> = pending
            .iter()
            .map(|(_, key, member)| (key.clone(), member.clone()))
            .collect();
        let removed = self
            .call("connection rate", |mut conn| async move {
                let mut pipe = redis::pipe();
                for (key, member) in &members {
                    // Given up first, so a call still on its way does not count it.
                    let given_up = format!("{key}:given-up");
                    pipe.sadd(&given_up, member).ignore();
                    pipe.pexpire(&given_up, RATE_WINDOW_MILLIS as i64).ignore();
                    pipe.zrem(key, member).ignore();
                }
                pipe.query_async::<()>(&mut conn).await
            })
            .await;
        if removed.is_err()
            && let Ok(mut in_doubt) = self.rate_in_doubt.lock()
        {
            in_doubt.extend(pending);
        }
        removed
    }

    /// Checks that the store answers, backoff or not (the probe's: once a second while it
    /// is unavailable, to notice its return, and after a quiet second while it is up, to
    /// notice its loss).
    pub(crate) async fn probe(&self) -> Result<(), Unavailable> {
        self.call_now("ping", |mut conn| async move {
            redis::cmd("PING").query_async::<String>(&mut conn).await
        })
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::process::{Child, Command, Stdio};

    use super::*;

    #[test]
    fn redis_urls_are_shown_without_their_password() {
        for (url, shown) in [
            (
                "redis://:TOPSECRET@10.0.0.5:6379",
                "redis://:***@10.0.0.5:6379",
            ),
            (
                "redis://:TOPSECRETPW@127.0.0.1:notaport",
                "redis://:***@127.0.0.1:notaport",
            ),
            (
                "rediss://user:TOP:SE@CRET@host:6380/2",
                "rediss://user:***@host:6380/2",
            ),
            ("redis://user@host", "redis://user@host"),
            ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
            (
                "redis+unix:///run/redis.sock?db=1&pass=TOPSECRET",
                "redis+unix:///run/redis.sock?db=1&pass=***",
            ),
            (
                "redis://host?password=TOPSECRET",
                "redis://host?password=***",
            ),
            (":TOPSECRET@host:6379", ":***@host:6379"),
            ("", ""),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
        assert_eq!(
            redact_urls_in("bench.sh --redis redis://:TOPSECRET@h:1 --only bulk"),
            "bench.sh --redis redis://:***@h:1 --only bulk"
        );
    }

    #[test]
    fn a_bad_redis_url_is_refused_without_its_password() {
        let err = QuotaStore::new(
            "redis://:TOPSECRETPW@127.0.0.1:notaport",
            QuotaStoreDown::Fail,
            Arc::new(QuotaStoreStatus::default()),
        )
        .expect_err("refused");
        assert!(!err.contains("TOPSECRETPW"), "{err}");
        assert!(err.contains("redis://:***@127.0.0.1:notaport"), "{err}");
    }

    #[test]
    fn an_empty_redis_url_is_no_store() {
        assert_eq!(configured_url(Some("")), None);
        assert_eq!(configured_url(Some("  ")), None);
        assert_eq!(configured_url(None), None);
        assert_eq!(configured_url(Some("redis://h:1")), Some("redis://h:1"));
    }

    /// A real `redis-server` (its URL in `.1`), killed on drop.
    pub(crate) struct Redis(Child, pub(crate) String);

    impl Drop for Redis {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// A free local port.
    pub(crate) fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port()
    }

    pub(crate) async fn redis() -> Redis {
        redis_on(free_port()).await
    }

    /// Whether `redis-server` can be run here; as the integration tests' check (skipped
    /// without it unless `STREAMGATE_REQUIRE_REDIS=1`).
    pub(crate) fn redis_available() -> bool {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !found {
            assert!(
                std::env::var("STREAMGATE_REQUIRE_REDIS").as_deref() != Ok("1"),
                "STREAMGATE_REQUIRE_REDIS=1 but redis-server is not installed"
            );
            eprintln!(
                "skipped: redis-server is not installed (set STREAMGATE_REQUIRE_REDIS=1 to fail)"
            );
        }
        found
    }

    /// Starts `redis-server` on `port` and waits until it answers.
    pub(crate) async fn redis_on(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server)");
        let redis = Redis(child, format!("redis://127.0.0.1:{port}"));
        let client = redis::Client::open(redis.1.as_str()).expect("a Redis URL");
        for _ in 0..200 {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                return redis;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server did not answer");
    }

    /// Sets `key` to `value`.
    pub(crate) async fn set(redis: &Redis, key: &str, value: u64) {
        let client = redis::Client::open(redis.1.as_str()).expect("a Redis URL");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connected");
        redis::cmd("SET")
            .arg(key)
            .arg(value)
            .query_async::<()>(&mut conn)
            .await
            .expect("SET");
    }

    pub(crate) async fn used(redis: &Redis, key: &str) -> u64 {
        let client = redis::Client::open(redis.1.as_str()).expect("a Redis URL");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connected");
        redis::cmd("GET")
            .arg(key)
            .query_async::<Option<u64>>(&mut conn)
            .await
            .expect("GET")
            .unwrap_or(0)
    }

    fn lease(number: u64, want: u64) -> LeaseCall {
        LeaseCall {
            number,
            want,
            charge: 0,
        }
    }

    /// A call sent again after a timeout gets what its first sending did, and a delayed
    /// copy of an earlier call changes nothing: each call number is applied once.
    #[tokio::test]
    async fn each_lease_and_give_back_call_is_applied_once() {
        if !redis_available() {
            return;
        }
        let redis = redis().await;
        let status = Arc::new(QuotaStoreStatus::default());
        let store = QuotaStore::new(&redis.1, QuotaStoreDown::Fail, status).expect("a store");
        let key = "sg:quota:test:60000:1";
        let (first, second) = (store.next_call(), store.next_call());
        assert!(second > first);
        let grant = store.lease(key, "t", lease(first, 40), 100, 60_000).await;
        assert_eq!(grant.map(|g| (g.granted, g.remaining)), Ok((40, 60)));
        // Sent again: the recorded grant, nothing more leased.
        let again = store.lease(key, "t", lease(first, 40), 100, 60_000).await;
        assert_eq!(again.map(|g| (g.granted, g.remaining)), Ok((40, 60)));
        assert_eq!(used(&redis, key).await, 40);
        let grant = store.lease(key, "t", lease(second, 30), 100, 60_000).await;
        assert_eq!(grant.map(|g| g.granted), Ok(30));
        assert_eq!(used(&redis, key).await, 70);
        // A delayed copy of the first call, after the second: nothing.
        let stale = store.lease(key, "t", lease(first, 40), 100, 60_000).await;
        assert_eq!(stale.map(|g| g.granted), Ok(0));
        assert_eq!(used(&redis, key).await, 70);
        // Give-backs take numbers from the same sequence.
        let back = store.next_call();
        assert_eq!(store.give_back(key, "t", 25, back, 60_000).await, Ok(25));
        assert_eq!(store.give_back(key, "t", 25, back, 60_000).await, Ok(25));
        assert_eq!(used(&redis, key).await, 45);
        assert_eq!(store.give_back(key, "t", 25, second, 60_000).await, Ok(0));
        assert_eq!(used(&redis, key).await, 45);
        // A charge rides on its lease call, once.
        let charged = LeaseCall {
            number: store.next_call(),
            want: 10,
            charge: 5,
        };
        let grant = store.lease(key, "t", charged, 100, 60_000).await;
        assert_eq!(grant.map(|g| g.granted), Ok(10));
        let again = store.lease(key, "t", charged, 100, 60_000).await;
        assert_eq!(again.map(|g| g.granted), Ok(10));
        assert_eq!(used(&redis, key).await, 60);
        // Two leases on one window (a plan changed under running streams) keep their own
        // records: a repeat of one lease's call after the other's later call is a repeat.
        let (a, b) = (store.new_caller(), store.new_caller());
        let (first, second) = (lease(store.next_call(), 5), lease(store.next_call(), 5));
        let granted = async |caller: &str, call| {
            let grant = store.lease(key, caller, call, 100, 60_000).await;
            grant.map(|g| g.granted)
        };
        assert_eq!(granted(&a, first).await, Ok(5));
        assert_eq!(granted(&b, second).await, Ok(5));
        assert_eq!(granted(&a, first).await, Ok(5));
        assert_eq!(used(&redis, key).await, 70);
    }
}
