//! The live pane's chart mode (`v`): for Try-it streams of JSON events, one numeric field
//! (e.g. the memory backend's `used` or `available`) as a live line chart; `n` picks the
//! next field. Events where the field is missing or not a number are skipped and counted;
//! a stream that is not JSON offers no chart mode and the pane says why.
//!
//! Drawn with ratatui's `Chart` (braille) where the locale is UTF-8, and as an ASCII plot
//! of `*` otherwise.

use std::collections::{BTreeSet, VecDeque};

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph};
use serde_json::Value;

use crate::tui::charts::Glyphs;
use crate::tui::theme::Theme;

/// Events kept for the chart.
pub const CHART_POINTS: usize = 600;

/// The chart's state: the last events' JSON objects, the numeric fields seen, the choice.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TryChart {
    /// Whether the pane shows the chart instead of the lines.
    pub on: bool,
    /// The field charted (none until a JSON event with a number arrives).
    pub field: Option<String>,
    /// Numeric fields seen in JSON events, in name order.
    pub fields: BTreeSet<String>,
    /// The last events' (time in ms, JSON object), oldest first.
    events: VecDeque<(i64, serde_json::Map<String, Value>)>,
    /// Events whose data was not a JSON object.
    pub not_json: u64,
    /// JSON events seen.
    pub json: u64,
}

impl TryChart {
    /// Records an event's data (at `at` ms).
    pub fn record(&mut self, at: i64, data: &str) {
        match serde_json::from_str::<Value>(data) {
            Ok(Value::Object(map)) => {
                self.json += 1;
                for (k, v) in &map {
                    if v.is_number() && !self.fields.contains(k) {
                        self.fields.insert(k.clone());
                    }
                }
                if self.field.is_none() {
                    // The memory backend's `used` first, else the first numeric field.
                    self.field = if self.fields.contains("used") {
                        Some("used".to_string())
                    } else {
                        self.fields.iter().next().cloned()
                    };
                }
                if self.events.len() == CHART_POINTS {
                    self.events.pop_front();
                }
                self.events.push_back((at, map));
            }
            _ => self.not_json += 1,
        }
    }

    /// Why there is no chart, if there is none to show.
    pub fn unavailable(&self) -> Option<String> {
        if self.json == 0 && self.not_json > 0 {
            return Some(format!(
                "No chart: the stream's {} events are not JSON objects",
                self.not_json
            ));
        }
        if self.field.is_none() {
            return Some("No chart yet: no JSON event with a numeric field so far".to_string());
        }
        None
    }

    /// `v`: toggles the chart; answers why not when there is none to show.
    pub fn toggle(&mut self) -> Result<(), String> {
        if self.on {
            self.on = false;
            return Ok(());
        }
        match self.unavailable() {
            Some(why) => Err(why),
            None => {
                self.on = true;
                Ok(())
            }
        }
    }

    /// `n`: charts the next numeric field (in name order, wrapping).
    pub fn next_field(&mut self) {
        let next = match &self.field {
            Some(f) => self
                .fields
                .range::<String, _>((
                    std::ops::Bound::Excluded(f.clone()),
                    std::ops::Bound::Unbounded,
                ))
                .next()
                .or_else(|| self.fields.iter().next()),
            None => self.fields.iter().next(),
        };
        self.field = next.cloned();
    }

    /// The charted field's points (time in ms, value) and how many events were skipped
    /// because the field was missing or not a number.
    pub fn points(&self) -> (Vec<(i64, f64)>, u64) {
        let Some(field) = &self.field else {
            return (Vec::new(), 0);
        };
        let mut skipped = 0;
        let mut out = Vec::new();
        for (at, map) in &self.events {
            match map.get(field).and_then(Value::as_f64) {
                Some(v) => out.push((*at, v)),
                None => skipped += 1,
            }
        }
        (out, skipped)
    }

    /// Forgets everything (the pane was cleared).
    pub fn clear(&mut self) {
        *self = TryChart::default();
    }
}

fn number(v: f64) -> String {
    if v.abs() >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if v.abs() >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v.abs() >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.1}")
    }
}

