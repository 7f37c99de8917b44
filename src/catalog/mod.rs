//! The catalog: streamgate's domain types and the rules that govern them.
//! Pure code with no I/O, so every rule is a plain function with unit tests.

mod api;
mod application;
mod error;
mod lifecycle;
mod policy;
pub mod user;

pub use api::{
    Api, ApiDraft, BackendStream, CorsConfiguration, DEFAULT_TOPIC, DeployTarget, Deployment,
    Environment, EnvironmentKind, MAX_REVISIONS, RESERVED_CONTEXTS, Revision, check_api_unique,
    check_can_delete_revision, check_revision_limit, default_environments, topic_matches,
    validate_api, validate_cors,
};
pub use application::{
    Application, ApplicationDraft, KeyPair, KeyType, Subscription, SubscriptionStatus,
    check_can_subscribe, validate_application,
};

pub use error::RuleError;
pub use lifecycle::{LifecycleAction, LifecycleState};
pub use policy::{
    ApplicationPolicy, Quota, SubscriptionPolicy, TimeUnit, builtin_application_policies,
    builtin_subscription_policies, validate_application_policy, validate_subscription_policy,
};
pub use user::{Role, User};

/// Milliseconds since the Unix epoch, the one clock format the catalog stores.
pub type Millis = i64;

/// The current time in milliseconds since the Unix epoch.
pub fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A fresh random identifier (UUID v4), the form WSO2 uses for ids.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
