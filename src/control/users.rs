//! Users, management tokens (OAuth2 password grant, RFC 6749 §4.3), Dynamic Client
//! Registration clients, and the ownership rule: a user sees only their own applications,
//! admin sees every one.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Change, Control, ControlError, Result, Snapshot, Tx};
use crate::catalog::user::{self, ADMIN_USER, LOCK_MILLIS, MAX_FAILED_ATTEMPTS};
use crate::catalog::{Application, Role, RuleError, User, new_id, now_millis};
use crate::datadir;
use crate::keys::{self, KeyError, TokenError};
use crate::store::{Store, Table};

/// The file in the data dir holding the first admin password (mode 0600), written once.
pub const ADMIN_PASSWORD_FILE: &str = "admin-password";

/// Who is calling the management API: a user with the scopes their token carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user name.
    pub user: String,
    /// The user's roles.
    pub roles: Vec<Role>,
    /// The scopes granted to this call (the token's, within what the roles allow).
    pub scopes: BTreeSet<String>,
}

impl Principal {
    /// The local operator holding the `admin-token` file: `admin` with every scope.
    pub fn local_operator() -> Principal {
        Principal {
            user: ADMIN_USER.to_string(),
            roles: vec![Role::Admin],
            scopes: user::ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Whether the principal sees every application (the admin role).
    pub fn sees_all(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }

    /// Whether the principal holds at least one of `scopes` (WSO2: any listed scope
    /// suffices); an empty list needs no scope.
    pub fn has_any_scope(&self, scopes: &[&str]) -> bool {
        scopes.is_empty() || scopes.iter().any(|s| self.scopes.contains(*s))
    }
}

/// A client registered over Dynamic Client Registration, owned by a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagementClient {
    /// The client id (consumer key).
    pub client_id: String,
    /// SHA-256 of the client secret, hex.
    pub secret_hash: String,
    /// The `clientName` it registered with.
    pub name: String,
}

/// A user's record in the store: the user and their registered clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The user.
    #[serde(flatten)]
    pub user: User,
    /// Clients registered with Dynamic Client Registration.
    #[serde(default)]
    pub clients: Vec<ManagementClient>,
}

/// The conflict code of a change refused because it would leave no user with the admin
/// role (SCIM answers it as `mutability`, not `uniqueness`).
pub const LAST_ADMIN_CONFLICT: u32 = 409_001;

/// The claims of a management token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagementClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the user name.
    pub sub: String,
    /// Audience: [`keys::MANAGEMENT_AUDIENCE`].
    pub aud: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Not before (seconds).
    pub nbf: i64,
    /// Expires (seconds).
    pub exp: i64,
    /// Token id.
    pub jti: String,
    /// Scopes, space separated.
    pub scope: String,
    /// The user's token generation when issued; a password change makes it stale.
    pub token_gen: u64,
    /// The user's id: a user deleted and created again under the same name is another
    /// user, whose tokens these are not. (Absent in tokens from before it was added.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The DCR client that asked for it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
}

/// A management token just issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedManagementToken {
    /// The JWT.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// Its scopes, space separated.
    pub scope: String,
    /// A refresh token (RFC 6749 §1.5) for the same user, scopes and client, valid
    /// [`keys::REFRESH_VALIDITY_SECS`]; the `refresh_token` grant trades it, once, for a new
    /// pair.
    pub refresh_token: String,
}

/// A client just registered: the secret is shown once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredClient {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
    /// The name it registered with.
    pub name: String,
}

/// Why a password grant, DCR call or management token was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user, wrong password or locked user: one answer for all three.
    #[error("wrong user name or password, or the user is locked")]
    InvalidGrant,
    /// The DCR client's id or secret is wrong.
    #[error("unknown client id or wrong client secret")]
    InvalidClient,
    /// A management token that is invalid, expired, revoked or stale.
    #[error("{0}")]
    InvalidToken(String),
    /// Something else failed.
    #[error(transparent)]
    Control(#[from] ControlError),
}

/// What a user update changes; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    /// A new password.
    pub password: Option<String>,
    /// New roles.
    pub roles: Option<Vec<Role>>,
}

