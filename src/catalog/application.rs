//! Applications, their subscriptions to APIs and their OAuth key pairs.

use serde::{Deserialize, Serialize};

use super::{Api, ApplicationPolicy, Millis, RuleError};

/// What a person or script asks for when creating an application.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationDraft {
    /// Unique name.
    pub name: String,
    /// Application policy, e.g. `Unlimited` or `10PerMin`.
    pub throttling_policy: String,
    /// Free text.
    pub description: String,
}

/// A subscriber's application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// Stable identifier (UUID).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Application policy (connection requests per minute).
    pub throttling_policy: String,
    /// Free text.
    pub description: String,
    /// Always `JWT`: the tokens issued are self-contained JWTs.
    pub token_type: String,
    /// The subscriber who owns it.
    pub owner: String,
    /// When it was created.
    pub created_at: Millis,
}

/// Checks an application draft against the policies and the other applications.
pub fn validate_application(
    draft: &ApplicationDraft,
    policies: &[ApplicationPolicy],
    others: &[&Application],
) -> Result<(), RuleError> {
    let name = draft.name.trim();
    if name.is_empty() {
        return Err(RuleError::invalid(
            "name",
            "the application name must not be empty",
        ));
    }
    if name.chars().count() > 70 {
        return Err(RuleError::invalid(
            "name",
            "the application name must be at most 70 characters",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(RuleError::invalid(
            "name",
            "the application name must not contain control characters",
        ));
    }
    if !policies.iter().any(|p| p.name == draft.throttling_policy) {
        let known: Vec<&str> = policies.iter().map(|p| p.name.as_str()).collect();
        return Err(RuleError::invalid(
            "throttlingPolicy",
            format!(
                "unknown application policy '{}'; known: {}",
                draft.throttling_policy,
                known.join(", ")
            ),
        ));
    }
    if others.iter().any(|a| a.name.eq_ignore_ascii_case(name)) {
        return Err(RuleError::conflict(
            900310,
            format!("an application named '{name}' already exists"),
        ));
    }
    Ok(())
}

/// Whether a subscription delivers events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubscriptionStatus {
    /// Active.
    Unblocked,
    /// Blocked for every key type.
    Blocked,
    /// Blocked for production keys; sandbox keys still work.
    ProdOnlyBlocked,
}

impl SubscriptionStatus {
    /// WSO2's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unblocked => "UNBLOCKED",
            Self::Blocked => "BLOCKED",
            Self::ProdOnlyBlocked => "PROD_ONLY_BLOCKED",
        }
    }

    /// Parses WSO2's spelling.
    pub fn parse(s: &str) -> Result<Self, RuleError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "UNBLOCKED" => Ok(Self::Unblocked),
            "BLOCKED" => Ok(Self::Blocked),
            "PROD_ONLY_BLOCKED" => Ok(Self::ProdOnlyBlocked),
            _ => Err(RuleError::invalid(
                "status",
                format!(
                    "unknown subscription status '{s}'; expected UNBLOCKED, BLOCKED or PROD_ONLY_BLOCKED"
                ),
            )),
        }
    }

    /// Whether a token of `key_type` may use a subscription in this status.
    pub fn allows(self, key_type: KeyType) -> bool {
        match self {
            Self::Unblocked => true,
            Self::Blocked => false,
            Self::ProdOnlyBlocked => key_type == KeyType::Sandbox,
        }
    }
}

/// An application's subscription to an API under one of the API's plans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// Stable identifier (UUID).
    pub id: String,
    /// The subscribing application.
    pub application_id: String,
    /// The API subscribed to.
    pub api_id: String,
    /// The plan, one of the API's.
    pub policy: String,
    /// Whether it delivers.
    pub status: SubscriptionStatus,
    /// When it was made.
    pub created_at: Millis,
}

/// Checks that `app` may subscribe to `api` under `plan`.
pub fn check_can_subscribe(
    api: &Api,
    plan: &str,
    existing: &[&Subscription],
    app: &Application,
) -> Result<(), RuleError> {
    match api.lifecycle {
        state if state.accepts_subscriptions() => {}
        state => {
            return Err(RuleError::conflict(
                900908,
                format!(
                    "API '{}' is {}; only PUBLISHED or PRE-RELEASED APIs can be subscribed to",
                    api.handle(),
                    state.as_wso2()
                ),
            ));
        }
    }
    if !api.policies.iter().any(|p| p == plan) {
        return Err(RuleError::invalid(
            "throttlingPolicy",
            format!(
                "API '{}' does not offer plan '{plan}'; its plans: {}",
                api.handle(),
                api.policies.join(", ")
            ),
        ));
    }
    if existing
        .iter()
        .any(|s| s.api_id == api.id && s.application_id == app.id)
    {
        return Err(RuleError::conflict(
            900911,
            format!(
                "application '{}' is already subscribed to API '{}'",
                app.name,
                api.handle()
            ),
        ));
    }
    Ok(())
}

/// The two kinds of keys an application holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum KeyType {
    /// Goes to the API's production endpoint.
    Production,
    /// Goes to the API's sandbox endpoint.
    Sandbox,
}

