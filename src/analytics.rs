//! Analytics: per-minute series per API, application and subscription, plus a 1 s ring of
//! the last five minutes for the terminal UI's live sparklines.
//!
//! Off the hot path: the gateway only bumps its telemetry counters (per (API, application)
//! [`PairCounters`](crate::telemetry::PairCounters): events, streams opened, streams open,
//! backend failures) and reports rejections ([`TrafficEvent::Rejected`]); a sampler task
//! ([`run_sampler`]) reads the counters once a second and listens to the rejections, and
//! aggregates into [`Series`]. An open or a close costs the analytics nothing but an atomic
//! add. The gateway's periodic counter flush (every 5 s and on shutdown) writes the
//! minutes gathered since the last flush to the store ([`flush`]), adding to what is stored
//! for the same minute, and prunes the table to [`SERIES_BOUNDS`]: 7 days, at most
//! [`MAX_SERIES_ROWS`] rows.
//!
//! Subjects are named by string keys: `gateway`, `api/{Name:version}`, `app/{name}` and
//! `sub/{Name:version}/{application}`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use crate::catalog::{Millis, now_millis};
use crate::control::Control;
use crate::store::series::SeriesBounds;
use crate::telemetry::{Metrics, PairReading, Telemetry, TrafficEvent};

pub use crate::store::series::Counts;

/// One minute in ms.
pub const MINUTE_MS: i64 = 60_000;
/// How long minutes are kept in the store: 7 days, in ms.
pub const RETENTION_MS: i64 = 7 * 24 * 60 * MINUTE_MS;
/// The most rows the series table keeps (about 200 bytes each, so some 40 MB at most):
/// e.g. 20 subjects for 7 days at one row a minute each.
pub const MAX_SERIES_ROWS: u64 = 200_000;
/// The bounds [`flush`] prunes to.
pub const SERIES_BOUNDS: SeriesBounds = SeriesBounds {
    retention_ms: RETENTION_MS,
    max_rows: MAX_SERIES_ROWS,
};
/// Seconds in the live ring (five minutes at 1 s).
pub const LIVE_SECONDS: usize = 300;
/// Minutes kept in memory for the 24-hour sparkline.
pub const DAY_MINUTES: usize = 24 * 60;
/// The WSO2-style code of a backend that cannot be reached or does not speak SSE.
const BACKEND_UNAVAILABLE: u32 = 101503;

/// What a series is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// The whole gateway.
    Gateway,
    /// An API, by `Name:version`.
    Api(String),
    /// An application, by name.
    Application(String),
    /// One application's subscription to one API.
    Subscription {
        /// `Name:version` of the API.
        api: String,
        /// The application's name.
        application: String,
    },
}

impl Subject {
    /// The subject's key in the store.
    pub fn key(&self) -> String {
        match self {
            Self::Gateway => "gateway".to_string(),
            Self::Api(a) => format!("api/{a}"),
            Self::Application(a) => format!("app/{a}"),
            Self::Subscription { api, application } => format!("sub/{api}/{application}"),
        }
    }

    /// Reads a key written by [`Subject::key`].
    pub fn parse(key: &str) -> Option<Subject> {
        if key == "gateway" {
            return Some(Self::Gateway);
        }
        let (kind, rest) = key.split_once('/')?;
        match kind {
            "api" => Some(Self::Api(rest.to_string())),
            "app" => Some(Self::Application(rest.to_string())),
            "sub" => {
                let (api, application) = rest.split_once('/')?;
                Some(Self::Subscription {
                    api: api.to_string(),
                    application: application.to_string(),
                })
            }
            _ => None,
        }
    }

    /// The subjects an (API, application) pair counts towards.
    fn of(api: &str, application: &str) -> Vec<Subject> {
        let mut out = vec![Subject::Gateway];
        if !api.is_empty() {
            out.push(Subject::Api(api.to_string()));
        }
        if !application.is_empty() {
            out.push(Subject::Application(application.to_string()));
            if !api.is_empty() {
                out.push(Subject::Subscription {
                    api: api.to_string(),
                    application: application.to_string(),
                });
            }
        }
        out
    }
}

