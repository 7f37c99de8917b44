//! The whole tutorial driven by key events through the real runtime: real control (redb in
//! a temp dir), the real gateway on 127.0.0.1:0, the memory backend started from the
//! Servers screen, a Try-it stream, and an outside client seen in the traffic log.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use streamgate::catalog::LifecycleState;
use streamgate::gateway::{Gateway, GatewayOptions};
use streamgate::telemetry::Telemetry;
use streamgate::tui::action::{Action, StreamItem, StreamUpdate, Tab};
use streamgate::tui::app::{App, StreamState};
use streamgate::tui::runtime::{Flow, MAX_BATCH};
use streamgate::tui::screens::live::LineKind;
use streamgate::tui::screens::portal::PortalView;
use streamgate::tui::screens::publisher::PublisherView;
use streamgate::tui::screens::servers::BackendState;
use streamgate::tui::screens::tutorial;
use streamgate::tui::screens::wizard::WizardStep;
use streamgate::tui::{Harness, TuiContext, TuiOptions};
use tokio::sync::oneshot;

use KeyCode::{Backspace, Char, Down, Enter};

/// A failure guard only: every wait ends as soon as its condition holds.
const WAIT: Duration = Duration::from_secs(15);

struct World {
    harness: Harness,
    gateway: SocketAddr,
    backend: SocketAddr,
    stop_gateway: oneshot::Sender<()>,
    gateway_task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

/// A port nobody listens on now, for the backend the UI starts later (the API's
/// endpoint must name it before it runs, as in the tutorial).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_path_buf();
    let control = common::open_control(&data_dir).await;
    let telemetry = Telemetry::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = listener.local_addr().unwrap();
    let gw = Gateway::new(
        control.clone(),
        telemetry.clone(),
        GatewayOptions::default(),
    )
    .unwrap();
    let (stop_gateway, stopped) = oneshot::channel::<()>();
    let gateway_task = tokio::spawn(gw.serve(listener, async {
        let _ = stopped.await;
    }));
    let backend: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let ctx = TuiContext {
        control,
        telemetry,
        admin: Err("not started in this test".into()),
        gateway: Ok(gateway),
        backend_addr: backend,
        data_dir,
        principal: streamgate::control::Principal::local_operator(),
        signed_in: false,
        tls: None,
    };
    let harness = Harness::new(ctx, &TuiOptions::default(), 80, 24).unwrap();
    World {
        harness,
        gateway,
        backend,
        stop_gateway,
        gateway_task,
        _dir: dir,
    }
}

impl World {
    fn keys(&mut self, codes: &[KeyCode]) {
        for c in codes {
            self.harness.key(*c);
        }
    }

    async fn wait(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        if let Err(e) = self.harness.wait_for(what, WAIT, done).await {
            panic!("{e}");
        }
    }

    async fn finish(self) {
        self.harness.shutdown().await;
        let _ = self.stop_gateway.send(());
        self.gateway_task.await.unwrap().unwrap();
    }
}

fn observer(app: &App) -> Option<&streamgate::catalog::Api> {
    app.catalog.find_api("Observer:1.0.0")
}

