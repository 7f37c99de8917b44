//! Developer Portal > Applications: each application with its keys, the tokens issued in
//! this session and its subscriptions.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, TableState};

use crate::catalog::{Api, Application, Subscription};
use crate::tui::action::{Action, Command};
use crate::tui::app::{App, Level, Overlay};
use crate::tui::widgets::{block, clock, ellipsis, hints, marker};

use super::move_cursor;
use super::portal::{PortalView, sub_tabs};

/// One application's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDetail {
    /// The application.
    pub app_id: String,
    /// The selected subscription.
    pub cursor: usize,
}

/// The letter keys.
pub fn keymap(c: char) -> Option<Action> {
    match c {
        'g' => Some(Action::GenerateToken),
        'c' => Some(Action::CopyToken),
        'u' => Some(Action::Undeploy),
        'x' | 'd' => Some(Action::DeleteSelected),
        _ => None,
    }
}

/// Keys, for help.
pub fn keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("j/k", "select"),
        ("Enter", "open the application"),
        ("g", "generate a new access token"),
        ("c", "copy the latest token (OSC 52)"),
        ("u", "unsubscribe the selected subscription"),
        ("x", "delete the application (asks first)"),
        ("h/l", "APIs / Applications (in the list)"),
        ("Esc", "back"),
    ]
}

fn apps_sorted(app: &App) -> Vec<&Application> {
    let mut apps: Vec<&Application> = app.catalog.applications.values().collect();
    apps.sort_by(|a, b| a.name.cmp(&b.name));
    apps
}

fn subs_of<'a>(app: &'a App, app_id: &str) -> Vec<(&'a Subscription, Option<&'a Api>)> {
    let mut subs: Vec<_> = app
        .catalog
        .subscriptions_of_app(app_id)
        .into_iter()
        .map(|s| (s, app.catalog.apis.get(&s.api_id)))
        .collect();
    subs.sort_by_key(|(s, _)| s.created_at);
    subs
}

/// The part of `update` for the list and one application.
pub fn update(app: &mut App, action: Action) -> Vec<Command> {
    let detail = match &app.portal.view {
        PortalView::App(d) => Some(d.clone()),
        _ => None,
    };
    let Some(detail) = detail else {
        return update_list(app, action);
    };
    let catalog = app.catalog.clone();
    let Some(application) = catalog.applications.get(&detail.app_id) else {
        return Vec::new();
    };
    let subs: Vec<(String, String)> = subs_of(app, &application.id)
        .iter()
        .map(|(s, api)| (s.id.clone(), api.map(|a| a.handle()).unwrap_or_default()))
        .collect();
    let mut cursor = detail.cursor;
    if move_cursor(&mut cursor, subs.len(), &action) {
        if let PortalView::App(d) = &mut app.portal.view {
            d.cursor = cursor;
        }
        return Vec::new();
    }
    match action {
        Action::Back | Action::Left => app.portal.view = PortalView::Applications,
        Action::GenerateToken => match app.key_type_of(&application.id) {
            Some(key_type) => {
                app.set_status(
                    Level::Info,
                    format!("Generating a token for {}...", application.name),
                );
                return vec![Command::GenerateToken {
                    app_id: application.id.clone(),
                    key_type,
                    validity_secs: crate::keys::DEFAULT_VALIDITY_SECS,
                }];
            }
            None => app.error(format!(
                "{} has no keys: generate them with the wizard (Dev Portal > API > w)",
                application.name
            )),
        },
        Action::CopyToken => match app.session.latest_token(&application.id).cloned() {
            Some(t) => return app.copy_token(&t.access_token),
            None => app.error("No token in this session: press g to generate one"),
        },
        Action::Undeploy => {
            if let Some((sub_id, api)) = subs.get(cursor) {
                app.overlay = Some(Overlay::Confirm {
                    title: "Unsubscribe".to_string(),
                    message: format!(
                        "Unsubscribe {} from {api}? Its open streams are closed at once.",
                        application.name
                    ),
                    command: Box::new(Command::Unsubscribe {
                        subscription_id: sub_id.clone(),
                    }),
                });
            }
        }
        Action::DeleteSelected => confirm_delete(app, application),
        _ => {}
    }
    Vec::new()
}

fn confirm_delete(app: &mut App, application: &Application) {
    app.overlay = Some(Overlay::Confirm {
        title: "Delete application".to_string(),
        message: format!(
            "Delete {} with its keys and subscriptions? Its tokens stop working.",
            application.name
        ),
        command: Box::new(Command::DeleteApplication {
            app_id: application.id.clone(),
        }),
    });
}

fn update_list(app: &mut App, action: Action) -> Vec<Command> {
    let catalog = app.catalog.clone();
    let mut apps: Vec<&Application> = catalog.applications.values().collect();
    apps.sort_by(|a, b| a.name.cmp(&b.name));
    if move_cursor(&mut app.portal.app_cursor, apps.len(), &action) {
        return Vec::new();
    }
    let selected = apps.get(app.portal.app_cursor).copied();
    match (action, selected) {
        (Action::Left | Action::Right, _) => app.portal.view = PortalView::Apis,
        (Action::Enter, Some(a)) => {
            app.portal.view = PortalView::App(AppDetail {
                app_id: a.id.clone(),
                cursor: 0,
            })
        }
        (Action::DeleteSelected, Some(a)) => confirm_delete(app, a),
        (Action::GenerateToken | Action::CopyToken, Some(a)) => {
            app.portal.view = PortalView::App(AppDetail {
                app_id: a.id.clone(),
                cursor: 0,
            });
        }
        (Action::Back, _) => app.portal.view = PortalView::Apis,
        _ => {}
    }
    Vec::new()
}

