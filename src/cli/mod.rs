//! The client subcommands (`streamgate api create`, `app create`, `subscribe`, `keys`,
//! `token`, `plan`, `user`, `login` ...): HTTP clients of the management API, so a running
//! `streamgate` can be driven from scripts. Human-readable output, `--json` for scripts, `--quiet` for
//! just the one value (an id, a token) worth capturing in a shell variable.
//!
//! Split as `mgmt/` is: [`client`] talks HTTP, [`output`] prints, and one module per
//! concern holds one function per subcommand. Request bodies are the management API's own
//! request types (`crate::mgmt::dto::*In`), serialised.

mod api;
mod app;
mod cert;
mod client;
mod keys;
pub mod login;
mod node;
mod output;
mod plan;
mod stats;
mod subscribe;
mod tls;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use reqwest::Method;

pub use api::{ApiCommand, ApiCreateArgs, api_body};
pub use app::AppCommand;
pub use cert::CertCommand;
pub use keys::KeysCommand;
pub use node::NodeCommand;
pub use output::Output;
pub use plan::PlanCommand;
pub use tls::{TlsCommand, run_tls};
pub use user::UserCommand;

use client::{Client, NO_BODY};

/// The management API's URL when neither `--admin-url` nor the variable says otherwise.
pub const DEFAULT_ADMIN_URL: &str = "http://127.0.0.1:9443";
/// The environment variable naming the management API's URL.
pub const ADMIN_URL_ENV: &str = "STREAMGATE_ADMIN_URL";
/// The environment variable that may carry the admin token itself.
pub const ADMIN_TOKEN_ENV: &str = "STREAMGATE_ADMIN_TOKEN";
/// The environment all three tutorial steps deploy to.
pub const DEFAULT_ENVIRONMENT: &str = "Production and Sandbox";

/// The flags of the client subcommands, flattened into each of them (and global below
/// `api`, `app`, `keys` and `plan`, so `api create --json` works), so that only they show
/// them in `--help`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClientArgs {
    /// URL of the management API.
    // Its value is not shown in --help: a URL may carry a password (`https://user:pw@...`).
    #[arg(long, global = true, env = ADMIN_URL_ENV, hide_env_values = true, default_value = DEFAULT_ADMIN_URL, display_order = 901)]
    pub admin_url: String,
    /// The admin token (or any management token) itself, instead of the stored login or
    /// the data dir's admin-token file.
    #[arg(long, global = true, env = ADMIN_TOKEN_ENV, hide_env_values = true, display_order = 902)]
    pub admin_token: Option<String>,
    /// Print the management API's JSON answer.
    #[arg(long, global = true, display_order = 903)]
    pub json: bool,
    /// Print only the essential value (an id, a token, key:secret).
    #[arg(
        long,
        short,
        global = true,
        conflicts_with = "json",
        display_order = 904
    )]
    pub quiet: bool,
    /// Trust this CA certificate (PEM) for an https --admin-url, beside the platform's
    /// roots and the data dir's own certificate (<data dir>/tls/cert.pem).
    #[arg(long, global = true, value_name = "FILE", display_order = 905)]
    pub cacert: Option<PathBuf>,
}

/// The client flags given before the subcommand (`streamgate --admin-url URL api list`), as
/// earlier versions accepted them. Hidden from `--help`; [`ClientArgs::resolve`] lets them
/// win over the variables and defaults.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LeadingClientArgs {
    /// URL of the management API.
    #[arg(long = "admin-url", id = "leading_admin_url", hide = true)]
    pub admin_url: Option<String>,
    /// The admin token itself.
    #[arg(long = "admin-token", id = "leading_admin_token", hide = true)]
    pub admin_token: Option<String>,
    /// Print the management API's JSON answer.
    #[arg(long = "json", id = "leading_json", hide = true)]
    pub json: bool,
    /// Print only the essential value.
    #[arg(
        long = "quiet",
        short = 'q',
        id = "leading_quiet",
        hide = true,
        conflicts_with = "leading_json"
    )]
    pub quiet: bool,
    /// Trust this CA certificate (PEM) for an https management API.
    #[arg(long = "cacert", id = "leading_cacert", hide = true)]
    pub cacert: Option<PathBuf>,
}

