//! Users of the management plane: their roles, the OAuth2 scopes each role grants (WSO2 API
//! Manager's `RESTAPIScopes` defaults from `tenant-conf.json`), name and password rules, and
//! argon2id password hashing at OWASP's recommended parameters.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use serde::{Deserialize, Serialize};

use super::{Millis, RuleError};

/// The user created at first start, with every role.
pub const ADMIN_USER: &str = "admin";
/// The shortest password accepted (characters).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted (bytes), so hashing cost stays bounded.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Failed password grants in a row that lock a user.
pub const MAX_FAILED_ATTEMPTS: u32 = 5;
/// How long a lock lasts (milliseconds): 5 minutes.
pub const LOCK_MILLIS: Millis = 5 * 60 * 1000;
/// argon2id memory cost in KiB: 19 MiB, OWASP's first recommended configuration.
pub const ARGON2_M_COST_KIB: u32 = 19 * 1024;
/// argon2id iterations (OWASP: 2 with 19 MiB).
pub const ARGON2_T_COST: u32 = 2;
/// argon2id parallelism (OWASP: 1).
pub const ARGON2_P_COST: u32 = 1;

/// A role, as WSO2's `admin`, `Internal/creator`, `Internal/publisher`, `Internal/subscriber`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, every application.
    Admin,
    /// Creates and edits APIs; no lifecycle changes, no deployments.
    Creator,
    /// Publishes and deploys APIs.
    Publisher,
    /// Applications, subscriptions, keys and tokens of their own.
    Subscriber,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [
        Role::Admin,
        Role::Creator,
        Role::Publisher,
        Role::Subscriber,
    ];

    /// The role's name: `admin`, `creator`, `publisher` or `subscriber`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Creator => "creator",
            Role::Publisher => "publisher",
            Role::Subscriber => "subscriber",
        }
    }

    /// Parses a role name; WSO2's `Internal/creator` spelling is accepted too.
    pub fn parse(s: &str) -> Result<Role, RuleError> {
        let s = s.trim();
        let bare = s.strip_prefix("Internal/").unwrap_or(s);
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(bare))
            .ok_or_else(|| {
                RuleError::invalid(
                    "roles",
                    format!("unknown role '{s}'; known: admin, creator, publisher, subscriber"),
                )
            })
    }

    /// The OAuth2 scopes the role grants, following the defaults of WSO2's `RESTAPIScopes`.
    pub fn scopes(self) -> &'static [&'static str] {
        match self {
            Role::Admin => ALL_SCOPES,
            Role::Creator => &[
                "apim:api_view",
                "apim:api_create",
                "apim:api_delete",
                "apim:api_list_view",
                "apim:api_definition_view",
                "apim:tier_view",
            ],
            Role::Publisher => &[
                "apim:api_view",
                "apim:api_publish",
                "apim:api_list_view",
                "apim:api_definition_view",
                "apim:tier_view",
            ],
            Role::Subscriber => &["apim:subscribe", "apim:app_manage", "apim:sub_manage"],
        }
    }
}

/// Every scope streamgate knows: the WSO2 API Manager scopes of its routes and the
/// identity server's user management scopes of its SCIM 2.0 routes.
pub const ALL_SCOPES: &[&str] = &[
    "apim:admin",
    "apim:api_create",
    "apim:api_definition_view",
    "apim:api_delete",
    "apim:api_list_view",
    "apim:api_manage",
    "apim:api_publish",
    "apim:api_view",
    "apim:app_manage",
    "apim:environment_read",
    "apim:ep_certificates_add",
    "apim:ep_certificates_manage",
    "apim:ep_certificates_update",
    "apim:ep_certificates_view",
    "apim:sub_manage",
    "apim:subscribe",
    "apim:tier_manage",
    "apim:tier_view",
    "internal_user_mgt_create",
    "internal_user_mgt_delete",
    "internal_user_mgt_list",
    "internal_user_mgt_update",
    "internal_user_mgt_view",
];

/// The scopes a set of roles grants.
pub fn scopes_of(roles: &[Role]) -> BTreeSet<&'static str> {
    roles
        .iter()
        .flat_map(|r| r.scopes().iter().copied())
        .collect()
}

