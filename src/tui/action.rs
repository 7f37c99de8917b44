//! Actions (the only way the UI's state changes), the commands `update` asks the runtime to
//! run, and the results those commands report back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::catalog::DeployTarget;
use crate::catalog::{
    Api, ApiDraft, Application, ApplicationDraft, KeyType, LifecycleAction, LifecycleState, Millis,
    Subscription,
};
use crate::control::Snapshot;
use crate::telemetry::TrafficEvent;

/// The four top-level tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Design, publish and deploy APIs.
    Publisher,
    /// Subscribe, get keys and tokens, try APIs.
    Portal,
    /// The in-process servers and the memory backend.
    Servers,
    /// The guided tutorial's checklist.
    Tutorial,
}

impl Tab {
    /// Every tab, in order (the number keys 1-4).
    pub const ALL: [Tab; 4] = [Tab::Publisher, Tab::Portal, Tab::Servers, Tab::Tutorial];

    /// The name shown in the tab bar.
    pub fn label(self) -> &'static str {
        match self {
            Tab::Publisher => "Publisher",
            Tab::Portal => "Dev Portal",
            Tab::Servers => "Servers",
            Tab::Tutorial => "Tutorial",
        }
    }
}

/// Something the person wants, or something that happened. `App::update` is the only
/// place that turns an action into a change of state.
#[derive(Debug, Clone)]
pub enum Action {
    // ---- global ----
    /// Quit now.
    Quit,
    /// Quit, asking first if streams are open.
    RequestQuit,
    /// Show a tab.
    SwitchTab(Tab),
    /// Move the keyboard between the main pane and the live pane.
    ToggleFocus,
    /// Show or hide the keys of the current screen.
    ToggleHelp,
    /// Give the focused pane the whole screen, or share it again.
    ToggleZoom,
    /// Switch to the next built-in theme.
    CycleTheme,
    /// Close the dialog on top.
    CloseOverlay,
    /// Answer yes to the dialog on top.
    Confirm,

    // ---- navigation and editing, routed to the focused screen ----
    /// Up / `k`.
    Up,
    /// Down / `j`.
    Down,
    /// Left / `h`.
    Left,
    /// Right / `l`.
    Right,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Home / `g`.
    Top,
    /// End / `G`.
    Bottom,
    /// Enter: open, choose, next.
    Enter,
    /// Esc: back, cancel.
    Back,
    /// Space: tick or untick.
    Toggle,
    /// A character typed into a text field.
    Char(char),
    /// Backspace in a text field.
    Backspace,
    /// Ctrl-U in a text field: clear it, as in a shell.
    ClearField,
    /// Delete in a text field.
    Delete,
    /// Text pasted into a text field.
    Paste(String),

    // ---- screen intents (letter keys) ----
    /// `n`: create (an API, or a new revision on the Deployments page).
    New,
    /// `s`: save (Business Plans) or start/stop (Servers) or stop a stream (Try it).
    Save,
    /// `x`/`d`: delete the selected thing (asks first).
    DeleteSelected,
    /// `u`: undeploy (Deployments) or unsubscribe (Subscriptions).
    Undeploy,
    /// `r`: restore the selected revision (asks first).
    Restore,
    /// `e`: edit the selected field.
    Edit,
    /// `w`: open the Subscription & Key Generation Wizard.
    OpenWizard,
    /// `t`: try the API: open a stream through the gateway into the live pane.
    TryIt,
    /// `c`: copy the token (OSC 52).
    CopyToken,
    /// `y`: copy the curl command (OSC 52).
    CopyCurl,
    /// `g`: generate a new access token.
    GenerateToken,
    /// `/`: edit the live pane's filter.
    StartFilter,
    /// `f`: follow or pause the live pane.
    ToggleFollow,
    /// `C`: clear the live pane.
    ClearLive,
    /// `w`: wrap long lines in the live pane, or cut them.
    ToggleWrap,
    /// `v`: the live pane's lines, or a chart of a numeric field of its JSON events.
    ToggleChart,
    /// `n`: chart the next numeric field (live pane, chart mode).
    NextField,
    /// `a`: an application's analytics, or back to its details (Dev Portal > Applications).
    ToggleAnalytics,

