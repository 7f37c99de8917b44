//! Fan-outs with more sockets than one process may hold (`ulimit -Hn`, which only
//! CAP_SYS_RESOURCE raises): every side runs as several processes, as nginx does with
//! `worker_processes`.
//!
//! - the load client: `sg-bench load --shard` processes, opened together and measured over
//!   one window (each waits for its parent's go on standard input), their latencies added
//!   up bucket by bucket;
//! - the origin: more `sg-bench origin --reuse-port` processes on the origin's address,
//!   the kernel spreading connections over them;
//! - the gateway: `streamgate gateway` nodes of the running control plane, each on its own
//!   port with one worker, the load split evenly over them (the scale-out deployment);
//! - nginx: `worker_processes` and `listen ... reuseport`.
//!
//! Memory per stream and CPU time are summed over a path's processes.

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

use super::*;
use crate::hist::Histogram;
use crate::load::{ShardReport, StreamTally};

/// At most this many processes per side; a fan-out that needs more is skipped.
const MAX_SHARDS: usize = 8;

/// How many processes each side of `workload` needs under an open files limit of
/// `nofile`: a per-client proxy holds two sockets per stream plus 200 for everything else,
/// and one process is given at most 90% of the limit (the kernel's spread over
/// `SO_REUSEPORT` sockets is not exact). 1 when everything fits in one process.
///
/// # Errors
/// More than [`MAX_SHARDS`] processes would be needed: the note to print.
pub(super) fn shards_for(workload: Workload, nofile: u64) -> Result<usize, String> {
    let streams = match workload {
        Workload::Fanout(n) | Workload::Shared(n) => n as u64,
        _ => return Ok(1),
    };
    let needed = streams.saturating_mul(2).saturating_add(200);
    let per_process = nofile / 10 * 9;
    let shards = if per_process == 0 {
        u64::MAX
    } else {
        needed.div_ceil(per_process)
    };
    if shards > MAX_SHARDS as u64 {
        return Err(format!(
            "{}: skipped: a proxy needs {needed} open files for {streams} streams, more than \
             {MAX_SHARDS} processes under the limit here of {nofile} (`ulimit -Hn`; raising \
             it needs CAP_SYS_RESOURCE)",
            workload.name()
        ));
    }
    Ok(shards.max(1) as usize)
}

/// The note under the table for a workload run in `shards` processes per side.
pub(super) fn sharded_note(workload: Workload, shards: usize, nofile: u64) -> String {
    format!(
        "{}: more sockets than one process may open here ({nofile}): the load client and the \
         origin ran as {shards} processes each, the gateway as {shards} `streamgate gateway` \
         nodes of its control plane (one worker each, the streams split evenly over their \
         ports), nginx with `worker_processes {shards}` and `listen ... reuseport`; CPU and \
         memory are summed over a path's processes",
        workload.name()
    )
}

/// Splits `streams` over `urls`, as evenly as whole streams allow.
fn split(streams: usize, urls: &[String]) -> Vec<(String, usize)> {
    let n = urls.len().max(1);
    urls.iter()
        .enumerate()
        .map(|(i, url)| (url.clone(), streams / n + usize::from(i < streams % n)))
        .filter(|(_, s)| *s > 0)
        .collect()
}

