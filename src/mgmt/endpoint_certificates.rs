//! Publisher v4 endpoint certificates (`/endpoint-certificates`, WSO2's shape:
//! `Certificates`, `CertMetadata`, `CertificateInfo`) and the per-API backend client
//! certificate for mutual TLS (`/apis/{apiId}/backend-client-certificate`, streamgate's
//! own: WSO2 keeps the gateway's client key in its keystore).
//!
//! Uploads are `multipart/form-data`, as WSO2's: `alias`, `endpoint`, `certificate` (a PEM
//! file); for the client certificate `certificate` and `key` (PEM files).

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState, Query};
use crate::tls::pem;
use crate::tls::store::{BackendClientCertificate, EndpointCertificate};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/endpoint-certificates", get(list).post(add))
        .route("/endpoint-certificates/{alias}", get(info).delete(remove))
        .route(
            "/apis/{id}/backend-client-certificate",
            get(client_info).put(set_client).delete(remove_client),
        )
}

/// WSO2's `CertMetadata`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CertMetadataDto {
    /// The alias.
    pub alias: String,
    /// The endpoint as registered.
    pub endpoint: String,
}

/// WSO2's `Certificates`: a list with `count`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CertificatesDto {
    /// How many are listed.
    pub count: usize,
    /// The certificates.
    pub certificates: Vec<CertMetadataDto>,
}

/// WSO2's `CertificateValidity` (RFC 3339 UTC timestamps).
#[derive(Debug, Serialize, Deserialize)]
pub struct CertificateValidityDto {
    /// notBefore.
    pub from: String,
    /// notAfter.
    pub to: String,
}

/// WSO2's `CertificateInfo`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CertificateInfoDto {
    /// `Active` while valid, `Expired` after, `Not yet valid` before.
    pub status: String,
    /// The validity period.
    pub validity: CertificateValidityDto,
    /// `V3` and the like.
    pub version: String,
    /// The subject's distinguished name.
    pub subject: String,
}

fn info_of(pem_text: &str) -> Result<CertificateInfoDto, ApiError> {
    let certs = pem::certificates(pem_text.as_bytes()).map_err(ApiError::internal)?;
    let facts = pem::facts(&certs[0]).map_err(ApiError::internal)?;
    let now = pem::now_secs();
    let status = if now > facts.not_after {
        "Expired"
    } else if now < facts.not_before {
        "Not yet valid"
    } else {
        "Active"
    };
    Ok(CertificateInfoDto {
        status: status.to_string(),
        validity: CertificateValidityDto {
            from: pem::rfc3339(facts.not_before),
            to: pem::rfc3339(facts.not_after),
        },
        version: facts.version,
        subject: facts.subject,
    })
}

fn metadata(cert: &EndpointCertificate) -> CertMetadataDto {
    CertMetadataDto {
        alias: cert.alias.clone(),
        endpoint: cert.endpoint.clone(),
    }
}

#[derive(Debug, Default, Deserialize)]
struct Filter {
    alias: Option<String>,
    endpoint: Option<String>,
}

async fn list(State(state): State<AppState>, Query(filter): Query<Filter>) -> Response {
    let snapshot = state.control.snapshot();
    let certificates: Vec<CertMetadataDto> = snapshot
        .endpoint_certificates
        .values()
        .filter(|c| filter.alias.as_deref().is_none_or(|a| c.alias == a))
        .filter(|c| filter.endpoint.as_deref().is_none_or(|e| c.endpoint == e))
        .map(metadata)
        .collect();
    axum::Json(CertificatesDto {
        count: certificates.len(),
        certificates,
    })
    .into_response()
}

/// The text parts of a multipart form, by name; files are read as UTF-8 (PEM is ASCII).
async fn form(mut multipart: Multipart) -> Result<HashMap<String, String>, ApiError> {
    let mut fields = HashMap::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(format!("malformed multipart/form-data: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| ApiError::bad_request(format!("malformed multipart/form-data: {e}")))?;
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| ApiError::invalid(&name, "is not text (PEM expected)"))?;
        fields.insert(name, text);
    }
    Ok(fields)
}

fn required<'a>(fields: &'a HashMap<String, String>, name: &str) -> Result<&'a str, ApiError> {
    fields
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::invalid(name, "is required"))
}

async fn add(State(state): State<AppState>, multipart: Multipart) -> Result<Response, ApiError> {
    let fields = form(multipart).await?;
    let cert = state
        .control
        .add_endpoint_certificate(
            required(&fields, "alias")?,
            required(&fields, "endpoint")?,
            required(&fields, "certificate")?,
        )
        .await?;
    let location = format!(
        "{}/endpoint-certificates/{}",
        super::PUBLISHER_BASE,
        cert.alias
    );
    Ok((
        StatusCode::OK,
        [(header::LOCATION, location)],
        axum::Json(metadata(&cert)),
    )
        .into_response())
}

async fn info(
    State(state): State<AppState>,
    Path(alias): Path<String>,
) -> Result<Response, ApiError> {
    let snapshot = state.control.snapshot();
    let cert = snapshot
        .endpoint_certificates
        .get(&alias)
        .ok_or_else(|| ApiError::not_found("certificate", &alias))?;
    Ok(axum::Json(info_of(&cert.pem)?).into_response())
}

async fn remove(
    State(state): State<AppState>,
    Path(alias): Path<String>,
) -> Result<Response, ApiError> {
    state.control.remove_endpoint_certificate(&alias).await?;
    Ok(StatusCode::OK.into_response())
}

/// The backend client certificate of an API: its info, never the key.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendClientCertificateDto {
    /// The API's id.
    pub api_id: String,
    /// The certificate's info.
    pub certificate_info: CertificateInfoDto,
}

fn client_dto(record: &BackendClientCertificate) -> Result<BackendClientCertificateDto, ApiError> {
    Ok(BackendClientCertificateDto {
        api_id: record.api_id.clone(),
        certificate_info: info_of(&record.certificate_pem)?,
    })
}

async fn client_info(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let snapshot = state.control.snapshot();
    let api = super::api_or_404(&snapshot, &id)?;
    let record = snapshot
        .backend_client_certificates
        .get(&api.id)
        .ok_or_else(|| ApiError::not_found("client certificate of API", &id))?;
    Ok(axum::Json(client_dto(record)?).into_response())
}

async fn set_client(
    State(state): State<AppState>,
    Path(id): Path<String>,
    multipart: Multipart,
) -> Result<Response, ApiError> {
    let fields = form(multipart).await?;
    let record = state
        .control
        .set_backend_client_certificate(
            &id,
            required(&fields, "certificate")?,
            required(&fields, "key")?,
        )
        .await?;
    Ok(axum::Json(client_dto(&record)?).into_response())
}

async fn remove_client(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state.control.remove_backend_client_certificate(&id).await?;
    Ok(StatusCode::OK.into_response())
}
