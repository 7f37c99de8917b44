//! `streamgate user ...`, `login` and `logout` (issue 14): the real binary against a real
//! management API on 127.0.0.1:0, each run with its own config dir (`XDG_CONFIG_HOME`), the
//! password on standard input.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Stdio;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

const PASSWORD: &str = "correct horse battery";

/// What one run printed.
struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs the binary against `s` with `config` as `XDG_CONFIG_HOME` (and `HOME`), `stdin`
/// piped in; no admin token from the environment.
async fn run(s: &TestServer, config: &Path, args: &[&str], stdin: &str) -> Out {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_streamgate"))
        .args(args)
        .env("STREAMGATE_ADMIN_URL", s.mgmt_url())
        .env("STREAMGATE_DATA_DIR", s.dir())
        .env("XDG_CONFIG_HOME", config)
        .env("HOME", config)
        .env_remove("STREAMGATE_ADMIN_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn ok(s: &TestServer, config: &Path, args: &[&str], stdin: &str) -> String {
    let out = run(s, config, args, stdin).await;
    assert!(out.ok, "streamgate {args:?} failed: {}", out.stderr);
    out.stdout
}

async fn fails(s: &TestServer, config: &Path, args: &[&str], stdin: &str) -> String {
    let out = run(s, config, args, stdin).await;
    assert!(!out.ok, "streamgate {args:?} should fail: {}", out.stdout);
    out.stderr
}

fn user_names(s: &TestServer) -> Vec<String> {
    let mut names: Vec<String> = s
        .control()
        .users()
        .into_iter()
        .map(|r| r.user.name)
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn users_are_added_listed_shown_repassworded_and_removed_over_scim() {
    let s = TestServer::start().await;
    let config = tempfile::tempdir().unwrap();
    let c = config.path();
    let line = format!("{PASSWORD}\n");

    let added = ok(
        &s,
        c,
        &[
            "user",
            "add",
            "dev1",
            "--role",
            "subscriber",
            "--role",
            "creator",
            "--password-stdin",
        ],
        &line,
    )
    .await;
    assert!(added.contains("Added user dev1"), "{added}");
    let record = s.control().snapshot().find_user("dev1").cloned().unwrap();
    let mut roles: Vec<&str> = record.user.roles.iter().map(|r| r.as_str()).collect();
    roles.sort_unstable();
    assert_eq!(roles, ["creator", "subscriber"]);

    // Refusals say why, exit non-zero and change nothing.
    let dup = fails(&s, c, &["user", "add", "dev1", "--password-stdin"], &line).await;
    assert!(dup.contains("HTTP 409"), "{dup}");
    let short = fails(
        &s,
        c,
        &["user", "add", "dev2", "--password-stdin"],
        "short\n",
    )
    .await;
    assert!(
        short.contains("HTTP 400") && short.contains("12"),
        "{short}"
    );
    let role = fails(
        &s,
        c,
        &[
            "user",
            "add",
            "dev2",
            "--role",
            "wizard",
            "--password-stdin",
        ],
        &line,
    )
    .await;
    // The known roles, listed once.
    assert!(
        role.contains("wizard") && role.matches("subscriber").count() == 1,
        "{role}"
    );
    assert_eq!(user_names(&s), ["admin", "dev1"]);
    let unknown = fails(&s, c, &["user", "show", "nobody"], "").await;
    assert!(unknown.contains("no user 'nobody'"), "{unknown}");

    let list = ok(&s, c, &["user", "list"], "").await;
    assert!(list.starts_with("NAME"), "{list}");
    assert!(list.lines().any(|l| l.starts_with("dev1 ")), "{list}");
    assert!(list.lines().any(|l| l.starts_with("admin ")), "{list}");
    let quiet = ok(&s, c, &["user", "list", "--quiet"], "").await;
    let mut names: Vec<&str> = quiet.lines().collect();
    names.sort_unstable();
    assert_eq!(names, ["admin", "dev1"]);

    let shown = ok(&s, c, &["user", "show", "dev1", "--json"], "").await;
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["userName"], "dev1");
    assert_eq!(shown["id"], record.user.id.as_str());

    // passwd: the old password stops working, the new one works.
    let new_password = "a much longer new password";
    let changed = ok(
        &s,
        c,
        &["user", "passwd", "dev1", "--password-stdin"],
        &format!("{new_password}\n"),
    )
    .await;
    assert!(
        changed.contains("Changed the password of dev1"),
        "{changed}"
    );
    assert!(
        s.control()
            .authenticate_user("dev1", PASSWORD)
            .await
            .is_err()
    );
    assert!(
        s.control()
            .authenticate_user("dev1", new_password)
            .await
            .is_ok()
    );
    let short = fails(
        &s,
        c,
        &["user", "passwd", "dev1", "--password-stdin"],
        "tiny\n",
    )
    .await;
    assert!(short.contains("HTTP 400"), "{short}");

    let removed = ok(&s, c, &["user", "remove", "dev1"], "").await;
    assert!(removed.contains("Removed user dev1"), "{removed}");
    assert_eq!(user_names(&s), ["admin"]);
    let again = fails(&s, c, &["user", "remove", "dev1"], "").await;
    assert!(again.contains("no user 'dev1'"), "{again}");
}

/// The stored login of `url` in the config dir `c`.
fn stored(c: &Path, url: &str) -> Option<Value> {
    let text = std::fs::read_to_string(c.join("streamgate").join("token")).ok()?;
    let all: Value = serde_json::from_str(&text).unwrap();
    all.get(url).cloned()
}

#[tokio::test]
async fn login_stores_the_users_own_token_which_the_client_uses_until_logout() {
    let s = TestServer::start().await;
    let admin_config = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let c = config.path();
    ok(
        &s,
        admin_config.path(),
        &[
            "user",
            "add",
            "dev1",
            "--role",
            "subscriber",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    )
    .await;

    // A wrong password stores nothing.
    let wrong = fails(
        &s,
        c,
        &["login", "--user", "dev1", "--password-stdin"],
        "not the password at all\n",
    )
    .await;
    assert!(
        wrong.contains("invalid_grant") && wrong.contains("400"),
        "{wrong}"
    );
    assert!(!c.join("streamgate").join("token").exists());

    let out = ok(
        &s,
        c,
        &["login", "--user", "dev1", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    )
    .await;
    assert!(out.contains("as dev1"), "{out}");
    let login = stored(c, &s.mgmt_url()).unwrap();
    assert_eq!(login["user"], "dev1");
    let token = login["accessToken"].as_str().unwrap().to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&c.join("streamgate").join("token")), 0o600);
        assert_eq!(mode(&c.join("streamgate")), 0o700);
    }

    // The login token wins over the data dir's admin token: the application is dev1's.
    ok(&s, c, &["app", "create", "Mine"], "").await;
    let app = s
        .control()
        .snapshot()
        .applications
        .values()
        .find(|a| a.name == "Mine")
        .cloned()
        .unwrap();
    assert_eq!(app.owner, "dev1");
    // A 403 names the scope that was missing and whose token it was.
    let denied = fails(&s, c, &["user", "list"], "").await;
    assert!(
        denied.contains("HTTP 403")
            && denied.contains("internal_user_mgt_list")
            && denied.contains("dev1"),
        "{denied}"
    );
    // --admin-token wins over the login.
    let listed = ok(
        &s,
        c,
        &["user", "list", "--quiet", "--admin-token", s.admin_token()],
        "",
    )
    .await;
    assert!(listed.lines().any(|l| l == "dev1"), "{listed}");

    // A password change revokes the stored token: the hint says to log in again.
    ok(
        &s,
        admin_config.path(),
        &["user", "passwd", "dev1", "--password-stdin"],
        "another long password\n",
    )
    .await;
    let stale = fails(&s, c, &["app", "list"], "").await;
    assert!(
        stale.contains("HTTP 401") && stale.contains("run `streamgate login"),
        "{stale}"
    );

    // Log in again, then log out: the token is revoked at the server and forgotten.
    ok(
        &s,
        c,
        &["login", "--user", "dev1", "--password-stdin"],
        "another long password\n",
    )
    .await;
    let token2 = stored(c, &s.mgmt_url()).unwrap()["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(token, token2);
    let (status, _) = bearer(&s, &token2).await;
    assert_eq!(status, StatusCode::OK);
    let out = ok(&s, c, &["logout"], "").await;
    assert!(out.contains("Signed out"), "{out}");
    assert!(!c.join("streamgate").join("token").exists());
    let (status, body) = bearer(&s, &token2).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.to_string().contains("revoked"), "{body}");
    // Without a login the client is the local operator again (the data dir's token).
    let listed = ok(&s, c, &["app", "list", "--quiet"], "").await;
    assert!(listed.lines().any(|l| l == app.id), "{listed}");
    let out = ok(&s, c, &["logout"], "").await;
    assert!(out.contains("Not signed in"), "{out}");
}