impl ClientArgs {
    /// The options a client command runs with: `leading` flags (given before the
    /// subcommand) win over these (given after it, or from the variables and defaults);
    /// `data_dir` is the global `--data-dir`.
    ///
    /// # Errors
    /// A usage message when `--json` and `--quiet` are both given.
    pub fn resolve(
        &self,
        leading: &LeadingClientArgs,
        data_dir: Option<PathBuf>,
    ) -> Result<ClientOptions, String> {
        let json = self.json || leading.json;
        let quiet = self.quiet || leading.quiet;
        if json && quiet {
            return Err("the argument '--quiet' cannot be used with '--json'".to_string());
        }
        Ok(ClientOptions {
            admin_url: leading
                .admin_url
                .clone()
                .unwrap_or_else(|| self.admin_url.clone()),
            data_dir,
            admin_token: leading
                .admin_token
                .clone()
                .or_else(|| self.admin_token.clone()),
            json,
            quiet,
            cacert: leading.cacert.clone().or_else(|| self.cacert.clone()),
        })
    }
}

/// The options a client command runs with, once the flags are read.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// URL of the management API.
    pub admin_url: String,
    /// Data dir whose `admin-token` file authorises the client when no token is given and
    /// no login is stored for `admin_url` (default: as `serve`).
    pub data_dir: Option<PathBuf>,
    /// The admin token (or any management token) itself, instead of the stored login or
    /// the data dir's file.
    pub admin_token: Option<String>,
    /// Print the management API's JSON answer.
    pub json: bool,
    /// Print only the essential value (an id, a token, key:secret).
    pub quiet: bool,
    /// A CA certificate (PEM) to trust for an https management API, beside the platform's
    /// roots and `<data dir>/tls/cert.pem`.
    pub cacert: Option<PathBuf>,
}

