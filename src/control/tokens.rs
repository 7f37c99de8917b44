//! Access tokens: issue for a key pair (the portal's Generate Access Token), the OAuth2
//! client-credentials grant (RFC 6749 section 4.4) and revocation (RFC 7009).

use crate::catalog::{Application, KeyPair, KeyType, RuleError, now_millis};
use crate::keys::{self, IssuedToken};
use crate::store::Table;

use super::{Change, Control, ControlError, Result};

/// Which of an application's key pairs a token is issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPairRef {
    /// By key mapping id, the UUID WSO2's Devportal names a key pair by
    /// (`/applications/{applicationId}/oauth-keys/{keyMappingId}`).
    MappingId(String),
    /// By key type: an application holds at most one key pair of each type.
    Type(KeyType),
}

impl KeyPairRef {
    fn matches(&self, key_pair: &KeyPair) -> bool {
        match self {
            Self::MappingId(id) => key_pair.key_mapping_id == *id,
            Self::Type(key_type) => key_pair.key_type == *key_type,
        }
    }
}

impl std::fmt::Display for KeyPairRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MappingId(id) => f.write_str(id),
            Self::Type(key_type) => f.write_str(key_type.as_str()),
        }
    }
}

impl Control {
    /// Issues a token for an application's key pair (the portal's Generate Access Token).
    /// `app_id` is the application's id or name; `validity_secs` defaults to
    /// [`keys::DEFAULT_VALIDITY_SECS`]. Not-found when either is missing; a rule error
    /// when the validity is not a positive number of seconds.
    pub fn generate_token(
        &self,
        app_id: &str,
        key: &KeyPairRef,
        validity_secs: Option<i64>,
    ) -> Result<IssuedToken> {
        let catalog = self.snapshot();
        let app = Self::application_of(&catalog, app_id)?;
        let kp = catalog
            .keys_of(&app.id)
            .into_iter()
            .find(|k| key.matches(k))
            .ok_or_else(|| ControlError::not_found("key mapping", key.to_string()))?;
        self.issue(app, kp, validity_secs)
    }

    fn issue(
        &self,
        app: &Application,
        kp: &KeyPair,
        validity_secs: Option<i64>,
    ) -> Result<IssuedToken> {
        let validity = validity_secs.unwrap_or(keys::DEFAULT_VALIDITY_SECS);
        if validity <= 0 {
            return Err(RuleError::invalid(
                "validityPeriod",
                "the validity period must be a positive number of seconds",
            )
            .into());
        }
        let token = self
            .inner
            .keys
            .issue(app, kp, validity, "default", now_millis() / 1000)?;
        // Nobody listening is fine.
        let _ = self.inner.changes.send(Change::Token(app.id.clone()));
        Ok(token)
    }

    /// The OAuth2 client-credentials grant: checks the consumer key and secret.
    pub fn client_credentials(
        &self,
        consumer_key: &str,
        consumer_secret: &str,
        validity_secs: Option<i64>,
    ) -> Result<IssuedToken> {
        let kp = self.authenticate_client(consumer_key, consumer_secret)?;
        let catalog = self.snapshot();
        let app = catalog
            .applications
            .get(&kp.application_id)
            .ok_or(ControlError::InvalidClient)?;
        self.issue(app, &kp, validity_secs)
    }

    /// Checks client credentials, returning the key pair.
    pub fn authenticate_client(
        &self,
        consumer_key: &str,
        consumer_secret: &str,
    ) -> Result<KeyPair> {
        self.snapshot()
            .key_pairs
            .get(consumer_key)
            .filter(|k| keys::secret_matches(consumer_secret, &k.secret_hash))
            .cloned()
            .ok_or(ControlError::InvalidClient)
    }

    /// Revokes a token (RFC 7009). Tokens that aren't ours, or that belong to another
    /// client when `client` is given, are ignored, as the RFC asks. Returns whether a
    /// token was revoked.
    pub async fn revoke_token(&self, token: &str, client: Option<&str>) -> Result<bool> {
        let Some(claims) = self.inner.keys.peek_claims(token) else {
            return Ok(false);
        };
        // Only tokens we signed; an expired one needs no revoking.
        if let Err(crate::keys::TokenError::Invalid(_)) = self.inner.keys.verify(token) {
            return Ok(false);
        }
        if client.is_some_and(|c| c != claims.azp) {
            return Ok(false);
        }
        self.write(|tx| {
            if tx.catalog.revoked.contains_key(&claims.jti) {
                return Ok(false);
            }
            tx.put(Table::RevokedTokens, &claims.jti, &claims.exp)?;
            tx.catalog.revoked.insert(claims.jti.clone(), claims.exp);
            tx.changes
                .push(Change::Token(claims.application.uuid.clone()));
            Ok(true)
        })
        .await
    }
}
