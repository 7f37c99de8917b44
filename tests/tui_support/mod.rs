//! Fixtures for the terminal UI's tests: a fixed catalog, fixed addresses and time, and
//! helpers to press keys on an `App` and draw it on an 80x24 `TestBackend`.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use streamgate::catalog::{
    Api, ApiDraft, Application, Deployment, KeyPair, KeyType, LifecycleState, Revision,
    Subscription, SubscriptionStatus, builtin_application_policies, builtin_subscription_policies,
    default_environments,
};
use streamgate::control::Snapshot;
use streamgate::tui::action::{Action, Command, TokenInfo};
use streamgate::tui::app::{App, AppConfig};
use streamgate::tui::{Theme, keymap, ui};

/// 2025-11-28 12:00:00 UTC, in ms.
pub const NOON: i64 = 1_764_331_200_000;

/// A fake, fixed access token (snapshots must not vary).
pub const TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhZG1pbiIsImF6cCI6IkNPTlNVTUVSS0VZIn0.c2lnbmF0dXJlLW9mLXRoZS10ZXN0LXRva2VuLW5vdC1yZWFs";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// [`config`] signed in as `user` with `roles` (and no scopes of its own).
pub fn signed_in_as(user: &str, roles: &[streamgate::catalog::Role]) -> AppConfig {
    AppConfig {
        principal: streamgate::control::Principal {
            user: user.into(),
            roles: roles.to_vec(),
            scopes: std::collections::BTreeSet::new(),
        },
        signed_in: true,
        ..config()
    }
}

/// The defaults of `streamgate`: admin :9443, gateway :8280, backend :8080.
pub fn config() -> AppConfig {
    AppConfig {
        admin: Ok(addr("127.0.0.1:9443")),
        gateway: Ok(addr("127.0.0.1:8280")),
        backend_addr: addr("127.0.0.1:8080"),
        data_dir: PathBuf::from("/home/ada/.local/share/streamgate"),
        log_file: PathBuf::from("/home/ada/.local/share/streamgate/streamgate.log"),
        principal: streamgate::control::Principal::local_operator(),
        signed_in: false,
        tls: None,
    }
}

/// The Servers screen (`3`) of an empty catalog, with the HTTPS gateway on :8243 and a
/// fixed certificate fingerprint.
pub fn servers_with_tls() -> App {
    let mut config = config();
    config.tls = Some(streamgate::tui::state::TlsInfo {
        gateway: Ok(addr("127.0.0.1:8243")),
        fingerprint: "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89".into(),
    });
    let mut app = App::new(config, Theme::default(), Arc::new(empty_catalog()), NOON);
    press(&mut app, KeyCode::Char('3'));
    app
}

/// A catalog with the built-in plans and environment and nothing else.
pub fn empty_catalog() -> Snapshot {
    Snapshot {
        subscription_policies: builtin_subscription_policies(),
        application_policies: builtin_application_policies(),
        environments: default_environments(),
        ..Snapshot::default()
    }
}

/// The tutorial's API in a state, with the given plans.
pub fn observer(state: LifecycleState, plans: &[&str]) -> Api {
    let mut api = Api::from_draft(
        "api-observer".into(),
        ApiDraft {
            policies: plans.iter().map(|p| p.to_string()).collect(),
            ..ApiDraft::tutorial()
        },
        NOON,
    );
    api.lifecycle = state;
    api
}

/// A catalog holding one API.
pub fn catalog_with(api: Api) -> Snapshot {
    let mut c = empty_catalog();
    c.apis.insert(api.id.clone(), api);
    c
}