/// Keeps cursors within bounds.
pub fn on_catalog(app: &mut App) {
    let n = match &app.portal.view {
        PortalView::App(d) => app.catalog.subscriptions_of_app(&d.app_id).len(),
        _ => return,
    };
    if let PortalView::App(d) = &mut app.portal.view {
        d.cursor = d.cursor.min(n.saturating_sub(1));
    }
}

/// Draws the list, or one application.
pub fn draw(app: &App, frame: &mut Frame, area: Rect, focused: bool) {
    match &app.portal.view {
        PortalView::App(d) => draw_detail(app, d, frame, area, focused),
        _ => draw_list(app, frame, area, focused),
    }
}

fn draw_list(app: &App, frame: &mut Frame, area: Rect, focused: bool) {
    let theme = &app.theme;
    let outer = block(theme, "Developer Portal", focused);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let [tabs, body, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(sub_tabs(theme, false), tabs);
    let apps = apps_sorted(app);
    if apps.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(
                "  No applications yet: the wizard (APIs > w) creates one.",
                theme.text(),
            ))),
            body,
        );
    } else {
        let rows = apps.iter().map(|a| {
            let keys: Vec<&str> = app
                .catalog
                .keys_of(&a.id)
                .iter()
                .map(|k| k.key_type.as_str())
                .collect();
            Row::new(vec![
                a.name.clone(),
                a.throttling_policy.clone(),
                app.catalog.subscriptions_of_app(&a.id).len().to_string(),
                if keys.is_empty() {
                    "-".to_string()
                } else {
                    keys.join(",")
                },
                app.session
                    .tokens
                    .get(&a.id)
                    .map(|t| t.len())
                    .unwrap_or(0)
                    .to_string(),
            ])
        });
        let table = Table::new(
            rows,
            [
                Constraint::Fill(2),
                Constraint::Length(10),
                Constraint::Length(5),
                Constraint::Fill(2),
                Constraint::Length(7),
            ],
        )
        .header(
            Row::new(vec!["Application", "Quota", "Subs", "Keys", "Tokens"]).style(theme.muted()),
        )
        .row_highlight_style(if focused {
            theme.selection()
        } else {
            theme.text()
        })
        .highlight_symbol("> ");
        let mut state = TableState::default().with_selected(Some(app.portal.app_cursor));
        frame.render_stateful_widget(table, body, &mut state);
    }
    frame.render_widget(
        hints(
            theme,
            &[("Enter", "open"), ("x", "delete"), ("h/l", "APIs")],
        ),
        foot,
    );
}

fn draw_detail(app: &App, d: &AppDetail, frame: &mut Frame, area: Rect, focused: bool) {
    let theme = &app.theme;
    let Some(a) = app.catalog.applications.get(&d.app_id) else {
        return;
    };
    let title = format!("Application {}", a.name);
    let outer = block(theme, &title, focused);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let [body, foot] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    let width = usize::from(body.width);
    let label = |s: &str| Span::styled(format!("{s:<14}"), theme.muted());
    let mut lines = vec![Line::from(vec![
        label("Quota"),
        Span::styled(a.throttling_policy.clone(), theme.text()),
        Span::styled("   token type ", theme.muted()),
        Span::styled(a.token_type.clone(), theme.text()),
    ])];
    let keys = app.catalog.keys_of(&a.id);
    if keys.is_empty() {
        lines.push(Line::from(vec![
            label("Keys"),
            Span::styled("none yet", theme.muted()),
        ]));
    }
    for k in keys {
        lines.push(Line::from(vec![
            label("Keys"),
            Span::styled(format!("{:<11}", k.key_type.as_str()), theme.text()),
            Span::styled("consumer key ", theme.muted()),
            Span::styled(k.consumer_key.clone(), theme.accent()),
        ]));
    }
    match app.session.latest_token(&a.id) {
        Some(t) => {
            lines.push(Line::from(vec![
                label("Token"),
                Span::styled(
                    format!(
                        "issued {} UTC, valid {} s ({} this session)",
                        clock(t.issued_at * 1000),
                        t.expires_in,
                        app.session.tokens.get(&a.id).map(|v| v.len()).unwrap_or(0)
                    ),
                    theme.text(),
                ),
            ]));
            lines.push(Line::from(vec![
                label(""),
                Span::styled(
                    ellipsis(&t.access_token, width.saturating_sub(14)),
                    theme.accent(),
                ),
            ]));
        }
        None => lines.push(Line::from(vec![
            label("Token"),
            Span::styled("none in this session (g generates one)", theme.muted()),
        ])),
    }
    lines.push(Line::from(Span::styled("Subscriptions", theme.muted())));
    let subs = subs_of(app, &a.id);
    if subs.is_empty() {
        lines.push(Line::from(Span::styled("  none", theme.muted())));
    }
    for (i, (s, api)) in subs.iter().enumerate() {
        let selected = i == d.cursor;
        lines.push(Line::from(Span::styled(
            format!(
                "{}{:<24} {:<16} {}",
                marker(selected),
                api.map(|a| a.handle()).unwrap_or_else(|| s.api_id.clone()),
                s.policy,
                s.status.as_str()
            ),
            if selected && focused {
                theme.selection()
            } else {
                theme.text()
            },
        )));
    }
    frame.render_widget(Paragraph::new(lines), body);
    frame.render_widget(
        hints(
            theme,
            &[
                ("g", "new token"),
                ("c", "copy token"),
                ("u", "unsubscribe"),
                ("x", "delete"),
                ("Esc", "back"),
            ],
        ),
        foot,
    );
}
