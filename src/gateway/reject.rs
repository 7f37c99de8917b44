//! Why the gateway refused a request, and how each refusal looks on the wire: WSO2's
//! `{"code","message","description"}` JSON with its status and error code, except the
//! connect-time quota refusal, which is an SSE comment as the reference sends it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The body of a stream refused because its subscription's quota is used up, as WSO2
/// sends it (an SSE comment, so an `EventSource` sees no event).
pub const THROTTLED_BODY: &str =
    ": request is throttled out by the server, try again at later point of time\n\n";

/// A refused request. Each variant names its status and WSO2 error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// 404, code 404: no deployed API at this path, or no topic matches the resource.
    NotFound(String),
    /// 405, code 405: SSE topics are subscribe-only, so only GET is served.
    MethodNotAllowed,
    /// 503, code 700700: the API is BLOCKED.
    ApiBlocked,
    /// 400, code 400: the request path has `.`/`..` segments, `//`, `\` or an encoded
    /// slash, which could climb out of the API's topics or its endpoint's base path.
    BadRequest(String),
    /// 400, code 400: the token was sent more than once (header and query, two headers or
    /// two `access_token` parameters), so which one counts is ambiguous (RFC 6750 §2).
    AmbiguousCredentials,
    /// 401, code 900902: no token in `Authorization: Bearer` or `access_token`.
    MissingCredentials,
    /// 401, code 900901: the token is malformed, tampered, expired, not yet valid, revoked
    /// or for another audience.
    InvalidCredentials(String),
    /// 403, code 900908: the token's application is not subscribed to the API.
    NotSubscribed(String),
    /// 403, code 900907: the subscription is blocked for this key type.
    SubscriptionBlocked(String),
    /// 403, code 900901: a production (sandbox) key for an API with no production
    /// (sandbox) endpoint where it is deployed.
    NoEndpoint(String),
    /// 429, code 900803: the application's policy allows no more connections this minute.
    AppThrottled {
        /// Seconds until the next minute.
        retry_after: u64,
        /// The policy's limit, for the description.
        per_minute: u32,
    },
    /// 429, code 900804: the subscription's event quota is used up (SSE comment body).
    QuotaExhausted {
        /// Seconds until the quota window resets.
        retry_after: u64,
    },
    /// 503, code 900810: the shared quota store (Redis, `--redis`) is unavailable and this
    /// node holds no lease for the subscription, with `--quota-store-down=fail`.
    QuotaStoreUnavailable,
    /// 503, code 101503: the backend could not be reached in time. The text (which names
    /// the backend) is for the operator; the client gets a generic description.
    BackendUnreachable(String),
    /// 502, code 101503: the backend answered 200 with something other than an
    /// uncompressed `text/event-stream`, which can be neither relayed as SSE nor metered.
    /// The text is for the operator; the client gets a generic description.
    BackendNotSse(String),
    /// 502, code 101503: the backend redirected to a URL outside its endpoint's origin
    /// (scheme, host and port), or more than [`MAX_REDIRECTS`](super::MAX_REDIRECTS) times.
    /// The text (with the target) is for the operator; `Location` never reaches the client.
    BackendRedirect(String),
    /// 403, code 403: a cross-origin request from an origin the API's CORS configuration
    /// does not allow; refused before the backend is called.
    CorsForbidden(String),
}

