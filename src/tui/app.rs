//! The UI's whole state and `App::update`, the one function that changes it. Pure: no I/O,
//! no clock, no channels; it returns the [`Command`]s the runtime should run.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::catalog::{Api, KeyType};
use crate::control::Snapshot;
use crate::telemetry::TrafficEvent;

use super::action::{
    Action, Command, Done, KeysInfo, ServerStats, StreamItem, StreamUpdate, Tab, TokenInfo,
};
use super::live::{LineKind, LiveLine, LivePane};
use super::screens::{self, portal::Portal, publisher::Publisher, servers::Servers};
use super::theme::Theme;

/// Ticks a status message stays on screen (at the 100 ms tick: 8 s).
pub const STATUS_TICKS: u32 = 80;

/// Which pane has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The screen of the current tab.
    Main,
    /// The live events pane.
    Live,
}

/// How a status message reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Neutral.
    Info,
    /// Success.
    Ok,
    /// Attention.
    Warning,
    /// Failure.
    Error,
}

/// The one-line message at the bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// How it reads.
    pub level: Level,
    /// The text.
    pub text: String,
    /// Ticks since it appeared.
    pub age: u32,
}

/// A dialog on top of everything.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    /// The keys of the current screen.
    Help,
    /// "Are you sure?" before a command runs.
    Confirm {
        /// The question's title, e.g. `Publish`.
        title: String,
        /// What will happen.
        message: String,
        /// What runs on yes.
        command: Box<Command>,
    },
    /// Quit while streams are open.
    Quit {
        /// How many.
        open_streams: usize,
    },
}

/// Where the servers are: fixed at start, passed in by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppConfig {
    /// The management API's address, or why it is not running.
    pub admin: Result<SocketAddr, String>,
    /// The gateway's address, or why it is not running.
    pub gateway: Result<SocketAddr, String>,
    /// Where the memory backend listens when started.
    pub backend_addr: SocketAddr,
    /// The data dir.
    pub data_dir: PathBuf,
    /// The log file.
    pub log_file: PathBuf,
}

impl AppConfig {
    /// The gateway as people type it: `localhost:8280` for a loopback or unspecified
    /// address.
    pub fn gateway_host(&self) -> Option<String> {
        self.gateway.as_ref().ok().map(|a| display_host(*a))
    }
}

/// `localhost:PORT` for loopback and unspecified addresses, else the address.
pub fn display_host(addr: SocketAddr) -> String {
    if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

/// Where to connect to reach `addr` from this process (unspecified becomes loopback).
pub fn connect_addr(addr: SocketAddr) -> SocketAddr {
    let mut a = addr;
    if a.ip().is_unspecified() {
        a.set_ip(if a.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    a
}

/// An in-process (Try it) stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryStream {
    /// `Name:version` of the API.
    pub api: String,
    /// The application whose token it uses.
    pub app: String,
    /// Whether it is open.
    pub state: StreamState,
    /// Events received.
    pub events: u64,
}

/// A Try-it stream's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamState {
    /// Request sent.
    Opening,
    /// Receiving.
    Open,
    /// Over, with the reason.
    Ended(String),
}

impl TryStream {
    /// Whether it still runs.
    pub fn is_live(&self) -> bool {
        !matches!(self.state, StreamState::Ended(_))
    }
}

/// What this session produced that the catalog does not keep: secrets shown once,
/// tokens, streams.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// Tokens issued, by application id, newest last.
    pub tokens: BTreeMap<String, Vec<TokenInfo>>,
    /// Keys generated (with their secrets), by application id.
    pub keys: BTreeMap<String, Vec<KeysInfo>>,
    /// Whether a token was copied (tutorial step 7).
    pub token_copied: bool,
    /// Try-it streams by number.
    pub streams: BTreeMap<u64, TryStream>,
    /// The next Try-it stream number.
    pub next_stream_id: u64,
    /// Gateway streams open now: stream id -> API handle.
    pub gateway_streams: HashMap<u64, String>,
    /// Events seen per API handle (Try it and gateway streams), for the tutorial.
    pub events_by_api: HashMap<String, u64>,
}

impl Session {
    /// The newest token of an application.
    pub fn latest_token(&self, app_id: &str) -> Option<&TokenInfo> {
        self.tokens.get(app_id).and_then(|t| t.last())
    }
}

