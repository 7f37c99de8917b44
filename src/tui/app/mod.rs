//! The UI's whole state and `App::update`, the one function that changes it. Pure: no I/O,
//! no clock, no channels; it returns the [`Command`]s the runtime should run.
//!
//! `App` handles the global actions (tabs, focus, dialogs, feeds) itself and hands the
//! rest to the screen with the keyboard through [`Screen`]: the tab's component or the
//! live pane. A screen reads the state through a [`Ctx`] and answers with [`Effects`],
//! which `App` applies in order; a command's result ([`Action::Done`]) goes back to the
//! tab that issued it ([`Done::owner`]).

use std::collections::VecDeque;
use std::sync::Arc;

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::catalog::Api;
use crate::control::Snapshot;
use crate::telemetry::TrafficEvent;

use super::action::{Action, Command, Done, ServerStats, StreamItem, StreamUpdate, Tab};
use super::charts::AnalyticsFeed;
use super::screen::{Ctx, Effect, Effects, Nav, Screen};
use super::screens::ScreenId;
use super::screens::live::{LineKind, LiveLine, LivePane};
use super::screens::portal::{self, Portal, PortalView};
use super::screens::publisher::{self, Publisher, PublisherView};
use super::screens::servers::Servers;
use super::screens::tutorial::{self, Tutorial};
pub use super::state::{
    AppConfig, Focus, Level, Overlay, STATUS_TICKS, Session, Status, StreamState, TryStream,
    connect_addr, display_host,
};
use super::theme::Theme;

mod feeds;

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
    /// The Tutorial tab.
    pub tutorial: Tutorial,
    /// The live pane.
    pub live: LivePane,
    /// Secrets, tokens and streams of this session.
    pub session: Session,
    /// The latest counters.
    pub stats: ServerStats,
    /// Gateway events per second over the last seconds.
    pub events_per_sec: f64,
    rate_samples: VecDeque<(u64, u64)>,
    /// The latest analytics from the runtime.
    pub analytics: AnalyticsFeed,
    /// Set when the UI should end.
    pub should_quit: bool,
}

/// A [`Ctx`] over the App's fields, borrowing them one by one so that a screen field can
/// be borrowed mutably beside it.
macro_rules! ctx {
    ($app:ident, $focused:expr) => {
        Ctx {
            catalog: &$app.catalog,
            theme: &$app.theme,
            config: &$app.config,
            session: &$app.session,
            stats: &$app.stats,
            events_per_sec: $app.events_per_sec,
            backend_running: $app.servers.running(),
            focused: $focused,
            analytics: &$app.analytics,
        }
    };
}

/// Timestamps of lines the UI writes itself come from the last tick's wall clock.
fn ui_line(app: &App, kind: LineKind, text: impl Into<String>) -> LiveLine {
    LiveLine::new(app.clock_ms(), kind, "ui", text)
}

/// The catalog as the signed-in user sees it: admin sees everything; anyone else sees
/// only their own applications (with their subscriptions and keys) and no users.
pub fn scoped_catalog(who: &crate::control::Principal, catalog: Arc<Snapshot>) -> Arc<Snapshot> {
    if who.sees_all() {
        return catalog;
    }
    let mut own = (*catalog).clone();
    own.applications.retain(|_, a| a.owner == who.user);
    let apps = &own.applications;
    own.subscriptions
        .retain(|_, s| apps.contains_key(&s.application_id));
    own.key_pairs
        .retain(|_, k| apps.contains_key(&k.application_id));
    own.users.clear();
    Arc::new(own)
}

