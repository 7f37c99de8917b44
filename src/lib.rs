//! streamgate: an API manager for Server-Sent Events APIs in one binary.
//! The control plane (catalog, store, keys, control), the data plane (gateway), the
//! management REST API, the sample memory backend and the terminal UI live here.

pub mod analytics;
pub mod backend;
pub mod beacon;
pub mod catalog;
pub mod cli;
pub mod control;
pub mod datadir;
pub mod fast_map;
pub mod gateway;
pub mod keys;
pub mod launch;
pub mod mgmt;
pub mod node;
pub mod pair_key;
pub mod sse;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod tui;
