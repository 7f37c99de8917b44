//! The HTTP client of the management API: the admin token, requests, refusals, and finding
//! APIs and applications by id or name.
//!
//! The token a request carries, first found first: `--admin-token`, else
//! `$STREAMGATE_ADMIN_TOKEN`, else the user's own token stored by `streamgate login` for
//! this management API URL, else the `admin-token` file of the local data dir.

use std::fmt::Write as _;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{ADMIN_TOKEN_ENV, CliError, ClientOptions, login};
use crate::datadir;
use crate::keys::ADMIN_TOKEN_FILE;
use crate::mgmt::dto::{
    ApiInfoDto, ApplicationInfoDto, ApplicationKeyDto, EnvironmentDto, ErrorBody, ListDto,
    OAuthError, PortalApiInfoDto, TokenResponse,
};
use crate::mgmt::{ADMIN_BASE, DEVPORTAL_BASE, PUBLISHER_BASE};
use crate::tls::mgmt_client::{self, HttpsClient};

/// No request body, for [`Client::send`] and [`Client::post`].
pub(super) const NO_BODY: Option<&()> = None;

/// Where the token a client sends came from, for its error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TokenSource {
    /// `--admin-token` or `$STREAMGATE_ADMIN_TOKEN`.
    Given,
    /// `streamgate login`'s stored token of `user`, in the file `path`.
    Login { user: String, path: String },
    /// The data dir's `admin-token` file at this path.
    DataDir(String),
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Given => write!(f, "--admin-token or ${ADMIN_TOKEN_ENV}"),
            TokenSource::Login { user, path } => {
                write!(f, "the login of {user} stored in {path}")
            }
            TokenSource::DataDir(path) => write!(f, "{path}"),
        }
    }
}

/// An HTTP client of the management API.
pub(super) struct Client {
    http: HttpsClient,
    /// The management API's URL.
    pub(super) base: Url,
    /// For an https management API, the certificate files trusted beside the platform's
    /// roots: the data dir's generated certificate when it exists, then `--cacert`.
    pub(super) trusted_certs: Vec<std::path::PathBuf>,
    /// The TLS config the HTTP client verifies an https management API with.
    tls: std::sync::Arc<rustls::ClientConfig>,
    token: Option<String>,
    token_source: TokenSource,
}

impl Client {
    /// A client of `opts.admin_url` with the admin token of `opts`.
    ///
    /// # Errors
    /// [`CliError::Usage`] for a URL that does not parse.
    pub(super) fn new(opts: &ClientOptions) -> Result<Client, CliError> {
        let base = Url::parse(opts.admin_url.trim_end_matches('/')).map_err(|e| {
            CliError::Usage(format!(
                "--admin-url '{}': {e}",
                crate::gateway::redact_url(&opts.admin_url)
            ))
        })?;
        let stored = || {
            let path = login::token_path()?;
            let login = login::read_logins(&path).remove(&login::url_key(&base))?;
            Some((
                Some(login.access_token),
                TokenSource::Login {
                    user: login.user,
                    path: path.display().to_string(),
                },
            ))
        };
        let (token, token_source) = match &opts.admin_token {
            Some(t) => (Some(t.trim().to_string()), TokenSource::Given),
            None => stored().unwrap_or_else(|| {
                let path = datadir::resolve(opts.data_dir.clone()).join(ADMIN_TOKEN_FILE);
                let token = std::fs::read_to_string(&path)
                    .ok()
                    .map(|t| t.trim().to_string());
                (token, TokenSource::DataDir(path.display().to_string()))
            }),
        };
        let (tls, trusted_certs) = tls_config(&base, opts)?;
        let http = mgmt_client::http_client(tls.clone(), std::time::Duration::from_secs(5));
        Ok(Client {
            http,
            base,
            trusted_certs,
            tls: std::sync::Arc::new(tls),
            token,
            token_source,
        })
    }

    /// The user the token acts as, when the client can tell: the signed-in user of
    /// `streamgate login`, `admin` for the data dir's admin-token file, and for a given
    /// token its JWT's `sub` (unverified: it only picks among what the server shows), else
    /// `admin` (a token that is not a management JWT can only be the admin token).
    pub(super) fn caller(&self) -> Option<String> {
        match &self.token_source {
            TokenSource::Login { user, .. } => Some(user.clone()),
            TokenSource::DataDir(_) => Some(crate::catalog::user::ADMIN_USER.to_string()),
            TokenSource::Given => {
                let token = self.token.as_deref()?;
                let mut parts = token.split('.');
                let (Some(_), Some(payload), Some(_), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Some(crate::catalog::user::ADMIN_USER.to_string());
                };
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(payload.trim_end_matches('='))
                    .ok()?;
                let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
                claims["sub"].as_str().map(str::to_string)
            }
        }
    }

