//! The contract between `App` and the screens, after ratatui's component template and
//! gitui's `components`: a [`Screen`] owns its state, maps its letter keys, lists its keys
//! for help, turns an [`Action`] into [`Effects`] and draws itself. It sees the rest of the
//! UI only through [`Ctx`], which is read-only, and changes it only through the effects it
//! returns, which `App` applies in order. `update` stays pure: commands are run by the
//! runtime, whose results come back to the screen that asked (see [`Done::owner`]).
//!
//! [`Done::owner`]: super::action::Done::owner

use std::sync::Arc;

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::catalog::{Api, KeyType};
use crate::control::Snapshot;

use super::action::{Action, Command, ServerStats};
use super::screens::ScreenId;
use super::screens::live::LineKind;
use super::screens::portal_api::PortalPage;
use super::screens::publisher::ApiPage;
use super::state::{AppConfig, Level, Overlay, Session};
use super::theme::Theme;

/// What a screen may read: the catalog snapshot, the theme, where the servers are, this
/// session's tokens and streams, the latest counters (and the clock they carry).
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The latest catalog snapshot.
    pub catalog: &'a Arc<Snapshot>,
    /// Colours.
    pub theme: &'a Theme,
    /// Addresses and paths.
    pub config: &'a AppConfig,
    /// Secrets, tokens and streams of this session.
    pub session: &'a Session,
    /// The latest counters; `stats.wall_ms` is the UI's clock (ms since the epoch).
    pub stats: &'a ServerStats,
    /// Gateway events per second over the last seconds.
    pub events_per_sec: f64,
    /// Whether the memory backend runs (the Servers screen's state, for the tutorial).
    pub backend_running: bool,
    /// Whether the screen being drawn has the keyboard.
    pub focused: bool,
    /// The latest analytics (charts' data and glyphs).
    pub analytics: &'a crate::tui::charts::AnalyticsFeed,
}

impl Ctx<'_> {
    /// The UI's clock (ms since the epoch): the last tick's wall clock, so `update` stays
    /// pure and snapshots stay stable.
    pub fn clock_ms(&self) -> i64 {
        self.stats.wall_ms
    }

    /// An API by id in the current snapshot.
    pub fn api(&self, id: &str) -> Option<&Api> {
        self.catalog.apis.get(id)
    }

    /// The curl command for an API and a token, with the gateway's real address.
    pub fn curl_command(&self, api: &Api, token: &str) -> String {
        let host = self
            .config
            .gateway_host()
            .unwrap_or_else(|| "localhost:8280".to_string());
        format!(
            "curl -N http://{host}{}{} -H \"Authorization: Bearer {token}\"",
            api.base_path(),
            api.try_resource()
        )
    }

    /// The key type of an application's keys to use for tokens: production if it has one.
    pub fn key_type_of(&self, app_id: &str) -> Option<KeyType> {
        let keys = self.catalog.keys_of(app_id);
        keys.iter()
            .find(|k| k.key_type == KeyType::Production)
            .or_else(|| keys.first())
            .map(|k| k.key_type)
    }
}

/// Where the tutorial sends the person (a screen of another tab).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nav {
    /// Publisher > Create API, with an empty form.
    CreateApi,
    /// Publisher > an API's page.
    PublisherApi {
        /// The API.
        api_id: String,
        /// The page.
        page: ApiPage,
    },
    /// The Servers tab.
    Servers,
    /// Developer Portal > an API's page.
    PortalApi {
        /// The API.
        api_id: String,
        /// The page.
        page: PortalPage,
        /// Stay in the wizard if it is open.
        keep_wizard: bool,
    },
    /// The Developer Portal as it is.
    Portal,
}

/// One thing a screen asks of `App`.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Run a command (the runtime reports back with [`Action::Done`] or
    /// [`Action::Stream`]).
    Command(Command),
    /// Show a message on the bottom line.
    Status(Level, String),
    /// Add a line to the live pane (stamped with the UI's clock, source `ui`).
    Log(LineKind, String),
    /// Open a dialog.
    Overlay(Overlay),
    /// Start a Try-it stream of an API with a token (`app_name` says whose).
    OpenStream {
        /// The API.
        api: Box<Api>,
        /// The application whose token it uses.
        app_name: String,
        /// The bearer token, if any.
        token: Option<String>,
    },
    /// Stop every live Try-it stream of an API (by handle, `Name:version`).
    StopStreams(String),
    /// Remember that a token was copied (tutorial step 7).
    TokenCopied,
    /// Give the keyboard back to the main pane.
    FocusMain,
    /// Show another tab's screen.
    Navigate(Nav),
}

/// What one `update` asks for, in order. `App` applies them one after the other.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    /// The effects, in the order the screen produced them.
    pub items: Vec<Effect>,
}

impl Effects {
    /// Nothing to do.
    pub fn none() -> Self {
        Effects::default()
    }

    /// Adds one effect.
    pub fn push(&mut self, effect: Effect) {
        self.items.push(effect);
    }

    /// Runs a command.
    pub fn command(&mut self, command: Command) {
        self.push(Effect::Command(command));
    }

    /// Runs commands, in order.
    pub fn commands(&mut self, commands: impl IntoIterator<Item = Command>) {
        for c in commands {
            self.command(c);
        }
    }

    /// Shows a message.
    pub fn status(&mut self, level: Level, text: impl Into<String>) {
        self.push(Effect::Status(level, text.into()));
    }

    /// Shows an error's message.
    pub fn error(&mut self, text: impl Into<String>) {
        self.status(Level::Error, text);
    }

    /// Adds a line to the live pane.
    pub fn log(&mut self, kind: LineKind, text: impl Into<String>) {
        self.push(Effect::Log(kind, text.into()));
    }

    /// Opens a dialog.
    pub fn overlay(&mut self, overlay: Overlay) {
        self.push(Effect::Overlay(overlay));
    }

    /// Copies a token (and remembers it for the tutorial).
    pub fn copy_token(&mut self, token: &str) {
        self.push(Effect::TokenCopied);
        self.command(Command::Copy(token.to_string()));
    }

    /// Starts a Try-it stream.
    pub fn open_stream(&mut self, api: &Api, app_name: &str, token: Option<String>) {
        self.push(Effect::OpenStream {
            api: Box::new(api.clone()),
            app_name: app_name.to_string(),
            token,
        });
    }
}

/// A screen: the main pane of a tab, or the live pane.
pub trait Screen {
    /// Which screen (or page) shows now, for help and tests.
    fn id(&self) -> ScreenId;

    /// The help overlay's title and the screen's keys (`(keys, what they do)`), for `?`.
    fn help(&self) -> (&'static str, Vec<(&'static str, &'static str)>);

    /// The screen's own letter keys, checked before the generic navigation keys.
    fn keymap(&self, c: char) -> Option<Action>;

    /// Whether a text field of the screen has the keyboard (letters are typed).
    fn is_typing(&self) -> bool {
        false
    }

    /// Applies an action (navigation, editing, a screen intent, or the result of a
    /// command this screen issued); returns what `App` should do. Pure: no I/O.
    fn update(&mut self, ctx: &Ctx, action: Action) -> Effects;

    /// After a new catalog snapshot: leave views of things that are gone, clamp cursors.
    fn on_catalog(&mut self, _ctx: &Ctx) {}

    /// Draws the screen into `area`; `ctx.focused` says whether it has the keyboard.
    fn draw(&self, ctx: &Ctx, frame: &mut Frame, area: Rect);
}
