//! Publisher > API > Overview: what the API is, where the gateway serves it, who uses it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::api_settings::{
    CORS_ROWS, CertificateForm, CorsForm, SettingsForm, cors_summary, endpoint_of, endpoint_trust,
};
use super::publisher::{Publisher, PublisherView};
use crate::catalog::{Api, BackendStream};
use crate::tui::action::{Action, Command};
use crate::tui::screen::{Ctx, Effects};
use crate::tui::state::Level;

use crate::tui::theme::Theme;
use crate::tui::widgets::hints;

/// Keys, for help.
pub fn keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("h/l, Left/Right", "previous / next page"),
        ("o", "edit CORS (applies after the next deploy)"),
        ("b", "backend stream: per-client or shared (next deploy)"),
        ("r", "register the https endpoint's certificate (PEM)"),
        ("Esc", "back to the list of APIs"),
    ]
}

/// The Overview's letter keys: `o` CORS, `b` backend stream, `r` register an endpoint
/// certificate.
pub fn keymap(c: char) -> Option<Action> {
    match c {
        'o' => Some(Action::Edit),
        'b' => Some(Action::Char('b')),
        'r' => Some(Action::New),
        _ => None,
    }
}

/// Opens and edits the CORS and certificate editors; saving sends one command.
pub fn update(p: &mut Publisher, ctx: &Ctx, fx: &mut Effects, action: Action) -> Vec<Command> {
    let PublisherView::Api(view) = &mut p.view else {
        return Vec::new();
    };
    let Some(api) = ctx.api(&view.api_id) else {
        return Vec::new();
    };
    match &mut view.settings {
        // The editors' saves would be refused (`App::refusal`): say so before any typing.
        None if matches!(action, Action::Edit | Action::New) && !ctx.config.can_create() => {
            fx.error(format!(
                "{} cannot create or edit APIs: that needs the creator role",
                ctx.config.principal.user
            ));
        }
        None => match action {
            Action::Edit => view.settings = Some(SettingsForm::Cors(CorsForm::of(api))),
            Action::Char('b') => {
                let mode = match api.backend_stream {
                    BackendStream::PerClient => BackendStream::Shared,
                    BackendStream::Shared => BackendStream::PerClient,
                };
                fx.status(
                    Level::Info,
                    format!("Setting backend stream to {}...", mode.as_str()),
                );
                return vec![Command::SetBackendStream {
                    api_id: api.id.clone(),
                    mode,
                }];
            }
            Action::New => match endpoint_of(api) {
                Some(e) if endpoint_trust(ctx, &e).is_some() => {
                    view.settings = Some(SettingsForm::Certificate(CertificateForm::default()));
                }
                _ => fx.error("The endpoint is not https://: there is no certificate to trust"),
            },
            _ => {}
        },
        Some(SettingsForm::Cors(form)) => match action {
            Action::Back => {
                view.settings = None;
                fx.status(Level::Info, "CORS unchanged");
            }
            Action::Up => form.row = form.row.saturating_sub(1),
            Action::Down => form.row = (form.row + 1).min(CORS_ROWS.len() - 1),
            Action::Char(' ') if form.toggle(form.row) => form.error = None,
            Action::Enter if form.row + 1 < CORS_ROWS.len() => form.row += 1,
            Action::Enter => match form.configuration() {
                Ok(cors) => {
                    form.error = None;
                    fx.status(Level::Info, "Saving CORS...");
                    return vec![Command::SetCors {
                        api_id: api.id.clone(),
                        cors: Box::new(cors),
                    }];
                }
                Err(e) => {
                    form.error = Some(e.clone());
                    fx.error(e);
                }
            },
            other => {
                let row = form.row;
                if let Some(input) = form.input(row)
                    && input.edit(&other)
                {
                    form.error = None;
                }
            }
        },
        Some(SettingsForm::Certificate(form)) => match action {
            Action::Back => {
                view.settings = None;
                fx.status(Level::Info, "No certificate registered");
            }
            Action::Up => form.row = 0,
            Action::Down => form.row = 1,
            Action::Enter if form.row == 0 => form.row = 1,
            Action::Enter => {
                let endpoint = endpoint_of(api).unwrap_or_default();
                match form.command(&endpoint) {
                    Ok(command) => {
                        form.error = None;
                        fx.status(Level::Info, "Registering the certificate...");
                        return vec![command];
                    }
                    Err(e) => {
                        form.error = Some(e.clone());
                        fx.error(e);
                    }
                }
            }
            other => {
                let input = if form.row == 0 {
                    &mut form.alias
                } else {
                    &mut form.path
                };
                if input.edit(&other) {
                    form.error = None;
                }
            }
        },
    }
    Vec::new()
}

