//! The OAuth2 key manager's endpoints: the client-credentials token endpoint (RFC 6749
//! §4.4), token revocation (RFC 7009: an application's gateway tokens with its client
//! credentials, a management token by presenting it alone) and the JWKS that verifies the
//! JWTs it signs.

use std::collections::HashMap;

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::AppState;
use super::dto::{OAuthError, TokenResponse};
use crate::control::{AuthError, ControlError};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/oauth2/token", post(token))
        .route("/oauth2/revoke", post(revoke))
        .route("/oauth2/jwks", get(jwks))
        .route("/client-registration/v0.17/register", post(register_client))
        // The management API's body limit, here too (axum's default is 2 MiB).
        .layer(axum::extract::DefaultBodyLimit::max(super::MAX_BODY_BYTES))
}

/// 413 for a body over [`super::MAX_BODY_BYTES`], in RFC 6749's error shape.
fn too_large() -> OAuthFailure {
    oauth_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request",
        format!(
            "the request body is larger than {} KiB",
            super::MAX_BODY_BYTES / 1024
        ),
    )
}

/// An RFC 6749 §5.2 error answer, never cached.
#[derive(Debug)]
struct OAuthFailure {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl IntoResponse for OAuthFailure {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (header::PRAGMA, HeaderValue::from_static("no-cache")),
            ],
            axum::Json(OAuthError {
                error: self.error.to_string(),
                error_description: self.description,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"streamgate\""),
            );
        }
        response
    }
}

fn oauth_error(
    status: StatusCode,
    error: &'static str,
    description: impl Into<String>,
) -> OAuthFailure {
    OAuthFailure {
        status,
        error,
        description: description.into(),
    }
}

fn invalid_client(description: impl Into<String>) -> OAuthFailure {
    oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

fn invalid_request(description: impl Into<String>) -> OAuthFailure {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// The client's id and secret: HTTP Basic, or `client_id`/`client_secret` in the body.
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(String, String), OAuthFailure> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| invalid_client("the Authorization header is not ASCII"))?;
        let Some((scheme, encoded)) = value.trim().split_once(' ') else {
            return Err(invalid_client(
                "use `Authorization: Basic base64(consumerKey:consumerSecret)`",
            ));
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(invalid_client(format!(
                "authenticate the client with HTTP Basic, not {scheme}"
            )));
        }
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| invalid_client("the Basic credentials are not valid base64"))?;
        let (id, secret) = decoded.split_once(':').ok_or_else(|| {
            invalid_client("the Basic credentials must be consumerKey:consumerSecret")
        })?;
        return Ok((id.to_string(), secret.to_string()));
    }
    match (form.get("client_id"), form.get("client_secret")) {
        (Some(id), Some(secret)) => Ok((id.clone(), secret.clone())),
        _ => Err(invalid_client(
            "client authentication is required: HTTP Basic consumerKey:consumerSecret",
        )),
    }
}

fn read_form(
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<HashMap<String, String>, OAuthFailure> {
    form.map(|Form(f)| f).map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return too_large();
        }
        invalid_request(format!(
            "send an application/x-www-form-urlencoded body: {}",
            rejection.body_text()
        ))
    })
}

async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, OAuthFailure> {
    let form = read_form(form)?;
    match form.get("grant_type").map(String::as_str) {
        None | Some("") => return Err(invalid_request("grant_type is required")),
        Some("client_credentials") => {}
        Some("password") => return password_grant(&state, &headers, &form).await,
        Some("refresh_token") => return refresh_grant(&state, &headers, &form).await,
        Some(other) => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!(
                    "'{other}' is not supported; use grant_type=client_credentials, password \
                     or refresh_token"
                ),
            ));
        }
    }
    let validity = match form.get("validity_period").map(|v| v.trim()) {
        None | Some("") => None,
        Some(v) => match v.parse::<i64>() {
            Ok(secs) if secs > 0 => Some(secs),
            _ => {
                return Err(invalid_request(format!(
                    "validity_period must be a positive number of seconds, not '{v}'"
                )));
            }
        },
    };
    let (id, secret) = client_credentials(&headers, &form)?;
    match state.control.client_credentials(&id, &secret, validity) {
        Ok(issued) => Ok((
            [
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (header::PRAGMA, HeaderValue::from_static("no-cache")),
            ],
            axum::Json(TokenResponse {
                access_token: issued.access_token,
                token_type: "Bearer".to_string(),
                expires_in: issued.expires_in,
                scope: issued.scope,
                refresh_token: None,
            }),
        )
            .into_response()),
        Err(ControlError::InvalidClient) => Err(invalid_client(
            "unknown consumer key or wrong consumer secret",
        )),
        Err(ControlError::Rule(rule)) => Err(invalid_request(rule.to_string())),
        Err(other) => {
            tracing::error!(error = %other, "token endpoint failed");
            Err(oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the key manager failed; its log has the details",
            ))
        }
    }
}

async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<StatusCode, OAuthFailure> {
    let form = read_form(form)?;
    if !headers.contains_key(header::AUTHORIZATION) && !form.contains_key("client_id") {
        // A management token (password grant) revokes itself: the caller is the token's
        // own public client, which RFC 7009 §2.1 does not ask to authenticate.
        let token = form
            .get("token")
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid_request("token is required"))?;
        return match state.control.revoke_management_token(token).await {
            Ok(_) => Ok(StatusCode::OK),
            Err(err) => {
                tracing::error!(error = %err, "revocation failed");
                Err(oauth_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server_error",
                    "the revocation could not be stored; try again",
                ))
            }
        };
    }
    let (id, secret) = client_credentials(&headers, &form)?;
    let client = state
        .control
        .authenticate_client(&id, &secret)
        .map_err(|_| invalid_client("unknown consumer key or wrong consumer secret"))?;
    let token = form
        .get("token")
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid_request("token is required"))?;
    // RFC 7009 §2.2: unknown, foreign and already revoked tokens still answer 200.
    match state
        .control
        .revoke_token(token, Some(&client.consumer_key))
        .await
    {
        Ok(_) => Ok(StatusCode::OK),
        Err(err) => {
            tracing::error!(error = %err, "revocation failed");
            Err(oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "the revocation could not be stored; try again",
            ))
        }
    }
}