/// `GET /applications` with a bearer token.
async fn bearer(s: &TestServer, token: &str) -> (StatusCode, Value) {
    let resp = s
        .anon(Method::GET, &devportal("/applications"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn login_keeps_one_token_per_management_api_url() {
    let a = TestServer::start().await;
    let b = TestServer::start().await;
    let config = tempfile::tempdir().unwrap();
    let c = config.path();
    for s in [&a, &b] {
        ok(
            s,
            c,
            &["user", "add", "dev1", "--password-stdin"],
            &format!("{PASSWORD}\n"),
        )
        .await;
        ok(
            s,
            c,
            &["login", "--user", "dev1", "--password-stdin"],
            &format!("{PASSWORD}\n"),
        )
        .await;
    }
    assert!(stored(c, &a.mgmt_url()).is_some());
    assert!(stored(c, &b.mgmt_url()).is_some());
    ok(&a, c, &["logout"], "").await;
    assert!(stored(c, &a.mgmt_url()).is_none());
    assert!(stored(c, &b.mgmt_url()).is_some());
    let denied = fails(&b, c, &["user", "add", "x", "--password-stdin"], "x\n").await;
    assert!(denied.contains("internal_user_mgt_create"), "{denied}");
}

/// `api list` by a subscriber, whom the Publisher's list refuses (403: it needs the
/// creator's or publisher's scopes): the Developer Portal's list instead, the APIs they can
/// subscribe to, under a one-line note that says so; an API still CREATED is not in it.
#[tokio::test]
async fn a_subscriber_lists_the_dev_portals_apis() {
    let s = TestServer::start().await;
    // The local operator (the data dir's admin token) publishes one API, not the other.
    let admin = tempfile::tempdir().unwrap();
    let a = admin.path();
    let id = ok(&s, a, &observer_create(&["-q"]), "").await;
    let id = id.trim();
    ok(&s, a, &["api", "plans", "Observer:1.0.0", "AsyncGold"], "").await;
    ok(
        &s,
        a,
        &["api", "lifecycle", "Observer:1.0.0", "Publish"],
        "",
    )
    .await;
    ok(
        &s,
        a,
        &api_create("Draft", "/draft", "1.0.0", "http://localhost:8080"),
        "",
    )
    .await;
    ok(
        &s,
        a,
        &[
            "user",
            "add",
            "dev1",
            "--role",
            "subscriber",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    )
    .await;
    let config = tempfile::tempdir().unwrap();
    let c = config.path();
    ok(
        &s,
        c,
        &["login", "--user", "dev1", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    )
    .await;

    let out = run(&s, c, &["api", "list"], "").await;
    assert!(out.ok, "{}", out.stderr);
    let mut lines = out.stdout.lines();
    let note = lines.next().unwrap();
    assert!(note.contains("from the Dev Portal"), "{}", out.stdout);
    assert!(note.chars().count() <= 80, "{note}");
    assert!(lines.next().unwrap().starts_with("ID "), "{}", out.stdout);
    assert!(
        out.stdout.contains("Observer:1.0.0") && out.stdout.contains("AsyncGold"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("Draft"), "{}", out.stdout);
    // --quiet: just the ids; the Publisher's list for the local operator is unchanged.
    let quiet = ok(&s, c, &["api", "list", "--quiet"], "").await;
    assert_eq!(quiet.trim(), id);
    let all = ok(&s, a, &["api", "list"], "").await;
    assert!(
        all.starts_with("ID ") && all.contains("Draft:1.0.0"),
        "{all}"
    );
}
