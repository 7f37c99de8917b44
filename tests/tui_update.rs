//! `App::update` and the keymap, flow by flow: pure state changes and the commands they
//! ask for, with no runtime, no terminal and no servers.
#![allow(clippy::unwrap_used)]

mod tui_support;

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use streamgate::catalog::{ApiDraft, ApplicationDraft, KeyType, LifecycleAction, LifecycleState};
use streamgate::telemetry::TrafficEvent;
use streamgate::tui::action::{
    Action, Command, Done, KeysInfo, ServerStats, StreamItem, StreamUpdate, Tab,
};
use streamgate::tui::app::{Focus, Level, Overlay};
use streamgate::tui::screens::create_api::Stage;
use streamgate::tui::screens::live::LineKind;
use streamgate::tui::screens::portal::PortalView;
use streamgate::tui::screens::publisher::{ApiPage, PublisherView};
use streamgate::tui::screens::servers::BackendState;
use streamgate::tui::screens::tutorial;
use streamgate::tui::screens::wizard::WizardStep;
use streamgate::tui::{Theme, screens};
use tui_support::*;

use KeyCode::{Down, Enter, Esc, Right, Tab as TabKey};
use streamgate::catalog::DeployTarget;

fn status_text(app: &streamgate::tui::App) -> String {
    app.status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default()
}

#[test]
fn create_api_goes_through_streaming_then_sse_then_the_form() {
    let mut app = app(empty_catalog());
    press(&mut app, KeyCode::Char('n'));
    let PublisherView::Create(form) = &app.publisher.view else {
        panic!("not creating")
    };
    assert_eq!(form.stage, Stage::Kind);
    // REST is refused with a reason, not entered.
    press(&mut app, KeyCode::Up);
    press(&mut app, Enter);
    assert!(
        status_text(&app).contains("REST API"),
        "{}",
        status_text(&app)
    );
    keys(&mut app, &[Down, Enter, Enter]);
    let PublisherView::Create(form) = &app.publisher.view else {
        panic!("not creating")
    };
    assert_eq!(form.stage, Stage::Form);
    assert!(app.is_typing());
}

#[test]
fn the_form_validates_inline_and_submits_the_tutorial_api() {
    let mut app = app(empty_catalog());
    keys(&mut app, &[KeyCode::Char('n'), Enter, Enter]);
    type_text(&mut app, "Observer");
    press(&mut app, Enter);
    // `q` is typed into the field, not taken as quit.
    type_text(&mut app, "observerq");
    assert!(!app.should_quit);
    press(&mut app, KeyCode::Backspace);
    let PublisherView::Create(form) = &app.publisher.view else {
        panic!()
    };
    let messages = form.messages(&[], &[]);
    assert!(
        messages[1]
            .as_deref()
            .unwrap()
            .contains("must start with '/'"),
        "{messages:?}"
    );
    assert!(screen(&app).contains("! the context must start with '/', e.g. '/observer'"));
    // Submitting with a bad field asks nothing of control and jumps to the field.
    keys(&mut app, &[Down, Down, Down, Enter]);
    assert!(status_text(&app).contains("Fix the marked field"));
    let PublisherView::Create(form) = &app.publisher.view else {
        panic!()
    };
    assert_eq!(form.row, 1);
    press(&mut app, KeyCode::Home);
    type_text(&mut app, "/");
    press(&mut app, Enter);
    type_text(&mut app, "1.0.0");
    press(&mut app, Enter);
    type_text(&mut app, "http://localhost:8080");
    press(&mut app, Enter);
    let commands = press(&mut app, Enter);
    assert_eq!(commands, vec![Command::CreateApi(ApiDraft::tutorial())]);
    // A second Enter while waiting sends nothing more.
    assert!(press(&mut app, Enter).is_empty());
    // Control's answer opens the new API's Overview, as WSO2 does.
    let api = observer(LifecycleState::Created, &[]);
    set_catalog(&mut app, catalog_with(api.clone()));
    app.update(Action::Done(Done::ApiCreated(Ok(api))));
    let PublisherView::Api(view) = &app.publisher.view else {
        panic!("not on the API")
    };
    assert_eq!(view.page, ApiPage::Overview);
}