/// What the analytics page shows for one subject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveView {
    /// Events per second over the last [`LIVE_SECONDS`] seconds, oldest first (the last
    /// entry is the second now running).
    pub per_second: Vec<u64>,
    /// Events per minute over the last [`DAY_MINUTES`] minutes, oldest first.
    pub per_minute: Vec<u64>,
    /// Streams open now.
    pub open_streams: i64,
    /// Everything counted over the last 24 hours.
    pub day: Counts,
    /// For an API its applications, for an application its APIs, by events over the last
    /// 24 hours, most first (at most five).
    pub top: Vec<(String, u64)>,
    /// Gateway-wide open streams sampled each second over the last [`LIVE_SECONDS`],
    /// oldest first (filled for [`Subject::Gateway`] only).
    pub open_per_second: Vec<u64>,
}

#[derive(Debug, Default)]
struct State {
    /// The per-(API, application) counters at the last sample.
    last_pairs: HashMap<(String, String), PairReading>,
    /// The gateway-wide backend error counter at the last sample.
    last_backend_errors: u64,
    /// Open streams per subject at the last sample.
    open: HashMap<Subject, i64>,
    /// Minutes not yet written to the store.
    pending: BTreeMap<(i64, Subject), Counts>,
    /// The last 24 hours per subject, by minute.
    day: HashMap<Subject, BTreeMap<i64, Counts>>,
    /// Events per second per subject: (second in ms, events), oldest first.
    live: HashMap<Subject, VecDeque<(i64, u64)>>,
    /// Gateway-wide open streams at each sample: (second in ms, streams), oldest first.
    open_ring: VecDeque<(i64, u64)>,
}

/// The in-memory aggregate. Shared by the sampler, the flush and the readers; every call
/// takes one short lock.
#[derive(Debug, Default)]
pub struct Series {
    state: Mutex<State>,
}

fn minute_of(at: Millis) -> i64 {
    at - at.rem_euclid(MINUTE_MS)
}

fn second_of(at: Millis) -> i64 {
    at - at.rem_euclid(1000)
}

impl State {
    fn add(&mut self, at: Millis, subjects: &[Subject], counts: &Counts) {
        let minute = minute_of(at);
        for s in subjects {
            self.pending
                .entry((minute, s.clone()))
                .or_default()
                .add(counts);
            let day = self.day.entry(s.clone()).or_default();
            day.entry(minute).or_default().add(counts);
            while let Some((&first, _)) = day.first_key_value() {
                if first > minute - DAY_MINUTES as i64 * MINUTE_MS {
                    break;
                }
                day.pop_first();
            }
            if counts.events > 0 {
                let ring = self.live.entry(s.clone()).or_default();
                let second = second_of(at);
                match ring.back_mut() {
                    Some((sec, n)) if *sec == second => *n += counts.events,
                    _ => ring.push_back((second, counts.events)),
                }
                while ring
                    .front()
                    .is_some_and(|(sec, _)| *sec <= second - LIVE_SECONDS as i64 * 1000)
                {
                    ring.pop_front();
                }
            }
        }
    }
}