/// The UI's state.
#[derive(Debug, Clone)]
pub struct App {
    /// Addresses and paths.
    pub config: AppConfig,
    /// Colours.
    pub theme: Theme,
    /// The latest catalog snapshot.
    pub catalog: Arc<Snapshot>,
    /// The current tab.
    pub tab: Tab,
    /// Which pane has the keyboard.
    pub focus: Focus,
    /// Whether the focused pane fills the screen.
    pub zoom: bool,
    /// The dialog on top.
    pub overlay: Option<Overlay>,
    /// The bottom line's message.
    pub status: Option<Status>,
    /// The Publisher tab.
    pub publisher: Publisher,
    /// The Developer Portal tab.
    pub portal: Portal,
    /// The Servers tab.
    pub servers: Servers,
    /// The tutorial's selected step.
    pub tutorial_cursor: usize,
    /// The live pane.
    pub live: LivePane,
    /// Secrets, tokens and streams of this session.
    pub session: Session,
    /// The latest counters.
    pub stats: ServerStats,
    /// Gateway events per second over the last seconds.
    pub events_per_sec: f64,
    rate_samples: VecDeque<(u64, u64)>,
    /// Set when the UI should end.
    pub should_quit: bool,
}

/// Timestamps of lines the UI writes itself come from the last tick's wall clock.
fn ui_line(app: &App, kind: LineKind, text: impl Into<String>) -> LiveLine {
    LiveLine::new(app.clock_ms(), kind, "ui", text)
}

impl App {
    /// A fresh UI over a catalog snapshot; `now_ms` stamps the first lines (the wall
    /// clock is otherwise read only by the runtime, on each tick).
    pub fn new(config: AppConfig, theme: Theme, catalog: Arc<Snapshot>, now_ms: i64) -> App {
        let backend_port = config.backend_addr.port();
        let mut app = App {
            config,
            theme,
            catalog,
            tab: Tab::Publisher,
            focus: Focus::Main,
            zoom: false,
            overlay: None,
            status: None,
            publisher: Publisher::default(),
            portal: Portal::default(),
            servers: Servers::new(backend_port),
            tutorial_cursor: 0,
            live: LivePane::default(),
            session: Session {
                next_stream_id: 1,
                ..Session::default()
            },
            stats: ServerStats {
                wall_ms: now_ms,
                ..ServerStats::default()
            },
            events_per_sec: 0.0,
            rate_samples: VecDeque::new(),
            should_quit: false,
        };
        let mut problems = Vec::new();
        if let Err(e) = &app.config.admin {
            problems.push(format!("management API not running: {e}"));
        }
        if let Err(e) = &app.config.gateway {
            problems.push(format!("gateway not running: {e}"));
        }
        for p in &problems {
            let line = ui_line(&app, LineKind::Error, p.clone());
            app.live.push(line);
        }
        if problems.is_empty() {
            app.set_status(
                Level::Info,
                "Welcome! New here? Press 4 for the guided tutorial.",
            );
        } else {
            app.set_status(Level::Warning, problems.join("; "));
        }
        app
    }

    /// The wall clock used for lines the UI writes: the last tick's. Kept in state so
    /// `update` stays pure and snapshots stay stable.
    pub fn clock_ms(&self) -> i64 {
        self.stats.wall_ms
    }

    /// Shows a message on the bottom line.
    pub fn set_status(&mut self, level: Level, text: impl Into<String>) {
        self.status = Some(Status {
            level,
            text: text.into(),
            age: 0,
        });
    }

    /// Shows an error's message.
    pub fn error(&mut self, text: impl Into<String>) {
        self.set_status(Level::Error, text);
    }

    /// Adds a line to the live pane.
    pub fn log(&mut self, kind: LineKind, text: impl Into<String>) {
        let line = ui_line(self, kind, text);
        self.live.push(line);
    }

    /// Streams open now: the gateway's (which include Try it) or Try it's, whichever is
    /// more, plus the backend's when there is no gateway count.
    pub fn open_streams(&self) -> usize {
        let try_it = self
            .session
            .streams
            .values()
            .filter(|s| s.is_live())
            .count();
        let gateway = usize::try_from(self.stats.open_streams.max(0)).unwrap_or(0);
        let backend = self.stats.backend.map(|b| b.open_streams).unwrap_or(0);
        try_it.max(gateway).max(backend)
    }

    /// Whether a text field has the keyboard (letters are typed, not commands).
    pub fn is_typing(&self) -> bool {
        match self.focus {
            Focus::Live => self.live.filter_editing,
            Focus::Main => screens::is_typing(self),
        }
    }

