//! Errors of the management API in WSO2's `Error` shape (`{code, message, description}`),
//! and JSON/query extractors whose rejections answer in that shape too.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::dto::ErrorBody;
use crate::catalog::RuleError;
use crate::control::ControlError;

/// An error answer of the management API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// WSO2's error code: the HTTP status, or a specific code such as 900351.
    pub code: i64,
    /// A short summary, e.g. `Bad Request`.
    pub message: String,
    /// What exactly went wrong, naming the field or the thing involved.
    pub description: String,
    /// The `WWW-Authenticate` challenge for 401 answers.
    pub challenge: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, code: i64, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: status.canonical_reason().unwrap_or("Error").to_string(),
            description: description.into(),
            challenge: None,
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 400, description)
    }

    /// 400: one field is wrong; the description starts with the field's name.
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        Self::bad_request(format!("{field}: {message}"))
    }

    /// 404: no such thing.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            404,
            format!("{what} '{id}' not found"),
        )
    }

    /// 409: the request clashes with the current state; `code` is WSO2's.
    pub fn conflict(code: i64, description: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, description)
    }

    /// 401 for the admin token: WSO2's 900902 (missing) or 900901 (invalid).
    pub fn unauthorized(code: i64, message: &str, description: impl Into<String>) -> Self {
        Self {
            message: message.to_string(),
            challenge: Some("Bearer realm=\"streamgate\""),
            ..Self::new(StatusCode::UNAUTHORIZED, code, description)
        }
    }

    /// 500: logged in full, the client only learns that it happened.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "management API request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            500,
            "the server failed to handle the request; its log has the details",
        )
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code,
            message: self.message.clone(),
            description: self.description.clone(),
            more_info: String::new(),
            error: Vec::new(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.message, self.description)
    }
}

impl From<RuleError> for ApiError {
    fn from(err: RuleError) -> Self {
        match err {
            RuleError::Invalid { field, message } => Self::invalid(field, message),
            RuleError::Conflict { code, message } => Self::conflict(i64::from(code), message),
        }
    }
}

impl From<ControlError> for ApiError {
    fn from(err: ControlError) -> Self {
        match err {
            ControlError::Rule(rule) => rule.into(),
            ControlError::NotFound { what, id } => Self::not_found(what, &id),
            ControlError::InvalidClient => Self::unauthorized(
                900901,
                "Invalid Credentials",
                "unknown consumer key or wrong consumer secret",
            ),
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// axum's rejection texts read `Generic summary: precise cause`; keep the cause.
fn cause_of(text: &str) -> String {
    text.split_once(": ")
        .map(|(_, cause)| cause.to_string())
        .unwrap_or_else(|| text.to_string())
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match &rejection {
            JsonRejection::JsonSyntaxError(_) => Self {
                message: "Malformed JSON body".to_string(),
                ..Self::bad_request(cause_of(&rejection.body_text()))
            },
            JsonRejection::JsonDataError(_) => Self {
                message: "Invalid request body".to_string(),
                ..Self::bad_request(cause_of(&rejection.body_text()))
            },
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                415,
                "send the body as JSON with `Content-Type: application/json`",
            ),
            _ => Self::bad_request(format!(
                "cannot read the request body: {}",
                rejection.body_text()
            )),
        }
    }
}

/// A JSON request body. Unlike axum's own, a bad body answers 400 with WSO2's `Error` JSON
/// naming the field, and a body sent without a content type (as `curl -d` does) is read as
/// JSON rather than refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

/// Lets a JSON body through when its content type is absent or curl's default form type.
fn assume_json(mut req: Request) -> Result<Request, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.to_ascii_lowercase());
    match content_type.as_deref() {
        Some(ct) if ct.starts_with("application/json") || ct.contains("+json") => Ok(req),
        None | Some("application/x-www-form-urlencoded") => {
            req.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Ok(req)
        }
        Some(other) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            415,
            format!("the body must be JSON (`Content-Type: application/json`), not '{other}'"),
        )),
    }
}

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let req = assume_json(req)?;
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, super::MAX_BODY_BYTES)
            .await
            .map_err(body_error)?;
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') && expects_object::<T>() {
            // serde's derived structs also read a JSON array positionally; an object body
            // must be an object (RFC 8259 objects have named members).
            return Err(ApiError::bad_request(
                "the body must be a JSON object, not an array".to_string(),
            ));
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Json(value))
    }
}

/// Why a request body could not be read: 413 when it is larger than
/// [`super::MAX_BODY_BYTES`], else 400.
fn body_error(e: axum::Error) -> ApiError {
    let too_large = std::error::Error::source(&e)
        .is_some_and(|cause| cause.is::<http_body_util::LengthLimitError>())
        || e.to_string().contains("length limit exceeded");
    if too_large {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            413,
            format!(
                "the request body is larger than {} KiB",
                super::MAX_BODY_BYTES / 1024
            ),
        );
    }
    ApiError::bad_request(format!("cannot read the request body: {e}"))
}

/// Whether `T` is read from a JSON object (a struct or map) rather than from an array:
/// probed by reading `{}`, which an array type refuses as "invalid type: map".
fn expects_object<T: DeserializeOwned>() -> bool {
    match serde_json::from_str::<T>("{}") {
        Ok(_) => true,
        Err(e) => !e.to_string().starts_with("invalid type: map"),
    }
}

/// A JSON body that may be absent: an empty body gives `T::default()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionalJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, super::MAX_BODY_BYTES)
            .await
            .map_err(body_error)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        let Json(value) = Json::<T>::from_request(req, state).await?;
        Ok(OptionalJson(value))
    }
}

/// A query string whose rejection is WSO2's `Error` JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|rejection: QueryRejection| {
                ApiError::bad_request(format!(
                    "bad query string: {}",
                    cause_of(&rejection.body_text())
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_errors_map_to_400_and_409_with_their_codes() {
        let invalid: ApiError = RuleError::invalid("context", "must start with '/'").into();
        assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
        assert_eq!(invalid.description, "context: must start with '/'");
        let conflict: ApiError = RuleError::conflict(900351, "too many").into();
        assert_eq!(conflict.status, StatusCode::CONFLICT);
        assert_eq!(conflict.code, 900351);
        let missing: ApiError = ControlError::NotFound {
            what: "API",
            id: "x".into(),
        }
        .into();
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.description, "API 'x' not found");
    }

    #[test]
    fn rejection_causes_drop_axums_generic_summary() {
        assert_eq!(
            cause_of("Failed to parse the request body as JSON: EOF at line 1 column 1"),
            "EOF at line 1 column 1"
        );
        assert_eq!(cause_of("plain"), "plain");
    }
}