#[test]
fn a_name_or_context_already_taken_is_flagged_before_submitting() {
    let mut app = app(catalog_with(observer(LifecycleState::Created, &[])));
    keys(&mut app, &[KeyCode::Char('n'), Enter, Enter]);
    for (text, key) in [
        ("Other", Enter),
        ("/observer", Enter),
        ("1.0.0", Enter),
        ("http://h", Enter),
    ] {
        type_text(&mut app, text);
        press(&mut app, key);
    }
    assert!(press(&mut app, Enter).is_empty());
    assert!(screen(&app).contains("context '/observer' with version '1.0.0' is already used"));
}

#[test]
fn control_refusing_the_api_keeps_the_form_with_the_reason() {
    let mut app = app(empty_catalog());
    keys(&mut app, &[KeyCode::Char('n'), Enter, Enter]);
    app.update(Action::Done(Done::ApiCreated(Err("store is full".into()))));
    let PublisherView::Create(form) = &app.publisher.view else {
        panic!()
    };
    assert_eq!(form.error.as_deref(), Some("store is full"));
    assert_eq!(app.status.as_ref().unwrap().level, Level::Error);
    press(&mut app, Esc);
    assert!(matches!(app.publisher.view, PublisherView::List));
}

fn open_page(app: &mut streamgate::tui::App, page: usize) {
    press(app, Enter);
    for _ in 0..page {
        press(app, KeyCode::Char('l'));
    }
}

#[test]
fn business_plans_tick_and_save_in_catalog_order() {
    let mut app = app(catalog_with(observer(LifecycleState::Created, &[])));
    open_page(&mut app, 1);
    let PublisherView::Api(view) = &app.publisher.view else {
        panic!()
    };
    assert_eq!(view.page, ApiPage::Plans);
    // Bronze, Silver, Gold, Unlimited: tick Gold.
    keys(
        &mut app,
        &[KeyCode::Char('j'), KeyCode::Char('j'), KeyCode::Char(' ')],
    );
    assert!(screen(&app).contains("[x] AsyncGold"));
    assert!(screen(&app).contains("Unsaved changes"));
    let commands = press(&mut app, KeyCode::Char('s'));
    assert_eq!(
        commands,
        vec![Command::SetPlans {
            api_id: "api-observer".into(),
            plans: vec!["AsyncGold".into(), "AsyncUnlimited".into()],
        }]
    );
    let saved = observer(LifecycleState::Created, &["AsyncGold", "AsyncUnlimited"]);
    set_catalog(&mut app, catalog_with(saved.clone()));
    app.update(Action::Done(Done::PlansSaved(Ok(saved))));
    assert!(!screen(&app).contains("Unsaved changes"));
    // Unticking everything is refused before control is asked.
    keys(
        &mut app,
        &[KeyCode::Char(' '), KeyCode::Char('j'), KeyCode::Char(' ')],
    );
    assert!(press(&mut app, KeyCode::Char('s')).is_empty());
    assert!(status_text(&app).contains("at least one"));
}

#[test]
fn lifecycle_offers_only_allowed_actions_and_confirms_first() {
    let mut app = app(catalog_with(observer(LifecycleState::Published, &[])));
    open_page(&mut app, 2);
    let text = screen(&app);
    for allowed in LifecycleState::Published.allowed_actions() {
        assert!(
            text.contains(allowed.as_str()),
            "{allowed} missing:\n{text}"
        );
    }
    assert!(!text.contains("Re-Publish"));
    // Enter asks; nothing runs until yes.
    assert!(press(&mut app, Enter).is_empty());
    assert!(matches!(app.overlay, Some(Overlay::Confirm { .. })));
    assert!(press(&mut app, KeyCode::Char('n')).is_empty());
    assert!(app.overlay.is_none());
    press(&mut app, Enter);
    assert_eq!(
        press(&mut app, KeyCode::Char('y')),
        vec![Command::ChangeLifecycle {
            api_id: "api-observer".into(),
            action: LifecycleAction::Block,
        }]
    );
}