fn live_has(app: &App, kind: LineKind, needle: &str) -> bool {
    app.live
        .lines()
        .iter()
        .any(|l| l.kind == kind && l.text.contains(needle))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_tutorial_by_keys_ends_with_memory_events_in_the_live_pane() {
    let mut w = world().await;
    assert_eq!(tutorial::next_step(&w.harness.app().ctx()), Some(0));

    // Step 1: Create API > Streaming API > SSE API, the form, Create.
    w.keys(&[Char('n'), Enter, Enter]);
    let endpoint = format!("http://{}", w.backend);
    for value in ["Observer", "/observer", "1.0.0", endpoint.as_str()] {
        w.harness.type_text(value);
        w.keys(&[Enter]);
    }
    w.keys(&[Enter]);
    w.wait("the API's overview", |a| {
        observer(a).is_some() && matches!(a.publisher.view, PublisherView::Api(_))
    })
    .await;

    // Step 1.5: Business Plans: tick AsyncGold, save.
    w.keys(&[Char('l'), Char('j'), Char('j'), Char(' '), Char('s')]);
    w.wait("AsyncGold saved", |a| {
        observer(a).is_some_and(|api| api.policies.contains(&"AsyncGold".to_string()))
    })
    .await;

    // Step 2: Lifecycle: Publish, confirmed.
    w.keys(&[Char('l'), Enter, Char('y')]);
    w.wait("published", |a| {
        observer(a).is_some_and(|api| api.lifecycle == LifecycleState::Published)
    })
    .await;

    // Deployments: Deploy New Revision to Production and Sandbox, vhost localhost.
    w.keys(&[Char('l'), Char('n'), Char(' '), Down, Enter]);
    w.wait("deployed and the dialog closed", |a| {
        let dialog_closed =
            matches!(&a.publisher.view, PublisherView::Api(v) if v.deployments.dialog.is_none());
        dialog_closed
            && observer(a).is_some_and(|api| !a.catalog.deployments_of(&api.id).is_empty())
    })
    .await;
    let text = w.harness.render();
    assert!(
        text.contains("deployed: Production and Sandbox (localhost)"),
        "{text}"
    );

    // Step 3: Servers: a faster interval than the tutorial's, then start.
    w.keys(&[Char('3'), Char('k'), Char('k'), Enter]);
    w.keys(&[Backspace, Backspace, Backspace, Backspace]);
    w.harness.type_text("50");
    w.keys(&[Enter, Char('s')]);
    w.wait("backend running", |a| {
        matches!(a.servers.backend, BackendState::Running(_))
    })
    .await;

    // Step 4: Dev Portal: the API, Subscriptions, the wizard.
    w.keys(&[Char('2'), Enter, Char('l'), Char('w')]);
    w.harness.type_text("ObserverApp");
    w.keys(&[Enter, Enter, Enter, Enter]);
    let wizard_step = |a: &App| match &a.portal.view {
        PortalView::Wizard(wz) => Some(wz.step),
        _ => None,
    };
    w.wait("application created", |a| {
        wizard_step(a) == Some(WizardStep::Subscribe)
    })
    .await;
    w.keys(&[Enter]);
    w.wait("subscribed", |a| wizard_step(a) == Some(WizardStep::Keys))
        .await;
    w.keys(&[Enter]);
    w.wait("keys generated", |a| {
        wizard_step(a) == Some(WizardStep::Token)
    })
    .await;
    w.keys(&[Enter]);
    w.wait("token generated", |a| {
        wizard_step(a) == Some(WizardStep::Copy)
    })
    .await;
    let text = w.harness.render();
    let host = format!("localhost:{}", w.gateway.port());
    assert!(
        text.contains(&format!("curl -N http://{host}/observer/1.0.0/memory")),
        "{text}"
    );
    // Copy the token (OSC 52 on a real terminal), finish, Try it.
    w.keys(&[Char('c')]);
    let copies = w.harness.copies();
    assert_eq!(copies.len(), 1);
    assert!(copies[0].starts_with("ey"), "{copies:?}");
    w.keys(&[Enter, Enter]);
    // The events come from the UI's own client, the opened line from the gateway's
    // traffic broadcast: two channels, so either may show first.
    w.wait(
        "memory events and the gateway's opened line in the live pane",
        |a| live_has(a, LineKind::Event, "\"used\"") && live_has(a, LineKind::Opened, "opened #"),
    )
    .await;
    let app = w.harness.app();
    assert_eq!(tutorial::progress(&app.ctx()), [true; 8]);
    assert!(
        app.session
            .streams
            .values()
            .any(|s| s.state == StreamState::Open || s.events > 0)
    );
    let text = w.harness.render();
    assert!(text.contains("try-it #1"), "{text}");

    // curl in another shell, without a token: the traffic log shows the refusal.
    let url = format!("http://{}/observer/1.0.0/memory", w.gateway);
    let status = reqwest::get(&url).await.unwrap().status();
    assert_eq!(status.as_u16(), 401);
    w.wait("the rejection in the live pane", |a| {
        live_has(a, LineKind::Rejected, "rejected 401 900902")
    })
    .await;

    // Quit asks while a stream is open; yes quits.
    let open = w.harness.app().open_streams();
    w.keys(&[Char('q')]);
    if open > 0 {
        assert!(!w.harness.app().should_quit);
        assert!(matches!(
            w.harness.app().overlay,
            Some(streamgate::tui::app::Overlay::Quit { .. })
        ));
        w.keys(&[Char('y')]);
    }
    assert!(w.harness.app().should_quit);
    w.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_answered_before_a_flood_of_events_is_drained() {
    let mut w = world().await;
    let tx = w.harness.sender();
    // The line saying the management API is not running in this test.
    let before = w.harness.app().live.total;
    let flood = 10 * MAX_BATCH;
    for i in 0..flood {
        tx.send(Action::Stream(StreamUpdate::Items {
            stream_id: 1,
            at: 0,
            items: vec![StreamItem::Event {
                id: None,
                data: format!("{i}"),
            }],
        }))
        .unwrap();
    }
    w.harness
        .queue_event(Event::Key(KeyEvent::new(Char('3'), KeyModifiers::NONE)));
    // The key comes first, and each wake drains a bounded batch, not the whole flood.
    assert_eq!(w.harness.step().await.unwrap(), Flow::Changed);
    assert_eq!(w.harness.app().tab, Tab::Servers);
    assert_eq!(w.harness.app().live.total, before);
    w.harness.step().await.unwrap();
    let after_one = w.harness.app().live.total - before;
    assert!(
        after_one > 0 && after_one <= (MAX_BATCH + 1) as u64,
        "{after_one}"
    );
    w.wait("the flood drained", |a| {
        a.live.total >= before + flood as u64
    })
    .await;
    let kept = usize::try_from(before).unwrap() + flood;
    assert_eq!(w.harness.app().live.len(), kept.min(10_000));
    w.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_backend_port_is_reported_and_the_rest_keeps_working() {
    let mut w = world().await;
    // Someone else holds the backend's port.
    let _squatter = std::net::TcpListener::bind(w.backend).unwrap();
    w.keys(&[Char('3'), Char('s')]);
    w.wait("the start to fail", |a| {
        matches!(a.servers.backend, BackendState::Failed(_))
    })
    .await;
    let text = w.harness.render();
    assert!(
        text.contains(&format!("{} is already in use", w.backend)),
        "{text}"
    );
    // The Publisher still works.
    w.keys(&[Char('1'), Char('n'), Enter, Enter]);
    w.harness.type_text("Other");
    assert!(w.harness.render().contains("[Other"));
    w.finish().await;
}
