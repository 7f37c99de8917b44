//! Servers: the management API and the gateway (addresses, open streams, events per
//! second), the gateway nodes fed by this control plane, and the memory backend with its
//! Time and Interval fields, start and stop.

use std::net::SocketAddr;
use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

use super::ScreenId;
use crate::tui::action::{Action, Command, Done};
use crate::tui::input::TextInput;
use crate::tui::screen::{Ctx, Effects, Screen};
use crate::tui::screens::live::LineKind;
use crate::tui::state::Level;
use crate::tui::widgets::{block, field, hints, marker};

/// The memory backend as the UI knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendState {
    /// Not running.
    Stopped,
    /// Start asked.
    Starting,
    /// Listening here.
    Running(SocketAddr),
    /// Stop asked.
    Stopping,
    /// Could not start.
    Failed(String),
}

const TIME_ROW: usize = 0;
const INTERVAL_ROW: usize = 1;
const PORT_ROW: usize = 2;
const BUTTON_ROW: usize = 3;

/// The Servers tab's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Servers {
    /// The selected row.
    pub row: usize,
    /// Whether the selected field is being edited.
    pub editing: bool,
    backup: Option<String>,
    /// How long one request is served, ms (0: no limit).
    pub time: TextInput,
    /// Time between events, ms.
    pub interval: TextInput,
    /// The port to listen on.
    pub port: TextInput,
    /// The backend's state.
    pub backend: BackendState,
    /// Admin > Users, when open.
    pub users: Option<super::users::UsersPage>,
}

impl Servers {
    /// The tutorial's values: `--time=5000 --interval=1000`, on the given port.
    pub fn new(port: u16) -> Self {
        Servers {
            row: BUTTON_ROW,
            editing: false,
            backup: None,
            time: TextInput::digits("5000"),
            interval: TextInput::digits("1000"),
            port: TextInput::digits(&port.to_string()),
            backend: BackendState::Stopped,
            users: None,
        }
    }

    fn input(&mut self, row: usize) -> Option<&mut TextInput> {
        match row {
            TIME_ROW => Some(&mut self.time),
            INTERVAL_ROW => Some(&mut self.interval),
            PORT_ROW => Some(&mut self.port),
            _ => None,
        }
    }

    /// Whether the backend runs (or is about to).
    pub fn running(&self) -> bool {
        matches!(
            self.backend,
            BackendState::Running(_) | BackendState::Starting
        )
    }
}

impl Screen for Servers {
    fn id(&self) -> ScreenId {
        if self.users.is_some() {
            return ScreenId::Users;
        }
        ScreenId::Servers
    }

    fn help(&self) -> (&'static str, Vec<(&'static str, &'static str)>) {
        if self.users.is_some() {
            return ("Admin > Users", super::users::keys());
        }
        ("Servers", keys())
    }

    fn keymap(&self, c: char) -> Option<Action> {
        if let Some(page) = &self.users {
            return super::users::keymap(page, c);
        }
        if c == 'u' {
            return Some(Action::OpenUsers);
        }
        keymap(c)
    }

    fn is_typing(&self) -> bool {
        self.editing || self.users.as_ref().is_some_and(|u| u.form.is_some())
    }

    fn update(&mut self, ctx: &Ctx, action: Action) -> Effects {
        let mut fx = Effects::none();
        if let Some(page) = &mut self.users {
            if super::users::update(page, ctx, &mut fx, action) {
                self.users = None;
            }
            return fx;
        }
        if matches!(action, Action::OpenUsers) {
            if ctx.config.is_admin() {
                self.users = Some(super::users::UsersPage::default());
            } else {
                fx.error(format!(
                    "{} cannot manage users: Admin > Users needs the admin role",
                    ctx.config.principal.user
                ));
            }
            return fx;
        }
        let commands = match action {
            Action::Done(Done::BackendStarted(result)) => {
                on_started(self, &mut fx, result);
                Vec::new()
            }
            Action::Done(Done::BackendStopped(result)) => {
                on_stopped(self, &mut fx, result);
                Vec::new()
            }
            Action::Done(_) => Vec::new(),
            other => update(self, ctx, &mut fx, other),
        };
        fx.commands(commands);
        fx
    }

