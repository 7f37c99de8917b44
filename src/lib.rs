//! streamgate: an API manager for Server-Sent Events APIs in one binary.

pub mod sse;