/// The scopes to put in a token: those requested (space separated) that `roles` allow, or
/// every allowed one when none is requested. Unknown requested scopes are dropped (RFC 6749
/// §3.3 lets the server issue fewer scopes than asked).
pub fn grant_scopes(roles: &[Role], requested: Option<&str>) -> Vec<&'static str> {
    let allowed = scopes_of(roles);
    match requested.map(str::trim).filter(|s| !s.is_empty()) {
        None => allowed.into_iter().collect(),
        Some(req) => {
            let wanted: BTreeSet<&str> = req.split_ascii_whitespace().collect();
            allowed.into_iter().filter(|s| wanted.contains(s)).collect()
        }
    }
}

/// A management user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Stable identifier (UUID), the SCIM `id`.
    pub id: String,
    /// Unique login name, the SCIM `userName`.
    pub name: String,
    /// Roles, sorted, without duplicates.
    pub roles: Vec<Role>,
    /// The argon2id PHC string of the password.
    pub password_hash: String,
    /// When the user was created.
    pub created_at: Millis,
    /// When the user was last changed.
    #[serde(default)]
    pub updated_at: Millis,
    /// Locked until this time after too many failed password grants.
    #[serde(default)]
    pub locked_until: Option<Millis>,
    /// Failed password grants since the last success.
    #[serde(default)]
    pub failed_attempts: u32,
    /// Bumped on every password change; management tokens carry it and older ones fail.
    #[serde(default)]
    pub token_generation: u64,
}

impl User {
    /// Whether the user is locked at `now`.
    pub fn is_locked(&self, now: Millis) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }

    /// Whether the user has `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// Checks a user name: 3 to 64 characters of letters, digits, `.`, `_`, `-` and `@`.
pub fn validate_user_name(name: &str) -> Result<(), RuleError> {
    let n = name.chars().count();
    if !(3..=64).contains(&n) {
        return Err(RuleError::invalid(
            "userName",
            "the user name must be 3 to 64 characters",
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(RuleError::invalid(
            "userName",
            "the user name may only contain ASCII letters and digits, '.', '_', '-' and '@'",
        ));
    }
    Ok(())
}

/// Checks a password: at least [`MIN_PASSWORD_CHARS`] characters, at most
/// [`MAX_PASSWORD_BYTES`] bytes.
pub fn validate_password(password: &str) -> Result<(), RuleError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(RuleError::invalid(
            "password",
            format!("the password must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.trim().is_empty() {
        return Err(RuleError::invalid(
            "password",
            "the password must not be only spaces",
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(RuleError::invalid(
            "password",
            format!("the password must be at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Checks and normalises roles: at least one, known, sorted, deduplicated.
pub fn parse_roles<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Vec<Role>, RuleError> {
    let mut roles = names
        .into_iter()
        .map(Role::parse)
        .collect::<Result<Vec<_>, _>>()?;
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(RuleError::invalid(
            "roles",
            "a user needs at least one role: admin, creator, publisher or subscriber",
        ));
    }
    Ok(roles)
}

fn hasher() -> Argon2<'static> {
    // The parameters are constants within argon2's bounds; `default()` has the same values.
    let params =
        Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The argon2id PHC string of `password`, with a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    hasher().verify_password(password.as_bytes(), hash).is_ok()
}

/// Spends the time of one verification against a fixed hash, so that an unknown user
/// answers in about the time a known one does.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_password("streamgate-dummy-password").unwrap_or_default());
    let _ = verify_password(password, hash);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hashes_are_argon2id_at_owasp_parameters_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterx", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn roles_grant_their_scopes_and_requests_only_narrow_them() {
        let sub = grant_scopes(&[Role::Subscriber], Some("apim:subscribe apim:admin"));
        assert_eq!(sub, vec!["apim:subscribe"]);
        let creator = scopes_of(&[Role::Creator]);
        assert!(creator.contains("apim:api_create"));
        assert!(!creator.contains("apim:api_publish"));
        assert_eq!(scopes_of(&[Role::Admin]).len(), ALL_SCOPES.len());
    }

    #[test]
    fn bad_input_names_the_rule() {
        assert!(
            validate_password("short")
                .unwrap_err()
                .to_string()
                .contains("at least 12")
        );
        assert!(Role::parse("root").is_err());
        assert_eq!(Role::parse("Internal/creator").unwrap(), Role::Creator);
        assert!(parse_roles([]).is_err());
        assert!(validate_user_name("a b").is_err());
    }
}
