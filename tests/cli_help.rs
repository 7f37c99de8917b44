//! Each subcommand's `--help` shows only the options that apply to it: the client flags
//! (`--admin-url`, `--admin-token`, `--json`, `--quiet`) on the client subcommands, not on
//! `serve`; and the client flags keep working before or after the subcommand.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

fn streamgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_streamgate"))
        .args(args)
        .env_remove("STREAMGATE_ADMIN_URL")
        .env_remove("STREAMGATE_ADMIN_TOKEN")
        .output()
        .unwrap()
}

/// Runs `streamgate args`, which must exit with 2 (a usage error); its output and stderr.
fn usage_error(args: &[&str]) -> (Output, String) {
    let out = streamgate(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    (out, err)
}

fn help(args: &[&str]) -> String {
    let out = streamgate(args);
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const CLIENT_FLAGS: [&str; 4] = ["--admin-url", "--admin-token", "--json", "--quiet"];

/// `{subcommand} --help`, asserting that it mentions none of the client flags.
fn help_without_client_flags(subcommand: &str) -> String {
    let text = help(&[subcommand, "--help"]);
    for flag in CLIENT_FLAGS {
        assert!(
            !text.contains(flag),
            "{subcommand} --help mentions {flag}:\n{text}"
        );
    }
    text
}

#[test]
fn serve_help_shows_no_client_flags() {
    let text = help_without_client_flags("serve");
    assert!(text.contains("--admin-addr"), "{text}");
    assert!(text.contains("--data-dir"), "{text}");
}

#[test]
fn backend_help_shows_no_client_flags() {
    help_without_client_flags("backend");
}

#[test]
fn client_subcommands_show_the_client_flags() {
    for args in [
        &["api", "create", "--help"][..],
        &["api", "list", "--help"],
        &["app", "create", "--help"],
        &["subscribe", "--help"],
        &["keys", "generate", "--help"],
        &["token", "--help"],
        &["plan", "list", "--help"],
        &["health", "--help"],
    ] {
        let text = help(args);
        for flag in CLIENT_FLAGS {
            assert!(
                text.contains(flag),
                "{args:?} does not mention {flag}:\n{text}"
            );
        }
    }
}

/// The flags parse in both places; nothing listens on port 1, so the command gets as far
/// as connecting and says so.
#[test]
fn client_flags_work_before_and_after_the_subcommand() {
    // Each command line split at spaces.
    for line in [
        "--admin-url http://127.0.0.1:1 --admin-token t --json api list",
        "api list --admin-url http://127.0.0.1:1 --admin-token t --json",
        "api --admin-url http://127.0.0.1:1 --admin-token t list -q",
        "health --admin-url http://127.0.0.1:1 --quiet",
    ] {
        let args: Vec<&str> = line.split_whitespace().collect();
        let args = &args[..];
        let out = streamgate(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            err.starts_with("error: cannot reach the management API at http://127.0.0.1:1"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn json_and_quiet_still_conflict() {
    for args in [
        &["api", "list", "--json", "--quiet"][..],
        &["--json", "api", "list", "--quiet"],
    ] {
        let (_, err) = usage_error(args);
        assert!(err.contains("cannot be used with"), "{args:?}: {err}");
    }
}

/// A server option before a subcommand would apply only to the terminal UI, which the
/// subcommand does not run: refused with a pointer to where it belongs, nothing started.
#[test]
fn server_options_before_a_subcommand_are_refused_not_ignored() {
    for (args, flag) in [
        (
            &["--gateway-workers", "4", "serve"][..],
            "--gateway-workers",
        ),
        (
            &["--gateway-addr", "127.0.0.1:1", "serve"],
            "--gateway-addr",
        ),
        (
            &["--admin-addr", "127.0.0.1:1", "api", "list"],
            "--admin-addr",
        ),
    ] {
        let (out, err) = usage_error(args);
        assert!(
            err.starts_with(&format!(
                "error: {flag} is an option of the terminal UI's servers"
            )),
            "{args:?}: {err}"
        );
        assert!(err.contains(&format!("streamgate serve {flag}")), "{err}");
        assert!(out.stdout.is_empty(), "nothing started: {args:?}");
    }
}

#[test]
fn gateway_workers_out_of_range_is_a_clear_error() {
    for value in ["-1", "5000", "abc"] {
        let (_, err) = usage_error(&["serve", "--gateway-workers", value]);
        assert!(
            err.contains(&format!(
                "invalid value '{value}' for '--gateway-workers <N>'"
            )),
            "{value}: {err}"
        );
    }
}

/// Every variable that may carry a secret, set to a value with one in it.
const SECRET_VARS: [(&str, &str); 3] = [
    ("STREAMGATE_REDIS", "redis://:TOPSECRET1@10.0.0.5:6379"),
    ("STREAMGATE_ADMIN_TOKEN", "TOPSECRET2"),
    (
        "STREAMGATE_ADMIN_URL",
        "https://user:TOPSECRET3@127.0.0.1:1",
    ),
];

/// `streamgate args` with [`SECRET_VARS`] set and nothing else of streamgate's; `stdin`
/// closed so nothing waits on it.
fn with_secrets(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_streamgate"));
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .env_remove("STREAMGATE_DATA_DIR");
    for (name, value) in SECRET_VARS {
        cmd.env(name, value);
    }
    cmd.output().unwrap()
}

#[test]
fn help_shows_no_variables_value_that_may_carry_a_secret() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["gateway", "--help"],
        &["api", "list", "--help"],
        &["cert", "add", "--help"],
        &["health", "--help"],
    ] {
        let out = with_secrets(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("TOPSECRET"), "{args:?}:\n{text}");
        assert!(!text.contains("10.0.0.5"), "{args:?}:\n{text}");
    }
    // The variables are still named.
    let serve = with_secrets(&["serve", "--help"]);
    assert!(String::from_utf8_lossy(&serve.stdout).contains("[env: STREAMGATE_REDIS]"));
    let gateway = with_secrets(&["gateway", "--help"]);
    assert!(String::from_utf8_lossy(&gateway.stdout).contains("[env: STREAMGATE_REDIS]"));
    let list = with_secrets(&["api", "list", "--help"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("[env: STREAMGATE_ADMIN_URL]"));
}

#[test]
fn a_client_error_names_the_admin_url_without_its_password() {
    let out = with_secrets(&["api", "list"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("https://user:***@127.0.0.1:1"), "{err}");
    assert!(!err.contains("TOPSECRET"), "{err}");
}

/// `serve` on free ports of 127.0.0.1 over a temp data dir, with `redis` as
/// `STREAMGATE_REDIS`: the child, and the data dir it uses.
fn serve_with_redis(redis: &str) -> (std::process::Child, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_streamgate"))
        .args([
            "serve",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--admin-addr",
            "127.0.0.1:0",
            "--gateway-addr",
            "127.0.0.1:0",
            "--gateway-tls-addr",
            "127.0.0.1:0",
        ])
        .env("STREAMGATE_REDIS", redis)
        .env_remove("STREAMGATE_DATA_DIR")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    (child, dir)
}

/// Waits up to 60 s for `child` to exit; kills it (by its own handle) if it does not.
fn exit_within(child: &mut std::process::Child) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn a_redis_url_that_does_not_parse_is_named_without_its_password() {
    let (mut child, _dir) = serve_with_redis("redis://:TOPSECRETPW@127.0.0.1:notaport");
    let status = exit_within(&mut child).expect("serve stops on a bad --redis");
    assert!(!status.success());
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("TOPSECRETPW"), "{text}");
    assert!(text.contains("redis://:***@127.0.0.1:notaport"), "{text}");
}

#[test]
fn an_empty_streamgate_redis_means_no_redis() {
    use std::io::BufRead;
    let (mut child, _dir) = serve_with_redis("");
    let stdout = child.stdout.take().unwrap();
    let mut started = false;
    for line in std::io::BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if line.contains("gateway listening on http://") {
            started = true;
            break;
        }
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(started, "serve did not start: {err}");
    assert!(!err.contains("quota store"), "{err}");
}

/// A node's HTTPS certificate without the HTTPS gateway's address would be silently
/// unused (a node has no HTTPS gateway unless `--gateway-tls-addr` is given): refused.
#[test]
fn a_nodes_tls_certificate_needs_its_https_address() {
    let (_, err) = usage_error(&[
        "gateway",
        "--control-plane",
        "http://127.0.0.1:9",
        "--node-token",
        "node.token",
        "--tls-cert",
        "cert.pem",
        "--tls-key",
        "key.pem",
    ]);
    assert!(err.contains("--gateway-tls-addr"), "{err}");
}