    fn draw(&self, ctx: &Ctx, frame: &mut Frame, area: Rect) {
        if let Some(page) = &self.users {
            super::users::draw(page, ctx, frame, area);
            return;
        }
        draw(self, ctx, frame, area, ctx.focused);
    }
}

/// The letter keys.
pub fn keymap(c: char) -> Option<Action> {
    match c {
        's' => Some(Action::Save),
        'e' => Some(Action::Edit),
        _ => None,
    }
}

/// Keys, for help.
pub fn keys() -> Vec<(&'static str, &'static str)> {
    vec![
        ("u", "Admin > Users: add and remove users (admin only)"),
        ("s", "start or stop the memory backend"),
        ("j/k", "select Time, Interval, Port or the button"),
        (
            "Enter / e",
            "edit the field (Enter again keeps, Esc undoes)",
        ),
        ("Enter on the button", "start or stop"),
    ]
}

/// The Servers part of `update`.
pub fn update(s: &mut Servers, ctx: &Ctx, fx: &mut Effects, action: Action) -> Vec<Command> {
    if s.editing {
        let row = s.row;
        match action {
            Action::Enter => {
                s.editing = false;
                s.backup = None;
            }
            Action::Back => {
                let backup = s.backup.take().unwrap_or_default();
                if let Some(input) = s.input(row) {
                    input.set(&backup);
                }
                s.editing = false;
            }
            Action::Up | Action::Down => {
                s.editing = false;
                s.backup = None;
                s.row = if matches!(action, Action::Up) {
                    row.saturating_sub(1)
                } else {
                    (row + 1).min(BUTTON_ROW)
                };
            }
            other => {
                if let Some(input) = s.input(row) {
                    input.edit(&other);
                }
            }
        }
        return Vec::new();
    }
    match action {
        Action::Up => s.row = s.row.saturating_sub(1),
        Action::Down => s.row = (s.row + 1).min(BUTTON_ROW),
        Action::Top => s.row = 0,
        Action::Bottom => s.row = BUTTON_ROW,
        Action::Enter | Action::Edit if s.row < BUTTON_ROW => {
            let row = s.row;
            let value = s.input(row).map(|i| i.value().to_string());
            s.backup = value;
            s.editing = true;
        }
        Action::Enter | Action::Save => return start_stop(s, ctx, fx),
        _ => {}
    }
    Vec::new()
}

/// Starts or stops the backend with the fields' values.
pub fn start_stop(srv: &mut Servers, ctx: &Ctx, fx: &mut Effects) -> Vec<Command> {
    match srv.backend.clone() {
        BackendState::Starting | BackendState::Stopping => Vec::new(),
        BackendState::Running(_) => {
            srv.backend = BackendState::Stopping;
            fx.status(Level::Info, "Stopping the memory backend...");
            vec![Command::StopBackend]
        }
        BackendState::Stopped | BackendState::Failed(_) => {
            let s = &*srv;
            let time: u64 = s.time.value().parse().unwrap_or(0);
            let interval: u64 = s.interval.value().parse().unwrap_or(0);
            let port: Option<u16> = s.port.value().parse().ok();
            if interval == 0 {
                fx.error("Interval must be at least 1 ms");
                return Vec::new();
            }
            let Some(port) = port else {
                fx.error("Port must be a number from 0 to 65535");
                return Vec::new();
            };
            let mut addr = ctx.config.backend_addr;
            addr.set_port(port);
            srv.backend = BackendState::Starting;
            fx.status(
                Level::Info,
                format!("Starting the memory backend on {addr}..."),
            );
            vec![Command::StartBackend {
                addr,
                interval: Duration::from_millis(interval),
                time: (time > 0).then(|| Duration::from_millis(time)),
            }]
        }
    }
}

/// The runtime answered `StartBackend`.
pub fn on_started(srv: &mut Servers, fx: &mut Effects, result: Result<SocketAddr, String>) {
    match result {
        Ok(addr) => {
            srv.backend = BackendState::Running(addr);
            srv.port.set(&addr.port().to_string());
            let text = format!(
                "memory backend listening on http://{addr}/memory (time {} ms, interval {} ms)",
                srv.time.value(),
                srv.interval.value()
            );
            fx.log(LineKind::Info, text);
            fx.status(
                Level::Ok,
                format!("Memory backend running on http://{addr}/memory"),
            );
        }
        Err(e) => {
            fx.log(LineKind::Error, format!("memory backend: {e}"));
            srv.backend = BackendState::Failed(e.clone());
            fx.error(format!("Memory backend did not start: {e}"));
        }
    }
}

