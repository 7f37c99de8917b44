//! The UI state shared by every screen: where the servers are, what this session
//! produced (tokens, keys, Try-it streams), the status line's message and the dialogs.
//! Screens read it through [`super::screen::Ctx`]; only `App` changes it.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;

use super::action::{Command, KeysInfo, TokenInfo};
use crate::catalog::Role;
use crate::control::Principal;

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
    /// Who is signed in: the local operator (`admin`) unless `--user NAME` was given.
    pub principal: Principal,
    /// Whether `--user NAME` signed in (even as `admin`): the header then shows the user
    /// and roles instead of the key hints, as it does for any principal other than the
    /// local operator.
    pub signed_in: bool,
    /// The HTTPS gateway and its certificate, when a TLS listener runs.
    pub tls: Option<TlsInfo>,
}

/// The HTTPS gateway's address and its certificate's SHA-256 fingerprint, for the Servers
/// screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// The HTTPS gateway's address, or why it is not running.
    pub gateway: Result<SocketAddr, String>,
    /// The certificate's SHA-256 fingerprint (colon-separated hex).
    pub fingerprint: String,
}

impl AppConfig {
    /// The gateway as people type it: `localhost:8280` for a loopback or unspecified
    /// address.
    pub fn gateway_host(&self) -> Option<String> {
        self.gateway.as_ref().ok().map(|a| display_host(*a))
    }

    /// Whether the signed-in user holds `role` (admin holds every role).
    pub fn has_role(&self, role: Role) -> bool {
        self.principal.roles.contains(&Role::Admin) || self.principal.roles.contains(&role)
    }

    /// Whether the signed-in user may create and edit APIs (the creator role).
    pub fn can_create(&self) -> bool {
        self.has_role(Role::Creator)
    }

    /// Whether the signed-in user may change lifecycles and deploy (the publisher role).
    pub fn can_publish(&self) -> bool {
        self.has_role(Role::Publisher)
    }

    /// Whether the signed-in user may manage their applications, subscriptions, keys and
    /// tokens (the subscriber role: `apim:subscribe`, `apim:app_manage`,
    /// `apim:sub_manage`, which the Developer Portal's routes need).
    pub fn can_subscribe(&self) -> bool {
        self.has_role(Role::Subscriber)
    }

    /// Whether the signed-in user is an administrator (Admin > Users).
    pub fn is_admin(&self) -> bool {
        self.principal.roles.contains(&Role::Admin)
    }

    /// Whether an application is listed for the signed-in user: admin sees every one,
    /// anyone else only their own.
    pub fn sees_application(&self, owner: &str) -> bool {
        self.principal.sees_all() || owner == self.principal.user
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
