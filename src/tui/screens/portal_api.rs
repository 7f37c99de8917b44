//! Developer Portal > API: its Overview, its Subscriptions (with the Subscription & Key
//! Generation Wizard) and "Try it", which opens a stream through the gateway into the
//! live pane.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::portal::{Portal, for_role};
use crate::catalog::{Api, Application, LifecycleState};
use crate::tui::action::{Action, Command};
use crate::tui::screen::{Ctx, Effect, Effects};
use crate::tui::state::{Level, Overlay, StreamState};
use crate::tui::widgets::{block, clock, ellipsis, hints, marker};

use super::api_overview::{gateway_line, label_line};
use super::portal::PortalView;
use super::{move_cursor, wizard};

/// The pages of an API in the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalPage {
    /// What the API is and where to call it.
    Overview,
    /// Who subscribed; the wizard.
    Subscriptions,
    /// Open a stream into the live pane.
    TryIt,
}

impl PortalPage {
    /// Every page, in order.
    pub const ALL: [PortalPage; 3] = [
        PortalPage::Overview,
        PortalPage::Subscriptions,
        PortalPage::TryIt,
    ];

    /// The tab label.
    pub fn label(self) -> &'static str {
        match self {
            PortalPage::Overview => "Overview",
            PortalPage::Subscriptions => "Subscriptions",
            PortalPage::TryIt => "Try it",
        }
    }
}

/// An API's portal pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalApi {
    /// The API.
    pub api_id: String,
    /// The page shown.
    pub page: PortalPage,
    /// The selected subscription (Subscriptions and Try it).
    pub cursor: usize,
}

impl PortalApi {
    /// An API on a page.
    pub fn new(api_id: &str, page: PortalPage) -> Self {
        PortalApi {
            api_id: api_id.to_string(),
            page,
            cursor: 0,
        }
    }
}

/// The pages' letter keys.
pub fn keymap(c: char) -> Option<Action> {
    match c {
        'w' => Some(Action::OpenWizard),
        't' => Some(Action::TryIt),
        's' => Some(Action::Save),
        'c' => Some(Action::CopyToken),
        'y' => Some(Action::CopyCurl),
        'g' => Some(Action::GenerateToken),
        'u' => Some(Action::Undeploy),
        _ => None,
    }
}

/// Keys, for help.
pub fn keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("h/l", "Overview / Subscriptions / Try it"),
        ("w", "Subscription & Key Generation Wizard"),
        ("t", "Try it: stream events into the live pane"),
        ("s", "stop this API's Try-it streams"),
        ("j/k", "select an application (Subscriptions, Try it)"),
        ("g", "generate a new token for it"),
        ("c / y", "copy its token / the curl command (OSC 52)"),
        ("u", "unsubscribe it (asks first)"),
        ("Esc", "back to the portal's APIs"),
    ]
}

/// The applications subscribed to an API, by name.
pub fn subscribers<'a>(
    ctx: &Ctx<'a>,
    api_id: &str,
) -> Vec<(&'a Application, &'a crate::catalog::Subscription)> {
    let mut out: Vec<_> = ctx
        .catalog
        .subscriptions_of_api(api_id)
        .into_iter()
        .filter_map(|s| {
            ctx.catalog
                .applications
                .get(&s.application_id)
                .map(|a| (a, s))
        })
        .collect();
    out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    out
}

fn view(p: &Portal) -> Option<&PortalApi> {
    match &p.view {
        PortalView::Api(v) => Some(v),
        _ => None,
    }
}

/// What a user without the subscriber role is told where others are pointed to the wizard
/// (which refuses them).
const NOT_A_SUBSCRIBER: &str = "No subscribed application: subscribing needs the subscriber role";

/// Where to go without a subscribed application: the wizard, or the role it needs.
fn no_application(ctx: &Ctx) -> &'static str {
    if ctx.config.can_subscribe() {
        "No subscribed application: press w for the wizard"
    } else {
        NOT_A_SUBSCRIBER
    }
}

