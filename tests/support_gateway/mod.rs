//! Helpers for the gateway tests: a real gateway on 127.0.0.1:0 over a temp data dir,
//! catalog setup through control, raw-TCP SSE backends that record what they were sent
//! and notice when the gateway hangs up, and an SSE client.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use streamgate::catalog::DeployTarget;
use streamgate::catalog::{
    Api, ApiDraft, AppDraft, ApplicationPolicy, KeyType, LifecycleAction, Quota,
    SubscriptionPolicy, TimeUnit,
};
use streamgate::control::{Control, ControlOptions};
use streamgate::gateway::{Gateway, GatewayOptions};
use streamgate::sse::{Item, Parser};
use streamgate::telemetry::Telemetry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

/// How long a test waits for something that should happen promptly.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The tutorial's environment.
pub fn hybrid() -> Vec<DeployTarget> {
    vec![DeployTarget::new("Production and Sandbox", "localhost")]
}

/// A running gateway over a temp data dir.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub control: Control,
    pub telemetry: Telemetry,
    pub gateway: Gateway,
    pub addr: std::net::SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// Options with test-sized intervals.
pub fn test_options() -> GatewayOptions {
    GatewayOptions {
        heartbeat: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(2),
        counter_flush: Duration::from_secs(60),
        shutdown_grace: Duration::from_secs(3),
        ..GatewayOptions::default()
    }
}

impl Env {
    pub async fn start() -> Env {
        Self::start_with(test_options()).await
    }

    pub async fn start_with(options: GatewayOptions) -> Env {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, options).await
    }

    pub async fn start_in(dir: tempfile::TempDir, options: GatewayOptions) -> Env {
        let control = Control::open(ControlOptions::new(dir.path())).unwrap();
        let telemetry = Telemetry::new();
        let gateway = Gateway::new(control.clone(), telemetry.clone(), options).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(gateway.clone().serve(listener, async move {
            let _ = rx.await;
        }));
        Env {
            dir,
            control,
            telemetry,
            gateway,
            addr,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Shuts the gateway down and waits for `serve` to return.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(PATIENCE, server)
                .await
                .expect("serve returns after shutdown")
                .unwrap()
                .unwrap();
        }
    }

    /// Stops, releases the data dir and starts a new gateway on it.
    pub async fn restart(mut self, options: GatewayOptions) -> Env {
        self.stop().await;
        let Env {
            dir,
            control,
            gateway,
            ..
        } = self;
        drop(gateway);
        drop(control);
        Env::start_in(dir, options).await
    }
}

/// A published SSE API deployed to the hybrid environment.
pub async fn published_api(
    control: &Control,
    name: &str,
    production: Option<&str>,
    sandbox: Option<&str>,
    plans: &[&str],
) -> Api {
    let api = control
        .create_api(ApiDraft {
            name: name.to_string(),
            context: format!("/{}", name.to_ascii_lowercase()),
            version: "1.0.0".to_string(),
            description: String::new(),
            production_endpoint: production.map(str::to_string),
            sandbox_endpoint: sandbox.map(str::to_string),
            policies: plans.iter().map(|p| p.to_string()).collect(),
            topics: Vec::new(),
        })
        .await
        .unwrap();
    control
        .deploy_new_revision(&api.id, "first", &hybrid())
        .await
        .unwrap();
    control
        .change_lifecycle(&api.id, LifecycleAction::Publish)
        .await
        .unwrap()
        .api
}

/// A custom plan of `count` events per minute.
pub async fn plan_per_minute(control: &Control, name: &str, count: u64) {
    control
        .add_subscription_policy(SubscriptionPolicy {
            name: name.to_string(),
            display_name: name.to_string(),
            description: String::new(),
            quota: Quota::Events {
                count,
                unit: TimeUnit::Min,
                unit_time: 1,
            },
            built_in: false,
        })
        .await
        .unwrap();
}

/// A custom application policy of `n` connection requests per minute.
pub async fn app_policy_per_minute(control: &Control, name: &str, n: u32) {
    control
        .add_application_policy(ApplicationPolicy {
            name: name.to_string(),
            display_name: name.to_string(),
            description: String::new(),
            requests_per_minute: Some(n),
            built_in: false,
        })
        .await
        .unwrap();
}

