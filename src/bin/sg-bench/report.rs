//! The benchmark report: a markdown table of medians over repetitions, the ratios
//! gateway/nginx and gateway/direct, and the targets checked against them.

use std::fmt::Write as _;

use crate::run::Record;

/// Gateway CPU per event at most this fraction of nginx's (bulk and chatty).
const CPU_RATIO_TARGET: f64 = 0.8;
/// Issue 13: gateway CPU per event over TLS at most this multiple of nginx's with `ssl`.
const TLS_CPU_RATIO_TARGET: f64 = 1.0;
/// Gateway memory per open stream at most this many KiB (fan-out).
const RSS_TARGET_KIB: f64 = 8.0;
/// At least this many authenticated streams opened per second.
const RATE_TARGET: f64 = 2000.0;
/// The terminal UI below this share of one core at 1,000 events per second.
const TUI_TARGET: f64 = 0.10;
/// The UI workloads' rows: workload name and what it shows.
const TUI_ROWS: [(&str, &str); 2] = [
    ("tui", "UI, Try it in the live pane"),
    ("tui-chart", "UI, Try it as a live chart (v)"),
];
/// The smallest fan-out the memory, failure and p99 targets apply to (issues 7 and 15:
/// 8,000 and 20,000 streams).
const FANOUT_TARGET_MIN: usize = 8000;
/// Shared fan-out (issue 16): gateway CPU per event at most this times nginx's.
const SHARED_CPU_RATIO_TARGET: f64 = 0.5;
/// Shared fan-out: at most this much resident memory per subscriber, KiB.
const SHARED_RSS_TARGET_KIB: f64 = 4.0;

/// What the report says about the run itself.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// The command that produced the table.
    pub command: String,
    /// When (RFC 3339, UTC).
    pub date: String,
    /// Cores of the machine.
    pub cores: usize,
    /// Repetitions per measurement.
    pub reps: usize,
    /// Load average before and after.
    pub load_before: String,
    /// Load average after.
    pub load_after: String,
    /// Seconds the measurements took.
    pub elapsed_secs: f64,
    /// Lines to print under the table (e.g. nginx skipped).
    pub notes: Vec<String>,
    /// Workload families that were run.
    pub families: Vec<String>,
    /// Why the terminal UI workload did not run, if it did not.
    pub tui_error: Option<String>,
}

/// Whether the fan-out targets apply to workload `w` (`fanout-N` with N at least
/// [`FANOUT_TARGET_MIN`]).
fn fanout_target_applies(w: &str) -> bool {
    w.strip_prefix("fanout-")
        .and_then(|n| n.parse::<usize>().ok())
        .is_some_and(|n| n >= FANOUT_TARGET_MIN)
}

/// Store calls per 1,000 delivered events at most this many (`--redis`).
const STORE_OPS_TARGET: f64 = 10.0;
/// CPU per event with `--redis` at most this much above without (`--redis`).
const STORE_CPU_TARGET: f64 = 0.10;

/// The `--redis` lines: per workload, the median store calls per 1,000 delivered events
/// of `gateway-redis` and its median CPU per event against `gateway`, with the targets.
/// `store_ops` holds (workload, store calls, events delivered) per measurement.
pub fn store_lines(records: &[Record], store_ops: &[(String, u64, u64)]) -> Vec<String> {
    let mut lines = Vec::new();
    for w in ["bulk", "chatty"] {
        let per_1000 = median(
            store_ops
                .iter()
                .filter(|(name, _, events)| name == w && *events > 0)
                .map(|(_, ops, events)| *ops as f64 * 1000.0 / *events as f64)
                .collect(),
        );
        let Some(per_1000) = per_1000 else {
            continue;
        };
        let cpu = |path: &str| {
            median(
                records
                    .iter()
                    .filter(|r| r.workload == w && r.path == path)
                    .filter_map(|r| r.result.cpu_us_per_event)
                    .collect(),
            )
        };
        let mut line = format!(
            "redis, {w}: {per_1000:.2} store calls per 1,000 events (target at most {STORE_OPS_TARGET}: {})",
            if per_1000 <= STORE_OPS_TARGET {
                "met"
            } else {
                "NOT met"
            }
        );
        if let (Some(with), Some(without)) = (cpu("gateway-redis"), cpu("gateway"))
            && without > 0.0
        {
            let extra = with / without - 1.0;
            let _ = write!(
                line,
                "; CPU per event {with:.2} µs vs {without:.2} µs without Redis ({:+.1}%, target at most +{:.0}%: {})",
                extra * 100.0,
                STORE_CPU_TARGET * 100.0,
                if extra <= STORE_CPU_TARGET {
                    "met"
                } else {
                    "NOT met"
                }
            );
        }
        lines.push(line);
    }
    lines
}

