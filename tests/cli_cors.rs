//! `streamgate api create/update/show` with the per-API CORS flags, against a real server.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

#[tokio::test]
async fn cors_flags_are_sent_shown_and_refused_with_the_servers_reason() {
    let s = TestServer::start().await;
    // Credentials with origin `*`: the server's 400 is printed and no API is created.
    let bad = observer_create(&["--cors-enabled", "--cors-origin", "*", "--cors-credentials"]);
    let run = streamgate(&s, &bad).await;
    assert!(!run.ok, "{}", run.stdout);
    assert!(run.stderr.contains("corsConfiguration"), "{}", run.stderr);
    let list = streamgate(&s, &["api", "list"]).await;
    assert!(!list.stdout.contains("Observer"), "{}", list.stdout);

    let good = observer_create(&[
        "--cors-enabled",
        "--cors-origin",
        "https://app.example.com",
        "--cors-origin",
        "https://other.example.com",
        "--cors-credentials",
        "--cors-header",
        "Last-Event-ID",
        "--cors-method",
        "GET",
    ]);
    let run = streamgate(&s, &good).await;
    assert!(run.ok, "{}", run.stderr);
    let show = streamgate(&s, &["api", "show", "Observer:1.0.0"]).await;
    assert!(
        show.stdout.contains(
            "cors:        enabled; origins https://app.example.com, https://other.example.com; \
             credentials yes; headers Last-Event-ID; methods GET"
        ),
        "{}",
        show.stdout
    );
    let json = streamgate(&s, &["api", "show", "Observer:1.0.0", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        v["corsConfiguration"]["accessControlAllowOrigins"][1],
        "https://other.example.com"
    );

    // An invalid update is refused and changes nothing.
    let run = streamgate(
        &s,
        &[
            "api",
            "update",
            "Observer:1.0.0",
            "--cors-enabled",
            "--cors-origin",
            "ftp://x/y",
        ],
    )
    .await;
    assert!(
        !run.ok && run.stderr.contains("corsConfiguration"),
        "{}",
        run.stderr
    );
    let show = streamgate(&s, &["api", "show", "Observer:1.0.0"]).await;
    assert!(show.stdout.contains("credentials yes"), "{}", show.stdout);

    // A valid update replaces it.
    let run = streamgate(
        &s,
        &["api", "update", "Observer:1.0.0", "--cors-origin", "*"],
    )
    .await;
    assert!(run.ok, "{}", run.stderr);
    assert!(run.stdout.contains("CORS: disabled"), "{}", run.stdout);
    let run = streamgate(&s, &["api", "update", "Observer:1.0.0"]).await;
    assert!(
        !run.ok && run.stderr.contains("nothing to update"),
        "{}",
        run.stderr
    );
}
