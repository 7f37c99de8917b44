//! The Developer Portal's actions need the subscriber role, as their management routes
//! need `apim:subscribe` / `apim:app_manage` / `apim:sub_manage`
//! (`mgmt::auth::ROUTE_SCOPES`): a user without it (carl: creator and publisher) gets no
//! wizard, no application, subscription, keys or token from the UI, where REST and the CLI
//! answer 403. A refused command goes back to the screen that waits for it, so no page
//! stays "Saving...".
#![allow(clippy::unwrap_used)]

mod tui_support;

use std::sync::Arc;

use crossterm::event::KeyCode::{Char, Enter};
use streamgate::catalog::{ApplicationDraft, KeyType, Role};
use streamgate::tui::Theme;
use streamgate::tui::action::Command;
use streamgate::tui::app::App;
use streamgate::tui::screens::portal::PortalView;
use streamgate::tui::screens::publisher::PublisherView;
use tui_support::*;

fn signed_in(user: &str, roles: &[Role]) -> App {
    // The tutorial's application belongs to the signed-in user, so they see it.
    signed_in_owning(user, roles, user)
}

/// `user` signed in with `roles` over the tutorial's catalog, its applications `owner`'s.
fn signed_in_owning(user: &str, roles: &[Role], owner: &str) -> App {
    let config = signed_in_as(user, roles);
    let mut catalog = full_catalog();
    for a in catalog.applications.values_mut() {
        a.owner = owner.into();
    }
    App::new(config, Theme::default(), Arc::new(catalog), NOON)
}

fn carl() -> App {
    signed_in("carl", &[Role::Creator, Role::Publisher])
}

fn status(app: &App) -> String {
    app.status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default()
}

fn subscriber_commands() -> Vec<Command> {
    vec![
        Command::CreateApplication(ApplicationDraft {
            name: "Weather".into(),
            throttling_policy: "Unlimited".into(),
            description: String::new(),
        }),
        Command::DeleteApplication {
            app_id: "app-1".into(),
        },
        Command::Subscribe {
            app_id: "app-1".into(),
            api_id: "api-observer".into(),
            plan: "AsyncGold".into(),
        },
        Command::Unsubscribe {
            subscription_id: "sub-1".into(),
        },
        Command::GenerateKeys {
            app_id: "app-1".into(),
            key_type: KeyType::Production,
        },
        Command::GenerateToken {
            app_id: "app-1".into(),
            key_type: KeyType::Production,
            validity_secs: 3600,
        },
    ]
}

#[test]
fn the_portals_commands_need_the_subscriber_role() {
    let app = carl();
    for command in subscriber_commands() {
        let why = app.refusal(&command);
        let why = why.unwrap_or_else(|| panic!("{command:?} was allowed"));
        assert!(why.starts_with("carl cannot "), "{why}");
        assert!(why.ends_with(": that needs the subscriber role"), "{why}");
    }
    // A subscriber and the admin may.
    for app in [
        signed_in("sam", &[Role::Subscriber]),
        signed_in("admin", &[Role::Admin]),
    ] {
        for command in subscriber_commands() {
            assert_eq!(app.refusal(&command), None, "{command:?}");
        }
    }
}

#[test]
fn carl_gets_no_wizard() {
    let mut app = carl();
    press(&mut app, Char('2'));
    assert!(press(&mut app, Char('w')).is_empty());
    assert!(!matches!(app.portal.view, PortalView::Wizard(_)));
    assert_eq!(
        status(&app),
        "carl cannot create applications or subscribe: that needs the subscriber role"
    );
    // From the API's page too.
    press(&mut app, Enter);
    assert!(matches!(app.portal.view, PortalView::Api(_)));
    assert!(press(&mut app, Char('w')).is_empty());
    assert!(!matches!(app.portal.view, PortalView::Wizard(_)));
}