/// The median of some values (`None` when empty).
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// Medians of one (workload, path) over its repetitions.
#[derive(Debug, Clone, Default)]
struct Summary {
    events: Option<f64>,
    rate: Option<f64>,
    cpu: Option<f64>,
    sys: Option<f64>,
    p50: Option<f64>,
    p99: Option<f64>,
    rss: Option<f64>,
    cores: Option<f64>,
    ui_cores: Option<f64>,
    failures: usize,
    runs: usize,
    first_error: Option<String>,
}

fn summarize(records: &[&Record]) -> Summary {
    let pick =
        |f: &dyn Fn(&Record) -> Option<f64>| median(records.iter().filter_map(|r| f(r)).collect());
    Summary {
        events: pick(&|r| Some(r.result.events as f64)),
        rate: pick(&|r| Some(r.result.rate)),
        cpu: pick(&|r| r.result.cpu_us_per_event),
        sys: pick(&|r| r.result.cpu_sys_share),
        p50: pick(&|r| r.result.p50_ms),
        p99: pick(&|r| r.result.p99_ms),
        rss: pick(&|r| r.result.rss_per_stream_kib),
        cores: pick(&|r| r.result.cpu_cores),
        ui_cores: pick(&|r| r.result.ui_thread_cores),
        failures: records.iter().map(|r| r.result.failures).max().unwrap_or(0),
        runs: records.len(),
        first_error: records.iter().find_map(|r| r.result.first_error.clone()),
    }
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "-".to_string())
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn x(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}x"))
        .unwrap_or_else(|| "-".to_string())
}