impl Series {
    /// An empty aggregate.
    pub fn new() -> Series {
        Series::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        match self.state.lock() {
            Ok(mut s) => f(&mut s),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Reads the telemetry counters and counts what they gained since the last sample as
    /// happening at `now`: events, streams opened and backend failures per (API,
    /// application) ([`PairCounters`](crate::telemetry::PairCounters)), backend errors
    /// gateway-wide; takes the open streams per subject as they are now.
    pub fn sample(&self, metrics: &Metrics, now: Millis) {
        // Read under the lock, so two samplers never apply an older reading after a newer.
        self.with(|s| {
            let pairs = metrics.pairs();
            let backend_errors = metrics
                .backend_errors
                .load(std::sync::atomic::Ordering::Relaxed);
            s.open.clear();
            for ((api, app), reading) in pairs {
                let subjects = Subject::of(&api, &app);
                if reading.open_streams > 0 {
                    for subject in &subjects {
                        *s.open.entry(subject.clone()).or_insert(0) += reading.open_streams;
                    }
                }
                let last = s.last_pairs.entry((api, app)).or_default();
                let gained = Counts {
                    events: reading.events.saturating_sub(last.events),
                    streams_opened: reading.streams_opened.saturating_sub(last.streams_opened),
                    ..Counts::default()
                };
                let failed = reading.backend_errors.saturating_sub(last.backend_errors);
                *last = reading;
                if gained.events > 0 || gained.streams_opened > 0 {
                    s.add(now, &subjects, &gained);
                }
                if failed > 0 {
                    let errors = Counts {
                        backend_errors: failed,
                        ..Counts::default()
                    };
                    // The gateway-wide count comes from the telemetry counter.
                    s.add(now, &subjects[1..], &errors);
                }
            }
            let open = u64::try_from(
                metrics
                    .open_streams
                    .load(std::sync::atomic::Ordering::Relaxed),
            )
            .unwrap_or(0);
            let second = second_of(now);
            match s.open_ring.back_mut() {
                Some((sec, n)) if *sec == second => *n = open,
                _ => s.open_ring.push_back((second, open)),
            }
            while s.open_ring.len() > LIVE_SECONDS {
                s.open_ring.pop_front();
            }
            let gained = backend_errors.saturating_sub(s.last_backend_errors);
            s.last_backend_errors = backend_errors;
            if gained > 0 {
                let counts = Counts {
                    backend_errors: gained,
                    ..Counts::default()
                };
                s.add(now, &[Subject::Gateway], &counts);
            }
        });
    }

    /// Counts a rejection. `api_of_path` names the API (`Name:version`) a request path
    /// belongs to (rejections carry only the path). Stream openings and closings are
    /// counted by [`PairCounters`](crate::telemetry::PairCounters) and read by
    /// [`Series::sample`]; they are ignored here.
    pub fn on_traffic(&self, event: &TrafficEvent, api_of_path: impl Fn(&str) -> Option<String>) {
        let TrafficEvent::Rejected { path, code, at, .. } = event else {
            return;
        };
        let api = api_of_path(path).unwrap_or_default();
        let mut counts = Counts::default();
        counts.rejections.insert(*code, 1);
        // 101503: unreachable or not SSE; below 1000: the backend's own status.
        let backend = *code == BACKEND_UNAVAILABLE || *code < 1000;
        self.with(|s| {
            s.add(*at, &Subject::of(&api, ""), &counts);
            if backend && !api.is_empty() {
                let errors = Counts {
                    backend_errors: 1,
                    ..Counts::default()
                };
                s.add(*at, &[Subject::Api(api.clone())], &errors);
            }
        });
    }

    /// The minutes gathered since the last call, to be written to the store.
    pub fn take_pending(&self) -> Vec<(i64, String, Counts)> {
        self.with(|s| {
            std::mem::take(&mut s.pending)
                .into_iter()
                .map(|((m, subject), c)| (m, subject.key(), c))
                .collect()
        })
    }

    /// Puts back minutes that could not be written, so the next flush tries again.
    pub fn restore_pending(&self, rows: Vec<(i64, String, Counts)>) {
        self.with(|s| {
            for (m, key, c) in rows {
                if let Some(subject) = Subject::parse(&key) {
                    s.pending.entry((m, subject)).or_default().add(&c);
                }
            }
        });
    }

    /// The minutes not yet written, for readers that merge them with the store's.
    pub fn pending(&self) -> Vec<(i64, String, Counts)> {
        self.with(|s| {
            s.pending
                .iter()
                .map(|((m, subject), c)| (*m, subject.key(), c.clone()))
                .collect()
        })
    }

    /// What the analytics page shows for `subject` as of `now`.
    pub fn live(&self, subject: &Subject, now: Millis) -> LiveView {
        self.with(|s| {
            let second = second_of(now);
            let first_second = second - (LIVE_SECONDS as i64 - 1) * 1000;
            let mut per_second = vec![0; LIVE_SECONDS];
            if let Some(ring) = s.live.get(subject) {
                for (sec, n) in ring {
                    if *sec >= first_second && *sec <= second {
                        per_second[((sec - first_second) / 1000) as usize] += n;
                    }
                }
            }
            let minute = minute_of(now);
            let first_minute = minute - (DAY_MINUTES as i64 - 1) * MINUTE_MS;
            let mut per_minute = vec![0; DAY_MINUTES];
            let mut day = Counts::default();
            if let Some(minutes) = s.day.get(subject) {
                for (m, c) in minutes.range(first_minute..=minute) {
                    per_minute[((m - first_minute) / MINUTE_MS) as usize] += c.events;
                    day.add(c);
                }
            }
            let mut top: Vec<(String, u64)> =
                s.day
                    .iter()
                    .filter_map(|(other, minutes)| {
                        let name = match (subject, other) {
                            (Subject::Api(a), Subject::Subscription { api, application })
                                if a == api =>
                            {
                                application.clone()
                            }
                            (
                                Subject::Application(a),
                                Subject::Subscription { api, application },
                            ) if a == application => api.clone(),
                            (Subject::Gateway, Subject::Api(api)) => api.clone(),
                            _ => return None,
                        };
                        let events: u64 = minutes
                            .range(first_minute..=minute)
                            .map(|(_, c)| c.events)
                            .sum();
                        (events > 0).then_some((name, events))
                    })
                    .collect();
            top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            top.truncate(5);
            let mut open_per_second = vec![0; LIVE_SECONDS];
            if *subject == Subject::Gateway {
                for (sec, n) in &s.open_ring {
                    if *sec >= first_second && *sec <= second {
                        open_per_second[((sec - first_second) / 1000) as usize] = *n;
                    }
                }
            }
            LiveView {
                open_per_second,
                per_second,
                per_minute,
                open_streams: s.open.get(subject).copied().unwrap_or(0),
                day,
                top,
            }
        })
    }
}

/// Writes the minutes gathered since the last flush to the store and prunes it to
/// [`SERIES_BOUNDS`]; on failure they stay in memory for the next flush. Called by the
/// gateway's counter flush.
pub async fn flush(control: &Control, telemetry: &Telemetry) {
    let series = telemetry.series();
    // Count up to now, so the flush at shutdown misses nothing.
    series.sample(telemetry.metrics(), now_millis());
    let rows = series.take_pending();
    if rows.is_empty() {
        return;
    }
    if let Err(e) = control
        .save_series(rows.clone(), now_millis(), SERIES_BOUNDS)
        .await
    {
        tracing::warn!("analytics: cannot save the series: {e}");
        series.restore_pending(rows);
    }
}

/// The API (`Name:version`) whose route a gateway path falls under, in `control`'s view.
pub fn api_of_path(control: &Control, path: &str) -> Option<String> {
    let view = control.view();
    let (route, _) = view.route_for(path)?;
    let snapshot = control.snapshot();
    snapshot.apis.get(&route.api_id).map(|a| a.handle())
}

/// Feeds `telemetry`'s series: samples the counters every second and counts every
/// rejection. Runs until aborted.
pub async fn run_sampler(control: Control, telemetry: Telemetry) {
    let mut traffic = Some(telemetry.subscribe_rejections());
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let series = telemetry.series().clone();
    loop {
        let next = async {
            match traffic.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        let got = tokio::select! {
            _ = tick.tick() => None,
            got = next => Some(got),
        };
        match got {
            None => series.sample(telemetry.metrics(), now_millis()),
            Some(Ok(event)) => series.on_traffic(&event, |p| api_of_path(&control, p)),
            Some(Err(tokio::sync::broadcast::error::RecvError::Lagged(n))) => {
                tracing::warn!("analytics: missed {n} traffic events");
            }
            // Keep sampling the counters.
            Some(Err(tokio::sync::broadcast::error::RecvError::Closed)) => traffic = None,
        }
    }
}

/// Reads a duration such as `90s`, `30m`, `1h` or `7d` (a bare number is minutes) into ms.
///
/// # Errors
/// A sentence naming the value when it is not a positive whole number with one of those
/// units, or longer than the retention (7 days).
pub fn parse_since(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let (digits, unit_ms) = match t.char_indices().last() {
        Some((i, 's')) => (&t[..i], 1000),
        Some((i, 'm')) => (&t[..i], MINUTE_MS),
        Some((i, 'h')) => (&t[..i], 60 * MINUTE_MS),
        Some((i, 'd')) => (&t[..i], 24 * 60 * MINUTE_MS),
        _ => (t, MINUTE_MS),
    };
    let n: i64 =
        digits.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            format!("since '{text}': expected a duration such as 90s, 30m, 1h or 7d")
        })?;
    let ms = n.saturating_mul(unit_ms);
    if ms > RETENTION_MS {
        return Err(format!(
            "since '{text}': series are kept 7 days; ask for 7d or less"
        ));
    }
    Ok(ms)
}
