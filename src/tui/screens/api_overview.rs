//! Publisher > API > Overview: what the API is, where the gateway serves it, who uses it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::publisher::Publisher;
use crate::catalog::Api;
use crate::tui::action::{Action, Command};
use crate::tui::screen::{Ctx, Effects};

use crate::tui::theme::Theme;
use crate::tui::widgets::hints;

/// Keys, for help.
pub fn keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("h/l, Left/Right", "previous / next page"),
        ("Esc", "back to the list of APIs"),
    ]
}

/// The Overview has nothing to change.
pub fn update(_p: &mut Publisher, _ctx: &Ctx, _fx: &mut Effects, _action: Action) -> Vec<Command> {
    Vec::new()
}

/// A `Label      value` line.
pub fn label_line<'a>(theme: &Theme, label: &str, value: Span<'a>) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{label:<14}"), theme.muted()),
        value,
    ])
}

/// Where the gateway serves an API, or why it does not.
pub fn gateway_line(ctx: &Ctx, api: &Api) -> (String, bool) {
    let deployments = ctx.catalog.deployments_of(&api.id);
    match (deployments.first(), ctx.config.gateway_host()) {
        (None, _) => ("not deployed (Deployments: n)".to_string(), false),
        (Some(_), None) => (
            "deployed, but the gateway is not running".to_string(),
            false,
        ),
        (Some(dep), Some(host)) => {
            let rev = ctx
                .catalog
                .revisions
                .get(&dep.revision_id)
                .map(|r| r.display_name())
                .unwrap_or_default();
            (format!("http://{host}{}  ({rev})", api.base_path()), true)
        }
    }
}

/// Draws the Overview.
pub fn draw(ctx: &Ctx, api: &Api, frame: &mut Frame, area: Rect) {
    let theme = ctx.theme;
    let endpoint = api
        .production_endpoint
        .clone()
        .or_else(|| api.sandbox_endpoint.clone())
        .unwrap_or_default();
    let (gateway, deployed) = gateway_line(ctx, api);
    let subs = ctx.catalog.subscriptions_of_api(&api.id).len();
    let lines = vec![
        label_line(
            theme,
            "Type",
            Span::styled("SSE (Server-Sent Events)", theme.text()),
        ),
        label_line(
            theme,
            "Context",
            Span::styled(api.context.clone(), theme.accent()),
        ),
        label_line(
            theme,
            "Version",
            Span::styled(api.version.clone(), theme.accent()),
        ),
        label_line(theme, "Endpoint", Span::styled(endpoint, theme.accent())),
        label_line(
            theme,
            "State",
            Span::styled(api.lifecycle.label(), theme.ok()),
        ),
        label_line(
            theme,
            "Plans",
            Span::styled(api.policies.join(", "), theme.text()),
        ),
        label_line(
            theme,
            "Topics",
            Span::styled(
                format!("{} (subscribe)", api.topics.join(", ")),
                theme.text(),
            ),
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
            "Subscriptions",
            Span::styled(subs.to_string(), theme.text()),
        ),
        Line::from(""),
        hints(
            theme,
            &[("h/l", "pages"), ("Esc", "back to APIs"), ("?", "keys")],
        ),
    ];
    frame.render_widget(Paragraph::new(lines), area);
}
