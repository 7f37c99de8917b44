//! PEM input (RFC 7468) and what a certificate says about itself, for the endpoint
//! certificate API (WSO2's `CertificateInfo`: status, validity, version, subject).

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_cert::der::Decode;

/// The facts of one X.509 certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// The subject's distinguished name, RFC 4514 style, e.g. `CN=localhost`.
    pub subject: String,
    /// `V1`, `V2` or `V3`, as WSO2 shows it.
    pub version: String,
    /// notBefore, seconds since the Unix epoch.
    pub not_before: u64,
    /// notAfter, seconds since the Unix epoch.
    pub not_after: u64,
}

impl CertificateFacts {
    /// Whether `now` (seconds since the epoch) lies within the validity period.
    pub fn valid_at(&self, now: u64) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

/// Every `CERTIFICATE` block of a PEM text, in order. Errors: no certificate at all, or a
/// block that is not valid PEM/base64, in words.
pub fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate (-----BEGIN CERTIFICATE-----) found".to_string());
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) of a PEM text.
pub fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => {
            "no PEM private key (-----BEGIN PRIVATE KEY-----) found".to_string()
        }
        other => format!("not a PEM private key: {other}"),
    })
}

/// Decodes a DER certificate's subject, version and validity. Errors: not X.509 DER.
pub fn facts(der: &CertificateDer<'_>) -> Result<CertificateFacts, String> {
    let cert = x509_cert::Certificate::from_der(der.as_ref())
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let tbs = cert.tbs_certificate();
    let version = match tbs.version() {
        x509_cert::certificate::Version::V1 => "V1",
        x509_cert::certificate::Version::V2 => "V2",
        x509_cert::certificate::Version::V3 => "V3",
    };
    Ok(CertificateFacts {
        subject: tbs.subject().to_string(),
        version: version.to_string(),
        not_before: tbs.validity().not_before.to_unix_duration().as_secs(),
        not_after: tbs.validity().not_after.to_unix_duration().as_secs(),
    })
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// `secs` since the epoch as an RFC 3339 UTC timestamp, e.g. `2026-11-30T18:00:00Z`.
pub fn rfc3339(secs: u64) -> String {
    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_no_certificate() {
        assert!(certificates(b"hello").is_err());
        assert!(
            certificates(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n").is_err()
        );
        assert!(private_key(b"nothing").is_err());
    }

    #[test]
    fn a_generated_certificate_has_its_facts() {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let certs = certificates(cert.pem().as_bytes()).unwrap();
        let facts = facts(&certs[0]).unwrap();
        assert_eq!(facts.version, "V3");
        assert!(facts.valid_at(now_secs()), "{facts:?}");
        assert!(rfc3339(facts.not_after).ends_with('Z'));
        assert!(private_key(key.serialize_pem().as_bytes()).is_ok());
    }
}
