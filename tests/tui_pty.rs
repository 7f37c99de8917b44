//! The real binary in a real pseudo-terminal (util-linux `script`): it starts, draws, quits
//! on `q`, and leaves the terminal as it found it (main screen, cursor shown, cooked mode).
//! Without a terminal it draws nothing and points to `streamgate serve`.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A failure guard only: waits end as soon as their condition holds.
const WAIT: Duration = Duration::from_secs(30);

/// The binary under test.
fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_streamgate"))
}

fn has_script() -> bool {
    Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn wait_until(output: &Arc<Mutex<Vec<u8>>>, what: &str, done: impl Fn(&str) -> bool) {
    let start = Instant::now();
    loop {
        let text = String::from_utf8_lossy(&output.lock().unwrap()).into_owned();
        if done(&text) {
            return;
        }
        assert!(
            start.elapsed() < WAIT,
            "timed out waiting for {what}; output so far:\n{text:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_binary_starts_draws_and_quits_with_the_terminal_restored() {
    if !has_script() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let command = format!(
        "stty cols 80 rows 24; '{}' --data-dir '{}' --admin-addr 127.0.0.1:0 --gateway-addr 127.0.0.1:0; status=$?; echo; echo STTY; stty -a; exit $status",
        binary().display(),
        dir.path().display()
    );
    let mut child = Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().unwrap();
    let sink = output.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    wait_until(&output, "the first frame", |t| {
        t.contains("Publisher") && t.contains("Live events")
    });
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"q").unwrap();
    stdin.flush().unwrap();
    wait_until(&output, "the shell after the UI", |t| t.contains("STTY"));
    let status = child.wait().unwrap();
    drop(stdin);
    reader.join().unwrap();
    let text = String::from_utf8_lossy(&output.lock().unwrap()).into_owned();
    assert!(status.success(), "exit {status:?}; output:\n{text:?}");
    let entered = text
        .find("\x1b[?1049h")
        .expect("entered the alternate screen");
    let left = text
        .rfind("\x1b[?1049l")
        .expect("left the alternate screen");
    assert!(entered < left);
    assert!(text[left..].contains("\x1b[?25h"), "cursor shown again");
    let stty = &text[text.rfind("STTY").unwrap()..];
    let flags: Vec<&str> = stty.split_whitespace().collect();
    for flag in ["icanon", "echo", "isig"] {
        assert!(flags.contains(&flag), "{flag} not restored:\n{stty}");
    }
}

#[test]
fn without_a_terminal_streamgate_says_to_use_serve() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(binary())
        .args(["--data-dir"])
        .arg(dir.path())
        .args([
            "--admin-addr",
            "127.0.0.1:0",
            "--gateway-addr",
            "127.0.0.1:0",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "{all}");
    assert!(all.contains("streamgate serve"), "{all}");
    assert!(!all.contains("\x1b["), "drew on a pipe: {all:?}");
}
