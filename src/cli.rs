//! The client subcommands (`streamgate api create`, `app create`, `subscribe`, `keys`,
//! `token`, `plan` ...): HTTP clients of the management API, so a running `streamgate`
//! can be driven from scripts. Human-readable output, `--json` for scripts, `--quiet` for
//! just the one value (an id, a token) worth capturing in a shell variable.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::catalog::ApiDraft;
use crate::datadir;
use crate::keys::ADMIN_TOKEN_FILE;
use crate::mgmt::dto::{
    AdminApplicationPolicyDto, AdminSubscriptionPolicyDto, ApiDto, ApiInfoDto, ApplicationDto,
    ApplicationInfoDto, ApplicationKeyDto, ApplicationTokenDto, DeploymentDto, DeploymentListDto,
    EnvironmentDto, ErrorBody, ListDto, OAuthError, RegeneratedSecretDto, RevisionDto,
    SubscriptionDto, UNLIMITED_COUNT, WorkflowResponseDto,
};
use crate::mgmt::{ADMIN_BASE, DEVPORTAL_BASE, PUBLISHER_BASE};

/// The management API's URL when neither `--admin-url` nor the variable says otherwise.
pub const DEFAULT_ADMIN_URL: &str = "http://127.0.0.1:9443";
/// The environment variable naming the management API's URL.
pub const ADMIN_URL_ENV: &str = "STREAMGATE_ADMIN_URL";
/// The environment variable that may carry the admin token itself.
pub const ADMIN_TOKEN_ENV: &str = "STREAMGATE_ADMIN_TOKEN";
/// The environment all three tutorial steps deploy to.
pub const DEFAULT_ENVIRONMENT: &str = "Production and Sandbox";

/// Options every client subcommand shares. Flatten it into the top-level parser.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClientOptions {
    /// URL of the management API.
    #[arg(long, global = true, env = ADMIN_URL_ENV, default_value = DEFAULT_ADMIN_URL)]
    pub admin_url: String,
    /// Data dir whose `admin-token` file authorises the client (default: as `serve`).
    #[arg(long, global = true, env = datadir::DATA_DIR_ENV)]
    pub data_dir: Option<PathBuf>,
    /// The admin token itself, instead of reading it from the data dir.
    #[arg(long, global = true, env = ADMIN_TOKEN_ENV, hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Print the management API's JSON answer.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only the essential value (an id, a token, key:secret).
    #[arg(long, short, global = true, conflicts_with = "json")]
    pub quiet: bool,
}

/// The client subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ClientCommand {
    /// Design, publish and deploy APIs (the Publisher).
    #[command(subcommand)]
    Api(ApiCommand),
    /// Create and inspect applications (the Developer Portal).
    #[command(subcommand)]
    App(AppCommand),
    /// Subscribe an application to an API under one of its plans.
    Subscribe {
        /// The application (id or name).
        app: String,
        /// The API (id or Name:version).
        api: String,
        /// The business plan (default: the API's first plan).
        #[arg(long)]
        plan: Option<String>,
    },
    /// Remove an application's subscription to an API.
    Unsubscribe {
        /// The application (id or name).
        app: String,
        /// The API (id or Name:version).
        api: String,
    },
    /// Consumer keys of an application.
    #[command(subcommand)]
    Keys(KeysCommand),
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
    },
    /// Business plans and application policies (the Admin portal).
    #[command(subcommand)]
    Plan(PlanCommand),
    /// Check that the management API answers.
    Health,
    /// Traffic per minute of an API, an application or the whole gateway (analytics).
    Stats {
        /// An API as `Name:version` (or its name) or an application's name; none: all.
        name: Option<String>,
        /// How far back: e.g. 90s, 30m, 1h, 7d (series are kept 7 days).
        #[arg(long, default_value = "1h")]
        since: String,
    },
}

/// `streamgate api ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ApiCommand {
    /// Create an SSE API (state CREATED).
    Create {
        /// Name, e.g. Observer.
        #[arg(long)]
        name: String,
        /// Context, e.g. /observer.
        #[arg(long)]
        context: String,
        /// Version, e.g. 1.0.0.
        #[arg(long)]
        version: String,
        /// Backend URL for both production and sandbox, e.g. http://localhost:8080.
        #[arg(long)]
        endpoint: Option<String>,
        /// Production backend URL (overrides --endpoint).
        #[arg(long)]
        production_endpoint: Option<String>,
        /// Sandbox backend URL (overrides --endpoint).
        #[arg(long)]
        sandbox_endpoint: Option<String>,
        /// Business plans (repeatable; default AsyncUnlimited).
        #[arg(long = "plan")]
        plans: Vec<String>,
        /// Subscribe-only topics (repeatable; default /*).
        #[arg(long = "topic")]
        topics: Vec<String>,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List APIs.
    List,
    /// Show an API with its plans, revisions and deployments.
    Show {
        /// The API (id or Name:version).
        api: String,
    },
    /// Set the business plans an API offers.
    Plans {
        /// The API (id or Name:version).
        api: String,
        /// Plan names, e.g. AsyncGold.
        #[arg(required = true)]
        plans: Vec<String>,
    },
    /// Apply a lifecycle action: Publish, "Deploy as a Prototype", "Demote to Created",
    /// Block, Re-Publish, Deprecate, Retire.
    Lifecycle {
        /// The API (id or Name:version).
        api: String,
        /// The action.
        action: String,
    },
    /// Deploy New Revision (or, with --revision, an existing one) to a gateway environment.
    Deploy {
        /// The API (id or Name:version).
        api: String,
        /// The gateway environment.
        #[arg(long, default_value = DEFAULT_ENVIRONMENT)]
        env: String,
        /// The environment's vhost.
        #[arg(long, default_value = "localhost")]
        vhost: String,
        /// Deploy this existing revision (id, "Revision N" or N) instead of a new one.
        #[arg(long)]
        revision: Option<String>,
        /// Hide the gateway URL from the Developer Portal.
        #[arg(long)]
        hide_on_devportal: bool,
    },
    /// Undeploy a revision from an environment (or from all).
    Undeploy {
        /// The API (id or Name:version).
        api: String,
        /// The revision (id, "Revision N" or N).
        revision: String,
        /// Only from this environment.
        #[arg(long)]
        env: Option<String>,
    },
    /// List deployments (of one API, or of all).
    Deployments {
        /// The API (id or Name:version).
        api: Option<String>,
    },
    /// List an API's revisions.
    Revisions {
        /// The API (id or Name:version).
        api: String,
    },
    /// Print an API's AsyncAPI document.
    Asyncapi {
        /// The API (id or Name:version).
        api: String,
    },
    /// Delete an API (refused while it has subscriptions).
    Delete {
        /// The API (id or Name:version).
        api: String,
    },
}