/// An application, subscribed under `plan` unless it is `None`.
pub struct Subscriber {
    pub app_id: String,
    pub subscription_id: Option<String>,
    pub production: String,
    pub sandbox: String,
}

pub async fn subscriber(
    control: &Control,
    name: &str,
    app_policy: &str,
    api: &Api,
    plan: Option<&str>,
) -> Subscriber {
    let app = control
        .create_application(AppDraft {
            name: name.to_string(),
            throttling_policy: app_policy.to_string(),
            description: String::new(),
        })
        .await
        .unwrap();
    let subscription_id = match plan {
        Some(plan) => Some(control.subscribe(&app.id, &api.id, plan).await.unwrap().id),
        None => None,
    };
    let production = control
        .generate_keys(&app.id, KeyType::Production, None)
        .await
        .unwrap()
        .token
        .access_token;
    let sandbox = control
        .generate_keys(&app.id, KeyType::Sandbox, None)
        .await
        .unwrap()
        .token
        .access_token;
    Subscriber {
        app_id: app.id,
        subscription_id,
        production,
        sandbox,
    }
}

/// What a scripted backend does with each connection.
#[derive(Clone, Debug)]
pub enum Script {
    /// Events `id: n` / `data: {"n":n}`, `batch` per write, a write every `every`, with
    /// this line end, `count` of them (`None`: until the client leaves), then the response
    /// ends. Nothing is sent before `wait_for` connections have arrived.
    Events {
        line_end: &'static str,
        every: Duration,
        count: Option<usize>,
        batch: usize,
        wait_for: usize,
    },
    /// These chunks, each after its delay, then hold the connection open.
    Chunks(Vec<(Duration, &'static str)>),
    /// Answer with this status and a small body.
    Status(u16),
    /// Accept, read the request and never answer.
    Mute,
}

/// One event per write, starting at once.
pub fn events(line_end: &'static str, every: Duration, count: Option<usize>) -> Script {
    Script::Events {
        line_end,
        every,
        count,
        batch: 1,
        wait_for: 0,
    }
}

/// A raw-TCP SSE backend on 127.0.0.1:0.
pub struct Backend {
    pub addr: std::net::SocketAddr,
    /// Request heads received, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
    /// Connections that the gateway closed.
    pub hangups: Arc<AtomicUsize>,
    pub hangup: Arc<Notify>,
    /// Events written in total.
    pub written: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Backend {
    pub async fn start(script: Script) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let hangups = Arc::new(AtomicUsize::new(0));
        let hangup = Arc::new(Notify::new());
        let written = Arc::new(AtomicUsize::new(0));
        let (r, h, n, w) = (
            requests.clone(),
            hangups.clone(),
            hangup.clone(),
            written.clone(),
        );
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let (script, r, h, n, w) =
                    (script.clone(), r.clone(), h.clone(), n.clone(), w.clone());
                tokio::spawn(serve_connection(socket, script, r, h, n, w));
            }
        });
        Backend {
            addr,
            requests,
            hangups,
            hangup,
            written,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn last_request(&self) -> String {
        self.requests
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or_default()
    }

    pub fn request_count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// Waits until the gateway has closed `n` connections in total.
    pub async fn wait_hangups(&self, n: usize) {
        tokio::time::timeout(PATIENCE, async {
            while self.hangups.load(Ordering::SeqCst) < n {
                let notified = self.hangup.notified();
                if self.hangups.load(Ordering::SeqCst) >= n {
                    break;
                }
                let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
            }
        })
        .await
        .expect("the gateway closes the backend connection");
    }
}

async fn serve_connection(
    socket: TcpStream,
    script: Script,
    requests: Arc<Mutex<Vec<String>>>,
    hangups: Arc<AtomicUsize>,
    hangup: Arc<Notify>,
    written: Arc<AtomicUsize>,
) {
    let (mut rd, mut wr) = socket.into_split();
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match rd.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    requests
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&head).into_owned());
    // The gateway closing its end shows up as EOF (or a reset) on the read half.
    let closed = Arc::new(Notify::new());
    let watcher = {
        let closed = closed.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            hangups.fetch_add(1, Ordering::SeqCst);
            hangup.notify_waiters();
            closed.notify_one();
        })
    };
    const OK: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
    match script {
        Script::Mute => {
            closed.notified().await;
        }
        Script::Status(code) => {
            let body = format!("{{\"status\":{code}}}");
            let resp = format!(
                "HTTP/1.1 {code} Whatever\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = wr.write_all(resp.as_bytes()).await;
            let _ = wr.shutdown().await;
        }
        Script::Chunks(chunks) => {
            if wr.write_all(OK.as_bytes()).await.is_err() {
                return;
            }
            for (delay, chunk) in chunks {
                tokio::time::sleep(delay).await;
                if wr.write_all(chunk.as_bytes()).await.is_err() {
                    return;
                }
            }
            closed.notified().await;
        }
        Script::Events {
            line_end,
            every,
            count,
            batch,
            wait_for,
        } => {
            if wr.write_all(OK.as_bytes()).await.is_err() {
                return;
            }
            while requests.lock().unwrap().len() < wait_for {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let mut n = 0usize;
            loop {
                if count.is_some_and(|c| n >= c) {
                    break;
                }
                let mut write = String::new();
                let before = n;
                for _ in 0..batch.max(1) {
                    if count.is_some_and(|c| n >= c) {
                        break;
                    }
                    n += 1;
                    write.push_str(&format!(
                        "id: {n}{line_end}data: {{\"n\":{n}}}{line_end}{line_end}"
                    ));
                }
                if wr.write_all(write.as_bytes()).await.is_err() {
                    break;
                }
                written.fetch_add(n - before, Ordering::SeqCst);
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = closed.notified() => return,
                }
            }
            let _ = wr.shutdown().await;
            drop(wr);
        }
    }
    drop(watcher);
}

