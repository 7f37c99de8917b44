//! Publisher > API > Analytics (and the same page for an application in the Developer
//! Portal): events per second over the last 5 minutes (1 s) and per minute over the last
//! 24 hours, open streams, rejections by code, backend errors and the top applications
//! (or APIs). The data comes from the runtime once a second ([`Action::Analytics`]); the
//! page only draws it.
//!
//! [`Action::Analytics`]: crate::tui::action::Action::Analytics

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

use super::publisher::Publisher;
use crate::analytics::{LiveView, Subject};
use crate::catalog::Api;
use crate::tui::action::{Action, Command};
use crate::tui::charts::fit;
use crate::tui::screen::{Ctx, Effects};
use crate::tui::widgets::hints;

/// Keys, for help.
pub fn keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("h/l, Left/Right", "previous / next page"),
        ("Esc", "back to the list of APIs"),
    ]
}

/// The page has nothing to change: it follows the gateway by itself.
pub fn update(_p: &mut Publisher, _ctx: &Ctx, _fx: &mut Effects, _action: Action) -> Vec<Command> {
    Vec::new()
}

/// The subject of an API's page.
pub fn subject(api: &Api) -> Subject {
    Subject::Api(api.handle())
}

/// Draws an API's Analytics page.
pub fn draw(ctx: &Ctx, api: &Api, frame: &mut Frame, area: Rect) {
    let hint = hints(
        ctx.theme,
        &[("h/l", "pages"), ("Esc", "back to APIs"), ("?", "keys")],
    );
    draw_view(ctx, &subject(api), "Top applications", hint, frame, area);
}

/// Draws the analytics of `subject` (from `ctx.analytics` when it is the one fed), with
/// `top_label` over the top list and `hint` on the last line.
pub fn draw_view(
    ctx: &Ctx,
    subject: &Subject,
    top_label: &str,
    hint: Line,
    frame: &mut Frame,
    area: Rect,
) {
    let theme = ctx.theme;
    let empty = LiveView::default();
    let view = if ctx.analytics.subject.as_ref() == Some(subject) {
        &ctx.analytics.view
    } else {
        &empty
    };
    let [live_title, live, day_title, day, counters, top, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let width = usize::from(area.width);
    let bars = ctx.analytics.glyphs.bar_set();

    let now = view.per_second.last().copied().unwrap_or(0);
    let peak = view.per_second.iter().max().copied().unwrap_or(0);
    frame.render_widget(
        Line::from(vec![
            Span::styled("Events/s, last 5 min (1 s)", theme.title()),
            Span::styled(format!("   now {now}/s  peak {peak}/s"), theme.text()),
        ]),
        live_title,
    );
    let last: Vec<u64> = view
        .per_second
        .iter()
        .skip(view.per_second.len().saturating_sub(width))
        .copied()
        .collect();
    frame.render_widget(
        Sparkline::default()
            .data(&last)
            .bar_set(bars.clone())
            .style(theme.event()),
        live,
    );

    let per_col = view.per_minute.len().div_ceil(width.max(1)).max(1);
    let day_data = fit(&view.per_minute, width);
    frame.render_widget(
        Line::from(vec![
            Span::styled("Events/min, last 24 h", theme.title()),
            Span::styled(
                format!("   {per_col} min a column  total {}", view.day.events),
                theme.text(),
            ),
        ]),
        day_title,
    );
    frame.render_widget(
        Sparkline::default()
            .data(&day_data)
            .bar_set(bars)
            .style(theme.accent()),
        day,
    );

    let rejections = view.day.rejections_total();
    let codes: Vec<String> = view
        .day
        .rejections
        .iter()
        .map(|(c, n)| format!("{c}x{n}"))
        .collect();
    let mut spans = vec![
        Span::styled("Open streams ", theme.muted()),
        Span::styled(view.open_streams.to_string(), theme.ok()),
        Span::styled("  Rejections ", theme.muted()),
        Span::styled(
            rejections.to_string(),
            if rejections > 0 {
                theme.warning()
            } else {
                theme.text()
            },
        ),
    ];
    if !codes.is_empty() {
        spans.push(Span::styled(
            format!(" ({})", codes.join(" ")),
            theme.text(),
        ));
    }
    spans.push(Span::styled("  Backend errors ", theme.muted()));
    spans.push(Span::styled(
        view.day.backend_errors.to_string(),
        if view.day.backend_errors > 0 {
            theme.error()
        } else {
            theme.text()
        },
    ));
    frame.render_widget(Line::from(spans), counters);

    let top_text = if view.top.is_empty() {
        "none yet".to_string()
    } else {
        view.top
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(format!("{top_label} (24 h): "), theme.muted()),
            Span::styled(top_text, theme.text()),
        ])),
        top,
    );
    frame.render_widget(hint, foot);
}
