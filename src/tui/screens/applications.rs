//! Developer Portal > Applications: each application with its keys, the tokens issued in
//! this session and its subscriptions.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, TableState};

use super::api_analytics;
use super::portal::Portal;
use crate::analytics::Subject;
use crate::catalog::{Api, Application, Subscription};
use crate::tui::action::{Action, Command};
use crate::tui::charts::quota_gauge;
use crate::tui::screen::{Ctx, Effects};
use crate::tui::state::{Level, Overlay};
use crate::tui::widgets::{block, clock, ellipsis, hints, marker};

use super::move_cursor;
use super::portal::{PortalView, for_role, sub_tabs};

/// One application's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDetail {
    /// The application.
    pub app_id: String,
    /// The selected subscription.
    pub cursor: usize,
    /// Whether the application's analytics show instead of its details (`a`).
    pub analytics: bool,
}

/// The letter keys.
pub fn keymap(c: char) -> Option<Action> {
    match c {
        'g' => Some(Action::GenerateToken),
        'c' => Some(Action::CopyToken),
        'u' => Some(Action::Undeploy),
        'x' | 'd' => Some(Action::DeleteSelected),
        'a' => Some(Action::ToggleAnalytics),
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
        ("a", "the application's analytics (a again: details)"),
        ("h/l", "APIs / Applications (in the list)"),
        ("Esc", "back"),
    ]
}

fn apps_sorted<'a>(ctx: &Ctx<'a>) -> Vec<&'a Application> {
    let mut apps: Vec<&Application> = ctx.catalog.applications.values().collect();
    apps.sort_by(|a, b| a.name.cmp(&b.name));
    apps
}

fn subs_of<'a>(ctx: &Ctx<'a>, app_id: &str) -> Vec<(&'a Subscription, Option<&'a Api>)> {
    let mut subs: Vec<_> = ctx
        .catalog
        .subscriptions_of_app(app_id)
        .into_iter()
        .map(|s| (s, ctx.catalog.apis.get(&s.api_id)))
        .collect();
    subs.sort_by_key(|(s, _)| s.created_at);
    subs
}