/// Draws the chart into `area` (the pane's inside).
pub fn draw(chart: &TryChart, theme: &Theme, glyphs: Glyphs, frame: &mut Frame, area: Rect) {
    if area.height < 2 {
        return;
    }
    let (points, skipped) = chart.points();
    let field = chart.field.clone().unwrap_or_default();
    let (lo, hi) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    let (lo, hi) = if points.is_empty() {
        (0.0, 1.0)
    } else if (hi - lo).abs() < f64::EPSILON {
        (lo - 1.0, hi + 1.0)
    } else {
        (lo, hi)
    };
    let mut head = vec![
        Span::styled(format!("{field} "), theme.title()),
        Span::styled(
            format!(
                "last {}  min {}  max {}  ",
                points
                    .last()
                    .map(|p| number(p.1))
                    .unwrap_or_else(|| "-".into()),
                number(lo),
                number(hi)
            ),
            theme.text(),
        ),
    ];
    if skipped > 0 {
        head.push(Span::styled(
            format!("{skipped} events skipped  "),
            theme.warning(),
        ));
    }
    head.push(Span::styled("n next field  v lines", theme.key()));
    let head_area = Rect { height: 1, ..area };
    frame.render_widget(Line::from(head), head_area);
    let plot = Rect {
        y: area.y + 1,
        height: area.height - 1,
        ..area
    };
    let width = usize::from(plot.width);
    let last: Vec<(i64, f64)> = points
        .iter()
        .skip(points.len().saturating_sub(width.max(1)))
        .copied()
        .collect();
    match glyphs {
        Glyphs::Unicode => {
            let data: Vec<(f64, f64)> = last
                .iter()
                .enumerate()
                .map(|(i, (_, v))| (i as f64, *v))
                .collect();
            let dataset = Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(theme.event())
                .data(&data);
            let chart = Chart::new(vec![dataset])
                .x_axis(Axis::default().bounds([0.0, (width.max(2) - 1) as f64]))
                .y_axis(
                    Axis::default()
                        .bounds([lo, hi])
                        .labels([number(lo), number(hi)])
                        .style(theme.muted()),
                );
            frame.render_widget(chart, plot);
        }
        Glyphs::Ascii => {
            let rows = usize::from(plot.height);
            let mut grid = vec![vec![' '; width]; rows];
            for (x, (_, v)) in last.iter().enumerate() {
                let frac = (v - lo) / (hi - lo);
                let y = ((1.0 - frac) * (rows.saturating_sub(1)) as f64).round() as usize;
                if let Some(cell) = grid.get_mut(y.min(rows - 1)).and_then(|r| r.get_mut(x)) {
                    *cell = '*';
                }
            }
            let lines: Vec<Line> = grid
                .into_iter()
                .map(|r| {
                    Line::from(Span::styled(
                        r.into_iter().collect::<String>(),
                        theme.event(),
                    ))
                })
                .collect();
            frame.render_widget(Paragraph::new(lines).style(Style::default()), plot);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn numbers_are_charted_and_the_rest_counted() {
        let mut c = TryChart::default();
        assert!(c.toggle().is_err(), "nothing to chart yet");
        c.record(1, r#"{"total":16,"used":5,"available":11}"#);
        c.record(2, r#"{"total":16,"used":"n/a","available":10}"#);
        c.record(3, r#"{"total":16,"used":7,"available":9}"#);
        assert_eq!(c.field.as_deref(), Some("used"));
        let (points, skipped) = c.points();
        assert_eq!(points, vec![(1, 5.0), (3, 7.0)]);
        assert_eq!(skipped, 1);
        c.next_field();
        assert_eq!(c.field.as_deref(), Some("available"), "after used, wraps");
        c.next_field();
        assert_eq!(c.field.as_deref(), Some("total"));
        assert!(c.toggle().is_ok());
        assert!(c.on);
    }

    #[test]
    fn a_stream_that_is_not_json_offers_no_chart() {
        let mut c = TryChart::default();
        c.record(1, "hello");
        c.record(2, "[1,2]");
        let why = c.toggle().unwrap_err();
        assert!(why.contains("2 events are not JSON"), "{why}");
        assert!(!c.on);
    }
}
