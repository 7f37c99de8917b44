//! The header names who is signed in (issue 14): `--user NAME` shows the user and roles
//! for every user, `admin` included; the local operator (no `--user`) keeps the key hints.
#![allow(clippy::unwrap_used)]

mod tui_support;

use std::sync::Arc;

use streamgate::control::Principal;
use streamgate::tui::Theme;
use streamgate::tui::app::App;
use tui_support::*;

fn header(app: &App) -> String {
    screen(app).lines().next().unwrap().to_string()
}

#[test]
fn the_local_operator_sees_the_key_hints_and_no_user() {
    let app = app(full_catalog());
    let top = header(&app);
    assert!(top.contains("? keys") && top.contains("q quit"), "{top}");
    assert!(!top.contains("admin (admin)"), "{top}");
}

#[test]
fn signed_in_as_admin_the_header_shows_the_user_and_roles() {
    let mut config = config();
    config.principal = Principal::local_operator();
    config.signed_in = true;
    let app = App::new(config, Theme::default(), Arc::new(full_catalog()), NOON);
    let top = header(&app);
    assert!(
        top.trim_end_matches('"')
            .trim_end()
            .ends_with("admin (admin)"),
        "{top}"
    );
    assert!(!top.contains("? keys"), "{top}");
    insta::assert_snapshot!("publisher_signed_in_as_admin", screen(&app));
}
