//! The Developer Portal v3 API's shapes: APIs as subscribers see them, applications,
//! keys, tokens, subscriptions.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::{Api, Application, Deployment, Environment, KeyPair, Subscription};
use crate::keys::IssuedToken;

use super::*;

/// The Developer Portal's `APIInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PortalApiInfoDto {
    /// The API's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Gateway context.
    pub context: String,
    /// Version.
    pub version: String,
    /// `SSE`.
    #[serde(rename = "type")]
    pub api_type: String,
    /// Creation time (ms, as a string).
    pub created_time: String,
    /// `admin`.
    pub provider: String,
    /// Lifecycle state.
    #[serde(rename = "lifeCycleStatus")]
    pub lifecycle_status: String,
    /// The API's business plans.
    pub throttling_policies: Vec<String>,
    /// Whether it can be subscribed to now.
    pub is_subscription_available: bool,
}

impl PortalApiInfoDto {
    /// The portal's list entry of an API.
    pub fn from_api(api: &Api) -> Self {
        Self {
            id: api.id.clone(),
            name: api.name.clone(),
            description: api.description.clone(),
            context: api.context.clone(),
            version: api.version.clone(),
            api_type: "SSE".to_string(),
            created_time: api.created_at.to_string(),
            provider: api.provider.clone(),
            lifecycle_status: api.lifecycle.as_wso2().to_string(),
            throttling_policies: api.policies.clone(),
            is_subscription_available: api.lifecycle.accepts_subscriptions(),
        }
    }
}

/// A plan as the portal's `tiers` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TierDto {
    /// The plan's name.
    pub tier_name: String,
    /// `FREE`.
    pub tier_plan: String,
}

/// URLs of one gateway environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UrlsDto {
    /// The plain HTTP URL.
    pub http: String,
}

/// One entry of the portal's `endpointURLs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EndpointUrlsDto {
    /// The environment's name.
    pub environment_name: String,
    /// The name shown to people.
    pub environment_display_name: String,
    /// `hybrid`, `production` or `sandbox`.
    pub environment_type: String,
    /// Where to call the API.
    #[serde(rename = "URLs")]
    pub urls: UrlsDto,
    /// Default-version URLs (none).
    #[serde(rename = "defaultVersionURLs")]
    pub default_version_urls: Value,
}

/// The Developer Portal's `API`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PortalApiDto {
    /// The API's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Gateway context.
    pub context: String,
    /// Version.
    pub version: String,
    /// `admin`.
    pub provider: String,
    /// Lifecycle state.
    #[serde(rename = "lifeCycleStatus")]
    pub lifecycle_status: String,
    /// Never the default version.
    pub is_default_version: bool,
    /// `SSE`.
    #[serde(rename = "type")]
    pub api_type: String,
    /// `http`.
    pub transport: Vec<String>,
    /// Topics.
    pub operations: Vec<PortalOperationDto>,
    /// `Authorization`.
    pub authorization_header: String,
    /// `oauth2`.
    pub security_scheme: Vec<String>,
    /// Tags (none).
    pub tags: Vec<String>,
    /// The business plans.
    pub tiers: Vec<TierDto>,
    /// No thumbnail.
    pub has_thumbnail: bool,
    /// Where the gateway serves it.
    #[serde(rename = "endpointURLs")]
    pub endpoint_urls: Vec<EndpointUrlsDto>,
    /// The environments it is deployed to.
    pub environment_list: Vec<String>,
    /// Whether it can be subscribed to now.
    pub is_subscription_available: bool,
    /// Creation time (ms, as a string).
    pub created_time: String,
    /// Last change (ms, as a string).
    pub last_updated_time: String,
    /// `wso2`.
    pub gateway_vendor: String,
    /// `http`.
    pub async_transport_protocols: Vec<String>,
}

