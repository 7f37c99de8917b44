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

/// One event kept for the chart: its time, its data as received, and what was read of it
/// for the charted field (`None`: not read yet).
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    at: i64,
    data: String,
    probe: Option<Probe>,
}

/// What one pass over an event's data found for a field.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Probe {
    /// The data is not a JSON object.
    NotObject,
    /// A JSON object without the field, or with a value that is not a number.
    Skipped,
    /// The field's number.
    Number(f64),
}

/// The chart's state: the last events' data, the numeric fields seen, the choice.
///
/// Cheap on the UI thread: until a numeric field is found each event is parsed whole (to
/// find the fields); after that [`TryChart::record`] only keeps the data, and the charted
/// field alone is read from it (other values skipped unparsed), once per batch of events
/// ([`TryChart::settle`]) while the chart shows, or for all kept events when it is turned
/// on or another field is picked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TryChart {
    /// Whether the pane shows the chart instead of the lines.
    pub on: bool,
    /// The field charted (none until a JSON event with a number arrives).
    pub field: Option<String>,
    /// Numeric fields seen in JSON events, in name order.
    pub fields: BTreeSet<String>,
    /// The last events, oldest first.
    events: VecDeque<Sample>,
    /// Events read whose data was not a JSON object.
    pub not_json: u64,
    /// JSON events read.
    pub json: u64,
}

impl TryChart {
    /// Records an event's data (at `at` ms). Parses it only while no numeric field is
    /// known; otherwise it is kept to be read by [`TryChart::settle`].
    pub fn record(&mut self, at: i64, data: impl Into<String>) {
        let data = data.into();
        let probe = if self.field.is_none() {
            Some(self.discover(&data))
        } else {
            None
        };
        if self.events.len() == CHART_POINTS {
            self.events.pop_front();
        }
        self.events.push_back(Sample { at, data, probe });
    }

    /// Parses `data` whole: counts it, adds its numeric fields, picks a field if none is
    /// picked, and answers what it holds for the picked field.
    fn discover(&mut self, data: &str) -> Probe {
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
                match self
                    .field
                    .as_ref()
                    .and_then(|f| map.get(f))
                    .and_then(Value::as_f64)
                {
                    Some(v) => Probe::Number(v),
                    None => Probe::Skipped,
                }
            }
            _ => {
                self.not_json += 1;
                Probe::NotObject
            }
        }
    }

    /// Reads the charted field of the events kept but not read yet. Called once per
    /// batch of events; does nothing while the chart is off (turning it on catches up).
    pub fn settle(&mut self) {
        if self.on {
            self.catch_up();
        }
    }

    fn catch_up(&mut self) {
        let Some(field) = self.field.as_deref() else {
            return;
        };
        let (mut json, mut not_json) = (0, 0);
        // Newest last: walk back to the first event already read.
        for sample in self.events.iter_mut().rev() {
            if sample.probe.is_some() {
                break;
            }
            let probe = probe(&sample.data, field);
            match probe {
                Probe::NotObject => not_json += 1,
                _ => json += 1,
            }
            sample.probe = Some(probe);
        }
        self.json += json;
        self.not_json += not_json;
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
                self.catch_up();
                Ok(())
            }
        }
    }

    /// `n`: charts the next numeric field (in name order, wrapping), looking for fields in
    /// the kept events first; the kept events are read again for it.
    pub fn next_field(&mut self) {
        for sample in &self.events {
            if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&sample.data) {
                for (k, v) in map {
                    if v.is_number() {
                        self.fields.insert(k);
                    }
                }
            }
        }
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
        let next = next.cloned();
        if next != self.field {
            self.field = next;
            if let Some(field) = self.field.as_deref() {
                for sample in &mut self.events {
                    sample.probe = Some(probe(&sample.data, field));
                }
            }
        }
    }

    /// The charted field's points (time in ms, value) and how many events were skipped
    /// because the field was missing or not a number. Events not read yet are read here
    /// (and not kept read: [`TryChart::settle`] keeps them).
    pub fn points(&self) -> (Vec<(i64, f64)>, u64) {
        let Some(field) = &self.field else {
            return (Vec::new(), 0);
        };
        let mut skipped = 0;
        let mut out = Vec::new();
        for sample in &self.events {
            match sample.probe.unwrap_or_else(|| probe(&sample.data, field)) {
                Probe::Number(v) => out.push((sample.at, v)),
                Probe::Skipped => skipped += 1,
                Probe::NotObject => {}
            }
        }
        (out, skipped)
    }

    /// Forgets everything (the pane was cleared).
    pub fn clear(&mut self) {
        *self = TryChart::default();
    }
}