/// The client subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ClientCommand {
    /// Design, publish and deploy APIs (the Publisher).
    Api {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: ApiCommand,
    },
    /// Create and inspect applications (the Developer Portal).
    App {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: AppCommand,
    },
    /// Subscribe an application to an API under one of its plans.
    Subscribe {
        /// The application (id or name).
        app: String,
        /// The API (id or Name:version).
        api: String,
        /// The business plan (default: the API's first plan).
        #[arg(long)]
        plan: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Remove an application's subscription to an API.
    Unsubscribe {
        /// The application (id or name).
        app: String,
        /// The API (id or Name:version).
        api: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Consumer keys of an application.
    Keys {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Issue an access token for an application (prints just the token with --quiet).
    Token {
        /// The application (id or name).
        app: String,
        /// PRODUCTION or SANDBOX.
        #[arg(long, default_value = "PRODUCTION")]
        key_type: String,
        /// Validity in seconds.
        #[arg(long, default_value_t = 3600)]
        validity: i64,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Business plans and application policies (the Admin portal).
    Plan {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: PlanCommand,
    },
    /// Gateway node credentials (scale-out): add, list, remove.
    Node {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: NodeCommand,
    },
    /// Endpoint certificates: CA or server certificates (PEM) trusted for one https
    /// backend endpoint, as WSO2's Publisher `/endpoint-certificates`.
    Cert {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: CertCommand,
    },
    /// Check that the management API answers.
    Health {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Traffic per minute of an API, an application or the whole gateway (analytics).
    Stats {
        #[command(flatten)]
        client: ClientArgs,
        /// An API as `Name:version` (or its name) or an application's name; none: all.
        name: Option<String>,
        /// How far back: e.g. 90s, 30m, 1h, 7d (series are kept 7 days).
        #[arg(long, default_value = "1h")]
        since: String,
    },
    /// Management users and their roles, over SCIM 2.0 (admin only).
    User {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Sign in as a user (OAuth2 password grant): their token is stored in the config dir
    /// and used by the other subcommands instead of the data dir's admin token.
    Login {
        /// The user (asked when absent).
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Sign out: revoke and forget the token `login` stored for this management API.
    Logout {
        #[command(flatten)]
        client: ClientArgs,
    },
}

impl ClientCommand {
    /// The client flags given to this subcommand.
    pub fn client_args(&self) -> &ClientArgs {
        match self {
            ClientCommand::Api { client, .. }
            | ClientCommand::App { client, .. }
            | ClientCommand::Subscribe { client, .. }
            | ClientCommand::Unsubscribe { client, .. }
            | ClientCommand::Keys { client, .. }
            | ClientCommand::Token { client, .. }
            | ClientCommand::Plan { client, .. }
            | ClientCommand::Node { client, .. }
            | ClientCommand::Cert { client, .. }
            | ClientCommand::Health { client }
            | ClientCommand::Stats { client, .. }
            | ClientCommand::User { client, .. }
            | ClientCommand::Login { client, .. }
            | ClientCommand::Logout { client } => client,
        }
    }
}

/// Why a client command failed; printed on stderr.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Nothing listens at the URL.
    #[error("cannot reach the management API at {url}: is `streamgate serve` running? ({detail})")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// The transport error.
        detail: String,
    },
    /// The server refused the request.
    #[error("{message} (HTTP {status}): {description}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's summary.
        message: String,
        /// The server's details.
        description: String,
    },
    /// The management API's certificate is not trusted, or the TLS handshake failed.
    #[error("TLS with the management API at {url} failed: {detail}; {hint}")]
    Tls {
        /// The URL tried.
        url: String,
        /// rustls's reason (unknown issuer, name mismatch, expired...).
        detail: String,
        /// What to do about it.
        hint: String,
    },
    /// The command can't be carried out as given.
    #[error("{0}")]
    Usage(String),
    /// The server's answer made no sense.
    #[error("unexpected answer from the management API: {0}")]
    BadAnswer(String),
}

/// Runs a client command and prints its output; errors go to stderr with a failure status.
pub async fn run_client(cmd: ClientCommand, opts: &ClientOptions) -> ExitCode {
    match execute(cmd, opts).await {
        Ok(out) => {
            if opts.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&out.json).unwrap_or_default()
                );
            } else if opts.quiet {
                if !out.quiet.is_empty() {
                    println!("{}", out.quiet);
                }
            } else {
                print!("{}", out.human);
            }
            for warning in &out.warnings {
                eprintln!("warning: {warning}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one client subcommand: each is one function of its concern's module.
async fn execute(cmd: ClientCommand, opts: &ClientOptions) -> Result<Output, CliError> {
    let client = Client::new(opts)?;
    let client = &client;
    match cmd {
        ClientCommand::Api { command, .. } => api::run(client, command).await,
        ClientCommand::App { command, .. } => app::run(client, command).await,
        ClientCommand::Subscribe { app, api, plan, .. } => {
            subscribe::subscribe(client, app, api, plan).await
        }
        ClientCommand::Unsubscribe { app, api, .. } => {
            subscribe::unsubscribe(client, app, api).await
        }
        ClientCommand::Keys { command, .. } => keys::run(client, command).await,
        ClientCommand::Token {
            app,
            key_type,
            validity,
            ..
        } => keys::token(client, app, key_type, validity).await,
        ClientCommand::Plan { command, .. } => plan::run(client, command).await,
        ClientCommand::Node { command, .. } => node::run(client, command).await,
        ClientCommand::Cert { command, .. } => cert::run(client, command).await,
        ClientCommand::Health { .. } => health(client).await,
        ClientCommand::Stats { name, since, .. } => {
            stats::stats(client, name.as_deref(), &since).await
        }
        ClientCommand::User { command, .. } => user::run(client, command).await,
        ClientCommand::Login {
            user,
            password_stdin,
            ..
        } => login::login(client, user, password_stdin).await,
        ClientCommand::Logout { .. } => login::logout(client).await,
    }
}

/// `streamgate health`: check that the management API answers.
async fn health(client: &Client) -> Result<Output, CliError> {
    let value = client.send(Method::GET, "/health", &[], NO_BODY).await?;
    let status = value["status"].as_str().unwrap_or("unknown").to_string();
    Ok(Output {
        human: format!(
            "management API at {} is {status}\n",
            client.base.as_str().trim_end_matches('/')
        ),
        quiet: status,
        json: value,
        warnings: Vec::new(),
    })
}