#[test]
fn deploy_new_revision_needs_an_environment_ticked() {
    let mut app = app(catalog_with(observer(LifecycleState::Published, &[])));
    open_page(&mut app, 3);
    press(&mut app, KeyCode::Char('n'));
    assert!(screen(&app).contains("Deploy New Revision"));
    assert!(screen(&app).contains("[ ] Production and Sandbox"));
    // Deploy with nothing ticked: an inline reason, no command.
    keys(&mut app, &[Down]);
    assert!(press(&mut app, Enter).is_empty());
    assert!(screen(&app).contains("Tick a gateway environment first"));
    press(&mut app, KeyCode::Char(' '));
    press(&mut app, Down);
    assert_eq!(
        press(&mut app, Enter),
        vec![Command::DeployNewRevision {
            api_id: "api-observer".into(),
            targets: vec![DeployTarget::new("Production and Sandbox", "localhost")],
        }]
    );
    set_catalog(&mut app, full_catalog());
    app.update(Action::Done(Done::Deployed(Ok(
        "Deployed Revision 1".into()
    ))));
    let PublisherView::Api(view) = &app.publisher.view else {
        panic!()
    };
    assert!(view.deployments.dialog.is_none());
    assert!(screen(&app).contains("deployed: Production and Sandbox (localhost)"));
}

/// The README's keys: Space on the environment, then Enter, deploys (Enter on the ticked
/// row used to untick it); Enter alone on the row ticks it and deploys.
#[test]
fn enter_on_an_environment_row_deploys_what_is_ticked() {
    let want = vec![Command::DeployNewRevision {
        api_id: "api-observer".into(),
        targets: vec![DeployTarget::new("Production and Sandbox", "localhost")],
    }];
    for ticked_first in [true, false] {
        let mut app = app(catalog_with(observer(LifecycleState::Published, &[])));
        open_page(&mut app, 3);
        press(&mut app, KeyCode::Char('n'));
        if ticked_first {
            press(&mut app, KeyCode::Char(' '));
        }
        assert_eq!(press(&mut app, Enter), want, "ticked first: {ticked_first}");
    }
}

#[test]
fn revisions_undeploy_restore_and_delete_each_ask_first() {
    let mut app = app(full_catalog());
    open_page(&mut app, 3);
    for (key, expected) in [
        (
            'u',
            Command::UndeployRevision {
                api_id: "api-observer".into(),
                revision_id: "rev-1".into(),
            },
        ),
        (
            'r',
            Command::RestoreRevision {
                api_id: "api-observer".into(),
                revision_id: "rev-1".into(),
            },
        ),
        (
            'x',
            Command::DeleteRevision {
                api_id: "api-observer".into(),
                revision_id: "rev-1".into(),
            },
        ),
    ] {
        assert!(press(&mut app, KeyCode::Char(key)).is_empty());
        assert_eq!(press(&mut app, Enter), vec![expected]);
    }
}

/// Control answered the wizard's GenerateKeys for `app_id`: production keys CK/SECRET.
fn keys_generated(app: &mut streamgate::tui::App, app_id: &str) {
    app.update(Action::Done(Done::KeysGenerated {
        app_id: app_id.into(),
        result: Ok((
            KeysInfo {
                key_type: KeyType::Production,
                consumer_key: "CK".into(),
                consumer_secret: "SECRET".into(),
            },
            token(),
        )),
    }));
}