/// Renders the markdown report.
pub fn render(records: &[Record], meta: &Meta) -> String {
    let mut workloads: Vec<String> = Vec::new();
    for r in records {
        if !workloads.contains(&r.workload) {
            workloads.push(r.workload.clone());
        }
    }
    let paths = ["direct", "gateway", "nginx", "gateway-tls", "nginx-tls"];
    let summary = |w: &str, p: &str| -> Option<Summary> {
        let rs: Vec<&Record> = records
            .iter()
            .filter(|r| r.workload == w && r.path == p)
            .collect();
        (!rs.is_empty()).then(|| summarize(&rs))
    };

    let mut out = String::new();
    let _ = writeln!(out, "Command: `{}`", meta.command);
    let _ = writeln!(
        out,
        "Date: {}; {} cores; medians of {} run(s) each; load average {} before, {} after; {:.0} s of measurements.",
        meta.date, meta.cores, meta.reps, meta.load_before, meta.load_after, meta.elapsed_secs
    );
    out.push('\n');
    out.push_str("| workload | path | events delivered (per window) | CPU µs/event | p50 ms | p99 ms | RSS/stream KiB | failures | CPU in kernel |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for w in workloads
        .iter()
        .filter(|w| !TUI_ROWS.iter().any(|(t, _)| t == w))
    {
        let is_rate = w == "rate";
        let is_fanout = w.starts_with("fanout") || w.starts_with("shared");
        for p in paths {
            let Some(s) = summary(w, p) else { continue };
            let events = if is_rate {
                format!("{} opens/s", num(s.rate, 0))
            } else {
                format!("{} ({}/s)", num(s.events, 0), num(s.rate, 0))
            };
            let cpu = if p == "direct" {
                format!("(origin {})", num(s.cpu, 2))
            } else {
                num(s.cpu, 2)
            };
            let rss = if is_fanout && p != "direct" {
                num(s.rss, 2)
            } else {
                "-".to_string()
            };
            let _ = writeln!(
                out,
                "| {w} | {p} | {events} | {cpu} | {} | {} | {rss} | {} | {} |",
                num(s.p50, 2),
                num(s.p99, 2),
                s.failures,
                s.sys
                    .map(|f| format!("{:.0}%", f * 100.0))
                    .unwrap_or_else(|| "-".to_string())
            );
        }
    }
    let tui: Vec<(&str, &str, Option<Summary>)> = TUI_ROWS
        .iter()
        .filter(|(w, _)| {
            workloads.iter().any(|r| r == w)
                || (*w == "tui" && meta.families.iter().any(|f| f == "tui"))
        })
        .map(|(w, label)| (*w, *label, summary(w, "ui")))
        .collect();
    for (w, label, s) in &tui {
        match s {
            Some(s) => {
                let _ = writeln!(
                    out,
                    "| {w} | {label} | {} ({}/s) | {} | - | - | - | {} | {} |",
                    num(s.events, 0),
                    num(s.rate, 0),
                    num(s.cpu, 2),
                    s.failures,
                    s.sys
                        .map(|f| format!("{:.0}%", f * 100.0))
                        .unwrap_or_else(|| "-".to_string())
                );
            }
            None => {
                let why = meta.tui_error.as_deref().unwrap_or("not run");
                let _ = writeln!(
                    out,
                    "| {w} | {label} | n/a ({why}) | - | - | - | - | - | - |"
                );
            }
        }
    }
    out.push('\n');
    out.push_str(
        "CPU is the proxy process's (nginx: master + workers) user+system time during the window, \
divided by the events (rate: streams opened) delivered in it; on the direct path it is the \
origin's own, for scale. Latency is origin timestamp to parse in the client (rate: connect \
to first event). RSS/stream is the proxy's resident memory growth from a fresh start over \
the open streams. The tui rows are the whole `streamgate` UI process, which also runs the \
gateway that relays the Try-it stream and the Try-it client; tui-chart has the live pane in \
chart mode, charting the events' `seq` field. CPU in kernel is the system-time share of that CPU: loopback TCP \
(including the receiving side's protocol work, which Linux charges to the sender) and \
scheduling.\n\n",
    );

    out.push_str("Ratios (of the medians):\n\n");
    for w in &workloads {
        let g = summary(w, "gateway");
        let n = summary(w, "nginx");
        let d = summary(w, "direct");
        if let (Some(g), Some(n)) = (&g, &n) {
            let mut line = format!(
                "- {w}: gateway/nginx CPU {}, p50 {}, p99 {}",
                x(ratio(g.cpu, n.cpu)),
                x(ratio(g.p50, n.p50)),
                x(ratio(g.p99, n.p99))
            );
            if w.starts_with("fanout") || w.starts_with("shared") {
                let _ = write!(line, ", RSS/stream {}", x(ratio(g.rss, n.rss)));
            }
            if w == "rate" {
                let _ = write!(line, ", opens/s {}", x(ratio(g.rate, n.rate)));
            }
            let per_rep = per_rep_cpu_ratios(records, w);
            if per_rep.len() > 1 {
                let _ = write!(line, " (CPU ratio per run: {})", per_rep.join(", "));
            }
            let _ = writeln!(out, "{line}");
        }
        if let (Some(g), Some(n)) = (summary(w, "gateway-tls"), summary(w, "nginx-tls")) {
            let _ = writeln!(
                out,
                "- {w}: gateway-tls/nginx-tls CPU {}, p50 {}, p99 {}",
                x(ratio(g.cpu, n.cpu)),
                x(ratio(g.p50, n.p50)),
                x(ratio(g.p99, n.p99))
            );
        }
        if let (Some(g), Some(d)) = (&g, &d) {
            let _ = writeln!(
                out,
                "- {w}: gateway/direct p50 {}, p99 {}, events {}",
                x(ratio(g.p50, d.p50)),
                x(ratio(g.p99, d.p99)),
                x(ratio(g.events, d.events))
            );
        }
    }
    out.push('\n');

    out.push_str("Targets (issue 7):\n\n");
    for w in ["bulk", "chatty"] {
        if !meta.families.iter().any(|f| f == w) {
            continue;
        }
        let (g, n) = (summary(w, "gateway"), summary(w, "nginx"));
        match (g, n) {
            (Some(g), Some(n)) => {
                let r = ratio(g.cpu, n.cpu);
                let cpu_ok = r.is_some_and(|r| r <= CPU_RATIO_TARGET);
                let p99_ok = matches!((g.p99, n.p99), (Some(a), Some(b)) if a <= b);
                let _ = writeln!(
                    out,
                    "- {w}: gateway CPU/event {} of nginx's (target <= {CPU_RATIO_TARGET}x): {}; p99 {} ms vs nginx {} ms: {}",
                    x(r),
                    verdict(cpu_ok),
                    num(g.p99, 2),
                    num(n.p99, 2),
                    verdict(p99_ok)
                );
            }
            (Some(_), None) => {
                let _ = writeln!(out, "- {w}: no nginx figures to compare with");
            }
            _ => {}
        }
    }
    for w in ["bulk", "chatty"] {
        if let (Some(g), Some(n)) = (summary(w, "gateway-tls"), summary(w, "nginx-tls")) {
            let r = ratio(g.cpu, n.cpu);
            let _ = writeln!(
                out,
                "- {w} over TLS (issue 13): gateway CPU/event {} of nginx's with `ssl` (target <= {TLS_CPU_RATIO_TARGET}x): {}",
                x(r),
                verdict(r.is_some_and(|r| r <= TLS_CPU_RATIO_TARGET))
            );
        }
    }
    for w in workloads.iter().filter(|w| fanout_target_applies(w)) {
        let Some(g) = summary(w, "gateway") else {
            continue;
        };
        let ok_fail = g.failures == 0 && g.runs > 0;
        let ok_rss = g.rss.is_some_and(|r| r <= RSS_TARGET_KIB);
        let p99 = match summary(w, "nginx") {
            Some(n) => format!(
                "; p99 {} ms vs nginx {} ms: {}",
                num(g.p99, 2),
                num(n.p99, 2),
                verdict(matches!((g.p99, n.p99), (Some(a), Some(b)) if a <= b))
            ),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "- {w}: {} failed streams (target 0): {}; {} KiB per open stream (target <= {RSS_TARGET_KIB}): {}{p99}{}",
            g.failures,
            verdict(ok_fail),
            num(g.rss, 2),
            verdict(ok_rss),
            g.first_error
                .filter(|_| !ok_fail)
                .map(|e| format!(" (first error: {e})"))
                .unwrap_or_default()
        );
    }
    for w in workloads.iter().filter(|w| w.starts_with("shared")) {
        let conns = |p: &str| {
            records
                .iter()
                .filter(|r| r.workload == *w && r.path == p)
                .filter_map(|r| r.result.backend_connections)
                .max()
        };
        let Some(g) = summary(w, "gateway") else {
            continue;
        };
        let n = summary(w, "nginx");
        let r = n.as_ref().and_then(|n| ratio(g.cpu, n.cpu));
        let cpu = match r {
            Some(r) => format!(
                "gateway CPU/event {} of nginx's (target <= {SHARED_CPU_RATIO_TARGET}x): {}",
                x(Some(r)),
                verdict(r <= SHARED_CPU_RATIO_TARGET)
            ),
            None => format!("gateway CPU/event {} µs (no nginx figures)", num(g.cpu, 2)),
        };
        let ok_rss = g.rss.is_some_and(|r| r <= SHARED_RSS_TARGET_KIB);
        let _ = writeln!(
            out,
            "- {w} (issue 16, backend stream shared): {cpu}; {} KiB per subscriber (target <= {SHARED_RSS_TARGET_KIB}): {}; backend connections: gateway {}, nginx {} (target 1): {}; {} failed streams",
            num(g.rss, 2),
            verdict(ok_rss),
            conns("gateway").map_or("-".to_string(), |c| c.to_string()),
            conns("nginx").map_or("-".to_string(), |c| c.to_string()),
            verdict(conns("gateway") == Some(1)),
            g.failures
        );
    }
    if let Some(g) = summary("rate", "gateway") {
        let ok = g.rate.is_some_and(|r| r >= RATE_TARGET);
        let nginx = match summary("rate", "nginx") {
            Some(n) => format!(
                "; nginx {} (issue 15: at least nginx's): {}",
                num(n.rate, 0),
                verdict(matches!((g.rate, n.rate), (Some(a), Some(b)) if a >= b))
            ),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "- connection rate: {} authenticated streams opened/s (target >= {RATE_TARGET:.0}): {}{nginx}",
            num(g.rate, 0),
            verdict(ok)
        );
    }
    for (w, label, s) in &tui {
        match s {
            Some(s) => {
                let ok = s.cores.is_some_and(|c| c < TUI_TARGET);
                let _ = writeln!(
                    out,
                    "- terminal UI ({w}: {label}) at {} events/s: {}% of one core for the whole process (target < {:.0}%): {}; its UI thread alone {}%",
                    num(s.rate, 0),
                    num(s.cores.map(|c| c * 100.0), 1),
                    TUI_TARGET * 100.0,
                    verdict(ok),
                    num(s.ui_cores.map(|c| c * 100.0), 1)
                );
            }
            None if meta.families.iter().any(|f| f == "tui") => {
                let why = meta.tui_error.as_deref().unwrap_or("not run");
                let _ = writeln!(out, "- terminal UI ({w}) at 1,000 events/s: n/a ({why})");
            }
            None => {}
        }
    }
    for note in &meta.notes {
        let _ = writeln!(out, "\n{note}");
    }
    out
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

/// gateway/nginx CPU per event, run by run (same repetition index).
fn per_rep_cpu_ratios(records: &[Record], workload: &str) -> Vec<String> {
    let find = |path: &str, rep: usize| {
        records
            .iter()
            .find(|r| r.workload == workload && r.path == path && r.rep == rep)
            .and_then(|r| r.result.cpu_us_per_event)
    };
    let reps = records.iter().map(|r| r.rep).max().unwrap_or(0);
    (0..=reps)
        .filter_map(|rep| ratio(find("gateway", rep), find("nginx", rep)))
        .map(|r| format!("{r:.2}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::LoadResult;

    fn record(workload: &str, path: &str, rep: usize, cpu: f64, p99: f64) -> Record {
        Record {
            workload: workload.to_string(),
            path: path.to_string(),
            rep,
            result: LoadResult {
                mode: "stream".to_string(),
                events: 1000,
                rate: 100.0,
                cpu_us_per_event: Some(cpu),
                p50_ms: Some(p99 / 2.0),
                p99_ms: Some(p99),
                ..LoadResult::default()
            },
        }
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }

    #[test]
    fn shared_fanout_reports_cpu_ratio_memory_and_backend_connections() {
        let mut g = record("shared-8000", "gateway", 0, 5.0, 2.0);
        g.result.rss_per_stream_kib = Some(3.5);
        g.result.backend_connections = Some(1);
        let mut n = record("shared-8000", "nginx", 0, 20.0, 2.0);
        n.result.rss_per_stream_kib = Some(14.0);
        n.result.backend_connections = Some(8000);
        let meta = Meta {
            families: vec!["shared".to_string()],
            reps: 1,
            ..Meta::default()
        };
        let text = render(&[g, n], &meta);
        assert!(
            text.contains("| shared-8000 | gateway | 1000 (100/s) | 5.00 |"),
            "{text}"
        );
        assert!(
            text.contains(
                "gateway CPU/event 0.25x of nginx's (target <= 0.5x): met; 3.50 KiB per subscriber (target <= 4): met; backend connections: gateway 1, nginx 8000 (target 1): met"
            ),
            "{text}"
        );
    }

    #[test]
    fn fanout_targets_apply_from_8000_streams_with_p99_against_nginx() {
        let mut small = record("fanout-4000", "gateway", 0, 5.0, 2.0);
        small.result.rss_per_stream_kib = Some(20.0);
        let mut g = record("fanout-20000", "gateway", 0, 5.0, 9.0);
        g.result.rss_per_stream_kib = Some(7.5);
        let n = record("fanout-20000", "nginx", 0, 5.0, 8.0);
        let meta = Meta {
            families: vec!["fanout".to_string()],
            reps: 1,
            ..Meta::default()
        };
        let text = render(&[small, g, n], &meta);
        assert!(
            text.contains(
                "- fanout-20000: 0 failed streams (target 0): met; 7.50 KiB per open stream (target <= 8): met; p99 9.00 ms vs nginx 8.00 ms: MISSED"
            ),
            "{text}"
        );
        assert!(!text.contains("- fanout-4000: "), "{text}");
    }

    #[test]
    fn report_shows_ratios_and_targets() {
        let records = vec![
            record("bulk", "direct", 0, 1.0, 1.0),
            record("bulk", "gateway", 0, 2.0, 3.0),
            record("bulk", "nginx", 0, 4.0, 2.0),
        ];
        let meta = Meta {
            families: vec!["bulk".to_string()],
            reps: 1,
            ..Meta::default()
        };
        let text = render(&records, &meta);
        assert!(
            text.contains("| bulk | gateway | 1000 (100/s) | 2.00 |"),
            "{text}"
        );
        assert!(text.contains("gateway/nginx CPU 0.50x"), "{text}");
        assert!(
            text.contains("(target <= 0.8x): met; p99 3.00 ms vs nginx 2.00 ms: MISSED"),
            "{text}"
        );
        assert!(
            text.contains("| bulk | direct | 1000 (100/s) | (origin 1.00) |"),
            "{text}"
        );
    }
}