/// A test HTTP client without proxies.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// GET with an optional bearer token.
pub async fn get(url: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = client().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

/// The JSON error body of a refused request.
pub async fn error_body(resp: reqwest::Response) -> serde_json::Value {
    let text = resp.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Reads an SSE response item by item.
pub struct SseReader {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    parser: Parser,
    queue: std::collections::VecDeque<Item>,
    /// Every byte received.
    pub raw: Vec<u8>,
    pub ended: bool,
}

impl SseReader {
    pub fn new(resp: reqwest::Response) -> Self {
        Self {
            body: resp.bytes_stream().boxed(),
            parser: Parser::new(),
            queue: Default::default(),
            raw: Vec::new(),
            ended: false,
        }
    }

    /// The next event or comment; `None` when the stream ends.
    pub async fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Some(item);
            }
            if self.ended {
                return None;
            }
            match tokio::time::timeout(PATIENCE, self.body.next())
                .await
                .expect("the stream moves")
            {
                Some(Ok(chunk)) => {
                    self.raw.extend_from_slice(&chunk);
                    self.queue.extend(self.parser.push_items(&chunk));
                }
                Some(Err(_)) | None => self.ended = true,
            }
        }
    }

    /// Everything up to the end of the stream.
    pub async fn rest(&mut self) -> Vec<Item> {
        let mut out = Vec::new();
        while let Some(item) = self.next().await {
            out.push(item);
        }
        out
    }

    /// The next event, skipping comments.
    pub async fn next_event(&mut self) -> Option<streamgate::sse::Event> {
        loop {
            match self.next().await? {
                Item::Event(e) => return Some(e),
                Item::Comment(_) => {}
            }
        }
    }
}

/// Events and comments of a finished stream.
pub fn split(items: &[Item]) -> (Vec<String>, Vec<String>) {
    let mut events = Vec::new();
    let mut comments = Vec::new();
    for item in items {
        match item {
            Item::Event(e) => events.push(e.data.clone()),
            Item::Comment(c) => comments.push(c.clone()),
        }
    }
    (events, comments)
}