    // ---- feeds from the runtime ----
    /// A fresh catalog snapshot.
    Catalog(Arc<Snapshot>),
    /// Something happened on the gateway.
    Traffic(TrafficEvent),
    /// The UI fell behind the gateway's traffic and missed this many events.
    TrafficMissed(u64),
    /// The periodic tick, with counters read from the servers.
    Tick(ServerStats),
    /// The analytics of the subject on screen and of the gateway (once a second).
    Analytics(Box<crate::tui::charts::AnalyticsFeed>),
    /// Every subscription's quota gauge, by subscription id (once a second while a page
    /// with gauges shows).
    Quotas(std::collections::BTreeMap<String, crate::control::analytics::QuotaGauge>),
    /// This process's CPU and memory (once a second while the Servers screen shows).
    Process(crate::tui::charts::ProcessStats),
    /// The terminal changed size.
    Resize,
    /// An in-process stream reported.
    Stream(StreamUpdate),
    /// A command finished.
    Done(Done),
    /// Open Admin > Users (from Servers).
    OpenUsers,
}

/// Counters the runtime reads on every tick.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Milliseconds since the UI started (monotonic), for rates.
    pub uptime_ms: u64,
    /// The wall clock (ms since the epoch), for the times of lines the UI writes.
    pub wall_ms: i64,
    /// Streams open on the gateway.
    pub open_streams: i64,
    /// Events delivered by the gateway since start.
    pub events_total: u64,
    /// Requests the gateway refused since start.
    pub rejections: u64,
    /// The memory backend's counters, when it runs.
    pub backend: Option<BackendCounters>,
    /// The shared quota store (`--redis`): `None` without one, else whether it answers.
    pub quota_store: Option<bool>,
}

/// The memory backend's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackendCounters {
    /// Streams open on the backend.
    pub open_streams: usize,
    /// Events it sent.
    pub events_sent: u64,
}

/// Work `update` asks for; the runtime runs it off the render loop and answers with
/// [`Action::Done`] or [`Action::Stream`].
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Create an SSE API.
    CreateApi(ApiDraft),
    /// Set an API's business plans.
    SetPlans {
        /// The API.
        api_id: String,
        /// The plans.
        plans: Vec<String>,
    },
    /// Move an API in its lifecycle.
    ChangeLifecycle {
        /// The API.
        api_id: String,
        /// The action.
        action: LifecycleAction,
    },
    /// Snapshot the API and deploy the new revision.
    DeployNewRevision {
        /// The API.
        api_id: String,
        /// Where to deploy.
        targets: Vec<DeployTarget>,
    },
    /// Deploy an existing revision.
    DeployRevision {
        /// The API.
        api_id: String,
        /// The revision.
        revision_id: String,
        /// Where to deploy.
        targets: Vec<DeployTarget>,
    },
    /// Undeploy a revision from every environment.
    UndeployRevision {
        /// The API.
        api_id: String,
        /// The revision.
        revision_id: String,
    },
    /// Copy a revision back into the working copy.
    RestoreRevision {
        /// The API.
        api_id: String,
        /// The revision.
        revision_id: String,
    },
    /// Delete an undeployed revision.
    DeleteRevision {
        /// The API.
        api_id: String,
        /// The revision.
        revision_id: String,
    },
    /// Delete an API.
    DeleteApi {
        /// The API.
        api_id: String,
    },
    /// Create an application.
    CreateApplication(ApplicationDraft),
    /// Subscribe an application to an API.
    Subscribe {
        /// The application.
        app_id: String,
        /// The API.
        api_id: String,
        /// The plan.
        plan: String,
    },
    /// Generate an application's consumer key and secret.
    GenerateKeys {
        /// The application.
        app_id: String,
        /// Production or sandbox.
        key_type: KeyType,
    },
    /// Issue an access token for an application's keys.
    GenerateToken {
        /// The application.
        app_id: String,
        /// Which key pair.
        key_type: KeyType,
        /// Seconds the token is valid.
        validity_secs: i64,
    },
    /// Delete an application.
    DeleteApplication {
        /// The application.
        app_id: String,
    },
    /// Remove a subscription.
    Unsubscribe {
        /// The subscription.
        subscription_id: String,
    },
    /// Start the memory backend.
    StartBackend {
        /// Where to listen.
        addr: SocketAddr,
        /// Time between events.
        interval: Duration,
        /// How long one request is served (`None`: until the client leaves).
        time: Option<Duration>,
    },
    /// Stop the memory backend.
    StopBackend,
    /// Open an SSE stream (Try it) and report it into the live pane.
    OpenStream {
        /// The UI's number for it.
        stream_id: u64,
        /// The URL on the gateway.
        url: String,
        /// The bearer token, if any.
        token: Option<String>,
    },
    /// Close a Try-it stream.
    CloseStream {
        /// The UI's number for it.
        stream_id: u64,
    },
    /// Put text on the clipboard (OSC 52, works over SSH).
    Copy(String),
    /// Add a user (Admin > Users).
    CreateUser {
        /// The login name.
        name: String,
        /// The password (at least 12 characters).
        password: String,
        /// The roles.
        roles: Vec<crate::catalog::Role>,
    },
    /// Remove a user (and their applications).
    DeleteUser {
        /// The user's id.
        user_id: String,
    },
    /// Save an API's CORS configuration (applies after the next deploy).
    SetCors {
        /// The API.
        api_id: String,
        /// The configuration.
        cors: Box<crate::catalog::CorsConfiguration>,
    },
    /// Save an API's backend stream mode (applies after the next deploy).
    SetBackendStream {
        /// The API.
        api_id: String,
        /// `per-client` or `shared`.
        mode: crate::catalog::BackendStream,
    },
    /// Register a PEM file as trusted for an endpoint's host:port.
    AddEndpointCertificate {
        /// The alias.
        alias: String,
        /// The endpoint URL.
        endpoint: String,
        /// The PEM file's path.
        path: std::path::PathBuf,
    },
}