/// Opens a Try-it stream for the selected subscriber.
pub fn try_it(p: &mut Portal, ctx: &Ctx, fx: &mut Effects) -> Vec<Command> {
    let catalog = ctx.catalog.clone();
    let Some(v) = view(p) else {
        return Vec::new();
    };
    let Some(api) = catalog.apis.get(&v.api_id) else {
        return Vec::new();
    };
    let subs = subscribers(ctx, &api.id);
    let chosen = subs
        .get(v.cursor.min(subs.len().saturating_sub(1)))
        .map(|(a, _)| (a.id.clone(), a.name.clone()));
    match chosen {
        Some((app_id, name)) => match ctx.session.latest_token(&app_id).cloned() {
            Some(token) => {
                fx.open_stream(api, &name, Some(token.access_token));
                Vec::new()
            }
            None => {
                fx.error(format!(
                    "No access token for {name} in this session: press g to generate one"
                ));
                Vec::new()
            }
        },
        None if api.lifecycle == LifecycleState::Prototyped => {
            fx.open_stream(api, "no token", None);
            Vec::new()
        }
        None => {
            fx.error(if ctx.config.can_subscribe() {
                "Subscribe first: press w for the Subscription & Key Generation Wizard"
            } else {
                NOT_A_SUBSCRIBER
            });
            Vec::new()
        }
    }
}

/// The pages' part of `update`.
pub fn update(p: &mut Portal, ctx: &Ctx, fx: &mut Effects, action: Action) -> Vec<Command> {
    let catalog = ctx.catalog.clone();
    let Some(v) = view(p).cloned() else {
        return Vec::new();
    };
    let Some(api) = catalog.apis.get(&v.api_id) else {
        return Vec::new();
    };
    let subs: Vec<(String, String, String)> = subscribers(ctx, &api.id)
        .into_iter()
        .map(|(a, s)| (a.id.clone(), a.name.clone(), s.id.clone()))
        .collect();
    let selected = subs
        .get(v.cursor.min(subs.len().saturating_sub(1)))
        .cloned();
    let set_view = |p: &mut Portal, f: &dyn Fn(&mut PortalApi)| {
        if let PortalView::Api(v) = &mut p.view {
            f(v);
        }
    };
    match action {
        Action::Back => p.view = PortalView::Apis,
        Action::Left | Action::Right => {
            let i = PortalPage::ALL
                .iter()
                .position(|p| *p == v.page)
                .unwrap_or(0);
            let n = PortalPage::ALL.len();
            let next = if matches!(action, Action::Left) {
                (i + n - 1) % n
            } else {
                (i + 1) % n
            };
            set_view(p, &|v| v.page = PortalPage::ALL[next]);
        }
        Action::Up
        | Action::Down
        | Action::Top
        | Action::Bottom
        | Action::PageUp
        | Action::PageDown => {
            let mut cursor = v.cursor;
            move_cursor(&mut cursor, subs.len(), &action);
            set_view(p, &|v| v.cursor = cursor);
        }
        Action::OpenWizard => return wizard::open(p, ctx, fx, api),
        Action::TryIt => {
            set_view(p, &|v| v.page = PortalPage::TryIt);
            return try_it(p, ctx, fx);
        }
        Action::Enter if v.page == PortalPage::TryIt => return try_it(p, ctx, fx),
        Action::Enter if v.page == PortalPage::Subscriptions && subs.is_empty() => {
            return wizard::open(p, ctx, fx, api);
        }
        Action::Save => {
            fx.push(Effect::StopStreams(api.handle()));
            return Vec::new();
        }
        Action::GenerateToken => match selected {
            Some((app_id, name, _)) => match ctx.key_type_of(&app_id) {
                Some(key_type) => {
                    fx.status(Level::Info, format!("Generating a token for {name}..."));
                    return vec![Command::GenerateToken {
                        app_id,
                        key_type,
                        validity_secs: crate::keys::DEFAULT_VALIDITY_SECS,
                    }];
                }
                None if ctx.config.can_subscribe() => {
                    fx.error(format!("{name} has no keys yet: run the wizard (w)"))
                }
                None => fx.error(format!(
                    "{name} has no keys yet: generating them needs the subscriber role"
                )),
            },
            None => fx.error(no_application(ctx)),
        },
        Action::CopyToken | Action::CopyCurl => match selected {
            Some((app_id, name, _)) => match ctx.session.latest_token(&app_id).cloned() {
                Some(token) => {
                    if matches!(action, Action::CopyCurl) {
                        fx.push(Effect::TokenCopied);
                        return vec![Command::Copy(ctx.curl_command(api, &token.access_token))];
                    }
                    fx.copy_token(&token.access_token);
                    return Vec::new();
                }
                None => fx.error(format!("No token for {name} in this session: press g")),
            },
            None => fx.error(no_application(ctx)),
        },
        Action::Undeploy => {
            if let Some((_, name, sub_id)) = selected {
                fx.overlay(Overlay::Confirm {
                    title: "Unsubscribe".to_string(),
                    message: format!(
                        "Unsubscribe {name} from {}? Its open streams are closed at once.",
                        api.handle()
                    ),
                    command: Box::new(Command::Unsubscribe {
                        subscription_id: sub_id,
                    }),
                });
            }
        }
        _ => {}
    }
    Vec::new()
}

