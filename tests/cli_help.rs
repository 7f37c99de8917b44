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
