//! The client side of TLS towards streamgate's own management API, shared by the CLI
//! (`--admin-url https://...`) and gateway nodes (`--control-plane https://...`): which
//! certificates it trusts, the HTTP/1.1 client over rustls, and why a handshake failed.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, ServerName};

/// The HTTP/1.1 client of a management API: http, or https through rustls (hyper-rustls).
pub type HttpsClient =
    hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// What a management API client trusts: trust anchors, and the certificates the operator
/// gave (a file, the data dir's own), which are also accepted when the server presents one
/// of them as its own ([`super::pinned`]: a self-signed CA:TRUE certificate included).
#[derive(Debug, Clone)]
pub struct Trust {
    /// Trust anchors (the platform's roots and the operator's certificates).
    pub roots: RootCertStore,
    /// The operator's certificates, accepted as the server's own on an exact match.
    pub pinned: Vec<CertificateDer<'static>>,
}

impl Trust {
    /// Trusts `roots` and nothing pinned.
    pub fn new(roots: RootCertStore) -> Trust {
        Trust {
            roots,
            pinned: Vec::new(),
        }
    }

    /// Adds `cert` as a trust anchor and as pinned; `false` when it is not usable as one.
    pub fn add(&mut self, cert: CertificateDer<'static>) -> bool {
        let added = self.roots.add(cert.clone()).is_ok();
        if added {
            self.pinned.push(cert);
        }
        added
    }
}

/// Adds every certificate of the PEM file at `path` to `trust` (a CA, or a self-signed
/// server certificate itself).
///
/// # Errors
/// A sentence (without the file's name, which the caller gives with its flag) when the
/// file is missing, unreadable or holds no PEM certificate, or when a certificate is not
/// usable as a trust anchor.
pub fn trust_pem_file(trust: &mut Trust, path: &Path) -> Result<(), String> {
    let pem = std::fs::read(path).map_err(|e| e.to_string())?;
    let certs = super::pem::certificates(&pem)?;
    for cert in certs {
        trust
            .roots
            .add(cert.clone())
            .map_err(|e| format!("not usable as a trusted certificate: {e}"))?;
        trust.pinned.push(cert);
    }
    Ok(())
}

/// The rustls config of a management API client trusting `trust`: TLS 1.2/1.3, no client
/// certificate, ALPN left to the connector (which offers HTTP/1.1).
///
/// # Errors
/// A sentence when the crypto provider refuses the protocol versions or a pinned
/// certificate cannot be read.
pub fn client_config(trust: Trust) -> Result<ClientConfig, String> {
    let mut config =
        super::pinned::client_builder(trust.roots, trust.pinned)?.with_no_client_auth();
    // hyper-rustls offers HTTP/1.1 by ALPN itself.
    config.alpn_protocols.clear();
    Ok(config)
}

/// An HTTP/1.1 client for `http://` and `https://` URLs, verifying servers with `tls`
/// (SNI and hostname verification on), giving up a TCP connect after `connect_timeout`.
pub fn http_client(tls: ClientConfig, connect_timeout: Duration) -> HttpsClient {
    let mut tcp = HttpConnector::new();
    tcp.set_connect_timeout(Some(connect_timeout));
    tcp.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector)
}

/// The certificate an https server at `host:port` presents, read by a TLS handshake that
/// trusts what `tls` trusts (so only a verified one); `None` when there is no verified
/// handshake within `timeout`.
pub async fn presented_certificate(
    tls: Arc<ClientConfig>,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Option<CertificateDer<'static>> {
    let name = ServerName::try_from(host.trim_matches(['[', ']']).to_string()).ok()?;
    let handshake = async {
        let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port))
            .await
            .ok()?;
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .ok()?;
        stream.get_ref().1.peer_certificates()?.first().cloned()
    };
    tokio::time::timeout(timeout, handshake).await.ok()?
}

/// The rustls error behind a transport error, when the failure was the TLS handshake (a
/// refused certificate, a refused handshake).
pub fn handshake_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(tls) = as_rustls(e) {
            return Some(tls);
        }
        cause = e.source();
    }
    None
}

/// `e` as a rustls error, looking inside the wrappers whose `source()` skips the error
/// they wrap (`io::Error`, a boxed error).
fn as_rustls<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    if let Some(io) = e.downcast_ref::<std::io::Error>() {
        return io.get_ref().and_then(|inner| as_rustls(inner));
    }
    None
}

/// The innermost cause of a transport error ("Connection refused"), which says the most.
pub fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &(dyn std::error::Error + 'static) = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Whether a transport error's cause says a TLS server answered a plain HTTP request
/// (hyper read a TLS record where an HTTP/1.1 status line was expected).
pub fn tls_answered_plain_http(detail: &str) -> bool {
    detail.contains("invalid HTTP version")
}
