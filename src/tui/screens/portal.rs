//! The Developer Portal tab: its state, the published APIs (its first screen) and the
//! switch to Applications.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, TableState};

use crate::tui::action::{Action, Command, Done};
use crate::tui::screen::{Ctx, Effects, Screen};
use crate::tui::state::Level;
use crate::tui::theme::Theme;
use crate::tui::widgets::{block, hints};

use super::applications::AppDetail;
use super::portal_api::{PortalApi, PortalPage};
use super::wizard::Wizard;
use super::{ScreenId, applications, move_cursor, portal_api, wizard};

/// The Developer Portal's state.
#[derive(Debug, Clone, Default)]
pub struct Portal {
    /// What it shows.
    pub view: PortalView,
    /// The selected published API.
    pub api_cursor: usize,
    /// The selected application.
    pub app_cursor: usize,
}

/// What the Developer Portal shows.
#[derive(Debug, Clone, Default)]
pub enum PortalView {
    /// Published APIs.
    #[default]
    Apis,
    /// Applications.
    Applications,
    /// One API.
    Api(PortalApi),
    /// One application.
    App(AppDetail),
    /// The Subscription & Key Generation Wizard.
    Wizard(Box<Wizard>),
}

impl Screen for Portal {
    fn id(&self) -> ScreenId {
        screen(self)
    }

    fn help(&self) -> (&'static str, Vec<(&'static str, &'static str)>) {
        match self.id() {
            ScreenId::PortalApi => ("API in the Developer Portal", portal_api::keys()),
            ScreenId::Wizard => ("Subscription & Key Generation Wizard", wizard::keys()),
            ScreenId::Applications => ("Applications", applications::keys()),
            _ => ("Developer Portal", keys()),
        }
    }

    fn keymap(&self, c: char) -> Option<Action> {
        match self.id() {
            ScreenId::PortalApis => keymap(c),
            ScreenId::PortalApi => portal_api::keymap(c),
            ScreenId::Wizard => wizard::keymap(self, c),
            ScreenId::Applications => applications::keymap(c),
            _ => None,
        }
    }

    fn is_typing(&self) -> bool {
        wizard::is_typing(self)
    }

    fn update(&mut self, ctx: &Ctx, action: Action) -> Effects {
        let mut fx = Effects::none();
        let commands = match action {
            Action::Done(Done::AppCreated(result)) => wizard::on_app_created(self, &mut fx, result),
            Action::Done(Done::Subscribed(result)) => wizard::on_subscribed(self, &mut fx, result),
            Action::Done(Done::KeysGenerated { app_id, result }) => {
                wizard::on_keys(self, &mut fx, &app_id, result)
            }
            Action::Done(Done::TokenGenerated { app_id, result }) => {
                wizard::on_token(self, ctx, &mut fx, &app_id, result)
            }
            Action::Done(_) => Vec::new(),
            other => update(self, ctx, &mut fx, other),
        };
        fx.commands(commands);
        fx
    }

    fn on_catalog(&mut self, ctx: &Ctx) {
        on_catalog(self, ctx);
    }

    fn draw(&self, ctx: &Ctx, frame: &mut Frame, area: Rect) {
        draw(self, ctx, frame, area, ctx.focused);
    }
}

/// The screen the portal shows.
pub fn screen(p: &Portal) -> ScreenId {
    match &p.view {
        PortalView::Apis => ScreenId::PortalApis,
        PortalView::Applications | PortalView::App(_) => ScreenId::Applications,
        PortalView::Api(_) => ScreenId::PortalApi,
        PortalView::Wizard(_) => ScreenId::Wizard,
    }
}

/// The list's letter keys.
pub fn keymap(c: char) -> Option<Action> {
    match c {
        'w' => Some(Action::OpenWizard),
        't' => Some(Action::TryIt),
        _ => None,
    }
}

/// The Developer Portal's keys that act as a subscriber (the wizard, unsubscribing,
/// keys and tokens, deleting an application): their commands need the subscriber role.
const SUBSCRIBER_KEYS: [&str; 7] = ["w", "u", "g", "c", "y", "c / y", "x"];

/// Key hints as `can_subscribe` may use them: without the subscriber role, the Developer
/// Portal's subscriber-only keys are left out (their commands would be refused).
pub fn for_role<'a>(can_subscribe: bool, pairs: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    pairs
        .iter()
        .filter(|(key, _)| can_subscribe || !SUBSCRIBER_KEYS.contains(key))
        .copied()
        .collect()
}

/// Keys, for help.
pub fn keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("j/k", "select an API"),
        ("Enter", "open its overview"),
        ("w", "Subscription & Key Generation Wizard"),
        ("t", "Try it (stream into the live pane)"),
        ("h/l", "APIs / Applications"),
    ]
}

/// Opens an API's portal page.
pub fn open_api(p: &mut Portal, api_id: &str, page: PortalPage) {
    p.view = PortalView::Api(PortalApi::new(api_id, page));
}

/// Routes an action within the portal.
pub fn update(p: &mut Portal, ctx: &Ctx, fx: &mut Effects, action: Action) -> Vec<Command> {
    match &p.view {
        PortalView::Apis => update_list(p, ctx, fx, action),
        PortalView::Applications | PortalView::App(_) => applications::update(p, ctx, fx, action),
        PortalView::Api(_) => portal_api::update(p, ctx, fx, action),
        PortalView::Wizard(_) => wizard::update(p, ctx, fx, action),
    }
}

