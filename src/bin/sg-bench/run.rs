//! The side-by-side benchmark: starts the origin, streamgate (`serve`, set up with one
//! published and deployed API, one application subscribed on AsyncUnlimited and its JWT)
//! and, when installed, nginx as a plain SSE reverse proxy; then runs each workload on each
//! path, several times in rotating order, and prints the table of medians.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use streamgate::catalog::{
    ApiDraft, ApplicationDraft, BackendStream, KeyType, LifecycleAction, Quota, SubscriptionPolicy,
    TimeUnit,
};
use streamgate::control::{Control, ControlOptions};

use crate::BoxError;
use crate::child::{Proc, find_on_path, free_port, spawn_waiting};
use crate::load::{self, LoadResult, LoadSpec, Mode, Target};
use crate::procstat::{self, ProcSet};
use crate::report::{self, Meta};
use crate::tui;
use streamgate::catalog::DeployTarget;

mod procs;
mod setup;
mod sharded;

use setup::set_up_gateway;
pub use setup::{SetupArgs, setup};

/// The API's context and version on the gateway.
const API_CONTEXT: &str = "/bench";
const API_VERSION: &str = "1.0.0";
/// The context of the same API in backend stream mode `shared` (issue 16).
const SHARED_CONTEXT: &str = "/bench-shared";
/// The resource streams ask for (the origin ignores paths).
const RESOURCE: &str = "/events";
/// Token validity: longer than any run.
const TOKEN_VALIDITY_SECS: i64 = 7 * 24 * 3600;
/// How long a server may take to say it listens.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between measurements so closed streams are torn down.
const SETTLE: Duration = Duration::from_millis(1000);

/// Command-line arguments of `sg-bench run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The streamgate binary (default: `streamgate` next to this program).
    #[arg(long)]
    pub streamgate: Option<PathBuf>,
    /// Directory for the data dir, logs, configs and raw results (default: a new one in the
    /// system temp dir).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// A short smoke run: one repetition, 3 s windows, fan-out at 1,000 only.
    #[arg(long)]
    pub quick: bool,
    /// Repetitions of every measurement (default 3, quick 1); the table shows medians.
    #[arg(long)]
    pub reps: Option<usize>,
    /// Seconds of each measurement window (default 7, quick 3; fan-out and rate use 60%).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Seconds of warm-up before each window (default 2, quick 1).
    #[arg(long)]
    pub warmup: Option<f64>,
    /// Fan-out stream counts (default 1000,4000,8000,20000; quick 1000). A count whose
    /// sockets do not fit the open files limit (a proxy holds two per stream) is skipped
    /// with a note under the table.
    #[arg(long, value_delimiter = ',')]
    pub fanout: Option<Vec<usize>>,
    /// Shared fan-out stream counts (default 8000; quick 1000): the gateway with the API's
    /// backend stream `shared` (one origin connection) against nginx (one per stream).
    /// `--only shared` runs this workload alone.
    #[arg(long, value_delimiter = ',')]
    pub shared: Option<Vec<usize>>,
    /// Workloads to run (default all): bulk, chatty, fanout, shared, rate, tui (the UI
    /// with the live pane's lines, then with its chart). With only `tui`, neither the
    /// gateway nor nginx is started (the UI runs its own gateway).
    #[arg(long, value_delimiter = ',')]
    pub only: Option<Vec<String>>,
    /// Paths to measure (default all): direct, gateway, nginx, gateway-tls, nginx-tls (the
    /// last two: the gateway's HTTPS port and nginx with `ssl` on the same certificate,
    /// HTTP/1.1 over TLS; bulk and chatty only).
    #[arg(long, value_delimiter = ',')]
    pub paths: Option<Vec<String>>,
    /// What hosts the gateway: `streamgate` (`streamgate serve`), `sg-bench`
    /// (`sg-bench gateway`) or `auto` (serve when the streamgate binary has it).
    #[arg(long, default_value = "auto")]
    pub gateway_host: String,
    /// Tokio worker threads of the gateway process (default: tokio's, one per core).
    #[arg(long)]
    pub gateway_threads: Option<usize>,
    /// Concurrent workers of the connection-rate workload.
    #[arg(long, default_value_t = 50)]
    pub connect_workers: usize,
    /// The nginx binary (default: `nginx` on PATH; skipped when absent).
    #[arg(long)]
    pub nginx: Option<PathBuf>,
    /// Don't run nginx even when installed.
    #[arg(long)]
    pub no_nginx: bool,
    /// The nginx configuration template.
    #[arg(long, default_value = "scripts/nginx-sse.conf")]
    pub nginx_template: PathBuf,
    /// Also write the markdown report here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The command line to print in the report (bench.sh passes its own).
    #[arg(long)]
    pub command_line: Option<String>,
    /// Also measure bulk and chatty through one gateway node using this shared quota store
    /// (`streamgate serve --redis URL`), as the path `gateway-redis`; both gateway paths
    /// then meter the subscription (a plan of 10^12 events per minute), and the report adds
    /// the store calls per 1,000 events and the CPU per event against `gateway`.
    #[arg(
        long,
        value_name = "URL",
        env = "SG_BENCH_REDIS",
        hide_env_values = true
    )]
    pub redis: Option<String>,
}