impl Bench {
    /// Measures `workload` on `path` with every side in `shards` processes.
    pub(super) async fn measure_sharded(
        &mut self,
        workload: Workload,
        path: &str,
        rep: usize,
        shards: usize,
    ) -> Result<Option<Record>, BoxError> {
        let Some((url, token, measure)) = self.path(path, workload) else {
            return Ok(None);
        };
        let mut extra = Vec::new();
        let origin_addr: std::net::SocketAddr = self.origin_addr.parse()?;
        for i in 1..shards {
            let (proc, _) = spawn_waiting(
                "origin",
                Command::new(&self.me).args([
                    "origin",
                    "--reuse-port",
                    "--addr",
                    &origin_addr.to_string(),
                ]),
                &self.work.join(format!("origin-{i}.log")),
                &["origin listening on"],
            )?;
            extra.push(proc);
        }
        let mut roots = measure.roots().to_vec();
        let urls = match path {
            "gateway" => {
                let nodes = tokio::task::block_in_place(|| self.start_nodes(shards))?;
                let query = workload.query();
                let context = match workload {
                    Workload::Shared(_) => SHARED_CONTEXT,
                    _ => API_CONTEXT,
                };
                let urls: Vec<String> = nodes
                    .iter()
                    .map(|(_, addr)| {
                        format!("http://{addr}{context}/{API_VERSION}{RESOURCE}?{query}")
                    })
                    .collect();
                for url in &urls {
                    wait_until_served(url, &self.token).await?;
                }
                roots.extend(nodes.iter().map(|(proc, _)| proc.pid()));
                extra.extend(nodes.into_iter().map(|(proc, _)| proc));
                urls
            }
            "nginx" => {
                tokio::task::block_in_place(|| self.start_nginx_with(Some(shards)))?;
                let Some((proc, _)) = self.nginx.as_ref() else {
                    return Ok(None);
                };
                roots = vec![proc.pid()];
                vec![url]
            }
            _ => vec![url],
        };
        if path == "direct" {
            roots.extend(extra.iter().map(Proc::pid));
        }
        super::wait_for_quiet().await;
        let quick = self.args.quick;
        let warmup = self.args.warmup.unwrap_or(if quick { 1.0 } else { 2.0 });
        let duration = self.args.duration.unwrap_or(if quick { 3.0 } else { 7.0 });
        let streams = match workload {
            Workload::Fanout(n) | Workload::Shared(n) => n,
            _ => return Err("only fan-outs run sharded".into()),
        };
        let urls = if urls.len() == 1 {
            vec![urls[0].clone(); shards]
        } else {
            urls
        };
        eprint!(
            "  {:<12} {:<8} rep {} ({shards} processes per side) ... ",
            workload.name(),
            path,
            rep + 1
        );
        let result = run_shards(
            &self.me,
            &split(streams, &urls),
            token.as_deref(),
            Duration::from_secs_f64(warmup.max(2.0)),
            Duration::from_secs_f64((duration * 0.6).max(3.0)),
            &ProcSet::new(roots),
            &self.work.join("load-shards.log"),
        )
        .await;
        for proc in extra {
            proc.stop();
        }
        if path == "nginx" {
            // Back to the configuration every other workload measures.
            tokio::task::block_in_place(|| self.start_nginx())?;
        }
        let result = result?;
        Ok(Some(settled(workload, path, rep, result).await))
    }

    /// Starts `count` gateway nodes of the running control plane (`streamgate serve`),
    /// each with a new node credential, its own data dir and one worker: the nodes and
    /// their gateway addresses.
    fn start_nodes(&mut self, count: usize) -> Result<Vec<(Proc, String)>, BoxError> {
        let admin = self
            .admin
            .clone()
            .ok_or("gateway nodes need `streamgate serve` (its management API)")?;
        let control_plane = format!("http://{admin}");
        let mut nodes = Vec::with_capacity(count);
        for _ in 0..count {
            self.nodes_added += 1;
            let name = format!("bench-node-{}", self.nodes_added);
            let out = Command::new(&self.streamgate)
                .args([
                    "node",
                    "add",
                    &name,
                    "--quiet",
                    "--admin-url",
                    &control_plane,
                ])
                .arg("--data-dir")
                .arg(self.work.join("data"))
                .output()?;
            if !out.status.success() {
                return Err(format!(
                    "streamgate node add {name}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )
                .into());
            }
            let dir = self.work.join(&name);
            fs::create_dir_all(&dir)?;
            let token_file = dir.join("node.token");
            fs::write(&token_file, &out.stdout)?;
            // Readable by its owner only, as `node add` says (else the node warns).
            {
                use std::os::unix::fs::PermissionsExt as _;
                fs::set_permissions(&token_file, fs::Permissions::from_mode(0o600))?;
            }
            let mut cmd = Command::new(&self.streamgate);
            cmd.args(["gateway", "--control-plane", &control_plane, "--node-token"])
                .arg(&token_file)
                .arg("--data-dir")
                .arg(dir.join("data"))
                .args([
                    "--gateway-addr",
                    "127.0.0.1:0",
                    "--gateway-workers",
                    "1",
                    "--max-incomplete-per-ip",
                    "100000",
                ])
                .env_remove("RUST_LOG");
            let (proc, addrs) = spawn_waiting(
                "streamgate gateway",
                &mut cmd,
                &self.work.join(format!("{name}.log")),
                &["gateway listening on http://"],
            )?;
            nodes.push((proc, addrs.into_iter().next().unwrap_or_default()));
        }
        Ok(nodes)
    }
}

/// Waits until `url` answers 200 with `token` (a new node has the API once its first
/// sync from the control plane is done), for up to [`START_TIMEOUT`].
async fn wait_until_served(url: &str, token: &str) -> Result<(), BoxError> {
    let target = load::Target::new(url, Some(token), None)?;
    let deadline = Instant::now() + START_TIMEOUT;
    let mut last = String::new();
    while Instant::now() < deadline {
        match status_of(&target).await {
            Ok(200) => return Ok(()),
            Ok(status) => last = format!("status {status}"),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("{url} did not answer 200 within {START_TIMEOUT:?} (last: {last})").into())
}

/// The status code `target` answers its request with (the connection is then closed).
async fn status_of(target: &load::Target) -> Result<u16, BoxError> {
    use tokio::io::AsyncReadExt as _;
    let mut socket = tokio::net::TcpStream::connect(target.addr).await?;
    socket.write_all(&target.request).await?;
    let mut head = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut head)).await??;
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {line:?}").into())
}

