//! The terminal UI's analytics: reaching Publisher > API > Analytics with `h`/`l`, the
//! runtime's feed reaching the page, and 80x24 snapshots of the page and of a gauge and a
//! sparkline drawn from fixed data (ASCII glyphs, as in a non-UTF-8 locale).
#![allow(clippy::unwrap_used)]

mod tui_support;

use std::collections::BTreeMap;

use crossterm::event::KeyCode;
use streamgate::analytics::{Counts, DAY_MINUTES, LIVE_SECONDS, LiveView, Subject};
use streamgate::tui::action::Action;
use streamgate::tui::charts::{AnalyticsFeed, Glyphs, fit, gauge_line};
use streamgate::tui::screens::ScreenId;
use streamgate::tui::screens::publisher::{ApiPage, PublisherView};
use tui_support::*;

use KeyCode::{Char, Enter, Left};

fn page(app: &streamgate::tui::App) -> Option<ApiPage> {
    match &app.publisher.view {
        PublisherView::Api(v) => Some(v.page),
        _ => None,
    }
}

/// A fixed view: a ramp over the last minute, a busy hour yesterday, some rejections.
fn fixed_view() -> LiveView {
    let mut per_second = vec![0; LIVE_SECONDS];
    for (i, v) in per_second.iter_mut().enumerate().skip(LIVE_SECONDS - 60) {
        *v = (i % 20) as u64;
    }
    let mut per_minute = vec![0; DAY_MINUTES];
    for (i, v) in per_minute.iter_mut().enumerate() {
        *v = if (600..660).contains(&i) {
            600
        } else {
            (i % 7) as u64 * 10
        };
    }
    let mut rejections = BTreeMap::new();
    rejections.insert(900804, 3);
    rejections.insert(900901, 1);
    LiveView {
        per_second,
        per_minute,
        open_streams: 2,
        day: Counts {
            events: 123_456,
            streams_opened: 9,
            rejections,
            backend_errors: 1,
        },
        top: vec![("ObserverApp".into(), 120_000), ("Other".into(), 3_456)],
        open_per_second: Vec::new(),
    }
}

#[test]
fn l_reaches_the_analytics_page_and_h_leaves_it() {
    let mut app = app(full_catalog());
    press(&mut app, Enter);
    assert_eq!(page(&app), Some(ApiPage::Overview));
    // Left from the Overview wraps to the last page: Analytics.
    press(&mut app, Left);
    assert_eq!(page(&app), Some(ApiPage::Analytics));
    assert_eq!(app.current_screen(), ScreenId::ApiAnalytics);
    assert_eq!(
        app.analytics_subject(),
        Some(Subject::Api("Observer:1.0.0".into()))
    );
    press(&mut app, Char('h'));
    assert_eq!(page(&app), Some(ApiPage::Definition));
    assert_eq!(app.analytics_subject(), None, "no analytics on screen");
    press(&mut app, Char('l'));
    assert_eq!(page(&app), Some(ApiPage::Analytics));
    press(&mut app, Char('l'));
    assert_eq!(page(&app), Some(ApiPage::Overview), "wraps around");
}

#[test]
fn the_analytics_feed_is_kept_and_drawn_only_for_its_subject() {
    let mut app = app(full_catalog());
    press(&mut app, Enter);
    press(&mut app, Left);
    let feed = AnalyticsFeed {
        subject: Some(Subject::Api("Other:1.0.0".into())),
        view: fixed_view(),
        ..AnalyticsFeed::default()
    };
    app.update(Action::Analytics(Box::new(feed.clone())));
    assert_eq!(app.analytics, feed);
    let text = screen(&app);
    assert!(
        text.contains("none yet"),
        "another API's data is not shown: {text}"
    );
    assert!(!text.contains("ObserverApp 120000"), "{text}");
}

#[test]
fn analytics_page_snapshot() {
    let mut app = app(full_catalog());
    press(&mut app, Enter);
    press(&mut app, Left);
    app.update(Action::Analytics(Box::new(AnalyticsFeed {
        subject: Some(Subject::Api("Observer:1.0.0".into())),
        view: fixed_view(),
        glyphs: Glyphs::Ascii,
        ..AnalyticsFeed::default()
    })));
    insta::assert_snapshot!("analytics_page", screen(&app));
}