impl PortalApiDto {
    /// The portal's view of an API, with the gateway URLs of the environments that show it.
    pub fn from_api(
        api: &Api,
        deployments: &[&Deployment],
        environments: &[Environment],
        gateway_url: &str,
    ) -> Self {
        let shown: Vec<&&Deployment> = deployments
            .iter()
            .filter(|d| d.display_on_devportal)
            .collect();
        Self {
            id: api.id.clone(),
            name: api.name.clone(),
            description: api.description.clone(),
            context: api.context.clone(),
            version: api.version.clone(),
            provider: api.provider.clone(),
            lifecycle_status: api.lifecycle.as_wso2().to_string(),
            is_default_version: false,
            api_type: "SSE".to_string(),
            transport: vec!["http".to_string()],
            operations: api
                .topics
                .iter()
                .map(|t| PortalOperationDto {
                    target: t.clone(),
                    verb: "SUBSCRIBE".to_string(),
                })
                .collect(),
            authorization_header: "Authorization".to_string(),
            security_scheme: vec!["oauth2".to_string()],
            tags: Vec::new(),
            tiers: api
                .policies
                .iter()
                .map(|p| TierDto {
                    tier_name: p.clone(),
                    tier_plan: "FREE".to_string(),
                })
                .collect(),
            has_thumbnail: false,
            endpoint_urls: shown
                .iter()
                .map(|d| {
                    let env = environments.iter().find(|e| e.name == d.environment);
                    EndpointUrlsDto {
                        environment_name: d.environment.clone(),
                        environment_display_name: env
                            .map_or_else(|| d.environment.clone(), |e| e.display_name.clone()),
                        environment_type: env.map_or("hybrid", |e| kind_name(e.kind)).to_string(),
                        urls: UrlsDto {
                            http: format!(
                                "{}{}",
                                gateway_url.trim_end_matches('/'),
                                api.base_path()
                            ),
                        },
                        default_version_urls: Value::Object(Default::default()),
                    }
                })
                .collect(),
            environment_list: shown.iter().map(|d| d.environment.clone()).collect(),
            is_subscription_available: api.lifecycle.accepts_subscriptions(),
            created_time: api.created_at.to_string(),
            last_updated_time: api.updated_at.to_string(),
            gateway_vendor: "wso2".to_string(),
            async_transport_protocols: vec!["http".to_string()],
        }
    }
}

/// The Developer Portal's `ApplicationToken`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplicationTokenDto {
    /// The JWT.
    pub access_token: String,
    /// Its scopes.
    pub token_scopes: Vec<String>,
    /// Seconds until it expires.
    pub validity_time: i64,
}

impl ApplicationTokenDto {
    /// The portal's view of an issued token.
    pub fn from_token(t: &IssuedToken) -> Self {
        Self {
            access_token: t.access_token.clone(),
            token_scopes: t.scope.split_whitespace().map(str::to_string).collect(),
            validity_time: t.expires_in,
        }
    }
}

/// The Developer Portal's `ApplicationKey`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplicationKeyDto {
    /// The key pair's id.
    pub key_mapping_id: String,
    /// `Resident Key Manager`.
    pub key_manager: String,
    /// The OAuth client id.
    pub consumer_key: String,
    /// The secret: only in the answer that created or regenerated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_secret: Option<String>,
    /// `client_credentials`.
    pub supported_grant_types: Vec<String>,
    /// No callback.
    pub callback_url: String,
    /// `COMPLETED`.
    pub key_state: String,
    /// `PRODUCTION` or `SANDBOX`.
    pub key_type: String,
    /// `CREATED`.
    pub mode: String,
    /// No group.
    pub group_id: String,
    /// A token issued with the keys, in the answer that created them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<ApplicationTokenDto>,
    /// None.
    pub additional_properties: Value,
}

impl ApplicationKeyDto {
    /// The portal's view of a key pair; secret and token only when just made.
    pub fn from_key_pair(
        kp: &KeyPair,
        secret: Option<String>,
        token: Option<&IssuedToken>,
    ) -> Self {
        Self {
            key_mapping_id: kp.key_mapping_id.clone(),
            key_manager: KEY_MANAGER.to_string(),
            consumer_key: kp.consumer_key.clone(),
            consumer_secret: secret,
            supported_grant_types: kp.grant_types.clone(),
            callback_url: String::new(),
            key_state: "COMPLETED".to_string(),
            key_type: kp.key_type.as_str().to_string(),
            mode: "CREATED".to_string(),
            group_id: String::new(),
            token: token.map(ApplicationTokenDto::from_token),
            additional_properties: Value::Object(Default::default()),
        }
    }
}

/// The answer of `regenerate-secret`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RegeneratedSecretDto {
    /// The OAuth client id.
    pub consumer_key: String,
    /// The new secret, shown only here.
    pub consumer_secret: String,
}

/// The Developer Portal's `Application`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplicationDto {
    /// The application's id.
    pub application_id: String,
    /// Its name.
    pub name: String,
    /// Its application policy.
    pub throttling_policy: String,
    /// Free text.
    pub description: String,
    /// `JWT`.
    pub token_type: String,
    /// `APPROVED`.
    pub status: String,
    /// No groups.
    pub groups: Vec<String>,
    /// Its subscriptions.
    pub subscription_count: usize,
    /// Its key pairs (without secrets).
    pub keys: Vec<ApplicationKeyDto>,
    /// None.
    pub attributes: Value,
    /// None.
    pub subscription_scopes: Vec<Value>,
    /// `admin`.
    pub owner: String,
    /// Secrets are stored hashed.
    pub hash_enabled: bool,
}