/// `streamgate app ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AppCommand {
    /// Create an application.
    Create {
        /// Its name.
        name: String,
        /// Application policy: 10PerMin, 20PerMin, 50PerMin, Unlimited or a custom one.
        #[arg(long, default_value = "Unlimited")]
        policy: String,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List applications.
    List,
    /// Show an application with its keys and subscriptions.
    Show {
        /// The application (id or name).
        app: String,
    },
    /// Delete an application with its subscriptions and keys.
    Delete {
        /// The application (id or name).
        app: String,
    },
}

/// `streamgate keys ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeysCommand {
    /// Generate the consumer key and secret (shown once) and a first token.
    Generate {
        /// The application (id or name).
        app: String,
        /// PRODUCTION or SANDBOX.
        #[arg(long, default_value = "PRODUCTION")]
        key_type: String,
        /// Validity of the first token in seconds.
        #[arg(long, default_value_t = 3600)]
        validity: i64,
    },
    /// List an application's keys (without secrets).
    List {
        /// The application (id or name).
        app: String,
    },
    /// Replace a consumer secret (the old one stops working).
    Regenerate {
        /// The application (id or name).
        app: String,
        /// PRODUCTION or SANDBOX.
        #[arg(long, default_value = "PRODUCTION")]
        key_type: String,
    },
}

/// `streamgate plan ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum PlanCommand {
    /// List business plans and application policies.
    List,
    /// Create a business plan: N events per window, delivery stops at the quota.
    Create {
        /// The plan's name, e.g. AsyncTiny.
        name: String,
        /// Events allowed per window.
        #[arg(long)]
        events: u64,
        /// The window's unit: min, hour, day or month.
        #[arg(long, default_value = "day")]
        per: String,
        /// Units per window.
        #[arg(long, default_value_t = 1)]
        unit_time: u32,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
    },
    /// Create an application policy: N connection requests per minute.
    CreateApp {
        /// The policy's name, e.g. 30PerMin.
        name: String,
        /// Requests allowed per minute.
        #[arg(long)]
        per_minute: u64,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
    },
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

/// What a command prints, in each mode.
#[derive(Debug, Default)]
pub struct Output {
    /// `--json`: the server's answer.
    pub json: Value,
    /// Default: lines for people, ending in a newline.
    pub human: String,
    /// `--quiet`: the one value worth capturing.
    pub quiet: String,
    /// Said on stderr in every mode.
    pub warnings: Vec<String>,
}

impl Output {
    /// A list: a table for people (or `empty` when there are no rows), the first column
    /// (the ids) one per line for `--quiet`, and the server's answer for `--json`.
    fn listing(json: Value, headers: &[&str], rows: &[Vec<String>], empty: &str) -> Output {
        Output {
            human: if rows.is_empty() {
                format!("{empty}\n")
            } else {
                table(headers, rows)
            },
            quiet: rows
                .iter()
                .filter_map(|r| r.first().cloned())
                .collect::<Vec<_>>()
                .join("\n"),
            json,
            warnings: Vec::new(),
        }
    }
}

/// An HTTP client of the management API.
pub(crate) struct Client {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
    token_source: String,
}

impl Client {
    fn new(opts: &ClientOptions) -> Result<Client, CliError> {
        let base = Url::parse(opts.admin_url.trim_end_matches('/'))
            .map_err(|e| CliError::Usage(format!("--admin-url '{}': {e}", opts.admin_url)))?;
        let (token, token_source) = match &opts.admin_token {
            Some(t) => (Some(t.trim().to_string()), format!("${ADMIN_TOKEN_ENV}")),
            None => {
                let path = datadir::resolve(opts.data_dir.clone()).join(ADMIN_TOKEN_FILE);
                let token = std::fs::read_to_string(&path)
                    .ok()
                    .map(|t| t.trim().to_string());
                (token, path.display().to_string())
            }
        };
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| CliError::Usage(format!("cannot build an HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            token,
            token_source,
        })
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, CliError> {
        let mut url = self
            .base
            .join(path)
            .map_err(|e| CliError::Usage(format!("bad path {path}: {e}")))?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// Sends a request; answers the JSON body (Null when empty) of a 2xx answer.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, CliError> {
        let url = self.url(path, query)?;
        let mut req = self.http.request(method, url.clone());
        if path.starts_with("/api/am/") {
            let token = self.token.as_deref().ok_or_else(|| {
                CliError::Usage(format!(
                    "no admin token at {}: start `streamgate serve` once with this data dir, \
                     or pass --data-dir or ${ADMIN_TOKEN_ENV}",
                    self.token_source
                ))
            })?;
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|e| CliError::Unreachable {
            url: self.base.to_string().trim_end_matches('/').to_string(),
            detail: innermost(&e),
        })?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| CliError::BadAnswer(e.to_string()))?;
        if !status.is_success() {
            return Err(self.refusal(status, &text));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| CliError::BadAnswer(format!("{e}: {text}")))
    }

