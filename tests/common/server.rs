//! [`TestServer`]: the management API and the gateway started as `streamgate serve` starts
//! them, on 127.0.0.1:0 over a temp data dir, and stopped on drop. The [`Builder`] sets the
//! gateway's options, reuses a data dir, or runs a real `streamgate serve` child process.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use streamgate::control::{Control, ControlOptions};
use streamgate::gateway::{Gateway, GatewayOptions};
use streamgate::keys::ADMIN_TOKEN_FILE;
use streamgate::launch::{self, Running, ServeConfig};
use streamgate::telemetry::Telemetry;
use streamgate::tls::server::{ListenerOptions, ServerIdentity};
use tempfile::TempDir;

use super::{PATIENCE, client};

/// The rest of the first line on `rx` (a child's stdout from [`spawn_captured`]) that
/// starts with `prefix`, e.g. the address after "gateway listening on http://"; panics with
/// the child's stderr when none comes within 30 s.
pub fn listening_addr(
    rx: &std::sync::mpsc::Receiver<String>,
    stderr: &Mutex<Vec<u8>>,
    prefix: &str,
) -> String {
    loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "the process did not print {prefix:?}: {}",
                    String::from_utf8_lossy(&stderr.lock().unwrap())
                )
            });
        if let Some(rest) = line.strip_prefix(prefix) {
            return rest.to_string();
        }
    }
}

/// Spawns `cmd` with no stdin and its output captured: stderr is collected into the
/// returned buffer (for failure messages and log checks), stdout's lines are sent on the
/// returned channel.
pub fn spawn_captured(
    cmd: &mut Command,
) -> (
    Child,
    Arc<Mutex<Vec<u8>>>,
    std::sync::mpsc::Receiver<String>,
) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let mut err_pipe = child.stderr.take().unwrap();
    let sink = stderr.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = err_pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            // The receiver may be gone once the addresses it waits for are known.
            let _ = tx.send(line);
        }
    });
    (child, stderr, rx)
}

/// Gateway options with test-sized intervals: heartbeats and periodic flushes that do not
/// interfere, a 2 s connect timeout and a 3 s shutdown grace.
pub fn test_options() -> GatewayOptions {
    GatewayOptions {
        heartbeat: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(2),
        counter_flush: Duration::from_secs(60),
        shutdown_grace: Duration::from_secs(3),
        ..GatewayOptions::default()
    }
}

/// Where the data lives: a temp dir the server owns, or a folder the test owns.
enum DataDir {
    Temp(TempDir),
    At(PathBuf),
}

impl DataDir {
    fn path(&self) -> &Path {
        match self {
            DataDir::Temp(dir) => dir.path(),
            DataDir::At(path) => path,
        }
    }
}

/// How to start a [`TestServer`]: `TestServer::builder()....start().await`.
pub struct Builder {
    options: GatewayOptions,
    tls: ListenerOptions,
    dir: Option<DataDir>,
    /// More arguments for `serve` ([`Builder::spawn_process`] only).
    args: Vec<String>,
}

impl Builder {
    /// The gateway's options (default: [`test_options`]).
    pub fn gateway(mut self, options: GatewayOptions) -> Self {
        self.options = options;
        self
    }

    /// The TLS listeners (`ServeConfig.tls`; default: none).
    pub fn tls(mut self, tls: ListenerOptions) -> Self {
        self.tls = tls;
        self
    }

    /// Also an HTTPS gateway on 127.0.0.1:0, with the certificate generated in the data
    /// dir, or the PEM files `cert` and `key` when given.
    pub fn https(self, files: Option<(&Path, &Path)>) -> Self {
        self.tls(ListenerOptions {
            gateway_tls_addr: Some("127.0.0.1:0".parse().unwrap()),
            cert: files.map(|(cert, _)| cert.to_path_buf()),
            key: files.map(|(_, key)| key.to_path_buf()),
            ..ListenerOptions::default()
        })
    }

    /// Serve this temp dir (kept alive by the server) instead of a new one.
    pub fn temp_dir(mut self, dir: TempDir) -> Self {
        self.dir = Some(DataDir::Temp(dir));
        self
    }

    /// Serve the data dir at `path`, which the test keeps.
    pub fn data_dir(mut self, path: &Path) -> Self {
        self.dir = Some(DataDir::At(path.to_path_buf()));
        self
    }

