//! TLS everywhere (issue 13): https backends (platform roots, endpoint certificates, mutual
//! TLS), the gateway's and management API's TLS listeners with HTTP/2 by ALPN, and the
//! certificates they use. rustls with the ring provider; TLS 1.2 and 1.3 only.
//!
//! - [`pem`]: PEM parsing and the facts of a certificate (subject, validity, version).
//! - [`store`]: endpoint certificates and per-API backend client certificates as stored.
//! - [`client`]: the backend connector: trust for one endpoint, the handshake, and why it
//!   failed in words (unknown issuer, hostname mismatch, expired, handshake timeout).
//! - [`pinned`]: the certificate verifier that also accepts a registered certificate
//!   presented as the server's own (pinning), a CA:TRUE self-signed one included.
//! - [`mgmt_client`]: the client of streamgate's own management API over https (the CLI,
//!   gateway nodes reading the feed): trusted certificates, the HTTP/1.1 client, failures.
//! - [`server`]: the listener's certificate (given or generated), reloadable without
//!   dropping connections, and the TLS accept loop serving HTTP/1.1 and h2.

pub mod client;
pub mod mgmt_client;
pub mod pem;
pub mod pinned;
pub mod server;
pub mod store;

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// The protocol versions streamgate speaks: TLS 1.3 and 1.2, nothing older.
pub static PROTOCOL_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The crypto provider every TLS config here is built with (ring).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