fn update_list(p: &mut Portal, ctx: &Ctx, fx: &mut Effects, action: Action) -> Vec<Command> {
    let catalog = ctx.catalog.clone();
    let apis = catalog.portal_apis();
    if move_cursor(&mut p.api_cursor, apis.len(), &action) {
        return Vec::new();
    }
    let selected = apis.get(p.api_cursor).copied();
    match (action, selected) {
        (Action::Left | Action::Right, _) => p.view = PortalView::Applications,
        (Action::Enter, Some(api)) => open_api(p, &api.id, PortalPage::Overview),
        (Action::OpenWizard, Some(api)) => return wizard::open(p, ctx, fx, api),
        (Action::TryIt, Some(api)) => {
            open_api(p, &api.id, PortalPage::TryIt);
            return portal_api::try_it(p, ctx, fx);
        }
        (Action::Enter | Action::OpenWizard | Action::TryIt, None) => fx.status(
            Level::Info,
            "No published API yet: publish one in the Publisher (1), Lifecycle page",
        ),
        _ => {}
    }
    Vec::new()
}

/// Leaves views of things that are gone; clamps cursors.
pub fn on_catalog(p: &mut Portal, ctx: &Ctx) {
    let catalog = ctx.catalog.clone();
    p.api_cursor = p
        .api_cursor
        .min(catalog.portal_apis().len().saturating_sub(1));
    p.app_cursor = p
        .app_cursor
        .min(catalog.applications.len().saturating_sub(1));
    let gone = match &p.view {
        PortalView::Api(v) => !catalog
            .apis
            .get(&v.api_id)
            .is_some_and(|a| a.lifecycle.visible_in_portal()),
        PortalView::App(v) => !catalog.applications.contains_key(&v.app_id),
        _ => false,
    };
    if gone {
        p.view = PortalView::Apis;
    }
    portal_api::on_catalog(p, ctx);
    applications::on_catalog(p, ctx);
}

/// The `APIs | Applications` line.
pub fn sub_tabs<'a>(theme: &Theme, apis: bool) -> Line<'a> {
    let style = |on: bool| {
        if on {
            theme.tab_active()
        } else {
            theme.muted()
        }
    };
    Line::from(vec![
        Span::styled("APIs", style(apis)),
        Span::styled(" | ", theme.muted()),
        Span::styled("Applications", style(!apis)),
        Span::styled("   h/l", theme.key()),
    ])
}

/// Draws the portal.
pub fn draw(p: &Portal, ctx: &Ctx, frame: &mut Frame, area: Rect, focused: bool) {
    match &p.view {
        PortalView::Apis => draw_list(p, ctx, frame, area, focused),
        PortalView::Applications | PortalView::App(_) => {
            applications::draw(p, ctx, frame, area, focused)
        }
        PortalView::Api(v) => portal_api::draw(ctx, v, frame, area, focused),
        PortalView::Wizard(w) => wizard::draw(ctx, w, frame, area, focused),
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
    frame.render_widget(sub_tabs(theme, true), tabs);
    let apis = ctx.catalog.portal_apis();
    if apis.is_empty() {
        frame.render_widget(
            Paragraph::new(vec![
                Line::from(Span::styled("  No published APIs yet.", theme.text())),
                Line::from(Span::styled(
                    "  Publish one in the Publisher (press 1): open the API, Lifecycle, Publish.",
                    theme.muted(),
                )),
            ]),
            body,
        );
    } else {
        let widths = [
            Constraint::Fill(2),
            Constraint::Length(8),
            Constraint::Fill(2),
            Constraint::Length(12),
            Constraint::Fill(3),
            Constraint::Length(4),
        ];
        // The Plans column's width as the table lays it out (after the "> " marker, one
        // space between columns), so a cut list ends with "..." instead of a bogus name.
        let plans_width = Layout::horizontal(widths)
            .spacing(1)
            .split(Rect::new(0, 0, body.width.saturating_sub(2), 1))
            .get(4)
            .map_or(0, |r| usize::from(r.width));
        let rows = apis.iter().map(|api| {
            let subs = ctx.catalog.subscriptions_of_api(&api.id).len();
            Row::new(vec![
                api.name.clone(),
                api.version.clone(),
                api.context.clone(),
                api.lifecycle.label().to_string(),
                crate::tui::widgets::ellipsis(&api.policies.join(","), plans_width),
                subs.to_string(),
            ])
        });
        let table = Table::new(rows, widths)
            .header(
                Row::new(vec!["Name", "Version", "Context", "State", "Plans", "Subs"])
                    .style(theme.muted()),
            )
            .row_highlight_style(if focused {
                theme.selection()
            } else {
                theme.text()
            })
            .highlight_symbol("> ");
        let mut state = TableState::default().with_selected(Some(p.api_cursor));
        frame.render_stateful_widget(table, body, &mut state);
    }
    frame.render_widget(
        hints(
            theme,
            &for_role(
                ctx.config.can_subscribe(),
                &[
                    ("Enter", "overview"),
                    ("w", "wizard"),
                    ("t", "try it"),
                    ("h/l", "Applications"),
                ],
            ),
        ),
        foot,
    );
}
