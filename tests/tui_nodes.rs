//! The Servers screen lists the gateway nodes the control plane knows (name, address,
//! applied version, open streams, last seen), from the analytics feed the runtime sends.
#![allow(clippy::unwrap_used)]

mod tui_support;

use crossterm::event::KeyCode::Char;
use streamgate::control::{NodeReport, NodeStatus};
use streamgate::tui::action::Action;
use streamgate::tui::charts::AnalyticsFeed;
use tui_support::*;

fn node(name: &str, connected: bool, seen_secs_ago: i64, version: u64, open: i64) -> NodeStatus {
    NodeStatus {
        name: name.to_string(),
        created_at: NOON - 3_600_000,
        last_seen: Some(NOON - seen_secs_ago * 1000),
        connected,
        report: NodeReport {
            applied_version: Some(version),
            address: Some(format!("http://10.0.0.{}:8280", version % 7)),
            open_streams: open,
        },
    }
}

#[test]
fn servers_lists_the_gateway_nodes() {
    let mut app = app(empty_catalog());
    press(&mut app, Char('3'));
    let before = screen(&app);
    assert!(!before.contains("Gateway nodes"), "{before}");
    let feed = AnalyticsFeed {
        nodes: vec![
            node("edge-1", true, 1, 12, 40),
            node("edge-2", true, 0, 12, 38),
            node("edge-3", false, 95, 9, 0),
        ],
        ..AnalyticsFeed::default()
    };
    app.update(Action::Analytics(Box::new(feed)));
    // 80x24: one summary line, and the memory backend's rows stay.
    let text = screen(&app);
    assert!(
        text.contains("2 of 3 connected: edge-1, edge-2, edge-3"),
        "{text}"
    );
    assert!(text.contains("[ Start ]"), "{text}");
    insta::assert_snapshot!("servers_with_gateway_nodes", text);
    // Taller: one line per node.
    let text = draw(&app, 100, 34).backend().to_string();
    assert!(text.contains("applied v12  open 40  seen 1s ago"), "{text}");
    assert!(text.contains("seen 95s ago"), "{text}");
    assert!(text.contains("[ Start ]"), "{text}");
    insta::assert_snapshot!("servers_with_gateway_nodes_tall", text);
}
