//! Running the `streamgate` binary's client subcommands against a [`TestServer`].

use super::TestServer;

/// What one `streamgate` run printed.
pub struct Run {
    /// Whether it exited 0.
    pub ok: bool,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

/// Runs the binary against `s` with `args`; the environment can't leak in.
pub async fn streamgate(s: &TestServer, args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_streamgate"))
        .args(args)
        .env("STREAMGATE_ADMIN_URL", s.mgmt_url())
        .env("STREAMGATE_DATA_DIR", s.dir())
        .env_remove("STREAMGATE_ADMIN_TOKEN")
        .output()
        .await
        .unwrap();
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs and insists on success, answering stdout.
pub async fn ok(s: &TestServer, args: &[&str]) -> String {
    let run = streamgate(s, args).await;
    assert!(run.ok, "streamgate {args:?} failed: {}", run.stderr);
    run.stdout
}

/// Runs and insists on failure, answering stderr.
pub async fn fails(s: &TestServer, args: &[&str]) -> String {
    let run = streamgate(s, args).await;
    assert!(!run.ok, "streamgate {args:?} should fail: {}", run.stdout);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    run.stderr
}

/// `api create` arguments for an SSE API: `name` at `context`, `version`, on `endpoint`.
pub fn api_create<'a>(
    name: &'a str,
    context: &'a str,
    version: &'a str,
    endpoint: &'a str,
) -> Vec<&'a str> {
    vec![
        "api",
        "create",
        "--name",
        name,
        "--context",
        context,
        "--version",
        version,
        "--endpoint",
        endpoint,
    ]
}

/// The tutorial's `api create` (Observer at /observer 1.0.0 on localhost:8080), followed
/// by `more`.
pub fn observer_create<'a>(more: &[&'a str]) -> Vec<&'a str> {
    let mut args = api_create("Observer", "/observer", "1.0.0", "http://localhost:8080");
    args.extend_from_slice(more);
    args
}