/// One measurement as recorded in `results.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// `bulk`, `chatty`, `fanout-8000`, `rate`.
    pub workload: String,
    /// `direct`, `gateway`, `nginx`, `gateway-tls` or `nginx-tls`.
    pub path: String,
    /// Repetition number from 0.
    pub rep: usize,
    /// What the load client measured.
    pub result: LoadResult,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    Bulk,
    Chatty,
    Fanout(usize),
    /// Fan-out with the gateway's backend stream `shared`.
    Shared(usize),
    Rate,
    /// The UI's live pane showing the Try-it stream's lines.
    Tui,
    /// The same with chart mode (`v`) on, charting a numeric field.
    TuiChart,
}

impl Workload {
    fn name(self) -> String {
        match self {
            Workload::Bulk => "bulk".to_string(),
            Workload::Chatty => "chatty".to_string(),
            Workload::Fanout(n) => format!("fanout-{n}"),
            Workload::Shared(n) => format!("shared-{n}"),
            Workload::Rate => "rate".to_string(),
            Workload::Tui => "tui".to_string(),
            Workload::TuiChart => "tui-chart".to_string(),
        }
    }

    fn family(self) -> &'static str {
        match self {
            Workload::Bulk => "bulk",
            Workload::Chatty => "chatty",
            Workload::Fanout(_) => "fanout",
            Workload::Shared(_) => "shared",
            Workload::Rate => "rate",
            Workload::Tui | Workload::TuiChart => "tui",
        }
    }

    /// The origin query: events per write and milliseconds between writes.
    fn query(self) -> &'static str {
        match self {
            Workload::Bulk => "batch=100&interval_ms=10",
            Workload::Chatty => "batch=1&interval_ms=100",
            Workload::Fanout(_)
            | Workload::Shared(_)
            | Workload::Rate
            | Workload::Tui
            | Workload::TuiChart => "batch=1&interval_ms=1000",
        }
    }
}

/// The measured paths and how to (re)start their proxies.
struct Bench {
    args: RunArgs,
    work: PathBuf,
    streamgate: PathBuf,
    /// Whether `streamgate serve` exists; else the gateway runs in `sg-bench gateway`.
    serve: bool,
    me: PathBuf,
    origin: Proc,
    origin_addr: String,
    gateway: Option<(Proc, String)>,
    /// The gateway's HTTPS address (`streamgate serve` only).
    gateway_tls: Option<String>,
    /// Whether the running gateway uses `--redis`, and its management address.
    gateway_redis: bool,
    admin: Option<String>,
    /// Store calls and events of each `gateway-redis` measurement: (workload, ops, events).
    store_ops: Vec<(String, u64, u64)>,
    nginx: Option<(Proc, String)>,
    nginx_bin: Option<PathBuf>,
    nginx_port: u16,
    /// nginx's `ssl` port, serving the gateway's certificate.
    nginx_tls_port: u16,
    token: String,
    /// The open files limit of this process and of the processes it starts.
    nofile: u64,
    /// Gateway nodes added to the control plane so far (their names are numbered).
    nodes_added: usize,
    /// The UI's data dir (API on the 1 ms origin), when the UI workload runs.
    tui_data: Option<PathBuf>,
    /// Why the UI workload could not run.
    tui_error: Option<String>,
}

