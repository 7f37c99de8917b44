//! The `streamgate` command: the terminal UI by default, `serve` for the headless servers,
//! `backend` for the sample memory backend, and client subcommands of the management API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use streamgate::backend::{self, BackendHandle, BackendOptions};
use streamgate::cli::{ClientCommand, LeadingClientArgs, TlsCommand, run_client, run_tls};
use streamgate::control::{Control, ControlOptions};
use streamgate::datadir;
use streamgate::gateway::listener::ListenerOptions;
use streamgate::gateway::{GatewayOptions, QuotaStoreDown};
use streamgate::launch::{self, ServeConfig};
use streamgate::telemetry::Telemetry;
use streamgate::tui::{self, TuiContext, TuiOptions};

/// mimalloc instead of the system's allocator: a stream's open allocates and frees some
/// fifty small blocks across the gateway's threads, and glibc's malloc spent about a
/// fifth of the gateway's user time on them (`perf`, connection-rate benchmark).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// streamgate: design, publish, deploy, subscribe to and stream Server-Sent Events APIs,
/// from one terminal. With no subcommand it opens the terminal UI, with the management API
/// and the gateway running in process.
#[derive(Debug, Parser)]
#[command(name = "streamgate", version, about, long_about = None)]
struct Cli {
    /// The client flags given before a client subcommand (hidden; they belong after it).
    #[command(flatten)]
    leading_client: LeadingClientArgs,
    /// Data dir: the servers' state, and the `admin-token` file that authorises the client
    /// subcommands.
    #[arg(long, global = true, env = datadir::DATA_DIR_ENV, display_order = 999)]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    servers: ServerArgs,
    /// Terminal UI colour theme: dark, light, high-contrast, or a theme file.
    #[arg(long, default_value = "dark", env = "STREAMGATE_THEME")]
    theme: String,
    /// Terminal UI without colours (also when NO_COLOR is set).
    #[arg(long)]
    no_color: bool,
    /// Open the terminal UI signed in as this user (asks the password); without it the UI
    /// is the local operator (admin).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// The first server option (of the terminal UI's, [`ServerArgs`]) given on the command
/// line before a subcommand, as `--name`: it would be ignored there, silently.
fn leading_server_flag(matches: &clap::ArgMatches) -> Option<String> {
    let servers = <ServerArgs as clap::Args>::augment_args(clap::Command::new("servers"));
    servers
        .get_arguments()
        .find(|arg| {
            matches.value_source(arg.get_id().as_str())
                == Some(clap::parser::ValueSource::CommandLine)
        })
        .map(|arg| format!("--{}", arg.get_long().unwrap_or(arg.get_id().as_str())))
}

/// Where the in-process servers keep their data and listen.
#[derive(Debug, Clone, Args)]
struct ServerArgs {
    /// Management REST API address.
    #[arg(long, default_value = launch::DEFAULT_ADMIN_ADDR)]
    admin_addr: SocketAddr,
    /// Gateway address.
    #[arg(long, default_value = launch::DEFAULT_GATEWAY_ADDR)]
    gateway_addr: SocketAddr,
    /// HTTPS gateway address (HTTP/2 and HTTP/1.1 by ALPN), beside the plain one.
    #[arg(long, default_value = launch::DEFAULT_GATEWAY_TLS_ADDR)]
    gateway_tls_addr: SocketAddr,
    /// The TLS listeners' certificate (PEM, reloaded on SIGHUP); with --tls-key. Without
    /// both, a self-signed one for localhost is generated in <data dir>/tls/. Giving it also
    /// serves the management API over HTTPS.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The TLS certificate's private key (PEM); with --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve the management API over HTTPS (implied by --tls-cert).
    #[arg(long)]
    admin_tls: bool,
    /// Allow the management API in plain HTTP on a non-loopback address.
    #[arg(long)]
    insecure_http: bool,
    #[command(flatten)]
    serving: GatewayServingArgs,
    /// Seconds of leeway on a token's nbf and iat (an issuer's clock ahead of ours); none on exp.
    #[arg(long, default_value_t = 30)]
    clock_skew_secs: u64,
    /// Shared quota store (e.g. redis://127.0.0.1:6379): subscriptions' event quotas and
    /// applications' connection rates kept in Redis, exact across every gateway given the
    /// same URL. Without it, quotas are counted in this process (and its data dir).
    #[arg(
        long,
        value_name = "URL",
        env = "STREAMGATE_REDIS",
        hide_env_values = true
    )]
    redis: Option<String>,
    /// While the quota store is unavailable: fail (end metered streams once their leases
    /// run out, refuse new metered connections with 503) or local (count on each node,
    /// limits become per node, charged to the store when it returns).
    #[arg(long, default_value = "fail", value_name = "fail|local")]
    quota_store_down: QuotaStoreDown,
    /// Milliseconds a shared backend stream stays open after its last subscriber left.
    #[arg(long, default_value_t = 5000)]
    shared_linger_ms: u64,
    /// Events a shared backend stream keeps for Last-Event-ID replay.
    #[arg(long, default_value_t = streamgate::gateway::DEFAULT_REPLAY_EVENTS)]
    replay_events: usize,
    /// Bytes of events a shared backend stream keeps for Last-Event-ID replay (the smaller
    /// of the two bounds wins).
    #[arg(long, default_value_t = streamgate::gateway::DEFAULT_REPLAY_BYTES)]
    replay_bytes: usize,
}