impl Snapshot {
    /// The application `id_or_name` if `who` may see it (owner or admin), else `None`, so
    /// callers answer 404 and do not confirm other users' ids.
    ///
    /// Names are unique per owner, so a name is looked up among `who`'s own applications
    /// first; one who sees all (admin) then finds another owner's application by name
    /// (the first by creation time when several owners use that name).
    pub fn application_for(&self, who: &Principal, id_or_name: &str) -> Option<&Application> {
        let visible = |a: &&Application| who.sees_all() || a.owner == who.user;
        if let Some(app) = self.applications.get(id_or_name).filter(visible) {
            return Some(app);
        }
        let mut named: Vec<&Application> = self
            .applications
            .values()
            .filter(|a| a.name.eq_ignore_ascii_case(id_or_name))
            .filter(visible)
            .collect();
        named.sort_by_key(|a| (a.owner != who.user, a.created_at));
        named.first().copied()
    }

    /// A user by id or name.
    pub fn find_user(&self, id_or_name: &str) -> Option<&UserRecord> {
        self.users.get(id_or_name).or_else(|| {
            self.users
                .values()
                .find(|u| u.user.name.eq_ignore_ascii_case(id_or_name))
        })
    }
}

/// Loads the users table.
pub(super) fn load_users(store: &Store) -> Result<std::collections::BTreeMap<String, UserRecord>> {
    Ok(store
        .load::<UserRecord>(Table::Users)?
        .into_iter()
        .map(|u| (u.user.id.clone(), u))
        .collect())
}

/// At first start (no users): creates `admin` with every role and a random password
/// written once to [`ADMIN_PASSWORD_FILE`] (mode 0600). Returns whether it did.
pub(super) fn ensure_admin(store: &Store, data_dir: &Path, catalog: &mut Snapshot) -> Result<bool> {
    if !catalog.users.is_empty() {
        return Ok(false);
    }
    let password = keys::new_consumer_secret()?;
    let hash = user::hash_password(&password).map_err(ControlError::Internal)?;
    let now = now_millis();
    let record = UserRecord {
        user: User {
            id: new_id(),
            name: ADMIN_USER.to_string(),
            roles: vec![Role::Admin],
            password_hash: hash,
            created_at: now,
            updated_at: now,
            locked_until: None,
            failed_attempts: 0,
            token_generation: 0,
        },
        clients: Vec::new(),
    };
    let path = data_dir.join(ADMIN_PASSWORD_FILE);
    datadir::write_secret(&path, format!("{password}\n").as_bytes())
        .map_err(|source| KeyError::Io { path, source })?;
    store.apply(&[crate::store::Op::put(
        Table::Users,
        &record.user.id,
        &record,
    )?])?;
    catalog.users.insert(record.user.id.clone(), record);
    Ok(true)
}

fn save_user(tx: &mut Tx, record: &UserRecord) -> Result<()> {
    tx.put(Table::Users, &record.user.id, record)?;
    tx.changes.push(Change::User(record.user.id.clone()));
    tx.catalog
        .users
        .insert(record.user.id.clone(), record.clone());
    Ok(())
}

async fn hash_blocking(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || user::hash_password(&password))
        .await
        .map_err(|e| ControlError::Internal(e.to_string()))?
        .map_err(ControlError::Internal)
}

async fn verify_blocking(password: String, hash: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || match hash {
        Some(h) => user::verify_password(&password, &h),
        None => {
            user::verify_dummy(&password);
            false
        }
    })
    .await
    .map_err(|e| ControlError::Internal(e.to_string()))
}

impl Control {
    /// Every user, sorted by name.
    pub fn users(&self) -> Vec<UserRecord> {
        let mut users: Vec<UserRecord> = self.snapshot().users.values().cloned().collect();
        users.sort_by(|a, b| a.user.name.cmp(&b.user.name));
        users
    }

