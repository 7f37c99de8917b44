//! The live events pane: in-process stream events and the gateway's traffic log, with
//! follow/pause, scrolling and a filter. Always on screen, reached with Tab. The lines and
//! the view over them are in [`buffer`]; this file maps the pane's keys and draws it.

pub mod buffer;
pub mod chart;

pub use buffer::{LineKind, LiveLine, LivePane, SCROLLBACK_LINES};

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::tui::action::Action;
use crate::tui::screen::{Ctx, Effect, Effects, Screen};
use crate::tui::state::Level;

use super::ScreenId;
use crate::tui::widgets::{block, clock, ellipsis, wrap_chars};
use unicode_width::UnicodeWidthStr;

impl Screen for LivePane {
    fn id(&self) -> ScreenId {
        ScreenId::Live
    }

    fn help(&self) -> (&'static str, Vec<(&'static str, &'static str)>) {
        ("Live events", keys())
    }

    fn keymap(&self, c: char) -> Option<Action> {
        keymap(c)
    }

    fn is_typing(&self) -> bool {
        self.filter_editing
    }

    fn update(&mut self, _ctx: &Ctx, action: Action) -> Effects {
        let mut fx = Effects::none();
        update(self, &mut fx, action);
        fx
    }

    fn draw(&self, ctx: &Ctx, frame: &mut Frame, area: Rect) {
        draw(self, ctx, frame, area);
    }
}

/// The pane's letter keys.
pub fn keymap(c: char) -> Option<Action> {
    match c {
        'f' | ' ' => Some(Action::ToggleFollow),
        '/' => Some(Action::StartFilter),
        'C' => Some(Action::ClearLive),
        'w' => Some(Action::ToggleWrap),
        'v' => Some(Action::ToggleChart),
        'n' => Some(Action::NextField),
        _ => None,
    }
}

/// Keys, for help.
pub fn keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("j/k, PgUp/PgDn", "scroll (pauses following)"),
        ("g / G", "oldest / newest line (G follows again)"),
        ("f or Space", "follow or pause"),
        ("/", "filter: type, Enter keeps it, Esc clears it"),
        ("w", "wrap long lines, or cut them"),
        ("v / n", "lines or chart of a JSON number / next field"),
        ("C", "clear the pane"),
        ("z", "give the pane the whole screen"),
        ("Tab", "back to the screen above"),
    ]
}

/// The pane's part of `update`.
pub fn update(live: &mut LivePane, fx: &mut Effects, action: Action) {
    if live.filter_editing {
        match action {
            Action::Enter => live.filter_editing = false,
            Action::Back => {
                live.filter.clear();
                live.filter_editing = false;
                live.filter_changed();
            }
            Action::Char(c) => {
                live.filter.insert(c);
                live.filter_changed();
            }
            Action::Paste(s) => {
                live.filter.insert_str(&s);
                live.filter_changed();
            }
            Action::Backspace => {
                live.filter.backspace();
                live.filter_changed();
            }
            Action::ClearField => {
                live.filter.clear();
                live.filter_changed();
            }
            Action::Delete => {
                live.filter.delete();
                live.filter_changed();
            }
            Action::Left => live.filter.left(),
            Action::Right => live.filter.right(),
            _ => {}
        }
        return;
    }
    match action {
        Action::Up => live.scroll_up(1),
        Action::Down => live.scroll_down(1),
        Action::PageUp => live.scroll_up(10),
        Action::PageDown => live.scroll_down(10),
        Action::Top => live.top(),
        Action::Bottom => live.bottom(),
        Action::ToggleFollow | Action::Toggle => live.toggle_follow(),
        Action::StartFilter => live.filter_editing = true,
        Action::ClearLive => {
            live.clear();
            live.chart.clear();
        }
        Action::ToggleWrap => live.wrap = !live.wrap,
        Action::ToggleChart => {
            if let Err(why) = live.chart.toggle() {
                fx.status(Level::Warning, why);
            }
        }
        Action::NextField => live.chart.next_field(),
        Action::Back => {
            if live.filter.value().is_empty() {
                fx.push(Effect::FocusMain);
            } else {
                live.filter.clear();
                live.filter_changed();
            }
        }
        _ => {}
    }
}

/// Draws the pane.
pub fn draw(live: &LivePane, ctx: &Ctx, frame: &mut Frame, area: Rect) {
    let theme = ctx.theme;
    let focused = ctx.focused;
    let mode = if live.follow { "following" } else { "paused" };
    let filter = if live.filter.value().is_empty() && !live.filter_editing {
        String::new()
    } else {
        format!(
            " filter: {}{}",
            live.filter.value(),
            if live.filter_editing { "_" } else { "" }
        )
    };
    let wrap = if live.wrap { " wrap" } else { "" };
    let title = format!("Live events [{mode}{wrap}]{filter}  {} lines", live.len());
    let outer = block(theme, &title, focused);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    if inner.height == 0 {
        return;
    }
    if live.chart.on {
        chart::draw(&live.chart, theme, ctx.analytics.glyphs, frame, inner);
        return;
    }
    let width = usize::from(inner.width);
    let height = usize::from(inner.height);
    let lines: Vec<Line> = if live.is_empty() {
        vec![Line::from(Span::styled(
            "Events of Try-it streams and the gateway's traffic (curl too) appear here.",
            theme.muted(),
        ))]
    } else {
        let mut rows = Vec::new();
        for l in live.view(height) {
            let style = match l.kind {
                LineKind::Event => theme.event(),
                LineKind::Comment => theme.muted(),
                LineKind::Opened => theme.ok(),
                LineKind::Rejected | LineKind::Error => theme.error(),
                LineKind::Closed => theme.warning(),
                LineKind::Info => theme.accent(),
            };
            let prefix = format!("{} {:<10} ", clock(l.at), l.source);
            // Columns, not bytes: a source may hold wide or accented characters.
            let lead_width = prefix.width();
            let rest = width.saturating_sub(lead_width).max(1);
            if live.wrap {
                for (i, piece) in wrap_chars(&l.text, rest).into_iter().enumerate() {
                    let lead = if i == 0 {
                        Span::styled(prefix.clone(), theme.muted())
                    } else {
                        Span::raw(" ".repeat(lead_width))
                    };
                    rows.push(Line::from(vec![lead, Span::styled(piece, style)]));
                }
            } else {
                rows.push(Line::from(vec![
                    Span::styled(prefix, theme.muted()),
                    Span::styled(ellipsis(&l.text, rest), style),
                ]));
            }
        }
        // Wrapped lines take more rows: keep the newest that fit.
        let skip = rows.len().saturating_sub(height);
        rows.split_off(skip)
    };
    frame.render_widget(Paragraph::new(lines), inner);
}