async fn jwks(State(state): State<AppState>) -> Response {
    axum::Json(state.control.keys().jwks()).into_response()
}

fn no_store(body: TokenResponse) -> Response {
    (
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        axum::Json(body),
    )
        .into_response()
}

fn auth_failure(err: AuthError) -> OAuthFailure {
    match err {
        // 400, as RFC 6749 §5.2 has every error but `invalid_client` (and WSO2 answers).
        AuthError::InvalidGrant => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "wrong user name or password, or the user is locked",
        ),
        AuthError::InvalidClient => invalid_client("unknown client id or wrong client secret"),
        AuthError::InvalidToken(m) => invalid_client(m),
        AuthError::Control(ControlError::Rule(rule)) => invalid_request(rule.to_string()),
        AuthError::Control(other) => {
            tracing::error!(error = %other, "password grant failed");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the key manager failed; its log has the details",
            )
        }
    }
}

/// The client's credentials when the request carries any (HTTP Basic or `client_id`).
fn optional_client(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Option<(String, String)>, OAuthFailure> {
    if headers.contains_key(header::AUTHORIZATION) || form.contains_key("client_id") {
        client_credentials(headers, form).map(Some)
    } else {
        Ok(None)
    }
}

/// The token response of the password and refresh_token grants.
fn management_answer(issued: crate::control::IssuedManagementToken) -> Response {
    no_store(TokenResponse {
        access_token: issued.access_token,
        token_type: "Bearer".to_string(),
        expires_in: issued.expires_in,
        scope: issued.scope,
        refresh_token: Some(issued.refresh_token),
    })
}

/// RFC 6749 §4.3: a management token for a user. A client (HTTP Basic or
/// `client_id`/`client_secret`) is optional; when present it must be a client registered
/// with Dynamic Client Registration.
async fn password_grant(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Response, OAuthFailure> {
    let field = |name: &str| {
        form.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid_request(format!("{name} is required for grant_type=password")))
    };
    let username = field("username")?;
    let password = field("password")?;
    let client = optional_client(headers, form)?;
    let issued = state
        .control
        .password_grant(
            username,
            password,
            form.get("scope").map(String::as_str),
            None,
            client.as_ref().map(|(i, s)| (i.as_str(), s.as_str())),
        )
        .await
        .map_err(auth_failure)?;
    Ok(management_answer(issued))
}

/// RFC 6749 §6: a new management token (and refresh token) for a refresh token from the
/// password grant. A token issued to a DCR client needs that client's credentials.
async fn refresh_grant(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Response, OAuthFailure> {
    let refresh_token = form
        .get("refresh_token")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid_request("refresh_token is required for grant_type=refresh_token"))?;
    let client = optional_client(headers, form)?;
    let issued = state
        .control
        .refresh_grant(
            refresh_token,
            form.get("scope").map(String::as_str),
            client.as_ref().map(|(i, s)| (i.as_str(), s.as_str())),
        )
        .await
        .map_err(|e| match e {
            AuthError::InvalidGrant => oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the refresh token is invalid, expired or already used, its user changed \
                 password or is locked, or the scope asks for more than it granted",
            ),
            other => auth_failure(other),
        })?;
    Ok(management_answer(issued))
}

/// WSO2's Dynamic Client Registration request body.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterIn {
    client_name: Option<String>,
    owner: Option<String>,
    grant_type: Option<String>,
    #[serde(default)]
    saas_app: bool,
}

/// `POST /client-registration/v0.17/register` (WSO2 DCR): HTTP Basic with the user's name
/// and password; answers `{clientId, clientSecret, clientName, callBackURL,
/// isSaasApplication, jsonString}`.
async fn register_client(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, OAuthFailure> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            invalid_request(format!(
                "cannot read the request body: {}",
                rejection.body_text()
            ))
        }
    })?;
    let (user, password) = client_credentials(&headers, &HashMap::new())?;
    let body: RegisterIn = serde_json::from_slice(&body).map_err(|e| {
        invalid_request(format!(
            "send a JSON body {{clientName, owner, grantType, saasApp}}: {e}"
        ))
    })?;
    let client_name = body
        .client_name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| invalid_request("clientName is required"))?;
    if body.owner.as_deref().is_some_and(|o| o != user) {
        return Err(invalid_request("owner must be the authenticated user"));
    }
    let registered = state
        .control
        .register_client(&user, &password, &client_name)
        .await
        .map_err(|e| match e {
            AuthError::InvalidGrant => {
                invalid_client("wrong user name or password, or the user is locked")
            }
            other => auth_failure(other),
        })?;
    let grant_type = body
        .grant_type
        .unwrap_or_else(|| "password refresh_token".to_string());
    let json_string = serde_json::json!({
        "grant_types": grant_type,
        "client_name": registered.name,
    })
    .to_string();
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(serde_json::json!({
            "clientId": registered.client_id,
            "clientSecret": registered.client_secret,
            "clientName": registered.name,
            "callBackURL": null,
            "isSaasApplication": body.saas_app,
            "jsonString": json_string,
        })),
    )
        .into_response())
}