/// Keys just generated, with the secret shown once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysInfo {
    /// Production or sandbox.
    pub key_type: KeyType,
    /// The consumer key.
    pub consumer_key: String,
    /// The consumer secret, in clear.
    pub consumer_secret: String,
}

/// An access token issued in this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Production or sandbox.
    pub key_type: KeyType,
    /// The JWT.
    pub access_token: String,
    /// Seconds it is valid.
    pub expires_in: i64,
    /// When it was issued (seconds since the epoch).
    pub issued_at: i64,
}

/// What a command reports when it finishes. Errors are the control layer's messages.
#[derive(Debug, Clone)]
pub enum Done {
    /// `CreateApi`.
    ApiCreated(Result<Api, String>),
    /// `SetPlans`.
    PlansSaved(Result<Api, String>),
    /// `ChangeLifecycle`: the state before, the API after and a warning.
    LifecycleChanged(Result<(LifecycleState, Api, Option<String>), String>),
    /// `DeployNewRevision` / `DeployRevision`: a summary.
    Deployed(Result<String, String>),
    /// Any command whose result is only a message to show.
    Message(Result<String, String>),
    /// `CreateApplication`.
    AppCreated(Result<Application, String>),
    /// `Subscribe`.
    Subscribed(Result<Subscription, String>),
    /// `GenerateKeys` (the first token comes with the keys).
    KeysGenerated {
        /// The application.
        app_id: String,
        /// The keys and the token issued with them.
        result: Result<(KeysInfo, TokenInfo), String>,
    },
    /// `GenerateToken`.
    TokenGenerated {
        /// The application.
        app_id: String,
        /// The token.
        result: Result<TokenInfo, String>,
    },
    /// `StartBackend`: the address it listens on.
    BackendStarted(Result<SocketAddr, String>),
    /// `StopBackend`.
    BackendStopped(Result<(), String>),
    /// `Copy`: whether the clipboard sequence was written.
    Copied(Result<String, String>),
    /// A user was added or removed (what happened, or why not).
    Users(Result<String, String>),
    /// An API's CORS or endpoint certificate was saved (what happened, or why not).
    ApiSettings(Result<String, String>),
}