    /// `path` (with `query`) under the management API's URL.
    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, CliError> {
        let mut url = self
            .base
            .join(path)
            .map_err(|e| CliError::Usage(format!("bad path {path}: {e}")))?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// The token's `Authorization` value for `path` (`/api/am/*` and `/scim2/*` only).
    ///
    /// # Errors
    /// [`CliError::Usage`] without a token, or with one that can't be a header.
    fn authorization(&self, path: &str) -> Result<Option<HeaderValue>, CliError> {
        if !path.starts_with("/api/am/") && !path.starts_with("/scim2/") {
            return Ok(None);
        }
        let token = self.token.as_deref().ok_or_else(|| {
            CliError::Usage(format!(
                "no admin token at {}: start `streamgate serve` once with this data dir, \
                 pass --data-dir or ${ADMIN_TOKEN_ENV}, or sign in with `streamgate login`",
                self.token_source
            ))
        })?;
        HeaderValue::from_str(&format!("Bearer {token}"))
            .map(Some)
            .map_err(|_| {
                CliError::Usage(format!(
                    "the admin token from {} is not a valid header value",
                    self.token_source
                ))
            })
    }

    /// Sends a request with `body` serialised as JSON (the admin token on `/api/am/*`);
    /// answers the JSON body (Null when empty) of a 2xx answer.
    ///
    /// # Errors
    /// [`CliError::Unreachable`], [`CliError::Tls`] for an untrusted certificate,
    /// [`CliError::Refused`] for a non-2xx answer, [`CliError::BadAnswer`] for one that is
    /// not JSON, [`CliError::Usage`] without a token.
    pub(super) async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&impl Serialize>,
    ) -> Result<Value, CliError> {
        let body = match body {
            Some(body) => Some((
                "application/json".to_string(),
                serde_json::to_vec(body)
                    .map_err(|e| CliError::Usage(format!("cannot encode the request: {e}")))?,
            )),
            None => None,
        };
        self.exchange(method, path, query, body).await
    }