/// How the gateway serves its port, for `serve` (whose slow-client limits also apply to
/// the management API) and a gateway node alike.
#[derive(Debug, Clone, Args)]
struct GatewayServingArgs {
    /// Seconds of silence on a stream before the gateway writes a heartbeat comment.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
    heartbeat_secs: u64,
    /// Seconds a client has to send a whole request head, on the gateway and the
    /// management API (also the idle keep-alive timeout).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    header_read_timeout_secs: u64,
    /// Seconds a client may read nothing while data waits for it before its connection
    /// (and the stream's backend connection) is closed, as nginx's send_timeout.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    send_timeout_secs: u64,
    /// Connections one client IP address may hold open without a complete request head.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    max_incomplete_per_ip: u64,
    /// Threads of its own serving the gateway's plain port, each with its own event loop
    /// (as nginx's worker_processes auto), on one listening socket: a worker takes new
    /// connections while the one before it is more than half busy, and a connection stays
    /// on the thread that accepted it. Default: one per available core. 0: the plain port
    /// shares the process's runtime.
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(u16).range(0..=1024))]
    gateway_workers: Option<u16>,
}

impl GatewayServingArgs {
    /// The gateway options these set (heartbeat, slow-client limits, workers: one per
    /// available core unless given); the others at their defaults.
    fn gateway_options(&self) -> GatewayOptions {
        GatewayOptions {
            heartbeat: Duration::from_secs(self.heartbeat_secs),
            listener: ListenerOptions {
                header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
                send_timeout: Duration::from_secs(self.send_timeout_secs),
                max_incomplete_per_ip: usize::try_from(self.max_incomplete_per_ip)
                    .unwrap_or(usize::MAX),
            },
            workers: self.gateway_workers.map_or_else(
                || std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
                usize::from,
            ),
            ..GatewayOptions::default()
        }
    }
}

