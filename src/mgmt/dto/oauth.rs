//! RFC 6749's token endpoint shapes.

use serde::{Deserialize, Serialize};

/// RFC 6749's token response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenResponse {
    /// The JWT.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// Its scopes, space separated.
    pub scope: String,
    /// A refresh token (RFC 6749 §5.1): from the password and refresh_token grants only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// RFC 6749's error response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OAuthError {
    /// `invalid_client`, `invalid_request`, `unsupported_grant_type`, ...
    pub error: String,
    /// What exactly went wrong.
    pub error_description: String,
}