/// Reads `field` from a JSON object in one pass, skipping every other value without
/// building it (serde's `IgnoredAny`); the last of duplicate keys counts, as in
/// `serde_json::Value`.
fn probe(data: &str, field: &str) -> Probe {
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

    struct Object<'f>(&'f str);
    struct Key<'f>(&'f str);

    impl<'de> DeserializeSeed<'de> for Key<'_> {
        type Value = bool;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_str(self)
        }
    }
    impl<'de> Visitor<'de> for Key<'_> {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a key")
        }
        fn visit_str<E>(self, v: &str) -> Result<bool, E> {
            Ok(v == self.0)
        }
    }
    struct NumberSeed;
    impl<'de> DeserializeSeed<'de> for NumberSeed {
        type Value = Option<f64>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<f64>, D::Error> {
            d.deserialize_any(NumberVisitor)
        }
    }
    struct NumberVisitor;
    impl<'de> Visitor<'de> for NumberVisitor {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_f64<E>(self, v: f64) -> Result<Option<f64>, E> {
            Ok(Some(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Option<f64>, E> {
            Ok(Some(v as f64))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Option<f64>, E> {
            Ok(Some(v as f64))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Option<f64>, E> {
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<Option<f64>, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Option<f64>, E> {
            Ok(None)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Option<f64>, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<f64>, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    impl<'de> DeserializeSeed<'de> for Object<'_> {
        type Value = Probe;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Probe, D::Error> {
            d.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for Object<'_> {
        type Value = Probe;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Probe, A::Error> {
            let mut found = Probe::Skipped;
            while let Some(is_field) = map.next_key_seed(Key(self.0))? {
                if is_field {
                    found = match map.next_value_seed(NumberSeed)? {
                        Some(v) => Probe::Number(v),
                        None => Probe::Skipped,
                    };
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }
    let mut de = serde_json::Deserializer::from_str(data);
    match Object(field).deserialize(&mut de) {
        Ok(found) if de.end().is_ok() => found,
        _ => Probe::NotObject,
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

    #[test]
    fn one_field_is_read_and_everything_else_skipped() {
        let doc = r#"{"a":{"used":1,"x":[1,{"b":2}]},"used":5e3,"s":"used","t":true}"#;
        assert_eq!(probe(doc, "used"), Probe::Number(5000.0));
        assert_eq!(probe(doc, "a"), Probe::Skipped, "an object is not a number");
        assert_eq!(probe(doc, "s"), Probe::Skipped);
        assert_eq!(probe(doc, "missing"), Probe::Skipped);
        assert_eq!(probe(r#"{"u\u0073ed":-2}"#, "used"), Probe::Number(-2.0));
        assert_eq!(probe(r#"{"used":1,"used":2}"#, "used"), Probe::Number(2.0));
        assert_eq!(probe("[1]", "used"), Probe::NotObject);
        assert_eq!(probe("hello", "used"), Probe::NotObject);
        assert_eq!(probe(r#"{"used":1} x"#, "used"), Probe::NotObject);
        assert_eq!(probe(r#"{"used":1"#, "used"), Probe::NotObject);
    }

    #[test]
    fn events_are_read_only_while_the_chart_shows_and_once_per_batch() {
        let mut c = TryChart::default();
        c.record(0, r#"{"seq":0,"ts":10}"#);
        assert_eq!(c.field.as_deref(), Some("seq"));
        assert_eq!(c.json, 1);
        for i in 1..10 {
            c.record(i, format!(r#"{{"seq":{i},"ts":10,"pad":"x"}}"#));
            c.settle();
        }
        assert_eq!(c.json, 1, "chart off: kept, not parsed");
        c.toggle().unwrap();
        assert_eq!(c.json, 10, "turning it on reads what was kept");
        c.record(10, "not json");
        c.record(11, r#"{"seq":11}"#);
        assert_eq!(c.json, 10, "read per batch, not per event");
        c.settle();
        assert_eq!((c.json, c.not_json), (11, 1));
        let (points, skipped) = c.points();
        assert_eq!(points.len(), 11);
        assert_eq!(points.last(), Some(&(11, 11.0)));
        assert_eq!(skipped, 0, "a non-JSON event is not a skipped number");
        c.next_field();
        assert_eq!(c.field.as_deref(), Some("ts"));
        let (points, skipped) = c.points();
        assert_eq!((points.len(), skipped), (10, 1), "the last event has no ts");
    }
}