impl Bench {
    /// The URL, token and measured processes of a path, if it runs.
    fn path(&self, path: &str, workload: Workload) -> Option<(String, Option<String>, ProcSet)> {
        let query = workload.query();
        let context = match workload {
            Workload::Shared(_) => SHARED_CONTEXT,
            _ => API_CONTEXT,
        };
        let tls_workload = matches!(workload, Workload::Bulk | Workload::Chatty);
        match path {
            // Shared fan-out compares the two proxies; the origin alone has nothing to share.
            "direct" if matches!(workload, Workload::Shared(_)) => None,
            "gateway-tls" if tls_workload => {
                let (proc, _) = self.gateway.as_ref()?;
                let addr = self.gateway_tls.as_ref()?;
                Some((
                    format!("https://{addr}{API_CONTEXT}/{API_VERSION}{RESOURCE}?{query}"),
                    Some(self.token.clone()),
                    ProcSet::new(vec![proc.pid()]),
                ))
            }
            "nginx-tls" if tls_workload => self.nginx.as_ref().map(|(proc, _)| {
                (
                    format!(
                        "https://127.0.0.1:{}{RESOURCE}?{query}",
                        self.nginx_tls_port
                    ),
                    None,
                    ProcSet::new(vec![proc.pid()]),
                )
            }),
            "direct" => Some((
                format!("http://{}{RESOURCE}?{query}", self.origin_addr),
                None,
                ProcSet::new(vec![self.origin.pid()]),
            )),
            "gateway-redis"
                if !self.gateway_redis
                    || !matches!(workload, Workload::Bulk | Workload::Chatty) =>
            {
                None
            }
            "gateway" | "gateway-redis" => self.gateway.as_ref().map(|(proc, addr)| {
                (
                    format!("http://{addr}{context}/{API_VERSION}{RESOURCE}?{query}"),
                    Some(self.token.clone()),
                    ProcSet::new(vec![proc.pid()]),
                )
            }),
            "nginx" => self.nginx.as_ref().map(|(proc, addr)| {
                (
                    format!("http://{addr}{RESOURCE}?{query}"),
                    None,
                    ProcSet::new(vec![proc.pid()]),
                )
            }),
            _ => None,
        }
    }

