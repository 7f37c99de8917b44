//! The client subcommands against a running management API: the tutorial from a shell,
//! `--json` and `--quiet` output, and the error messages people see.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn the_tutorial_runs_from_the_shell() {
    let s = TestServer::start().await;
    let id = ok(&s, &observer_create(&["--quiet"])).await;
    let id = id.trim();
    assert_eq!(id.len(), 36, "{id}");
    let list = ok(&s, &["api", "list"]).await;
    assert!(
        list.contains("Observer:1.0.0") && list.contains("CREATED"),
        "{list}"
    );
    assert!(list.starts_with("ID "), "{list}");
    let out = ok(&s, &["api", "plans", "Observer:1.0.0", "AsyncGold"]).await;
    assert_eq!(out, "Observer:1.0.0 now offers AsyncGold\n");
    let run = streamgate(&s, &["api", "lifecycle", "Observer:1.0.0", "Publish"]).await;
    assert!(run.ok, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("Observer:1.0.0: CREATED -> PUBLISHED"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("warning:") && run.stderr.contains("no deployed revision"));
    let out = ok(
        &s,
        &[
            "api",
            "deploy",
            "Observer:1.0.0",
            "--env",
            "Production and Sandbox",
            "--vhost",
            "localhost",
        ],
    )
    .await;
    assert_eq!(
        out,
        format!(
            "Deployed Revision 1 of Observer:1.0.0 to Production and Sandbox (vhost localhost): \
             {}/observer/1.0.0\n",
            s.public_gateway_url()
        )
    );
    assert!(s.control().view().routes.contains_key("/observer/1.0.0"));
    let deps = ok(&s, &["api", "deployments"]).await;
    assert!(
        deps.contains("Revision 1") && deps.contains("Production and Sandbox"),
        "{deps}"
    );
    let app = ok(&s, &["app", "create", "Tutorial", "-q"]).await;
    assert_eq!(app.trim().len(), 36);
    let out = ok(&s, &["subscribe", "Tutorial", "Observer:1.0.0"]).await;
    assert!(
        out.starts_with("Subscribed Tutorial to Observer:1.0.0 under AsyncGold"),
        "{out}"
    );
    let run = streamgate(&s, &["keys", "generate", "Tutorial", "-q"]).await;
    assert!(run.ok, "{}", run.stderr);
    assert!(run.stderr.contains("shown only now"));
    let (key, secret) = run.stdout.trim().split_once(':').unwrap();
    // The printed key:secret works at the token endpoint.
    let resp = s
        .http
        .post(format!("{}/oauth2/token", s.mgmt_url()))
        .basic_auth(key, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let token = ok(&s, &["token", "Tutorial", "--quiet"]).await;
    let claims = s.control().keys().verify(token.trim()).unwrap();
    assert_eq!(claims.azp, key);
    assert_eq!(claims.application.name, "Tutorial");
    let human = ok(&s, &["token", "Tutorial", "--validity", "60"]).await;
    assert!(
        human.starts_with("Access token for Tutorial (PRODUCTION), valid 60 s:\n"),
        "{human}"
    );
    // --json gives the server's answer.
    let shown: Value =
        serde_json::from_str(&ok(&s, &["api", "show", "Observer:1.0.0", "--json"]).await).unwrap();
    assert_eq!(shown["lifeCycleStatus"], "PUBLISHED");
    assert_eq!(shown["policies"][0], "AsyncGold");
    let shown = ok(&s, &["api", "show", id]).await;
    assert!(
        shown.contains("Revision 1: ") && shown.contains("deployed to Production and Sandbox"),
        "{shown}"
    );
    let app_shown = ok(&s, &["app", "show", "Tutorial"]).await;
    assert!(
        app_shown.contains("subscribed to Observer:1.0.0 under AsyncGold"),
        "{app_shown}"
    );
    assert!(
        app_shown.contains(&format!("PRODUCTION key: {key}")),
        "{app_shown}"
    );
    assert!(ok(&s, &["keys", "list", "Tutorial"]).await.contains(key));
    assert!(ok(&s, &["health"]).await.contains("is UP"));
}

#[tokio::test]
async fn plans_revisions_and_cleanup_commands_work() {
    let s = TestServer::start().await;
    let out = ok(
        &s,
        &[
            "plan",
            "create",
            "AsyncTiny",
            "--events",
            "10",
            "--per",
            "min",
        ],
    )
    .await;
    assert_eq!(out, "Created business plan AsyncTiny: 10 events / 1 min\n");
    ok(
        &s,
        &["plan", "create-app", "30PerMin", "--per-minute", "30"],
    )
    .await;
    let plans = ok(&s, &["plan", "list"]).await;
    assert!(
        plans.contains("AsyncTiny") && plans.contains("custom"),
        "{plans}"
    );
    assert!(plans.contains("AsyncUnlimited  unlimited"), "{plans}");
    assert!(
        plans.contains("30PerMin") && plans.contains("30 requests / 1 min"),
        "{plans}"
    );
    ok(
        &s,
        &[
            "api",
            "create",
            "--name",
            "Prices",
            "--context",
            "/prices",
            "--version",
            "2",
            "--production-endpoint",
            "http://localhost:9000",
            "--plan",
            "AsyncTiny",
            "--topic",
            "/eur",
        ],
    )
    .await;
    let rev = ok(&s, &["api", "deploy", "Prices:2", "-q"]).await;
    let revs = ok(&s, &["api", "revisions", "Prices:2"]).await;
    assert!(
        revs.contains(rev.trim()) && revs.contains("Production and Sandbox"),
        "{revs}"
    );
    let out = ok(&s, &["api", "undeploy", "Prices:2", "Revision 1"]).await;
    assert_eq!(
        out,
        "Undeployed Revision 1 of Prices:2 from Production and Sandbox\n"
    );
    assert!(s.control().view().routes.is_empty());
    let doc: Value = serde_json::from_str(&ok(&s, &["api", "asyncapi", "Prices:2"]).await).unwrap();
    assert!(doc["channels"]["/eur"].is_object());
    ok(
        &s,
        &["api", "lifecycle", "Prices:2", "Deploy as a Prototype"],
    )
    .await;
    ok(&s, &["app", "create", "Shop", "--policy", "30PerMin"]).await;
    ok(&s, &["subscribe", "Shop", "Prices:2"]).await;
    let err = fails(&s, &["api", "delete", "Prices:2"]).await;
    assert!(err.contains("subscription"), "{err}");
    ok(&s, &["unsubscribe", "Shop", "Prices:2"]).await;
    assert_eq!(
        ok(&s, &["api", "delete", "Prices:2"]).await,
        "Deleted API Prices:2\n"
    );
    assert_eq!(
        ok(&s, &["app", "delete", "Shop"]).await,
        "Deleted application Shop\n"
    );
    assert!(
        ok(&s, &["app", "list"])
            .await
            .starts_with("No applications yet")
    );
}

#[tokio::test]
async fn errors_are_clear_on_stderr_with_a_failure_status() {
    let s = TestServer::start().await;
    let err = fails(&s, &["api", "show", "Nope:1"]).await;
    assert!(err.starts_with("error: no API 'Nope:1'"), "{err}");
    ok(&s, &observer_create(&[])).await;
    let err = fails(
        &s,
        &api_create("Other", "/observer", "1.0.0", "http://localhost:8080"),
    )
    .await;
    assert!(
        err.starts_with("error: Conflict (HTTP 409): context '/observer'"),
        "{err}"
    );
    let err = fails(&s, &api_create("Bad", "bad", "1", "http://x")).await;
    assert!(err.contains("(HTTP 400): context:"), "{err}");
    let err = fails(&s, &["api", "lifecycle", "Observer:1.0.0", "Retire"]).await;
    assert!(
        err.contains("'Retire' is not allowed for an API in state CREATED"),
        "{err}"
    );
    ok(&s, &["app", "create", "Tutorial"]).await;
    let err = fails(&s, &["token", "Tutorial", "--key-type", "SANDBOX"]).await;
    assert!(
        err.contains(
            "has no SANDBOX keys: run `streamgate keys generate Tutorial --key-type SANDBOX` first"
        ),
        "{err}"
    );
    let err = fails(&s, &["subscribe", "Tutorial", "Observer:1.0.0"]).await;
    assert!(err.contains("only PUBLISHED or PRE-RELEASED"), "{err}");
    // Nobody listening.
    let err = fails(&s, &["--admin-url", "http://127.0.0.1:1", "api", "list"]).await;
    assert!(
        err.starts_with(
            "error: cannot reach the management API at http://127.0.0.1:1: is `streamgate serve` running?"
        ),
        "{err}"
    );
    // A wrong token, and no token at all.
    let err = fails(&s, &["--admin-token", "wrong", "api", "list"]).await;
    assert!(err.contains("Invalid Credentials (HTTP 401)"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let err = fails(
        &s,
        &["--data-dir", empty.path().to_str().unwrap(), "api", "list"],
    )
    .await;
    assert!(err.contains("no admin token at"), "{err}");
}

/// What a lifecycle change says when the API it makes subscribable has nothing deployed.
const NOTHING_DEPLOYED: &str = "no deployed revision";

/// A revision `api deploy` acknowledged is never reported missing afterwards: the
/// lifecycle change run right after it (the only command that warns about it), and the
/// `subscribe` and `token` after that, print no "no deployed revision" warning, round
/// after round; publishing with nothing deployed, or after undeploying everything, still
/// warns.
#[tokio::test]
async fn a_deployed_revision_is_never_reported_missing() {
    let s = TestServer::start().await;
    let deploy = |handle: String| {
        let s = &s;
        async move {
            let rev = ok(
                s,
                &[
                    "api",
                    "deploy",
                    &handle,
                    "--env",
                    "Production and Sandbox",
                    "--vhost",
                    "localhost",
                    "-q",
                ],
            )
            .await;
            rev.trim().to_string()
        }
    };
    let no_warning = |args: &[&str], run: &common::Run| {
        assert!(run.ok, "{args:?}: {}", run.stderr);
        assert!(
            !run.stderr.contains(NOTHING_DEPLOYED),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("warning:"), "{args:?}: {}", run.stderr);
    };
    for i in 0..5 {
        let name = format!("Deployed{i}");
        let context = format!("/deployed{i}");
        ok(
            &s,
            &api_create(&name, &context, "1.0.0", "http://localhost:8080"),
        )
        .await;
        let handle = format!("{name}:1.0.0");
        ok(&s, &["api", "plans", &handle, "AsyncGold"]).await;
        deploy(handle.clone()).await;
        let publish = ["api", "lifecycle", &handle, "Publish"];
        no_warning(&publish, &streamgate(&s, &publish).await);
        // Again, after a new revision replaces the first one.
        ok(&s, &["api", "lifecycle", &handle, "Demote to Created"]).await;
        deploy(handle.clone()).await;
        no_warning(&publish, &streamgate(&s, &publish).await);
        let app = format!("App{i}");
        ok(&s, &["app", "create", &app, "-q"]).await;
        let subscribe = ["subscribe", &app, &handle];
        no_warning(&subscribe, &streamgate(&s, &subscribe).await);
        ok(&s, &["keys", "generate", &app, "-q"]).await;
        let token = ["token", &app, "-q"];
        no_warning(&token, &streamgate(&s, &token).await);
    }
    // Nothing deployed: the warning stays.
    ok(
        &s,
        &api_create("Bare", "/bare", "1.0.0", "http://localhost:8080"),
    )
    .await;
    ok(&s, &["api", "plans", "Bare:1.0.0", "AsyncGold"]).await;
    let run = streamgate(&s, &["api", "lifecycle", "Bare:1.0.0", "Publish"]).await;
    assert!(run.ok, "{}", run.stderr);
    assert!(run.stderr.contains(NOTHING_DEPLOYED), "{}", run.stderr);
    // Deployed, then undeployed everywhere: the warning is back.
    ok(&s, &["api", "lifecycle", "Bare:1.0.0", "Demote to Created"]).await;
    let rev = deploy("Bare:1.0.0".to_string()).await;
    ok(&s, &["api", "undeploy", "Bare:1.0.0", &rev]).await;
    let run = streamgate(&s, &["api", "lifecycle", "Bare:1.0.0", "Publish"]).await;
    assert!(run.ok, "{}", run.stderr);
    assert!(run.stderr.contains(NOTHING_DEPLOYED), "{}", run.stderr);
}