/// Runs one `sg-bench load --shard` per `(url, streams)`, waits until all have opened
/// their streams, warms up, then measures one window on all at once: the merged result,
/// with the CPU time and memory of `measure` over that window.
async fn run_shards(
    me: &Path,
    shards: &[(String, usize)],
    token: Option<&str>,
    warmup: Duration,
    duration: Duration,
    measure: &ProcSet,
    log: &Path,
) -> Result<LoadResult, BoxError> {
    let pids = measure.pids();
    let rss_base = procstat::rss_kib_of(&pids).ok();
    let started = Instant::now();
    let mut children = Vec::with_capacity(shards.len());
    for (url, streams) in shards {
        let stderr = OpenOptions::new().create(true).append(true).open(log)?;
        let mut cmd = tokio::process::Command::new(me);
        cmd.args(["load", "--shard", "--url", url])
            .args(["--streams", &streams.to_string()])
            .args(["--duration", &duration.as_secs_f64().to_string()]);
        if let Some(token) = token {
            cmd.args(["--token", token]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start a load shard: {e}"))?;
        let stdin = child.stdin.take().ok_or("a load shard has no stdin")?;
        let stdout = child.stdout.take().ok_or("a load shard has no stdout")?;
        children.push((child, stdin, BufReader::new(stdout).lines()));
    }
    let most = shards.iter().map(|(_, s)| *s).max().unwrap_or(0);
    let open_deadline = load::open_budget(most) + Duration::from_secs(10);
    for (_, _, lines) in &mut children {
        let line = tokio::time::timeout(open_deadline, lines.next_line())
            .await
            .map_err(|_| {
                format!(
                    "a load shard did not open its streams; see {}",
                    log.display()
                )
            })??;
        if line.as_deref() != Some(load::SHARD_OPENED) {
            return Err(format!(
                "a load shard said {line:?} instead of `{}`; see {}",
                load::SHARD_OPENED,
                log.display()
            )
            .into());
        }
    }
    let open_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(warmup).await;
    let cpu0 = procstat::cpu_of(&pids).ok();
    for (_, stdin, _) in &mut children {
        stdin.write_all(b"go\n").await?;
        stdin.flush().await?;
    }
    let t0 = Instant::now();
    tokio::time::sleep(duration).await;
    let cpu1 = procstat::cpu_of(&pids).ok();
    let window_secs = t0.elapsed().as_secs_f64();
    let rss = procstat::rss_kib_of(&pids).ok();
    let hist = Histogram::default();
    let (mut streams, mut opened, mut healthy, mut events) = (0, 0, 0, 0);
    let mut first_error = None;
    for (mut child, _, mut lines) in children {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .map_err(|_| format!("a load shard did not report; see {}", log.display()))??
            .ok_or_else(|| format!("a load shard ended without a report; see {}", log.display()))?;
        let report: ShardReport = serde_json::from_str(&line)
            .map_err(|e| format!("a load shard's report: {e}: {line}"))?;
        let r = report.result;
        streams += r.streams;
        opened += r.opened;
        healthy += r.streams.saturating_sub(r.failures);
        events += r.events;
        first_error = first_error.or(r.first_error);
        hist.merge(&report.latency)?;
        // The shard exits after its report.
        let _ = child.wait().await;
    }
    Ok(load::stream_result(StreamTally {
        streams,
        opened,
        healthy,
        first_error,
        open_secs,
        window_secs,
        events,
        hist: &hist,
        cpu: cpu0.zip(cpu1).map(|(a, b)| b.since(a)),
        rss_base,
        rss,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fanouts_beyond_one_process_are_split_and_too_many_skipped() {
        assert_eq!(shards_for(Workload::Fanout(8000), 20000), Ok(1));
        assert_eq!(shards_for(Workload::Fanout(20000), 20000), Ok(3));
        assert_eq!(shards_for(Workload::Shared(20000), 20000), Ok(3));
        assert_eq!(shards_for(Workload::Bulk, 10), Ok(1));
        let skipped = shards_for(Workload::Fanout(20000), 1024);
        assert_eq!(
            skipped,
            Err(
                "fanout-20000: skipped: a proxy needs 40200 open files for 20000 streams, more \
                 than 8 processes under the limit here of 1024 (`ulimit -Hn`; raising it needs \
                 CAP_SYS_RESOURCE)"
                    .to_string()
            )
        );
    }

    #[test]
    fn streams_are_split_evenly_over_the_urls() {
        let urls: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let parts = split(20000, &urls);
        assert_eq!(
            parts.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
            [6667, 6667, 6666]
        );
        assert_eq!(parts[2].0, "c");
        assert_eq!(split(2, &urls).len(), 2);
    }
}
