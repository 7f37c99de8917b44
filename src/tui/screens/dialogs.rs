//! Dialogs drawn over everything: the keys of the current screen (`?`), "are you sure?"
//! before a command, and quitting while streams are open.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use crate::tui::state::Overlay;
use crate::tui::theme::Theme;
use crate::tui::widgets::{block, centered, hints};

/// Keys that work everywhere (outside text fields).
pub const GLOBAL_KEYS: [(&str, &str); 8] = [
    ("1 2 3 4", "Publisher, Dev Portal, Servers, Tutorial"),
    ("Tab", "switch between the screen and the live pane"),
    ("Enter / Esc", "open or choose / back or cancel"),
    ("j k h l", "or the arrow keys: move"),
    ("z", "zoom the focused pane"),
    ("T", "next colour theme"),
    ("?  F1", "this help"),
    ("q  Ctrl-C", "quit (asks while streams are open)"),
];

/// Draws a dialog; `help` is the current screen's title and keys (for [`Overlay::Help`]).
pub fn draw(
    overlay: &Overlay,
    help: (&str, Vec<(&str, &str)>),
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    match overlay {
        Overlay::Help => {
            let (name, keys) = help;
            let mut lines = vec![Line::from(Span::styled(format!("{name}:"), theme.title()))];
            for (k, what) in &keys {
                lines.push(Line::from(vec![
                    Span::styled(format!("  {k:<20}"), theme.key()),
                    Span::styled(*what, theme.text()),
                ]));
            }
            lines.push(Line::from(Span::styled("Everywhere:", theme.title())));
            for (k, what) in GLOBAL_KEYS {
                lines.push(Line::from(vec![
                    Span::styled(format!("  {k:<20}"), theme.key()),
                    Span::styled(what, theme.text()),
                ]));
            }
            let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
            let rect = centered(area, 74, height);
            frame.render_widget(Clear, rect);
            let outer = block(theme, "Keys (any key closes)", true);
            let inner = outer.inner(rect);
            frame.render_widget(outer, rect);
            frame.render_widget(Paragraph::new(lines), inner);
        }
        Overlay::Confirm { title, message, .. } => {
            // The message wraps at about 56 columns; two more lines for the keys.
            let rows = message.len().div_ceil(50) + 4;
            let rect = centered(area, 60, u16::try_from(rows).unwrap_or(8));
            frame.render_widget(Clear, rect);
            let outer = block(theme, title, true);
            let inner = outer.inner(rect);
            frame.render_widget(outer, rect);
            let lines = vec![
                Line::from(Span::styled(message.clone(), theme.text())),
                Line::from(""),
                hints(theme, &[("y / Enter", "yes"), ("n / Esc", "no")]),
            ];
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
        }
        Overlay::Quit { open_streams } => {
            let rect = centered(area, 56, 7);
            frame.render_widget(Clear, rect);
            let outer = block(theme, "Quit streamgate?", true);
            let inner = outer.inner(rect);
            frame.render_widget(outer, rect);
            let lines = vec![
                Line::from(Span::styled(
                    format!(
                        "{open_streams} stream(s) are open. Quitting stops the gateway, the management API and the memory backend, and ends them."
                    ),
                    theme.warning(),
                )),
                Line::from(""),
                hints(theme, &[("y", "quit"), ("n / Esc", "stay")]),
            ];
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::GLOBAL_KEYS;
    use crate::tui::screens::*;

    /// The help dialog is 74 columns wide: two borders, two spaces, a 20-column key, so a
    /// key's description has 50 columns before it is cut.
    const DESCRIPTION_COLUMNS: usize = 50;

    #[test]
    fn every_help_line_fits_the_help_dialog() {
        let lists = [
            ("portal_api", portal_api::keys()),
            ("create_api", create_api::keys()),
            ("servers", servers::keys()),
            ("api_plans", api_plans::keys()),
            ("users", users::keys()),
            ("api_overview", api_overview::keys()),
            ("api_analytics", api_analytics::keys()),
            ("portal", portal::keys()),
            ("api_lifecycle", api_lifecycle::keys()),
            ("api_definition", api_definition::keys()),
            ("wizard", wizard::keys()),
            ("api_deployments", api_deployments::keys()),
            ("applications", applications::keys()),
            ("live", live::keys()),
            ("tutorial", tutorial::keys()),
            ("publisher", publisher::keys()),
            ("everywhere", GLOBAL_KEYS.to_vec()),
        ];
        let too_long: Vec<String> = lists
            .iter()
            .flat_map(|(screen, keys)| {
                keys.iter()
                    .filter(|(k, what)| {
                        k.chars().count() > 20 || what.chars().count() > DESCRIPTION_COLUMNS
                    })
                    .map(move |(k, what)| format!("{screen}: {k} {what}"))
            })
            .collect();
        assert!(
            too_long.is_empty(),
            "cut off in the help dialog: {too_long:#?}"
        );
        // Title, keys, "Everywhere:", the global keys and two borders within 24 rows.
        let too_tall: Vec<&str> = lists
            .iter()
            .filter(|(_, keys)| keys.len() + GLOBAL_KEYS.len() + 2 + 2 > 24)
            .map(|(screen, _)| *screen)
            .collect();
        assert!(too_tall.is_empty(), "taller than 24 rows: {too_tall:?}");
    }
}
