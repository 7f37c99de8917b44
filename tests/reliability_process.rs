//! `streamgate serve` as a real process: SIGKILL in the middle of a stream of management
//! writes loses no acknowledged write, the data dir opens without repair and quota counters
//! lose at most the flush period; SIGTERM ends open streams with a final comment, flushes
//! the counters and exits within 5 seconds; and nothing the process logs at TRACE carries a
//! consumer secret, the admin token or an access token.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use streamgate::control::{Control, ControlOptions};
use streamgate::gateway::DEFAULT_COUNTER_FLUSH;
use streamgate::store::DB_FILE;

/// How long SIGTERM may take, as documented.
const STOP_WITHIN: Duration = Duration::from_secs(5);

/// The tutorial through `serve`'s management API: a plan of `quota` events a day, an API
/// on `endpoint` published and deployed, an application subscribed with production keys
/// and a token from the client-credentials grant.
async fn tutorial(serve: &TestServer, endpoint: &str, quota: u64) -> Tutorial {
    serve
        .post_expect(
            &admin("/throttling/policies/subscription"),
            json!({"policyName": "Metered", "displayName": "Metered", "description": "",
                   "defaultLimit": {"type": "EVENTCOUNTLIMIT",
                       "eventCount": {"eventCount": quota, "timeUnit": "day", "unitTime": 1}}}),
            StatusCode::CREATED,
        )
        .await;
    let api_id = serve
        .create_api(api_body("Meter", "/meter", endpoint, None, &["Metered"]))
        .await;
    serve.publish_and_deploy(&api_id).await;
    let (app_id, subscription_id) = serve
        .subscribe_new_app("Metered App", &api_id, "Metered")
        .await;
    let credentials = serve.credentials(&app_id).await;
    Tutorial {
        consumer_secret: credentials.consumer_secret,
        access_token: credentials.access_token,
        subscription_id,
    }
}

/// The tutorial's stream on `serve`'s gateway.
fn stream_url(serve: &TestServer) -> String {
    serve.url("/meter/1.0.0/memory")
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
    let serve = TestServer::builder()
        .data_dir(dir.path())
        .spawn_process("info");
    let t = tutorial(&serve, &backend.url(), 1_000_000).await;

    // A metered stream, read continuously, its progress recorded.
    let progress: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let resp = serve
        .http
        .get(stream_url(&serve))
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
        let applications = format!("{}{}", serve.mgmt_url(), devportal("/applications"));
        let token = serve.admin_token().to_string();
        writers.push(tokio::spawn(async move {
            let http = client();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let sent = http
                    .post(&applications)
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
    serve.kill();
    let killed_at = Instant::now();
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
    let serve = TestServer::builder()
        .data_dir(dir.path())
        .spawn_process("info");
    let (status, list) = serve.get(&devportal("/applications?limit=1000000")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let listed = list_field(&list, "applicationId");
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
    let mut serve = TestServer::builder()
        .data_dir(dir.path())
        .spawn_process("trace");
    let t = tutorial(&serve, &backend.url(), 1_000_000).await;

    // Two streams: token in the header, and in the query.
    let mut readers = Vec::new();
    for query in [false, true] {
        let req = if query {
            serve.http.get(format!(
                "{}?access_token={}",
                stream_url(&serve),
                t.access_token
            ))
        } else {
            serve
                .http
                .get(stream_url(&serve))
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
        ("admin token", serve.admin_token()),
        ("access token", signature),
    ] {
        assert!(!log.contains(secret), "the serve log contains the {what}");
    }
}

/// `serve --with-backend`: SIGTERM stops the gateway before the memory backend, so every
/// open stream still ends with `: gateway shutting down` (stopped first, the backend ended
/// them as a backend's end, without the comment).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_the_built_in_backend_still_ends_streams_with_the_final_comment() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut serve = TestServer::builder()
        .arg("--with-backend")
        .arg(&addr.to_string())
        .spawn_process("info");
    let t = tutorial(&serve, &format!("http://{addr}"), 1_000_000).await;
    streams_end_with_the_final_comment_on_sigterm(&mut serve, &t.access_token, 3).await;
}

/// `serve` without `--gateway-workers` serves the plain port on one worker thread per
/// available core, on one listening socket; streams go through them and
/// SIGTERM still ends them with the final comment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_one_gateway_worker_per_core_by_default() {
    let mut serve = TestServer::builder().spawn_process("info");
    let pid = serve.pid().to_string();
    let cores = std::thread::available_parallelism().unwrap().get();
    let workers = || threads_named(&pid, "sg-gateway-");
    assert!(
        eventually(|| workers() == cores).await,
        "{} workers",
        workers()
    );
    let listening = listening_on(serve.gateway_addr().port());
    assert_eq!(listening, 1, "the workers share one listening socket");

    let backend = Backend::start(events("\n", Duration::from_millis(20), None)).await;
    let t = tutorial(&serve, &backend.url(), 1_000_000).await;
    streams_end_with_the_final_comment_on_sigterm(&mut serve, &t.access_token, 4).await;
    // Its log went to a pipe, not a terminal: plain text, no colour escape codes.
    let log = serve.log();
    assert!(log.contains("INFO"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a redirected log: {log}"
    );
}

/// More `--gateway-workers` than cores is served, with a warning in the log that says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_gateway_workers_than_cores_is_warned_about() {
    let cores = std::thread::available_parallelism().unwrap().get();
    let asked = (cores + 1).to_string();
    let mut serve = TestServer::builder()
        .arg("--gateway-workers")
        .arg(&asked)
        .spawn_process("warn");
    let pid = serve.pid().to_string();
    let workers = || threads_named(&pid, "sg-gateway-");
    assert!(
        eventually(|| workers() == cores + 1).await,
        "{} workers",
        workers()
    );
    let want = format!("--gateway-workers {asked} is more than the {cores} core(s) here");
    assert!(
        eventually(|| serve.log().contains(&want)).await,
        "{}",
        serve.log()
    );
}

/// Opens `n` streams of the tutorial's API with `token`, each read to its first event,
/// then sends `serve` SIGTERM: it exits in time and with success, and every stream ends
/// with `: gateway shutting down`.
async fn streams_end_with_the_final_comment_on_sigterm(
    serve: &mut TestServer,
    token: &str,
    n: usize,
) {
    let mut reading = Vec::new();
    for _ in 0..n {
        let resp = get(&stream_url(serve), Some(token)).await;
        assert_eq!(resp.status(), 200);
        let mut reader = SseReader::new(resp);
        assert!(reader.next_event().await.is_some());
        reading.push(tokio::spawn(async move { reader.rest().await }));
    }
    serve.signal("TERM");
    let status = serve.exited_within(STOP_WITHIN);
    assert!(status.is_some_and(|s| s.success()), "{:?}", serve.log());
    for read in reading {
        let items = read.await.unwrap();
        assert_eq!(
            items.last(),
            Some(&streamgate::sse::Item::Comment(
                "gateway shutting down".into()
            )),
            "{items:?}"
        );
    }
}

/// A taken HTTPS gateway port stops `serve` as a taken plain one does, naming the address
/// (it used to go on without HTTPS and report itself UP).
#[test]
fn serve_stops_when_its_https_gateway_port_is_taken() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_streamgate"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--admin-addr", "127.0.0.1:0"])
        .args(["--gateway-addr", "127.0.0.1:0", "--gateway-tls-addr", &addr])
        .env_remove("STREAMGATE_ADMIN_TOKEN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&addr), "{stderr}");
    assert!(stderr.contains("in use"), "{stderr}");
}
