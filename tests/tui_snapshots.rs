//! Every screen drawn on a fixed 80x24 `TestBackend` from fixed data, checked against
//! committed insta snapshots; colours checked on single cells, since snapshots hold text.
#![allow(clippy::unwrap_used)]

mod tui_support;

use crossterm::event::KeyCode;
use ratatui::style::{Color, Modifier};
use streamgate::catalog::LifecycleState;
use streamgate::telemetry::TrafficEvent;
use streamgate::tui::Theme;
use streamgate::tui::action::{
    Action, BackendCounters, Done, ServerStats, StreamItem, StreamUpdate,
};
use streamgate::tui::app::App;
use tui_support::*;

use KeyCode::{Char, Enter};

fn snap(name: &str, app: &App) {
    insta::assert_snapshot!(name, screen(app));
}

fn with_token(mut app: App) -> App {
    app.session.tokens.insert("app-1".into(), vec![token()]);
    app
}

#[test]
fn publisher_screens() {
    let mut app = app(empty_catalog());
    snap("publisher_empty", &app);
    press(&mut app, Char('n'));
    snap("create_api_menu", &app);
    keys(&mut app, &[Enter, Enter]);
    type_text(&mut app, "Observer");
    press(&mut app, Enter);
    type_text(&mut app, "observer");
    press(&mut app, Enter);
    snap("create_api_form_with_a_message", &app);

    let mut app = tui_support::app(full_catalog());
    snap("publisher_list", &app);
    press(&mut app, Enter);
    snap("api_overview", &app);
    press(&mut app, Char('l'));
    snap("api_business_plans", &app);
    press(&mut app, Char('l'));
    snap("api_lifecycle", &app);
    press(&mut app, Enter);
    snap("api_lifecycle_confirm", &app);
    press(&mut app, KeyCode::Esc);
    press(&mut app, Char('l'));
    snap("api_deployments", &app);
    press(&mut app, Char('n'));
    snap("api_deploy_new_revision", &app);
    press(&mut app, KeyCode::Esc);
    press(&mut app, Char('l'));
    snap("api_asyncapi", &app);
}

#[test]
fn portal_screens() {
    let mut app = with_token(app(full_catalog()));
    press(&mut app, Char('2'));
    snap("portal_apis", &app);
    press(&mut app, Enter);
    snap("portal_api_overview", &app);
    press(&mut app, Char('l'));
    snap("portal_api_subscriptions", &app);
    press(&mut app, Char('l'));
    press(&mut app, Enter);
    app.update(Action::Stream(StreamUpdate::Opened { stream_id: 1 }));
    for i in 0..3 {
        app.update(Action::Stream(StreamUpdate::Items {
            stream_id: 1,
            at: NOON + 1000 * (i + 1),
            items: vec![StreamItem::Event {
                id: Some((i + 1).to_string()),
                data: format!("{{\"total\":16000000000,\"used\":{}}}", 5_000_000_000 + i),
            }],
        }));
    }
    snap("portal_try_it_streaming", &app);

    let mut app = with_token(tui_support::app(full_catalog()));
    press(&mut app, Char('2'));
    press(&mut app, Char('l'));
    snap("applications", &app);
    press(&mut app, Enter);
    snap("application_detail", &app);
}

#[test]
fn wizard_screens() {
    let mut app = app(full_catalog());
    press(&mut app, Char('2'));
    press(&mut app, Char('w'));
    type_text(&mut app, "Weather");
    snap("wizard_create_application", &app);
    let mut created = full_catalog().applications["app-1"].clone();
    created.name = "Weather".into();
    keys(&mut app, &[Enter, Enter, Enter, Enter]);
    app.update(Action::Done(Done::AppCreated(Ok(created))));
    snap("wizard_subscribe", &app);
    wizard_subscribe_and_get_keys(&mut app, "CONSUMER-SECRET-SHOWN-ONCE");
    snap("wizard_generate_token", &app);
    press(&mut app, Enter);
    app.update(Action::Done(Done::TokenGenerated {
        app_id: "app-1".into(),
        result: Ok(token()),
    }));
    snap("wizard_copy_token", &app);
}