impl Command {
    /// The failed result a command gets when the UI refuses it (the signed-in user's
    /// roles do not allow it): `why` goes back to whoever waits for the result, as
    /// control's refusal would. `None` for commands with no result to wait for.
    pub fn refused(&self, why: &str) -> Option<Done> {
        fn refused<T>(why: &str) -> Result<T, String> {
            Err(why.to_string())
        }
        Some(match self {
            Command::CreateApi(_) => Done::ApiCreated(refused(why)),
            Command::SetPlans { .. } => Done::PlansSaved(refused(why)),
            Command::ChangeLifecycle { .. } => Done::LifecycleChanged(refused(why)),
            Command::DeployNewRevision { .. } | Command::DeployRevision { .. } => {
                Done::Deployed(refused(why))
            }
            Command::UndeployRevision { .. }
            | Command::RestoreRevision { .. }
            | Command::DeleteRevision { .. }
            | Command::DeleteApi { .. }
            | Command::DeleteApplication { .. }
            | Command::Unsubscribe { .. } => Done::Message(refused(why)),
            Command::CreateApplication(_) => Done::AppCreated(refused(why)),
            Command::Subscribe { .. } => Done::Subscribed(refused(why)),
            Command::GenerateKeys { app_id, .. } => Done::KeysGenerated {
                app_id: app_id.clone(),
                result: refused(why),
            },
            Command::GenerateToken { app_id, .. } => Done::TokenGenerated {
                app_id: app_id.clone(),
                result: refused(why),
            },
            Command::CreateUser { .. } | Command::DeleteUser { .. } => Done::Users(refused(why)),
            Command::SetCors { .. }
            | Command::SetBackendStream { .. }
            | Command::AddEndpointCertificate { .. } => Done::ApiSettings(refused(why)),
            Command::StartBackend { .. } => Done::BackendStarted(refused(why)),
            Command::StopBackend => Done::BackendStopped(refused(why)),
            Command::Copy(_) => Done::Copied(refused(why)),
            Command::OpenStream { .. } | Command::CloseStream { .. } => return None,
        })
    }
}

impl Done {
    /// The tab whose screen issued the command this result answers, and so gets it back
    /// in its `update`; `None` for results `App` itself reports (lifecycle changes,
    /// plain messages, clipboard).
    pub fn owner(&self) -> Option<Tab> {
        match self {
            Done::ApiCreated(_) | Done::PlansSaved(_) | Done::Deployed(_) => Some(Tab::Publisher),
            Done::AppCreated(_)
            | Done::Subscribed(_)
            | Done::KeysGenerated { .. }
            | Done::TokenGenerated { .. } => Some(Tab::Portal),
            Done::BackendStarted(_) | Done::BackendStopped(_) | Done::Users(_) => {
                Some(Tab::Servers)
            }
            Done::ApiSettings(_) => Some(Tab::Publisher),
            Done::LifecycleChanged(_) | Done::Message(_) | Done::Copied(_) => None,
        }
    }
}

/// One item received on an in-process stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// An event's data (and id, if any).
    Event {
        /// The `id:` field.
        id: Option<String>,
        /// The data lines joined by LF.
        data: String,
    },
    /// A comment line.
    Comment(String),
}

/// What an in-process (Try it) stream reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamUpdate {
    /// The gateway answered 200 and the stream is open.
    Opened {
        /// The UI's number for it.
        stream_id: u64,
    },
    /// The gateway refused.
    Rejected {
        /// The UI's number for it.
        stream_id: u64,
        /// HTTP status.
        status: u16,
        /// The error body (short).
        body: String,
    },
    /// Items arrived (one network read's worth).
    Items {
        /// The UI's number for it.
        stream_id: u64,
        /// When.
        at: Millis,
        /// The events and comments.
        items: Vec<StreamItem>,
    },
    /// The stream ended.
    Ended {
        /// The UI's number for it.
        stream_id: u64,
        /// Why.
        reason: String,
    },
}