/// The runtime answered `StopBackend`.
pub fn on_stopped(srv: &mut Servers, fx: &mut Effects, result: Result<(), String>) {
    srv.backend = BackendState::Stopped;
    match result {
        Ok(()) => {
            fx.log(LineKind::Info, "memory backend stopped");
            fx.status(Level::Ok, "Memory backend stopped");
        }
        Err(e) => fx.error(format!("memory backend stopped with an error: {e}")),
    }
}

/// The HTTPS gateway's address (h2 and HTTP/1.1) and its certificate's SHA-256
/// fingerprint, cut to the width (the whole fingerprint is in the live pane and the log).
fn tls_line<'a>(ctx: &Ctx, tls: &crate::tui::state::TlsInfo, width: usize) -> Line<'a> {
    let theme = ctx.theme;
    let label = Span::styled(format!("{:<16}", "HTTPS gateway"), theme.muted());
    match &tls.gateway {
        Ok(a) => {
            let addr = format!("https://{a}");
            let room = width.saturating_sub(16 + addr.len() + 11);
            Line::from(vec![
                label,
                Span::styled(addr, theme.accent()),
                Span::styled("  SHA-256 ", theme.muted()),
                Span::styled(
                    crate::tui::widgets::ellipsis(&tls.fingerprint, room),
                    theme.text(),
                ),
            ])
        }
        Err(e) => Line::from(vec![
            label,
            Span::styled(format!("not running: {e}"), theme.error()),
        ]),
    }
}

/// Node rows shown at most; the rest are counted.
const MAX_NODE_ROWS: usize = 3;

/// The gateway nodes (`streamgate gateway`) this control plane knows: a summary line and,
/// room permitting, one line per node (name, address, applied version, open streams, last
/// seen); nothing when there are none. At most `room` lines, but always the summary.
fn node_lines<'a>(ctx: &Ctx, width: usize, room: usize) -> Vec<Line<'a>> {
    let nodes = &ctx.analytics.nodes;
    if nodes.is_empty() {
        return Vec::new();
    }
    let theme = ctx.theme;
    let connected = nodes.iter().filter(|n| n.connected).count();
    // One row per node only when every row up to MAX_NODE_ROWS fits; else the names.
    let rows = room.saturating_sub(1).min(MAX_NODE_ROWS);
    let rows = if rows < nodes.len().min(MAX_NODE_ROWS) {
        0
    } else {
        rows
    };
    let more = nodes.len().saturating_sub(rows);
    let mut summary = format!("{connected} of {} connected", nodes.len());
    if rows == 0 {
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        summary.push_str(&format!(": {}", names.join(", ")));
    } else if more > 0 {
        summary.push_str(&format!(" ({more} more: streamgate node list)"));
    }
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{:<16}", "Gateway nodes"), theme.muted()),
        Span::styled(
            crate::tui::widgets::ellipsis(&summary, width.saturating_sub(16)),
            theme.text(),
        ),
    ])];
    for n in nodes.iter().take(rows) {
        let seen = match n.last_seen {
            Some(ms) => format!("{}s ago", (ctx.clock_ms() - ms).max(0) / 1000),
            None => "never".to_string(),
        };
        let applied = n
            .report
            .applied_version
            .map_or("-".to_string(), |v| format!("v{v}"));
        let text = format!(
            "{}  applied {applied}  open {}  seen {seen}",
            n.report.address.as_deref().unwrap_or("-"),
            n.report.open_streams
        );
        let name = crate::tui::widgets::ellipsis(&n.name, 13);
        lines.push(Line::from(vec![
            Span::styled(format!("  {name:<14}"), theme.muted()),
            Span::styled(
                crate::tui::widgets::ellipsis(&text, width.saturating_sub(16)),
                if n.connected {
                    theme.ok()
                } else {
                    theme.error()
                },
            ),
        ]));
    }
    lines
}

