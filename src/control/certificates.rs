//! Control operations for backend TLS: endpoint certificates (WSO2 Publisher v4
//! `/endpoint-certificates`) and per-API backend client certificates (mutual TLS). A
//! change takes effect for the gateway's next backend connection: it reads the snapshot.

use crate::catalog::{RuleError, now_millis};
use crate::store::Table;
use crate::tls::pem;
use crate::tls::store::{
    BackendClientCertificate, EndpointCertificate, MAX_ALIAS_LEN, endpoint_authority,
};

use super::{Change, Control, ControlError, Result};

/// WSO2's code for "a certificate with this alias exists".
const ALIAS_EXISTS: u32 = 900351;

/// Checks a PEM certificate (chain): parseable X.509, every certificate valid now.
fn check_certificate(field: &'static str, pem_text: &str) -> Result<()> {
    let certs = pem::certificates(pem_text.as_bytes()).map_err(|e| RuleError::invalid(field, e))?;
    let now = pem::now_secs();
    for der in &certs {
        let facts = pem::facts(der).map_err(|e| RuleError::invalid(field, e))?;
        if now > facts.not_after {
            return Err(RuleError::invalid(
                field,
                format!(
                    "the certificate {} expired on {}",
                    facts.subject,
                    pem::rfc3339(facts.not_after)
                ),
            )
            .into());
        }
        if now < facts.not_before {
            return Err(RuleError::invalid(
                field,
                format!(
                    "the certificate {} is not valid before {}",
                    facts.subject,
                    pem::rfc3339(facts.not_before)
                ),
            )
            .into());
        }
    }
    Ok(())
}

impl Control {
    /// Registers `pem` (a certificate or chain) as trusted for `endpoint`'s `host:port`
    /// under `alias`. Errors: an empty or too long alias, an endpoint without a host, a PEM
    /// that is no valid, current X.509 certificate (400); an alias in use (409).
    pub async fn add_endpoint_certificate(
        &self,
        alias: &str,
        endpoint: &str,
        pem_text: &str,
    ) -> Result<EndpointCertificate> {
        let alias = alias.trim();
        if alias.is_empty() || alias.chars().count() > MAX_ALIAS_LEN {
            return Err(RuleError::invalid(
                "alias",
                format!("must be 1 to {MAX_ALIAS_LEN} characters"),
            )
            .into());
        }
        let (host, port) =
            endpoint_authority(endpoint).map_err(|e| RuleError::invalid("endpoint", e))?;
        check_certificate("certificate", pem_text)?;
        let cert = EndpointCertificate {
            alias: alias.to_string(),
            endpoint: endpoint.trim().to_string(),
            host,
            port,
            pem: pem_text.to_string(),
            created_at: now_millis(),
        };
        self.write(|tx| {
            if tx.catalog.endpoint_certificates.contains_key(&cert.alias) {
                return Err(RuleError::conflict(
                    ALIAS_EXISTS,
                    format!("a certificate with alias '{}' exists", cert.alias),
                )
                .into());
            }
            tx.put(Table::EndpointCertificates, &cert.alias, &cert)?;
            tx.catalog
                .endpoint_certificates
                .insert(cert.alias.clone(), cert.clone());
            tx.changes
                .push(Change::EndpointCertificate(cert.alias.clone()));
            Ok(cert)
        })
        .await
    }

    /// Removes the endpoint certificate `alias`. Errors: no such alias (404).
    pub async fn remove_endpoint_certificate(&self, alias: &str) -> Result<EndpointCertificate> {
        self.write(|tx| {
            let cert = tx
                .catalog
                .endpoint_certificates
                .remove(alias)
                .ok_or_else(|| ControlError::not_found("certificate", alias))?;
            tx.delete(Table::EndpointCertificates, alias);
            tx.changes
                .push(Change::EndpointCertificate(cert.alias.clone()));
            Ok(cert)
        })
        .await
    }

    /// Sets the client certificate (chain) and key the gateway presents to API `api_id`'s
    /// https backend. Errors: no such API (404); a PEM that is no valid, current
    /// certificate, no private key, or a key that does not match the certificate (400).
    pub async fn set_backend_client_certificate(
        &self,
        api_id: &str,
        certificate_pem: &str,
        key_pem: &str,
    ) -> Result<BackendClientCertificate> {
        check_certificate("certificate", certificate_pem)?;
        pem::private_key(key_pem.as_bytes()).map_err(|e| RuleError::invalid("key", e))?;
        let probe = BackendClientCertificate {
            api_id: String::new(),
            certificate_pem: certificate_pem.to_string(),
            key_pem: key_pem.to_string(),
            created_at: now_millis(),
        };
        crate::tls::client::config_for(&[], "localhost", 443, Some(&probe))
            .map_err(|e| RuleError::invalid("key", e))?;
        self.write(|tx| {
            let api = Self::api_of(&tx.catalog, api_id)?.id.clone();
            let record = BackendClientCertificate {
                api_id: api.clone(),
                ..probe
            };
            tx.put(Table::BackendClientCertificates, &api, &record)?;
            tx.catalog
                .backend_client_certificates
                .insert(api.clone(), record.clone());
            tx.changes.push(Change::Api(api));
            Ok(record)
        })
        .await
    }

    /// Removes API `api_id`'s backend client certificate. Errors: no such API or none set
    /// (404).
    pub async fn remove_backend_client_certificate(
        &self,
        api_id: &str,
    ) -> Result<BackendClientCertificate> {
        self.write(|tx| {
            let api = Self::api_of(&tx.catalog, api_id)?.id.clone();
            let record = tx
                .catalog
                .backend_client_certificates
                .remove(&api)
                .ok_or_else(|| ControlError::not_found("client certificate of API", &api))?;
            tx.delete(Table::BackendClientCertificates, &api);
            tx.changes.push(Change::Api(api));
            Ok(record)
        })
        .await
    }
}