impl KeyType {
    /// WSO2's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Production => "PRODUCTION",
            Self::Sandbox => "SANDBOX",
        }
    }

    /// Parses WSO2's spelling, case-insensitively.
    pub fn parse(s: &str) -> Result<Self, RuleError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PRODUCTION" => Ok(Self::Production),
            "SANDBOX" => Ok(Self::Sandbox),
            _ => Err(RuleError::invalid(
                "keyType",
                format!("unknown key type '{s}'; expected PRODUCTION or SANDBOX"),
            )),
        }
    }
}

/// An application's OAuth client for one key type. The secret is kept only as a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPair {
    /// Stable identifier (UUID), WSO2's `keyMappingId`.
    pub key_mapping_id: String,
    /// The owning application.
    pub application_id: String,
    /// PRODUCTION or SANDBOX.
    pub key_type: KeyType,
    /// The OAuth client id.
    pub consumer_key: String,
    /// SHA-256 of the consumer secret, hex.
    pub secret_hash: String,
    /// Grant types the client may use.
    pub grant_types: Vec<String>,
    /// When the key pair was made or its secret last regenerated.
    pub created_at: Millis,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{ApiDraft, LifecycleState, builtin_application_policies};

    fn api(state: LifecycleState) -> Api {
        let mut api = Api::from_draft(
            "api".into(),
            ApiDraft {
                name: "Observer".into(),
                context: "/observer".into(),
                version: "1.0.0".into(),
                production_endpoint: Some("http://localhost:8080".into()),
                policies: vec!["AsyncGold".into()],
                ..ApiDraft::default()
            },
            1,
        );
        api.lifecycle = state;
        api
    }

    fn app() -> Application {
        Application {
            id: "app".into(),
            name: "DefaultApplication".into(),
            throttling_policy: "Unlimited".into(),
            description: String::new(),
            token_type: "JWT".into(),
            owner: "admin".into(),
            created_at: 1,
        }
    }

    #[test]
    fn subscribing_needs_a_published_or_prereleased_api() {
        for state in LifecycleState::ALL {
            let res = check_can_subscribe(&api(state), "AsyncGold", &[], &app());
            let ok = matches!(
                state,
                LifecycleState::Published | LifecycleState::Prototyped
            );
            assert_eq!(state.accepts_subscriptions(), ok, "{state}");
            assert_eq!(res.is_ok(), ok, "{state}: {res:?}");
            if !ok {
                assert!(
                    res.expect_err("refused")
                        .to_string()
                        .contains(state.as_wso2())
                );
            }
        }
    }

    #[test]
    fn subscribing_needs_one_of_the_apis_plans_and_only_once() {
        let api = api(LifecycleState::Published);
        let err = check_can_subscribe(&api, "AsyncBronze", &[], &app()).expect_err("plan");
        assert!(matches!(
            err,
            RuleError::Invalid {
                field: "throttlingPolicy",
                ..
            }
        ));
        let sub = Subscription {
            id: "s".into(),
            application_id: "app".into(),
            api_id: "api".into(),
            policy: "AsyncGold".into(),
            status: SubscriptionStatus::Unblocked,
            created_at: 1,
        };
        let err = check_can_subscribe(&api, "AsyncGold", &[&sub], &app()).expect_err("dup");
        assert!(err.to_string().contains("already subscribed"));
    }

    #[test]
    fn applications_need_a_name_a_known_policy_and_a_unique_name() {
        let policies = builtin_application_policies();
        let good = ApplicationDraft {
            name: "Weather".into(),
            throttling_policy: "10PerMin".into(),
            description: String::new(),
        };
        assert_eq!(validate_application(&good, &policies, &[]), Ok(()));
        let mut bad = good.clone();
        bad.name = " ".into();
        assert!(matches!(
            validate_application(&bad, &policies, &[]),
            Err(RuleError::Invalid { field: "name", .. })
        ));
        bad = good.clone();
        bad.throttling_policy = "5PerMin".into();
        assert!(matches!(
            validate_application(&bad, &policies, &[]),
            Err(RuleError::Invalid {
                field: "throttlingPolicy",
                ..
            })
        ));
        let mut existing = app();
        existing.name = "weather".into();
        assert!(matches!(
            validate_application(&good, &policies, &[&existing]),
            Err(RuleError::Conflict { .. })
        ));
    }

    #[test]
    fn subscription_status_decides_per_key_type() {
        use KeyType::*;
        use SubscriptionStatus::*;
        assert!(Unblocked.allows(Production) && Unblocked.allows(Sandbox));
        assert!(!Blocked.allows(Production) && !Blocked.allows(Sandbox));
        assert!(!ProdOnlyBlocked.allows(Production) && ProdOnlyBlocked.allows(Sandbox));
        assert_eq!(
            SubscriptionStatus::parse("prod_only_blocked"),
            Ok(ProdOnlyBlocked)
        );
        assert!(SubscriptionStatus::parse("PAUSED").is_err());
        assert_eq!(KeyType::parse("sandbox"), Ok(Sandbox));
        assert!(KeyType::parse("STAGING").is_err());
    }
}