    /// Creates a user. Duplicate names are a 409 conflict; short passwords, bad names and
    /// unknown roles are 400s naming the rule.
    pub async fn create_user(&self, name: &str, password: &str, roles: Vec<Role>) -> Result<User> {
        let name = name.trim().to_string();
        user::validate_user_name(&name)?;
        user::validate_password(password)?;
        if roles.is_empty() {
            return Err(user::parse_roles([])
                .err()
                .unwrap_or_else(|| RuleError::invalid("roles", "a role is required"))
                .into());
        }
        if let Some(existing) = self.snapshot().find_user(&name) {
            return Err(RuleError::conflict(409, user_exists(&existing.user.name)).into());
        }
        let hash = hash_blocking(password.to_string()).await?;
        self.write(|tx| {
            if let Some(existing) = tx.catalog.find_user(&name) {
                return Err(RuleError::conflict(409, user_exists(&existing.user.name)).into());
            }
            let mut roles = roles;
            roles.sort();
            roles.dedup();
            let now = now_millis();
            let record = UserRecord {
                user: User {
                    id: new_id(),
                    name: name.clone(),
                    roles,
                    password_hash: hash,
                    created_at: now,
                    updated_at: now,
                    locked_until: None,
                    failed_attempts: 0,
                    token_generation: 0,
                },
                clients: Vec::new(),
            };
            save_user(tx, &record)?;
            Ok(record.user)
        })
        .await
    }

    /// Changes a user's password and/or roles. A password change revokes every management
    /// token issued to the user before it, and unlocks the user.
    pub async fn update_user(&self, id: &str, update: UserUpdate) -> Result<User> {
        if let Some(p) = &update.password {
            user::validate_password(p)?;
        }
        if update.roles.as_ref().is_some_and(Vec::is_empty) {
            return Err(RuleError::invalid("roles", "a user needs at least one role").into());
        }
        if self.snapshot().find_user(id).is_none() {
            return Err(ControlError::not_found("user", id));
        }
        let hash = match &update.password {
            Some(p) => Some(hash_blocking(p.clone()).await?),
            None => None,
        };
        self.write(|tx| {
            let mut record = tx
                .catalog
                .find_user(id)
                .cloned()
                .ok_or_else(|| ControlError::not_found("user", id))?;
            if let Some(mut roles) = update.roles {
                roles.sort();
                roles.dedup();
                if record.user.has_role(Role::Admin)
                    && !roles.contains(&Role::Admin)
                    && admins(&tx.catalog) <= 1
                {
                    return Err(RuleError::conflict(
                        LAST_ADMIN_CONFLICT,
                        "the last user with the admin role keeps it",
                    )
                    .into());
                }
                record.user.roles = roles;
            }
            if let Some(hash) = hash {
                record.user.password_hash = hash;
                record.user.token_generation += 1;
                record.user.failed_attempts = 0;
                record.user.locked_until = None;
            }
            record.user.updated_at = now_millis();
            save_user(tx, &record)?;
            Ok(record.user)
        })
        .await
    }

