//! Publisher > API > Business Plans, WSO2's Subscriptions page: the API's subscriptions
//! with the Developer Portal's quota gauge (used / limit, reset time, THROTTLED), an 80x24
//! snapshot from fixed data, and the real runtime feeding the gauges while the page shows.
#![allow(clippy::unwrap_used)]

mod common;
mod tui_support;

use std::collections::BTreeMap;
use std::time::Duration;

use crossterm::event::KeyCode;
use streamgate::control::analytics::QuotaGauge;
use streamgate::telemetry::Telemetry;
use streamgate::tui::action::Action;
use streamgate::tui::screens::ScreenId;
use streamgate::tui::{Harness, TuiContext, TuiOptions};
use tui_support::*;

use KeyCode::{Char, Enter};

fn gauge(used: u64, throttled: bool) -> QuotaGauge {
    QuotaGauge {
        used,
        limit: Some(50_000),
        resets_at: Some(NOON + 3_600_000),
        throttled,
    }
}

#[test]
fn the_business_plans_page_lists_subscriptions_with_their_gauges() {
    let mut app = app(full_catalog());
    press(&mut app, Enter);
    press(&mut app, Char('l'));
    assert_eq!(app.current_screen(), ScreenId::ApiPlans);
    let before = screen(&app);
    assert!(before.contains("Subscriptions (1)"), "{before}");
    assert!(before.contains("ObserverApp"), "{before}");
    assert!(
        !before.contains("/ 50000"),
        "no gauge before one is fed: {before}"
    );

    let mut quotas = BTreeMap::new();
    quotas.insert("sub-1".to_string(), gauge(50_000, true));
    // Another API's subscription is not listed here.
    quotas.insert("sub-other".to_string(), gauge(1, false));
    app.update(Action::Quotas(quotas.clone()));
    let text = screen(&app);
    assert!(
        text.contains("[####################] 50000 / 50000 (100%) resets in 1h00m THROTTLED"),
        "{text}"
    );
    assert!(!text.contains("1 / 50000"), "{text}");
    insta::assert_snapshot!("publisher_subscriptions_with_gauge", text);

    quotas.insert("sub-1".to_string(), gauge(12_500, false));
    app.update(Action::Quotas(quotas));
    let text = screen(&app);
    assert!(
        text.contains("[#####...............] 12500 / 50000 (25%) resets in 1h00m"),
        "{text}"
    );
    assert!(!text.contains("THROTTLED"), "{text}");
}

#[test]
fn an_api_without_subscriptions_says_so() {
    let mut app = app(catalog_with(observer(
        streamgate::catalog::LifecycleState::Published,
        &["AsyncGold"],
    )));
    press(&mut app, Enter);
    press(&mut app, Char('l'));
    let text = screen(&app);
    assert!(text.contains("Subscriptions (0)"), "{text}");
    assert!(text.contains("none yet"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_feeds_the_gauges_while_the_page_shows() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_path_buf();
    let control = common::open_control(&data_dir).await;
    let api = common::published_api(
        &control,
        "Observer",
        Some("http://127.0.0.1:9"),
        None,
        &["AsyncGold"],
    )
    .await;
    let sub = common::subscriber(
        &control,
        "ObserverApp",
        "Unlimited",
        &api,
        Some("AsyncGold"),
    )
    .await;
    let sub_id = sub.subscription_id.unwrap();
    let ctx = TuiContext {
        control,
        telemetry: Telemetry::new(),
        admin: Err("not started in this test".into()),
        gateway: Err("not started in this test".into()),
        backend_addr: "127.0.0.1:9".parse().unwrap(),
        data_dir,
        principal: streamgate::control::Principal::local_operator(),
        tls: None,
        signed_in: false,
    };
    let mut harness = Harness::new(ctx, &TuiOptions::default(), 80, 24).unwrap();
    harness.key(Enter);
    harness.key(Char('l'));
    let fed = harness
        .wait_for("the gauges", Duration::from_secs(15), |app| {
            app.current_screen() == ScreenId::ApiPlans && app.analytics.quotas.contains_key(&sub_id)
        })
        .await;
    assert!(fed.is_ok(), "{fed:?}");
    let text = harness.render();
    assert!(
        text.contains("0 / 50000 (0%)"),
        "AsyncGold's quota, nothing used: {text}"
    );
    harness.shutdown().await;
}
