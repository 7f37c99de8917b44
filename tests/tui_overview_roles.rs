//! A signed-in user without the creator role (a subscriber) on Publisher > API > Overview:
//! `o` (CORS) and `r` (endpoint certificate) say why not instead of opening an editor whose
//! save would be refused, and registering an endpoint certificate is refused like the
//! other API edits.
#![allow(clippy::unwrap_used)]

mod tui_support;

use std::sync::Arc;

use crossterm::event::KeyCode::{Char, Enter};
use streamgate::catalog::{LifecycleState, Role};
use streamgate::tui::Theme;
use streamgate::tui::action::Command;
use streamgate::tui::app::App;
use streamgate::tui::screens::publisher::PublisherView;
use tui_support::*;

fn subscriber_on_an_https_api() -> App {
    let config = signed_in_as("ada", &[Role::Subscriber]);
    let mut api = observer(LifecycleState::Published, &["AsyncGold"]);
    api.production_endpoint = Some("https://backend.example:8443/events".into());
    let mut app = App::new(config, Theme::default(), Arc::new(catalog_with(api)), NOON);
    press(&mut app, Enter);
    app
}

fn editing(app: &App) -> bool {
    matches!(&app.publisher.view, PublisherView::Api(v) if v.settings.is_some())
}

fn status(app: &App) -> String {
    app.status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default()
}

#[test]
fn a_subscriber_gets_no_cors_or_certificate_editor() {
    let mut app = subscriber_on_an_https_api();
    for key in ['o', 'r'] {
        assert!(press(&mut app, Char(key)).is_empty());
        assert!(!editing(&app), "{key} opened an editor");
        assert!(!app.is_typing());
        assert_eq!(
            status(&app),
            "ada cannot create or edit APIs: that needs the creator role"
        );
    }
}

#[test]
fn registering_an_endpoint_certificate_needs_the_creator_role() {
    let app = subscriber_on_an_https_api();
    let command = Command::AddEndpointCertificate {
        alias: "backend-ca".into(),
        endpoint: "https://backend.example:8443".into(),
        path: "/tmp/ca.pem".into(),
    };
    let why = app.refusal(&command).unwrap();
    assert!(why.contains("needs the creator role"), "{why}");
}
