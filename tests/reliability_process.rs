//! `streamgate serve` as a real process: SIGKILL in the middle of a stream of management
//! writes loses no acknowledged write, the data dir opens without repair and quota counters
//! lose at most the flush period; SIGTERM ends open streams with a final comment, flushes
//! the counters and exits within 5 seconds; and nothing the process logs at TRACE carries a
//! consumer secret, the admin token or an access token.
#![allow(clippy::unwrap_used)]

mod support_gateway;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use streamgate::control::{Control, ControlOptions};
use streamgate::gateway::DEFAULT_COUNTER_FLUSH;
use streamgate::keys::ADMIN_TOKEN_FILE;
use streamgate::store::DB_FILE;
use support_gateway::{Backend, SseReader, events};

/// How long SIGTERM may take, as documented.
const STOP_WITHIN: Duration = Duration::from_secs(5);

/// A `streamgate serve` child on ports chosen by the OS.
struct Serve {
    child: Child,
    admin: SocketAddr,
    gateway: SocketAddr,
    token: String,
    stderr: Arc<Mutex<Vec<u8>>>,
    http: reqwest::Client,
}

impl Drop for Serve {
    fn drop(&mut self) {
        // A test that failed midway must not leave the process behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn start(dir: &Path, rust_log: &str) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_streamgate"))
            .args(["serve", "--admin-addr", "127.0.0.1:0", "--gateway-addr"])
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(dir)
            .env("RUST_LOG", rust_log)
            .env_remove("STREAMGATE_ADMIN_TOKEN")
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
                // The receiver may be gone once both addresses are known.
                let _ = tx.send(line);
            }
        });
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
        let token = std::fs::read_to_string(dir.join(ADMIN_TOKEN_FILE))
            .unwrap()
            .trim()
            .to_string();
        Serve {
            child,
            admin: admin.unwrap(),
            gateway: gateway.unwrap(),
            token,
            stderr,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("http://{}{path}", self.admin))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, value) = self.call(reqwest::Method::POST, path, Some(body)).await;
        assert!((200..300).contains(&status), "{path}: {status} {value}");
        value
    }

    /// The tutorial through the management API: a plan of `quota` events a day, an API on
    /// `endpoint` published and deployed, an application subscribed with production keys.
    /// Returns (API context, consumer key, consumer secret, access token, subscription id).
    async fn tutorial(&self, endpoint: &str, quota: u64) -> Tutorial {
        self.post(
            "/api/am/admin/v4/throttling/policies/subscription",
            json!({"policyName": "Metered", "displayName": "Metered", "description": "",
                   "defaultLimit": {"type": "EVENTCOUNTLIMIT",
                       "eventCount": {"eventCount": quota, "timeUnit": "day", "unitTime": 1}}}),
        )
        .await;
        let api = self
            .post(
                "/api/am/publisher/v4/apis",
                json!({"name": "Meter", "context": "/meter", "version": "1.0.0", "type": "SSE",
                       "policies": ["Metered"],
                       "endpointConfig": {"endpoint_type": "http",
                           "production_endpoints": {"url": endpoint}}}),
            )
            .await;
        let api_id = api["id"].as_str().unwrap().to_string();
        self.post(
            &format!("/api/am/publisher/v4/apis/change-lifecycle?apiId={api_id}&action=Publish"),
            json!({}),
        )
        .await;
        let rev = self
            .post(
                &format!("/api/am/publisher/v4/apis/{api_id}/revisions"),
                json!({"description": "first"}),
            )
            .await;
        let rev_id = rev["id"].as_str().unwrap();
        self.post(
            &format!("/api/am/publisher/v4/apis/{api_id}/deploy-revision?revisionId={rev_id}"),
            json!([{"name": "Production and Sandbox", "vhost": "localhost", "displayOnDevportal": true}]),
        )
        .await;
        let app = self
            .post(
                "/api/am/devportal/v3/applications",
                json!({"name": "Metered App", "throttlingPolicy": "Unlimited", "description": "", "tokenType": "JWT"}),
            )
            .await;
        let app_id = app["applicationId"].as_str().unwrap().to_string();
        let sub = self
            .post(
                "/api/am/devportal/v3/subscriptions",
                json!({"applicationId": app_id, "apiId": api_id, "throttlingPolicy": "Metered"}),
            )
            .await;
        let keys = self
            .post(
                &format!("/api/am/devportal/v3/applications/{app_id}/generate-keys"),
                json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"], "validityTime": "3600"}),
            )
            .await;
        let consumer_key = keys["consumerKey"].as_str().unwrap().to_string();
        let consumer_secret = keys["consumerSecret"].as_str().unwrap().to_string();
        // The token from the client-credentials grant, as curl would get it.
        let resp = self
            .http
            .post(format!("http://{}/oauth2/token", self.admin))
            .basic_auth(&consumer_key, Some(&consumer_secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let granted: Value = resp.json().await.unwrap();
        Tutorial {
            consumer_secret,
            access_token: granted["access_token"].as_str().unwrap().to_string(),
            subscription_id: sub["subscriptionId"].as_str().unwrap().to_string(),
        }
    }

    fn stream_url(&self) -> String {
        format!("http://{}/meter/1.0.0/memory", self.gateway)
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit; `None` if it is still running after `limit`.
    fn exited_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }
}

struct Tutorial {
    consumer_secret: String,
    access_token: String,
    subscription_id: String,
}

/// Opens the redb file as streamgate does, but with a repair callback that refuses: an
/// error here means the file needed a repair.
fn opens_without_repair(dir: &Path) -> Result<(), String> {
    let repaired = Arc::new(AtomicBool::new(false));
    let flag = repaired.clone();
    let db = redb::Database::builder()
        .set_repair_callback(move |session| {
            flag.store(true, Ordering::SeqCst);
            session.abort();
        })
        .create(dir.join(DB_FILE));
    match db {
        Ok(_) if !repaired.load(Ordering::SeqCst) => Ok(()),
        Ok(_) => Err("repaired".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_writes_loses_nothing_acknowledged_and_counters_at_most_the_flush_period() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(events("\n", Duration::from_millis(10), None)).await;
    let serve = Serve::start(dir.path(), "info");
    let t = serve.tutorial(&backend.url(), 1_000_000).await;

    // A metered stream, read continuously, its progress recorded.
    let progress: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let resp = serve
        .http
        .get(serve.stream_url())
        .bearer_auth(&t.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let started = Instant::now();
    let reading = {
        let progress = progress.clone();
        tokio::spawn(async move {
            let mut reader = SseReader::new(resp);
            let mut n = 0;
            // Ends when the process dies (the reader gives up on a silent stream too).
            while reader.next_event().await.is_some() {
                n += 1;
                progress.lock().unwrap().push((Instant::now(), n));
            }
        })
    };

    // Management writes from two writers, each acknowledged one recorded.
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..2 {
        let (acked, stop) = (acked.clone(), stop.clone());
        let (admin, token) = (serve.admin, serve.token.clone());
        writers.push(tokio::spawn(async move {
            let http = reqwest::Client::builder().no_proxy().build().unwrap();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let sent = http
                    .post(format!("http://{admin}/api/am/devportal/v3/applications"))
                    .bearer_auth(&token)
                    .json(&json!({"name": format!("w{w}-{i}"), "throttlingPolicy": "Unlimited"}))
                    .send()
                    .await;
                let Ok(resp) = sent else { return };
                if resp.status() != 201 {
                    return;
                }
                let Ok(body) = resp.json::<Value>().await else {
                    return;
                };
                acked
                    .lock()
                    .unwrap()
                    .push(body["applicationId"].as_str().unwrap().to_string());
            }
        }));
    }
    // Past a periodic flush (every 5 s since serve started), then SIGKILL mid-writes.
    let flush = DEFAULT_COUNTER_FLUSH;
    while started.elapsed() < flush + Duration::from_millis(1500) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        acked.lock().unwrap().len() >= 10,
        "too few writes before the kill"
    );
    let mut serve = serve;
    serve.child.kill().unwrap();
    let killed_at = Instant::now();
    serve.child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    reading.await.unwrap();
    let acked = acked.lock().unwrap().clone();
    let progress = progress.lock().unwrap().clone();
    drop(serve);

    // The file needs no repair.
    opens_without_repair(dir.path()).unwrap();
    let control = Control::open(ControlOptions::new(dir.path())).unwrap();
    let catalog = control.snapshot();
    for id in &acked {
        assert!(
            catalog.applications.contains_key(id),
            "acknowledged application {id} was lost ({} acknowledged)",
            acked.len()
        );
    }
    // Counted events: at least what had been delivered one flush period (plus a second of
    // scheduling slack) before the kill; at most what the backend sent.
    let saved = control.load_counters().unwrap()[&t.subscription_id].count;
    let horizon = killed_at - flush - Duration::from_secs(1);
    let delivered_by_horizon = progress
        .iter()
        .take_while(|(at, _)| *at <= horizon)
        .last()
        .map(|(_, n)| *n)
        .unwrap_or(0);
    assert!(
        delivered_by_horizon > 0,
        "no event in the stream's first half second"
    );
    assert!(
        saved >= delivered_by_horizon,
        "saved {saved} < {delivered_by_horizon} delivered a flush period before the kill"
    );
    let sent = backend.written.load(Ordering::SeqCst) as u64;
    assert!(saved <= sent, "saved {saved} > {sent} sent");
    drop(catalog);
    drop(control);

    // And `serve` starts again on it, with everything acknowledged listed.
    let serve = Serve::start(dir.path(), "info");
    let (status, list) = serve
        .call(
            reqwest::Method::GET,
            "/api/am/devportal/v3/applications?limit=1000",
            None,
        )
        .await;
    assert_eq!(status, 200, "{list}");
    let listed: Vec<&str> = list["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["applicationId"].as_str())
        .collect();
    for id in &acked {
        assert!(
            listed.contains(&id.as_str()),
            "{id} not listed after restart"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_streams_with_a_final_comment_flushes_counters_and_exits_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(events("\n", Duration::from_millis(10), None)).await;
    let mut serve = Serve::start(dir.path(), "trace");
    let t = serve.tutorial(&backend.url(), 1_000_000).await;

    // Two streams: token in the header, and in the query.
    let mut readers = Vec::new();
    for query in [false, true] {
        let req = if query {
            serve.http.get(format!(
                "{}?access_token={}",
                serve.stream_url(),
                t.access_token
            ))
        } else {
            serve
                .http
                .get(serve.stream_url())
                .bearer_auth(&t.access_token)
        };
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let mut reader = SseReader::new(resp);
        for _ in 0..5 {
            assert!(reader.next_event().await.is_some());
        }
        readers.push(reader);
    }
    let reading: Vec<_> = readers
        .into_iter()
        .map(|mut r| {
            tokio::spawn(async move {
                let mut events = 5u64;
                let mut last = None;
                while let Some(item) = r.next().await {
                    if let streamgate::sse::Item::Event(_) = item {
                        events += 1;
                    }
                    last = Some(item);
                }
                (events, last)
            })
        })
        .collect();

    serve.signal("TERM");
    let status = serve.exited_within(STOP_WITHIN);
    assert!(
        status.is_some(),
        "serve still running {STOP_WITHIN:?} after SIGTERM"
    );
    assert!(status.unwrap().success());
    let mut delivered = 0;
    for r in reading {
        let (events, last) = r.await.unwrap();
        delivered += events;
        assert_eq!(
            last,
            Some(streamgate::sse::Item::Comment(
                "gateway shutting down".into()
            ))
        );
    }
    // Every event delivered was counted and flushed at shutdown.
    opens_without_repair(dir.path()).unwrap();
    let control = Control::open(ControlOptions::new(dir.path())).unwrap();
    let saved = control.load_counters().unwrap()[&t.subscription_id].count;
    assert_eq!(saved, delivered);
    backend.wait_hangups(2).await;

    // Nothing the process logged, at TRACE, holds a secret.
    let log = serve.log();
    assert!(log.contains("TRACE"), "not logging at trace: {log}");
    let signature = t.access_token.rsplit('.').next().unwrap();
    for (what, secret) in [
        ("consumer secret", t.consumer_secret.as_str()),
        ("admin token", serve.token.as_str()),
        ("access token", signature),
    ] {
        assert!(!log.contains(secret), "the serve log contains the {what}");
    }
}