    async fn measure(
        &mut self,
        workload: Workload,
        path: &str,
        rep: usize,
    ) -> Result<Option<Record>, BoxError> {
        let shards = sharded::shards_for(workload, self.nofile).unwrap_or(1);
        if let Workload::Fanout(_) | Workload::Shared(_) = workload {
            // A fresh proxy, so memory per stream isn't hidden by memory earlier runs freed
            // (a sharded nginx is started afresh by the sharded measurement).
            match path {
                "gateway" => tokio::task::block_in_place(|| self.start_gateway(false))?,
                "nginx" if self.nginx.is_some() && shards == 1 => {
                    tokio::task::block_in_place(|| self.start_nginx())?
                }
                _ => {}
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            if shards > 1 {
                return self.measure_sharded(workload, path, rep, shards).await;
            }
            wait_for_quiet().await;
        }
        if workload.family() == "tui" {
            return self.measure_tui(workload, rep).await;
        }
        // One gateway process at a time over the data dir: restarted with or without
        // `--redis` as the path asks.
        let redis_path = path == "gateway-redis";
        let wants_redis = redis_path
            && self.args.redis.is_some()
            && matches!(workload, Workload::Bulk | Workload::Chatty);
        if (path == "gateway" && self.gateway_redis) || (wants_redis && !self.gateway_redis) {
            tokio::task::block_in_place(|| self.start_gateway(wants_redis))?;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let Some((url, token, measure)) = self.path(path, workload) else {
            return Ok(None);
        };
        let quick = self.args.quick;
        let warmup = self.args.warmup.unwrap_or(if quick { 1.0 } else { 2.0 });
        let duration = self.args.duration.unwrap_or(if quick { 3.0 } else { 7.0 });
        let (mode, streams, warmup, duration) = match workload {
            Workload::Bulk => (Mode::Stream, 10, warmup, duration),
            Workload::Chatty => (Mode::Stream, 1000, warmup, duration),
            // One event per second: at least two seconds of warm-up so every stream's first
            // ticks are behind it; a shorter window, since n streams give n samples a second.
            Workload::Fanout(n) | Workload::Shared(n) => {
                (Mode::Stream, n, warmup.max(2.0), (duration * 0.6).max(3.0))
            }
            Workload::Rate => (
                Mode::Connect,
                self.args.connect_workers,
                warmup,
                (duration * 0.6).max(3.0),
            ),
            Workload::Tui | Workload::TuiChart => return Ok(None),
        };
        let cacert = if url.starts_with("https://") {
            Some(self.tls_identity()?.cert_path().to_path_buf())
        } else {
            None
        };
        let spec = LoadSpec {
            target: Target::new(&url, token.as_deref(), cacert.as_deref())?,
            mode,
            streams,
            warmup: Duration::from_secs_f64(warmup),
            duration: Duration::from_secs_f64(duration),
            open_concurrency: 256,
            measure,
        };
        eprint!("  {:<12} {:<8} rep {} ... ", workload.name(), path, rep + 1);
        // Shared fan-out: the most connections the origin holds while the streams run.
        let most = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let sampler = matches!(workload, Workload::Shared(_)).then(|| {
            let most = most.clone();
            let port = self
                .origin_addr
                .rsplit(':')
                .next()
                .and_then(|p| p.parse::<u16>().ok())
                .unwrap_or(0);
            tokio::spawn(async move {
                loop {
                    let conns = tokio::task::spawn_blocking(move || procstat::established_on(port))
                        .await
                        .unwrap_or(0);
                    most.fetch_max(conns, std::sync::atomic::Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            })
        });
        let ops_before = if redis_path {
            Some(tokio::task::block_in_place(|| self.store_operations())?)
        } else {
            None
        };
        let mut result = load::measure(&spec).await?;
        if let Some(before) = ops_before {
            let after = tokio::task::block_in_place(|| self.store_operations())?;
            self.store_ops
                .push((workload.name(), after.saturating_sub(before), result.events));
        }
        if let Some(sampler) = sampler {
            sampler.abort();
            result.backend_connections = Some(most.load(std::sync::atomic::Ordering::Relaxed));
        }
        Ok(Some(settled(workload, path, rep, result).await))
    }
}

impl Bench {
    /// Workload 5: the UI in tmux over its own data dir, fed by the 1 ms origin; with
    /// `Workload::TuiChart`, the live pane in chart mode.
    async fn measure_tui(
        &mut self,
        workload: Workload,
        rep: usize,
    ) -> Result<Option<Record>, BoxError> {
        let Some(tui_dir) = self.tui_data.clone() else {
            return Ok(None);
        };
        let quick = self.args.quick;
        let run = tui::TuiRun {
            streamgate: &self.streamgate,
            data_dir: tui_dir,
            session: format!("sg-bench-{}-{}-{rep}", std::process::id(), workload.name()),
            chart: workload == Workload::TuiChart,
            warmup: Duration::from_secs_f64(self.args.warmup.unwrap_or(2.0)),
            duration: Duration::from_secs_f64(self.args.duration.unwrap_or(if quick {
                3.0
            } else {
                7.0
            })),
        };
        let name = workload.name();
        eprint!("  {:<12} {:<8} rep {} ... ", name, "ui", rep + 1);
        let result = match tokio::task::block_in_place(|| tui::measure(&run)) {
            Ok(result) => result,
            Err(error) => {
                eprintln!("failed: {error}");
                self.tui_error = Some(error.to_string());
                return Ok(None);
            }
        };
        eprintln!(
            "{} events, {:.0}/s, process {:.1}% of a core (UI thread {:.1}%)",
            result.events,
            result.rate,
            result.cpu_cores.unwrap_or(0.0) * 100.0,
            result.ui_thread_cores.unwrap_or(0.0) * 100.0
        );
        tokio::time::sleep(SETTLE).await;
        Ok(Some(Record {
            workload: name,
            path: "ui".to_string(),
            rep,
            result,
        }))
    }
}

/// Before a fan-out opens its streams: waits until the machine is at least 90% idle over
/// half a second (the last measurement's thousands of sockets and processes torn down),
/// for up to 20 s, so its tail latencies are not the previous one's teardown.
async fn wait_for_quiet() {
    if let Some(idle) =
        procstat::wait_for_quiet(0.9, Duration::from_millis(500), Duration::from_secs(20)).await
        && idle < 0.9
    {
        eprintln!("  (the machine is still busy: {:.0}% idle)", idle * 100.0);
    }
}

/// Ends a measurement: prints what it found, lets its streams be torn down ([`SETTLE`]),
/// and gives its record.
async fn settled(workload: Workload, path: &str, rep: usize, result: LoadResult) -> Record {
    print_result(&result);
    tokio::time::sleep(SETTLE).await;
    Record {
        workload: workload.name(),
        path: path.to_string(),
        rep,
        result,
    }
}

/// Ends the progress line of a measurement with what it found.
fn print_result(result: &LoadResult) {
    eprintln!(
        "{} events, {:.0}/s, cpu {} µs/event, p50 {} ms, p99 {} ms, failures {}{}{}",
        result.events,
        result.rate,
        fmt_opt(result.cpu_us_per_event, 2),
        fmt_opt(result.p50_ms, 2),
        fmt_opt(result.p99_ms, 2),
        result.failures,
        result
            .first_error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default(),
        result
            .backend_connections
            .map(|n| format!(", backend connections {n}"))
            .unwrap_or_default()
    );
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "-".to_string())
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_string())
}

/// Runs `sg-bench run`.
pub async fn run(args: RunArgs) -> Result<(), BoxError> {
    let me = std::env::current_exe()?;
    let streamgate = match &args.streamgate {
        Some(path) => path.clone(),
        None => me
            .parent()
            .map(|dir| dir.join("streamgate"))
            .ok_or("cannot locate the streamgate binary; pass --streamgate")?,
    };
    let work = match &args.work_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("sg-bench-{}", std::process::id())),
    };
    fs::create_dir_all(&work)?;
    let serve = match args.gateway_host.as_str() {
        "streamgate" => true,
        "sg-bench" => false,
        _ => Command::new(&streamgate)
            .args(["serve", "--help"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success()),
    };
    let mut notes = Vec::new();
    if !serve {
        notes.push(format!(
            "gateway: hosted by `sg-bench gateway` (streamgate's Gateway with default options, no management API), as `{} serve` is not available",
            streamgate.display()
        ));
    }
    let nginx_bin = if args.no_nginx {
        None
    } else {
        args.nginx.clone().or_else(|| find_on_path("nginx"))
    };
    let mut wanted_paths: Vec<String> = args.paths.clone().unwrap_or_else(|| {
        ["direct", "gateway", "nginx", "gateway-tls", "nginx-tls"]
            .map(String::from)
            .to_vec()
    });
    if args.redis.is_some() && !wanted_paths.iter().any(|p| p == "gateway-redis") {
        wanted_paths.push("gateway-redis".into());
    }
    let wants_path = |prefix: &str| {
        wanted_paths.iter().any(|p| {
            p == prefix || *p == format!("{prefix}-tls") || *p == format!("{prefix}-redis")
        })
    };
    let quick = args.quick;
    let reps = args.reps.unwrap_or(if quick { 1 } else { 3 }).max(1);
    let fanout = args.fanout.clone().unwrap_or_else(|| {
        if quick {
            vec![1000]
        } else {
            vec![1000, 4000, 8000, 20000]
        }
    });
    let only = args.only.clone();
    let wants = |family: &str| only.as_ref().is_none_or(|o| o.iter().any(|w| w == family));
    let mut workloads = Vec::new();
    if wants("bulk") {
        workloads.push(Workload::Bulk);
    }
    if wants("chatty") {
        workloads.push(Workload::Chatty);
    }
    if wants("fanout") {
        workloads.extend(fanout.iter().map(|&n| Workload::Fanout(n)));
    }
    if wants("shared") {
        let shared = args
            .shared
            .clone()
            .unwrap_or_else(|| if quick { vec![1000] } else { vec![8000] });
        workloads.extend(shared.iter().map(|&n| Workload::Shared(n)));
    }
    if wants("rate") {
        workloads.push(Workload::Rate);
    }
    if wants("tui") {
        workloads.push(Workload::Tui);
        workloads.push(Workload::TuiChart);
    }

    let nofile = procstat::open_files_limit().unwrap_or(0);
    workloads.retain(|w| match sharded::shards_for(*w, nofile) {
        Err(note) => {
            eprintln!("{note}");
            notes.push(note);
            false
        }
        Ok(1) => true,
        Ok(shards) => {
            notes.push(sharded::sharded_note(*w, shards, nofile));
            true
        }
    });
    let max_fanout = workloads
        .iter()
        .filter(|w| sharded::shards_for(**w, nofile) == Ok(1))
        .filter_map(|w| match w {
            Workload::Fanout(n) | Workload::Shared(n) => Some(*n),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    if (nofile as usize) < max_fanout + 200 {
        eprintln!(
            "warning: open files limit {nofile} is below {} streams; raise it with ulimit -n",
            max_fanout
        );
    }

    eprintln!("work dir: {}", work.display());
    let (origin, addrs) = spawn_waiting(
        "origin",
        // SO_REUSEPORT, so a fan-out too big for one process adds origins on its address.
        Command::new(&me).args(["origin", "--reuse-port", "--addr", "127.0.0.1:0"]),
        &work.join("origin.log"),
        &["origin listening on"],
    )?;
    let origin_addr = addrs.into_iter().next().unwrap_or_default();
    eprintln!("origin: http://{origin_addr}");

    let mut bench = Bench {
        args: args.clone(),
        work: work.clone(),
        serve,
        me: me.clone(),
        streamgate,
        origin,
        origin_addr: origin_addr.clone(),
        gateway: None,
        gateway_tls: None,
        gateway_redis: false,
        admin: None,
        store_ops: Vec::new(),
        nginx: None,
        nginx_bin,
        nginx_port: free_port()?,
        nginx_tls_port: free_port()?,
        token: String::new(),
        nofile,
        nodes_added: 0,
        tui_data: None,
        tui_error: None,
    };
    // The UI workloads run their own gateway: with nothing else to measure, start none.
    let only_tui = workloads.iter().all(|w| w.family() == "tui");
    let wanted_paths: Vec<String> = if only_tui {
        vec!["ui".to_string()]
    } else {
        wanted_paths.clone()
    };
    if !only_tui && wants_path("gateway") {
        bench.token =
            set_up_gateway(&work.join("data"), &origin_addr, args.redis.is_some()).await?;
        tokio::task::block_in_place(|| bench.start_gateway(false))?;
        if let Some((_, addr)) = &bench.gateway {
            eprintln!("gateway: http://{addr}{API_CONTEXT}/{API_VERSION}{RESOURCE}");
        }
        if let Some(addr) = &bench.gateway_tls {
            eprintln!("gateway: https://{addr}{API_CONTEXT}/{API_VERSION}{RESOURCE}");
        } else if wanted_paths.iter().any(|p| p == "gateway-tls") {
            notes.push("gateway-tls: not measured (no `streamgate serve` HTTPS port)".into());
        }
    }
    let nginx_note = if only_tui {
        None
    } else if !wants_path("nginx") {
        Some("nginx: not measured (--paths)".to_string())
    } else if args.no_nginx {
        Some("nginx: skipped (--no-nginx)".to_string())
    } else if bench.nginx_bin.is_none() {
        eprintln!("nginx: not installed, skipped");
        Some("nginx: not installed, skipped".to_string())
    } else {
        tokio::task::block_in_place(|| bench.start_nginx())?;
        if let Some((_, addr)) = &bench.nginx {
            eprintln!("nginx: http://{addr}{RESOURCE}");
            eprintln!(
                "nginx: https://127.0.0.1:{}{RESOURCE}",
                bench.nginx_tls_port
            );
        }
        None
    };

    // Workload 5's origin: one event per millisecond on every stream, by default (the UI's
    // Try it asks for `/memory` without a query).
    let mut _tui_origin = None;
    if workloads.iter().any(|w| w.family() == "tui") {
        if !tui::tmux_available() {
            bench.tui_error = Some("tmux is not installed".to_string());
        } else {
            let (proc, addrs) = spawn_waiting(
                "tui origin",
                Command::new(&me).args([
                    "origin",
                    "--addr",
                    "127.0.0.1:0",
                    "--batch",
                    "1",
                    "--interval-ms",
                    "1",
                ]),
                &work.join("tui-origin.log"),
                &["origin listening on"],
            )?;
            let addr = addrs.into_iter().next().unwrap_or_default();
            let dir = work.join("tui-data");
            set_up_gateway(&dir, &addr, false).await?;
            bench.tui_data = Some(dir);
            _tui_origin = Some(proc);
        }
    }

    let started = Instant::now();
    let load_before = loadavg();
    let mut records = Vec::new();
    let results_path = work.join("results.jsonl");
    let mut results_file = File::create(&results_path)?;
    for rep in 0..reps {
        eprintln!("repetition {} of {reps}", rep + 1);
        for &workload in &workloads {
            // Rotate the order of paths between repetitions so drift hits each alike.
            let mut order = wanted_paths.clone();
            if !order.is_empty() {
                let shift = rep % order.len();
                order.rotate_left(shift);
            }
            for path in &order {
                if workload.family() == "tui" && *path != order[0] {
                    continue;
                }
                if let Some(record) = bench.measure(workload, path, rep).await? {
                    writeln!(results_file, "{}", serde_json::to_string(&record)?)?;
                    records.push(record);
                }
            }
        }
    }
    let meta = Meta {
        command: args.command_line.as_deref().map_or_else(
            || "sg-bench run".to_string(),
            streamgate::gateway::redact_urls_in,
        ),
        date: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        reps,
        load_before,
        load_after: loadavg(),
        elapsed_secs: started.elapsed().as_secs_f64(),
        notes: notes
            .into_iter()
            .chain(nginx_note)
            .chain(report::store_lines(&records, &bench.store_ops))
            .collect(),
        tui_error: bench.tui_error.clone(),
        families: workloads.iter().map(|w| w.family().to_string()).collect(),
    };
    let table = report::render(&records, &meta);
    println!("{table}");
    if let Some(out) = &args.out {
        fs::write(out, &table)?;
    }
    fs::write(work.join("report.md"), &table)?;
    eprintln!("raw results: {}", results_path.display());

    if let Some((proc, _)) = bench.gateway.take() {
        proc.stop();
    }
    if let Some((proc, _)) = bench.nginx.take() {
        proc.stop();
    }
    Ok(())
}
