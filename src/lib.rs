//! streamgate: an API manager for Server-Sent Events APIs in one binary.
pub mod backend;
pub mod catalog;
pub mod control;
pub mod datadir;
pub mod gateway;
pub mod keys;
pub mod sse;
pub mod store;
pub mod telemetry;
pub mod tui;