#[test]
fn the_wizard_creates_subscribes_generates_keys_and_a_token_then_copies() {
    let mut app = app(full_catalog());
    // The portal lists the published API; w opens the wizard for it.
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('w'));
    assert!(matches!(app.portal.view, PortalView::Wizard(_)));
    type_text(&mut app, "Weather");
    keys(&mut app, &[Enter, Right, Enter, Enter]);
    let commands = press(&mut app, Enter);
    assert_eq!(
        commands,
        vec![Command::CreateApplication(ApplicationDraft {
            name: "Weather".into(),
            // Unlimited, then Right: the policy after it wraps to the first.
            throttling_policy: "10PerMin".into(),
            description: String::new(),
        })]
    );
    let mut created = full_catalog().applications["app-1"].clone();
    created.id = "app-2".into();
    created.name = "Weather".into();
    app.update(Action::Done(Done::AppCreated(Ok(created))));
    let step = |app: &streamgate::tui::App| match &app.portal.view {
        PortalView::Wizard(w) => w.step,
        _ => panic!("wizard closed"),
    };
    assert_eq!(step(&app), WizardStep::Subscribe);
    let commands = press(&mut app, Enter);
    assert_eq!(
        commands,
        vec![Command::Subscribe {
            app_id: "app-2".into(),
            api_id: "api-observer".into(),
            plan: "AsyncGold".into(),
        }]
    );
    let sub = full_catalog().subscriptions["sub-1"].clone();
    app.update(Action::Done(Done::Subscribed(Ok(sub))));
    assert_eq!(step(&app), WizardStep::Keys);
    assert_eq!(
        press(&mut app, Enter),
        vec![Command::GenerateKeys {
            app_id: "app-2".into(),
            key_type: KeyType::Production,
        }]
    );
    keys_generated(&mut app, "app-2");
    assert_eq!(step(&app), WizardStep::Token);
    assert!(screen(&app).contains("SECRET"));
    assert_eq!(
        press(&mut app, Enter),
        vec![Command::GenerateToken {
            app_id: "app-2".into(),
            key_type: KeyType::Production,
            validity_secs: 3600,
        }]
    );
    app.update(Action::Done(Done::TokenGenerated {
        app_id: "app-2".into(),
        result: Ok(token()),
    }));
    assert_eq!(step(&app), WizardStep::Copy);
    assert!(!app.session.token_copied);
    assert_eq!(
        press(&mut app, KeyCode::Char('c')),
        vec![Command::Copy(TOKEN.into())]
    );
    assert!(app.session.token_copied);
    assert_eq!(
        press(&mut app, KeyCode::Char('y')),
        vec![Command::Copy(format!(
            "curl -N http://localhost:8280/observer/1.0.0/memory -H \"Authorization: Bearer {TOKEN}\""
        ))]
    );
    // Finish lands on Try it, where Enter opens a stream with the new token.
    press(&mut app, Enter);
    assert!(matches!(app.portal.view, PortalView::Api(_)));
}

/// The wizard goes on with an application that already exists (a newcomer who left the
/// wizard, or unsubscribed, could not subscribe the application again): to Subscribe, or
/// to Keys when it is subscribed already, saying its keys will be replaced.
#[test]
fn the_wizard_goes_on_with_an_existing_application() {
    let step = |app: &streamgate::tui::App| match &app.portal.view {
        PortalView::Wizard(w) => w.step,
        _ => panic!("wizard closed"),
    };
    // Subscribed already (full_catalog: ObserverApp, AsyncGold, production keys).
    let mut ui = app(full_catalog());
    let app = &mut ui;
    press(app, KeyCode::Char('2'));
    press(app, KeyCode::Char('w'));
    type_text(app, "observerapp");
    keys(app, &[Enter, Enter, Enter]);
    assert!(press(app, Enter).is_empty(), "no application created");
    assert_eq!(step(app), WizardStep::Keys);
    assert!(status_text(app).contains("already subscribed (plan AsyncGold)"));
    assert!(screen(app).contains("It has production keys already"));
    assert_eq!(
        press(app, Enter),
        vec![Command::GenerateKeys {
            app_id: "app-1".into(),
            key_type: KeyType::Production,
        }]
    );
    // Not subscribed: on to Subscribe with that application.
    let mut catalog = full_catalog();
    catalog.subscriptions.clear();
    let mut app = tui_support::app(catalog);
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('w'));
    type_text(&mut app, "ObserverApp");
    keys(&mut app, &[Enter, Enter, Enter]);
    assert!(press(&mut app, Enter).is_empty());
    assert_eq!(step(&app), WizardStep::Subscribe);
    assert_eq!(
        press(&mut app, Enter),
        vec![Command::Subscribe {
            app_id: "app-1".into(),
            api_id: "api-observer".into(),
            plan: "AsyncGold".into(),
        }]
    );
}

/// The wizard's first step says why it does not go on without a name (spaces are none),
/// and a token validity too large to be a number of seconds is called too large.
#[test]
fn the_wizard_names_what_is_wrong_with_its_fields() {
    let mut app = app(full_catalog());
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('w'));
    type_text(&mut app, "   ");
    keys(&mut app, &[Enter, Enter, Enter]);
    assert!(press(&mut app, Enter).is_empty());
    assert!(
        screen(&app).contains("Give the application a name"),
        "{}",
        screen(&app)
    );
    // On to the token step with an existing, subscribed application.
    type_text(&mut app, "ObserverApp");
    keys(&mut app, &[Enter, Enter, Enter, Enter]);
    press(&mut app, Enter);
    keys_generated(&mut app, "app-1");
    press_event(
        &mut app,
        KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL),
    );
    type_text(&mut app, "99999999999999999999");
    assert!(press(&mut app, Enter).is_empty());
    assert!(screen(&app).contains("too large"), "{}", screen(&app));
}