#[test]
fn gauge_and_sparkline_snapshot() {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::layout::{Constraint, Layout};
    use ratatui::widgets::{Paragraph, Sparkline};

    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let data = fit(&fixed_view().per_minute, 80);
    terminal
        .draw(|f| {
            let [gauges, spark] =
                Layout::vertical([Constraint::Length(3), Constraint::Min(1)]).areas(f.area());
            let lines = vec![
                gauge_line(42, 100, 20, Glyphs::Ascii).into(),
                gauge_line(100, 100, 20, Glyphs::Ascii).into(),
                gauge_line(7, 1000, 20, Glyphs::Ascii).into(),
            ];
            f.render_widget(Paragraph::new(lines), gauges);
            f.render_widget(
                Sparkline::default()
                    .data(&data)
                    .bar_set(Glyphs::Ascii.bar_set()),
                spark,
            );
        })
        .unwrap();
    let text: Vec<String> = terminal
        .backend()
        .buffer()
        .content
        .chunks(80)
        .map(|row| format!("\"{}\"", row.iter().map(|c| c.symbol()).collect::<String>()))
        .collect();
    insta::assert_snapshot!("gauge_and_sparkline", text.join("\n"));
}

#[test]
fn a_shows_an_applications_analytics_and_a_or_esc_goes_back() {
    use streamgate::tui::screens::portal::PortalView;
    let mut app = app(full_catalog());
    press(&mut app, Char('2'));
    press(&mut app, Char('l'));
    press(&mut app, Enter);
    let analytics = |app: &streamgate::tui::App| match &app.portal.view {
        PortalView::App(d) => d.analytics,
        _ => panic!("not on an application"),
    };
    assert!(!analytics(&app));
    assert_eq!(app.analytics_subject(), None);
    press(&mut app, Char('a'));
    assert!(analytics(&app));
    assert_eq!(
        app.analytics_subject(),
        Some(Subject::Application("ObserverApp".into()))
    );
    app.update(Action::Analytics(Box::new(AnalyticsFeed {
        subject: Some(Subject::Application("ObserverApp".into())),
        view: LiveView {
            top: vec![("Observer:1.0.0".into(), 77)],
            ..fixed_view()
        },
        ..AnalyticsFeed::default()
    })));
    let text = screen(&app);
    assert!(
        text.contains("Application ObserverApp - Analytics"),
        "{text}"
    );
    assert!(
        text.contains("Top APIs (24 h): Observer:1.0.0 77"),
        "{text}"
    );
    insta::assert_snapshot!("application_analytics", text);
    press(&mut app, Char('a'));
    assert!(!analytics(&app));
    press(&mut app, Char('a'));
    press(&mut app, KeyCode::Esc);
    assert!(!analytics(&app), "Esc leaves the analytics first");
    assert!(matches!(app.portal.view, PortalView::App(_)));
}

fn stream_events(app: &mut streamgate::tui::App, data: impl Fn(u64) -> String, n: u64) {
    use streamgate::tui::action::{StreamItem, StreamUpdate};
    app.update(Action::Stream(StreamUpdate::Opened { stream_id: 1 }));
    for i in 0..n {
        app.update(Action::Stream(StreamUpdate::Items {
            stream_id: 1,
            at: NOON + 1000 * (i as i64 + 1),
            items: vec![StreamItem::Event {
                id: Some((i + 1).to_string()),
                data: data(i),
            }],
        }));
    }
}

#[test]
fn v_charts_a_json_field_n_picks_the_next_and_v_goes_back_to_lines() {
    let mut app = app(full_catalog());
    stream_events(
        &mut app,
        |i| {
            if i == 5 {
                r#"{"total":16000000000,"used":"n/a","available":1}"#.to_string()
            } else {
                let used = 5_000_000_000 + (i % 10) * 300_000_000;
                format!(
                    r#"{{"total":16000000000,"used":{used},"available":{}}}"#,
                    16_000_000_000 - used
                )
            }
        },
        60,
    );
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.current_screen(), ScreenId::Live);
    press(&mut app, Char('v'));
    assert!(app.live.chart.on);
    assert_eq!(app.live.chart.field.as_deref(), Some("used"));
    let text = screen(&app);
    assert!(text.contains("1 events skipped"), "{text}");
    insta::assert_snapshot!("try_it_chart", text);
    press(&mut app, Char('n'));
    assert_eq!(app.live.chart.field.as_deref(), Some("available"));
    press(&mut app, Char('v'));
    assert!(!app.live.chart.on, "back to lines");
    assert!(screen(&app).contains("data:{"));
}