    /// An API by id in the current snapshot.
    pub fn api(&self, id: &str) -> Option<&Api> {
        self.catalog.apis.get(id)
    }

    /// Applies one action; returns the commands to run.
    pub fn update(&mut self, action: Action) -> Vec<Command> {
        match action {
            Action::Quit => {
                self.should_quit = true;
                Vec::new()
            }
            Action::RequestQuit => {
                let open_streams = self.open_streams();
                if open_streams > 0 {
                    self.overlay = Some(Overlay::Quit { open_streams });
                } else {
                    self.should_quit = true;
                }
                Vec::new()
            }
            Action::SwitchTab(tab) => {
                if tab == Tab::Tutorial && self.tab != Tab::Tutorial {
                    self.tutorial_cursor = screens::tutorial::next_step(self).unwrap_or(0);
                }
                self.tab = tab;
                self.focus = Focus::Main;
                self.live.filter_editing = false;
                Vec::new()
            }
            Action::ToggleFocus => {
                self.focus = match self.focus {
                    Focus::Main => Focus::Live,
                    Focus::Live => Focus::Main,
                };
                self.live.filter_editing = false;
                Vec::new()
            }
            Action::ToggleHelp => {
                self.overlay = match self.overlay {
                    Some(Overlay::Help) => None,
                    _ => Some(Overlay::Help),
                };
                Vec::new()
            }
            Action::ToggleZoom => {
                self.zoom = !self.zoom;
                Vec::new()
            }
            Action::CycleTheme => {
                self.cycle_theme();
                Vec::new()
            }
            Action::CloseOverlay => {
                self.overlay = None;
                Vec::new()
            }
            Action::Confirm => match self.overlay.take() {
                Some(Overlay::Confirm { command, .. }) => vec![*command],
                Some(Overlay::Quit { .. }) => {
                    self.should_quit = true;
                    Vec::new()
                }
                other => {
                    self.overlay = other;
                    Vec::new()
                }
            },
            Action::Catalog(catalog) => {
                self.catalog = catalog;
                screens::on_catalog(self);
                Vec::new()
            }
            Action::Traffic(event) => {
                self.on_traffic(event);
                Vec::new()
            }
            Action::TrafficMissed(n) => {
                self.log(
                    LineKind::Error,
                    format!("the live pane fell behind and missed {n} gateway traffic events"),
                );
                Vec::new()
            }
            Action::Tick(stats) => {
                self.on_tick(stats);
                Vec::new()
            }
            Action::Resize => Vec::new(),
            Action::Stream(update) => {
                self.on_stream(update);
                Vec::new()
            }
            Action::Done(done) => self.on_done(done),
            other => match self.focus {
                Focus::Live => {
                    screens::live::update(self, other);
                    Vec::new()
                }
                Focus::Main => screens::update(self, other),
            },
        }
    }

    fn cycle_theme(&mut self) {
        let names = Theme::builtin_names();
        let next = names
            .iter()
            .position(|n| *n == self.theme.name)
            .map(|i| names[(i + 1) % names.len()])
            .unwrap_or(names[0]);
        match Theme::builtin(next, self.theme.no_color) {
            Ok(theme) => {
                self.theme = theme;
                self.set_status(Level::Info, format!("Theme: {next} (T cycles themes)"));
            }
            Err(e) => self.error(e.to_string()),
        }
    }

    fn on_tick(&mut self, stats: ServerStats) {
        self.stats = stats;
        self.rate_samples
            .push_back((stats.uptime_ms, stats.events_total));
        while self
            .rate_samples
            .front()
            .is_some_and(|(t, _)| stats.uptime_ms.saturating_sub(*t) > 2_000)
        {
            self.rate_samples.pop_front();
        }
        if let (Some((t0, e0)), Some((t1, e1))) =
            (self.rate_samples.front(), self.rate_samples.back())
        {
            let dt = t1.saturating_sub(*t0);
            self.events_per_sec = if dt == 0 {
                0.0
            } else {
                e1.saturating_sub(*e0) as f64 * 1000.0 / dt as f64
            };
        }
        if let Some(status) = &mut self.status {
            status.age = status.age.saturating_add(1);
        }
        screens::servers::on_tick(self);
    }