#[test]
fn servers_screens() {
    let mut app = app(empty_catalog());
    press(&mut app, Char('3'));
    snap("servers_stopped", &app);
    press(&mut app, Char('s'));
    app.update(Action::Done(Done::BackendStarted(Ok(addr(
        "127.0.0.1:8080",
    )))));
    app.update(Action::Tick(ServerStats {
        uptime_ms: 1000,
        wall_ms: NOON,
        open_streams: 1,
        events_total: 42,
        rejections: 3,
        backend: Some(BackendCounters {
            open_streams: 1,
            events_sent: 42,
        }),
        ..ServerStats::default()
    }));
    snap("servers_running", &app);

    let mut config = config();
    config.admin = Err("127.0.0.1:9443 is already in use".into());
    let mut app = App::new(
        config,
        Theme::default(),
        std::sync::Arc::new(empty_catalog()),
        NOON,
    );
    press(&mut app, Char('3'));
    snap("servers_admin_port_taken", &app);
}

#[test]
fn tutorial_and_live_screens() {
    let mut catalog = catalog_with(observer(LifecycleState::Published, &["AsyncGold"]));
    catalog.environments = full_catalog().environments;
    let mut app = app(catalog);
    press(&mut app, Char('4'));
    snap("tutorial_three_done", &app);

    let mut app = tui_support::app(full_catalog());
    app.update(Action::Traffic(TrafficEvent::Rejected {
        path: "/observer/1.0.0/memory".into(),
        status: 401,
        code: 900902,
        message: "Missing Credentials".into(),
        client: "127.0.0.1:50312".into(),
        at: NOON,
    }));
    app.update(Action::Traffic(observer_opened(
        1,
        "127.0.0.1:50314",
        NOON + 2000,
    )));
    app.update(Action::Traffic(TrafficEvent::Closed {
        stream_id: 1,
        events: 5,
        reason: "backend ended the stream".into(),
        at: NOON + 7000,
    }));
    press(&mut app, KeyCode::Tab);
    press(&mut app, Char('z'));
    snap("live_zoomed_with_traffic", &app);
    press(&mut app, Char('w'));
    snap("live_zoomed_wrapped", &app);
    press(&mut app, Char('?'));
    snap("help_live", &app);
}

#[test]
fn a_small_terminal_gets_a_message_and_a_large_one_uses_the_room() {
    let app = app(full_catalog());
    let small = draw(&app, 50, 12).backend().to_string();
    insta::assert_snapshot!("too_small", small);
    let big = draw(&app, 120, 40).backend().to_string();
    assert!(big.contains("Publisher - APIs"));
    assert!(big.lines().count() == 40);
    // Back to 80x24: the same screen as ever.
    assert_eq!(screen(&app), draw(&app, 80, 24).backend().to_string());
}

#[test]
fn the_selection_is_coloured_by_the_theme_and_reversed_without_colour() {
    let mut app = app(full_catalog());
    // Row 3 is the first API (tab bar, border, table header).
    let terminal = draw(&app, 80, 24);
    let cell = &terminal.backend().buffer()[(5, 3)];
    let dark = Theme::builtin("dark", false).unwrap();
    assert_eq!(cell.bg, dark.palette.selection_bg);
    assert_eq!(cell.bg, Color::Cyan);
    app.theme = Theme::builtin("high-contrast", false).unwrap();
    let terminal = draw(&app, 80, 24);
    assert_eq!(terminal.backend().buffer()[(5, 3)].bg, Color::LightYellow);
    app.theme = Theme::builtin("dark", true).unwrap();
    let terminal = draw(&app, 80, 24);
    let buffer = terminal.backend().buffer();
    for cell in buffer.content() {
        assert_eq!(cell.fg, Color::Reset, "colour at {:?}", cell.symbol());
        assert_eq!(cell.bg, Color::Reset);
    }
    assert!(buffer[(5, 3)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn every_glyph_drawn_is_ascii() {
    let mut app = with_token(app(full_catalog()));
    let mut screens = vec![screen(&app)];
    for key in [
        Char('2'),
        Enter,
        Char('l'),
        Char('l'),
        Char('3'),
        Char('4'),
        Char('?'),
    ] {
        press(&mut app, key);
        screens.push(screen(&app));
    }
    for s in screens {
        assert!(s.is_ascii(), "non-ASCII glyph in:\n{s}");
    }
}
