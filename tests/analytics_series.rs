//! Analytics series: the store's `series-v1` table over real redb files (merge, retention,
//! size bound, survival across a reopen) and the in-memory aggregate fed by telemetry.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::Ordering;

use streamgate::analytics::{
    Counts, DAY_MINUTES, LIVE_SECONDS, MINUTE_MS, RETENTION_MS, Series, Subject, parse_since,
};
use streamgate::store::Store;
use streamgate::store::series::SeriesBounds;
use streamgate::telemetry::{Metrics, TrafficEvent};

const NOW: i64 = 1_764_331_200_000;

fn events(n: u64) -> Counts {
    Counts {
        events: n,
        ..Counts::default()
    }
}

fn bounds(max_rows: u64) -> SeriesBounds {
    SeriesBounds {
        retention_ms: RETENTION_MS,
        max_rows,
    }
}

#[test]
fn minutes_add_up_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let minute = NOW - 5 * MINUTE_MS;
        store
            .merge_series(&[(minute, "api/A:1".into(), events(3))], NOW, bounds(100))
            .unwrap();
        store
            .merge_series(&[(minute, "api/A:1".into(), events(4))], NOW, bounds(100))
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let rows = store.series_since(0, |k| k == "api/A:1").unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].2.events, 7);
    assert_eq!(rows[0].0, NOW - 5 * MINUTE_MS);
}

#[test]
fn rows_older_than_seven_days_are_pruned_on_flush() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let old = NOW - RETENTION_MS - MINUTE_MS;
    let kept = NOW - RETENTION_MS + MINUTE_MS;
    store
        .merge_series(
            &[
                (old, "gateway".into(), events(1)),
                (kept, "gateway".into(), events(2)),
            ],
            // Written before they were old.
            old,
            bounds(100),
        )
        .unwrap();
    assert_eq!(store.series_rows().unwrap(), 2);
    // The next flush, a week later, prunes the old minute.
    store
        .merge_series(&[(NOW, "gateway".into(), events(5))], NOW, bounds(100))
        .unwrap();
    let rows = store.series_since(0, |_| true).unwrap();
    let minutes: Vec<i64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(minutes, vec![kept, NOW]);
}

#[test]
fn the_row_bound_drops_the_oldest_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let rows: Vec<_> = (0..50)
        .map(|i| {
            (
                NOW - (50 - i) * MINUTE_MS,
                format!("app/A{}", i % 3),
                events(1),
            )
        })
        .collect();
    store.merge_series(&rows, NOW, bounds(20)).unwrap();
    assert_eq!(store.series_rows().unwrap(), 20);
    let left = store.series_since(0, |_| true).unwrap();
    assert_eq!(left.first().unwrap().0, NOW - 20 * MINUTE_MS);
    assert_eq!(left.last().unwrap().0, NOW - MINUTE_MS);
}

#[test]
fn telemetry_becomes_minutes_live_seconds_and_top_lists() {
    let series = Series::new();
    let metrics = Metrics::default();
    let api = "Observer:1.0.0";
    // The gateway counts a stream's open and close on its (API, application) counters;
    // the sampler reads them once a second.
    let pair = metrics.pair_counters(api, "ObserverApp");
    pair.opened();
    series.sample(&metrics, NOW);
    assert_eq!(
        series.live(&Subject::Api(api.into()), NOW).open_streams,
        1,
        "open at the sample"
    );
    pair.events.fetch_add(5, Ordering::Relaxed);
    series.sample(&metrics, NOW + 1000);
    pair.events.fetch_add(7, Ordering::Relaxed);
    series.sample(&metrics, NOW + 2000);
    series.on_traffic(
        &TrafficEvent::Rejected {
            path: "/observer/1.0.0/memory".into(),
            status: 429,
            code: 900804,
            message: "quota".into(),
            client: "127.0.0.1:2".into(),
            at: NOW + 2000,
        },
        |p| p.starts_with("/observer/1.0.0").then(|| api.to_string()),
    );
    // Traffic events of streams (the live pane's) are not counted twice.
    series.on_traffic(
        &TrafficEvent::Opened {
            stream_id: 1,
            api: api.into(),
            application: "ObserverApp".into(),
            key_type: "PRODUCTION".into(),
            path: "/observer/1.0.0/memory".into(),
            client: "127.0.0.1:1".into(),
            at: NOW,
        },
        |_| None,
    );
    pair.closed(true);
    series.sample(&metrics, NOW + 2500);

    let view = series.live(&Subject::Api(api.into()), NOW + 2000);
    assert_eq!(view.per_second.len(), LIVE_SECONDS);
    assert_eq!(view.per_minute.len(), DAY_MINUTES);
    assert_eq!(&view.per_second[LIVE_SECONDS - 3..], &[0, 5, 7]);
    assert_eq!(view.per_minute.iter().sum::<u64>(), 12);
    assert_eq!(view.open_streams, 0, "closed again");
    assert_eq!(view.day.streams_opened, 1);
    assert_eq!(view.day.rejections.get(&900804), Some(&1));
    assert_eq!(view.day.backend_errors, 1);
    assert_eq!(view.top, vec![("ObserverApp".to_string(), 12)]);
    let app = series.live(&Subject::Application("ObserverApp".into()), NOW + 2000);
    assert_eq!(app.top, vec![(api.to_string(), 12)]);

    let pending = series.take_pending();
    assert!(
        pending
            .iter()
            .any(|(_, k, c)| k == "sub/Observer:1.0.0/ObserverApp" && c.events == 12),
        "{pending:?}"
    );
    assert!(series.take_pending().is_empty(), "taken once");
    series.restore_pending(pending);
    assert!(
        !series.pending().is_empty(),
        "restored after a failed write"
    );
}

#[test]
fn since_accepts_units_and_refuses_nonsense() {
    assert_eq!(parse_since("90s").unwrap(), 90_000);
    assert_eq!(parse_since("30m").unwrap(), 30 * MINUTE_MS);
    assert_eq!(parse_since("1h").unwrap(), 60 * MINUTE_MS);
    assert_eq!(parse_since("7d").unwrap(), RETENTION_MS);
    assert_eq!(parse_since("5").unwrap(), 5 * MINUTE_MS);
    assert!(parse_since("8d").unwrap_err().contains("7 days"));
    assert!(parse_since("soon").is_err());
    assert!(parse_since("0h").is_err());
    assert!(parse_since("").is_err());
}