#[test]
fn carl_gets_no_token() {
    let mut app = carl();
    press(&mut app, Char('2'));
    press(&mut app, Enter);
    assert!(matches!(app.portal.view, PortalView::Api(_)));
    assert!(press(&mut app, Char('g')).is_empty());
    assert_eq!(
        status(&app),
        "carl cannot generate keys or tokens: that needs the subscriber role"
    );
    // A subscriber gets the command.
    let mut app = signed_in("sam", &[Role::Subscriber]);
    press(&mut app, Char('2'));
    press(&mut app, Enter);
    assert!(matches!(
        press(&mut app, Char('g')).as_slice(),
        [Command::GenerateToken { .. }]
    ));
}

/// Business Plans as a subscriber: the save is refused and the page goes back to its
/// unsaved edit, not "Saving..." for ever.
#[test]
fn a_refused_plans_save_leaves_the_edit_unsaved_not_saving() {
    let mut app = signed_in("sam", &[Role::Subscriber]);
    press(&mut app, Char('1'));
    press(&mut app, Enter);
    press(&mut app, Char('l'));
    press(&mut app, Char(' '));
    assert!(press(&mut app, Char('s')).is_empty());
    assert_eq!(
        status(&app),
        "sam cannot create or edit APIs: that needs the creator role"
    );
    let PublisherView::Api(view) = &app.publisher.view else {
        panic!("the API closed");
    };
    assert!(!view.plans.busy);
    assert!(view.plans.edited.is_some());
    let text = screen(&app);
    assert!(!text.contains("Saving..."), "{text}");
    assert!(text.contains("Unsaved changes"), "{text}");
}

/// Without a subscribed application, a subscriber is pointed to the wizard (`w`); a user
/// without the subscriber role, whom the wizard refuses, is told what it needs instead.
#[test]
fn a_non_subscriber_is_not_pointed_to_the_wizard() {
    let page = |user: &str, roles: &[Role]| {
        // Every application is someone else's.
        let mut app = signed_in_owning(user, roles, "someone-else");
        press(&mut app, Char('2'));
        press(&mut app, Enter);
        assert!(matches!(app.portal.view, PortalView::Api(_)));
        assert!(press(&mut app, Char('y')).is_empty());
        status(&app)
    };
    assert_eq!(
        page("carl", &[Role::Creator, Role::Publisher]),
        "No subscribed application: subscribing needs the subscriber role"
    );
    assert_eq!(
        page("sam", &[Role::Subscriber]),
        "No subscribed application: press w for the wizard"
    );
}

/// Every Developer Portal page at 80x24, as `user` with `roles` (no subscribed
/// application): the API's Overview, Subscriptions and Try it, the APIs list, the
/// Applications list and the help of the API's pages.
fn portal_pages(user: &str, roles: &[Role]) -> Vec<(&'static str, String)> {
    let mut app = signed_in_owning(user, roles, "someone-else");
    let mut pages = Vec::new();
    press(&mut app, Char('2'));
    pages.push(("APIs", screen(&app)));
    press(&mut app, Enter);
    assert!(matches!(app.portal.view, PortalView::Api(_)));
    pages.push(("Overview", screen(&app)));
    press(&mut app, Char('?'));
    pages.push(("help", screen(&app)));
    press(&mut app, crossterm::event::KeyCode::Esc);
    press(&mut app, Char('l'));
    pages.push(("Subscriptions", screen(&app)));
    press(&mut app, Char('l'));
    pages.push(("Try it", screen(&app)));
    press(&mut app, crossterm::event::KeyCode::Esc);
    press(&mut app, Char('l'));
    assert!(matches!(app.portal.view, PortalView::Applications));
    pages.push(("Applications", screen(&app)));
    pages
}

/// What points to the wizard, to keys or tokens, which need the subscriber role.
const SUBSCRIBER_HINTS: [&str; 9] = [
    "press w",
    "Press w",
    "w wizard",
    "w SUBSCRIPTION",
    "Key Generation Wizard",
    "u unsubscribe",
    "g new token",
    "c copy token",
    "the wizard (APIs > w)",
];

