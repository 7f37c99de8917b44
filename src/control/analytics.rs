//! Control's analytics operations: writing the per-minute series (from the gateway's
//! periodic flush) and reading them back for `streamgate stats` and the REST resource.

use std::collections::BTreeMap;

use crate::analytics::{Counts, Subject};
use crate::catalog::Millis;
use crate::store::series::SeriesBounds;

use super::{Control, ControlError, Result};

/// The series of one subject over a time range, as `streamgate stats` and
/// `GET /api/am/publisher/v4/analytics/stats` report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsReport {
    /// What it is about.
    pub subject: Subject,
    /// The first minute included (ms since the epoch).
    pub since: Millis,
    /// When the report was made (ms since the epoch).
    pub until: Millis,
    /// The sum over the range.
    pub totals: Counts,
    /// The minutes with something counted, oldest first: (minute start in ms, counts).
    pub minutes: Vec<(Millis, Counts)>,
    /// For an API its applications, for an application its APIs, for the gateway its
    /// APIs: (name, events), most events first.
    pub top: Vec<(String, u64)>,
}

impl Control {
    /// Adds per-minute `rows` (minute start, subject key, counts) to the stored series
    /// and prunes it to `bounds` as of `now`. Off the async threads.
    pub async fn save_series(
        &self,
        rows: Vec<(Millis, String, Counts)>,
        now: Millis,
        bounds: SeriesBounds,
    ) -> Result<()> {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || store.merge_series(&rows, now, bounds))
            .await
            .map_err(|e| ControlError::Internal(e.to_string()))??;
        Ok(())
    }

    /// Which subject a name given by a person means: no name is the whole gateway; else
    /// an API by `Name:version` (or by name when only one version exists), else an
    /// application by name.
    ///
    /// # Errors
    /// [`ControlError::NotFound`] when no API or application has that name.
    pub fn stats_subject(&self, name: Option<&str>) -> Result<Subject> {
        let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
            return Ok(Subject::Gateway);
        };
        let snapshot = self.snapshot();
        if let Some(api) = snapshot.apis.values().find(|a| a.handle() == name) {
            return Ok(Subject::Api(api.handle()));
        }
        let by_name: Vec<_> = snapshot.apis.values().filter(|a| a.name == name).collect();
        if let [api] = by_name.as_slice() {
            return Ok(Subject::Api(api.handle()));
        }
        if snapshot.applications.values().any(|a| a.name == name) {
            return Ok(Subject::Application(name.to_string()));
        }
        Err(ControlError::not_found("API or application", name))
    }

    /// The series of `subject` since `since` (ms), from the store plus `pending` (the
    /// minutes not yet flushed, see [`crate::analytics::Series::pending`]).
    pub async fn series_stats(
        &self,
        subject: Subject,
        since: Millis,
        until: Millis,
        pending: Vec<(Millis, String, Counts)>,
    ) -> Result<StatsReport> {
        let store = self.inner.store.clone();
        let key = subject.key();
        let wanted = subject.clone();
        let since_minute = since - since.rem_euclid(crate::analytics::MINUTE_MS);
        let related = move |k: &str| k == key || related_to(&wanted, k).is_some();
        let mut rows =
            tokio::task::spawn_blocking(move || store.series_since(since_minute, related))
                .await
                .map_err(|e| ControlError::Internal(e.to_string()))??;
        let key = subject.key();
        rows.extend(pending.into_iter().filter(|(m, k, _)| {
            *m >= since_minute && (*k == key || related_to(&subject, k).is_some())
        }));
        let mut minutes: BTreeMap<Millis, Counts> = BTreeMap::new();
        let mut top: BTreeMap<String, u64> = BTreeMap::new();
        let mut totals = Counts::default();
        for (m, k, c) in rows {
            if k == key {
                minutes.entry(m).or_default().add(&c);
                totals.add(&c);
            } else if let Some(name) = related_to(&subject, &k) {
                *top.entry(name).or_insert(0) += c.events;
            }
        }
        let mut top: Vec<(String, u64)> = top.into_iter().filter(|(_, n)| *n > 0).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(StatsReport {
            subject,
            since: since_minute,
            until,
            totals,
            minutes: minutes.into_iter().filter(|(_, c)| !c.is_empty()).collect(),
            top,
        })
    }
}

/// The name a stored subject key contributes to `subject`'s top list, if it does.
fn related_to(subject: &Subject, key: &str) -> Option<String> {
    match (subject, Subject::parse(key)?) {
        (Subject::Api(a), Subject::Subscription { api, application }) if *a == api => {
            Some(application)
        }
        (Subject::Application(a), Subject::Subscription { api, application })
            if *a == application =>
        {
            Some(api)
        }
        (Subject::Gateway, Subject::Api(api)) => Some(api),
        _ => None,
    }
}

/// A subscription's quota as a gauge: events used in the current window against the
/// plan's limit, when the window resets, and whether the gateway refuses it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuotaGauge {
    /// Events delivered in the current window (as of the last counter flush, at most
    /// [`crate::gateway::DEFAULT_COUNTER_FLUSH`] old).
    pub used: u64,
    /// The plan's events per window; `None`: unlimited.
    pub limit: Option<u64>,
    /// When the current window ends (ms since the epoch); `None` before the first event.
    pub resets_at: Option<Millis>,
    /// Whether the quota is used up, so the gateway refuses new streams (900804).
    pub throttled: bool,
}

impl Control {
    /// Every subscription's quota gauge as of `now`, by subscription id: the plan's limit
    /// from the gateway's view, the count from the persisted quota counters. Off the async
    /// threads.
    pub async fn quota_gauges(&self, now: Millis) -> Result<BTreeMap<String, QuotaGauge>> {
        let control = self.clone();
        let counters = tokio::task::spawn_blocking(move || control.load_counters())
            .await
            .map_err(|e| ControlError::Internal(e.to_string()))??;
        let view = self.view();
        let mut out = BTreeMap::new();
        for sub in view.subscriptions.values() {
            let limit = sub.quota.limit();
            let current = sub.quota.window_millis().and_then(|len| {
                counters
                    .get(&sub.id)
                    .filter(|r| now >= r.window_start && now < r.window_start.saturating_add(len))
                    .map(|r| (r.count, r.window_start.saturating_add(len)))
            });
            let (used, resets_at) = match current {
                Some((count, end)) => (count, Some(end)),
                None => (0, None),
            };
            out.insert(
                sub.id.clone(),
                QuotaGauge {
                    used,
                    limit,
                    resets_at,
                    throttled: limit.is_some_and(|l| used >= l),
                },
            );
        }
        Ok(out)
    }
}
