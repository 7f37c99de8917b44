//! The API Overview's CORS editor (issue 11) and endpoint certificates (issue 13), and
//! the Servers screen's HTTPS gateway line: pure `App::update` flows and draws.
#![allow(clippy::unwrap_used)]

mod tui_support;

use crossterm::event::KeyCode;
use streamgate::catalog::{CorsConfiguration, LifecycleState};
use streamgate::tls::store::EndpointCertificate;
use streamgate::tui::action::{Action, Command, Done};
use streamgate::tui::screens::api_settings::SettingsForm;
use streamgate::tui::screens::publisher::PublisherView;
use tui_support::*;

use KeyCode::{Backspace, Char, Down, Enter, Esc};

fn status_text(app: &streamgate::tui::App) -> String {
    app.status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default()
}

fn settings(app: &streamgate::tui::App) -> Option<&SettingsForm> {
    match &app.publisher.view {
        PublisherView::Api(v) => v.settings.as_ref(),
        _ => None,
    }
}

#[test]
fn cors_is_edited_inline_and_saved_with_one_command() {
    let mut app = app(full_catalog());
    press(&mut app, Enter);
    assert!(screen(&app).contains("CORS          off: any origin (o: edit)"));
    press(&mut app, Char('o'));
    assert!(matches!(settings(&app), Some(SettingsForm::Cors(_))));
    assert!(app.is_typing());
    // Enabled on, credentials on with origin `*`: refused inline, nothing sent.
    press(&mut app, Char(' '));
    press(&mut app, Down);
    type_text(&mut app, "*");
    press(&mut app, Down);
    press(&mut app, Char(' '));
    keys(&mut app, &[Enter, Enter]);
    let commands = press(&mut app, Enter);
    assert!(commands.is_empty(), "{commands:?}");
    let Some(SettingsForm::Cors(form)) = settings(&app) else {
        panic!()
    };
    let error = form.error.clone().unwrap();
    assert!(error.contains("corsConfiguration"), "{error}");
    assert!(screen(&app).contains(&error[..20]));
    // A real origin: one SetCors command with the lists split on commas.
    keys(&mut app, &[KeyCode::Up, KeyCode::Up, KeyCode::Up]);
    press(&mut app, Backspace);
    type_text(&mut app, "https://app.example, http://localhost:3000");
    keys(&mut app, &[Down, Down]);
    type_text(&mut app, "Last-Event-ID");
    press(&mut app, Down);
    type_text(&mut app, "GET,OPTIONS");
    let commands = press(&mut app, Enter);
    assert_eq!(
        commands,
        [Command::SetCors {
            api_id: "api-observer".into(),
            cors: Box::new(CorsConfiguration {
                cors_configuration_enabled: true,
                access_control_allow_origins: vec![
                    "https://app.example".into(),
                    "http://localhost:3000".into()
                ],
                access_control_allow_credentials: true,
                access_control_allow_headers: vec!["Last-Event-ID".into()],
                access_control_allow_methods: vec!["GET".into(), "OPTIONS".into()],
            }),
        }]
    );
    // Control's answer closes the editor and says when it applies.
    app.update(Action::Done(Done::ApiSettings(Ok(
        "CORS of Observer:1.0.0 saved; it applies after the next deploy".into(),
    ))));
    assert!(settings(&app).is_none());
    assert!(status_text(&app).contains("after the next deploy"));
    // Esc cancels without a command.
    press(&mut app, Char('o'));
    assert!(press(&mut app, Esc).is_empty());
    assert!(settings(&app).is_none());
    // The local operator (admin) may save CORS.
    let cmd = Command::SetCors {
        api_id: "api-observer".into(),
        cors: Box::default(),
    };
    assert!(app.refusal(&cmd).is_none());
}

fn https_catalog() -> streamgate::control::Snapshot {
    let mut api = observer(LifecycleState::Published, &["AsyncGold"]);
    api.production_endpoint = Some("https://backend.example:8443/events".into());
    catalog_with(api)
}

#[test]
fn an_https_endpoint_shows_its_trust_and_registers_a_pem_file() {
    let mut app = app(https_catalog());
    press(&mut app, Enter);
    let s = screen(&app);
    assert!(s.contains("none registered"), "{s}");
    press(&mut app, Char('r'));
    assert!(matches!(settings(&app), Some(SettingsForm::Certificate(_))));
    // No alias: refused inline.
    keys(&mut app, &[Enter]);
    assert!(press(&mut app, Enter).is_empty());
    assert!(status_text(&app).contains("alias"), "{}", status_text(&app));
    press(&mut app, KeyCode::Up);
    type_text(&mut app, "backend-ca");
    press(&mut app, Enter);
    type_text(&mut app, "/tmp/ca.pem");
    let commands = press(&mut app, Enter);
    assert_eq!(
        commands,
        [Command::AddEndpointCertificate {
            alias: "backend-ca".into(),
            endpoint: "https://backend.example:8443/events".into(),
            path: "/tmp/ca.pem".into(),
        }]
    );
    // A refusal (e.g. not PEM) stays inline, the form open.
    app.update(Action::Done(Done::ApiSettings(Err(
        "/tmp/ca.pem: invalid certificate: not PEM".into(),
    ))));
    assert!(matches!(settings(&app), Some(SettingsForm::Certificate(f)) if f.error.is_some()));
    assert!(screen(&app).contains("not PEM"));
    press(&mut app, Esc);
    // Registered: the Overview says trusted.
    let mut c = https_catalog();
    c.endpoint_certificates.insert(
        "backend-ca".into(),
        EndpointCertificate {
            alias: "backend-ca".into(),
            endpoint: "https://backend.example:8443".into(),
            host: "backend.example".into(),
            port: 8443,
            pem: String::new(),
            created_at: NOON,
        },
    );
    set_catalog(&mut app, c);
    let s = screen(&app);
    assert!(s.contains("trusted (registered: backend-ca)"), "{s}");
}

#[test]
fn a_plain_http_endpoint_has_no_certificate_to_register() {
    let mut app = app(full_catalog());
    press(&mut app, Enter);
    assert!(!screen(&app).contains("Certificate"));
    assert!(press(&mut app, Char('r')).is_empty());
    assert!(settings(&app).is_none());
    assert!(
        status_text(&app).contains("not https"),
        "{}",
        status_text(&app)
    );
}

#[test]
fn servers_show_the_https_gateway_and_fingerprint() {
    let app = servers_with_tls();
    let s = screen(&app);
    assert!(
        s.contains("HTTPS gateway   https://127.0.0.1:8243  SHA-256 AB:CD:EF"),
        "{s}"
    );
    // The memory backend's form still fits at 80x24.
    assert!(s.contains("Memory backend"), "{s}");
}