/// A user without the subscriber role (carl: creator and publisher) is shown neither `w`
/// nor the other subscriber-only keys on the Developer Portal's pages, key bars and help;
/// the API's pages say, within 80 columns, that subscribing needs the subscriber role. A
/// subscriber and the admin still see them.
#[test]
fn a_non_subscriber_is_shown_no_subscriber_keys() {
    for (page, text) in portal_pages("carl", &[Role::Creator, Role::Publisher]) {
        for hint in SUBSCRIBER_HINTS {
            assert!(!text.contains(hint), "{page} shows {hint:?}:\n{text}");
        }
        if matches!(page, "Overview" | "Subscriptions" | "Try it") {
            assert!(
                text.contains("subscribing needs the subscriber role")
                    || text.contains("Subscribing needs the subscriber role"),
                "{page}:\n{text}"
            );
        }
        if page == "Applications" {
            assert!(text.contains("the subscriber role"), "{page}:\n{text}");
        }
    }
    for (user, roles) in [("sam", Role::Subscriber), ("admin", Role::Admin)] {
        let pages = portal_pages(user, &[roles]);
        let text = |name: &str| {
            pages
                .iter()
                .find(|(p, _)| *p == name)
                .map(|(_, t)| t.clone())
                .unwrap()
        };
        assert!(text("APIs").contains("w wizard"), "{}", text("APIs"));
        let overview = text("Overview");
        assert!(overview.contains("w wizard"), "{overview}");
        assert!(
            text("help").contains("Key Generation Wizard"),
            "{}",
            text("help")
        );
        let subscriptions = text("Subscriptions");
        assert!(subscriptions.contains("u unsubscribe"), "{subscriptions}");
        // The admin sees every application, so the API has subscribers for them.
        if user == "sam" {
            assert!(overview.contains("none yet: press w"), "{overview}");
            assert!(
                subscriptions.contains("Press w (or Enter)"),
                "{subscriptions}"
            );
        }
        assert!(text("Try it").contains("g new token"), "{}", text("Try it"));
        assert!(!text("Overview").contains("subscriber role"), "{overview}");
    }
}

/// The tutorial's step `n` (1-based) selected: to the first step, then down.
fn select_step(app: &mut App, n: usize) {
    press(app, Char('4'));
    for _ in 0..8 {
        press(app, Char('k'));
    }
    for _ in 1..n {
        press(app, Char('j'));
    }
}

/// The tutorial's right column (the selected step's text, right of the quote, the border
/// and the 37-column checklist of each quoted row), its words joined by single spaces
/// (the text wraps).
fn words(app: &App) -> String {
    screen(app)
        .lines()
        .map(|line| {
            line.chars()
                .skip(39)
                .collect::<String>()
                .replace(['|', '"'], " ")
        })
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The guided tutorial says which steps need a role the signed-in user lacks, and Enter on
/// such a step says why instead of opening a screen whose actions would be refused (carl
/// is not walked to the subscription wizard).
#[test]
fn the_tutorial_names_the_role_a_step_needs_and_does_not_walk_carl_to_the_wizard() {
    let mut app = carl();
    select_step(&mut app, 6);
    assert!(
        words(&app).contains("carl cannot do this step: it needs the subscriber role"),
        "{}",
        screen(&app)
    );
    assert!(press(&mut app, Enter).is_empty());
    assert_eq!(
        status(&app),
        "carl cannot do step 6 (Subscribe and get a token): it needs the subscriber role"
    );
    assert!(!matches!(app.portal.view, PortalView::Wizard(_)));
    assert!(
        words(&app).contains("Step 6:"),
        "left the tutorial: {}",
        screen(&app)
    );
    // Steps carl's roles cover read as the tutorial gives them.
    let mut app = carl();
    select_step(&mut app, 2);
    assert!(
        !words(&app).contains("cannot do this step"),
        "{}",
        screen(&app)
    );
    // A subscriber is told about the creator's steps; the admin about none.
    let mut app = signed_in("sam", &[Role::Subscriber]);
    select_step(&mut app, 1);
    assert!(
        words(&app).contains("sam cannot do this step: it needs the creator role"),
        "{}",
        screen(&app)
    );
    let mut app = signed_in("admin", &[Role::Admin]);
    select_step(&mut app, 1);
    for _ in 0..8 {
        assert!(
            !words(&app).contains("cannot do this step"),
            "{}",
            screen(&app)
        );
        press(&mut app, Char('j'));
    }
}
