//! The status line is one row of an 80x24 screen: after each step of the tutorial, driven
//! by keys through the real runtime (real control in a temp dir, the real gateway on
//! 127.0.0.1:0, the memory backend started from the Servers screen), what it says next
//! must be on screen, not cut off with "...".
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use crossterm::event::KeyCode;
use streamgate::catalog::LifecycleState;
use streamgate::gateway::{Gateway, GatewayOptions};
use streamgate::telemetry::Telemetry;
use streamgate::tui::app::App;
use streamgate::tui::screens::publisher::PublisherView;
use streamgate::tui::screens::servers::BackendState;
use streamgate::tui::{Harness, TuiContext, TuiOptions};

use KeyCode::{Down, Enter};

/// A failure guard only: every wait ends as soon as its condition holds.
const WAIT: Duration = Duration::from_secs(15);

/// The last row of the rendered screen: the status line, without its quotes.
fn status_row(harness: &mut Harness) -> String {
    let screen = harness.render();
    let last = screen.lines().last().unwrap_or_default().to_string();
    last.trim_matches('"').trim_end().to_string()
}

async fn wait(harness: &mut Harness, what: &str, done: impl Fn(&App) -> bool) {
    if let Err(e) = harness.wait_for(what, WAIT, done).await {
        panic!("{e}");
    }
}

/// Waits for the status to say `needle`, then checks that the rendered row shows it.
async fn status_shows(harness: &mut Harness, needle: &str) -> String {
    wait(harness, needle, |a| {
        a.status.as_ref().is_some_and(|s| s.text.contains(needle))
    })
    .await;
    let row = status_row(harness);
    assert!(row.contains(needle), "cut off: {row:?}, wanted {needle:?}");
    row
}

fn observer(app: &App) -> Option<&streamgate::catalog::Api> {
    app.catalog.find_api("Observer:1.0.0")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tutorial_step_says_what_is_next_within_80_columns() {
    let dir = tempfile::tempdir().unwrap();
    let control = common::open_control(dir.path()).await;
    let telemetry = Telemetry::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = listener.local_addr().unwrap();
    let gw = Gateway::new(
        control.clone(),
        telemetry.clone(),
        GatewayOptions::default(),
    )
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let gateway_task = tokio::spawn(gw.serve(listener, async {
        let _ = stopped.await;
    }));
    // The backend the UI starts later, on a port free now.
    let backend: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let ctx = TuiContext {
        control,
        telemetry,
        admin: Err("not started in this test".into()),
        gateway: Ok(gateway),
        backend_addr: backend,
        data_dir: dir.path().to_path_buf(),
        principal: streamgate::control::Principal::local_operator(),
        signed_in: false,
        tls: None,
    };
    let mut h = Harness::new(ctx, &TuiOptions::default(), 80, 24).unwrap();

    // Create the API.
    for code in [KeyCode::Char('n'), Enter, Enter] {
        h.key(code);
    }
    for value in [
        "Observer",
        "/observer",
        "1.0.0",
        &format!("http://{backend}"),
    ] {
        h.type_text(value);
        h.key(Enter);
    }
    h.key(Enter);
    wait(&mut h, "the API's overview", |a| {
        observer(a).is_some() && matches!(a.publisher.view, PublisherView::Api(_))
    })
    .await;
    status_shows(&mut h, "Next: Business Plans (l)").await;

    // Business Plans: AsyncGold, saved.
    for c in ['l', 'j', 'j', ' ', 's'] {
        h.key(KeyCode::Char(c));
    }
    wait(&mut h, "AsyncGold saved", |a| {
        observer(a).is_some_and(|api| api.policies.contains(&"AsyncGold".to_string()))
    })
    .await;
    status_shows(&mut h, "Next: Lifecycle (l) to publish").await;
    assert!(
        h.app().live.lines().iter().any(|l| l
            .text
            .contains("Saved business plans of Observer:1.0.0: AsyncGold")),
        "the live pane keeps the plans saved"
    );

    // Publish: published but not deployed yet, and where to deploy.
    for code in [KeyCode::Char('l'), Enter, KeyCode::Char('y')] {
        h.key(code);
    }
    wait(&mut h, "published", |a| {
        observer(a).is_some_and(|api| api.lifecycle == LifecycleState::Published)
    })
    .await;
    status_shows(&mut h, "Published, not deployed yet: Deployments (l), n").await;
    assert!(
        h.app()
            .live
            .lines()
            .iter()
            .any(|l| l.text.contains("has no deployed revision")),
        "the live pane keeps the whole warning"
    );

    // Deploy: the status line names the URL the gateway serves the API at.
    for code in [
        KeyCode::Char('l'),
        KeyCode::Char('n'),
        KeyCode::Char(' '),
        Down,
        Enter,
    ] {
        h.key(code);
    }
    wait(&mut h, "deployed", |a| {
        observer(a).is_some_and(|api| !a.catalog.deployments_of(&api.id).is_empty())
    })
    .await;
    let url = format!("http://localhost:{}/observer/1.0.0", gateway.port());
    status_shows(
        &mut h,
        &format!("Revision 1 of Observer:1.0.0 deployed: {url}"),
    )
    .await;

    // The memory backend: where it listens.
    h.key(KeyCode::Char('3'));
    h.key(KeyCode::Char('s'));
    wait(&mut h, "backend running", |a| {
        matches!(a.servers.backend, BackendState::Running(_))
    })
    .await;
    let row = status_shows(&mut h, &format!("running on http://{backend}/memory")).await;
    assert_eq!(
        row,
        format!(" Memory backend running on http://{backend}/memory")
    );

    h.shutdown().await;
    let _ = stop.send(());
    gateway_task.await.unwrap().unwrap();
}