/// Keeps the cursor on a subscriber.
pub fn on_catalog(p: &mut Portal, ctx: &Ctx) {
    let Some(v) = view(p) else { return };
    let n = subscribers(ctx, &v.api_id).len();
    if let PortalView::Api(v) = &mut p.view {
        v.cursor = v.cursor.min(n.saturating_sub(1));
    }
}

/// Draws an API's portal pages.
pub fn draw(ctx: &Ctx, v: &PortalApi, frame: &mut Frame, area: Rect, focused: bool) {
    let theme = ctx.theme;
    let Some(api) = ctx.api(&v.api_id) else {
        return;
    };
    let title = format!("Developer Portal - {} {}", api.name, api.version);
    let outer = block(theme, &title, focused);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let [tabs, body, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let mut spans = Vec::new();
    for (i, p) in PortalPage::ALL.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" | ", theme.muted()));
        }
        spans.push(Span::styled(
            p.label(),
            if *p == v.page {
                theme.tab_active()
            } else {
                theme.muted()
            },
        ));
    }
    spans.push(Span::styled("   h/l", theme.key()));
    frame.render_widget(Line::from(spans), tabs);
    let foot_hints: &[(&str, &str)] = match v.page {
        PortalPage::Overview => &[
            ("w", "wizard"),
            ("t", "try it"),
            ("h/l", "pages"),
            ("Esc", "back"),
        ],
        PortalPage::Subscriptions => &[
            ("w", "SUBSCRIPTION & KEY GENERATION WIZARD"),
            ("u", "unsubscribe"),
        ],
        PortalPage::TryIt => &[
            ("Enter/t", "open stream"),
            ("s", "stop"),
            ("y", "copy curl"),
            ("c", "copy token"),
            ("g", "new token"),
        ],
    };
    let foot_hints = for_role(ctx.config.can_subscribe(), foot_hints);
    frame.render_widget(hints(theme, &foot_hints), foot);
    match v.page {
        PortalPage::Overview => draw_overview(ctx, api, frame, body),
        PortalPage::Subscriptions => draw_subscriptions(ctx, api, v, frame, body, focused),
        PortalPage::TryIt => draw_try_it(ctx, api, v, frame, body, focused),
    }
}

