//! Trust for certificates the operator registered: an endpoint certificate (`streamgate
//! cert add`) or the CLI's `--cacert`. Such a certificate is a trust anchor for the chains
//! it issues (normal webpki verification), and when the server presents that very
//! certificate as its own (exact DER match of the leaf: pinning) it is accepted as it is,
//! even when it is a CA certificate (`basicConstraints CA:TRUE`, what `openssl req -x509`
//! makes by default), which webpki refuses as an end entity (`CaUsedAsEndEntity`). The
//! server name and the validity period are still checked, and so is the handshake
//! signature, with the presented certificate's key.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_name};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::pem;

/// A server certificate verifier: webpki's, except for a leaf that is one of the
/// registered certificates, which is accepted by exact match when it names the server and
/// is within its validity period.
#[derive(Debug)]
pub struct PinningVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl PinningVerifier {
    /// A verifier trusting `roots` the webpki way and `pinned` (the registered
    /// certificates, which should also be in `roots`) by exact match.
    ///
    /// # Errors
    /// `roots` is empty, in words.
    pub fn new(
        roots: RootCertStore,
        pinned: Vec<CertificateDer<'static>>,
    ) -> Result<Arc<Self>, String> {
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), super::provider())
                .build()
                .map_err(|e| format!("TLS certificate verifier: {e}"))?;
        Ok(Arc::new(Self { webpki, pinned }))
    }

    /// Whether `cert` is, byte for byte, one of the registered certificates.
    fn is_pinned(&self, cert: &CertificateDer<'_>) -> bool {
        self.pinned.iter().any(|p| p.as_ref() == cert.as_ref())
    }
}

/// `secs` since the epoch as a [`UnixTime`].
fn unix(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

/// Checks that the registered certificate `cert`, presented by the server, names
/// `server_name` and is valid at `now`.
fn verify_pinned(
    cert: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> Result<ServerCertVerified, Error> {
    let parsed = ParsedCertificate::try_from(cert)?;
    verify_server_name(&parsed, server_name)?;
    let facts =
        pem::facts(cert).map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let time = now.as_secs();
    if time < facts.not_before {
        return Err(Error::InvalidCertificate(
            CertificateError::NotValidYetContext {
                time: now,
                not_before: unix(facts.not_before),
            },
        ));
    }
    if time > facts.not_after {
        return Err(Error::InvalidCertificate(
            CertificateError::ExpiredContext {
                time: now,
                not_after: unix(facts.not_after),
            },
        ));
    }
    Ok(ServerCertVerified::assertion())
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if self.is_pinned(end_entity) {
            return verify_pinned(end_entity, server_name, now);
        }
        self.webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Whether `e` is webpki's refusal of a CA certificate (`basicConstraints CA:TRUE`)
/// presented as the server's own certificate, which only an exact registration trusts.
pub fn is_ca_used_as_end_entity(e: &Error) -> bool {
    match e {
        Error::InvalidCertificate(CertificateError::Other(other)) => matches!(
            other.0.downcast_ref::<webpki::Error>(),
            Some(webpki::Error::CaUsedAsEndEntity)
        ),
        _ => false,
    }
}

/// A client config builder for TLS 1.2/1.3 that verifies servers against `roots`, and also
/// accepts any of `pinned` presented as the server's own certificate ([`PinningVerifier`]);
/// with nothing pinned, plain webpki verification. What follows is the client's identity.
///
/// # Errors
/// A sentence when the crypto provider refuses the protocol versions or a pinned
/// certificate cannot be read.
pub fn client_builder(
    roots: rustls::RootCertStore,
    pinned: Vec<rustls_pki_types::CertificateDer<'static>>,
) -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert>, String> {
    let builder = rustls::ClientConfig::builder_with_provider(super::provider())
        .with_protocol_versions(super::PROTOCOL_VERSIONS)
        .map_err(|e| format!("TLS configuration: {e}"))?;
    Ok(if pinned.is_empty() {
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(PinningVerifier::new(roots, pinned)?)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

    use super::*;

    /// A self-signed CA:TRUE certificate for `name` (as `openssl req -x509` makes), valid
    /// from `from` to `to` (seconds since the epoch).
    fn ca_true(name: &str, from: u64, to: u64) -> CertificateDer<'static> {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.not_before = time::OffsetDateTime::from_unix_timestamp(from as i64).unwrap();
        params.not_after = time::OffsetDateTime::from_unix_timestamp(to as i64).unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    fn verifier(pinned: &[&CertificateDer<'static>]) -> Arc<PinningVerifier> {
        let mut roots = RootCertStore::empty();
        for cert in pinned {
            roots.add((*cert).clone()).unwrap();
        }
        PinningVerifier::new(roots, pinned.iter().map(|c| (*c).clone()).collect()).unwrap()
    }

    fn verify(
        v: &PinningVerifier,
        cert: &CertificateDer<'_>,
        name: &str,
        now: u64,
    ) -> Result<ServerCertVerified, Error> {
        let name = ServerName::try_from(name.to_string()).unwrap();
        v.verify_server_cert(cert, &[], &name, &[], unix(now))
    }

    const NOW: u64 = 1_800_000_000;
    const DAY: u64 = 86_400;

    #[test]
    fn a_registered_ca_true_leaf_is_accepted_for_its_name_and_period_only() {
        let cert = ca_true("localhost", NOW - DAY, NOW + DAY);
        let v = verifier(&[&cert]);
        assert!(verify(&v, &cert, "localhost", NOW).is_ok());
        let wrong = verify(&v, &cert, "other.example", NOW).unwrap_err();
        assert!(
            matches!(
                wrong,
                Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. })
            ),
            "{wrong:?}"
        );
        let expired = verify(&v, &cert, "localhost", NOW + 2 * DAY).unwrap_err();
        assert!(
            matches!(
                expired,
                Error::InvalidCertificate(CertificateError::ExpiredContext { .. })
            ),
            "{expired:?}"
        );
        let early = verify(&v, &cert, "localhost", NOW - 2 * DAY).unwrap_err();
        assert!(
            matches!(
                early,
                Error::InvalidCertificate(CertificateError::NotValidYetContext { .. })
            ),
            "{early:?}"
        );
    }

    #[test]
    fn an_unregistered_ca_true_leaf_is_refused_as_webpki_refuses_it() {
        let registered = ca_true("localhost", NOW - DAY, NOW + DAY);
        let stranger = ca_true("localhost", NOW - DAY, NOW + DAY);
        let v = verifier(&[&registered]);
        let err = verify(&v, &stranger, "localhost", NOW).unwrap_err();
        assert!(is_ca_used_as_end_entity(&err), "{err:?}");
        assert!(!is_ca_used_as_end_entity(&Error::InvalidCertificate(
            CertificateError::UnknownIssuer
        )));
    }
}