#[test]
fn the_wizard_refuses_an_api_that_cannot_be_subscribed() {
    let mut app = app(catalog_with(observer(LifecycleState::Created, &[])));
    press(&mut app, KeyCode::Char('2'));
    // Created APIs are not in the portal at all.
    assert!(press(&mut app, KeyCode::Char('w')).is_empty());
    assert!(matches!(app.portal.view, PortalView::Apis));
    assert!(screen(&app).contains("No published APIs yet"));
}

/// Try it asks for the API's first topic that names one resource (the sample backend's
/// `/memory` only when every topic is a wildcard), and the copied curl command too.
#[test]
fn try_it_asks_for_the_apis_own_topic() {
    let mut catalog = full_catalog();
    if let Some(api) = catalog.apis.get_mut("api-observer") {
        api.topics = vec!["/*".into(), "/prices".into()];
    }
    let mut app = app(catalog);
    app.session.tokens.insert("app-1".into(), vec![token()]);
    press(&mut app, KeyCode::Char('2'));
    let commands = press(&mut app, KeyCode::Char('t'));
    assert!(
        matches!(&commands[..], [Command::OpenStream { url, .. }] if url == "http://127.0.0.1:8280/observer/1.0.0/prices"),
        "{commands:?}"
    );
}

#[test]
fn try_it_opens_a_stream_with_the_sessions_token_and_shows_its_events() {
    let mut app = app(full_catalog());
    app.session.tokens.insert("app-1".into(), vec![token()]);
    press(&mut app, KeyCode::Char('2'));
    let commands = press(&mut app, KeyCode::Char('t'));
    assert_eq!(
        commands,
        vec![Command::OpenStream {
            stream_id: 1,
            url: "http://127.0.0.1:8280/observer/1.0.0/memory".into(),
            token: Some(TOKEN.into()),
        }]
    );
    app.update(Action::Stream(StreamUpdate::Opened { stream_id: 1 }));
    app.update(Action::Stream(StreamUpdate::Items {
        stream_id: 1,
        at: NOON,
        items: vec![
            StreamItem::Event {
                id: Some("7".into()),
                data: "{\"used\":1}".into(),
            },
            StreamItem::Comment("heartbeat".into()),
        ],
    }));
    assert_eq!(app.session.events_by_api["Observer:1.0.0"], 1);
    let last: Vec<_> = app.live.lines().iter().rev().take(2).collect();
    assert_eq!(last[1].text, "id:7 data:{\"used\":1}");
    assert_eq!(last[0].kind, LineKind::Comment);
    // s stops it; a late end from the task adds nothing.
    assert_eq!(
        press(&mut app, KeyCode::Char('s')),
        vec![Command::CloseStream { stream_id: 1 }]
    );
    let count = app.live.len();
    app.update(Action::Stream(StreamUpdate::Ended {
        stream_id: 1,
        reason: "aborted".into(),
    }));
    assert_eq!(app.live.len(), count);
}

#[test]
fn try_it_without_a_token_says_how_to_get_one() {
    let mut app = app(full_catalog());
    press(&mut app, KeyCode::Char('2'));
    assert!(press(&mut app, KeyCode::Char('t')).is_empty());
    assert!(
        status_text(&app).contains("press g"),
        "{}",
        status_text(&app)
    );
    assert_eq!(
        press(&mut app, KeyCode::Char('g')),
        vec![Command::GenerateToken {
            app_id: "app-1".into(),
            key_type: KeyType::Production,
            validity_secs: 3600,
        }]
    );
}

#[test]
fn gateway_traffic_becomes_live_lines_with_codes_and_reasons() {
    let mut app = app(full_catalog());
    app.update(Action::Traffic(observer_opened(9, "127.0.0.1:5000", NOON)));
    app.update(Action::Traffic(TrafficEvent::Rejected {
        path: "/observer/1.0.0/memory".into(),
        status: 401,
        code: 900902,
        message: "Missing Credentials".into(),
        client: "127.0.0.1:5001".into(),
        at: NOON,
    }));
    app.update(Action::Traffic(TrafficEvent::Closed {
        stream_id: 9,
        events: 5,
        reason: "backend ended the stream".into(),
        at: NOON,
    }));
    let texts: Vec<&str> = app.live.lines().iter().map(|l| l.text.as_str()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("opened #9 /observer/1.0.0/memory"))
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("rejected 401 900902 Missing Credentials"))
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("closed #9 (Observer:1.0.0) after 5 events: backend ended"))
    );
    // An outside client's events count for the tutorial's last step.
    assert_eq!(app.session.events_by_api["Observer:1.0.0"], 5);
}