    /// Removes a user and every application they own (their subscriptions end and their
    /// streams close, as when an application is deleted). The last admin cannot be removed.
    pub async fn delete_user(&self, id: &str) -> Result<User> {
        let catalog = self.snapshot();
        let record = catalog
            .find_user(id)
            .cloned()
            .ok_or_else(|| ControlError::not_found("user", id))?;
        if record.user.has_role(Role::Admin) && admins(&catalog) <= 1 {
            return Err(RuleError::conflict(
                LAST_ADMIN_CONFLICT,
                "the last user with the admin role cannot be removed",
            )
            .into());
        }
        let owned: Vec<String> = catalog
            .applications
            .values()
            .filter(|a| a.owner == record.user.name)
            .map(|a| a.id.clone())
            .collect();
        for app in owned {
            match self.delete_application(&app).await {
                Ok(_) | Err(ControlError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.write(|tx| {
            tx.delete(Table::Users, &record.user.id);
            tx.catalog.users.remove(&record.user.id);
            tx.changes.push(Change::User(record.user.id.clone()));
            Ok(record.user.clone())
        })
        .await
    }

    /// Checks a user's password, counting failures: the 5th in a row locks the user for
    /// 5 minutes. Unknown, locked and wrong answer alike, in about the same time.
    pub async fn authenticate_user(&self, name: &str, password: &str) -> Result<User, AuthError> {
        let now = now_millis();
        let found = self.snapshot().find_user(name).cloned();
        let hash = found.as_ref().map(|r| r.user.password_hash.clone());
        let ok = verify_blocking(password.to_string(), hash).await?;
        let Some(record) = found else {
            return Err(AuthError::InvalidGrant);
        };
        if record.user.is_locked(now) {
            return Err(AuthError::InvalidGrant);
        }
        let id = record.user.id.clone();
        if ok {
            if record.user.failed_attempts > 0 || record.user.locked_until.is_some() {
                self.write(|tx| {
                    if let Some(mut r) = tx.catalog.users.get(&id).cloned() {
                        r.user.failed_attempts = 0;
                        r.user.locked_until = None;
                        save_user(tx, &r)?;
                    }
                    Ok(())
                })
                .await?;
            }
            return Ok(record.user);
        }
        self.write(|tx| {
            if let Some(mut r) = tx.catalog.users.get(&id).cloned() {
                r.user.failed_attempts += 1;
                if r.user.failed_attempts >= MAX_FAILED_ATTEMPTS {
                    r.user.failed_attempts = 0;
                    r.user.locked_until = Some(now + LOCK_MILLIS);
                    tracing::warn!(user = %r.user.name, "user locked for 5 minutes after 5 failed sign-ins");
                }
                save_user(tx, &r)?;
            }
            Ok(())
        })
        .await?;
        Err(AuthError::InvalidGrant)
    }

    /// The OAuth2 password grant: a management token for `name` whose scopes are the
    /// requested ones (space separated; all when absent) that the user's roles allow.
    /// `client`, when given, is a DCR client's (id, secret) and must match.
    pub async fn password_grant(
        &self,
        name: &str,
        password: &str,
        scope: Option<&str>,
        validity_secs: Option<i64>,
        client: Option<(&str, &str)>,
    ) -> Result<IssuedManagementToken, AuthError> {
        let azp = match client {
            Some((id, secret)) => {
                if !self.client_known(id, secret) {
                    return Err(AuthError::InvalidClient);
                }
                Some(id.to_string())
            }
            None => None,
        };
        let user = self.authenticate_user(name, password).await?;
        let scopes = user::grant_scopes(&user.roles, scope).join(" ");
        self.issue_management_pair(&user, scopes, validity_secs, azp)
    }

    /// Whether `id` and `secret` are a Dynamic Client Registration client's credentials.
    fn client_known(&self, id: &str, secret: &str) -> bool {
        self.snapshot().users.values().any(|u| {
            u.clients
                .iter()
                .any(|c| c.client_id == id && keys::secret_matches(secret, &c.secret_hash))
        })
    }

    /// A management token and a refresh token for `user` with `scopes`.
    fn issue_management_pair(
        &self,
        user: &User,
        scopes: String,
        validity_secs: Option<i64>,
        azp: Option<String>,
    ) -> Result<IssuedManagementToken, AuthError> {
        let validity = validity_secs
            .unwrap_or(keys::DEFAULT_VALIDITY_SECS)
            .clamp(1, keys::MAX_VALIDITY_SECS);
        let now = now_millis() / 1000;
        // A refresh token has the management token's claims, for its own audience
        // ([`keys::REFRESH_AUDIENCE`]), so neither API takes it as a bearer token.
        let claims = |aud: &str, exp: i64| ManagementClaims {
            iss: keys::ISSUER.to_string(),
            sub: user.name.clone(),
            aud: aud.to_string(),
            iat: now,
            nbf: now,
            exp,
            jti: new_id(),
            scope: scopes.clone(),
            token_gen: user.token_generation,
            uid: Some(user.id.clone()),
            azp: azp.clone(),
        };
        let token = self
            .keys()
            .sign(&claims(keys::MANAGEMENT_AUDIENCE, now + validity))
            .map_err(ControlError::from)?;
        let refresh = claims(keys::REFRESH_AUDIENCE, now + keys::REFRESH_VALIDITY_SECS);
        let refresh_token = self.keys().sign(&refresh).map_err(ControlError::from)?;
        Ok(IssuedManagementToken {
            access_token: token,
            expires_in: validity,
            scope: scopes,
            refresh_token,
        })
    }

    /// RFC 6749 §6: trades a refresh token for a new management token and a new refresh
    /// token (the old one is revoked: each is used once). `scope`, when given, may only
    /// narrow the refresh token's scopes (and the user's current roles narrow them too).
    /// A refresh token issued to a DCR client needs that client's credentials in `client`.
    ///
    /// # Errors
    /// [`AuthError::InvalidGrant`]: the token is not a valid refresh token of ours, expired,
    /// used or revoked, its user is gone or locked or changed password, or the scope asks
    /// for more; [`AuthError::InvalidClient`]: the client is missing or wrong.
    pub async fn refresh_grant(
        &self,
        refresh_token: &str,
        scope: Option<&str>,
        client: Option<(&str, &str)>,
    ) -> Result<IssuedManagementToken, AuthError> {
        let claims: ManagementClaims = self
            .keys()
            .verify_refresh(refresh_token)
            .map_err(|_| AuthError::InvalidGrant)?;
        let uid = claims.uid.clone().ok_or(AuthError::InvalidGrant)?;
        // Bound to the client it was issued to, or to none (RFC 6749 §6): another client,
        // or a client for a token issued without one, is a wrong grant; the right client
        // with a wrong secret is a wrong client.
        match (&claims.azp, client) {
            (None, None) => {}
            (Some(_), None) => return Err(AuthError::InvalidClient),
            (None, Some(_)) => return Err(AuthError::InvalidGrant),
            (Some(azp), Some((id, secret))) => {
                if id != azp {
                    return Err(AuthError::InvalidGrant);
                }
                if !self.client_known(id, secret) {
                    return Err(AuthError::InvalidClient);
                }
            }
        }
        let granted: Vec<&str> = claims.scope.split_ascii_whitespace().collect();
        let scopes = match scope.map(str::trim).filter(|s| !s.is_empty()) {
            None => granted.join(" "),
            Some(asked) => {
                let asked: Vec<&str> = asked.split_ascii_whitespace().collect();
                if asked.iter().any(|s| !granted.contains(s)) {
                    return Err(AuthError::InvalidGrant);
                }
                asked.join(" ")
            }
        };
        // Used once: revoked in the same write that checks it was not used before.
        let (jti, sub, token_gen, exp) = (
            claims.jti.clone(),
            claims.sub.clone(),
            claims.token_gen,
            claims.exp,
        );
        let user = self
            .write(move |tx| {
                if tx.catalog.revoked.contains_key(&jti) {
                    return Ok(None);
                }
                let Some(record) = tx.catalog.find_user(&sub).cloned() else {
                    return Ok(None);
                };
                if record.user.id != uid
                    || record.user.token_generation != token_gen
                    || record.user.is_locked(now_millis())
                {
                    return Ok(None);
                }
                tx.put(Table::RevokedTokens, &jti, &exp)?;
                tx.catalog.revoked.insert(jti.clone(), exp);
                Ok(Some(record.user))
            })
            .await?
            .ok_or(AuthError::InvalidGrant)?;
        let allowed = user::scopes_of(&user.roles);
        let narrowed = scopes
            .split_ascii_whitespace()
            .filter(|s| allowed.contains(s))
            .collect::<Vec<_>>()
            .join(" ");
        if narrowed.is_empty() && !scopes.is_empty() {
            // The user's roles changed and allow none of the token's scopes: no point in a
            // token that can do nothing (the refresh token is spent; sign in again).
            return Err(AuthError::InvalidGrant);
        }
        self.issue_management_pair(&user, narrowed, None, claims.azp)
    }

    /// Dynamic Client Registration: registers (or re-registers, with a new secret) the
    /// client `client_name` for the user authenticated by `name` and `password`.
    pub async fn register_client(
        &self,
        name: &str,
        password: &str,
        client_name: &str,
    ) -> Result<RegisteredClient, AuthError> {
        let client_name = client_name.trim().to_string();
        if client_name.is_empty() || client_name.len() > 200 {
            return Err(ControlError::Rule(RuleError::invalid(
                "clientName",
                "clientName must be 1 to 200 characters",
            ))
            .into());
        }
        let user = self.authenticate_user(name, password).await?;
        let secret = keys::new_consumer_secret().map_err(ControlError::from)?;
        let secret_hash = keys::hash_secret(&secret);
        let new_client_id = keys::new_consumer_key().map_err(ControlError::from)?;
        let registered = self
            .write(|tx| {
                let mut record = tx
                    .catalog
                    .users
                    .get(&user.id)
                    .cloned()
                    .ok_or_else(|| ControlError::not_found("user", &user.name))?;
                let client_id = match record.clients.iter_mut().find(|c| c.name == client_name) {
                    Some(existing) => {
                        existing.secret_hash = secret_hash;
                        existing.client_id.clone()
                    }
                    None => {
                        record.clients.push(ManagementClient {
                            client_id: new_client_id,
                            secret_hash,
                            name: client_name.clone(),
                        });
                        record
                            .clients
                            .last()
                            .map(|c| c.client_id.clone())
                            .unwrap_or_default()
                    }
                };
                save_user(tx, &record)?;
                Ok(client_id)
            })
            .await?;
        Ok(RegisteredClient {
            client_id: registered,
            client_secret: secret,
            name: client_name,
        })
    }

    /// Revokes a management token or a refresh token (RFC 7009, as `POST /oauth2/revoke` carrying only the
    /// token: holding a bearer token is the authority to give it up). Answers whether it
    /// was revoked now: `false` for a token that is not a valid management token we signed
    /// (expired, foreign, malformed) or that was revoked before.
    ///
    /// # Errors
    /// The store failed.
    pub async fn revoke_management_token(&self, token: &str) -> Result<bool> {
        let (jti, exp, sub) = match self.keys().verify_management::<ManagementClaims>(token) {
            Ok(c) => (c.jti, c.exp, c.sub),
            Err(_) => match self.keys().verify_refresh::<ManagementClaims>(token) {
                Ok(c) => (c.jti, c.exp, c.sub),
                Err(_) => return Ok(false),
            },
        };
        self.write(|tx| {
            if tx.catalog.revoked.contains_key(&jti) {
                return Ok(false);
            }
            tx.put(Table::RevokedTokens, &jti, &exp)?;
            tx.catalog.revoked.insert(jti.clone(), exp);
            if let Some(record) = tx.catalog.find_user(&sub) {
                tx.changes.push(Change::User(record.user.id.clone()));
            }
            Ok(true)
        })
        .await
    }

    /// The caller of a management request holding a management token: checks signature,
    /// audience, expiry, revocation, that the user still exists and that the token predates
    /// no password change. Scopes are narrowed to what the user's current roles allow.
    pub fn authenticate_management_token(&self, token: &str) -> Result<Principal, AuthError> {
        let claims: ManagementClaims =
            self.keys().verify_management(token).map_err(|e| match e {
                TokenError::Expired => {
                    AuthError::InvalidToken("the access token has expired".into())
                }
                other => AuthError::InvalidToken(other.to_string()),
            })?;
        let catalog = self.snapshot();
        if catalog.revoked.contains_key(&claims.jti) {
            return Err(AuthError::InvalidToken(
                "the access token is revoked".into(),
            ));
        }
        let record = catalog
            .find_user(&claims.sub)
            .ok_or_else(|| AuthError::InvalidToken("the token's user no longer exists".into()))?;
        if claims
            .uid
            .as_ref()
            .is_some_and(|uid| *uid != record.user.id)
        {
            return Err(AuthError::InvalidToken(
                "the token's user no longer exists".into(),
            ));
        }
        if record.user.token_generation != claims.token_gen {
            return Err(AuthError::InvalidToken(
                "the token was issued before the user's password changed".into(),
            ));
        }
        let allowed = user::scopes_of(&record.user.roles);
        Ok(Principal {
            user: record.user.name.clone(),
            roles: record.user.roles.clone(),
            scopes: claims
                .scope
                .split_ascii_whitespace()
                .filter(|s| allowed.contains(s))
                .map(str::to_string)
                .collect(),
        })
    }
}

fn admins(catalog: &Snapshot) -> usize {
    catalog
        .users
        .values()
        .filter(|u| u.user.has_role(Role::Admin))
        .count()
}

/// The conflict for a new user whose name is taken by `existing` (user names are matched
/// without regard to case, so the taken name may be spelled otherwise).
fn user_exists(existing: &str) -> String {
    format!("a user named '{existing}' already exists (user names ignore case)")
}
