//! Publisher > API > Lifecycle: the current state and only the actions allowed from it,
//! each confirmed before it runs.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::publisher::Publisher;
use crate::catalog::{Api, LifecycleAction, LifecycleState};
use crate::tui::action::{Action, Command};
use crate::tui::screen::{Ctx, Effects};
use crate::tui::state::Overlay;
use crate::tui::widgets::{hints, marker};

use super::move_cursor;
use super::publisher::{ApiView, PublisherView};

/// Keys, for help.
pub fn keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("j/k", "select an action allowed from the current state"),
        ("Enter", "run it (asks to confirm)"),
        ("h/l", "previous / next page"),
        ("Esc", "back to the list of APIs"),
    ]
}

/// What a state means, in one line.
pub fn meaning(state: LifecycleState) -> &'static str {
    match state {
        LifecycleState::Created => "designed; not in the Developer Portal",
        LifecycleState::Prototyped => "try it without subscribing",
        LifecycleState::Published => "in the Developer Portal; subscribable",
        LifecycleState::Blocked => "gateway answers 503 (700700)",
        LifecycleState::Deprecated => "no new subscriptions",
        LifecycleState::Retired => "gone from gateway and portal",
    }
}

/// The page's part of `update`.
pub fn update(p: &mut Publisher, ctx: &Ctx, fx: &mut Effects, action: Action) -> Vec<Command> {
    let catalog = ctx.catalog.clone();
    let PublisherView::Api(v) = &mut p.view else {
        return Vec::new();
    };
    let Some(api) = catalog.apis.get(&v.api_id) else {
        return Vec::new();
    };
    let actions = api.lifecycle.allowed_actions();
    if move_cursor(&mut v.lifecycle_cursor, actions.len(), &action) {
        return Vec::new();
    }
    if matches!(action, Action::Enter | Action::Toggle)
        && let Some(chosen) = actions.get(v.lifecycle_cursor)
    {
        fx.overlay(confirm(api, *chosen));
    }
    Vec::new()
}

fn confirm(api: &Api, action: LifecycleAction) -> Overlay {
    let target = action.target();
    Overlay::Confirm {
        title: action.as_str().to_string(),
        message: format!(
            "{} {}? It moves from {} to {}: {}.",
            action.as_str(),
            api.handle(),
            api.lifecycle.label(),
            target.label(),
            meaning(target)
        ),
        command: Box::new(Command::ChangeLifecycle {
            api_id: api.id.clone(),
            action,
        }),
    }
}

/// Draws the page.
pub fn draw(ctx: &Ctx, api: &Api, view: &ApiView, frame: &mut Frame, area: Rect, focused: bool) {
    let theme = ctx.theme;
    let [body, foot] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    let mut path = vec![Span::raw("  ")];
    for (i, state) in LifecycleState::ALL.iter().enumerate() {
        if i > 0 {
            path.push(Span::styled(" > ", theme.muted()));
        }
        let style = if *state == api.lifecycle {
            theme.tab_active()
        } else {
            theme.muted()
        };
        path.push(Span::styled(state.label(), style));
    }
    let mut lines = vec![
        Line::from(vec![
            Span::styled("Current state ", theme.muted()),
            Span::styled(api.lifecycle.label().to_uppercase(), theme.ok()),
            Span::styled(format!("  {}", meaning(api.lifecycle)), theme.muted()),
        ]),
        Line::from(path),
        Line::from(""),
    ];
    let actions = api.lifecycle.allowed_actions();
    if actions.is_empty() {
        lines.push(Line::from(Span::styled(
            "No action is allowed from Retired.",
            theme.muted(),
        )));
    } else {
        lines.push(Line::from(Span::styled(
            format!("Actions allowed from {}:", api.lifecycle.label()),
            theme.text(),
        )));
        for (i, a) in actions.iter().enumerate() {
            let selected = i == view.lifecycle_cursor;
            let style = if selected && focused {
                theme.selection()
            } else {
                theme.accent()
            };
            lines.push(Line::from(vec![
                Span::styled(format!("{}{:<22}", marker(selected), a.as_str()), style),
                Span::styled(
                    format!(" -> {}: {}", a.target().label(), meaning(a.target())),
                    theme.muted(),
                ),
            ]));
        }
    }
    frame.render_widget(Paragraph::new(lines), body);
    frame.render_widget(
        hints(
            theme,
            &[
                ("Enter", "run (confirm)"),
                ("h/l", "pages"),
                ("Esc", "back"),
            ],
        ),
        foot,
    );
}