#[test]
fn the_live_pane_follows_pauses_filters_and_keeps_ten_thousand_lines() {
    let mut app = app(empty_catalog());
    for i in 0..12_000 {
        app.update(Action::Stream(StreamUpdate::Items {
            stream_id: 1,
            at: NOON,
            items: vec![StreamItem::Event {
                id: None,
                data: format!("n={i}"),
            }],
        }));
    }
    assert_eq!(app.live.len(), 10_000);
    press(&mut app, TabKey);
    assert_eq!(app.focus, Focus::Live);
    press(&mut app, KeyCode::Char('k'));
    assert!(!app.live.follow);
    press(&mut app, KeyCode::Char('G'));
    assert!(app.live.follow);
    press(&mut app, KeyCode::Char('/'));
    assert!(app.is_typing());
    type_text(&mut app, "n=11999");
    press(&mut app, Enter);
    assert_eq!(app.live.matching(), 1);
    assert!(screen(&app).contains("data:n=11999"));
    // Esc clears the filter, a second Esc leaves the pane.
    keys(&mut app, &[Esc, Esc]);
    assert_eq!(app.live.matching(), 10_000);
    assert_eq!(app.focus, Focus::Main);
}

#[test]
fn the_backend_starts_with_the_fields_and_reports_a_taken_port() {
    let mut app = app(empty_catalog());
    press(&mut app, KeyCode::Char('3'));
    // Edit Interval: select it, Enter, retype, Enter.
    keys(&mut app, &[KeyCode::Char('k'), KeyCode::Char('k'), Enter]);
    assert!(app.is_typing());
    keys(&mut app, &[KeyCode::Backspace; 4]);
    type_text(&mut app, "250");
    press(&mut app, Enter);
    assert_eq!(
        press(&mut app, KeyCode::Char('s')),
        vec![Command::StartBackend {
            addr: addr("127.0.0.1:8080"),
            interval: Duration::from_millis(250),
            time: Some(Duration::from_millis(5000)),
        }]
    );
    // Pressing again while starting does nothing.
    assert!(press(&mut app, KeyCode::Char('s')).is_empty());
    app.update(Action::Done(Done::BackendStarted(Err(
        "127.0.0.1:8080 is already in use".into(),
    ))));
    assert!(matches!(app.servers.backend, BackendState::Failed(_)));
    assert!(screen(&app).contains("failed: 127.0.0.1:8080 is already in use"));
    assert!(status_text(&app).contains("8080"));
    // Esc while editing puts the old value back.
    keys(
        &mut app,
        &[KeyCode::Char('k'), Enter, KeyCode::Char('9'), Esc],
    );
    assert_eq!(app.servers.port.value(), "8080");
}

/// Ctrl or Alt with a letter is not the letter: outside a text field Ctrl-X does not
/// delete and Ctrl-U does not unsubscribe or undeploy, and in a confirmation Ctrl-Y does
/// not say yes (a newcomer lost a subscription to Ctrl-U, then Enter on the question).
#[test]
fn letters_with_ctrl_or_alt_do_not_run_the_letters_actions() {
    let mut app = app(catalog_with(observer(LifecycleState::Created, &[])));
    for modifiers in [KeyModifiers::CONTROL, KeyModifiers::ALT] {
        for c in ['x', 'd', 'u', 'j', 'n'] {
            let commands = press_event(&mut app, KeyEvent::new(KeyCode::Char(c), modifiers));
            assert!(commands.is_empty(), "{modifiers:?}-{c}: {commands:?}");
            assert!(
                app.overlay.is_none(),
                "{modifiers:?}-{c} opened {:?}",
                app.overlay
            );
        }
    }
    press(&mut app, KeyCode::Char('x'));
    assert!(matches!(app.overlay, Some(Overlay::Confirm { .. })));
    let yes = press_event(
        &mut app,
        KeyEvent::new(KeyCode::Char('y'), KeyModifiers::CONTROL),
    );
    assert!(yes.is_empty(), "{yes:?}");
    assert!(matches!(app.overlay, Some(Overlay::Confirm { .. })));
    press(&mut app, KeyCode::Char('n'));
    assert!(app.overlay.is_none());
    // Ctrl-B and Ctrl-F still page.
    assert!(matches!(
        streamgate::tui::keymap::on_key(
            &app,
            KeyEvent::new(KeyCode::Char('f'), KeyModifiers::CONTROL)
        ),
        Some(Action::PageDown)
    ));
}

