//! scripts/tutorial.sh end to end: the real `streamgate serve` and `streamgate backend` on
//! free ports, the whole tutorial through the CLI, and live memory events through the
//! gateway with the tutorial's own curl.
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn the_tutorial_script_streams_memory_events_through_the_gateway() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/tutorial.sh");
    let out = Command::new("bash")
        .arg(script)
        .args(["--stream-seconds", "4"])
        .env("STREAMGATE_BIN", env!("CARGO_BIN_EXE_streamgate"))
        .env_remove("STREAMGATE_ADMIN_URL")
        .env_remove("STREAMGATE_DATA_DIR")
        .env_remove("STREAMGATE_ADMIN_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tutorial.sh failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("Created API Observer:1.0.0"), "{stdout}");
    assert!(
        stdout.contains("Observer:1.0.0: CREATED -> PUBLISHED"),
        "{stdout}"
    );
    assert!(stdout.contains("Deployed Revision 1 of Observer:1.0.0 to Production and Sandbox"));
    let events = stdout.lines().filter(|l| l.starts_with("data:")).count();
    assert!(events >= 1, "no events in:\n{stdout}");
    assert!(stdout.contains("\"identifier\":\"ram_"), "{stdout}");
    assert!(stdout.contains("memory events streamed through the gateway"));
    // The second run: dev1, a subscriber, signed in with their own token.
    assert!(stdout.contains("Added user dev1"), "{stdout}");
    assert!(stdout.contains("as dev1; token stored in"), "{stdout}");
    assert!(
        stdout.contains("== dev1: ") && stdout.contains("== dev1 was refused: 403"),
        "{stdout}"
    );
    assert!(stdout.contains("apim:api_create"), "{stdout}");
}
