//! The header at 80 columns names a signed-in subscriber and their role in full after the
//! four tabs (it used to cut `dev1 (subscriber)` to `dev1 (subscri...`).
#![allow(clippy::unwrap_used)]

mod tui_support;

use std::sync::Arc;

use streamgate::catalog::Role;
use streamgate::tui::Theme;
use streamgate::tui::app::App;
use tui_support::*;

fn header_as(user: &str, roles: &[Role]) -> String {
    let config = signed_in_as(user, roles);
    let app = App::new(config, Theme::default(), Arc::new(full_catalog()), NOON);
    screen(&app)
        .lines()
        .next()
        .unwrap()
        .trim_matches('"')
        .to_string()
}

#[test]
fn a_subscribers_name_and_role_fit_beside_the_tabs() {
    let top = header_as("dev1", &[Role::Subscriber]);
    assert!(top.ends_with("4 Tutorial  dev1 (subscriber)"), "{top:?}");
    assert_eq!(top.chars().count(), 80, "{top:?}");
}

#[test]
fn a_longer_one_is_cut_with_an_ellipsis_and_a_short_one_keeps_its_margin() {
    let top = header_as("carl", &[Role::Creator, Role::Publisher]);
    assert!(top.ends_with("carl (creator,..."), "{top:?}");
    let top = header_as("ada", &[Role::Admin]);
    assert!(top.ends_with(" ada (admin) "), "{top:?}");
}
