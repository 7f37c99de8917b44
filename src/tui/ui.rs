//! The whole frame: tab bar, the current screen, the live pane, the status line and any
//! dialog on top. Only reads the state.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::action::Tab;
use super::app::{App, Focus, Level, STATUS_TICKS};
use super::screens::{dialogs, tutorial};
use super::widgets::ellipsis;

/// Smallest size the UI draws itself in.
pub const MIN_WIDTH: u16 = 60;
/// Smallest height.
pub const MIN_HEIGHT: u16 = 16;

/// Draws the UI.
pub fn draw(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "streamgate needs at least {MIN_WIDTH}x{MIN_HEIGHT} (80x24 is best); this terminal is {}x{}. q quits.",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    let [header, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(app, frame, header);
    let wizard = app.in_wizard();
    let (main, live) = match (app.zoom, app.focus) {
        (true, Focus::Live) => (None, Some(body)),
        (true, Focus::Main) => (Some(body), None),
        (false, _) if wizard && app.focus == Focus::Main => (Some(body), None),
        (false, _) => {
            let live_height = (body.height / 3).max(6);
            let [m, l] =
                Layout::vertical([Constraint::Min(1), Constraint::Length(live_height)]).areas(body);
            (Some(m), Some(l))
        }
    };
    if let Some(main) = main {
        app.draw_main(frame, main);
    }
    if let Some(live) = live {
        app.draw_live(frame, live);
    }
    draw_status(app, frame, status);
    if let Some(overlay) = &app.overlay {
        dialogs::draw(overlay, app.help(), &app.theme, frame, area);
    }
}

fn draw_header(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let mut spans = vec![Span::styled(" streamgate ", theme.title())];
    for (i, tab) in Tab::ALL.iter().enumerate() {
        let style = if *tab == app.tab {
            theme.tab_active()
        } else {
            theme.muted()
        };
        spans.push(Span::styled(format!(" {}", i + 1), theme.key()));
        spans.push(Span::styled(format!(" {} ", tab.label()), style));
    }
    let left = Line::from(spans);
    let used = left.width();
    frame.render_widget(left, area);
    if app.config.signed_in || app.config.principal != crate::control::Principal::local_operator() {
        // Signed in with --user (admin too): who, and their roles, instead of the key hints.
        let p = &app.config.principal;
        let roles: Vec<&str> = p.roles.iter().map(|r| r.as_str()).collect();
        let who = format!("{} ({})", p.user, roles.join(","));
        // A space after the tabs; the margin at the right edge only when it fits, so that
        // `dev1 (subscriber)` is whole at 80 columns.
        let room = usize::from(area.width).saturating_sub(used + 1);
        let text = if who.chars().count() < room {
            format!("{who} ")
        } else {
            ellipsis(&who, room)
        };
        let right = Line::from(Span::styled(text, theme.title())).right_aligned();
        frame.render_widget(right, area);
        return;
    }
    let right = Line::from(vec![
        Span::styled("?", theme.key()),
        Span::styled(" keys  ", theme.muted()),
        Span::styled("q", theme.key()),
        Span::styled(" quit ", theme.muted()),
    ])
    .right_aligned();
    frame.render_widget(right, area);
}

fn draw_status(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let width = usize::from(area.width.saturating_sub(1));
    let line = match &app.status {
        Some(status) if status.age < STATUS_TICKS => {
            let style = match status.level {
                Level::Info => theme.text(),
                Level::Ok => theme.ok(),
                Level::Warning => theme.warning(),
                Level::Error => theme.error(),
            };
            Line::from(Span::styled(
                format!(" {}", ellipsis(&status.text, width)),
                style,
            ))
        }
        _ => match tutorial::hint(&app.ctx()) {
            Some(hint) => Line::from(Span::styled(
                format!(" {}", ellipsis(&hint, width)),
                theme.muted(),
            )),
            None => Line::from(Span::styled(
                " Tab: live pane   ?: keys of this screen   T: theme",
                theme.muted(),
            )),
        },
    };
    frame.render_widget(line, area);
}
