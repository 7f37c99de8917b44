//! Charts for the terminal UI: sparklines and gauges drawn with Unicode blocks where the
//! terminal's locale is UTF-8 and with ASCII otherwise, plus the analytics feed the runtime
//! hands the UI (one [`Action::Analytics`] a second while a page shows analytics).
//!
//! [`Action::Analytics`]: super::action::Action::Analytics

use std::collections::BTreeMap;

use ratatui::symbols::bar;
use ratatui::text::{Line, Span};

use crate::analytics::{LiveView, Subject};
use crate::control::analytics::QuotaGauge;
use crate::tui::theme::Theme;

/// Which glyphs charts use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Glyphs {
    /// Plain ASCII (`.:-=#`), for terminals whose locale is not UTF-8, and for tests.
    #[default]
    Ascii,
    /// Unicode block elements.
    Unicode,
}

impl Glyphs {
    /// Unicode when the locale is UTF-8: the first of `LC_ALL`, `LC_CTYPE`, `LANG` that is
    /// set and not empty names UTF-8 (as POSIX orders them).
    pub fn from_env() -> Glyphs {
        Self::from_locale(
            ["LC_ALL", "LC_CTYPE", "LANG"]
                .iter()
                .filter_map(|k| std::env::var(k).ok())
                .find(|v| !v.is_empty())
                .as_deref(),
        )
    }

    /// Unicode when `locale` (e.g. `en_US.UTF-8`) names UTF-8.
    pub fn from_locale(locale: Option<&str>) -> Glyphs {
        let utf8 = locale.is_some_and(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("utf-8") || l.contains("utf8")
        });
        if utf8 { Glyphs::Unicode } else { Glyphs::Ascii }
    }

    /// The bar set of a sparkline.
    pub fn bar_set(self) -> bar::Set<'static> {
        match self {
            Glyphs::Unicode => bar::NINE_LEVELS,
            Glyphs::Ascii => bar::Set {
                full: "#",
                seven_eighths: "#",
                three_quarters: "=",
                five_eighths: "=",
                half: "-",
                three_eighths: "-",
                one_quarter: ".",
                one_eighth: ".",
                empty: " ",
            },
        }
    }

    /// The filled and empty cells of a gauge.
    pub fn gauge_cells(self) -> (&'static str, &'static str) {
        match self {
            Glyphs::Unicode => ("\u{2588}", "\u{2591}"),
            Glyphs::Ascii => ("#", "."),
        }
    }
}

/// Fits `data` (oldest first) into `width` columns: each column sums `ceil(len / width)`
/// consecutive points, the newest column ending at the newest point.
pub fn fit(data: &[u64], width: usize) -> Vec<u64> {
    if width == 0 || data.is_empty() {
        return Vec::new();
    }
    let per = data.len().div_ceil(width);
    let mut out: Vec<u64> = data.rchunks(per).map(|c| c.iter().sum()).collect();
    out.reverse();
    out
}

/// A one-line gauge `[####......] 42 / 100 (42%)`, `bar_width` cells wide.
pub fn gauge_line(used: u64, limit: u64, bar_width: usize, glyphs: Glyphs) -> String {
    let (full, empty) = glyphs.gauge_cells();
    let filled = if limit == 0 {
        0
    } else {
        let cells = u128::from(used.min(limit)) * bar_width as u128 / u128::from(limit);
        usize::try_from(cells).unwrap_or(bar_width)
    };
    let percent = if limit == 0 {
        0
    } else {
        u128::from(used) * 100 / u128::from(limit)
    };
    format!(
        "[{}{}] {used} / {limit} ({percent}%)",
        full.repeat(filled),
        empty.repeat(bar_width - filled)
    )
}

/// The latest analytics of the subject on screen, and of the whole gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalyticsFeed {
    /// The subject shown (none: no page shows analytics).
    pub subject: Option<Subject>,
    /// Its live view.
    pub view: LiveView,
    /// The whole gateway's live view (the Servers screen's sparklines).
    pub gateway: LiveView,
    /// Which glyphs charts use.
    pub glyphs: Glyphs,
    /// Quota gauges by subscription id (fed apart, see [`Action::Quotas`]).
    ///
    /// [`Action::Quotas`]: super::action::Action::Quotas
    pub quotas: BTreeMap<String, QuotaGauge>,
    /// This process's CPU and memory (fed apart, see [`Action::Process`]).
    ///
    /// [`Action::Process`]: super::action::Action::Process
    pub process: Option<ProcessStats>,
    /// Gateway nodes known to this control plane with what they last reported (the
    /// Servers screen).
    pub nodes: Vec<crate::control::NodeStatus>,
}

