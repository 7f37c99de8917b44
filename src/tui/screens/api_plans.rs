//! Publisher > API > Business Plans, WSO2's Subscriptions page: a checkbox per
//! subscription plan with its event quota, and Save; below them the API's subscriptions,
//! each with its quota gauge (used / limit, when the window resets, throttled), the same
//! gauge as the Developer Portal's Subscriptions page.

use std::collections::BTreeSet;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::publisher::Publisher;
use crate::catalog::Api;
use crate::tui::action::{Action, Command};
use crate::tui::charts::quota_gauge;
use crate::tui::screen::{Ctx, Effects};
use crate::tui::screens::live::LineKind;
use crate::tui::state::Level;
use crate::tui::widgets::{checkbox, ellipsis, hints, marker};

use super::move_cursor;
use super::publisher::{ApiView, PublisherView};

/// The Business Plans page's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlansPage {
    /// The selected plan.
    pub cursor: usize,
    /// Ticks not yet saved (`None`: the API's own plans).
    pub edited: Option<BTreeSet<String>>,
    /// Waiting for control.
    pub busy: bool,
}

impl PlansPage {
    /// The ticked plans: the edit, or the API's.
    pub fn checked(&self, api: &Api) -> BTreeSet<String> {
        self.edited
            .clone()
            .unwrap_or_else(|| api.policies.iter().cloned().collect())
    }
}

/// The page's letter keys.
pub fn keymap(c: char) -> Option<Action> {
    match c {
        's' => Some(Action::Save),
        _ => None,
    }
}

/// Keys, for help.
pub fn keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("j/k", "select a plan"),
        ("Space/Enter", "tick or untick it"),
        ("s", "save the ticked plans"),
        ("h/l", "previous / next page"),
        ("Esc", "back to the list of APIs"),
    ]
}

fn view(p: &mut Publisher) -> Option<&mut ApiView> {
    match &mut p.view {
        PublisherView::Api(v) => Some(v),
        _ => None,
    }
}

/// The page's part of `update`.
pub fn update(p: &mut Publisher, ctx: &Ctx, fx: &mut Effects, action: Action) -> Vec<Command> {
    let catalog = ctx.catalog.clone();
    let plans: Vec<String> = catalog
        .subscription_policies
        .iter()
        .map(|p| p.name.clone())
        .collect();
    let Some(v) = view(p) else {
        return Vec::new();
    };
    let Some(api) = catalog.apis.get(&v.api_id) else {
        return Vec::new();
    };
    let page = &mut v.plans;
    if move_cursor(&mut page.cursor, plans.len(), &action) {
        return Vec::new();
    }
    match action {
        Action::Toggle | Action::Enter => {
            if let Some(name) = plans.get(page.cursor) {
                let mut checked = page.checked(api);
                if !checked.remove(name) {
                    checked.insert(name.clone());
                }
                page.edited = Some(checked);
            }
            Vec::new()
        }
        Action::Save => {
            if page.busy {
                return Vec::new();
            }
            let checked = page.checked(api);
            if checked.is_empty() {
                fx.error("Tick at least one business plan before saving");
                return Vec::new();
            }
            page.busy = true;
            // Keep the catalog's order of plans, not the set's.
            let ordered: Vec<String> = plans.into_iter().filter(|p| checked.contains(p)).collect();
            let api_id = api.id.clone();
            fx.status(Level::Info, "Saving business plans...");
            vec![Command::SetPlans {
                api_id,
                plans: ordered,
            }]
        }
        _ => Vec::new(),
    }
}

/// Control answered `SetPlans`.
pub fn on_saved(p: &mut Publisher, fx: &mut Effects, result: Result<Api, String>) -> Vec<Command> {
    if let Some(v) = view(p) {
        v.plans.busy = false;
        if result.is_ok() {
            v.plans.edited = None;
        }
    }
    match result {
        Ok(api) => {
            let text = format!(
                "Saved business plans of {}: {}",
                api.handle(),
                api.policies.join(", ")
            );
            fx.log(LineKind::Info, text);
            // The plans are ticked on the page; the status line keeps the next step in view.
            fx.status(
                Level::Ok,
                "Business plans saved. Next: Lifecycle (l) to publish",
            );
        }
        Err(e) => fx.error(e),
    }
    Vec::new()
}

/// Keeps the cursor within the plans.
pub fn on_catalog(p: &mut Publisher, ctx: &Ctx) {
    let n = ctx.catalog.subscription_policies.len();
    if let Some(v) = view(p) {
        v.plans.cursor = v.plans.cursor.min(n.saturating_sub(1));
    }
}

/// Draws the page.
pub fn draw(ctx: &Ctx, api: &Api, view: &ApiView, frame: &mut Frame, area: Rect, focused: bool) {
    let theme = ctx.theme;
    let page = &view.plans;
    let checked = page.checked(api);
    let [list, foot] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    let mut lines = vec![Line::from(Span::styled(
        "Plans subscribers may choose (each counts events sent to the client):",
        theme.muted(),
    ))];
    for (i, plan) in ctx.catalog.subscription_policies.iter().enumerate() {
        let selected = i == page.cursor;
        let style = if selected && focused {
            theme.selection()
        } else {
            theme.text()
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    "{}{} {:<16}",
                    marker(selected),
                    checkbox(checked.contains(&plan.name)),
                    plan.display_name
                ),
                style,
            ),
            Span::styled(format!(" {}", plan.quota.describe()), theme.accent()),
        ]));
    }
    let dirty = page.edited.as_ref().is_some_and(|e| {
        let saved: BTreeSet<String> = api.policies.iter().cloned().collect();
        *e != saved
    });
    lines.push(Line::from(""));
    if page.busy {
        lines.push(Line::from(Span::styled("Saving...", theme.muted())));
    } else if dirty {
        lines.push(Line::from(Span::styled(
            "Unsaved changes: press s to save",
            theme.warning(),
        )));
    }
    lines.extend(subscription_lines(ctx, api));
    frame.render_widget(Paragraph::new(lines), list);
    frame.render_widget(
        hints(
            theme,
            &[
                ("Space", "tick"),
                ("s", "save"),
                ("h/l", "pages"),
                ("Esc", "back"),
            ],
        ),
        foot,
    );
}

/// The API's subscriptions (application, plan, status) with their quota gauges once the
/// runtime has fed them.
fn subscription_lines(ctx: &Ctx, api: &Api) -> Vec<Line<'static>> {
    let theme = ctx.theme;
    let subs = super::portal_api::subscribers(ctx, &api.id);
    let mut lines = vec![Line::from(Span::styled(
        format!("Subscriptions ({})", subs.len()),
        theme.muted(),
    ))];
    if subs.is_empty() {
        lines.push(Line::from(Span::styled("  none yet", theme.muted())));
    }
    for (app, sub) in subs {
        lines.push(Line::from(Span::styled(
            format!(
                "  {:<22} {:<16} {}",
                ellipsis(&app.name, 22),
                sub.policy,
                sub.status.as_str()
            ),
            theme.text(),
        )));
        lines.extend(quota_gauge(
            ctx.analytics,
            theme,
            Span::raw("    "),
            &sub.id,
            20,
            ctx.clock_ms(),
        ));
    }
    lines
}