/// Control answered `SetCors` or `AddEndpointCertificate`: close the editor, or show why
/// not inline.
pub fn on_saved(p: &mut Publisher, fx: &mut Effects, result: Result<String, String>) {
    let PublisherView::Api(view) = &mut p.view else {
        return;
    };
    match result {
        Ok(m) => {
            view.settings = None;
            fx.status(Level::Ok, m);
        }
        Err(e) => {
            match &mut view.settings {
                Some(SettingsForm::Cors(f)) => f.error = Some(e.clone()),
                Some(SettingsForm::Certificate(f)) => f.error = Some(e.clone()),
                None => {}
            }
            fx.error(e);
        }
    }
}

/// A `Label      value` line.
pub fn label_line<'a>(theme: &Theme, label: &str, value: Span<'a>) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{label:<14}"), theme.muted()),
        value,
    ])
}

/// Two `Label      value` fields on one line: `Label      value   Label2 value2`.
fn label_pair<'a>(theme: &Theme, first: (&str, Span<'a>), second: (&str, Span<'a>)) -> Line<'a> {
    let mut line = label_line(theme, first.0, first.1);
    line.spans.push(Span::raw("   "));
    line.spans
        .push(Span::styled(format!("{} ", second.0), theme.muted()));
    line.spans.push(second.1);
    line
}

/// Where the gateway serves an API, or why it does not.
pub fn gateway_line(ctx: &Ctx, api: &Api) -> (String, bool) {
    let deployments = ctx.catalog.deployments_of(&api.id);
    match (deployments.first(), ctx.config.gateway_host()) {
        (None, _) => ("not deployed (Deployments: n)".to_string(), false),
        (Some(_), None) => (
            "deployed, but the gateway is not running".to_string(),
            false,
        ),
        (Some(dep), Some(host)) => {
            let rev = ctx
                .catalog
                .revisions
                .get(&dep.revision_id)
                .map(|r| r.display_name())
                .unwrap_or_default();
            (format!("http://{host}{}  ({rev})", api.base_path()), true)
        }
    }
}

/// Draws the Overview.
pub fn draw(ctx: &Ctx, api: &Api, frame: &mut Frame, area: Rect) {
    let theme = ctx.theme;
    let endpoint = api
        .production_endpoint
        .clone()
        .or_else(|| api.sandbox_endpoint.clone())
        .unwrap_or_default();
    let (gateway, deployed) = gateway_line(ctx, api);
    let subs = ctx.catalog.subscriptions_of_api(&api.id).len();
    // Paired fields share a line so that the page, certificate line included, fits the
    // 12 rows an 80x24 terminal leaves it (tabs, a blank line, 9 fields, the keys hint).
    let mut lines = vec![
        label_pair(
            theme,
            (
                "Type",
                Span::styled("SSE (Server-Sent Events)", theme.text()),
            ),
            (
                "Topics",
                Span::styled(
                    format!("{} (subscribe)", api.topics.join(", ")),
                    theme.text(),
                ),
            ),
        ),
        // The version first: a long context is cut at the line's end, never the version.
        label_pair(
            theme,
            ("Version", Span::styled(api.version.clone(), theme.accent())),
            ("Context", Span::styled(api.context.clone(), theme.accent())),
        ),
        label_line(
            theme,
            "Endpoint",
            Span::styled(endpoint.clone(), theme.accent()),
        ),
    ];
    match endpoint_trust(ctx, &endpoint) {
        Some(Some(alias)) => lines.push(label_line(
            theme,
            "Certificate",
            Span::styled(format!("trusted (registered: {alias})"), theme.ok()),
        )),
        Some(None) => lines.push(label_line(
            theme,
            "Certificate",
            Span::styled(
                "none registered; system roots decide (r: register PEM)",
                theme.warning(),
            ),
        )),
        None => {}
    }
    lines.extend([
        label_pair(
            theme,
            ("State", Span::styled(api.lifecycle.label(), theme.ok())),
            (
                "Subscriptions",
                Span::styled(subs.to_string(), theme.text()),
            ),
        ),
        label_line(
            theme,
            "Plans",
            Span::styled(api.policies.join(", "), theme.text()),
        ),
        label_line(
            theme,
            "Gateway URL",
            Span::styled(
                gateway,
                if deployed {
                    theme.accent()
                } else {
                    theme.warning()
                },
            ),
        ),
        label_line(theme, "CORS", Span::styled(cors_summary(api), theme.text())),
        label_line(
            theme,
            "Backend",
            Span::styled(
                format!(
                    "{}: {} (b)",
                    api.backend_stream.as_str(),
                    api.backend_stream.explain()
                ),
                theme.text(),
            ),
        ),
    ]);
    lines.extend([hints(
        theme,
        &[("h/l", "pages"), ("Esc", "back to APIs"), ("?", "keys")],
    )]);
    frame.render_widget(Paragraph::new(lines), area);
}