/// This process's resource use, sampled by sysinfo once a second off the UI thread.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ProcessStats {
    /// CPU use since the previous sample, in percent of one core.
    pub cpu_percent: f32,
    /// Resident memory in bytes.
    pub memory_bytes: u64,
}

impl Eq for ProcessStats {}

/// A subscription's gauge line: `[###.......] 42 / 100 (42%) resets in 5h03m` and
/// `THROTTLED` when used up; `unlimited` plans show their count only. `None` when no
/// gauge was fed for it. `now` is the wall clock (ms since the epoch): the reset is said
/// as a time from now, since a window (a day for WSO2's Async plans) often ends tomorrow.
pub fn quota_line(
    feed: &AnalyticsFeed,
    subscription_id: &str,
    bar_width: usize,
    now: i64,
) -> Option<(String, bool)> {
    let g = feed.quotas.get(subscription_id)?;
    let text = match g.limit {
        None => format!("{} events, unlimited", g.used),
        Some(limit) => {
            let mut t = gauge_line(g.used, limit, bar_width, feed.glyphs);
            if let Some(at) = g.resets_at {
                t.push_str(&format!(" resets in {}", time_until(at, now)));
            }
            if g.throttled {
                t.push_str(" THROTTLED");
            }
            t
        }
    };
    Some((text, g.throttled))
}

/// How long from `now` until `at` (ms since the epoch), in the two largest units:
/// `2d03h`, `5h03m`, `4m09s`, `9s`; `0s` once passed.
pub fn time_until(at: i64, now: i64) -> String {
    let secs = (at - now).max(0) / 1000;
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h:02}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// A subscription's quota gauge as one line: `lead` (an indent, a label), then
/// [`quota_line`] in the theme's ok colour, or its error colour when throttled. The one
/// gauge component of every page that shows subscriptions. `None` when no gauge was fed.
pub fn quota_gauge(
    feed: &AnalyticsFeed,
    theme: &Theme,
    lead: Span<'static>,
    subscription_id: &str,
    bar_width: usize,
    now: i64,
) -> Option<Line<'static>> {
    let (gauge, throttled) = quota_line(feed, subscription_id, bar_width, now)?;
    Some(Line::from(vec![
        lead,
        Span::styled(gauge, if throttled { theme.error() } else { theme.ok() }),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_until_says_the_two_largest_units() {
        let now = 1_000_000;
        assert_eq!(time_until(now + 86_400_000 + 3 * 3_600_000, now), "1d03h");
        assert_eq!(
            time_until(now + 23 * 3_600_000 + 59 * 60_000, now),
            "23h59m"
        );
        assert_eq!(time_until(now + 4 * 60_000 + 9_000, now), "4m09s");
        assert_eq!(time_until(now + 9_999, now), "9s");
        assert_eq!(time_until(now - 5_000, now), "0s");
    }

    #[test]
    fn the_locale_decides_the_glyphs() {
        assert_eq!(Glyphs::from_locale(Some("en_US.UTF-8")), Glyphs::Unicode);
        assert_eq!(Glyphs::from_locale(Some("C.utf8")), Glyphs::Unicode);
        assert_eq!(Glyphs::from_locale(Some("C")), Glyphs::Ascii);
        assert_eq!(Glyphs::from_locale(None), Glyphs::Ascii);
    }

    #[test]
    fn fit_sums_into_columns_ending_at_the_newest() {
        assert_eq!(fit(&[1, 2, 3, 4, 5], 2), vec![1 + 2, 3 + 4 + 5]);
        assert_eq!(fit(&[1, 2, 3], 5), vec![1, 2, 3]);
        assert!(fit(&[1], 0).is_empty());
    }

    #[test]
    fn gauges_clamp_and_say_the_numbers() {
        assert_eq!(gauge_line(5, 10, 4, Glyphs::Ascii), "[##..] 5 / 10 (50%)");
        assert_eq!(
            gauge_line(15, 10, 4, Glyphs::Ascii),
            "[####] 15 / 10 (150%)"
        );
        assert_eq!(gauge_line(0, 0, 2, Glyphs::Ascii), "[..] 0 / 0 (0%)");
    }
}