impl Reject {
    /// Every WSO2 error code [`Reject::code`] can answer, in a fixed order (the metrics
    /// keep one counter per entry).
    pub const CODES: [u32; 13] = [
        400, 403, 404, 405, 101503, 700700, 900803, 900804, 900810, 900901, 900902, 900907, 900908,
    ];

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::ApiBlocked | Self::BackendUnreachable(_) | Self::QuotaStoreUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::BackendNotSse(_) | Self::BackendRedirect(_) => StatusCode::BAD_GATEWAY,
            Self::CorsForbidden(_) => StatusCode::FORBIDDEN,
            Self::BadRequest(_) | Self::AmbiguousCredentials => StatusCode::BAD_REQUEST,
            Self::MissingCredentials | Self::InvalidCredentials(_) => StatusCode::UNAUTHORIZED,
            Self::NotSubscribed(_) | Self::SubscriptionBlocked(_) | Self::NoEndpoint(_) => {
                StatusCode::FORBIDDEN
            }
            Self::AppThrottled { .. } | Self::QuotaExhausted { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
        }
    }

    /// The WSO2 error code.
    pub fn code(&self) -> u32 {
        match self {
            Self::NotFound(_) => 404,
            Self::CorsForbidden(_) => 403,
            Self::MethodNotAllowed => 405,
            Self::BadRequest(_) | Self::AmbiguousCredentials => 400,
            Self::ApiBlocked => 700700,
            Self::MissingCredentials => 900902,
            Self::InvalidCredentials(_) | Self::NoEndpoint(_) => 900901,
            Self::NotSubscribed(_) => 900908,
            Self::SubscriptionBlocked(_) => 900907,
            Self::AppThrottled { .. } => 900803,
            Self::QuotaExhausted { .. } => 900804,
            Self::QuotaStoreUnavailable => 900810,
            Self::BackendUnreachable(_) | Self::BackendNotSse(_) | Self::BackendRedirect(_) => {
                101503
            }
        }
    }

    /// The short message.
    pub fn message(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "Not Found",
            Self::CorsForbidden(_) => "CORS request forbidden",
            Self::MethodNotAllowed => "Method Not Allowed",
            Self::BadRequest(_) | Self::AmbiguousCredentials => "Bad Request",
            Self::ApiBlocked => "API blocked",
            Self::MissingCredentials => "Missing Credentials",
            Self::InvalidCredentials(_) | Self::NoEndpoint(_) => "Invalid Credentials",
            Self::NotSubscribed(_) => "Resource forbidden",
            Self::SubscriptionBlocked(_) => "The requested API is temporarily blocked",
            Self::AppThrottled { .. } | Self::QuotaExhausted { .. } => "Message throttled out",
            Self::QuotaStoreUnavailable => "Quota store unavailable",
            Self::BackendUnreachable(_) | Self::BackendNotSse(_) | Self::BackendRedirect(_) => {
                "Error connecting to the back end"
            }
        }
    }

    /// The longer explanation.
    pub fn description(&self) -> String {
        match self {
            Self::NotFound(d)
            | Self::BadRequest(d)
            | Self::InvalidCredentials(d)
            | Self::NotSubscribed(d)
            | Self::SubscriptionBlocked(d)
            | Self::NoEndpoint(d)
            | Self::CorsForbidden(d) => d.clone(),
            Self::BackendUnreachable(_) => {
                "The API's back end could not be reached; try again later".to_string()
            }
            Self::BackendNotSse(_) => {
                "The API's back end did not answer with an event stream".to_string()
            }
            Self::BackendRedirect(_) => {
                "The API's back end redirected outside its configured endpoint".to_string()
            }
            Self::MethodNotAllowed => {
                "SSE topics are subscribe-only: open the stream with GET (or HEAD)".to_string()
            }
            Self::ApiBlocked => "This API has been blocked temporarily. Please try again later \
                 or contact the system administrators."
                .to_string(),
            Self::AmbiguousCredentials => "The access token was sent more than once: send it \
                 either in the 'Authorization: Bearer' header or in the 'access_token' query \
                 parameter, once"
                .to_string(),
            Self::MissingCredentials => "Invalid Credentials. Make sure your API invocation call \
                 has a header: 'Authorization: Bearer ACCESS_TOKEN' or an 'access_token' query \
                 parameter"
                .to_string(),
            Self::AppThrottled {
                retry_after,
                per_minute,
            } => format!(
                "You have exceeded your quota: the application's policy allows {per_minute} \
                 connection requests per minute. Try again in {retry_after} s."
            ),
            Self::QuotaStoreUnavailable => "The quota store that meters this subscription \
                 across gateways is unavailable; try again later"
                .to_string(),
            Self::QuotaExhausted { retry_after } => format!(
                "You have exceeded your quota: the subscription's event quota is used up. Try \
                 again in {retry_after} s."
            ),
        }
    }
}

impl Reject {
    /// What the operator should read in the traffic pane: the description, or for backend
    /// failures the detail the client is not shown.
    pub fn detail(&self) -> String {
        match self {
            Self::BackendUnreachable(detail)
            | Self::BackendNotSse(detail)
            | Self::BackendRedirect(detail) => detail.clone(),
            other => other.description(),
        }
    }
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::QuotaExhausted { retry_after } = self {
            return (
                status,
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/event-stream"),
                    ),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                    (header::RETRY_AFTER, HeaderValue::from(retry_after)),
                ],
                THROTTLED_BODY,
            )
                .into_response();
        }
        let body = serde_json::json!({
            "code": self.code(),
            "message": self.message(),
            "description": self.description(),
        });
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::MissingCredentials => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"streamgate\""),
                );
            }
            Self::InvalidCredentials(why) => {
                let value = format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    why.replace(['"', '\\'], "'")
                );
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_str(&value).unwrap_or_else(|_| {
                        HeaderValue::from_static("Bearer error=\"invalid_token\"")
                    }),
                );
            }
            Self::AmbiguousCredentials => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer error=\"invalid_request\", error_description=\"the access token \
                         was sent more than once\"",
                    ),
                );
            }
            Self::AppThrottled { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            Self::QuotaStoreUnavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            Self::MethodNotAllowed => {
                headers.insert(
                    header::ALLOW,
                    HeaderValue::from_static("GET, HEAD, OPTIONS"),
                );
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_code_in_codes() {
        let all = [
            Reject::NotFound(String::new()),
            Reject::MethodNotAllowed,
            Reject::ApiBlocked,
            Reject::BadRequest(String::new()),
            Reject::AmbiguousCredentials,
            Reject::MissingCredentials,
            Reject::InvalidCredentials(String::new()),
            Reject::NotSubscribed(String::new()),
            Reject::SubscriptionBlocked(String::new()),
            Reject::NoEndpoint(String::new()),
            Reject::AppThrottled {
                retry_after: 1,
                per_minute: 1,
            },
            Reject::QuotaExhausted { retry_after: 1 },
            Reject::BackendUnreachable(String::new()),
            Reject::BackendNotSse(String::new()),
            Reject::BackendRedirect(String::new()),
            Reject::CorsForbidden(String::new()),
            Reject::QuotaStoreUnavailable,
        ];
        for r in &all {
            assert!(Reject::CODES.contains(&r.code()), "{r:?}");
        }
        let mut codes = Reject::CODES.to_vec();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Reject::CODES.len(), "no code twice");
        for code in Reject::CODES {
            assert!(all.iter().any(|r| r.code() == code), "{code} is used");
        }
    }
}