impl App {
    /// A fresh UI over a catalog snapshot; `now_ms` stamps the first lines (the wall
    /// clock is otherwise read only by the runtime, on each tick).
    pub fn new(config: AppConfig, theme: Theme, catalog: Arc<Snapshot>, now_ms: i64) -> App {
        let backend_port = config.backend_addr.port();
        let catalog = scoped_catalog(&config.principal, catalog);
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
            tutorial: Tutorial::default(),
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
            analytics: AnalyticsFeed::default(),
            should_quit: false,
        };
        let mut problems = Vec::new();
        let mut down = Vec::new();
        if let Err(e) = &app.config.admin {
            problems.push(format!("management API not running: {e}"));
            down.push("management API");
        }
        if let Err(e) = &app.config.gateway {
            problems.push(format!("gateway not running: {e}"));
            down.push("gateway");
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
            // One problem fits the status line whole; for more, it names what is down and
            // the live pane and the Servers screen say why.
            let status = match problems.as_slice() {
                [one] => one.clone(),
                _ => format!("Not running: {} (3 Servers says why)", down.join(", ")),
            };
            app.set_status(Level::Warning, status);
        }
        app
    }

    /// The wall clock used for lines the UI writes: the last tick's. Kept in state so
    /// `update` stays pure and snapshots stay stable.
    pub fn clock_ms(&self) -> i64 {
        self.stats.wall_ms
    }

    /// The analytics subject the screen shows now, if any: the API of Publisher > API >
    /// Analytics, or the application of Dev Portal > Applications > `a`. The runtime feeds it (and the gateway's) once a second.
    pub fn analytics_subject(&self) -> Option<crate::analytics::Subject> {
        if self.tab == Tab::Portal {
            return match &self.portal.view {
                PortalView::App(d) => {
                    super::screens::applications::analytics_subject(&self.catalog, d)
                }
                _ => None,
            };
        }
        if self.tab != Tab::Publisher {
            return None;
        }
        match &self.publisher.view {
            PublisherView::Api(v) if v.page == publisher::ApiPage::Analytics => self
                .catalog
                .apis
                .get(&v.api_id)
                .map(super::screens::api_analytics::subject),
            _ => None,
        }
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

    /// What screens read: the catalog, theme, config, session and counters.
    pub fn ctx(&self) -> Ctx<'_> {
        ctx!(self, false)
    }

    /// The current tab's component.
    pub fn main_screen(&self) -> &dyn Screen {
        match self.tab {
            Tab::Publisher => &self.publisher,
            Tab::Portal => &self.portal,
            Tab::Servers => &self.servers,
            Tab::Tutorial => &self.tutorial,
        }
    }

    /// The screen with the keyboard: the current tab's, or the live pane.
    pub fn focused_screen(&self) -> &dyn Screen {
        match self.focus {
            Focus::Live => &self.live,
            Focus::Main => self.main_screen(),
        }
    }

    /// Which screen has the keyboard, for help and routing.
    pub fn current_screen(&self) -> ScreenId {
        self.focused_screen().id()
    }

    /// The keys of the screen with the keyboard, for `?`.
    /// Without the subscriber role, the Developer Portal's subscriber-only keys are left
    /// out, as in its key bars.
    pub fn help(&self) -> (&'static str, Vec<(&'static str, &'static str)>) {
        let (title, keys) = self.focused_screen().help();
        match self.current_screen() {
            ScreenId::PortalApis | ScreenId::PortalApi | ScreenId::Applications => (
                title,
                crate::tui::screens::portal::for_role(self.config.can_subscribe(), &keys),
            ),
            _ => (title, keys),
        }
    }

    /// Whether a text field has the keyboard (letters are typed, not commands).
    pub fn is_typing(&self) -> bool {
        self.focused_screen().is_typing()
    }

    /// Draws the current tab's screen into `area`.
    pub fn draw_main(&self, frame: &mut Frame, area: Rect) {
        let ctx = ctx!(self, self.focus == Focus::Main);
        self.main_screen().draw(&ctx, frame, area);
    }

    /// Draws the live pane into `area`.
    pub fn draw_live(&self, frame: &mut Frame, area: Rect) {
        let ctx = ctx!(self, self.focus == Focus::Live);
        self.live.draw(&ctx, frame, area);
    }

    /// Whether the Developer Portal shows the wizard (it takes the live pane's room).
    pub fn in_wizard(&self) -> bool {
        self.tab == Tab::Portal && matches!(self.portal.view, PortalView::Wizard(_))
    }

    /// Hands an action to a tab's component (or, with `None`, the focused screen) and
    /// applies what it returns.
    fn route(&mut self, to: Option<Tab>, action: Action) -> Vec<Command> {
        let ctx = ctx!(self, false);
        let fx = match (to, self.focus) {
            (Some(Tab::Publisher), _) => self.publisher.update(&ctx, action),
            (Some(Tab::Portal), _) => self.portal.update(&ctx, action),
            (Some(Tab::Servers), _) => self.servers.update(&ctx, action),
            (Some(Tab::Tutorial), _) => self.tutorial.update(&ctx, action),
            (None, Focus::Live) => self.live.update(&ctx, action),
            (None, Focus::Main) => return self.route(Some(self.tab), action),
        };
        self.apply(fx)
    }

    /// Applies a screen's effects in order; returns the commands to run.
    fn apply(&mut self, fx: Effects) -> Vec<Command> {
        let mut out = Vec::new();
        for effect in fx.items {
            match effect {
                Effect::Command(c) => match self.refusal(&c) {
                    Some(why) => out.extend(self.refuse(&c, why)),
                    None => out.push(c),
                },
                Effect::Status(level, text) => self.set_status(level, text),
                Effect::Log(kind, text) => self.log(kind, text),
                Effect::Overlay(Overlay::Confirm { command, .. })
                    if self.refusal(&command).is_some() =>
                {
                    let why = self.refusal(&command).unwrap_or_default();
                    self.error(why);
                }
                Effect::Overlay(overlay) => self.overlay = Some(overlay),
                Effect::OpenStream {
                    api,
                    app_name,
                    token,
                } => out.extend(self.open_stream(&api, &app_name, token)),
                Effect::StopStreams(handle) => out.extend(self.stop_streams(&handle)),
                Effect::TokenCopied => self.session.token_copied = true,
                Effect::FocusMain => self.focus = Focus::Main,
                Effect::Navigate(nav) => self.navigate(nav),
            }
        }
        out
    }

    /// Refuses a command a screen issued: the screen gets the refusal back as the
    /// command's failed result (so it leaves its waiting state, e.g. "Saving..."), and the
    /// status line says why.
    fn refuse(&mut self, command: &Command, why: String) -> Vec<Command> {
        let out = match command.refused(&why) {
            Some(done) => self.on_done(done),
            None => Vec::new(),
        };
        self.error(why);
        out
    }

    /// Why the signed-in user may not run a command (their roles), or `None` when they
    /// may: creating APIs needs the creator role, lifecycle changes and deployments the
    /// publisher role, applications, subscriptions, keys and tokens the subscriber role,
    /// user management admin.
    pub fn refusal(&self, command: &Command) -> Option<String> {
        let user = &self.config.principal.user;
        match command {
            Command::CreateApi(_)
            | Command::SetPlans { .. }
            | Command::DeleteApi { .. }
            | Command::SetCors { .. }
            | Command::SetBackendStream { .. }
            | Command::AddEndpointCertificate { .. }
                if !self.config.can_create() =>
            {
                Some(format!(
                    "{user} cannot create or edit APIs: that needs the creator role"
                ))
            }
            Command::ChangeLifecycle { .. }
            | Command::DeployNewRevision { .. }
            | Command::DeployRevision { .. }
            | Command::UndeployRevision { .. }
            | Command::RestoreRevision { .. }
            | Command::DeleteRevision { .. }
                if !self.config.can_publish() =>
            {
                Some(format!(
                    "{user} cannot change lifecycles or deploy: that needs the publisher role"
                ))
            }
            Command::CreateApplication(_) | Command::DeleteApplication { .. }
                if !self.config.can_subscribe() =>
            {
                Some(format!(
                    "{user} cannot create or delete applications: that needs the subscriber role"
                ))
            }
            Command::Subscribe { .. } | Command::Unsubscribe { .. }
                if !self.config.can_subscribe() =>
            {
                Some(format!(
                    "{user} cannot subscribe or unsubscribe: that needs the subscriber role"
                ))
            }
            Command::GenerateKeys { .. } | Command::GenerateToken { .. }
                if !self.config.can_subscribe() =>
            {
                Some(format!(
                    "{user} cannot generate keys or tokens: that needs the subscriber role"
                ))
            }
            Command::CreateUser { .. } | Command::DeleteUser { .. } if !self.config.is_admin() => {
                Some(format!(
                    "{user} cannot manage users: that needs the admin role"
                ))
            }
            _ => None,
        }
    }

    /// Shows the screen the tutorial points to.
    fn navigate(&mut self, nav: Nav) {
        self.focus = Focus::Main;
        match nav {
            Nav::CreateApi if !self.config.can_create() => {
                self.tab = Tab::Publisher;
                let user = self.config.principal.user.clone();
                self.error(format!(
                    "{user} cannot create APIs: Create appears only for a user with the creator role"
                ));
            }
            Nav::CreateApi => {
                self.tab = Tab::Publisher;
                self.publisher.view = PublisherView::Create(Default::default());
            }
            Nav::PublisherApi { api_id, page } => {
                self.tab = Tab::Publisher;
                publisher::open_api(&mut self.publisher, &api_id, page);
            }
            Nav::Servers => self.tab = Tab::Servers,
            Nav::PortalApi {
                api_id,
                page,
                keep_wizard,
            } => {
                self.tab = Tab::Portal;
                if !(keep_wizard && matches!(self.portal.view, PortalView::Wizard(_))) {
                    portal::open_api(&mut self.portal, &api_id, page);
                }
            }
            Nav::Portal => self.tab = Tab::Portal,
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
                    self.tutorial.cursor = tutorial::next_step(&self.ctx()).unwrap_or(0);
                }
                // An error belongs to the screen whose action failed; warnings (a server
                // down) stay until their cause goes.
                if tab != self.tab
                    && self
                        .status
                        .as_ref()
                        .is_some_and(|s| s.level == Level::Error)
                {
                    self.status = None;
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
                self.catalog = scoped_catalog(&self.config.principal, catalog);
                let ctx = ctx!(self, false);
                self.publisher.on_catalog(&ctx);
                self.portal.on_catalog(&ctx);
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
            Action::Analytics(feed) => {
                let quotas = std::mem::take(&mut self.analytics.quotas);
                let process = self.analytics.process;
                self.analytics = *feed;
                self.analytics.quotas = quotas;
                self.analytics.process = process;
                Vec::new()
            }
            Action::Process(stats) => {
                self.analytics.process = Some(stats);
                Vec::new()
            }
            Action::Quotas(quotas) => {
                self.analytics.quotas = quotas;
                Vec::new()
            }
            Action::Resize => Vec::new(),
            Action::Stream(update) => {
                self.on_stream(update);
                Vec::new()
            }
            Action::Done(done) => self.on_done(done),
            other => self.route(None, other),
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
    }

    /// A command finished: the session keeps keys and tokens, then the result goes back
    /// to the tab that issued the command, or `App` reports it.
    fn on_done(&mut self, done: Done) -> Vec<Command> {
        match &done {
            Done::KeysGenerated {
                app_id,
                result: Ok((keys, token)),
            } => {
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
            Done::TokenGenerated {
                app_id,
                result: Ok(token),
            } => {
                self.session
                    .tokens
                    .entry(app_id.clone())
                    .or_default()
                    .push(token.clone());
            }
            _ => {}
        }
        if let Some(tab) = done.owner() {
            return self.route(Some(tab), Action::Done(done));
        }
        match done {
            Done::LifecycleChanged(Ok((previous, api, warning))) => {
                let text = format!(
                    "{}: {} -> {}",
                    api.handle(),
                    previous.label(),
                    api.lifecycle.label()
                );
                self.log(LineKind::Info, text.clone());
                match warning {
                    // The whole warning in the live pane; the status line's one row says
                    // what to do.
                    Some(w) => {
                        self.log(LineKind::Info, w);
                        self.set_status(
                            Level::Warning,
                            format!("{text}, not deployed yet: Deployments (l), n"),
                        );
                    }
                    None => self.set_status(Level::Ok, text),
                }
            }
            Done::Message(Ok(m)) => {
                self.log(LineKind::Info, m.clone());
                self.set_status(Level::Ok, m);
            }
            Done::Copied(Ok(what)) => self.set_status(
                Level::Ok,
                format!("Copied {what} to the clipboard (OSC 52; your terminal must allow it)"),
            ),
            Done::Copied(Err(e)) => self.error(format!("could not copy: {e}")),
            Done::LifecycleChanged(Err(e)) | Done::Message(Err(e)) => self.error(e),
            _ => {}
        }
        Vec::new()
    }
}
