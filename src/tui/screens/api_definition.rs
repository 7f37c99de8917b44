//! Publisher > API > AsyncAPI: the API's AsyncAPI 2.0.0 definition, as WSO2 shows it
//! (servers.production with protocol `sse`, one subscribe channel per topic).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::publisher::Publisher;
use crate::catalog::Api;
use crate::tui::action::{Action, Command};
use crate::tui::screen::Ctx;

use crate::tui::widgets::hints;

use super::publisher::{ApiView, PublisherView};

/// Keys, for help.
pub fn keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("j/k, PgUp/PgDn", "scroll"),
        ("h/l", "previous / next page"),
        ("Esc", "back to the list of APIs"),
    ]
}

/// Quotes a YAML scalar when it could be misread.
fn yaml(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:".contains(c))
        && !s.starts_with(['-', ':', '/'])
        && !s.contains(": ");
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// The AsyncAPI 2.0.0 definition of an API, as YAML.
pub fn asyncapi_yaml(api: &Api) -> String {
    let mut out = String::new();
    out.push_str("asyncapi: 2.0.0\n");
    out.push_str("info:\n");
    out.push_str(&format!("  title: {}\n", yaml(&api.name)));
    out.push_str(&format!("  version: {}\n", yaml(&api.version)));
    out.push_str("servers:\n");
    if let Some(url) = &api.production_endpoint {
        out.push_str(&format!(
            "  production:\n    url: {}\n    protocol: sse\n",
            yaml(url)
        ));
    }
    if let Some(url) = &api.sandbox_endpoint {
        out.push_str(&format!(
            "  sandbox:\n    url: {}\n    protocol: sse\n",
            yaml(url)
        ));
    }
    out.push_str("channels:\n");
    for topic in &api.topics {
        out.push_str(&format!("  {}:\n", yaml(topic)));
        out.push_str("    subscribe:\n      message:\n        payload:\n          type: string\n");
    }
    out
}

/// The page's part of `update`: scrolling.
pub fn update(p: &mut Publisher, action: Action) -> Vec<Command> {
    let PublisherView::Api(v) = &mut p.view else {
        return Vec::new();
    };
    let s = &mut v.definition_scroll;
    match action {
        Action::Up => *s = s.saturating_sub(1),
        Action::Down => *s = s.saturating_add(1).min(40),
        Action::PageUp => *s = s.saturating_sub(10),
        Action::PageDown => *s = s.saturating_add(10).min(40),
        Action::Top => *s = 0,
        _ => {}
    }
    Vec::new()
}

/// Draws the page.
pub fn draw(ctx: &Ctx, api: &Api, view: &ApiView, frame: &mut Frame, area: Rect) {
    let theme = ctx.theme;
    let [body, foot] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    let text = asyncapi_yaml(api);
    let lines: Vec<Line> = text
        .lines()
        .map(|l| match l.split_once(':') {
            Some((k, v)) if !v.is_empty() => Line::from(vec![
                Span::styled(format!("{k}:"), theme.muted()),
                Span::styled(v.to_string(), theme.accent()),
            ]),
            _ => Line::from(Span::styled(l.to_string(), theme.muted())),
        })
        .collect();
    let max = lines.len().saturating_sub(usize::from(body.height));
    let scroll = u16::try_from(view.definition_scroll.min(max)).unwrap_or(0);
    frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), body);
    frame.render_widget(
        hints(
            theme,
            &[("j/k", "scroll"), ("h/l", "pages"), ("Esc", "back")],
        ),
        foot,
    );
}
