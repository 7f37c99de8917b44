//! The Servers screen at 80x24 as a real run draws it (the HTTPS gateway is on by default):
//! with gateway nodes connected, the nodes' summary, the memory backend's form and the keys
//! hint all stay on screen (the nodes line used to push the backend's form out).
#![allow(clippy::unwrap_used)]

mod tui_support;

use crossterm::event::KeyCode::Char;
use streamgate::control::{NodeReport, NodeStatus};
use streamgate::tui::action::Action;
use streamgate::tui::charts::AnalyticsFeed;
use tui_support::*;

fn node(name: &str) -> NodeStatus {
    NodeStatus {
        name: name.to_string(),
        created_at: NOON - 3_600_000,
        last_seen: Some(NOON - 1000),
        connected: true,
        report: NodeReport {
            applied_version: Some(3),
            address: Some("http://10.0.0.3:8280".into()),
            open_streams: 2,
        },
    }
}

#[test]
fn tls_and_gateway_nodes_leave_the_memory_backend_on_screen() {
    let mut app = servers_with_tls();
    app.update(Action::Analytics(Box::new(AnalyticsFeed {
        nodes: vec![node("edge-1"), node("edge-2")],
        ..AnalyticsFeed::default()
    })));
    let text = screen(&app);
    for needle in [
        "HTTPS gateway   https://127.0.0.1:8243",
        "Gateway nodes   2 of 2 connected: edge-1, edge-2",
        "Data dir        /home/ada/.local/share/streamgate  (log: streamgate.log)",
        "Memory backend - the tutorial's sample SSE server",
        "Port          [8080",
        "[ Start ]",
        "s start/stop",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} is not on screen:\n{text}"
        );
    }
    insta::assert_snapshot!("servers_tls_and_nodes", text);
}

#[test]
fn without_nodes_the_backend_command_line_is_shown_too() {
    let app = servers_with_tls();
    let text = screen(&app);
    assert!(!text.contains("Gateway nodes"), "{text}");
    assert!(
        text.contains("same as: streamgate backend --port=8080 --time=5000 --interval=1000"),
        "{text}"
    );
    assert!(text.contains("s start/stop"), "{text}");
}

#[test]
fn both_servers_down_fit_the_status_line_and_the_servers_say_why() {
    let mut config = config();
    config.admin = Err("127.0.0.1:9443 is already in use".into());
    config.gateway = Err("127.0.0.1:8280 is already in use".into());
    let mut app = streamgate::tui::App::new(
        config,
        streamgate::tui::Theme::default(),
        std::sync::Arc::new(empty_catalog()),
        NOON,
    );
    let text = screen(&app);
    let status = text.lines().last().unwrap();
    assert_eq!(
        status.trim_matches('"').trim_end(),
        " Not running: management API, gateway (3 Servers says why)"
    );
    press(&mut app, Char('3'));
    let text = screen(&app);
    assert!(
        text.contains("Management API  not running: 127.0.0.1:9443 is already in use"),
        "{text}"
    );
    assert!(
        text.contains("Gateway         not running: 127.0.0.1:8280 is already in use"),
        "{text}"
    );
}