    /// POSTs `fields` (name, file name for a file part, content) as `multipart/form-data`
    /// (RFC 7578) to `path`, as WSO2's uploads are sent; answers as [`Client::send`] does.
    pub(super) async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, Option<&str>, &[u8])],
    ) -> Result<Value, CliError> {
        let boundary = format!("streamgate-{}", uuid::Uuid::new_v4().simple());
        let mut body = Vec::new();
        for (name, file_name, content) in fields {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            let disposition = match file_name {
                Some(file) => format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{}\"\r\n\
                     Content-Type: application/x-pem-file\r\n\r\n",
                    file.replace(['"', '\r', '\n'], "_")
                ),
                None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
            };
            body.extend_from_slice(disposition.as_bytes());
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let content_type = format!("multipart/form-data; boundary={boundary}");
        self.exchange(Method::POST, path, &[], Some((content_type, body)))
            .await
    }

    /// Sends one request (`body` as content type and bytes) and reads its answer: the JSON
    /// body (Null when empty) of a 2xx answer.
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<(String, Vec<u8>)>,
    ) -> Result<Value, CliError> {
        let url = self.url(path, query)?;
        let mut req = hyper::Request::builder().method(method).uri(url.as_str());
        let auth = self.authorization(path)?;
        let bearer = auth.is_some();
        if let Some(auth) = auth {
            req = req.header(AUTHORIZATION, auth);
        }
        let bytes = match body {
            Some((content_type, bytes)) => {
                req = req.header(CONTENT_TYPE, content_type);
                Bytes::from(bytes)
            }
            None => Bytes::new(),
        };
        let req = req
            .body(Full::new(bytes))
            .map_err(|e| CliError::Usage(format!("bad request for {url}: {e}")))?;
        let resp = self
            .http
            .request(req)
            .await
            .map_err(|e| self.transport_error(&e))?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| CliError::BadAnswer(e.to_string()))?
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        if !status.is_success() {
            return Err(self.refusal(status, &text, bearer));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| CliError::BadAnswer(format!("{e}: {text}")))
    }

    /// A failed exchange in words: the TLS handshake's reason (an untrusted certificate),
    /// else the innermost cause, with a hint when an https server was asked in plain HTTP.
    fn transport_error(&self, e: &(dyn std::error::Error + 'static)) -> CliError {
        // A password in the URL's user info is not shown.
        let url = crate::gateway::redact_url(self.base.as_str().trim_end_matches('/'));
        if let Some(tls) = mgmt_client::handshake_error(e) {
            let (detail, hint) = if crate::tls::pinned::is_ca_used_as_end_entity(tls) {
                (
                    crate::tls::client::CA_AS_LEAF.to_string(),
                    "pass that exact certificate with --cacert".to_string(),
                )
            } else if matches!(
                tls,
                rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForName
                        | rustls::CertificateError::NotValidForNameContext { .. }
                )
            ) {
                (
                    tls.to_string(),
                    "its certificate does not name the host of --admin-url: use a host name \
                     the certificate holds (the generated one names localhost, 127.0.0.1 and \
                     ::1)"
                        .to_string(),
                )
            } else {
                (
                    tls.to_string(),
                    "if it serves its data dir's generated certificate, pass that --data-dir, \
                     else --cacert FILE with the CA that issued its certificate"
                        .to_string(),
                )
            };
            return CliError::Tls { url, detail, hint };
        }
        let mut detail = mgmt_client::innermost(e);
        if url.starts_with("http://") && mgmt_client::tls_answered_plain_http(&detail) {
            detail.push_str(" (the management API answers in TLS: use https:// in --admin-url)");
        }
        CliError::Unreachable { url, detail }
    }

    /// Sends an `application/x-www-form-urlencoded` body of `pairs` to `path` without a
    /// bearer token (the OAuth2 endpoints authenticate by their body).
    async fn form(&self, path: &str, pairs: &[(&str, &str)]) -> Result<Value, CliError> {
        let mut encoded = self.url(path, &[])?;
        encoded.query_pairs_mut().clear().extend_pairs(pairs);
        let body = encoded.query().unwrap_or_default().as_bytes().to_vec();
        let content_type = "application/x-www-form-urlencoded".to_string();
        self.exchange(Method::POST, path, &[], Some((content_type, body)))
            .await
    }

    /// RFC 6749's token endpoint (`POST /oauth2/token`) with the form `pairs`.
    ///
    /// # Errors
    /// As [`Client::send`]; a refused grant is [`CliError::Refused`] with OAuth2's error.
    pub(super) async fn token_request(
        &self,
        pairs: &[(&str, &str)],
    ) -> Result<TokenResponse, CliError> {
        let value = self.form("/oauth2/token", pairs).await?;
        parse(&value)
    }

    /// RFC 7009's revocation (`POST /oauth2/revoke`) of a management token by itself.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub(super) async fn revoke_management_token(&self, token: &str) -> Result<(), CliError> {
        self.form(
            "/oauth2/revoke",
            &[("token", token), ("token_type_hint", "access_token")],
        )
        .await
        .map(|_| ())
    }

    /// The error for a non-2xx answer: WSO2's, OAuth2's or SCIM's error body, or the raw
    /// text; a 401 or 403 also says where the token came from, and for a stored login
    /// that is no longer accepted, how to sign in again.
    fn refusal(&self, status: StatusCode, text: &str, bearer: bool) -> CliError {
        let scim = serde_json::from_str::<Value>(text).ok().and_then(|v| {
            let detail = v["detail"].as_str()?.to_string();
            let kind = v["scimType"].as_str().map(str::to_string);
            Some((kind, detail))
        });
        let (message, mut description) = match serde_json::from_str::<ErrorBody>(text) {
            Ok(err) if !err.message.is_empty() => (err.message, err.description),
            _ => match serde_json::from_str::<OAuthError>(text) {
                Ok(err) if !err.error.is_empty() => (err.error, err.error_description),
                _ => match scim {
                    Some((kind, detail)) => (
                        kind.unwrap_or_else(|| {
                            status.canonical_reason().unwrap_or("error").to_string()
                        }),
                        detail,
                    ),
                    None => (
                        status.canonical_reason().unwrap_or("error").to_string(),
                        text.trim().to_string(),
                    ),
                },
            },
        };
        if bearer && (status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN) {
            let _ = write!(
                description,
                " (the token used came from {})",
                self.token_source
            );
        }
        if bearer
            && status == StatusCode::UNAUTHORIZED
            && let TokenSource::Login { user, .. } = &self.token_source
        {
            let _ = write!(
                description,
                "; {user}'s stored token is expired or revoked: run `streamgate login --user {}` to sign in again",
                shell_word(user)
            );
        }
        CliError::Refused {
            status: status.as_u16(),
            message,
            description,
        }
    }

    /// GETs `path`, answering it read as `T` and as sent.
    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<(T, Value), CliError> {
        let value = self.send(Method::GET, path, query, NO_BODY).await?;
        Ok((parse(&value)?, value))
    }

    /// POSTs `body` to `path`, answering the answer read as `T` and as sent.
    pub(super) async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&impl Serialize>,
    ) -> Result<(T, Value), CliError> {
        let value = self.send(Method::POST, path, query, body).await?;
        Ok((parse(&value)?, value))
    }

    /// An API by id or `Name:version`, looked up in the Publisher's list.
    pub(super) async fn resolve_api(&self, handle: &str) -> Result<ApiInfoDto, CliError> {
        let list = match self
            .get::<ListDto<ApiInfoDto>>(&publisher("/apis"), &[("limit", "100000")])
            .await
        {
            Ok((list, _)) => list,
            // A subscriber may not list the Publisher's APIs: the Developer Portal's
            // (published ones) are the APIs they can subscribe to.
            Err(CliError::Refused { status: 403, .. }) => {
                let (portal, _) = self
                    .get::<ListDto<PortalApiInfoDto>>(&devportal("/apis"), &[("limit", "100000")])
                    .await?;
                ListDto::new(
                    portal
                        .list
                        .into_iter()
                        .map(|a| ApiInfoDto {
                            id: a.id,
                            name: a.name,
                            description: a.description,
                            context: a.context,
                            version: a.version,
                            provider: a.provider,
                            api_type: a.api_type,
                            lifecycle_status: a.lifecycle_status,
                            created_time: a.created_time,
                            ..ApiInfoDto::default()
                        })
                        .collect(),
                )
            }
            Err(e) => return Err(e),
        };
        let found = list.list.iter().find(|a| a.id == handle).or_else(|| {
            let (name, version) = handle.rsplit_once(':')?;
            list.list
                .iter()
                .find(|a| a.name.eq_ignore_ascii_case(name) && a.version == version)
        });
        found.cloned().ok_or_else(|| {
            let known: Vec<String> = list
                .list
                .iter()
                .map(|a| format!("{}:{}", a.name, a.version))
                .collect();
            CliError::Usage(format!(
                "no API '{handle}': give its id or Name:version (known: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })
    }

    /// An application by id or name.
    pub(super) async fn resolve_app(&self, handle: &str) -> Result<ApplicationInfoDto, CliError> {
        let (list, _) = self
            .get::<ListDto<ApplicationInfoDto>>(&devportal("/applications"), &[("limit", "100000")])
            .await?;
        if let Some(app) = list.list.iter().find(|a| a.application_id == handle) {
            return Ok(app.clone());
        }
        // Names are unique per owner: an admin may see several applications of one name.
        let named: Vec<&ApplicationInfoDto> = list
            .list
            .iter()
            .filter(|a| a.name.eq_ignore_ascii_case(handle))
            .collect();
        if named.len() > 1 {
            // An admin sees others' too: their own, when exactly one is, is the one meant.
            let caller = self.caller();
            let own: Vec<&&ApplicationInfoDto> = named
                .iter()
                .filter(|a| caller.as_deref() == Some(a.owner.as_str()))
                .collect();
            if let [one] = own.as_slice() {
                return Ok((**one).clone());
            }
            let ids: Vec<String> = named
                .iter()
                .map(|a| format!("{} (owner {})", a.application_id, a.owner))
                .collect();
            return Err(CliError::Usage(format!(
                "several applications are named '{handle}': give its id, one of {}",
                ids.join(", ")
            )));
        }
        named.first().copied().cloned().ok_or_else(|| {
            let known: Vec<&str> = list.list.iter().map(|a| a.name.as_str()).collect();
            CliError::Usage(format!(
                "no application '{handle}' (known: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })
    }

    /// The key pair of a key type, or a hint to generate it.
    pub(super) async fn key_of(
        &self,
        app: &ApplicationInfoDto,
        key_type: &str,
    ) -> Result<ApplicationKeyDto, CliError> {
        let (keys, _) = self
            .get::<ListDto<ApplicationKeyDto>>(
                &devportal(&format!("/applications/{}/oauth-keys", app.application_id)),
                &[],
            )
            .await?;
        keys.list
            .into_iter()
            .find(|k| k.key_type.eq_ignore_ascii_case(key_type))
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "application '{}' has no {} keys: run `streamgate keys generate {} --key-type {}` first",
                    app.name,
                    key_type.to_ascii_uppercase(),
                    shell_word(&app.name),
                    key_type.to_ascii_uppercase()
                ))
            })
    }

    /// The certificate an https management API presents (verified as every request is);
    /// `None` for http, or when no verified handshake comes within 5 s.
    pub(super) async fn presented_certificate(
        &self,
    ) -> Option<rustls_pki_types::CertificateDer<'static>> {
        if self.base.scheme() != "https" {
            return None;
        }
        let host = self.base.host_str()?;
        let port = self.base.port_or_known_default()?;
        mgmt_client::presented_certificate(
            self.tls.clone(),
            host,
            port,
            std::time::Duration::from_secs(5),
        )
        .await
    }

    /// The gateway URL of an environment, for messages.
    pub(super) async fn gateway_url(&self, env: &str) -> Option<String> {
        let (envs, _) = self
            .get::<ListDto<EnvironmentDto>>(&publisher("/environments"), &[])
            .await
            .ok()?;
        envs.list
            .into_iter()
            .find(|e| e.name == env)
            .and_then(|e| e.server_url)
    }
}

/// An answer read as `T` (an empty answer as `{}`).
pub(super) fn parse<T: DeserializeOwned>(value: &Value) -> Result<T, CliError> {
    serde_json::from_value(if value.is_null() {
        Value::Object(serde_json::Map::new())
    } else {
        value.clone()
    })
    .map_err(|e| CliError::BadAnswer(format!("{e}: {value}")))
}

/// The TLS config the client uses: for an https management API, the platform's roots,
/// the data dir's own certificate (`<data dir>/tls/cert.pem`, the one `serve` generates,
/// when it exists) and `--cacert`; TLS 1.2/1.3, HTTP/1.1. An http URL trusts nothing (it
/// never needs to). Also answers the files trusted beside the platform's roots (the data
/// dir's certificate, `--cacert`).
///
/// # Errors
/// [`CliError::Usage`] naming the file when `--cacert` is missing, unreadable or holds no
/// PEM certificate, or when a certificate is not usable as a root.
fn tls_config(
    base: &Url,
    opts: &ClientOptions,
) -> Result<(rustls::ClientConfig, Vec<std::path::PathBuf>), CliError> {
    use crate::tls::server::{CERT_FILE, TLS_DIR};
    let mut trust = mgmt_client::Trust::new(rustls::RootCertStore::empty());
    let mut trusted = Vec::new();
    if base.scheme() == "https" {
        trust.roots = (*crate::tls::client::platform_roots()).clone();
        let own = datadir::resolve(opts.data_dir.clone())
            .join(TLS_DIR)
            .join(CERT_FILE);
        // The data dir's certificate is trusted when it is there; a server elsewhere
        // needs --cacert.
        if let Ok(pem) = std::fs::read(&own) {
            match crate::tls::pem::certificates(&pem) {
                Ok(certs) => {
                    let mut added = false;
                    for cert in certs {
                        added |= trust.add(cert);
                    }
                    if added {
                        trusted.push(own.clone());
                    }
                }
                Err(e) => tracing::debug!("{}: {e}", own.display()),
            }
        }
        if let Some(path) = &opts.cacert {
            mgmt_client::trust_pem_file(&mut trust, path)
                .map_err(|e| CliError::Usage(format!("--cacert {}: {e}", path.display())))?;
            trusted.push(path.clone());
        }
    }
    let config = mgmt_client::client_config(trust).map_err(CliError::Usage)?;
    Ok((config, trusted))
}

/// Quotes a word for a shell hint when it needs it.
pub(super) fn shell_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The path of `path` under the publisher API's base.
pub(super) fn publisher(path: &str) -> String {
    format!("{PUBLISHER_BASE}{path}")
}

/// The path of `path` under the devportal API's base.
pub(super) fn devportal(path: &str) -> String {
    format!("{DEVPORTAL_BASE}{path}")
}

/// The path of `path` under the admin API's base.
pub(super) fn admin(path: &str) -> String {
    format!("{ADMIN_BASE}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_hints_quote_what_needs_quoting() {
        assert_eq!(shell_word("Tutorial"), "Tutorial");
        assert_eq!(shell_word("My App"), "'My App'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }
}
