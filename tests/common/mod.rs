//! The one harness for the non-TUI integration tests (as atuin's `tests/common/mod.rs`):
//! a [`TestServer`] started through the real launcher (`streamgate::launch::start`) on
//! 127.0.0.1:0 over a temp data dir and stopped on drop, or a `streamgate serve` child
//! process from the same builder; management API calls and the tutorial's fixtures;
//! scripted raw-TCP backends; raw-socket HTTP exchanges; an SSE reader; process gauges;
//! certificates, a TLS backend and HTTP/1.1 and h2 clients over rustls.
//!
//! Each test file includes it with `mod common;`, so items one file does not use are fine.
#![allow(dead_code, unused_imports, clippy::unwrap_used)]

pub mod backend;
pub mod browser;
pub mod cli;
pub mod fixtures;
pub mod mgmt;
pub mod process;
pub mod raw;
pub mod redis_server;
pub mod server;
pub mod sse;
pub mod tls;
pub mod traffic;

use std::time::Duration;

pub use backend::*;
pub use browser::*;
pub use cli::*;
pub use fixtures::*;
pub use mgmt::*;
pub use process::*;
pub use raw::*;
pub use redis_server::*;
pub use server::*;
pub use sse::*;
pub use tls::*;
pub use traffic::*;

/// How long a test waits for something that should happen promptly.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Polls `probe` every 20 ms until it returns true or `limit` runs out; returns the last
/// answer.
pub async fn eventually_within(limit: Duration, mut probe: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if probe() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// [`eventually_within`] [`PATIENCE`].
pub async fn eventually(probe: impl FnMut() -> bool) -> bool {
    eventually_within(PATIENCE, probe).await
}

/// Sends `req` and reads the answer as JSON, whatever its status.
pub async fn send_json<T: serde::de::DeserializeOwned>(req: reqwest::RequestBuilder) -> T {
    req.send().await.unwrap().json().await.unwrap()
}

/// A test HTTP client without proxies.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}