    /// One more argument for the spawned `serve` ([`Builder::spawn_process`] only).
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_string());
        self
    }

    fn take_dir(&mut self) -> DataDir {
        self.dir
            .take()
            .unwrap_or_else(|| DataDir::Temp(tempfile::tempdir().unwrap()))
    }

    /// Opens the data dir and starts both servers in this process through
    /// `streamgate::launch::start`, each on a port the OS picks.
    pub async fn start(mut self) -> TestServer {
        let dir = self.take_dir();
        let path = dir.path().to_path_buf();
        let control = tokio::task::spawn_blocking(move || Control::open(ControlOptions::new(path)))
            .await
            .unwrap()
            .unwrap();
        let telemetry = Telemetry::new();
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let running = launch::start(
            control.clone(),
            telemetry.clone(),
            ServeConfig {
                admin_addr: any,
                gateway_addr: any,
                gateway: self.options.clone(),
                tls: self.tls.clone(),
            },
        )
        .await;
        let admin = running.admin.clone().expect("the management API starts");
        let gateway = running.gateway.clone().expect("the gateway starts");
        let https = running
            .gateway_tls
            .clone()
            .map(|addr| addr.expect("the HTTPS gateway starts"));
        let identity = running.tls.clone().expect("the TLS certificate loads");
        let service = running.service.clone().expect("the gateway is built");
        TestServer {
            admin,
            gateway,
            https,
            identity,
            service: Some(service),
            token: control.admin_token().to_string(),
            http: client(),
            options: self.options,
            boot: Boot::InProcess {
                control,
                telemetry,
                running: Some(running),
            },
            dir,
        }
    }

    /// Starts `streamgate serve` as a child process with `RUST_LOG=rust_log`, both servers
    /// on ports the OS picks (read from its stdout), its stderr captured for [`TestServer::log`].
    /// The gateway options are the binary's defaults.
    pub fn spawn_process(mut self, rust_log: &str) -> TestServer {
        let dir = self.take_dir();
        let (child, stderr, rx) = spawn_captured(
            Command::new(env!("CARGO_BIN_EXE_streamgate"))
                .args(["serve", "--admin-addr", "127.0.0.1:0", "--gateway-addr"])
                .arg("127.0.0.1:0")
                // Not the default 8243: a taken HTTPS gateway port stops `serve`.
                .args(["--gateway-tls-addr", "127.0.0.1:0"])
                .arg("--data-dir")
                .arg(dir.path())
                .args(&self.args)
                .env("RUST_LOG", rust_log)
                .env_remove("STREAMGATE_ADMIN_TOKEN"),
        );
        let (mut admin, mut gateway) = (None, None);
        while admin.is_none() || gateway.is_none() {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| {
                    panic!(
                        "serve did not start: {}",
                        String::from_utf8_lossy(&stderr.lock().unwrap())
                    )
                });
            let addr = |prefix: &str| {
                line.strip_prefix(prefix)
                    .map(|a| a.trim_end_matches('/').parse::<SocketAddr>().unwrap())
            };
            admin = admin.or(addr("management API listening on http://"));
            gateway = gateway.or(addr("gateway listening on http://"));
        }
        let token = std::fs::read_to_string(dir.path().join(ADMIN_TOKEN_FILE))
            .unwrap()
            .trim()
            .to_string();
        TestServer {
            admin: admin.unwrap(),
            gateway: gateway.unwrap(),
            token,
            https: None,
            identity: None,
            service: None,
            http: client(),
            options: GatewayOptions::default(),
            boot: Boot::Process { child, stderr },
            dir,
        }
    }
}

/// How the servers run.
enum Boot {
    /// In this process, through the real launcher.
    InProcess {
        control: Control,
        telemetry: Telemetry,
        running: Option<Running>,
    },
    /// A `streamgate serve` child.
    Process {
        child: Child,
        stderr: Arc<Mutex<Vec<u8>>>,
    },
}