    fn refusal(&self, status: StatusCode, text: &str) -> CliError {
        let (message, mut description) = match serde_json::from_str::<ErrorBody>(text) {
            Ok(err) if !err.message.is_empty() => (err.message, err.description),
            _ => match serde_json::from_str::<OAuthError>(text) {
                Ok(err) if !err.error.is_empty() => (err.error, err.error_description),
                _ => (
                    status.canonical_reason().unwrap_or("error").to_string(),
                    text.trim().to_string(),
                ),
            },
        };
        if status == StatusCode::UNAUTHORIZED {
            let _ = write!(
                description,
                " (the token used came from {})",
                self.token_source
            );
        }
        CliError::Refused {
            status: status.as_u16(),
            message,
            description,
        }
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<(T, Value), CliError> {
        let value = self.send(Method::GET, path, query, None).await?;
        Ok((parse(&value)?, value))
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(T, Value), CliError> {
        let value = self.send(Method::POST, path, query, body).await?;
        Ok((parse(&value)?, value))
    }

    /// An API by id or `Name:version`, looked up in the Publisher's list.
    async fn resolve_api(&self, handle: &str) -> Result<ApiInfoDto, CliError> {
        let (list, _) = self
            .get::<ListDto<ApiInfoDto>>(&publisher("/apis"), &[("limit", "100000")])
            .await?;
        let found = list.list.iter().find(|a| a.id == handle).or_else(|| {
            let (name, version) = handle.rsplit_once(':')?;
            list.list
                .iter()
                .find(|a| a.name.eq_ignore_ascii_case(name) && a.version == version)
        });
        found.cloned().ok_or_else(|| {
            let known: Vec<String> = list
                .list
                .iter()
                .map(|a| format!("{}:{}", a.name, a.version))
                .collect();
            CliError::Usage(format!(
                "no API '{handle}': give its id or Name:version (known: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })
    }

    /// An application by id or name.
    async fn resolve_app(&self, handle: &str) -> Result<ApplicationInfoDto, CliError> {
        let (list, _) = self
            .get::<ListDto<ApplicationInfoDto>>(&devportal("/applications"), &[])
            .await?;
        list.list
            .iter()
            .find(|a| a.application_id == handle)
            .or_else(|| {
                list.list
                    .iter()
                    .find(|a| a.name.eq_ignore_ascii_case(handle))
            })
            .cloned()
            .ok_or_else(|| {
                let known: Vec<&str> = list.list.iter().map(|a| a.name.as_str()).collect();
                CliError::Usage(format!(
                    "no application '{handle}' (known: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ))
            })
    }

    /// The key pair of a key type, or a hint to generate it.
    async fn key_of(
        &self,
        app: &ApplicationInfoDto,
        key_type: &str,
    ) -> Result<ApplicationKeyDto, CliError> {
        let (keys, _) = self
            .get::<ListDto<ApplicationKeyDto>>(
                &devportal(&format!("/applications/{}/oauth-keys", app.application_id)),
                &[],
            )
            .await?;
        keys.list
            .into_iter()
            .find(|k| k.key_type.eq_ignore_ascii_case(key_type))
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "application '{}' has no {} keys: run `streamgate keys generate {} --key-type {}` first",
                    app.name,
                    key_type.to_ascii_uppercase(),
                    shell_word(&app.name),
                    key_type.to_ascii_uppercase()
                ))
            })
    }

    /// The gateway URL of an environment, for messages.
    async fn gateway_url(&self, env: &str) -> Option<String> {
        let (envs, _) = self
            .get::<ListDto<EnvironmentDto>>(&publisher("/environments"), &[])
            .await
            .ok()?;
        envs.list
            .into_iter()
            .find(|e| e.name == env)
            .and_then(|e| e.server_url)
    }
}

fn parse<T: DeserializeOwned>(value: &Value) -> Result<T, CliError> {
    serde_json::from_value(if value.is_null() {
        json!({})
    } else {
        value.clone()
    })
    .map_err(|e| CliError::BadAnswer(format!("{e}: {value}")))
}

/// The innermost cause of a transport error ("Connection refused"), which says the most.
fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &(dyn std::error::Error + 'static) = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Quotes a word for a shell hint when it needs it.
fn shell_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn publisher(path: &str) -> String {
    format!("{PUBLISHER_BASE}{path}")
}

fn devportal(path: &str) -> String {
    format!("{DEVPORTAL_BASE}{path}")
}

fn admin(path: &str) -> String {
    format!("{ADMIN_BASE}{path}")
}

/// Lines of columns padded to the widest cell.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        let text: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", text.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
    out
}

fn handle_of(name: &str, version: &str) -> String {
    format!("{name}:{version}")
}

/// The API body the CLI sends for a draft: WSO2's `API` shape.
pub fn api_body(draft: &ApiDraft) -> Value {
    let mut endpoint_config = json!({"endpoint_type": "http"});
    if let Some(url) = &draft.production_endpoint {
        endpoint_config["production_endpoints"] = json!({ "url": url });
    }
    if let Some(url) = &draft.sandbox_endpoint {
        endpoint_config["sandbox_endpoints"] = json!({ "url": url });
    }
    let mut body = json!({
        "name": draft.name,
        "context": draft.context,
        "version": draft.version,
        "description": draft.description,
        "type": "SSE",
        "endpointConfig": endpoint_config,
    });
    if !draft.policies.is_empty() {
        body["policies"] = json!(draft.policies);
    }
    if !draft.topics.is_empty() {
        body["operations"] = draft
            .topics
            .iter()
            .map(|t| json!({"target": t, "verb": "SUBSCRIBE"}))
            .collect();
    }
    body
}

async fn execute(cmd: ClientCommand, opts: &ClientOptions) -> Result<Output, CliError> {
    let client = Client::new(opts)?;
    match cmd {
        ClientCommand::Api(cmd) => api_command(&client, cmd).await,
        ClientCommand::App(cmd) => app_command(&client, cmd).await,
        ClientCommand::Subscribe { app, api, plan } => {
            let app = client.resolve_app(&app).await?;
            let api = client.resolve_api(&api).await?;
            let mut body = json!({"applicationId": app.application_id, "apiId": api.id});
            if let Some(plan) = plan {
                body["throttlingPolicy"] = json!(plan);
            }
            let (sub, value) = client
                .post::<SubscriptionDto>(&devportal("/subscriptions"), &[], Some(&body))
                .await?;
            Ok(Output {
                human: format!(
                    "Subscribed {} to {} under {} (subscription {}, {})\n",
                    app.name,
                    handle_of(&api.name, &api.version),
                    sub.throttling_policy,
                    sub.subscription_id,
                    sub.status
                ),
                quiet: sub.subscription_id,
                json: value,
                warnings: Vec::new(),
            })
        }
        ClientCommand::Unsubscribe { app, api } => {
            let app = client.resolve_app(&app).await?;
            let api = client.resolve_api(&api).await?;
            let (subs, _) = client
                .get::<ListDto<SubscriptionDto>>(
                    &devportal("/subscriptions"),
                    &[("applicationId", &app.application_id), ("apiId", &api.id)],
                )
                .await?;
            let sub = subs.list.into_iter().next().ok_or_else(|| {
                CliError::Usage(format!(
                    "{} is not subscribed to {}",
                    app.name,
                    handle_of(&api.name, &api.version)
                ))
            })?;
            client
                .send(
                    Method::DELETE,
                    &devportal(&format!("/subscriptions/{}", sub.subscription_id)),
                    &[],
                    None,
                )
                .await?;
            Ok(Output {
                human: format!(
                    "Removed the subscription of {} to {}\n",
                    app.name,
                    handle_of(&api.name, &api.version)
                ),
                quiet: sub.subscription_id.clone(),
                json: json!({"subscriptionId": sub.subscription_id, "deleted": true}),
                warnings: Vec::new(),
            })
        }
        ClientCommand::Keys(cmd) => keys_command(&client, cmd).await,
        ClientCommand::Token {
            app,
            key_type,
            validity,
        } => {
            let app = client.resolve_app(&app).await?;
            let key = client.key_of(&app, &key_type).await?;
            let (token, value) = client
                .post::<ApplicationTokenDto>(
                    &devportal(&format!(
                        "/applications/{}/oauth-keys/{}/generate-token",
                        app.application_id, key.key_mapping_id
                    )),
                    &[],
                    Some(&json!({"validityPeriod": validity, "scopes": ["default"]})),
                )
                .await?;
            Ok(Output {
                human: format!(
                    "Access token for {} ({}), valid {} s:\n{}\n",
                    app.name, key.key_type, token.validity_time, token.access_token
                ),
                quiet: token.access_token,
                json: value,
                warnings: Vec::new(),
            })
        }
        ClientCommand::Plan(cmd) => plan_command(&client, cmd).await,
        ClientCommand::Stats { name, since } => {
            crate::cli_stats::stats(&client, name.as_deref(), &since).await
        }
        ClientCommand::Health => {
            let value = client.send(Method::GET, "/health", &[], None).await?;
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
    }
}

async fn api_command(client: &Client, cmd: ApiCommand) -> Result<Output, CliError> {
    match cmd {
        ApiCommand::Create {
            name,
            context,
            version,
            endpoint,
            production_endpoint,
            sandbox_endpoint,
            plans,
            topics,
            description,
        } => {
            let production = production_endpoint.or_else(|| endpoint.clone());
            let sandbox = sandbox_endpoint.or(endpoint);
            if production.is_none() && sandbox.is_none() {
                return Err(CliError::Usage(
                    "give the backend with --endpoint URL (or --production-endpoint / --sandbox-endpoint)"
                        .to_string(),
                ));
            }
            let body = api_body(&ApiDraft {
                name,
                context,
                version,
                description,
                production_endpoint: production,
                sandbox_endpoint: sandbox,
                policies: plans,
                topics,
            });
            let (api, value) = client
                .post::<ApiDto>(&publisher("/apis"), &[], Some(&body))
                .await?;
            Ok(Output {
                human: format!(
                    "Created API {} (id {}): context {}, state {}, plans {}\n",
                    handle_of(&api.name, &api.version),
                    api.id,
                    api.context,
                    api.lifecycle_status,
                    api.policies.join(", ")
                ),
                quiet: api.id,
                json: value,
                warnings: Vec::new(),
            })
        }
        ApiCommand::List => {
            let (list, value) = client
                .get::<ListDto<ApiInfoDto>>(&publisher("/apis"), &[("limit", "100000")])
                .await?;
            let rows: Vec<Vec<String>> = list
                .list
                .iter()
                .map(|a| {
                    vec![
                        a.id.clone(),
                        handle_of(&a.name, &a.version),
                        a.context.clone(),
                        a.lifecycle_status.clone(),
                    ]
                })
                .collect();
            Ok(Output::listing(
                value,
                &["ID", "API", "CONTEXT", "STATE"],
                &rows,
                "No APIs yet: create one with `streamgate api create`",
            ))
        }
        ApiCommand::Show { api } => {
            let info = client.resolve_api(&api).await?;
            let (api, value) = client
                .get::<ApiDto>(&publisher(&format!("/apis/{}", info.id)), &[])
                .await?;
            let (revs, _) = client
                .get::<ListDto<RevisionDto>>(
                    &publisher(&format!("/apis/{}/revisions", api.id)),
                    &[],
                )
                .await?;
            let mut human = String::new();
            let _ = writeln!(human, "{}", handle_of(&api.name, &api.version));
            let _ = writeln!(human, "  id:          {}", api.id);
            let _ = writeln!(human, "  context:     {}", api.context);
            let _ = writeln!(human, "  state:       {}", api.lifecycle_status);
            let _ = writeln!(human, "  plans:       {}", api.policies.join(", "));
            let endpoint = |e: &Option<crate::mgmt::dto::EndpointUrl>| {
                e.as_ref().map_or("-".to_string(), |e| e.url.clone())
            };
            let _ = writeln!(
                human,
                "  production:  {}",
                endpoint(&api.endpoint_config.production_endpoints)
            );
            let _ = writeln!(
                human,
                "  sandbox:     {}",
                endpoint(&api.endpoint_config.sandbox_endpoints)
            );
            let topics: Vec<&str> = api.operations.iter().map(|o| o.target.as_str()).collect();
            let _ = writeln!(human, "  topics:      {}", topics.join(", "));
            if !api.description.is_empty() {
                let _ = writeln!(human, "  description: {}", api.description);
            }
            if revs.list.is_empty() {
                let _ = writeln!(human, "  revisions:   none");
            }
            for rev in &revs.list {
                let deployed: Vec<String> = rev
                    .deployment_info
                    .iter()
                    .map(|d| format!("{} ({})", d.name, d.vhost))
                    .collect();
                let _ = writeln!(
                    human,
                    "  {}: {}{}",
                    rev.display_name,
                    rev.id,
                    if deployed.is_empty() {
                        String::new()
                    } else {
                        format!(", deployed to {}", deployed.join(", "))
                    }
                );
            }
            Ok(Output {
                human,
                quiet: api.id,
                json: value,
                warnings: Vec::new(),
            })
        }
        ApiCommand::Plans { api, plans } => {
            let info = client.resolve_api(&api).await?;
            let path = publisher(&format!("/apis/{}", info.id));
            let (_, mut current) = client.get::<ApiDto>(&path, &[]).await?;
            current["policies"] = json!(plans);
            let value = client.send(Method::PUT, &path, &[], Some(&current)).await?;
            let api: ApiDto = parse(&value)?;
            Ok(Output {
                human: format!(
                    "{} now offers {}\n",
                    handle_of(&api.name, &api.version),
                    api.policies.join(", ")
                ),
                quiet: api.policies.join(","),
                json: value,
                warnings: Vec::new(),
            })
        }
        ApiCommand::Lifecycle { api, action } => {
            let info = client.resolve_api(&api).await?;
            let (wf, value) = client
                .post::<WorkflowResponseDto>(
                    &publisher("/apis/change-lifecycle"),
                    &[("apiId", &info.id), ("action", &action)],
                    None,
                )
                .await?;
            let payload: Value = serde_json::from_str(&wf.json_payload).unwrap_or(Value::Null);
            let previous = payload["previousState"]
                .as_str()
                .unwrap_or(&info.lifecycle_status)
                .to_string();
            let state = payload["state"]
                .as_str()
                .unwrap_or(&wf.lifecycle_state.state)
                .to_string();
            let next: Vec<&str> = wf
                .lifecycle_state
                .available_transitions
                .iter()
                .map(|t| t.event.as_str())
                .collect();
            Ok(Output {
                human: format!(
                    "{}: {previous} -> {state}\n  next actions: {}\n",
                    handle_of(&info.name, &info.version),
                    if next.is_empty() {
                        "none".to_string()
                    } else {
                        next.join(", ")
                    }
                ),
                quiet: state,
                json: value,
                warnings: payload["warning"]
                    .as_str()
                    .map(str::to_string)
                    .into_iter()
                    .collect(),
            })
        }
        ApiCommand::Deploy {
            api,
            env,
            vhost,
            revision,
            hide_on_devportal,
        } => {
            let info = client.resolve_api(&api).await?;
            let body =
                json!([{"name": env, "vhost": vhost, "displayOnDevportal": !hide_on_devportal}]);
            let path = publisher(&format!("/apis/{}/deploy-revision", info.id));
            let query: Vec<(&str, &str)> = revision
                .as_deref()
                .map(|r| vec![("revisionId", r)])
                .unwrap_or_default();
            let (deployed, value) = client
                .post::<Vec<DeploymentDto>>(&path, &query, Some(&body))
                .await?;
            let first = deployed
                .first()
                .ok_or_else(|| CliError::BadAnswer("no deployment in the answer".to_string()))?;
            let (revs, _) = client
                .get::<ListDto<RevisionDto>>(
                    &publisher(&format!("/apis/{}/revisions", info.id)),
                    &[],
                )
                .await?;
            let rev_name = revs
                .list
                .iter()
                .find(|r| r.id == first.revision_uuid)
                .map_or_else(|| first.revision_uuid.clone(), |r| r.display_name.clone());
            let url = client
                .gateway_url(&first.name)
                .await
                .map(|g| {
                    format!(
                        ": {}{}/{}",
                        g.trim_end_matches('/'),
                        info.context,
                        info.version
                    )
                })
                .unwrap_or_default();
            Ok(Output {
                human: format!(
                    "Deployed {rev_name} of {} to {} (vhost {}){url}\n",
                    handle_of(&info.name, &info.version),
                    first.name,
                    first.vhost
                ),
                quiet: first.revision_uuid.clone(),
                json: value,
                warnings: Vec::new(),
            })
        }
        ApiCommand::Undeploy { api, revision, env } => {
            let info = client.resolve_api(&api).await?;
            let path = publisher(&format!("/apis/{}/undeploy-revision", info.id));
            let (body, query) = match &env {
                Some(env) => (
                    Some(json!([{ "name": env }])),
                    vec![("revisionId", revision.as_str())],
                ),
                None => (
                    None,
                    vec![
                        ("revisionId", revision.as_str()),
                        ("allEnvironments", "true"),
                    ],
                ),
            };
            let (removed, value) = client
                .post::<Vec<DeploymentDto>>(&path, &query, body.as_ref())
                .await?;
            let envs: Vec<&str> = removed.iter().map(|d| d.name.as_str()).collect();
            Ok(Output {
                human: format!(
                    "Undeployed {revision} of {} from {}\n",
                    handle_of(&info.name, &info.version),
                    envs.join(", ")
                ),
                quiet: envs.join("\n"),
                json: value,
                warnings: Vec::new(),
            })
        }
        ApiCommand::Deployments { api } => {
            let apis = match api {
                Some(api) => vec![client.resolve_api(&api).await?],
                None => {
                    client
                        .get::<ListDto<ApiInfoDto>>(&publisher("/apis"), &[("limit", "100000")])
                        .await?
                        .0
                        .list
                }
            };
            let mut rows = Vec::new();
            let mut all = Vec::new();
            for info in &apis {
                let (deps, value) = client
                    .get::<DeploymentListDto>(
                        &publisher(&format!("/apis/{}/deployments", info.id)),
                        &[],
                    )
                    .await?;
                if deps.list.is_empty() {
                    continue;
                }
                let (revs, _) = client
                    .get::<ListDto<RevisionDto>>(
                        &publisher(&format!("/apis/{}/revisions", info.id)),
                        &[],
                    )
                    .await?;
                for d in &deps.list {
                    let rev = revs
                        .list
                        .iter()
                        .find(|r| r.id == d.revision_uuid)
                        .map_or_else(|| d.revision_uuid.clone(), |r| r.display_name.clone());
                    rows.push(vec![
                        handle_of(&info.name, &info.version),
                        rev,
                        d.name.clone(),
                        d.vhost.clone(),
                        d.deployed_time.clone(),
                    ]);
                }
                all.push(json!({"apiId": info.id, "list": value["list"]}));
            }
            Ok(Output {
                human: if rows.is_empty() {
                    "Nothing deployed: deploy with `streamgate api deploy Name:version`\n"
                        .to_string()
                } else {
                    table(
                        &["API", "REVISION", "ENVIRONMENT", "VHOST", "DEPLOYED"],
                        &rows,
                    )
                },
                quiet: rows
                    .iter()
                    .map(|r| format!("{} {}", r[0], r[2]))
                    .collect::<Vec<_>>()
                    .join("\n"),
                json: Value::Array(all),
                warnings: Vec::new(),
            })
        }
        ApiCommand::Revisions { api } => {
            let info = client.resolve_api(&api).await?;
            let (revs, value) = client
                .get::<ListDto<RevisionDto>>(
                    &publisher(&format!("/apis/{}/revisions", info.id)),
                    &[],
                )
                .await?;
            let rows: Vec<Vec<String>> = revs
                .list
                .iter()
                .map(|r| {
                    let deployed: Vec<&str> =
                        r.deployment_info.iter().map(|d| d.name.as_str()).collect();
                    vec![
                        r.display_name.clone(),
                        r.id.clone(),
                        r.created_time.clone(),
                        deployed.join(", "),
                    ]
                })
                .collect();
            Ok(Output {
                human: if rows.is_empty() {
                    format!(
                        "{} has no revisions\n",
                        handle_of(&info.name, &info.version)
                    )
                } else {
                    table(&["REVISION", "ID", "CREATED", "DEPLOYED TO"], &rows)
                },
                quiet: revs
                    .list
                    .iter()
                    .map(|r| r.id.clone())
                    .collect::<Vec<_>>()
                    .join("\n"),
                json: value,
                warnings: Vec::new(),
            })
        }
        ApiCommand::Asyncapi { api } => {
            let info = client.resolve_api(&api).await?;
            let value = client
                .send(
                    Method::GET,
                    &publisher(&format!("/apis/{}/asyncapi", info.id)),
                    &[],
                    None,
                )
                .await?;
            let text = serde_json::to_string_pretty(&value).unwrap_or_default();
            Ok(Output {
                human: format!("{text}\n"),
                quiet: text,
                json: value,
                warnings: Vec::new(),
            })
        }
        ApiCommand::Delete { api } => {
            let info = client.resolve_api(&api).await?;
            client
                .send(
                    Method::DELETE,
                    &publisher(&format!("/apis/{}", info.id)),
                    &[],
                    None,
                )
                .await?;
            Ok(Output {
                human: format!("Deleted API {}\n", handle_of(&info.name, &info.version)),
                quiet: info.id.clone(),
                json: json!({"id": info.id, "deleted": true}),
                warnings: Vec::new(),
            })
        }
    }
}

async fn app_command(client: &Client, cmd: AppCommand) -> Result<Output, CliError> {
    match cmd {
        AppCommand::Create {
            name,
            policy,
            description,
        } => {
            let body = json!({
                "name": name,
                "throttlingPolicy": policy,
                "description": description,
                "tokenType": "JWT",
            });
            let (app, value) = client
                .post::<ApplicationDto>(&devportal("/applications"), &[], Some(&body))
                .await?;
            Ok(Output {
                human: format!(
                    "Created application {} (id {}) with policy {}\n",
                    app.name, app.application_id, app.throttling_policy
                ),
                quiet: app.application_id,
                json: value,
                warnings: Vec::new(),
            })
        }
        AppCommand::List => {
            let (list, value) = client
                .get::<ListDto<ApplicationInfoDto>>(&devportal("/applications"), &[])
                .await?;
            let rows: Vec<Vec<String>> = list
                .list
                .iter()
                .map(|a| {
                    vec![
                        a.application_id.clone(),
                        a.name.clone(),
                        a.throttling_policy.clone(),
                        a.subscription_count.to_string(),
                    ]
                })
                .collect();
            Ok(Output::listing(
                value,
                &["ID", "NAME", "POLICY", "SUBSCRIPTIONS"],
                &rows,
                "No applications yet: create one with `streamgate app create NAME`",
            ))
        }
        AppCommand::Show { app } => {
            let info = client.resolve_app(&app).await?;
            let (app, value) = client
                .get::<ApplicationDto>(
                    &devportal(&format!("/applications/{}", info.application_id)),
                    &[],
                )
                .await?;
            let (subs, _) = client
                .get::<ListDto<SubscriptionDto>>(
                    &devportal("/subscriptions"),
                    &[("applicationId", &app.application_id)],
                )
                .await?;
            let mut human = String::new();
            let _ = writeln!(human, "{}", app.name);
            let _ = writeln!(human, "  id:       {}", app.application_id);
            let _ = writeln!(human, "  policy:   {}", app.throttling_policy);
            let _ = writeln!(human, "  token:    {}", app.token_type);
            for k in &app.keys {
                let _ = writeln!(
                    human,
                    "  {} key: {} (keyMappingId {})",
                    k.key_type, k.consumer_key, k.key_mapping_id
                );
            }
            if app.keys.is_empty() {
                let _ = writeln!(human, "  keys:     none");
            }
            for s in &subs.list {
                let api = s
                    .api_info
                    .as_ref()
                    .map_or_else(|| s.api_id.clone(), |a| handle_of(&a.name, &a.version));
                let _ = writeln!(
                    human,
                    "  subscribed to {api} under {} ({})",
                    s.throttling_policy, s.status
                );
            }
            Ok(Output {
                human,
                quiet: app.application_id,
                json: value,
                warnings: Vec::new(),
            })
        }
        AppCommand::Delete { app } => {
            let info = client.resolve_app(&app).await?;
            client
                .send(
                    Method::DELETE,
                    &devportal(&format!("/applications/{}", info.application_id)),
                    &[],
                    None,
                )
                .await?;
            Ok(Output {
                human: format!("Deleted application {}\n", info.name),
                quiet: info.application_id.clone(),
                json: json!({"applicationId": info.application_id, "deleted": true}),
                warnings: Vec::new(),
            })
        }
    }
}

async fn keys_command(client: &Client, cmd: KeysCommand) -> Result<Output, CliError> {
    match cmd {
        KeysCommand::Generate {
            app,
            key_type,
            validity,
        } => {
            let app = client.resolve_app(&app).await?;
            let body = json!({
                "keyType": key_type.to_ascii_uppercase(),
                "grantTypesToBeSupported": ["client_credentials"],
                "validityTime": validity.to_string(),
            });
            let (key, value) = client
                .post::<ApplicationKeyDto>(
                    &devportal(&format!(
                        "/applications/{}/generate-keys",
                        app.application_id
                    )),
                    &[],
                    Some(&body),
                )
                .await?;
            let secret = key.consumer_secret.clone().unwrap_or_default();
            let mut human = format!(
                "Generated {} keys for {}\n  consumer key:    {}\n  consumer secret: {}\n",
                key.key_type, app.name, key.consumer_key, secret
            );
            if let Some(token) = &key.token {
                let _ = writeln!(
                    human,
                    "  access token (valid {} s):\n{}",
                    token.validity_time, token.access_token
                );
            }
            Ok(Output {
                human,
                quiet: format!("{}:{}", key.consumer_key, secret),
                json: value,
                warnings: vec![
                    "the consumer secret is shown only now; it is stored hashed".to_string(),
                ],
            })
        }
        KeysCommand::List { app } => {
            let app = client.resolve_app(&app).await?;
            let (keys, value) = client
                .get::<ListDto<ApplicationKeyDto>>(
                    &devportal(&format!("/applications/{}/oauth-keys", app.application_id)),
                    &[],
                )
                .await?;
            let rows: Vec<Vec<String>> = keys
                .list
                .iter()
                .map(|k| {
                    vec![
                        k.key_type.clone(),
                        k.consumer_key.clone(),
                        k.key_mapping_id.clone(),
                        k.supported_grant_types.join(","),
                    ]
                })
                .collect();
            Ok(Output {
                human: if rows.is_empty() {
                    format!(
                        "{} has no keys: run `streamgate keys generate {}`\n",
                        app.name,
                        shell_word(&app.name)
                    )
                } else {
                    table(&["TYPE", "CONSUMER KEY", "KEY MAPPING ID", "GRANTS"], &rows)
                },
                quiet: keys
                    .list
                    .iter()
                    .map(|k| k.consumer_key.clone())
                    .collect::<Vec<_>>()
                    .join("\n"),
                json: value,
                warnings: Vec::new(),
            })
        }
        KeysCommand::Regenerate { app, key_type } => {
            let app = client.resolve_app(&app).await?;
            let key = client.key_of(&app, &key_type).await?;
            let (regen, value) = client
                .post::<RegeneratedSecretDto>(
                    &devportal(&format!(
                        "/applications/{}/oauth-keys/{}/regenerate-secret",
                        app.application_id, key.key_mapping_id
                    )),
                    &[],
                    None,
                )
                .await?;
            Ok(Output {
                human: format!(
                    "New {} consumer secret for {}\n  consumer key:    {}\n  consumer secret: {}\n",
                    key.key_type, app.name, regen.consumer_key, regen.consumer_secret
                ),
                quiet: format!("{}:{}", regen.consumer_key, regen.consumer_secret),
                json: value,
                warnings: vec![
                    "the old secret no longer works; the new one is shown only now".to_string(),
                ],
            })
        }
    }
}

fn describe_events(limit: &crate::mgmt::dto::ThrottleLimitDto) -> String {
    match (&limit.event_count, &limit.request_count) {
        (Some(e), _) if e.event_count >= UNLIMITED_COUNT => "unlimited".to_string(),
        (Some(e), _) => format!("{} events / {} {}", e.event_count, e.unit_time, e.time_unit),
        (_, Some(r)) if r.request_count >= UNLIMITED_COUNT => "unlimited".to_string(),
        (_, Some(r)) => format!(
            "{} requests / {} {}",
            r.request_count, r.unit_time, r.time_unit
        ),
        _ => "-".to_string(),
    }
}

async fn plan_command(client: &Client, cmd: PlanCommand) -> Result<Output, CliError> {
    match cmd {
        PlanCommand::List => {
            let (plans, plans_json) = client
                .get::<ListDto<AdminSubscriptionPolicyDto>>(
                    &admin("/throttling/policies/subscription"),
                    &[],
                )
                .await?;
            let (apps, apps_json) = client
                .get::<ListDto<AdminApplicationPolicyDto>>(
                    &admin("/throttling/policies/application"),
                    &[],
                )
                .await?;
            let plan_rows: Vec<Vec<String>> = plans
                .list
                .iter()
                .map(|p| {
                    vec![
                        p.policy_name.clone(),
                        describe_events(&p.default_limit),
                        if p.built_in { "built-in" } else { "custom" }.to_string(),
                        p.subscriber_count.to_string(),
                    ]
                })
                .collect();
            let app_rows: Vec<Vec<String>> = apps
                .list
                .iter()
                .map(|p| {
                    vec![
                        p.policy_name.clone(),
                        describe_events(&p.default_limit),
                        if p.built_in { "built-in" } else { "custom" }.to_string(),
                    ]
                })
                .collect();
            Ok(Output {
                human: format!(
                    "Business plans (events delivered per subscription):\n{}\nApplication policies (connection requests per application):\n{}",
                    table(&["PLAN", "QUOTA", "KIND", "SUBSCRIPTIONS"], &plan_rows),
                    table(&["POLICY", "RATE", "KIND"], &app_rows)
                ),
                quiet: plans
                    .list
                    .iter()
                    .map(|p| p.policy_name.clone())
                    .collect::<Vec<_>>()
                    .join("\n"),
                json: json!({"subscriptionPolicies": plans_json, "applicationPolicies": apps_json}),
                warnings: Vec::new(),
            })
        }
        PlanCommand::Create {
            name,
            events,
            per,
            unit_time,
            description,
        } => {
            let mut body = json!({
                "policyName": name,
                "displayName": name,
                "defaultLimit": {
                    "type": "EVENTCOUNTLIMIT",
                    "eventCount": {"eventCount": events, "timeUnit": per, "unitTime": unit_time}
                },
                "stopOnQuotaReach": true,
            });
            if let Some(d) = description {
                body["description"] = json!(d);
            }
            let (plan, value) = client
                .post::<AdminSubscriptionPolicyDto>(
                    &admin("/throttling/policies/subscription"),
                    &[],
                    Some(&body),
                )
                .await?;
            Ok(Output {
                human: format!(
                    "Created business plan {}: {}\n",
                    plan.policy_name,
                    describe_events(&plan.default_limit)
                ),
                quiet: plan.policy_name,
                json: value,
                warnings: Vec::new(),
            })
        }
        PlanCommand::CreateApp {
            name,
            per_minute,
            description,
        } => {
            let mut body = json!({
                "policyName": name,
                "displayName": name,
                "defaultLimit": {
                    "type": "REQUESTCOUNTLIMIT",
                    "requestCount": {"requestCount": per_minute, "timeUnit": "min", "unitTime": 1}
                },
            });
            if let Some(d) = description {
                body["description"] = json!(d);
            }
            let (policy, value) = client
                .post::<AdminApplicationPolicyDto>(
                    &admin("/throttling/policies/application"),
                    &[],
                    Some(&body),
                )
                .await?;
            Ok(Output {
                human: format!(
                    "Created application policy {}: {}\n",
                    policy.policy_name,
                    describe_events(&policy.default_limit)
                ),
                quiet: policy.policy_name,
                json: value,
                warnings: Vec::new(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_columns_to_the_widest_cell() {
        let t = table(
            &["ID", "NAME"],
            &[
                vec!["1".into(), "Observer".into()],
                vec!["22".into(), "X".into()],
            ],
        );
        assert_eq!(t, "ID  NAME\n1   Observer\n22  X\n");
    }

    #[test]
    fn shell_hints_quote_what_needs_quoting() {
        assert_eq!(shell_word("Tutorial"), "Tutorial");
        assert_eq!(shell_word("My App"), "'My App'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }

    #[test]
    fn the_api_body_is_wso2s_shape() {
        let body = api_body(&ApiDraft {
            name: "Observer".into(),
            context: "/observer".into(),
            version: "1.0.0".into(),
            production_endpoint: Some("http://localhost:8080".into()),
            policies: vec!["AsyncGold".into()],
            ..ApiDraft::default()
        });
        assert_eq!(body["type"], "SSE");
        assert_eq!(
            body["endpointConfig"]["production_endpoints"]["url"],
            "http://localhost:8080"
        );
        assert!(body["endpointConfig"].get("sandbox_endpoints").is_none());
        assert_eq!(body["policies"], json!(["AsyncGold"]));
        assert!(body.get("operations").is_none());
    }
}
