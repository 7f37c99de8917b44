//! What the store keeps for backend TLS: endpoint certificates (WSO2 Publisher v4
//! `/endpoint-certificates`) and the client certificate an API's gateway presents to its
//! backend (mutual TLS). Both are held in memory in the control snapshot; the gateway
//! never reads them from disk per request.

use serde::{Deserialize, Serialize};

use crate::catalog::Millis;

/// The longest alias, as WSO2's `maxLength: 30`.
pub const MAX_ALIAS_LEN: usize = 30;

/// A certificate trusted for one backend `host:port`: a self-signed backend's certificate
/// or the private CA that issued it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointCertificate {
    /// The unique alias (1 to 30 characters).
    pub alias: String,
    /// The endpoint as given, e.g. `https://backend.example:8443` or `backend.example`.
    pub endpoint: String,
    /// The endpoint's host (lowercase, IPv6 without brackets).
    pub host: String,
    /// The endpoint's port (443 when not given).
    pub port: u16,
    /// The certificate (chain) in PEM.
    pub pem: String,
    /// When it was registered.
    pub created_at: Millis,
}

impl EndpointCertificate {
    /// Whether it applies to a connection to `host:port`.
    pub fn applies_to(&self, host: &str, port: u16) -> bool {
        self.port == port
            && self
                .host
                .eq_ignore_ascii_case(host.trim_matches(['[', ']']))
    }
}

/// The certificate and key an API's gateway presents to that API's https backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendClientCertificate {
    /// The API's id.
    pub api_id: String,
    /// The certificate chain in PEM (leaf first).
    pub certificate_pem: String,
    /// The private key in PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: String,
    /// When it was set.
    pub created_at: Millis,
}

/// The `(host, port)` an endpoint names: an `https` URL (`https://h:p/...`) or a bare
/// `host[:port]` (port 443). Errors: no host, or another scheme than `https` (a trusted
/// certificate is only ever used for an https backend).
pub fn endpoint_authority(endpoint: &str) -> Result<(String, u16), String> {
    let endpoint = endpoint.trim();
    let with_scheme = if endpoint.contains("://") {
        endpoint.to_string()
    } else {
        format!("https://{endpoint}")
    };
    let url = reqwest::Url::parse(&with_scheme)
        .map_err(|e| format!("'{endpoint}' is no endpoint URL: {e}"))?;
    if url.scheme() != "https" {
        return Err(format!(
            "'{endpoint}' is not an https endpoint: a trusted certificate is only used for \
             https backends"
        ));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("'{endpoint}' has no host"))?;
    let port = url.port_or_known_default().unwrap_or(443);
    Ok((host.trim_matches(['[', ']']).to_ascii_lowercase(), port))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_name_their_authority() {
        assert_eq!(
            endpoint_authority("https://Backend.Example:8443/feed").unwrap(),
            ("backend.example".to_string(), 8443)
        );
        assert_eq!(
            endpoint_authority("www.abc.com").unwrap(),
            ("www.abc.com".to_string(), 443)
        );
        assert_eq!(
            endpoint_authority("https://[::1]:9").unwrap(),
            ("::1".to_string(), 9)
        );
        assert!(endpoint_authority("https://").is_err());
        for other in ["http://localhost:8080", "ftp://b", "wss://b"] {
            let refused = endpoint_authority(other).unwrap_err();
            assert!(refused.contains("not an https endpoint"), "{refused}");
        }
    }
}
