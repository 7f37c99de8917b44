//! The processes `sg-bench run` starts (streamgate, nginx, the origin, the load client):
//! started with their output in a log, waited for until they print their addresses, and
//! stopped (or killed) when done.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::BoxError;
use crate::run::START_TIMEOUT;

/// A child process killed when dropped.
pub(crate) struct Proc {
    pub(crate) name: &'static str,
    pub(crate) child: Child,
}

impl Proc {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then SIGKILL after three seconds.
    pub(crate) fn stop(mut self) {
        let pid = self.pid().to_string();
        // If `kill` is missing the child is killed below anyway.
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} did not stop on SIGTERM; killing it", self.name);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Already exited is fine.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` with stdout and stderr appended to `log`, and waits until its stdout has
/// printed a line containing each of `markers` followed by `http://ADDR`; returns the
/// addresses in the order of `markers`.
pub(crate) fn spawn_waiting(
    name: &'static str,
    cmd: &mut Command,
    log: &Path,
    markers: &[&str],
) -> Result<(Proc, Vec<String>), BoxError> {
    let stderr = OpenOptions::new().create(true).append(true).open(log)?;
    let mut stdout_log = OpenOptions::new().create(true).append(true).open(log)?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .spawn()
        .map_err(|e| format!("cannot start {name} ({cmd:?}): {e}"))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| format!("{name}: no stdout"))?;
    let proc = Proc { name, child };
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The log is best effort; the line still goes to the waiter.
            let _ = writeln!(stdout_log, "{line}");
            // The waiter may be gone after it found its markers.
            let _ = tx.send(line);
        }
    });
    let mut found: Vec<Option<String>> = vec![None; markers.len()];
    let deadline = Instant::now() + START_TIMEOUT;
    while found.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).map_err(|_| {
            format!(
                "{name} did not print {markers:?} within {START_TIMEOUT:?}; see {}",
                log.display()
            )
        })?;
        for (i, marker) in markers.iter().enumerate() {
            if let Some(at) = line.find(marker)
                && let Some(url) = line[at..].split("://").nth(1)
            {
                let addr = url.split_whitespace().next().unwrap_or_default();
                found[i] = Some(addr.trim_end_matches('/').to_string());
            }
        }
    }
    Ok((proc, found.into_iter().flatten().collect()))
}

/// `name` on `PATH`, or in `/usr/sbin` or `/sbin` (where nginx lives).
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A port free on 127.0.0.1 now (another process may take it before it is used).
pub(crate) fn free_port() -> Result<u16, BoxError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