/// The part of `update` for the list and one application.
pub fn update(p: &mut Portal, ctx: &Ctx, fx: &mut Effects, action: Action) -> Vec<Command> {
    let detail = match &p.view {
        PortalView::App(d) => Some(d.clone()),
        _ => None,
    };
    let Some(detail) = detail else {
        return update_list(p, ctx, fx, action);
    };
    let catalog = ctx.catalog.clone();
    let Some(application) = catalog.applications.get(&detail.app_id) else {
        return Vec::new();
    };
    let subs: Vec<(String, String)> = subs_of(ctx, &application.id)
        .iter()
        .map(|(s, api)| (s.id.clone(), api.map(|a| a.handle()).unwrap_or_default()))
        .collect();
    if detail.analytics {
        // The analytics view only draws: a or Esc goes back to the details.
        if matches!(action, Action::ToggleAnalytics | Action::Back)
            && let PortalView::App(d) = &mut p.view
        {
            d.analytics = false;
        }
        return Vec::new();
    }
    if matches!(action, Action::ToggleAnalytics) {
        if let PortalView::App(d) = &mut p.view {
            d.analytics = true;
        }
        return Vec::new();
    }
    let mut cursor = detail.cursor;
    if move_cursor(&mut cursor, subs.len(), &action) {
        if let PortalView::App(d) = &mut p.view {
            d.cursor = cursor;
        }
        return Vec::new();
    }
    match action {
        Action::Back | Action::Left => p.view = PortalView::Applications,
        Action::GenerateToken => match ctx.key_type_of(&application.id) {
            Some(key_type) => {
                fx.status(
                    Level::Info,
                    format!("Generating a token for {}...", application.name),
                );
                return vec![Command::GenerateToken {
                    app_id: application.id.clone(),
                    key_type,
                    validity_secs: crate::keys::DEFAULT_VALIDITY_SECS,
                }];
            }
            None if ctx.config.can_subscribe() => fx.error(format!(
                "{} has no keys: generate them with the wizard (Dev Portal > API > w)",
                application.name
            )),
            None => fx.error(format!(
                "{} has no keys: generating them needs the subscriber role",
                application.name
            )),
        },
        Action::CopyToken => match ctx.session.latest_token(&application.id).cloned() {
            Some(t) => {
                fx.copy_token(&t.access_token);
                return Vec::new();
            }
            None => fx.error("No token in this session: press g to generate one"),
        },
        Action::Undeploy => {
            if let Some((sub_id, api)) = subs.get(cursor) {
                fx.overlay(Overlay::Confirm {
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
        Action::DeleteSelected => confirm_delete(fx, application),
        _ => {}
    }
    Vec::new()
}

fn confirm_delete(fx: &mut Effects, application: &Application) {
    fx.overlay(Overlay::Confirm {
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

fn update_list(p: &mut Portal, ctx: &Ctx, fx: &mut Effects, action: Action) -> Vec<Command> {
    let catalog = ctx.catalog.clone();
    let mut apps: Vec<&Application> = catalog.applications.values().collect();
    apps.sort_by(|a, b| a.name.cmp(&b.name));
    if move_cursor(&mut p.app_cursor, apps.len(), &action) {
        return Vec::new();
    }
    let selected = apps.get(p.app_cursor).copied();
    match (action, selected) {
        (Action::Left | Action::Right, _) => p.view = PortalView::Apis,
        (Action::Enter, Some(a)) => {
            p.view = PortalView::App(AppDetail {
                app_id: a.id.clone(),
                cursor: 0,
                analytics: false,
            })
        }
        (Action::DeleteSelected, Some(a)) => confirm_delete(fx, a),
        (Action::GenerateToken | Action::CopyToken, Some(a)) => {
            p.view = PortalView::App(AppDetail {
                app_id: a.id.clone(),
                cursor: 0,
                analytics: false,
            });
        }
        (Action::Back, _) => p.view = PortalView::Apis,
        _ => {}
    }
    Vec::new()
}

/// Keeps cursors within bounds.
pub fn on_catalog(p: &mut Portal, ctx: &Ctx) {
    let n = match &p.view {
        PortalView::App(d) => ctx.catalog.subscriptions_of_app(&d.app_id).len(),
        _ => return,
    };
    if let PortalView::App(d) = &mut p.view {
        d.cursor = d.cursor.min(n.saturating_sub(1));
    }
}

/// Draws the list, or one application.
pub fn draw(p: &Portal, ctx: &Ctx, frame: &mut Frame, area: Rect, focused: bool) {
    match &p.view {
        PortalView::App(d) => draw_detail(ctx, d, frame, area, focused),
        _ => draw_list(p, ctx, frame, area, focused),
    }
}

fn draw_list(p: &Portal, ctx: &Ctx, frame: &mut Frame, area: Rect, focused: bool) {
    let theme = ctx.theme;
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
    let apps = apps_sorted(ctx);
    if apps.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(
                if ctx.config.can_subscribe() {
                    "  No applications yet: the wizard (APIs > w) creates one."
                } else {
                    "  No applications: creating one needs the subscriber role."
                },
                theme.text(),
            ))),
            body,
        );
    } else {
        let rows = apps.iter().map(|a| {
            let keys: Vec<&str> = ctx
                .catalog
                .keys_of(&a.id)
                .iter()
                .map(|k| k.key_type.as_str())
                .collect();
            Row::new(vec![
                a.name.clone(),
                a.throttling_policy.clone(),
                ctx.catalog.subscriptions_of_app(&a.id).len().to_string(),
                if keys.is_empty() {
                    "-".to_string()
                } else {
                    keys.join(",")
                },
                ctx.session
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
        let mut state = TableState::default().with_selected(Some(p.app_cursor));
        frame.render_stateful_widget(table, body, &mut state);
    }
    frame.render_widget(
        hints(
            theme,
            &for_role(
                ctx.config.can_subscribe(),
                &[("Enter", "open"), ("x", "delete"), ("h/l", "APIs")],
            ),
        ),
        foot,
    );
}

/// The analytics subject of an application's page, when it shows analytics.
pub fn analytics_subject(ctx_catalog: &crate::control::Snapshot, d: &AppDetail) -> Option<Subject> {
    if !d.analytics {
        return None;
    }
    let a = ctx_catalog.applications.get(&d.app_id)?;
    Some(Subject::Application(a.name.clone()))
}

fn draw_analytics(ctx: &Ctx, a: &Application, frame: &mut Frame, area: Rect, focused: bool) {
    let title = format!("Application {} - Analytics", a.name);
    let outer = block(ctx.theme, &title, focused);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let hint = hints(
        ctx.theme,
        &[("a", "details"), ("Esc", "back"), ("?", "keys")],
    );
    let subject = Subject::Application(a.name.clone());
    api_analytics::draw_view(ctx, &subject, "Top APIs", hint, frame, inner);
}

fn draw_detail(ctx: &Ctx, d: &AppDetail, frame: &mut Frame, area: Rect, focused: bool) {
    let theme = ctx.theme;
    let Some(a) = ctx.catalog.applications.get(&d.app_id) else {
        return;
    };
    if d.analytics {
        draw_analytics(ctx, a, frame, area, focused);
        return;
    }
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
    let keys = ctx.catalog.keys_of(&a.id);
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
    match ctx.session.latest_token(&a.id) {
        Some(t) => {
            lines.push(Line::from(vec![
                label("Token"),
                Span::styled(
                    format!(
                        "issued {} UTC, valid {} s ({} this session)",
                        clock(t.issued_at * 1000),
                        t.expires_in,
                        ctx.session.tokens.get(&a.id).map(|v| v.len()).unwrap_or(0)
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
            Span::styled(
                if ctx.config.can_subscribe() {
                    "none in this session (g generates one)"
                } else {
                    "none in this session"
                },
                theme.muted(),
            ),
        ])),
    }
    lines.push(Line::from(Span::styled("Subscriptions", theme.muted())));
    let subs = subs_of(ctx, &a.id);
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
        lines.extend(quota_gauge(
            ctx.analytics,
            theme,
            Span::raw("    "),
            &s.id,
            20,
            ctx.clock_ms(),
        ));
    }
    frame.render_widget(Paragraph::new(lines), body);
    frame.render_widget(
        hints(
            theme,
            &for_role(
                ctx.config.can_subscribe(),
                &[
                    ("g", "new token"),
                    ("c", "copy token"),
                    ("u", "unsubscribe"),
                    ("x", "delete"),
                    ("a", "analytics"),
                    ("Esc", "back"),
                ],
            ),
        ),
        foot,
    );
}