fn draw_overview(ctx: &Ctx, api: &Api, frame: &mut Frame, area: Rect) {
    let theme = ctx.theme;
    let (gateway, deployed) = gateway_line(ctx, api);
    let plans: Vec<String> = api
        .policies
        .iter()
        .map(|p| match ctx.catalog.subscription_policy(p) {
            Some(plan) => format!("{p} ({})", plan.quota.describe()),
            None => p.clone(),
        })
        .collect();
    let subs: Vec<String> = subscribers(ctx, &api.id)
        .iter()
        .map(|(a, s)| format!("{} ({})", a.name, s.policy))
        .collect();
    let lines = vec![
        label_line(
            theme,
            "State",
            Span::styled(api.lifecycle.label(), theme.ok()),
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
        label_line(
            theme,
            "Topics",
            Span::styled(
                format!(
                    "{} (subscribe; e.g. {})",
                    api.topics.join(", "),
                    api.try_resource()
                ),
                theme.text(),
            ),
        ),
        label_line(theme, "Plans", Span::styled(plans.join(", "), theme.text())),
        label_line(
            theme,
            "Subscribers",
            Span::styled(
                if subs.is_empty() && ctx.config.can_subscribe() {
                    "none yet: press w".to_string()
                } else if subs.is_empty() {
                    "none yet (subscribing needs the subscriber role)".to_string()
                } else {
                    subs.join(", ")
                },
                theme.text(),
            ),
        ),
    ];
    frame.render_widget(Paragraph::new(lines), area);
}

fn draw_subscriptions(
    ctx: &Ctx,
    api: &Api,
    v: &PortalApi,
    frame: &mut Frame,
    area: Rect,
    focused: bool,
) {
    let theme = ctx.theme;
    let subs = subscribers(ctx, &api.id);
    let mut lines = Vec::new();
    if subs.is_empty() && !ctx.config.can_subscribe() {
        lines.push(Line::from(Span::styled(
            "No application is subscribed yet.",
            theme.text(),
        )));
        lines.push(Line::from(Span::styled(
            "Subscribing needs the subscriber role: the wizard, keys and tokens too.",
            theme.text(),
        )));
    } else if subs.is_empty() {
        lines.push(Line::from(Span::styled(
            "No application is subscribed yet.",
            theme.text(),
        )));
        lines.push(Line::from(vec![
            Span::styled("Press ", theme.text()),
            Span::styled("w", theme.key()),
            Span::styled(
                " (or Enter) for the SUBSCRIPTION & KEY GENERATION WIZARD: it creates an",
                theme.text(),
            ),
        ]));
        lines.push(Line::from(Span::styled(
            "application, subscribes it, generates keys and an access token.",
            theme.text(),
        )));
    } else {
        lines.push(Line::from(Span::styled(
            format!(
                "{:<2}{:<22} {:<16} {:<10} {}",
                "", "Application", "Plan", "Status", "Token"
            ),
            theme.muted(),
        )));
        for (i, (a, s)) in subs.iter().enumerate() {
            let selected = i == v.cursor;
            let token = if ctx.session.latest_token(&a.id).is_some() {
                "this session"
            } else if ctx.catalog.keys_of(&a.id).is_empty() {
                "no keys"
            } else if ctx.config.can_subscribe() {
                "g for one"
            } else {
                "none"
            };
            lines.push(Line::from(Span::styled(
                format!(
                    "{}{:<22} {:<16} {:<10} {token}",
                    marker(selected),
                    ellipsis(&a.name, 22),
                    s.policy,
                    s.status.as_str()
                ),
                if selected && focused {
                    theme.selection()
                } else {
                    theme.text()
                },
            )));
            lines.extend(crate::tui::charts::quota_gauge(
                ctx.analytics,
                theme,
                Span::raw("    "),
                &s.id,
                20,
                ctx.clock_ms(),
            ));
        }
    }
    frame.render_widget(Paragraph::new(lines), area);
}

fn draw_try_it(ctx: &Ctx, api: &Api, v: &PortalApi, frame: &mut Frame, area: Rect, focused: bool) {
    let theme = ctx.theme;
    let subs = subscribers(ctx, &api.id);
    let width = usize::from(area.width);
    let mut lines = Vec::new();
    if subs.is_empty() {
        lines.push(Line::from(Span::styled(
            if ctx.config.can_subscribe() {
                "No subscribed application yet: press w for the wizard."
            } else {
                NOT_A_SUBSCRIBER
            },
            theme.warning(),
        )));
    }
    for (i, (a, _)) in subs.iter().enumerate().take(3) {
        let selected = i == v.cursor;
        let token = match ctx.session.latest_token(&a.id) {
            Some(t) => format!(
                "token issued {} UTC, valid {} s",
                clock(t.issued_at * 1000),
                t.expires_in
            ),
            None if ctx.config.can_subscribe() => {
                "no token in this session (g generates one)".to_string()
            }
            None => "no token in this session".to_string(),
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("{}{:<22}", marker(selected), ellipsis(&a.name, 22)),
                if selected && focused {
                    theme.selection()
                } else {
                    theme.text()
                },
            ),
            Span::styled(format!(" {token}"), theme.muted()),
        ]));
    }
    let chosen = subs.get(v.cursor.min(subs.len().saturating_sub(1)));
    if let Some((a, _)) = chosen
        && let Some(t) = ctx.session.latest_token(&a.id)
    {
        lines.push(Line::from(Span::styled(
            "curl (y copies it whole):",
            theme.muted(),
        )));
        lines.push(Line::from(Span::styled(
            ellipsis(&ctx.curl_command(api, &t.access_token), width),
            theme.accent(),
        )));
    }
    let streams: Vec<String> = ctx
        .session
        .streams
        .iter()
        .filter(|(_, s)| s.api == api.handle())
        .rev()
        .take(2)
        .map(|(id, s)| match &s.state {
            StreamState::Opening => format!("#{id} opening..."),
            StreamState::Open => format!("#{id} open, {} events", s.events),
            StreamState::Ended(r) => format!("#{id} ended after {} events: {r}", s.events),
        })
        .collect();
    if !streams.is_empty() {
        lines.push(Line::from(Span::styled(
            ellipsis(&format!("Streams: {}", streams.join("; ")), width),
            theme.text(),
        )));
    }
    frame.render_widget(Paragraph::new(lines), area);
}