/// Long versions are shown whole in the Publisher's list (two of them differing only at the
/// end used to look the same), and a name too long for its column ends in "...".
#[test]
fn the_publisher_list_shows_long_versions_and_marks_cut_names() {
    let mut catalog = empty_catalog();
    for (id, version) in [
        ("a", "2024.01.01-beta.12345"),
        ("b", "2024.01.01-beta.12346"),
    ] {
        let mut api = observer(LifecycleState::Created, &[]);
        api.id = id.into();
        api.version = version.into();
        api.name = "An API with a name far too long for any column".into();
        catalog.apis.insert(api.id.clone(), api);
    }
    let app = app(catalog);
    let text = screen(&app);
    assert!(text.contains("2024.01.01-beta.12345"), "{text}");
    assert!(text.contains("2024.01.01-beta.12346"), "{text}");
    assert!(text.contains("An API with a..."), "{text}");
}

/// An error on the status line goes when another tab is opened (it named a failed action
/// of the screen left behind); a warning stays.
#[test]
fn switching_tabs_drops_the_last_screens_error() {
    let mut app = app(full_catalog());
    app.set_status(Level::Error, "an application named 'X' already exists");
    press(&mut app, KeyCode::Char('1'));
    assert!(app.status.is_some(), "same tab: kept");
    press(&mut app, KeyCode::Char('2'));
    assert!(app.status.is_none());
    app.set_status(Level::Warning, "gateway port taken");
    press(&mut app, KeyCode::Char('3'));
    assert!(status_text(&app).contains("gateway port taken"));
}

#[test]
fn quitting_asks_only_while_streams_are_open() {
    let mut app = app(empty_catalog());
    app.update(Action::Tick(ServerStats {
        open_streams: 2,
        ..ServerStats::default()
    }));
    press(&mut app, KeyCode::Char('q'));
    assert!(!app.should_quit);
    assert!(matches!(
        app.overlay,
        Some(Overlay::Quit { open_streams: 2 })
    ));
    assert!(screen(&app).contains("2 stream(s) are open"));
    press(&mut app, Esc);
    assert!(app.overlay.is_none() && !app.should_quit);
    press(&mut app, KeyCode::Char('q'));
    press(&mut app, KeyCode::Char('y'));
    assert!(app.should_quit);

    let mut idle = tui_support::app(empty_catalog());
    press_event(
        &mut idle,
        KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
    );
    assert!(idle.should_quit);
}

#[test]
fn global_keys_switch_tabs_focus_help_and_theme() {
    let mut app = app(empty_catalog());
    press(&mut app, KeyCode::Char('4'));
    assert_eq!(app.tab, Tab::Tutorial);
    press(&mut app, KeyCode::Char('?'));
    assert!(matches!(app.overlay, Some(Overlay::Help)));
    assert!(screen(&app).contains("take me there"));
    press(&mut app, KeyCode::Char('x'));
    assert!(app.overlay.is_none());
    press(&mut app, KeyCode::Char('T'));
    assert_eq!(app.theme.name, "light");
    press(&mut app, KeyCode::Char('T'));
    press(&mut app, KeyCode::Char('T'));
    assert_eq!(app.theme.name, "dark");
    press(&mut app, TabKey);
    assert_eq!(app.focus, Focus::Live);
    assert_eq!(app.current_screen(), screens::ScreenId::Live);
    // A tab key works from the live pane too, and gives the screen the keyboard.
    press(&mut app, KeyCode::Char('1'));
    assert_eq!((app.tab, app.focus), (Tab::Publisher, Focus::Main));
}

