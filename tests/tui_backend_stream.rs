//! Publisher > API > Overview: the backend stream mode (issue 16) is shown with a one-line
//! explanation and toggled with `b`, which sends one command; an 80x24 snapshot of the
//! Overview of a shared API.
#![allow(clippy::unwrap_used)]

mod tui_support;

use crossterm::event::KeyCode;
use streamgate::catalog::BackendStream;
use streamgate::tui::action::Command;
use tui_support::*;

#[test]
fn the_overview_shows_the_backend_stream_and_b_toggles_it() {
    let mut app = app(full_catalog());
    press(&mut app, KeyCode::Enter);
    let text = screen(&app);
    assert!(
        text.contains("Backend       per-client: each client gets its own backend connection (b)"),
        "{text}"
    );
    let commands = press(&mut app, KeyCode::Char('b'));
    assert!(
        matches!(
            commands.as_slice(),
            [Command::SetBackendStream {
                mode: BackendStream::Shared,
                ..
            }]
        ),
        "{commands:?}"
    );

    // Once saved, the catalog says shared, and `b` switches back.
    let mut catalog = full_catalog();
    for api in catalog.apis.values_mut() {
        api.backend_stream = BackendStream::Shared;
    }
    set_catalog(&mut app, catalog);
    insta::assert_snapshot!("api_overview_shared", screen(&app));
    let commands = press(&mut app, KeyCode::Char('b'));
    assert!(
        matches!(
            commands.as_slice(),
            [Command::SetBackendStream {
                mode: BackendStream::PerClient,
                ..
            }]
        ),
        "{commands:?}"
    );
}
