//! streamgate: an API manager for Server-Sent Events APIs in one binary.
pub mod catalog;
pub mod cli;
pub mod control;
pub mod datadir;
pub mod keys;
pub mod mgmt;
pub mod store;
pub mod telemetry;