/// The tutorial's end state: Observer published with AsyncGold, Revision 1 deployed,
/// ObserverApp subscribed with production keys.
pub fn full_catalog() -> Snapshot {
    let api = observer(LifecycleState::Published, &["AsyncGold", "AsyncUnlimited"]);
    let mut c = catalog_with(api.clone());
    c.revisions.insert(
        "rev-1".into(),
        Revision {
            id: "rev-1".into(),
            api_id: api.id.clone(),
            number: 1,
            description: String::new(),
            created_at: NOON + 60_000,
            snapshot: api.clone(),
        },
    );
    c.deployments.insert(
        "api-observer/Production and Sandbox".into(),
        Deployment {
            api_id: api.id.clone(),
            revision_id: "rev-1".into(),
            environment: "Production and Sandbox".into(),
            vhost: "localhost".into(),
            display_on_devportal: true,
            deployed_at: NOON + 61_000,
        },
    );
    c.applications.insert(
        "app-1".into(),
        Application {
            id: "app-1".into(),
            name: "ObserverApp".into(),
            throttling_policy: "Unlimited".into(),
            description: String::new(),
            token_type: "JWT".into(),
            owner: "admin".into(),
            created_at: NOON + 120_000,
        },
    );
    c.subscriptions.insert(
        "sub-1".into(),
        Subscription {
            id: "sub-1".into(),
            application_id: "app-1".into(),
            api_id: api.id.clone(),
            policy: "AsyncGold".into(),
            status: SubscriptionStatus::Unblocked,
            created_at: NOON + 121_000,
        },
    );
    c.key_pairs.insert(
        "CONSUMERKEY".into(),
        KeyPair {
            key_mapping_id: "km-1".into(),
            application_id: "app-1".into(),
            key_type: KeyType::Production,
            consumer_key: "CONSUMERKEY".into(),
            secret_hash: "x".into(),
            grant_types: vec!["client_credentials".into()],
            created_at: NOON + 122_000,
        },
    );
    c
}

/// A token issued at noon for an hour.
pub fn token() -> TokenInfo {
    TokenInfo {
        key_type: KeyType::Production,
        access_token: TOKEN.into(),
        expires_in: 3600,
        issued_at: NOON / 1000,
    }
}

/// A UI over a catalog, with the default theme, at noon.
pub fn app(catalog: Snapshot) -> App {
    App::new(config(), Theme::default(), Arc::new(catalog), NOON)
}

/// Presses a key: keymap then update, like the runtime. Returns the commands.
pub fn press(app: &mut App, code: KeyCode) -> Vec<Command> {
    press_event(app, KeyEvent::new(code, KeyModifiers::NONE))
}

/// Presses a key with modifiers.
pub fn press_event(app: &mut App, key: KeyEvent) -> Vec<Command> {
    match keymap::on_key(app, key) {
        Some(action) => app.update(action),
        None => Vec::new(),
    }
}

/// Presses each key in turn; returns every command.
pub fn keys(app: &mut App, codes: &[KeyCode]) -> Vec<Command> {
    codes.iter().flat_map(|c| press(app, *c)).collect()
}

/// Types text, one key per character.
pub fn type_text(app: &mut App, text: &str) -> Vec<Command> {
    text.chars()
        .flat_map(|c| press(app, KeyCode::Char(c)))
        .collect()
}

/// Replaces the catalog, as the runtime does after each change.
pub fn set_catalog(app: &mut App, catalog: Snapshot) {
    app.update(Action::Catalog(Arc::new(catalog)));
}

/// Draws the app on a `width` x `height` test terminal and returns the terminal.
pub fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| ui::draw(app, f)).unwrap();
    terminal
}

/// The screen as text, one quoted line per row (80x24).
pub fn screen(app: &App) -> String {
    draw(app, 80, 24).backend().to_string()
}

/// An `Opened` traffic event of the tutorial's Observer stream (`ObserverApp`, production
/// key) from `client` at `at`.
pub fn observer_opened(
    stream_id: u64,
    client: &str,
    at: i64,
) -> streamgate::telemetry::TrafficEvent {
    streamgate::telemetry::TrafficEvent::Opened {
        stream_id,
        api: "Observer:1.0.0".into(),
        application: "ObserverApp".into(),
        key_type: "PRODUCTION".into(),
        path: "/observer/1.0.0/memory".into(),
        client: client.into(),
        at,
    }
}

/// The wizard's steps after the application is created: subscribes it to `sub-1` of
/// [`full_catalog`] and answers the key generation with `consumer_secret` and [`token`].
pub fn wizard_subscribe_and_get_keys(app: &mut App, consumer_secret: &str) {
    use streamgate::tui::action::{Done, KeysInfo};
    press(app, KeyCode::Enter);
    app.update(Action::Done(Done::Subscribed(Ok(full_catalog()
        .subscriptions["sub-1"]
        .clone()))));
    press(app, KeyCode::Enter);
    app.update(Action::Done(Done::KeysGenerated {
        app_id: "app-1".into(),
        result: Ok((
            KeysInfo {
                key_type: streamgate::catalog::KeyType::Production,
                consumer_key: "CONSUMERKEY".into(),
                consumer_secret: consumer_secret.into(),
            },
            token(),
        )),
    }));
}
