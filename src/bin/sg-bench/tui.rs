//! Workload 5: the terminal UI's CPU while 1,000 events per second arrive in its live pane.
//!
//! `streamgate` (the UI, with its servers in process) runs in a detached tmux session over
//! a data dir holding one published API on an origin that writes one event every
//! millisecond. Keys drive it as a person would: Dev Portal, open the API, Subscriptions,
//! `g` for a token, `t` to try it; then the process's CPU time is read from `/proc` over
//! the window, and the event rate from the `seq` numbers shown in the pane.
//!
//! With `chart`, the live pane is focused (Tab) and switched to chart mode (`v`), which
//! charts the first numeric field (`seq`); lines are read for `seq` just before turning
//! the chart on and just after turning it off again (`v`), so the event rate spans a
//! little more than the CPU window.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::BoxError;
use crate::load::LoadResult;
use crate::procstat;

/// The terminal size the UI runs at.
const COLUMNS: &str = "120";
const ROWS: &str = "40";
/// How long each step may take to show on screen.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// What the UI run needs.
pub struct TuiRun<'a> {
    /// The streamgate binary.
    pub streamgate: &'a Path,
    /// Its data dir, set up with the API on the 1 ms origin.
    pub data_dir: PathBuf,
    /// tmux session name.
    pub session: String,
    /// Warm-up before the window.
    pub warmup: Duration,
    /// The measurement window.
    pub duration: Duration,
    /// Whether the live pane shows the chart during the window.
    pub chart: bool,
}

/// Whether tmux can be run.
pub fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn tmux(args: &[&str]) -> Result<String, BoxError> {
    let out = Command::new("tmux").args(args).output()?;
    if !out.status.success() {
        return Err(format!(
            "tmux {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Ends the tmux session (and so the UI) when dropped.
struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        // Already gone is fine.
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn screen(session: &str) -> Result<String, BoxError> {
    tmux(&["capture-pane", "-p", "-t", session])
}

fn wait_for(session: &str, what: &str, done: impl Fn(&str) -> bool) -> Result<(), BoxError> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let text = screen(session)?;
        if done(&text) {
            return Ok(());
        }
        if Instant::now() > deadline {
            let last: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            return Err(format!(
                "the UI did not show {what} within {STEP_TIMEOUT:?}; last line: {:?}",
                last.last().copied().unwrap_or("")
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn keys(session: &str, keys: &[&str]) -> Result<(), BoxError> {
    for key in keys {
        tmux(&["send-keys", "-t", session, key])?;
        std::thread::sleep(Duration::from_millis(300));
    }
    Ok(())
}

/// The largest `"seq":N` on screen: the newest event the live pane shows.
fn newest_seq(text: &str) -> Option<u64> {
    text.match_indices("\"seq\":")
        .filter_map(|(i, m)| {
            let digits: String = text[i + m.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .max()
}

/// The pid of the process in the session's pane.
fn pane_pid(session: &str) -> Result<u32, BoxError> {
    let out = tmux(&["list-panes", "-t", session, "-F", "#{pane_pid}"])?;
    out.trim()
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| format!("no pane pid in {out:?}").into())
}

/// Runs the UI, opens a Try-it stream and measures; blocking.
pub fn measure(run: &TuiRun<'_>) -> Result<LoadResult, BoxError> {
    let command = format!(
        "exec env TERM=xterm-256color '{}' --data-dir '{}' --admin-addr 127.0.0.1:0 --gateway-addr 127.0.0.1:0",
        run.streamgate.display(),
        run.data_dir.display()
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &run.session,
        "-x",
        COLUMNS,
        "-y",
        ROWS,
        &command,
    ])?;
    let session = Session(run.session.clone());
    let s = session.0.as_str();
    wait_for(s, "the Publisher screen", |t| t.contains("Publisher"))?;
    let pid = pane_pid(s)?;
    // Dev Portal, open the (only) API, its Subscriptions page, a token for the app.
    keys(s, &["2", "Enter", "l", "g"])?;
    wait_for(s, "a token for the application", |t| {
        t.contains("this session")
    })?;
    // Try it: events stream into the live pane.
    keys(s, &["t"])?;
    wait_for(s, "events in the live pane", |t| newest_seq(t).is_some())?;
    std::thread::sleep(run.warmup);

    let seq0 = newest_seq(&screen(s)?);
    let seq_t0 = Instant::now();
    if run.chart {
        // Focus the live pane, chart mode on.
        keys(s, &["Tab", "v"])?;
        wait_for(s, "the chart", |t| t.contains("n next field"))?;
        std::thread::sleep(run.warmup);
    }
    let cpu0 = procstat::cpu_of(&[pid])?;
    let main0 = procstat::cpu_of_thread(pid, pid)?;
    let t0 = Instant::now();
    std::thread::sleep(run.duration);
    let cpu1 = procstat::cpu_of(&[pid])?;
    let main1 = procstat::cpu_of_thread(pid, pid)?;
    let window = t0.elapsed().as_secs_f64();
    if run.chart {
        // Lines again, to read the newest `seq`.
        keys(s, &["v"])?;
        wait_for(s, "the lines", |t| newest_seq(t).is_some())?;
    }
    let seq1 = newest_seq(&screen(s)?);
    let seq_window = seq_t0.elapsed().as_secs_f64();
    let rss = procstat::rss_kib_of(&[pid]).ok();
    drop(session);

    let events = seq0
        .zip(seq1)
        .map(|(a, b)| b.saturating_sub(a))
        .unwrap_or(0);
    let cpu = cpu1.since(cpu0);
    let cpu_us = cpu.total_us();
    // Events per second over the span the `seq` numbers were read across.
    let rate = events as f64 / seq_window;
    let main_us = main1.since(main0).total_us();
    Ok(LoadResult {
        mode: if run.chart { "tui-chart" } else { "tui" }.to_string(),
        streams: 1,
        opened: 1,
        failures: usize::from(events == 0),
        first_error: (events == 0).then(|| "no events reached the live pane".to_string()),
        open_secs: 0.0,
        window_secs: window,
        events,
        rate,
        cpu_us: Some(cpu_us),
        cpu_us_per_event: (events > 0).then(|| cpu_us as f64 / (rate * window)),
        cpu_cores: Some(cpu_us as f64 / 1e6 / window),
        cpu_sys_share: (cpu_us > 0).then(|| cpu.sys_us as f64 / cpu_us as f64),
        ui_thread_cores: Some(main_us as f64 / 1e6 / window),
        rss_kib: rss,
        ..LoadResult::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_seq_is_the_largest_on_screen() {
        let text = "|id:5 data:{\"ts\":1,\"seq\":5,\"pad\"|\n|id:12 data:{\"ts\":2,\"seq\":12,|\n";
        assert_eq!(newest_seq(text), Some(12));
        assert_eq!(newest_seq("nothing"), None);
    }
}
