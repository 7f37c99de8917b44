//! `streamgate cert add|list|show|remove`: endpoint certificates, the certificates (a
//! backend's own, or the CA that issued it) trusted for one https backend endpoint, through
//! WSO2's Publisher v4 `/endpoint-certificates` (see [`crate::mgmt::endpoint_certificates`]).
//! `add` uploads the PEM file as `multipart/form-data` with the fields `alias`, `endpoint`
//! and `certificate`, as WSO2's `addEndpointCertificate` does.

use std::fmt::Write as _;
use std::path::PathBuf;

use reqwest::Method;

use super::client::{Client, NO_BODY, parse, publisher};
use super::{CliError, Output};
use crate::mgmt::endpoint_certificates::{CertMetadataDto, CertificateInfoDto, CertificatesDto};

/// The `cert` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum CertCommand {
    /// Trust a certificate (PEM) for one https backend endpoint.
    Add {
        /// A name for the certificate, unique among endpoint certificates.
        alias: String,
        /// The backend it is trusted for, e.g. https://backend.example:8443 (its host and
        /// port count).
        #[arg(long)]
        endpoint: String,
        /// The certificate file: the backend's own certificate or its CA's, in PEM.
        #[arg(long, value_name = "PEM")]
        file: PathBuf,
    },
    /// List the endpoint certificates (alias and endpoint).
    List,
    /// Show one certificate: status, validity, subject.
    Show {
        /// The certificate's alias.
        alias: String,
    },
    /// Stop trusting a certificate.
    Remove {
        /// The certificate's alias.
        alias: String,
    },
}

/// Runs a `cert` subcommand.
pub(super) async fn run(client: &Client, command: CertCommand) -> Result<Output, CliError> {
    match command {
        CertCommand::Add {
            alias,
            endpoint,
            file,
        } => add(client, alias, endpoint, file).await,
        CertCommand::List => list(client).await,
        CertCommand::Show { alias } => show(client, &alias).await,
        CertCommand::Remove { alias } => remove(client, &alias).await,
    }
}

/// The path of one certificate.
fn one(alias: &str) -> String {
    publisher(&format!(
        "/endpoint-certificates/{}",
        url_segment(alias.trim())
    ))
}

/// Percent-encodes what a path segment can't hold as is.
fn url_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `cert add ALIAS --endpoint URL --file PEM`.
async fn add(
    client: &Client,
    alias: String,
    endpoint: String,
    file: PathBuf,
) -> Result<Output, CliError> {
    let pem = std::fs::read(&file)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
    // A file that is not PEM at all is told here, by name; validity and the rest are the
    // server's to judge (a 400 with WSO2's error body).
    crate::tls::pem::certificates(&pem)
        .map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
    let file_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "certificate.pem".to_string());
    let fields: [(&str, Option<&str>, &[u8]); 3] = [
        ("alias", None, alias.as_bytes()),
        ("endpoint", None, endpoint.as_bytes()),
        ("certificate", Some(&file_name), &pem),
    ];
    let json = client
        .post_multipart(&publisher("/endpoint-certificates"), &fields)
        .await?;
    let added: CertMetadataDto = parse(&json)?;
    Ok(Output {
        human: format!(
            "certificate {} trusted for {}\n",
            added.alias, added.endpoint
        ),
        quiet: added.alias,
        json,
        warnings: Vec::new(),
    })
}

/// `cert list`.
async fn list(client: &Client) -> Result<Output, CliError> {
    let (list, json) = client
        .get::<CertificatesDto>(&publisher("/endpoint-certificates"), &[])
        .await?;
    let rows: Vec<Vec<String>> = list
        .certificates
        .iter()
        .map(|c| vec![c.alias.clone(), c.endpoint.clone()])
        .collect();
    Ok(Output::listing(
        json,
        &["ALIAS", "ENDPOINT"],
        &rows,
        "no endpoint certificates",
    ))
}

/// `cert show ALIAS`.
async fn show(client: &Client, alias: &str) -> Result<Output, CliError> {
    let (info, json) = client.get::<CertificateInfoDto>(&one(alias), &[]).await?;
    let mut human = String::new();
    let _ = writeln!(human, "alias    {}", alias.trim());
    let _ = writeln!(human, "status   {}", info.status);
    let _ = writeln!(
        human,
        "valid    {} to {}",
        info.validity.from, info.validity.to
    );
    let _ = writeln!(human, "subject  {}", info.subject);
    let _ = writeln!(human, "version  {}", info.version);
    Ok(Output {
        human,
        quiet: info.status,
        json,
        warnings: Vec::new(),
    })
}

/// `cert remove ALIAS`.
async fn remove(client: &Client, alias: &str) -> Result<Output, CliError> {
    let json = client
        .send(Method::DELETE, &one(alias), &[], NO_BODY)
        .await?;
    Ok(Output {
        human: format!("certificate {} removed\n", alias.trim()),
        quiet: alias.trim().to_string(),
        json,
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_one_path_segment() {
        assert_eq!(url_segment("wso2carbon"), "wso2carbon");
        assert_eq!(url_segment("a b/c"), "a%20b%2Fc");
    }
}
