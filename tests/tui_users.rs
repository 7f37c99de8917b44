//! The TUI signed in as a user (issue 14): roles hide Create and refuse lifecycle and
//! deploy, a subscriber sees only their own applications, and Admin > Users adds and
//! removes users. Pure `App::update` flows and 80x24 snapshots.
#![allow(clippy::unwrap_used)]

mod tui_support;

use std::collections::BTreeSet;
use std::sync::Arc;

use crossterm::event::KeyCode;
use streamgate::catalog::{Application, LifecycleAction, Role, User};
use streamgate::control::{Principal, Snapshot, UserRecord};
use streamgate::tui::Theme;
use streamgate::tui::action::{Action, Command, Done};
use streamgate::tui::app::{App, Overlay};
use streamgate::tui::screens::ScreenId;
use streamgate::tui::screens::publisher::PublisherView;
use tui_support::*;

use KeyCode::{Char, Enter, Esc};

fn principal(user: &str, roles: &[Role]) -> Principal {
    Principal {
        user: user.into(),
        roles: roles.to_vec(),
        scopes: BTreeSet::new(),
    }
}

fn app_as(who: Principal, catalog: Snapshot) -> App {
    let mut config = config();
    config.principal = who;
    App::new(config, Theme::default(), Arc::new(catalog), NOON)
}

fn status_text(app: &App) -> String {
    app.status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default()
}

fn user(id: &str, name: &str, roles: &[Role], locked: bool) -> UserRecord {
    UserRecord {
        user: User {
            id: id.into(),
            name: name.into(),
            roles: roles.to_vec(),
            password_hash: "x".into(),
            created_at: NOON,
            updated_at: NOON,
            locked_until: locked.then_some(NOON + 60_000),
            failed_attempts: 0,
            token_generation: 0,
        },
        clients: Vec::new(),
    }
}

/// The full catalog plus ada's application and three users.
fn shared_catalog() -> Snapshot {
    let mut c = full_catalog();
    c.applications.insert(
        "app-ada".into(),
        Application {
            id: "app-ada".into(),
            name: "AdaApp".into(),
            throttling_policy: "Unlimited".into(),
            description: String::new(),
            token_type: "JWT".into(),
            owner: "ada".into(),
            created_at: NOON,
        },
    );
    c.users.insert(
        "u-admin".into(),
        user("u-admin", "admin", &[Role::Admin], false),
    );
    c.users.insert(
        "u-ada".into(),
        user("u-ada", "ada", &[Role::Subscriber], false),
    );
    c.users.insert(
        "u-bob".into(),
        user("u-bob", "bob", &[Role::Creator, Role::Publisher], true),
    );
    c
}

#[test]
fn a_subscriber_has_no_create_and_sees_only_their_applications() {
    let mut app = app_as(principal("ada", &[Role::Subscriber]), shared_catalog());
    let commands = press(&mut app, Char('n'));
    assert!(commands.is_empty());
    assert!(matches!(app.publisher.view, PublisherView::List));
    assert!(
        status_text(&app).contains("creator role"),
        "{}",
        status_text(&app)
    );
    // Only ada's own application, and no users, are in the UI's catalog.
    let apps: Vec<&str> = app
        .catalog
        .applications
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(apps, ["app-ada"]);
    assert!(app.catalog.subscriptions.is_empty());
    assert!(app.catalog.key_pairs.is_empty());
    assert!(app.catalog.users.is_empty());
    // Still so after a new snapshot arrives.
    set_catalog(&mut app, shared_catalog());
    assert_eq!(app.catalog.applications.len(), 1);
    let screen = screen(&app);
    assert!(screen.contains("ada (subscriber)"), "{screen}");
    assert!(!screen.contains("n create API"), "{screen}");
    assert!(screen.contains("Enter open  ? keys"), "{screen}");
    insta::assert_snapshot!("publisher_as_subscriber", screen);
}

