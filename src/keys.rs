//! The key manager: consumer keys and hashed secrets, the Ed25519 signing key kept in the
//! data dir, JWT access tokens (EdDSA, pinned on verification), the JWKS and the admin token.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::{Application, KeyPair, KeyType};
use crate::datadir;

/// The signing key's file in the data dir (PKCS#8 PEM, mode 0600).
pub const SIGNING_KEY_FILE: &str = "signing-key.pem";
/// The admin token's file in the data dir (mode 0600).
pub const ADMIN_TOKEN_FILE: &str = "admin-token";
/// The `iss` of every access token.
pub const ISSUER: &str = "https://localhost:9443/oauth2/token";
/// The `aud` of every access token: streamgate's gateway.
pub const AUDIENCE: &str = "streamgate-gateway";
/// Default leeway, in seconds, on a token's `nbf` and `iat` for an issuer's clock ahead of
/// ours (never applied to `exp`).
pub const DEFAULT_CLOCK_SKEW_SECS: i64 = 30;

/// The `aud` of management tokens (password grant): the management REST API. The gateway
/// refuses them and the management API refuses gateway tokens.
pub const MANAGEMENT_AUDIENCE: &str = "streamgate-management";

/// The `aud` of refresh tokens (issued with management tokens by the password grant, RFC
/// 6749 §6): only the token endpoint's `refresh_token` grant takes them.
pub const REFRESH_AUDIENCE: &str = "streamgate-refresh";

/// How long a refresh token is valid, seconds (WSO2's default: one day).
pub const REFRESH_VALIDITY_SECS: i64 = 24 * 3600;
/// Token validity when none is asked for, as WSO2's 3600 s.
pub const DEFAULT_VALIDITY_SECS: i64 = 3600;
/// The longest validity that may be asked for (one year).
pub const MAX_VALIDITY_SECS: i64 = 365 * 24 * 3600;
/// The JWS algorithm: Ed25519.
pub const ALGORITHM: Algorithm = Algorithm::EdDSA;
/// Verified tokens remembered per thread, so a client reconnecting with the same token
/// skips the signature check; the cache is emptied when it grows past this.
const VERIFIED_CACHE_MAX: usize = 4096;

thread_local! {
    /// Tokens this thread verified, with their claims. Per thread, so the gateway's hot
    /// path takes no lock; a token's validity (`exp`) is rechecked on every hit.
    static VERIFIED: std::cell::RefCell<crate::fast_map::FastHashMap<String, std::sync::Arc<AccessClaims>>> =
        std::cell::RefCell::new(crate::fast_map::FastHashMap::default());
}

/// What can go wrong in the key manager.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A key file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The signing key file is not a valid Ed25519 PKCS#8 key.
    #[error("signing key {0} is not a valid Ed25519 PKCS#8 PEM key")]
    BadKey(std::path::PathBuf),
    /// The operating system's random source failed.
    #[error("no randomness available: {0}")]
    Random(String),
    /// Signing failed.
    #[error("cannot sign token: {0}")]
    Sign(String),
}

/// Why a token was refused. Every variant maps to 401/900901 at the gateway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Past `exp`.
    #[error("the access token has expired")]
    Expired,
    /// Before `nbf`.
    #[error("the access token is not valid yet")]
    NotYetValid,
    /// Signature, algorithm, key id, issuer, audience or shape wrong.
    #[error("the access token is invalid: {0}")]
    Invalid(String),
}

/// Why a token that is not a well-formed JWS (RFC 7515 compact form with a JSON header and
/// claims streamgate signs) is refused.
const MALFORMED: &str = "it is not a well-formed signed token";
/// The `aud` claim (a string, or the first of an array) of a compact JWS `token`, read
/// without verifying anything: only to word a refusal of a token already verified.
fn claims_audience(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    match claims.get("aud")? {
        serde_json::Value::String(aud) => Some(aud.clone()),
        serde_json::Value::Array(auds) => auds.first()?.as_str().map(str::to_string),
        _ => None,
    }
}

/// Why a token signed with the signing key but without the claims of its kind is refused.
const BAD_CLAIMS: &str = "its claims are missing or malformed";
/// Why a token whose signature does not verify with the signing key is refused.
const BAD_SIGNATURE: &str = "its signature does not verify";

