//! Publisher > API > Overview at 80x24: every field, the https endpoint's certificate line
//! and the keys hint fit the page (the Backend line used to push the hint, or itself, below
//! the pane's border).
#![allow(clippy::unwrap_used)]

mod tui_support;

use crossterm::event::KeyCode;
use streamgate::catalog::LifecycleState;
use tui_support::*;

/// The rows of the Publisher's pane, between its top and bottom borders.
fn publisher_pane(screen: &str) -> Vec<String> {
    let rows: Vec<&str> = screen.lines().collect();
    let bottom = rows
        .iter()
        .skip(2)
        .position(|r| r.starts_with("\"+"))
        .unwrap()
        + 2;
    rows[2..bottom].iter().map(|r| r.to_string()).collect()
}

#[test]
fn an_https_apis_overview_shows_every_line_and_the_keys_hint() {
    let mut api = observer(LifecycleState::Published, &["AsyncGold"]);
    api.production_endpoint = Some("https://backend.example:8443/events".into());
    let mut app = app(catalog_with(api));
    press(&mut app, KeyCode::Enter);
    let screen = screen(&app);
    let pane = publisher_pane(&screen).join("\n");
    for label in [
        "Type ",
        "Topics ",
        "Context ",
        "Version ",
        "Endpoint ",
        "Certificate   none registered",
        "State ",
        "Subscriptions ",
        "Plans ",
        "Gateway URL ",
        "CORS ",
        "Backend       per-client",
        "Esc back to APIs",
    ] {
        assert!(
            pane.contains(label),
            "{label:?} is not in the pane:\n{screen}"
        );
    }
    insta::assert_snapshot!("api_overview_https", screen);
}

#[test]
fn a_plain_apis_overview_keeps_the_keys_hint_on_screen() {
    let mut app = app(full_catalog());
    press(&mut app, KeyCode::Enter);
    let screen = screen(&app);
    let pane = publisher_pane(&screen).join("\n");
    assert!(pane.contains("Backend       per-client"), "{screen}");
    assert!(pane.contains("Esc back to APIs"), "{screen}");
}
