//! The live pane's model: a bounded scrollback of event and traffic lines with
//! follow/pause, scrolling and a filter. Drawing and keys live in `live/mod.rs`.

use std::collections::VecDeque;

use crate::catalog::Millis;

use crate::tui::input::TextInput;

/// Lines kept in the live pane; older ones are dropped.
pub const SCROLLBACK_LINES: usize = 10_000;

/// What a line reports, which decides its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// An SSE event received on an in-process stream.
    Event,
    /// An SSE comment received on an in-process stream.
    Comment,
    /// A stream opened (in process or through the gateway).
    Opened,
    /// A request refused.
    Rejected,
    /// A stream ended.
    Closed,
    /// Something the UI says.
    Info,
    /// Something that went wrong.
    Error,
}

/// One line of the live pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveLine {
    /// When it happened.
    pub at: Millis,
    /// Its kind.
    pub kind: LineKind,
    /// Where it came from: `gateway`, `try-it #1`, `ui`.
    pub source: String,
    /// The text.
    pub text: String,
    /// Lower-cased `source text`, for the filter.
    haystack: String,
}

impl LiveLine {
    /// A new line.
    pub fn new(
        at: Millis,
        kind: LineKind,
        source: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        let source = source.into();
        let text = text.into();
        let haystack = format!("{source} {text}").to_lowercase();
        Self {
            at,
            kind,
            source,
            text,
            haystack,
        }
    }

    /// Whether the line matches a lower-cased filter (empty matches everything).
    pub fn matches(&self, filter_lower: &str) -> bool {
        filter_lower.is_empty() || self.haystack.contains(filter_lower)
    }
}

/// The live pane's state.
#[derive(Debug, Clone)]
pub struct LivePane {
    lines: VecDeque<LiveLine>,
    capacity: usize,
    /// Lines (matching the filter) between the bottom of the view and the newest line.
    pub scroll: usize,
    /// Whether the view sticks to the newest line.
    pub follow: bool,
    /// The filter being typed or applied.
    pub filter: TextInput,
    /// Whether the filter field has the keyboard.
    pub filter_editing: bool,
    /// Lines ever pushed (including dropped ones).
    pub total: u64,
    /// Whether long lines wrap (else they are cut with `...`).
    pub wrap: bool,
    /// Chart mode over the Try-it streams' JSON events (`v`).
    pub chart: super::chart::TryChart,
}

impl Default for LivePane {
    fn default() -> Self {
        Self::with_capacity(SCROLLBACK_LINES)
    }
}

impl LivePane {
    /// A pane keeping at most `capacity` lines.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            lines: VecDeque::with_capacity(capacity.min(1024)),
            capacity: capacity.max(1),
            scroll: 0,
            follow: true,
            filter: TextInput::new(),
            filter_editing: false,
            total: 0,
            wrap: false,
            chart: super::chart::TryChart::default(),
        }
    }

    /// The filter, lower-cased.
    pub fn filter_lower(&self) -> String {
        self.filter.value().to_lowercase()
    }

    /// Appends a line, dropping the oldest beyond capacity. While paused, the view stays
    /// on the lines it shows.
    pub fn push(&mut self, line: LiveLine) {
        if !self.follow && line.matches(&self.filter_lower()) {
            self.scroll += 1;
        }
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
        self.total += 1;
    }

    /// Every line kept, oldest first.
    pub fn lines(&self) -> &VecDeque<LiveLine> {
        &self.lines
    }

    /// Lines kept.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether no line is kept.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Lines that match the filter.
    pub fn matching(&self) -> usize {
        let f = self.filter_lower();
        if f.is_empty() {
            return self.lines.len();
        }
        self.lines.iter().filter(|l| l.matches(&f)).count()
    }

    /// The `height` matching lines to show, oldest first, honouring scroll.
    pub fn view(&self, height: usize) -> Vec<&LiveLine> {
        let f = self.filter_lower();
        let newest_first: Vec<&LiveLine> = self
            .lines
            .iter()
            .rev()
            .filter(|l| l.matches(&f))
            .take(self.scroll.saturating_add(height))
            .collect();
        // Scrolled past the oldest line (lines were dropped meanwhile): show the oldest.
        let start = self.scroll.min(newest_first.len().saturating_sub(height));
        let end = (start + height).min(newest_first.len());
        let mut out = newest_first[start..end].to_vec();
        out.reverse();
        out
    }

    fn clamp(&mut self) {
        let max = self.matching().saturating_sub(1);
        if self.scroll > max {
            self.scroll = max;
        }
    }

    /// Scrolls towards older lines; pauses following.
    pub fn scroll_up(&mut self, n: usize) {
        self.follow = false;
        self.scroll = self.scroll.saturating_add(n);
        self.clamp();
    }

    /// Scrolls towards newer lines; reaching the bottom keeps the pause until `follow`.
    pub fn scroll_down(&mut self, n: usize) {
        self.scroll = self.scroll.saturating_sub(n);
    }

    /// Jumps to the oldest line (paused).
    pub fn top(&mut self) {
        self.follow = false;
        self.scroll = usize::MAX;
        self.clamp();
    }

    /// Jumps to the newest line and follows.
    pub fn bottom(&mut self) {
        self.scroll = 0;
        self.follow = true;
    }

    /// Follow or pause.
    pub fn toggle_follow(&mut self) {
        if self.follow {
            self.follow = false;
        } else {
            self.bottom();
        }
    }

    /// Forgets every line.
    pub fn clear(&mut self) {
        self.lines.clear();
        self.scroll = 0;
    }

    /// Called after the filter changed: back to the newest match.
    pub fn filter_changed(&mut self) {
        self.scroll = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(i: usize) -> LiveLine {
        LiveLine::new(0, LineKind::Event, "try-it #1", format!("event {i}"))
    }

    #[test]
    fn the_scrollback_is_bounded_and_keeps_the_newest() {
        let mut pane = LivePane::default();
        for i in 0..SCROLLBACK_LINES + 500 {
            pane.push(line(i));
        }
        assert_eq!(pane.len(), SCROLLBACK_LINES);
        assert_eq!(pane.lines()[0].text, "event 500");
        let view = pane.view(3);
        assert_eq!(view[2].text, format!("event {}", SCROLLBACK_LINES + 499));
    }

    #[test]
    fn a_paused_view_stays_put_while_lines_arrive() {
        let mut pane = LivePane::default();
        for i in 0..20 {
            pane.push(line(i));
        }
        pane.scroll_up(5);
        assert!(!pane.follow);
        let before: Vec<String> = pane.view(3).iter().map(|l| l.text.clone()).collect();
        for i in 20..30 {
            pane.push(line(i));
        }
        let after: Vec<String> = pane.view(3).iter().map(|l| l.text.clone()).collect();
        assert_eq!(before, after);
        pane.bottom();
        assert_eq!(pane.view(1)[0].text, "event 29");
    }

    #[test]
    fn the_filter_shows_only_matching_lines_case_insensitively() {
        let mut pane = LivePane::default();
        pane.push(LiveLine::new(
            0,
            LineKind::Rejected,
            "gateway",
            "rejected 401 900901",
        ));
        pane.push(line(1));
        pane.filter.insert_str("GATEWAY");
        assert_eq!(pane.matching(), 1);
        assert_eq!(pane.view(10).len(), 1);
        assert_eq!(pane.view(10)[0].kind, LineKind::Rejected);
    }
}