/// Why `jsonwebtoken` refused a signed token: expired, not yet valid, or invalid, saying
/// `other_kind` when the token is the other kind of streamgate token (its audience, or
/// claims missing that this kind has).
fn refusal(
    kind: &jsonwebtoken::errors::ErrorKind,
    other_kind: &str,
    token: &str,
    validation: &Validation,
) -> TokenError {
    use jsonwebtoken::errors::ErrorKind;
    match kind {
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidAudience => TokenError::Invalid(other_kind.into()),
        // Signed here (the signature is checked before the claims are read), with claims
        // this kind does not have: the other kind of token when its audience says so, else
        // claims missing or of another type.
        ErrorKind::Json(_) | ErrorKind::MissingRequiredClaim(_) => {
            let own = claims_audience(token).is_some_and(|aud| {
                validation
                    .aud
                    .as_ref()
                    .is_some_and(|expected| expected.contains(&aud))
            });
            TokenError::Invalid(if own { BAD_CLAIMS } else { other_kind }.into())
        }
        // In words a client can act on, never the library's internals (its parser errors
        // name byte offsets and types).
        ErrorKind::InvalidSignature => TokenError::Invalid(BAD_SIGNATURE.into()),
        ErrorKind::InvalidIssuer => TokenError::Invalid("it was not issued by this server".into()),
        _ => TokenError::Invalid(MALFORMED.into()),
    }
}

/// The `application` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationClaim {
    /// The application's id.
    pub uuid: String,
    /// Its name.
    pub name: String,
    /// Its owner.
    pub owner: String,
    /// Its application policy.
    pub tier: String,
}

/// The claims of a streamgate access token, as WSO2 puts them in its JWTs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the application's owner.
    pub sub: String,
    /// Audience: the gateway.
    pub aud: String,
    /// Authorised party: the consumer key.
    pub azp: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Not before (seconds).
    pub nbf: i64,
    /// Expires (seconds).
    pub exp: i64,
    /// Token id, the handle for revocation.
    pub jti: String,
    /// Scopes, space separated.
    pub scope: String,
    /// PRODUCTION or SANDBOX.
    pub keytype: KeyType,
    /// The application.
    pub application: ApplicationClaim,
}

/// A token just issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The JWT.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// Its scopes.
    pub scope: String,
    /// Its claims.
    pub claims: AccessClaims,
}

/// The validation rules of gateway tokens and of management tokens.
fn validations() -> (Validation, Validation) {
    let mut validation = Validation::new(ALGORITHM);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud"]);
    // `nbf` and `iat` are checked by `verify_at`, with a clock-skew leeway; `exp` is
    // checked here with none.
    validation.validate_nbf = false;
    validation.leeway = 0;
    let mut management_validation = validation.clone();
    management_validation.set_audience(&[MANAGEMENT_AUDIENCE]);
    (validation, management_validation)
}

/// The key manager. Cheap to share behind an `Arc`.
pub struct KeyManager {
    /// `None` on a gateway node, which verifies with the control plane's public key only.
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    validation: Validation,
    management_validation: Validation,
    kid: String,
    public_x: String,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManager")
            .field("kid", &self.kid)
            .finish()
    }
}

/// `len` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(buf)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}"); // writing to a String cannot fail
            s
        })
}

/// A new consumer key: 28 URL-safe characters, like WSO2's.
pub fn new_consumer_key() -> Result<String, KeyError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<21>()?))
}