impl ApplicationDto {
    /// The portal's view of an application.
    pub fn from_application(app: &Application, subscriptions: usize, keys: &[&KeyPair]) -> Self {
        Self {
            application_id: app.id.clone(),
            name: app.name.clone(),
            throttling_policy: app.throttling_policy.clone(),
            description: app.description.clone(),
            token_type: app.token_type.clone(),
            status: "APPROVED".to_string(),
            groups: Vec::new(),
            subscription_count: subscriptions,
            keys: keys
                .iter()
                .map(|k| ApplicationKeyDto::from_key_pair(k, None, None))
                .collect(),
            attributes: Value::Object(Default::default()),
            subscription_scopes: Vec::new(),
            owner: app.owner.clone(),
            hash_enabled: true,
        }
    }
}

/// The Developer Portal's `ApplicationInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplicationInfoDto {
    /// The application's id.
    pub application_id: String,
    /// Its name.
    pub name: String,
    /// Its application policy.
    pub throttling_policy: String,
    /// Free text.
    pub description: String,
    /// `APPROVED`.
    pub status: String,
    /// No groups.
    pub groups: Vec<String>,
    /// Its subscriptions.
    pub subscription_count: usize,
    /// None.
    pub attributes: Value,
    /// `admin`.
    pub owner: String,
}

impl ApplicationInfoDto {
    /// The portal's list entry of an application.
    pub fn from_application(app: &Application, subscriptions: usize) -> Self {
        Self {
            application_id: app.id.clone(),
            name: app.name.clone(),
            throttling_policy: app.throttling_policy.clone(),
            description: app.description.clone(),
            status: "APPROVED".to_string(),
            groups: Vec::new(),
            subscription_count: subscriptions,
            attributes: Value::Object(Default::default()),
            owner: app.owner.clone(),
        }
    }
}

/// The Developer Portal's `Subscription`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SubscriptionDto {
    /// The subscription's id.
    pub subscription_id: String,
    /// The subscribing application.
    pub application_id: String,
    /// The API.
    pub api_id: String,
    /// The API, summarised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_info: Option<PortalApiInfoDto>,
    /// The application, summarised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_info: Option<ApplicationInfoDto>,
    /// The plan.
    pub throttling_policy: String,
    /// The plan asked for (the same: no approvals).
    pub requested_throttling_policy: String,
    /// `UNBLOCKED`, `BLOCKED` or `PROD_ONLY_BLOCKED`.
    pub status: String,
}

impl SubscriptionDto {
    /// The portal's view of a subscription.
    pub fn from_subscription(
        s: &Subscription,
        api: Option<&Api>,
        app: Option<(&Application, usize)>,
    ) -> Self {
        Self {
            subscription_id: s.id.clone(),
            application_id: s.application_id.clone(),
            api_id: s.api_id.clone(),
            api_info: api.map(PortalApiInfoDto::from_api),
            application_info: app.map(|(a, n)| ApplicationInfoDto::from_application(a, n)),
            throttling_policy: s.policy.clone(),
            requested_throttling_policy: s.policy.clone(),
            status: s.status.as_str().to_string(),
        }
    }
}

// ---- Request bodies

/// The Developer Portal's `Application` as a client sends it (create and update).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationIn {
    /// `name` of the application.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `throttlingPolicy`: the application policy, e.g. `Unlimited`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttling_policy: Option<String>,
    /// `description`: free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `tokenType`: `JWT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
}

/// The Developer Portal's `ApplicationKeyGenerateRequest`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyGenerateIn {
    /// `keyType`: `PRODUCTION` or `SANDBOX`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// `grantTypesToBeSupported`: `client_credentials` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_types_to_be_supported: Option<Vec<String>>,
    /// WSO2 sends it as a string ("3600"); a number is accepted too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity_time: Option<Value>,
}

/// The Developer Portal's `ApplicationTokenGenerateRequest`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenGenerateIn {
    /// `consumerSecret`: checked against the key's secret when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_secret: Option<String>,
    /// `validityPeriod`: seconds, as a number or a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity_period: Option<Value>,
    /// `revokeToken`: a token to revoke first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_token: Option<String>,
    /// `scopes` (streamgate issues `default` tokens whatever is asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

/// The Developer Portal's `Subscription` as a client sends it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionIn {
    /// `applicationId` of the subscriber.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    /// `apiId` of the API subscribed to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_id: Option<String>,
    /// `throttlingPolicy`: the business plan (default: the API's first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttling_policy: Option<String>,
}