/// Draws the Servers tab.
pub fn draw(s: &Servers, ctx: &Ctx, frame: &mut Frame, area: Rect, focused: bool) {
    let theme = ctx.theme;
    let outer = block(theme, "Servers", focused);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let label = |s: &str| Span::styled(format!("{s:<16}"), theme.muted());
    let addr_line = |name: &str, addr: &Result<SocketAddr, String>, what: &str| match addr {
        Ok(a) => Line::from(vec![
            label(name),
            Span::styled(format!("http://{a}"), theme.accent()),
            Span::styled(format!("  {what}"), theme.muted()),
        ]),
        Err(e) => Line::from(vec![
            label(name),
            Span::styled(format!("not running: {e}"), theme.error()),
        ]),
    };
    let stats = &ctx.stats;
    let lines = vec![
        addr_line(
            "Management API",
            &ctx.config.admin,
            "REST: /api/am/..., /oauth2/token",
        ),
        addr_line("Gateway", &ctx.config.gateway, "serves deployed APIs"),
    ];
    let mut lines = lines;
    if let Some(tls) = &ctx.config.tls {
        lines.push(tls_line(ctx, tls, usize::from(inner.width)));
    }
    if let Some(up) = stats.quota_store {
        lines.push(Line::from(vec![
            label("Quota store"),
            if up {
                Span::styled("Redis: up (quotas shared across gateways)", theme.ok())
            } else {
                Span::styled(
                    "Redis: UNAVAILABLE (metered traffic runs on leases held; reconnecting)",
                    theme.error(),
                )
            },
        ]));
    }
    lines.push(Line::from(vec![
        label("Gateway traffic"),
        Span::styled(
            format!(
                "open streams {}   events/s {:.1}   events {}   rejected {}",
                stats.open_streams, ctx.events_per_sec, stats.events_total, stats.rejections
            ),
            theme.text(),
        ),
    ]));
    // The log file is in the data dir: one line for both leaves a row for the nodes.
    let data_dir = ctx.config.data_dir.display().to_string();
    match ctx.config.log_file.strip_prefix(&ctx.config.data_dir) {
        Ok(log) => lines.push(Line::from(vec![
            label("Data dir"),
            Span::styled(data_dir, theme.text()),
            Span::styled(format!("  (log: {})", log.display()), theme.muted()),
        ])),
        Err(_) => lines.extend([
            Line::from(vec![
                label("Data dir"),
                Span::styled(data_dir, theme.text()),
            ]),
            Line::from(vec![
                label("Log file"),
                Span::styled(ctx.config.log_file.display().to_string(), theme.text()),
            ]),
        ]),
    }
    // The backend's rows (6) and the hints keep their room; nodes get what is left, but
    // their summary always shows (the backend's command line gives way to it).
    let fixed = u16::try_from(lines.len()).unwrap_or(u16::MAX);
    let room = usize::from(inner.height.saturating_sub(fixed + 6 + 1));
    let node_lines = node_lines(ctx, usize::from(inner.width), room);
    lines.extend(node_lines);
    let [top, rows, foot] = Layout::vertical([
        Constraint::Length(u16::try_from(lines.len()).unwrap_or(u16::MAX)),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(lines), top);

    let row = |i: u16| Rect::new(rows.x, rows.y + i, rows.width, 1);
    if rows.height < 5 {
        return;
    }
    frame.render_widget(
        Line::from(Span::styled(
            "Memory backend - the tutorial's sample SSE server (GET /memory)",
            theme.title(),
        )),
        row(0),
    );
    let notes = [
        ("Time (ms)", "how long one request is served; 0: no limit"),
        ("Interval (ms)", "time between two events"),
        ("Port", ""),
    ];
    for (i, (name, note)) in notes.iter().enumerate() {
        let r = row(u16::try_from(i).unwrap_or(0) + 1);
        let selected = focused && s.row == i;
        let input = match i {
            TIME_ROW => &s.time,
            INTERVAL_ROW => &s.interval,
            _ => &s.port,
        };
        let split = 16 + 10;
        let [left, right] =
            Layout::horizontal([Constraint::Length(split), Constraint::Min(1)]).areas(r);
        field(
            frame,
            theme,
            left,
            name,
            16,
            input,
            selected,
            selected && s.editing,
        );
        let note = if i == PORT_ROW {
            format!("on {}", ctx.config.backend_addr.ip())
        } else {
            (*note).to_string()
        };
        frame.render_widget(
            Line::from(Span::styled(format!(" {note}"), theme.muted())),
            right,
        );
    }
    let selected = focused && s.row == BUTTON_ROW;
    let (button, status, status_style) = match &s.backend {
        BackendState::Stopped => ("[ Start ]", "stopped".to_string(), theme.muted()),
        BackendState::Starting => ("[ Start ]", "starting...".to_string(), theme.muted()),
        BackendState::Stopping => ("[ Stop ]", "stopping...".to_string(), theme.muted()),
        BackendState::Failed(e) => ("[ Start ]", format!("failed: {e}"), theme.error()),
        BackendState::Running(addr) => {
            let (open, sent) = stats
                .backend
                .map(|b| (b.open_streams, b.events_sent))
                .unwrap_or_default();
            (
                "[ Stop ]",
                format!("running on {addr}   open streams {open}   events sent {sent}"),
                theme.ok(),
            )
        }
    };
    frame.render_widget(
        Line::from(vec![
            Span::styled(
                format!("{}{button}", marker(selected)),
                if selected {
                    theme.selection()
                } else {
                    theme.accent()
                },
            ),
            Span::styled(format!("  {status}"), status_style),
        ]),
        row(4),
    );
    // The command line only when there is room: the form and its button come first.
    if rows.height >= 6 {
        frame.render_widget(
            Line::from(vec![
                Span::styled("  same as: ", theme.muted()),
                Span::styled(
                    format!(
                        "streamgate backend --port={} --time={} --interval={}",
                        s.port.value(),
                        s.time.value(),
                        s.interval.value()
                    ),
                    theme.text(),
                ),
            ]),
            row(5),
        );
    }
    if rows.height >= 7 {
        draw_sparklines(ctx, frame, row(6));
    }
    frame.render_widget(
        hints(
            theme,
            &[
                ("s", "start/stop"),
                ("j/k", "select"),
                ("Enter/e", "edit field"),
                ("?", "keys"),
            ],
        ),
        foot,
    );
}

/// One row once the runtime has fed it: the gateway's events/s and open streams over the
/// last minutes as sparklines, and this process's CPU and memory.
fn draw_sparklines(ctx: &Ctx, frame: &mut Frame, area: Rect) {
    let Some(process) = ctx.analytics.process else {
        return;
    };
    let theme = ctx.theme;
    let g = &ctx.analytics.gateway;
    let text = format!(
        "CPU {:.1}%  mem {} MiB",
        process.cpu_percent,
        process.memory_bytes / (1024 * 1024)
    );
    let fixed = 16 + 1 + 6 + 1 + 2 + text.chars().count();
    let spare = usize::from(area.width).saturating_sub(fixed);
    let events_w = spare * 2 / 3;
    let open_w = spare - events_w;
    let [l1, s1, l2, s2, rest] = Layout::horizontal([
        Constraint::Length(16),
        Constraint::Length(u16::try_from(events_w).unwrap_or(0)),
        Constraint::Length(7),
        Constraint::Length(u16::try_from(open_w).unwrap_or(0)),
        Constraint::Min(1),
    ])
    .areas(area);
    let tail = |data: &[u64], w: usize| -> Vec<u64> {
        data.iter()
            .skip(data.len().saturating_sub(w))
            .copied()
            .collect()
    };
    let bars = ctx.analytics.glyphs.bar_set();
    frame.render_widget(
        Span::styled(format!("{:<16}", "  events/s"), theme.muted()),
        l1,
    );
    frame.render_widget(
        Sparkline::default()
            .data(tail(&g.per_second, events_w))
            .bar_set(bars.clone())
            .style(theme.event()),
        s1,
    );
    frame.render_widget(Span::styled(" open ", theme.muted()), l2);
    frame.render_widget(
        Sparkline::default()
            .data(tail(&g.open_per_second, open_w))
            .bar_set(bars)
            .style(theme.ok()),
        s2,
    );
    frame.render_widget(Span::styled(format!("  {text}"), theme.text()), rest);
}
