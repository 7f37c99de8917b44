//! The backend side of TLS: which certificates a connection to an https endpoint trusts
//! (the platform's roots, else webpki-roots, plus the endpoint certificates registered for
//! that `host:port`), the client certificate it presents (mutual TLS, per API), and the
//! handshake itself: SNI, hostname verification always on, TLS 1.2/1.3, bounded in time.
//! A failure is told in words an operator can act on; the client never sees them.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::{CertificateError, ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::pem;
use super::pinned::is_ca_used_as_end_entity;
use super::store::{BackendClientCertificate, EndpointCertificate};

/// What a handshake refused for `CaUsedAsEndEntity` says first: the server presented a CA
/// certificate as its own, which is trusted only as the exact certificate registered.
pub const CA_AS_LEAF: &str = "the server's certificate is a CA certificate \
     (basicConstraints CA:TRUE), trusted only when that exact certificate is registered";

/// How long a backend TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The platform's trusted roots (rustls-native-certs), or Mozilla's (webpki-roots) when the
/// platform has none; loaded once.
pub fn platform_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut roots = RootCertStore::empty();
            let native = rustls_native_certs::load_native_certs();
            for e in &native.errors {
                tracing::debug!("platform root certificates: {e}");
            }
            let (added, _ignored) = roots.add_parsable_certificates(native.certs);
            if added == 0 {
                tracing::info!("no platform root certificates; using webpki-roots");
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            Arc::new(roots)
        })
        .clone()
}

/// The config for an endpoint with no registered certificate and no client certificate,
/// shared by all such connections.
fn default_config() -> Result<Arc<ClientConfig>, String> {
    static DEFAULT: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if let Some(config) = DEFAULT.get() {
        return Ok(config.clone());
    }
    let config = build((*platform_roots()).clone(), Vec::new(), None)?;
    Ok(DEFAULT.get_or_init(|| config).clone())
}

/// A client config trusting `roots`, and also `pinned` (registered certificates) when the
/// server presents one of them as its own, presenting `identity` if given.
fn build(
    roots: RootCertStore,
    pinned: Vec<CertificateDer<'static>>,
    identity: Option<&BackendClientCertificate>,
) -> Result<Arc<ClientConfig>, String> {
    let builder = super::pinned::client_builder(roots, pinned)?;
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some(id) => {
            let chain = pem::certificates(id.certificate_pem.as_bytes())
                .map_err(|e| format!("the API's client certificate: {e}"))?;
            let key = pem::private_key(id.key_pem.as_bytes())
                .map_err(|e| format!("the API's client key: {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("the API's client certificate and key: {e}"))?
        }
    };
    // The backend connection speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The TLS config for a connection to `host:port`: the platform roots plus every
/// `certificates` entry registered for that `host:port`, presenting `identity` if given.
/// A registered certificate is a trust anchor for what it issues, and is also accepted
/// when the backend presents that exact certificate as its own (pinning), even a
/// self-signed CA:TRUE one, its name and validity period still checked.
/// Errors: a stored PEM that no longer parses or a key that does not fit, in words.
pub fn config_for(
    certificates: &[&EndpointCertificate],
    host: &str,
    port: u16,
    identity: Option<&BackendClientCertificate>,
) -> Result<Arc<ClientConfig>, String> {
    let extra: Vec<&&EndpointCertificate> = certificates
        .iter()
        .filter(|c| c.applies_to(host, port))
        .collect();
    if extra.is_empty() && identity.is_none() {
        return default_config();
    }
    let mut roots = (*platform_roots()).clone();
    let mut pinned = Vec::new();
    for cert in extra {
        for der in pem::certificates(cert.pem.as_bytes())
            .map_err(|e| format!("endpoint certificate '{}': {e}", cert.alias))?
        {
            roots
                .add(der.clone())
                .map_err(|e| format!("endpoint certificate '{}': {e}", cert.alias))?;
            pinned.push(der);
        }
    }
    build(roots, pinned, identity)
}

/// Runs the TLS handshake with `host` (SNI and the name the certificate must carry) over
/// `stream`, within [`HANDSHAKE_TIMEOUT`]. The error says why: `unknown issuer`,
/// `hostname mismatch`, `expired`, a CA certificate presented as the server's own,
/// `handshake timeout`, or the TLS error.
pub async fn handshake(
    config: Arc<ClientConfig>,
    host: &str,
    stream: TcpStream,
) -> Result<TlsStream<TcpStream>, String> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| format!("TLS: '{host}' is no server name: {e}"))?;
    match tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        TlsConnector::from(config).connect(name, stream),
    )
    .await
    {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => Err(format!("TLS handshake failed: {}", reason(&e))),
        Err(_) => Err(format!(
            "TLS handshake failed: handshake timeout (no handshake within {} s)",
            HANDSHAKE_TIMEOUT.as_secs()
        )),
    }
}

/// Why a handshake failed, in the operator's words.
pub fn reason(e: &std::io::Error) -> String {
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return e.to_string();
    };
    match tls {
        rustls::Error::InvalidCertificate(_) if is_ca_used_as_end_entity(tls) => {
            format!("{CA_AS_LEAF}; register that exact certificate with `streamgate cert add`")
        }
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => "unknown issuer: the back end's certificate \
                 is not signed by a trusted CA (register the CA or the certificate as an \
                 endpoint certificate)"
                .to_string(),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("hostname mismatch: {cert}")
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                format!("expired: {cert}")
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!("not yet valid: {cert}")
            }
            other => format!("invalid certificate: {other}"),
        },
        rustls::Error::AlertReceived(alert) => {
            format!("the back end refused the handshake (alert {alert:?})")
        }
        other => other.to_string(),
    }
}

/// The TLS config for API `api_id`'s backend at `url` from the catalog `snapshot` (held in
/// memory): `None` for an `http` URL. Errors as [`config_for`].
pub fn for_backend(
    snapshot: &crate::control::Snapshot,
    api_id: &str,
    url: &reqwest::Url,
) -> Result<Option<Arc<ClientConfig>>, String> {
    if url.scheme() != "https" {
        return Ok(None);
    }
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
    let port = url.port_or_known_default().unwrap_or(443);
    let certificates: Vec<&EndpointCertificate> = snapshot.endpoint_certificates.values().collect();
    let identity = snapshot.backend_client_certificates.get(api_id);
    config_for(&certificates, host, port, identity).map(Some)
}
