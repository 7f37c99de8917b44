//! The terminal UI, streamgate's face: design, publish, deploy and subscribe to SSE APIs
//! and watch their events live, from the keyboard, over SSH.
//!
//! Event -> Action -> `App::update` -> draw. Terminal events become [`Action`]s
//! ([`keymap`]); `App::update` is the only place state changes and is pure; it returns
//! [`Command`]s that the runtime runs on tokio tasks, which report back as actions. `draw`
//! only reads the state. Each tab and the live pane is a [`screen::Screen`] under
//! `screens/`: it reads a read-only [`screen::Ctx`] and answers with [`screen::Effects`],
//! and a command's result comes back to the tab that issued it.

pub mod action;
pub mod app;
pub mod charts;
pub mod harness;
pub mod input;
pub mod keymap;

pub mod runtime;
pub mod screen;
pub mod screens;
pub mod state;
pub mod terminal;
pub mod theme;
pub mod ui;
pub mod widgets;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use action::{Action, Command};
pub use app::App;
pub use harness::Harness;
pub use theme::Theme;

use crate::control::Control;
use crate::telemetry::Telemetry;

/// The log file's name in the data dir.
pub const LOG_FILE: &str = "streamgate.log";

/// What the UI needs from whoever starts it: the control layer, the traffic feed, and
/// where the servers run (or why they don't).
#[derive(Debug, Clone)]
pub struct TuiContext {
    /// The service layer.
    pub control: Control,
    /// The gateway's traffic events and metrics.
    pub telemetry: Telemetry,
    /// The management API's address, or why it could not start (e.g. port taken).
    pub admin: Result<SocketAddr, String>,
    /// The gateway's address, or why it could not start.
    pub gateway: Result<SocketAddr, String>,
    /// Where the memory backend listens when started from the UI (default
    /// 127.0.0.1:8080).
    pub backend_addr: SocketAddr,
    /// The data dir (the log file goes there).
    pub data_dir: PathBuf,
    /// Who is signed in (`--user NAME`), or the local operator.
    pub principal: crate::control::Principal,
    /// Whether `--user NAME` signed in (the header shows the user and roles, also for
    /// `admin`); false for the local operator.
    pub signed_in: bool,
    /// The HTTPS gateway and its certificate's fingerprint, when TLS runs.
    pub tls: Option<state::TlsInfo>,
}

/// How the UI looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TuiOptions {
    /// `--theme NAME`: a built-in theme, `<data-dir>/themes/NAME.toml`, or a file path.
    pub theme: String,
    /// No colours (also when the `NO_COLOR` environment variable is set and not empty).
    pub no_color: bool,
}

impl Default for TuiOptions {
    fn default() -> Self {
        TuiOptions {
            theme: "dark".to_string(),
            no_color: false,
        }
    }
}

/// Why the UI could not run.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    /// stdout is not a terminal (piped, redirected, or no TTY).
    #[error(
        "stdout is not a terminal, so the terminal UI cannot draw; run `streamgate serve` to start the servers without it"
    )]
    NotATerminal,
    /// A theme could not be loaded.
    #[error("theme: {0}")]
    Theme(String),
    /// The log file could not be set up.
    #[error("log file: {0}")]
    Logging(String),
    /// The terminal failed.
    #[error("terminal: {0}")]
    Io(#[from] std::io::Error),
}

/// Refuses early when stdout is not a terminal, so a caller can say so before starting
/// the servers (the message points to `streamgate serve`).
pub fn check_terminal() -> Result<(), TuiError> {
    if std::io::stdout().is_terminal() {
        Ok(())
    } else {
        Err(TuiError::NotATerminal)
    }
}

/// Whether `NO_COLOR` asks for no colours (set and not empty, per no-color.org).
pub fn no_color_from_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Sends `tracing` logs to `<data_dir>/streamgate.log` (never to the screen). Call it
/// before starting the servers, so their logs go there too. Fails if a global
/// subscriber is already set.
pub fn init_logging(data_dir: &Path) -> Result<PathBuf, TuiError> {
    std::fs::create_dir_all(data_dir).map_err(|e| TuiError::Logging(e.to_string()))?;
    let path = data_dir.join(LOG_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        // The log can name users and data dir paths: owner only, like every data dir file.
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options
        .open(&path)
        .map_err(|e| TuiError::Logging(format!("{}: {e}", path.display())))?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_env_filter(filter)
        .finish();
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| TuiError::Logging(e.to_string()))?;
    Ok(path)
}

/// Reads a password from the terminal without echoing it (raw mode, before the alternate
/// screen): Enter ends it, Backspace erases, Ctrl-C or Esc cancels.
pub fn read_password(prompt: &str) -> std::io::Result<String> {
    use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers, read};
    use std::io::Write;
    let mut out = std::io::stderr();
    write!(out, "{prompt}")?;
    out.flush()?;
    crossterm::terminal::enable_raw_mode()?;
    let mut password = String::new();
    let result = loop {
        let ev = match read() {
            Ok(ev) => ev,
            Err(e) => break Err(e),
        };
        let Event::Key(key) = ev else { continue };
        if key.kind == KeyEventKind::Release {
            continue;
        }
        match key.code {
            KeyCode::Enter => break Ok(()),
            KeyCode::Esc => break Err(std::io::Error::other("cancelled")),
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                break Err(std::io::Error::other("cancelled"));
            }
            KeyCode::Backspace => {
                password.pop();
            }
            KeyCode::Char(c) => password.push(c),
            _ => {}
        }
    };
    let restored = crossterm::terminal::disable_raw_mode();
    writeln!(out)?;
    result?;
    restored?;
    Ok(password)
}

/// Checks a user's password through control and answers the session's principal: the
/// user, their roles and the scopes those roles carry. A wrong password, an unknown or a
/// locked user get the same answer (5 failures in a row lock the user for 5 minutes).
pub async fn sign_in(
    control: &Control,
    name: &str,
    password: &str,
) -> Result<crate::control::Principal, String> {
    let user = control
        .authenticate_user(name, password)
        .await
        .map_err(|_| {
            format!("sign-in as {name} failed: wrong user name or password, or the user is locked")
        })?;
    let scopes = crate::catalog::user::scopes_of(&user.roles)
        .into_iter()
        .map(str::to_string)
        .collect();
    Ok(crate::control::Principal {
        user: user.name,
        roles: user.roles,
        scopes,
    })
}

/// Runs the terminal UI until the person quits. Refuses when stdout is not a terminal.
/// Restores the terminal on exit and on panic; stops the memory backend and Try-it
/// streams it started. The servers themselves belong to the caller.
pub async fn run(ctx: TuiContext, opts: TuiOptions) -> Result<(), TuiError> {
    check_terminal()?;
    let no_color = opts.no_color || no_color_from_env();
    let theme = Theme::load(&opts.theme, no_color, &ctx.data_dir)?;
    // The caller may have set up logging already (it should, to the same file).
    if let Err(e) = init_logging(&ctx.data_dir) {
        tracing::debug!("logging already set up: {e}");
    }
    let (mut rt, mut inputs) = runtime::Runtime::new(ctx, theme, runtime::Clipboard::Terminal);
    let result = {
        let mut guard = terminal::TerminalGuard::enter()?;
        let events = crossterm::event::EventStream::new();
        rt.run(&mut inputs, guard.terminal(), events).await
    };
    rt.shutdown().await;
    result
}