    fn on_traffic(&mut self, event: TrafficEvent) {
        let line = match event {
            TrafficEvent::Opened {
                stream_id,
                api,
                application,
                key_type,
                path,
                client,
                at,
            } => {
                let who = if application.is_empty() {
                    "no token".to_string()
                } else {
                    format!("app {application}, {key_type}")
                };
                let text = format!("opened #{stream_id} {path} ({api}; {who}) from {client}");
                self.session.gateway_streams.insert(stream_id, api);
                LiveLine::new(at, LineKind::Opened, "gateway", text)
            }
            TrafficEvent::Rejected {
                path,
                status,
                code,
                message,
                client,
                at,
            } => LiveLine::new(
                at,
                LineKind::Rejected,
                "gateway",
                format!("rejected {status} {code} {message}: {path} from {client}"),
            ),
            TrafficEvent::Closed {
                stream_id,
                events,
                reason,
                at,
            } => {
                let api = self.session.gateway_streams.remove(&stream_id);
                if let Some(api) = &api {
                    *self.session.events_by_api.entry(api.clone()).or_default() += events;
                }
                LiveLine::new(
                    at,
                    LineKind::Closed,
                    "gateway",
                    format!(
                        "closed #{stream_id}{} after {events} events: {reason}",
                        api.map(|a| format!(" ({a})")).unwrap_or_default()
                    ),
                )
            }
        };
        self.live.push(line);
    }

    fn on_stream(&mut self, update: StreamUpdate) {
        let source = |id: u64| format!("try-it #{id}");
        match update {
            StreamUpdate::Opened { stream_id } => {
                if let Some(s) = self.session.streams.get_mut(&stream_id) {
                    s.state = StreamState::Open;
                    let text = format!("stream open: {} with {}'s token", s.api, s.app);
                    let line =
                        LiveLine::new(self.clock_ms(), LineKind::Opened, source(stream_id), text);
                    self.live.push(line);
                }
            }
            StreamUpdate::Rejected {
                stream_id,
                status,
                body,
            } => {
                let text = format!("refused {status}: {body}");
                if let Some(s) = self.session.streams.get_mut(&stream_id) {
                    s.state = StreamState::Ended(text.clone());
                }
                let line = LiveLine::new(
                    self.clock_ms(),
                    LineKind::Rejected,
                    source(stream_id),
                    text.clone(),
                );
                self.live.push(line);
                self.error(format!("Try it #{stream_id}: {text}"));
            }
            StreamUpdate::Items {
                stream_id,
                at,
                items,
            } => {
                let mut events = 0;
                for item in items {
                    let line = match item {
                        StreamItem::Event { id, data } => {
                            events += 1;
                            let text = match id {
                                Some(id) => format!("id:{id} data:{data}"),
                                None => format!("data:{data}"),
                            };
                            LiveLine::new(at, LineKind::Event, source(stream_id), text)
                        }
                        StreamItem::Comment(text) => LiveLine::new(
                            at,
                            LineKind::Comment,
                            source(stream_id),
                            format!(": {text}"),
                        ),
                    };
                    self.live.push(line);
                }
                if let Some(s) = self.session.streams.get_mut(&stream_id) {
                    s.events += events;
                    *self.session.events_by_api.entry(s.api.clone()).or_default() += events;
                }
            }
            StreamUpdate::Ended { stream_id, reason } => {
                let mut events = 0;
                if let Some(s) = self.session.streams.get_mut(&stream_id) {
                    if !s.is_live() {
                        return;
                    }
                    events = s.events;
                    s.state = StreamState::Ended(reason.clone());
                }
                let line = LiveLine::new(
                    self.clock_ms(),
                    LineKind::Closed,
                    source(stream_id),
                    format!("stream ended after {events} events: {reason}"),
                );
                self.live.push(line);
            }
        }
    }

    /// Starts a Try-it stream; returns the command that opens it.
    pub fn open_stream(
        &mut self,
        api: &Api,
        app_name: &str,
        token: Option<String>,
    ) -> Vec<Command> {
        let Ok(gateway) = &self.config.gateway else {
            self.error("the gateway is not running, so there is nothing to try");
            return Vec::new();
        };
        let stream_id = self.session.next_stream_id;
        self.session.next_stream_id += 1;
        let url = format!(
            "http://{}{}/memory",
            connect_addr(*gateway),
            api.base_path()
        );
        self.session.streams.insert(
            stream_id,
            TryStream {
                api: api.handle(),
                app: app_name.to_string(),
                state: StreamState::Opening,
                events: 0,
            },
        );
        self.log(LineKind::Info, format!("try-it #{stream_id}: GET {url}"));
        self.set_status(
            Level::Info,
            format!(
                "Try it #{stream_id}: events stream into the live pane (Tab to scroll, s stops)"
            ),
        );
        vec![Command::OpenStream {
            stream_id,
            url,
            token,
        }]
    }