impl ServerArgs {
    fn serve_config(&self) -> ServeConfig {
        ServeConfig {
            admin_addr: self.admin_addr,
            gateway_addr: self.gateway_addr,
            gateway: GatewayOptions {
                clock_skew: Duration::from_secs(self.clock_skew_secs),
                redis: self.redis.clone(),
                quota_store_down: self.quota_store_down,
                shared: streamgate::gateway::SharedOptions {
                    linger: Duration::from_millis(self.shared_linger_ms),
                    replay_events: self.replay_events,
                    replay_bytes: self.replay_bytes,
                    ..streamgate::gateway::SharedOptions::default()
                },
                ..self.serving.gateway_options()
            },
            tls: streamgate::tls::server::ListenerOptions {
                gateway_tls_addr: Some(self.gateway_tls_addr),
                cert: self.tls_cert.clone(),
                key: self.tls_key.clone(),
                admin_tls: self.admin_tls,
                insecure_http: self.insecure_http,
            },
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the management API and the gateway without a terminal UI (servers, CI, scripts).
    /// Stops cleanly on Ctrl-C or SIGTERM.
    Serve {
        #[command(flatten)]
        servers: ServerArgs,
        /// Also run the memory backend (tutorial step 3) on this address, e.g. 127.0.0.1:8080.
        #[arg(long, value_name = "ADDR")]
        with_backend: Option<SocketAddr>,
    },
    /// Run a gateway node: the data plane alone, fed by a control plane (`streamgate
    /// serve`); no terminal UI, no management API. Serves from its data dir while the
    /// control plane is down.
    Gateway(GatewayArgs),
    /// Run the sample memory backend: streams this machine's memory use as
    /// Server-Sent Events on GET /memory.
    Backend(backend::BackendArgs),
    /// The TLS listeners' certificate in the data dir (for curl --cacert and the like).
    Tls {
        #[command(subcommand)]
        command: TlsCommand,
    },
    #[command(flatten)]
    Client(ClientCommand),
}

/// `streamgate gateway`'s flags.
#[derive(Debug, Args)]
struct GatewayArgs {
    /// The control plane's management API URL, e.g. https://cp.internal:9443 (its
    /// certificate is verified) or http://127.0.0.1:9443.
    #[arg(long, value_name = "URL")]
    control_plane: String,
    /// Trust this certificate (PEM) for an https:// control plane, beside the platform's
    /// roots: the CA that issued its certificate, or the certificate itself (e.g. the
    /// control plane's <data dir>/tls/cert.pem).
    #[arg(long, value_name = "FILE", env = "STREAMGATE_CONTROL_PLANE_CACERT")]
    control_plane_cacert: Option<PathBuf>,
    /// A file holding the node token from `streamgate node add NAME`.
    #[arg(long, value_name = "FILE")]
    node_token: PathBuf,
    /// Shared quota store (e.g. redis://127.0.0.1:6379), the same URL as the control
    /// plane's and every other node's: quotas and connection rates exact across nodes.
    /// Without it, this node counts quotas on its own.
    #[arg(
        long,
        value_name = "URL",
        env = "STREAMGATE_REDIS",
        hide_env_values = true
    )]
    redis: Option<String>,
    /// While the quota store is unavailable: fail (end metered streams once their leases
    /// run out, refuse new metered connections with 503) or local (count on this node).
    #[arg(long, default_value = "fail", value_name = "fail|local")]
    quota_store_down: QuotaStoreDown,
    /// Answer `/metrics` on the gateway port to any client. Without it only loopback
    /// clients get it: it names every API and application with their traffic.
    #[arg(long, env = "STREAMGATE_PUBLIC_METRICS")]
    public_metrics: bool,
    /// Gateway address.
    #[arg(long, default_value = launch::DEFAULT_GATEWAY_ADDR)]
    gateway_addr: SocketAddr,
    /// HTTPS gateway address (HTTP/2 and HTTP/1.1 by ALPN); none unless given.
    #[arg(long)]
    gateway_tls_addr: Option<SocketAddr>,
    /// The HTTPS gateway's certificate (PEM); with --tls-key and --gateway-tls-addr.
    /// Without both, a self-signed one for localhost is generated in <data dir>/tls/.
    #[arg(long, requires_all = ["tls_key", "gateway_tls_addr"])]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM); with --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    #[command(flatten)]
    serving: GatewayServingArgs,
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if cli.command.is_some()
        && let Some(flag) = leading_server_flag(&matches)
    {
        eprintln!(
            "error: {flag} is an option of the terminal UI's servers, ignored before a \
             subcommand: give it after `serve` (streamgate serve {flag} ...); client \
             commands reach the management API with --admin-url"
        );
        return ExitCode::from(2);
    }
    let Some(command) = cli.command else {
        let options = TuiOptions {
            theme: cli.theme,
            no_color: cli.no_color,
        };
        return run_async(run_tui(cli.data_dir, cli.servers, options, cli.user));
    };
    match command {
        Command::Backend(args) => backend::run_cli(args),
        Command::Gateway(args) => run_async(gateway_node(cli.data_dir, args)),
        Command::Tls { command } => run_tls(command, cli.data_dir),
        Command::Serve {
            servers,
            with_backend,
        } => run_async(serve(cli.data_dir, servers, with_backend)),
        Command::Client(cmd) => {
            let opts = match cmd.client_args().resolve(&cli.leading_client, cli.data_dir) {
                Ok(opts) => opts,
                Err(message) => {
                    eprintln!("error: {message}");
                    return ExitCode::from(2);
                }
            };
            match tokio::runtime::Runtime::new() {
                Ok(runtime) => runtime.block_on(run_client(cmd, &opts)),
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn run_async(fut: impl Future<Output = Result<(), String>>) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn open_control(data_dir: Option<PathBuf>) -> Result<Control, String> {
    let dir = datadir::resolve(data_dir);
    Control::open(ControlOptions::new(&dir)).map_err(|e| e.to_string())
}

async fn serve(
    data_dir: Option<PathBuf>,
    args: ServerArgs,
    with_backend: Option<SocketAddr>,
) -> Result<(), String> {
    init_logging();
    let control = open_control(data_dir)?;
    let telemetry = Telemetry::new();
    let running = launch::start(control.clone(), telemetry, args.serve_config()).await;
    // Every listener asked for runs, or none: a taken HTTPS gateway port stops `serve` as
    // a taken plain one does (the terminal UI shows it and goes on).
    let tls_gateway = match &running.gateway_tls {
        Some(Err(e)) => Some(e.clone()),
        _ => None,
    };
    let (admin, gateway) = match (&running.admin, &running.gateway, &running.tls, tls_gateway) {
        (Ok(a), Ok(g), Ok(_), None) => (*a, *g),
        (a, g, tls, tls_gateway) => {
            let why: Vec<String> = [a, g]
                .into_iter()
                .filter_map(|r| r.as_ref().err().cloned())
                .chain(tls.as_ref().err().cloned())
                .chain(tls_gateway)
                .collect();
            // A certificate problem can stop the management API too; say it once.
            let mut why = why;
            why.dedup();
            running.shutdown().await;
            return Err(why.join("; "));
        }
    };
    let backend = match with_backend {
        Some(addr) => Some(
            BackendHandle::start(addr, BackendOptions::default())
                .await
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    println!("data dir {}", control.data_dir().display());
    println!(
        "admin token in {}",
        control
            .data_dir()
            .join(streamgate::keys::ADMIN_TOKEN_FILE)
            .display()
    );
    let admin_password = control
        .data_dir()
        .join(streamgate::control::ADMIN_PASSWORD_FILE);
    if admin_password.exists() {
        println!(
            "user admin's first password in {} (sign in with POST /oauth2/token grant_type=password)",
            admin_password.display()
        );
    }
    let admin_scheme = if running.admin_https { "https" } else { "http" };
    println!("management API listening on {admin_scheme}://{admin}");
    println!("gateway listening on http://{gateway}");
    if let Some(Ok(addr)) = &running.gateway_tls {
        println!("gateway listening on https://{addr} (HTTP/2, HTTP/1.1)");
    }
    let identity = running.tls.as_ref().ok().cloned().flatten();
    if let Some(identity) = &identity {
        println!(
            "TLS certificate {} SHA-256 fingerprint {}",
            identity.cert_path().display(),
            identity.fingerprint()
        );
    }
    let _reload = streamgate::tls::server::reload_on_sighup(identity);
    if let Some(b) = &backend {
        println!("memory backend listening on http://{}/memory", b.addr());
    }
    wait_for_signal().await;
    eprintln!("shutting down");
    // The gateway first: its streams end with `: gateway shutting down`. Stopped first,
    // the memory backend would end them as "the backend ended the stream" instead.
    running.shutdown().await;
    if let Some(b) = backend {
        // Best effort: the process is exiting anyway.
        let _ = b.stop().await;
    }
    Ok(())
}

/// Logs to standard error (`RUST_LOG`, default `info`), in colour only when it is a
/// terminal and `NO_COLOR` is unset (no escape codes in a redirected log).
fn init_logging() {
    use std::io::IsTerminal as _;
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .init();
}

/// A warning when the node token file `path` may be read by other users (any group or
/// other permission bit): whoever reads the token reads the feed, backend client keys
/// among it. `None` when only its owner may, or its mode cannot be read.
fn token_file_exposure(path: &std::path::Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then(|| {
            format!(
                "--node-token {}: other users may read it (mode {mode:04o}), and whoever \
                 reads the token reads the feed (backend client keys among it): chmod 600 it",
                path.display()
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// `streamgate gateway`: a data-plane node until Ctrl-C or SIGTERM.
async fn gateway_node(data_dir: Option<PathBuf>, args: GatewayArgs) -> Result<(), String> {
    init_logging();
    let token = std::fs::read_to_string(&args.node_token)
        .map_err(|e| format!("--node-token {}: {e}", args.node_token.display()))?;
    if token.trim().is_empty() {
        return Err(format!(
            "--node-token {}: the file is empty",
            args.node_token.display()
        ));
    }
    if let Some(warning) = token_file_exposure(&args.node_token) {
        tracing::warn!("{warning}");
    }
    let config = streamgate::node::NodeConfig {
        control_plane: args.control_plane,
        control_plane_cacert: args.control_plane_cacert,
        public_metrics: args.public_metrics,
        token,
        data_dir: datadir::resolve(data_dir),
        gateway_addr: args.gateway_addr,
        gateway_tls_addr: args.gateway_tls_addr,
        tls_files: args.tls_cert.zip(args.tls_key),
        gateway: GatewayOptions {
            redis: args.redis,
            quota_store_down: args.quota_store_down,
            ..args.serving.gateway_options()
        },
    };
    let data_dir = config.data_dir.clone();
    let node = streamgate::node::start(config, Telemetry::new()).await?;
    println!("data dir {}", data_dir.display());
    if let Some(Err(e)) = &node.gateway_tls_addr {
        // As `serve`: a certificate or port problem stops the node, named.
        let why = e.clone();
        node.shutdown().await;
        return Err(why);
    }
    println!("gateway listening on http://{}", node.gateway_addr);
    if let Some(Ok(addr)) = &node.gateway_tls_addr {
        println!("gateway listening on https://{addr} (HTTP/2, HTTP/1.1)");
    }
    if let Some(identity) = &node.tls_identity {
        println!(
            "TLS certificate {} SHA-256 fingerprint {}",
            identity.cert_path().display(),
            identity.fingerprint()
        );
    }
    let _reload = streamgate::tls::server::reload_on_sighup(node.tls_identity.clone());
    wait_for_signal().await;
    eprintln!("shutting down");
    node.shutdown().await;
    Ok(())
}

/// The terminal UI with the servers in process. A taken port is shown in the UI, which
/// keeps working with the rest.
async fn run_tui(
    data_dir: Option<PathBuf>,
    args: ServerArgs,
    options: TuiOptions,
    user: Option<String>,
) -> Result<(), String> {
    tui::check_terminal().map_err(|e| e.to_string())?;
    let control = open_control(data_dir)?;
    tui::init_logging(control.data_dir()).map_err(|e| e.to_string())?;
    let signed_in = user.is_some();
    let principal = match user {
        Some(name) => {
            let password = tui::read_password(&format!("password for {name}: "))
                .map_err(|e| format!("reading the password: {e}"))?;
            tui::sign_in(&control, &name, &password).await?
        }
        None => streamgate::control::Principal::local_operator(),
    };
    let telemetry = Telemetry::new();
    let running = launch::start(control.clone(), telemetry.clone(), args.serve_config()).await;
    let tls = match (&running.tls, &running.gateway_tls) {
        (Ok(Some(identity)), Some(gateway)) => Some(tui::state::TlsInfo {
            gateway: gateway.clone(),
            fingerprint: identity.fingerprint(),
        }),
        _ => None,
    };
    let ctx = TuiContext {
        control: control.clone(),
        telemetry,
        admin: running.admin.clone(),
        gateway: running.gateway.clone(),
        backend_addr: launch::DEFAULT_BACKEND_ADDR
            .parse()
            .map_err(|e| format!("backend address: {e}"))?,
        data_dir: control.data_dir().to_path_buf(),
        principal,
        signed_in,
        tls,
    };
    let result = tui::run(ctx, options).await;
    running.shutdown().await;
    result.map_err(|e| e.to_string())
}

/// Waits for Ctrl-C or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