/// The running management API and gateway. Dropping it stops them (a child process is
/// killed); [`TestServer::stop`] stops them and waits.
pub struct TestServer {
    admin: SocketAddr,
    gateway: SocketAddr,
    https: Option<SocketAddr>,
    identity: Option<ServerIdentity>,
    service: Option<Gateway>,
    token: String,
    /// A client without proxies.
    pub http: reqwest::Client,
    options: GatewayOptions,
    boot: Boot,
    // Last, so the servers are stopped before a temp dir is removed.
    dir: DataDir,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        match &mut self.boot {
            Boot::InProcess { running, .. } => {
                if let (Some(running), Ok(rt)) =
                    (running.take(), tokio::runtime::Handle::try_current())
                {
                    rt.spawn(running.shutdown());
                }
            }
            Boot::Process { child, .. } => {
                // A test that failed midway must not leave the process behind.
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl TestServer {
    /// Both servers in process with [`test_options`] over a new temp dir.
    pub async fn start() -> TestServer {
        Self::builder().start().await
    }

    /// Both servers in process with these gateway options over a new temp dir.
    pub async fn with_options(options: GatewayOptions) -> TestServer {
        Self::builder().gateway(options).start().await
    }

    /// A builder for other options.
    pub fn builder() -> Builder {
        Builder {
            options: test_options(),
            tls: ListenerOptions::default(),
            dir: None,
            args: Vec::new(),
        }
    }

    /// The management API's base URL, `http://127.0.0.1:PORT`.
    pub fn mgmt_url(&self) -> String {
        format!("http://{}", self.admin)
    }

    /// The management API's address.
    pub fn mgmt_addr(&self) -> SocketAddr {
        self.admin
    }

    /// The gateway's base URL, `http://127.0.0.1:PORT`.
    pub fn gateway_url(&self) -> String {
        format!("http://{}", self.gateway)
    }

    /// The gateway's public URL as the management API hands it out,
    /// `http://localhost:PORT`.
    pub fn public_gateway_url(&self) -> String {
        launch::public_url(self.gateway)
    }

    /// The gateway's address.
    pub fn gateway_addr(&self) -> SocketAddr {
        self.gateway
    }

    /// `path` on the gateway.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.gateway)
    }

    /// The HTTPS gateway's address (servers started with [`Builder::https`] or
    /// [`Builder::tls`] only).
    pub fn https_addr(&self) -> SocketAddr {
        self.https.expect("started with an HTTPS gateway")
    }

    /// The TLS listeners' certificate (servers started with TLS listeners only).
    pub fn tls_identity(&self) -> &ServerIdentity {
        self.identity.as_ref().expect("started with a TLS listener")
    }

    /// The gateway both listeners serve (in-process servers only).
    pub fn gateway(&self) -> &Gateway {
        self.service
            .as_ref()
            .expect("a `streamgate serve` child has no Gateway here")
    }

    /// The admin token.
    pub fn admin_token(&self) -> &str {
        &self.token
    }

    /// The data dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The gateway's options.
    pub fn options(&self) -> &GatewayOptions {
        &self.options
    }

    /// The service behind both servers (in-process servers only).
    pub fn control(&self) -> &Control {
        match &self.boot {
            Boot::InProcess { control, .. } => control,
            Boot::Process { .. } => panic!("a `streamgate serve` child has no Control here"),
        }
    }

    /// The telemetry both servers report to (in-process servers only).
    pub fn telemetry(&self) -> &Telemetry {
        match &self.boot {
            Boot::InProcess { telemetry, .. } => telemetry,
            Boot::Process { .. } => panic!("a `streamgate serve` child has no Telemetry here"),
        }
    }

    /// Stops both servers and waits for them: open streams get their final comment and the
    /// counters are flushed. Asserts that they stopped within [`PATIENCE`].
    pub async fn stop(&mut self) {
        if let Boot::InProcess { running, .. } = &mut self.boot
            && let Some(running) = running.take()
        {
            let stopped = tokio::time::timeout(PATIENCE, running.shutdown()).await;
            assert_eq!(stopped, Ok(true), "the servers stop after shutdown");
        }
    }

    /// Stops, releases the data dir and starts new in-process servers on it with `options`.
    pub async fn restart(mut self, options: GatewayOptions) -> TestServer {
        self.stop().await;
        let dir = std::mem::replace(&mut self.dir, DataDir::At(PathBuf::new()));
        drop(self);
        let builder = TestServer::builder().gateway(options);
        let builder = match dir {
            DataDir::Temp(dir) => builder.temp_dir(dir),
            DataDir::At(path) => builder.data_dir(&path),
        };
        builder.start().await
    }

    /// Takes the temp data dir out, stopping the servers first.
    pub async fn into_dir(mut self) -> TempDir {
        self.stop().await;
        match std::mem::replace(&mut self.dir, DataDir::At(PathBuf::new())) {
            DataDir::Temp(dir) => dir,
            DataDir::At(path) => panic!("{} is the test's own dir", path.display()),
        }
    }

    fn child(&mut self) -> &mut Child {
        match &mut self.boot {
            Boot::Process { child, .. } => child,
            Boot::InProcess { .. } => panic!("not a `streamgate serve` child"),
        }
    }

    /// Kills the child process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let child = self.child();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// The child process's id.
    pub fn pid(&mut self) -> u32 {
        self.child().id()
    }

    /// Sends the child process the signal `name` (`TERM`, `INT`, ...).
    pub fn signal(&mut self, name: &str) {
        let id = self.child().id();
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(id.to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the child process to exit; `None` if it is still running after `limit`.
    pub fn exited_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let child = self.child();
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// What the child process wrote to stderr so far.
    pub fn log(&self) -> String {
        match &self.boot {
            Boot::Process { stderr, .. } => {
                String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned()
            }
            Boot::InProcess { .. } => panic!("not a `streamgate serve` child"),
        }
    }
}
