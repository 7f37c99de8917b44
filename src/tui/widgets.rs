//! Small drawing helpers shared by the screens: themed blocks, key hints, checkboxes,
//! text fields and wrapping. ASCII glyphs only, so every terminal can show them.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::input::TextInput;
use super::theme::Theme;

/// A bordered pane with a title, its border lit when it has focus.
pub fn block<'a>(theme: &Theme, title: &'a str, focused: bool) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_set(theme.border_set())
        .border_style(theme.border(focused))
        .title(Span::styled(format!(" {title} "), theme.title()))
}

/// `key: what  key: what` in the theme's key and muted styles.
pub fn hints<'a>(theme: &Theme, pairs: &[(&'a str, &'a str)]) -> Line<'a> {
    let mut spans = Vec::new();
    for (i, (key, what)) in pairs.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(*key, theme.key()));
        spans.push(Span::styled(format!(" {what}"), theme.muted()));
    }
    Line::from(spans)
}

/// `[x]` or `[ ]`.
pub fn checkbox(checked: bool) -> &'static str {
    if checked { "[x]" } else { "[ ]" }
}

/// `(*)` or `( )`.
pub fn radio(selected: bool) -> &'static str {
    if selected { "(*)" } else { "( )" }
}

/// `> ` in front of the selected row, two spaces otherwise.
pub fn marker(selected: bool) -> &'static str {
    if selected { "> " } else { "  " }
}

/// The style of a row: the selection style when selected and focused.
pub fn row_style(theme: &Theme, selected: bool, focused: bool) -> Style {
    if selected && focused {
        theme.selection()
    } else {
        theme.text()
    }
}

/// A labelled text field on one line: `Label      [value____]`. Places the cursor when
/// `editing`.
#[allow(clippy::too_many_arguments)]
pub fn field(
    frame: &mut Frame,
    theme: &Theme,
    area: Rect,
    label: &str,
    label_width: u16,
    input: &TextInput,
    selected: bool,
    editing: bool,
) {
    if area.height == 0 || area.width <= label_width + 4 {
        return;
    }
    let box_width = (area.width - label_width - 2).min(44) as usize;
    let (shown, cursor) = input.visible(box_width.saturating_sub(1));
    let padded = format!("{shown:<box_width$}");
    let label_style = if selected {
        theme.accent()
    } else {
        theme.text()
    };
    let value_style = if selected {
        theme.selection()
    } else {
        theme.accent()
    };
    let line = Line::from(vec![
        Span::styled(marker(selected), label_style),
        Span::styled(
            format!(
                "{label:<w$}",
                w = usize::from(label_width.saturating_sub(2))
            ),
            label_style,
        ),
        Span::styled("[", theme.muted()),
        Span::styled(padded, value_style),
        Span::styled("]", theme.muted()),
    ]);
    frame.render_widget(line, area);
    if editing {
        let x = area.x + label_width + 1 + u16::try_from(cursor).unwrap_or(0);
        frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
    }
}

/// Splits text into pieces of at most `width` terminal columns (display width, as
/// ratatui counts it: a CJK character or an emoji takes two). No character is dropped: one
/// wider than `width` gets a piece of its own. For tokens, which have no spaces to wrap at,
/// and the live pane's wrapped lines.
pub fn wrap_chars(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut pieces = Vec::new();
    let mut piece = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width && !piece.is_empty() {
            pieces.push(std::mem::take(&mut piece));
            used = 0;
        }
        piece.push(c);
        used += w;
    }
    if !piece.is_empty() {
        pieces.push(piece);
    }
    pieces
}

/// `HH:MM:SS` (UTC) of a time in milliseconds since the epoch.
pub fn clock(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// A rectangle of at most `width` x `height` centred in `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// Cuts a string to `width` characters, ending in `...` when cut.
pub fn ellipsis(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let (keep, tail) = if width <= 3 {
        (width, "")
    } else {
        (width - 3, "...")
    };
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > keep {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push_str(tail);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_and_wrapping_are_plain_ascii() {
        assert_eq!(clock(3_723_000), "01:02:03");
        assert_eq!(wrap_chars("abcdefg", 3), vec!["abc", "def", "g"]);
        assert_eq!(ellipsis("abcdefgh", 6), "abc...");
        assert_eq!(ellipsis("abc", 6), "abc");
    }

    /// Wide characters (CJK, emoji) take two columns: wrapping splits by columns and keeps
    /// every character, and cutting fits the width with `...`.
    #[test]
    fn wrapping_and_cutting_count_columns_and_keep_every_character() {
        let text = "closed #2 (Obs\u{e9}rvateur \u{2728} \u{89b3}\u{6e2c}:1.0.0) after 5 events: \
                    the backend ended the stream";
        for width in 1..=text.width() + 1 {
            let pieces = wrap_chars(text, width);
            assert_eq!(pieces.concat(), text, "width {width}");
            for p in &pieces {
                assert!(p.width() <= width.max(2), "{p:?} wider than {width}");
                if width >= 2 {
                    assert!(p.width() <= width, "{p:?} wider than {width}");
                }
            }
            let cut = ellipsis(text, width);
            assert!(cut.width() <= width, "{cut:?} wider than {width}");
        }
        assert_eq!(
            wrap_chars("\u{89b3}\u{6e2c}x", 3),
            vec!["\u{89b3}", "\u{6e2c}x"]
        );
        assert_eq!(
            ellipsis("\u{89b3}\u{6e2c}\u{89b3}\u{6e2c}", 6),
            "\u{89b3}..."
        );
    }
}
