//! The benchmark tools on loopback: `sg-bench origin` serves timestamped SSE events and
//! `sg-bench load` parses them and measures their delivery latency, directly, for about a
//! second.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const SG_BENCH: &str = env!("CARGO_BIN_EXE_sg-bench");

/// The origin, killed when the test ends.
struct Origin {
    child: Child,
    addr: String,
}

impl Drop for Origin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_origin() -> Origin {
    let mut child = Command::new(SG_BENCH)
        .args(["origin", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("origin listening on http://")
        .unwrap_or_else(|| panic!("unexpected origin output: {line:?}"))
        .to_string();
    Origin { child, addr }
}

fn load(args: &[&str]) -> serde_json::Value {
    let out = Command::new(SG_BENCH)
        .arg("load")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sg-bench load failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn load_client_parses_origin_events_with_sane_latencies() {
    let origin = start_origin();
    let pid = origin.child.id().to_string();
    let url = format!("http://{}/events?batch=10&interval_ms=20", origin.addr);
    let result = load(&[
        "--url",
        &url,
        "--streams",
        "4",
        "--warmup",
        "0.2",
        "--duration",
        "1",
        "--pid",
        &pid,
    ]);
    let events = result["events"].as_u64().unwrap();
    assert!(events > 0, "no events parsed: {result}");
    assert_eq!(result["opened"], 4, "{result}");
    assert_eq!(result["failures"], 0, "{result}");
    let p50 = result["p50_ms"].as_f64().unwrap();
    let p99 = result["p99_ms"].as_f64().unwrap();
    // Latency comes from the origin's timestamp: a parse error would give nonsense such as
    // decades or a negative time.
    assert!(p50 >= 0.0 && p50 <= p99, "{result}");
    assert!(p99 < 60_000.0, "{result}");
    // The origin's CPU and memory were read from /proc.
    assert!(result["cpu_us"].as_u64().is_some(), "{result}");
    assert!(result["rss_kib"].as_u64().unwrap() > 0, "{result}");
}

#[test]
fn connect_mode_opens_streams_and_reads_their_first_event() {
    let origin = start_origin();
    let url = format!("http://{}/events", origin.addr);
    let result = load(&[
        "--url",
        &url,
        "--mode",
        "connect",
        "--streams",
        "2",
        "--warmup",
        "0",
        "--duration",
        "1",
    ]);
    assert!(result["events"].as_u64().unwrap() > 0, "{result}");
    assert_eq!(result["failures"], 0, "{result}");
    assert!(result["p50_ms"].as_f64().unwrap() >= 0.0, "{result}");
}

#[test]
fn load_reports_a_refused_stream_as_a_failure() {
    // A port nobody listens on: bind one, learn its number, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/events");
    let result = load(&[
        "--url",
        &url,
        "--streams",
        "2",
        "--warmup",
        "0",
        "--duration",
        "0.2",
    ]);
    assert_eq!(result["events"], 0, "{result}");
    assert_eq!(result["failures"], 2, "{result}");
    assert!(
        result["first_error"]
            .as_str()
            .unwrap()
            .contains("connect failed"),
        "{result}"
    );
}

#[test]
fn load_refuses_an_https_url_without_a_certificate_to_trust() {
    let out = Command::new(SG_BENCH)
        .args(["load", "--url", "https://127.0.0.1:9/events", "--json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--cacert"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The TLS rows of `sg-bench run` with tiny numbers: the gateway's https port (a real
/// `streamgate serve`) and, when installed, nginx with `ssl` on the same certificate; the
/// load client speaks TLS to both and every stream delivers.
/// Runs `cmd` (an `sg-bench run`), asserts that it succeeded, and gives its report.
fn run_report(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "sg-bench run failed: {}\n{report}",
        String::from_utf8_lossy(&out.stderr)
    );
    report
}

#[test]
fn run_smokes_the_tls_rows() {
    let work = tempfile::tempdir().unwrap();
    let template = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/nginx-sse.conf");
    let report = run_report(
        Command::new(SG_BENCH)
            .args(["run", "--streamgate", env!("CARGO_BIN_EXE_streamgate")])
            .args(["--nginx-template", template])
            .arg("--work-dir")
            .arg(work.path())
            .args(["--paths", "gateway-tls,nginx-tls", "--only", "bulk"])
            .args(["--reps", "1", "--duration", "0.5", "--warmup", "0.2"]),
    );
    let row = |path: &str| {
        report
            .lines()
            .find(|l| l.starts_with(&format!("| bulk | {path} |")))
            .map(str::to_string)
    };
    let gateway = row("gateway-tls").unwrap_or_else(|| panic!("no gateway-tls row: {report}"));
    let results = std::fs::read_to_string(work.path().join("results.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = results
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let gateway_record = records
        .iter()
        .find(|r| r["path"] == "gateway-tls")
        .unwrap_or_else(|| panic!("{results}"));
    assert!(
        gateway_record["result"]["events"].as_u64().unwrap() > 0,
        "{gateway}"
    );
    assert_eq!(gateway_record["result"]["failures"], 0, "{gateway}");
    let nginx_installed = ["/usr/sbin/nginx", "/usr/bin/nginx", "/sbin/nginx"]
        .iter()
        .any(|p| std::path::Path::new(p).exists());
    if nginx_installed {
        let nginx = records
            .iter()
            .find(|r| r["path"] == "nginx-tls")
            .unwrap_or_else(|| panic!("no nginx-tls record: {results}"));
        assert!(nginx["result"]["events"].as_u64().unwrap() > 0, "{nginx}");
        assert_eq!(nginx["result"]["failures"], 0, "{nginx}");
        assert!(report.contains("gateway-tls/nginx-tls CPU"), "{report}");
    }
}

#[test]
fn run_with_redis_reports_store_calls_per_thousand_events_and_cpu_against_without() {
    if !common::redis_available() {
        return;
    }
    let redis = common::RedisServer::start();
    let work = tempfile::tempdir().unwrap();
    let stdout = run_report(
        Command::new(SG_BENCH)
            .args(["run", "--streamgate", env!("CARGO_BIN_EXE_streamgate")])
            .args(["--redis", &redis.url()])
            .args(["--only", "bulk", "--paths", "gateway,gateway-redis"])
            .args([
                "--reps",
                "1",
                "--warmup",
                "0.2",
                "--duration",
                "1",
                "--no-nginx",
            ])
            .arg("--work-dir")
            .arg(work.path()),
    );
    let line = stdout
        .lines()
        .find(|l| l.contains("redis, bulk: "))
        .unwrap_or_else(|| panic!("no Redis figures in the report:\n{stdout}"));
    assert!(line.contains("store calls per 1,000 events"), "{line}");
    assert!(line.contains("without Redis"), "{line}");
    // Leases, not a call per event: far below one call per event even in a 1 s run.
    let per_1000: f64 = line
        .split("redis, bulk: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(per_1000 < 100.0, "{line}");
    // The metered gateway really went through Redis.
    let keys = redis.command(&["DBSIZE"]).unwrap();
    assert_ne!(keys, ":0", "no quota window in Redis");
}

#[test]
fn shared_fanout_runs_alone_and_reports_one_backend_connection() {
    let work = tempfile::tempdir().unwrap();
    let report = run_report(
        Command::new(SG_BENCH)
            .args([
                "run", "--only", "shared", "--shared", "5", "--paths", "gateway",
            ])
            .args([
                "--reps",
                "1",
                "--warmup",
                "0.5",
                "--duration",
                "1",
                "--no-nginx",
            ])
            .args(["--gateway-host", "streamgate", "--streamgate"])
            .arg(env!("CARGO_BIN_EXE_streamgate"))
            .arg("--work-dir")
            .arg(work.path()),
    );
    assert!(report.contains("| shared-5 | gateway |"), "{report}");
    assert!(
        report
            .contains("backend connections: gateway 1, nginx - (target 1): met; 0 failed streams"),
        "{report}"
    );
}

/// A fan-out with more sockets than one process may open (here a limit of 400 open files
/// for 300 streams: 800 for a proxy) runs with every side in several processes: load
/// shards measured over one window, origins sharing a port, gateway nodes of the control
/// plane, nginx (when installed) with as many workers.
#[test]
fn fanout_beyond_the_open_files_limit_runs_in_several_processes() {
    let work = tempfile::tempdir().unwrap();
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .any(|p| std::path::Path::new(p).is_file());
    let paths = if nginx {
        "direct,gateway,nginx"
    } else {
        "direct,gateway"
    };
    let report = run_report(
        Command::new("sh")
            .args(["-c", "ulimit -n 400 && exec \"$0\" \"$@\"", SG_BENCH])
            .args([
                "run", "--only", "fanout", "--fanout", "300", "--paths", paths,
            ])
            .args(["--reps", "1", "--warmup", "0.5", "--duration", "1"])
            .args(["--gateway-host", "streamgate", "--streamgate"])
            .arg(env!("CARGO_BIN_EXE_streamgate"))
            .arg("--nginx-template")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/scripts/nginx-sse.conf"
            ))
            .arg("--work-dir")
            .arg(work.path()),
    );
    assert!(
        report.contains(
            "fanout-300: more sockets than one process may open here (400): the load client \
             and the origin ran as 3 processes each, the gateway as 3 `streamgate gateway` nodes"
        ),
        "{report}"
    );
    let mut rows = vec!["direct", "gateway"];
    if nginx {
        rows.push("nginx");
    }
    for path in rows {
        let prefix = format!("| fanout-300 | {path} | ");
        let row = report
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {path} row: {report}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        // 300 streams at one event a second over a window of at least 3 s.
        let events: u64 = cells[3].split_whitespace().next().unwrap().parse().unwrap();
        assert!(events >= 600, "{row}");
        assert_eq!(cells[8], "0", "failures: {row}");
        if path != "direct" {
            let rss: f64 = cells[7].parse().unwrap();
            assert!(rss > 0.0, "{row}");
        }
    }
    // Three nodes were added to the control plane and served the gateway row.
    for i in 1..=3 {
        let log = std::fs::read_to_string(work.path().join(format!("bench-node-{i}.log")));
        assert!(
            log.is_ok_and(|l| l.contains("gateway listening on http://")),
            "node {i}"
        );
    }
}
