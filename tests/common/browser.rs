//! Headless Chromium for the browser tests.

/// The flags every browser test starts Chromium with: headless, no sandbox, GPU or QUIC,
/// and none of its own background traffic.
pub const HEADLESS_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];