/// A new consumer secret: 256 random bits, URL-safe.
pub fn new_consumer_secret() -> Result<String, KeyError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// The stored form of a secret: SHA-256, hex. Secrets are 256 random bits, so a plain hash
/// is enough: there is nothing to brute-force.
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Compares a presented secret with a stored hash in constant time.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    let presented = hash_secret(secret);
    presented.len() == stored_hash.len()
        && presented
            .bytes()
            .zip(stored_hash.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Reads the admin token from the data dir, creating it (mode 0600) at first start.
pub fn load_or_create_admin_token(data_dir: &Path) -> Result<String, KeyError> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    let bytes = datadir::read_or_create_secret(&path, || {
        random_bytes::<32>()
            .map(|b| hex(&b).into_bytes())
            .map_err(|e| std::io::Error::other(e.to_string()))
    })
    .map_err(|source| KeyError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(String::from_utf8_lossy(&bytes).trim().to_string())
}

impl KeyManager {
    /// Loads the signing key from the data dir, creating it (mode 0600) at first start.
    pub fn load_or_create(data_dir: &Path) -> Result<KeyManager, KeyError> {
        let path = data_dir.join(SIGNING_KEY_FILE);
        let pem = datadir::read_or_create_secret(&path, || {
            let seed = random_bytes::<32>().map_err(|e| std::io::Error::other(e.to_string()))?;
            let key = SigningKey::from_bytes(&seed);
            key.to_pkcs8_pem(LineEnding::LF)
                .map(|pem| pem.as_bytes().to_vec())
                .map_err(|e| std::io::Error::other(e.to_string()))
        })
        .map_err(|source| KeyError::Io {
            path: path.clone(),
            source,
        })?;
        let pem = String::from_utf8(pem).map_err(|_| KeyError::BadKey(path.clone()))?;
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|_| KeyError::BadKey(path.clone()))?;
        Self::from_signing_key(&key).map_err(|_| KeyError::BadKey(path))
    }

    /// A key manager around an in-memory key (tests).
    pub fn from_signing_key(key: &SigningKey) -> Result<KeyManager, KeyError> {
        let der = key
            .to_pkcs8_der()
            .map_err(|e| KeyError::Sign(e.to_string()))?;
        let public = key.verifying_key().to_bytes();
        let public_x = URL_SAFE_NO_PAD.encode(public);
        let decoding = DecodingKey::from_ed_components(&public_x)
            .map_err(|e| KeyError::Sign(e.to_string()))?;
        let (validation, management_validation) = validations();
        Ok(KeyManager {
            encoding: Some(EncodingKey::from_ed_der(der.as_bytes())),
            decoding,
            validation,
            management_validation,
            kid: hex(&Sha256::digest(public))[..16].to_string(),
            public_x,
        })
    }

    /// The key id in every token's header and in the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key: the Ed25519 point, base64url without padding (the JWK's `x`,
    /// RFC 8037).
    pub fn public_x(&self) -> &str {
        &self.public_x
    }

    /// A key manager that only verifies, from the control plane's public key (`x` as in
    /// RFC 8037): a gateway node's. [`sign`](Self::sign) and [`issue`](Self::issue) fail
    /// with [`KeyError::Sign`]. The key id is derived from the key, as on the control plane.
    ///
    /// # Errors
    /// [`KeyError::Sign`] when `public_x` is not a base64url Ed25519 public key.
    pub fn verify_only(public_x: &str) -> Result<KeyManager, KeyError> {
        let public = URL_SAFE_NO_PAD
            .decode(public_x)
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| KeyError::Sign("not a base64url Ed25519 public key".to_string()))?;
        let decoding =
            DecodingKey::from_ed_components(public_x).map_err(|e| KeyError::Sign(e.to_string()))?;
        let (validation, management_validation) = validations();
        Ok(KeyManager {
            encoding: None,
            decoding,
            validation,
            management_validation,
            kid: hex(&Sha256::digest(&public))[..16].to_string(),
            public_x: public_x.to_string(),
        })
    }

    /// Issues an access token for `key` of `app`, valid for `validity_secs` from `now_secs`.
    pub fn issue(
        &self,
        app: &Application,
        key: &KeyPair,
        validity_secs: i64,
        scope: &str,
        now_secs: i64,
    ) -> Result<IssuedToken, KeyError> {
        let validity = validity_secs.clamp(1, MAX_VALIDITY_SECS);
        let claims = AccessClaims {
            iss: ISSUER.to_string(),
            sub: app.owner.clone(),
            aud: AUDIENCE.to_string(),
            azp: key.consumer_key.clone(),
            iat: now_secs,
            nbf: now_secs,
            exp: now_secs + validity,
            jti: uuid::Uuid::new_v4().to_string(),
            scope: scope.to_string(),
            keytype: key.key_type,
            application: ApplicationClaim {
                uuid: app.id.clone(),
                name: app.name.clone(),
                owner: app.owner.clone(),
                tier: app.throttling_policy.clone(),
            },
        };
        let token = self.sign(&claims)?;
        Ok(IssuedToken {
            access_token: token,
            expires_in: validity,
            scope: scope.to_string(),
            claims,
        })
    }

    /// Signs arbitrary claims with the managed key (also used by tests to forge claims).
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(ALGORITHM);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".to_string());
        let encoding = self.encoding.as_ref().ok_or_else(|| {
            KeyError::Sign("this key manager holds only the public key (gateway node)".to_string())
        })?;
        jsonwebtoken::encode(&header, claims, encoding).map_err(|e| KeyError::Sign(e.to_string()))
    }

    /// Verifies signature (EdDSA only), key id, `exp`, `nbf`, issuer and audience, with
    /// [`DEFAULT_CLOCK_SKEW_SECS`] of leeway on `nbf` and `iat`.
    /// Revocation and subscriptions are the caller's to check against live data.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        self.verify_at(token, now, DEFAULT_CLOCK_SKEW_SECS)
    }

    /// [`verify`](Self::verify) at `now_secs` (seconds since the epoch), accepting a token
    /// whose `nbf` or `iat` is at most `leeway_secs` ahead (an issuer's clock a little
    /// ahead of ours); `exp` gets no leeway. A later `nbf` or `iat` is
    /// [`TokenError::NotYetValid`].
    pub fn verify_at(
        &self,
        token: &str,
        now_secs: i64,
        leeway_secs: i64,
    ) -> Result<AccessClaims, TokenError> {
        let claims = self.verify_signed(token)?;
        let latest = now_secs.saturating_add(leeway_secs.max(0));
        if claims.nbf > latest || claims.iat > latest {
            return Err(TokenError::NotYetValid);
        }
        Ok(claims)
    }

    /// Signature, algorithm, key id, `exp`, issuer and audience.
    fn verify_signed(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| TokenError::Invalid(MALFORMED.into()))?;
        if header.alg != ALGORITHM {
            return Err(TokenError::Invalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        if header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(TokenError::Invalid("unknown key id".to_string()));
        }
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| {
                refusal(
                    e.kind(),
                    "it is not an application's access token (a management token, from the \
                     password grant or `streamgate login`, does not open streams)",
                    token,
                    &self.validation,
                )
            })
    }

    /// Verifies a management token as [`verify`](Self::verify) does a gateway token, but
    /// with the audience [`MANAGEMENT_AUDIENCE`], decoding its claims as `T`.
    pub fn verify_management<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<T, TokenError> {
        self.verify_for(
            token,
            &self.management_validation,
            "it is not a management token (an application's access token works at the \
             gateway only; sign in with the password grant or `streamgate login`)",
        )
    }

    /// Verifies a refresh token ([`REFRESH_AUDIENCE`]) as
    /// [`verify_management`](Self::verify_management) does a management token.
    pub fn verify_refresh<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<T, TokenError> {
        let mut validation = self.management_validation.clone();
        validation.set_audience(&[REFRESH_AUDIENCE]);
        self.verify_for(token, &validation, "it is not a refresh token")
    }

    /// Algorithm, key id, signature and `validation`'s rules, decoding the claims as `T`;
    /// `other_kind` says what is wrong with a token of another audience.
    fn verify_for<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        validation: &Validation,
        other_kind: &str,
    ) -> Result<T, TokenError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| TokenError::Invalid(MALFORMED.into()))?;
        if header.alg != ALGORITHM || header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(TokenError::Invalid(
                "unknown key id or algorithm".to_string(),
            ));
        }
        jsonwebtoken::decode::<T>(token, &self.decoding, validation)
            .map(|data| data.claims)
            .map_err(|e| refusal(e.kind(), other_kind, token, validation))
    }

    /// [`verify`](Self::verify) with a per-thread cache of tokens already verified. A hit
    /// still checks `exp` against the clock; revocation and subscriptions are the caller's
    /// to check against live data, as with `verify`.
    pub fn verify_cached(
        &self,
        token: &str,
        now_secs: i64,
    ) -> Result<std::sync::Arc<AccessClaims>, TokenError> {
        self.verify_cached_with_leeway(token, now_secs, DEFAULT_CLOCK_SKEW_SECS)
    }

    /// [`verify_cached`](Self::verify_cached) with `leeway_secs` of clock-skew leeway on
    /// `nbf` and `iat` (see [`verify_at`](Self::verify_at)).
    pub fn verify_cached_with_leeway(
        &self,
        token: &str,
        now_secs: i64,
        leeway_secs: i64,
    ) -> Result<std::sync::Arc<AccessClaims>, TokenError> {
        let hit = VERIFIED.with(|cache| cache.borrow().get(token).cloned());
        if let Some(claims) = hit {
            if claims.exp <= now_secs {
                VERIFIED.with(|cache| cache.borrow_mut().remove(token));
                return Err(TokenError::Expired);
            }
            return Ok(claims);
        }
        let claims = std::sync::Arc::new(self.verify_at(token, now_secs, leeway_secs)?);
        VERIFIED.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.len() >= VERIFIED_CACHE_MAX {
                cache.clear();
            }
            cache.insert(token.to_string(), claims.clone());
        });
        Ok(claims)
    }

    /// Reads a token's claims without verifying it (for revoking a token that may be expired).
    pub fn peek_claims(&self, token: &str) -> Option<AccessClaims> {
        jsonwebtoken::dangerous::insecure_decode::<AccessClaims>(token)
            .ok()
            .map(|d| d.claims)
    }

    /// The JSON Web Key Set publishing the public key.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "x": self.public_x,
                "kid": self.kid,
                "alg": "EdDSA",
                "use": "sig",
            }]
        })
    }
}

#[cfg(test)]
mod tests;