    /// Stops every live Try-it stream of an API.
    pub fn stop_streams(&mut self, api_handle: &str) -> Vec<Command> {
        let ids: Vec<u64> = self
            .session
            .streams
            .iter()
            .filter(|(_, s)| s.is_live() && s.api == api_handle)
            .map(|(id, _)| *id)
            .collect();
        if ids.is_empty() {
            self.set_status(Level::Info, "no Try-it stream is open for this API");
        }
        let mut out = Vec::new();
        for id in ids {
            self.on_stream(StreamUpdate::Ended {
                stream_id: id,
                reason: "stopped by you".to_string(),
            });
            out.push(Command::CloseStream { stream_id: id });
        }
        out
    }

    /// The curl command for an API and a token, with the gateway's real address.
    pub fn curl_command(&self, api: &Api, token: &str) -> String {
        let host = self
            .config
            .gateway_host()
            .unwrap_or_else(|| "localhost:8280".to_string());
        format!(
            "curl -N http://{host}{}/memory -H \"Authorization: Bearer {token}\"",
            api.base_path()
        )
    }

    /// Copies a token (and remembers it for the tutorial).
    pub fn copy_token(&mut self, token: &str) -> Vec<Command> {
        self.session.token_copied = true;
        vec![Command::Copy(token.to_string())]
    }

    fn on_done(&mut self, done: Done) -> Vec<Command> {
        match done {
            Done::ApiCreated(result) => screens::create_api::on_created(self, result),
            Done::PlansSaved(result) => screens::api_plans::on_saved(self, result),
            Done::LifecycleChanged(result) => match result {
                Ok((previous, api, warning)) => {
                    let text = format!(
                        "{}: {} -> {}",
                        api.handle(),
                        previous.label(),
                        api.lifecycle.label()
                    );
                    self.log(LineKind::Info, text.clone());
                    match warning {
                        Some(w) => self.set_status(Level::Warning, format!("{text}. {w}")),
                        None => self.set_status(Level::Ok, text),
                    }
                    Vec::new()
                }
                Err(e) => {
                    self.error(e);
                    Vec::new()
                }
            },
            Done::Deployed(result) => screens::api_deployments::on_deployed(self, result),
            Done::Message(result) => {
                match result {
                    Ok(m) => {
                        self.log(LineKind::Info, m.clone());
                        self.set_status(Level::Ok, m);
                    }
                    Err(e) => self.error(e),
                }
                Vec::new()
            }
            Done::AppCreated(result) => screens::wizard::on_app_created(self, result),
            Done::Subscribed(result) => screens::wizard::on_subscribed(self, result),
            Done::KeysGenerated { app_id, result } => {
                if let Ok((keys, token)) = &result {
                    self.session
                        .keys
                        .entry(app_id.clone())
                        .or_default()
                        .push(keys.clone());
                    self.session
                        .tokens
                        .entry(app_id.clone())
                        .or_default()
                        .push(token.clone());
                }
                screens::wizard::on_keys(self, &app_id, result)
            }
            Done::TokenGenerated { app_id, result } => {
                if let Ok(token) = &result {
                    self.session
                        .tokens
                        .entry(app_id.clone())
                        .or_default()
                        .push(token.clone());
                }
                screens::wizard::on_token(self, &app_id, result)
            }
            Done::BackendStarted(result) => {
                screens::servers::on_started(self, result);
                Vec::new()
            }
            Done::BackendStopped(result) => {
                screens::servers::on_stopped(self, result);
                Vec::new()
            }
            Done::Copied(result) => {
                match result {
                    Ok(what) => self.set_status(
                        Level::Ok,
                        format!(
                            "Copied {what} to the clipboard (OSC 52; your terminal must allow it)"
                        ),
                    ),
                    Err(e) => self.error(format!("could not copy: {e}")),
                }
                Vec::new()
            }
        }
    }

    /// The key type of an application's keys to use for tokens: production if it has one.
    pub fn key_type_of(&self, app_id: &str) -> Option<KeyType> {
        let keys = self.catalog.keys_of(app_id);
        keys.iter()
            .find(|k| k.key_type == KeyType::Production)
            .or_else(|| keys.first())
            .map(|k| k.key_type)
    }

    /// Whether an API's lifecycle allows subscribing.
    pub fn subscribable(api: &Api) -> bool {
        api.lifecycle.accepts_subscriptions()
    }
}