#[test]
fn the_tutorial_ticks_itself_from_the_state_and_says_what_is_next() {
    let mut app = app(empty_catalog());
    assert_eq!(tutorial::progress(&app.ctx()), [false; 8]);
    assert_eq!(tutorial::next_step(&app.ctx()), Some(0));
    assert!(
        tutorial::hint(&app.ctx())
            .unwrap()
            .contains("Design the SSE API")
    );
    set_catalog(&mut app, full_catalog());
    let done = tutorial::progress(&app.ctx());
    assert_eq!(&done[..4], &[true, true, true, true]);
    assert_eq!(tutorial::next_step(&app.ctx()), Some(4));
    app.update(Action::Done(Done::BackendStarted(Ok(addr(
        "127.0.0.1:8080",
    )))));
    app.session.tokens.insert("app-1".into(), vec![token()]);
    app.update(Action::Done(Done::TokenGenerated {
        app_id: "app-1".into(),
        result: Ok(token()),
    }));
    assert_eq!(tutorial::next_step(&app.ctx()), Some(6));
    app.update(Action::CopyToken);
    // Step 8 needs events seen from the API.
    app.session.token_copied = true;
    app.update(Action::Traffic(observer_opened(1, "c", NOON)));
    assert_eq!(tutorial::next_step(&app.ctx()), Some(7));
    app.update(Action::Traffic(TrafficEvent::Closed {
        stream_id: 1,
        events: 3,
        reason: "client left".into(),
        at: NOON,
    }));
    assert_eq!(tutorial::next_step(&app.ctx()), None);
    // Enter on a step takes you there.
    press(&mut app, KeyCode::Char('4'));
    keys(&mut app, &[KeyCode::Char('g'), KeyCode::Char('j'), Enter]);
    assert_eq!(app.tab, Tab::Publisher);
    let PublisherView::Api(view) = &app.publisher.view else {
        panic!()
    };
    assert_eq!(view.page, ApiPage::Plans);
}

#[test]
fn servers_that_did_not_start_are_named_with_their_address() {
    let mut config = config();
    config.gateway = Err("127.0.0.1:8280 is already in use".into());
    let app = streamgate::tui::App::new(config, Theme::default(), Arc::new(empty_catalog()), NOON);
    assert!(status_text(&app).contains("gateway not running: 127.0.0.1:8280 is already in use"));
    assert_eq!(app.live.lines()[0].kind, LineKind::Error);
    let mut app = app;
    press(&mut app, KeyCode::Char('3'));
    assert!(screen(&app).contains("not running: 127.0.0.1:8280 is already in use"));
}

#[test]
fn events_per_second_come_from_the_gateway_counter_between_ticks() {
    let mut app = app(empty_catalog());
    for (t, total) in [(0, 0), (500, 500), (1000, 1000)] {
        app.update(Action::Tick(ServerStats {
            uptime_ms: t,
            events_total: total,
            ..ServerStats::default()
        }));
    }
    assert!(
        (app.events_per_sec - 1000.0).abs() < 1e-6,
        "{}",
        app.events_per_sec
    );
}

#[test]
fn a_result_goes_back_to_the_screen_that_asked_even_from_another_tab() {
    let mut app = app(full_catalog());
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('w'));
    type_text(&mut app, "Weather");
    keys(&mut app, &[Enter, Enter, Enter]);
    assert_eq!(
        press(&mut app, Enter),
        vec![Command::CreateApplication(ApplicationDraft {
            name: "Weather".into(),
            throttling_policy: "Unlimited".into(),
            description: String::new(),
        })]
    );
    // The person looks at the Servers tab while control works.
    press(&mut app, KeyCode::Char('3'));
    let mut created = full_catalog().applications["app-1"].clone();
    created.id = "app-2".into();
    created.name = "Weather".into();
    app.update(Action::Done(Done::AppCreated(Ok(created))));
    // The Servers tab is untouched; the wizard moved on to Subscribe.
    assert_eq!(app.tab, Tab::Servers);
    assert!(!app.servers.editing);
    match &app.portal.view {
        PortalView::Wizard(w) => {
            assert_eq!(w.step, WizardStep::Subscribe);
            assert_eq!(w.app_id.as_deref(), Some("app-2"));
            assert!(!w.busy);
        }
        _ => panic!("the wizard closed"),
    }
    // A backend result reaches the Servers tab whichever tab is shown.
    press(&mut app, KeyCode::Char('1'));
    app.update(Action::Done(Done::BackendStarted(Ok(addr(
        "127.0.0.1:8080",
    )))));
    assert!(matches!(app.servers.backend, BackendState::Running(_)));
}