#[test]
fn lifecycle_and_deploy_need_the_publisher_role() {
    let mut app = app_as(principal("carl", &[Role::Creator]), full_catalog());
    // Create is there for a creator.
    press(&mut app, Char('n'));
    assert!(matches!(app.publisher.view, PublisherView::Create(_)));
    press(&mut app, Esc);
    press(&mut app, Esc);
    let refused = app.update(Action::Done(Done::Message(Ok("x".into()))));
    assert!(refused.is_empty());
    let cmd = Command::ChangeLifecycle {
        api_id: "api-observer".into(),
        action: LifecycleAction::Block,
    };
    assert!(app.refusal(&cmd).unwrap().contains("publisher role"));
    // Through the Lifecycle page: the confirmation is refused, no command, a message.
    press(&mut app, Enter);
    keys(&mut app, &[Char('l'), Char('l')]);
    let commands = press(&mut app, Enter);
    assert!(commands.is_empty(), "{commands:?}");
    assert!(app.overlay.is_none(), "{:?}", app.overlay);
    assert!(
        status_text(&app).contains("publisher role"),
        "{}",
        status_text(&app)
    );
    // A publisher gets the confirmation.
    let mut app = app_as(principal("pat", &[Role::Publisher]), full_catalog());
    press(&mut app, Enter);
    keys(&mut app, &[Char('l'), Char('l')]);
    press(&mut app, Enter);
    assert!(matches!(app.overlay, Some(Overlay::Confirm { .. })));
    assert!(app.refusal(&cmd).is_none());
}

#[test]
fn admin_adds_and_removes_users_from_servers() {
    let mut app = app_as(Principal::local_operator(), shared_catalog());
    press(&mut app, Char('3'));
    press(&mut app, Char('u'));
    assert_eq!(app.main_screen().id(), ScreenId::Users);
    insta::assert_snapshot!("admin_users", screen(&app));
    // Add: a short password is refused inline, nothing sent.
    press(&mut app, Char('a'));
    assert!(app.is_typing());
    type_text(&mut app, "carol");
    press(&mut app, Enter);
    type_text(&mut app, "subscriber, creator");
    press(&mut app, Enter);
    type_text(&mut app, "short");
    let commands = press(&mut app, Enter);
    assert!(commands.is_empty());
    assert!(status_text(&app).contains("12"), "{}", status_text(&app));
    // An unknown role is refused on its field.
    press(&mut app, KeyCode::Up);
    type_text(&mut app, ",root");
    press(&mut app, KeyCode::Down);
    type_text(&mut app, "-long-enough-password");
    let commands = press(&mut app, Enter);
    assert!(commands.is_empty());
    assert!(status_text(&app).contains("root"), "{}", status_text(&app));
    let form = app.servers.users.as_ref().unwrap().form.as_ref().unwrap();
    assert_eq!(form.row, 1);
    for _ in 0..5 {
        press(&mut app, KeyCode::Backspace);
    }
    keys(&mut app, &[KeyCode::Down]);
    let commands = press(&mut app, Enter);
    assert_eq!(
        commands,
        [Command::CreateUser {
            name: "carol".into(),
            password: "short-long-enough-password".into(),
            roles: vec![Role::Creator, Role::Subscriber],
        }]
    );
    app.update(Action::Done(Done::Users(Ok("Added user carol".into()))));
    assert!(app.servers.users.as_ref().unwrap().form.is_none());
    // Remove bob (the list is ada, admin, bob): asks first, then the command.
    keys(&mut app, &[KeyCode::Down, KeyCode::Down]);
    press(&mut app, Char('d'));
    let Some(Overlay::Confirm { command, .. }) = &app.overlay else {
        panic!("no confirmation: {:?}", app.overlay)
    };
    assert_eq!(
        **command,
        Command::DeleteUser {
            user_id: "u-bob".into()
        }
    );
    // admin cannot remove itself.
    app.overlay = None;
    press(&mut app, KeyCode::Up);
    assert!(press(&mut app, Char('d')).is_empty());
    assert!(app.overlay.is_none());
    assert!(status_text(&app).contains("cannot remove itself"));
    // Esc goes back to Servers.
    press(&mut app, Esc);
    assert_eq!(app.main_screen().id(), ScreenId::Servers);
}

#[test]
fn users_page_is_admin_only() {
    let mut app = app_as(
        principal("bob", &[Role::Creator, Role::Publisher]),
        shared_catalog(),
    );
    press(&mut app, Char('3'));
    press(&mut app, Char('u'));
    assert_eq!(app.main_screen().id(), ScreenId::Servers);
    assert!(
        status_text(&app).contains("admin role"),
        "{}",
        status_text(&app)
    );
    let cmd = Command::DeleteUser {
        user_id: "u-ada".into(),
    };
    assert!(app.refusal(&cmd).is_some());
}