#[test]
fn v_on_a_stream_that_is_not_json_says_why_and_stays_on_lines() {
    let mut app = app(full_catalog());
    stream_events(&mut app, |i| format!("tick {i}"), 3);
    press(&mut app, KeyCode::Tab);
    press(&mut app, Char('v'));
    assert!(!app.live.chart.on);
    let status = app
        .status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default();
    assert!(status.contains("3 events are not JSON"), "{status}");
}

#[test]
fn quota_gauges_show_used_limit_reset_and_throttled() {
    use streamgate::control::analytics::QuotaGauge;
    let mut app = app(full_catalog());
    press(&mut app, Char('2'));
    press(&mut app, Enter);
    press(&mut app, Char('l'));
    let before = screen(&app);
    assert!(
        !before.contains("50000"),
        "no gauge before one is fed: {before}"
    );
    let mut quotas = BTreeMap::new();
    quotas.insert(
        "sub-1".to_string(),
        QuotaGauge {
            used: 50_000,
            limit: Some(50_000),
            resets_at: Some(NOON + 3_600_000),
            throttled: true,
        },
    );
    app.update(Action::Quotas(quotas.clone()));
    // A later analytics feed keeps the gauges.
    app.update(Action::Analytics(Box::default()));
    assert_eq!(app.analytics.quotas, quotas);
    let text = screen(&app);
    assert!(
        text.contains("[####################] 50000 / 50000 (100%) resets in 1h00m THROTTLED"),
        "{text}"
    );
    insta::assert_snapshot!("portal_subscriptions_with_gauge", text);

    quotas.insert(
        "sub-1".to_string(),
        QuotaGauge {
            used: 12_500,
            limit: Some(50_000),
            resets_at: Some(NOON + 3_600_000),
            throttled: false,
        },
    );
    app.update(Action::Quotas(quotas));
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Esc);
    press(&mut app, Char('l'));
    press(&mut app, Enter);
    let text = screen(&app);
    assert!(
        text.contains("[#####...............] 12500 / 50000 (25%) resets in 1h00m"),
        "{text}"
    );
    assert!(!text.contains("THROTTLED"), "{text}");
}

#[test]
fn servers_show_gateway_sparklines_and_this_process_once_fed() {
    use streamgate::tui::charts::ProcessStats;
    let mut app = app(full_catalog());
    press(&mut app, Char('3'));
    assert!(
        !screen(&app).contains("CPU"),
        "nothing before the first sample"
    );
    let mut gateway = fixed_view();
    gateway.open_per_second = (0..LIVE_SECONDS as u64).map(|i| i / 100).collect();
    app.update(Action::Analytics(Box::new(AnalyticsFeed {
        gateway,
        ..AnalyticsFeed::default()
    })));
    app.update(Action::Process(ProcessStats {
        cpu_percent: 3.5,
        memory_bytes: 48 * 1024 * 1024,
    }));
    let text = screen(&app);
    assert!(text.contains("CPU 3.5%  mem 48 MiB"), "{text}");
    insta::assert_snapshot!("servers_with_sparklines", text);
}

#[test]
fn the_wizards_last_step_shows_the_new_subscriptions_gauge() {
    use streamgate::control::analytics::QuotaGauge;
    use streamgate::tui::action::Done;
    let mut app = app(full_catalog());
    press(&mut app, Char('2'));
    press(&mut app, Char('w'));
    type_text(&mut app, "Weather");
    let mut created = full_catalog().applications["app-1"].clone();
    created.name = "Weather".into();
    for _ in 0..4 {
        press(&mut app, Enter);
    }
    app.update(Action::Done(Done::AppCreated(Ok(created))));
    wizard_subscribe_and_get_keys(&mut app, "SECRET");
    press(&mut app, Enter);
    app.update(Action::Done(Done::TokenGenerated {
        app_id: "app-1".into(),
        result: Ok(token()),
    }));
    assert!(
        !screen(&app).contains("Quota ["),
        "no gauge before one is fed"
    );
    let mut quotas = BTreeMap::new();
    quotas.insert(
        "sub-1".to_string(),
        QuotaGauge {
            used: 0,
            limit: Some(50_000),
            resets_at: None,
            throttled: false,
        },
    );
    app.update(Action::Quotas(quotas));
    let text = screen(&app);
    assert!(
        text.contains("Quota [....................] 0 / 50000 (0%)"),
        "{text}"
    );
}
