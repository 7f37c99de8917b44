//! The JSON shapes of WSO2 API Manager 4.x's Publisher v4, Developer Portal v3 and Admin v4
//! APIs (the subset streamgate serves), built from the catalog's types. The CLI reads
//! answers with these same types, so every field has a default.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::{
    Api, Application, ApplicationPolicy, Deployment, Environment, EnvironmentKind, KeyPair,
    LifecycleState, Millis, Quota, Revision, Subscription, SubscriptionPolicy,
};
use crate::keys::IssuedToken;

/// The provider and owner of everything: streamgate has one user, `admin`.
pub const PROVIDER: &str = "admin";
/// The `eventCount`/`requestCount` WSO2 writes for an unlimited policy.
pub const UNLIMITED_COUNT: u64 = 2_147_483_647;
/// WSO2's `keyManager` for keys it issues itself.
pub const KEY_MANAGER: &str = "Resident Key Manager";
/// The grant types streamgate's key manager supports.
pub const GRANT_TYPES: [&str; 1] = ["client_credentials"];

/// A time in RFC 3339 (UTC), as revisions and deployments show it.
pub fn rfc3339(ms: Millis) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// WSO2's `Error`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ErrorBody {
    /// The HTTP status or a WSO2 error code such as 900351.
    pub code: i64,
    /// A short summary.
    pub message: String,
    /// What exactly went wrong.
    pub description: String,
    /// A pointer to more information (always empty).
    pub more_info: String,
    /// Per-field errors (unused: `description` names the field).
    pub error: Vec<ErrorItem>,
}

/// WSO2's `ErrorListItem`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorItem {
    /// Its code.
    pub code: String,
    /// Its message.
    pub message: String,
}

/// A list with WSO2's `count` and optional `pagination`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListDto<T> {
    /// How many items are in `list`.
    pub count: usize,
    /// The items.
    pub list: Vec<T>,
    /// Where this page sits, for paged lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

impl<T> ListDto<T> {
    /// A whole, unpaged list.
    pub fn new(list: Vec<T>) -> Self {
        Self {
            count: list.len(),
            list,
            pagination: None,
        }
    }
}

/// WSO2's `Pagination`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Pagination {
    /// Index of the first item returned.
    pub offset: usize,
    /// Items asked for.
    pub limit: usize,
    /// Items in all.
    pub total: usize,
    /// The next page's query, or empty.
    pub next: String,
    /// The previous page's query, or empty.
    pub previous: String,
}

// ---------------------------------------------------------------- Publisher

/// One endpoint of `endpointConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointUrl {
    /// The backend URL.
    pub url: String,
}

/// WSO2's `endpointConfig` for a simple HTTP endpoint (its keys are snake_case).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointConfig {
    /// Always `http`.
    pub endpoint_type: String,
    /// Where production tokens go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub production_endpoints: Option<EndpointUrl>,
    /// Where sandbox tokens go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox_endpoints: Option<EndpointUrl>,
}

/// WSO2's `APIOperations`: for SSE, one subscribe-only topic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OperationDto {
    /// The topic, e.g. `/*`.
    pub target: String,
    /// Always `SUBSCRIBE`.
    pub verb: String,
    /// Who may call it.
    pub auth_type: String,
    /// The operation's throttling policy.
    pub throttling_policy: String,
    /// OAuth scopes required (none).
    pub scopes: Vec<String>,
}

/// The Publisher's `API`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApiDto {
    /// The API's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Gateway context, e.g. `/observer`.
    pub context: String,
    /// Version, e.g. `1.0.0`.
    pub version: String,
    /// Always `admin`.
    pub provider: String,
    /// `CREATED`, `PROTOTYPED`, `PUBLISHED`, `BLOCKED`, `DEPRECATED` or `RETIRED`.
    #[serde(rename = "lifeCycleStatus")]
    pub lifecycle_status: String,
    /// Always `SSE`.
    #[serde(rename = "type")]
    pub api_type: String,
    /// `http`.
    pub transport: Vec<String>,
    /// Business plans.
    pub policies: Vec<String>,
    /// Endpoints.
    pub endpoint_config: EndpointConfig,
    /// Topics.
    pub operations: Vec<OperationDto>,
    /// `oauth2`.
    pub security_scheme: Vec<String>,
    /// `PUBLIC`.
    pub visibility: String,
    /// Whether the API answers at its unversioned context too (never).
    pub is_default_version: bool,
    /// Whether this is a revision (never: the working copy).
    pub is_revision: bool,
    /// No thumbnails.
    pub has_thumbnail: bool,
    /// Always `NONE`.
    pub access_control: String,
    /// `CURRENT_TENANT`.
    pub subscription_availability: String,
    /// Tags (none).
    pub tags: Vec<String>,
    /// `wso2`, for clients that look.
    pub gateway_vendor: String,
    /// `wso2/synapse`, for clients that look.
    pub gateway_type: String,
    /// `http`.
    pub async_transport_protocols: Vec<String>,
    /// Creation time, milliseconds since the epoch as a string (as WSO2 writes it).
    pub created_time: String,
    /// Last change, milliseconds since the epoch as a string.
    pub last_updated_time: String,
    /// WSO2's `APICorsConfiguration`, as the gateway enforces it.
    pub cors_configuration: crate::catalog::CorsConfiguration,
}

impl ApiDto {
    /// The Publisher's view of an API.
    pub fn from_api(api: &Api) -> Self {
        Self {
            id: api.id.clone(),
            name: api.name.clone(),
            description: api.description.clone(),
            context: api.context.clone(),
            version: api.version.clone(),
            provider: PROVIDER.to_string(),
            lifecycle_status: api.lifecycle.as_wso2().to_string(),
            api_type: "SSE".to_string(),
            transport: vec!["http".to_string()],
            policies: api.policies.clone(),
            endpoint_config: EndpointConfig {
                endpoint_type: "http".to_string(),
                production_endpoints: api
                    .production_endpoint
                    .clone()
                    .map(|url| EndpointUrl { url }),
                sandbox_endpoints: api.sandbox_endpoint.clone().map(|url| EndpointUrl { url }),
            },
            operations: operations_of(api),
            security_scheme: vec!["oauth2".to_string()],
            visibility: "PUBLIC".to_string(),
            is_default_version: false,
            is_revision: false,
            has_thumbnail: false,
            access_control: "NONE".to_string(),
            subscription_availability: "CURRENT_TENANT".to_string(),
            tags: Vec::new(),
            gateway_vendor: "wso2".to_string(),
            gateway_type: "wso2/synapse".to_string(),
            async_transport_protocols: vec!["http".to_string()],
            created_time: api.created_at.to_string(),
            last_updated_time: api.updated_at.to_string(),
            cors_configuration: (*api.cors).clone(),
        }
    }
}

fn operations_of(api: &Api) -> Vec<OperationDto> {
    api.topics
        .iter()
        .map(|t| OperationDto {
            target: t.clone(),
            verb: "SUBSCRIBE".to_string(),
            auth_type: "Application & Application User".to_string(),
            throttling_policy: "Unlimited".to_string(),
            scopes: Vec::new(),
        })
        .collect()
}

/// The Developer Portal's `APIOperations`: a topic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortalOperationDto {
    /// The topic, e.g. `/*`.
    pub target: String,
    /// Always `SUBSCRIBE`.
    pub verb: String,
}

/// The Publisher's `APIInfo`, an entry of `APIList`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApiInfoDto {
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
    /// Always `admin`.
    pub provider: String,
    /// Always `SSE`.
    #[serde(rename = "type")]
    pub api_type: String,
    /// Lifecycle state, WSO2's spelling.
    #[serde(rename = "lifeCycleStatus")]
    pub lifecycle_status: String,
    /// No thumbnails.
    pub has_thumbnail: bool,
    /// `oauth2`.
    pub security_scheme: Vec<String>,
    /// Creation time (ms since the epoch, as a string).
    pub created_time: String,
    /// Last change (ms since the epoch, as a string).
    pub updated_time: String,
    /// `wso2`.
    pub gateway_vendor: String,
    /// Never advertise-only.
    pub advertise_only: bool,
}

impl ApiInfoDto {
    /// The list entry of an API.
    pub fn from_api(api: &Api) -> Self {
        Self {
            id: api.id.clone(),
            name: api.name.clone(),
            description: api.description.clone(),
            context: api.context.clone(),
            version: api.version.clone(),
            provider: PROVIDER.to_string(),
            api_type: "SSE".to_string(),
            lifecycle_status: api.lifecycle.as_wso2().to_string(),
            has_thumbnail: false,
            security_scheme: vec!["oauth2".to_string()],
            created_time: api.created_at.to_string(),
            updated_time: api.updated_at.to_string(),
            gateway_vendor: "wso2".to_string(),
            advertise_only: false,
        }
    }
}

/// `APIRevisionAPIInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RevisionApiInfo {
    /// The API's id.
    pub id: String,
}

/// The Publisher's `APIRevisionDeployment`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DeploymentDto {
    /// The deployed revision's id.
    pub revision_uuid: String,
    /// The environment's name.
    pub name: String,
    /// `APPROVED`: deployments take effect at once.
    pub status: String,
    /// The vhost.
    pub vhost: String,
    /// Whether the Developer Portal shows this gateway URL.
    pub display_on_devportal: bool,
    /// When it was deployed (RFC 3339).
    pub deployed_time: String,
    /// When the gateway took it (the same moment).
    pub success_deployed_time: String,
    /// Gateways serving it (one, in process).
    pub live_gateway_count: u32,
    /// Gateways it was deployed to.
    pub deployed_gateway_count: u32,
    /// Gateways that failed to take it.
    pub failed_gateway_count: u32,
}

impl DeploymentDto {
    /// WSO2's view of a deployment.
    pub fn from_deployment(d: &Deployment) -> Self {
        Self {
            revision_uuid: d.revision_id.clone(),
            name: d.environment.clone(),
            status: "APPROVED".to_string(),
            vhost: d.vhost.clone(),
            display_on_devportal: d.display_on_devportal,
            deployed_time: rfc3339(d.deployed_at),
            success_deployed_time: rfc3339(d.deployed_at),
            live_gateway_count: 1,
            deployed_gateway_count: 1,
            failed_gateway_count: 0,
        }
    }
}

/// The Publisher's `APIRevisionDeploymentList` (WSO2 gives it no `count`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeploymentListDto {
    /// The deployments.
    pub list: Vec<DeploymentDto>,
}

/// The Publisher's `APIRevision`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RevisionDto {
    /// The revision's id.
    pub id: String,
    /// `Revision N`.
    pub display_name: String,
    /// Free text.
    pub description: String,
    /// When it was made (RFC 3339).
    pub created_time: String,
    /// The API it snapshots.
    pub api_info: RevisionApiInfo,
    /// Where it is deployed.
    pub deployment_info: Vec<DeploymentDto>,
}

impl RevisionDto {
    /// WSO2's view of a revision with its deployments.
    pub fn from_revision(rev: &Revision, deployments: &[&Deployment]) -> Self {
        Self {
            id: rev.id.clone(),
            display_name: rev.display_name(),
            description: rev.description.clone(),
            created_time: rfc3339(rev.created_at),
            api_info: RevisionApiInfo {
                id: rev.api_id.clone(),
            },
            deployment_info: deployments
                .iter()
                .filter(|d| d.revision_id == rev.id)
                .map(|d| DeploymentDto::from_deployment(d))
                .collect(),
        }
    }
}

/// One entry of `availableTransitions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TransitionDto {
    /// The action, e.g. `Publish`.
    pub event: String,
    /// The state it leads to, e.g. `Published`.
    pub target_state: String,
}

/// The Publisher's `LifecycleState`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LifecycleStateDto {
    /// The state as WSO2's lifecycle names it, e.g. `Published`.
    pub state: String,
    /// Checklist items (none).
    pub check_items: Vec<Value>,
    /// The actions allowed now.
    pub available_transitions: Vec<TransitionDto>,
}

impl LifecycleStateDto {
    /// The lifecycle page of an API in `state`.
    pub fn of(state: LifecycleState) -> Self {
        Self {
            state: state.label().to_string(),
            check_items: Vec::new(),
            available_transitions: state
                .allowed_actions()
                .iter()
                .map(|a| TransitionDto {
                    event: a.as_str().to_string(),
                    target_state: a.target().label().to_string(),
                })
                .collect(),
        }
    }
}

/// The Publisher's `WorkflowResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WorkflowResponseDto {
    /// `APPROVED`: there are no approval workflows.
    pub workflow_status: String,
    /// A JSON string: `{"previousState":..,"state":..,"warning":..}`.
    pub json_payload: String,
    /// The state after the change.
    pub lifecycle_state: LifecycleStateDto,
}

/// `EventCountLimit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EventCountDto {
    /// `min`, `hour`, `day` or `month`.
    pub time_unit: String,
    /// Units per window.
    pub unit_time: u32,
    /// Events allowed per window.
    pub event_count: u64,
}

/// `RequestCountLimit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RequestCountDto {
    /// Always `min`.
    pub time_unit: String,
    /// Always 1.
    pub unit_time: u32,
    /// Requests allowed per window.
    pub request_count: u64,
}

/// `ThrottleLimit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ThrottleLimitDto {
    /// `EVENTCOUNTLIMIT` or `REQUESTCOUNTLIMIT`.
    #[serde(rename = "type")]
    pub limit_type: String,
    /// For subscription plans.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_count: Option<EventCountDto>,
    /// For application policies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_count: Option<RequestCountDto>,
}

impl ThrottleLimitDto {
    /// A plan's quota; unlimited is WSO2's 2147483647 events per minute.
    pub fn events(quota: Quota) -> Self {
        let event_count = match quota {
            Quota::Unlimited => EventCountDto {
                time_unit: "min".to_string(),
                unit_time: 1,
                event_count: UNLIMITED_COUNT,
            },
            Quota::Events {
                count,
                unit,
                unit_time,
            } => EventCountDto {
                time_unit: unit.as_str().to_string(),
                unit_time,
                event_count: count,
            },
        };
        Self {
            limit_type: "EVENTCOUNTLIMIT".to_string(),
            event_count: Some(event_count),
            request_count: None,
        }
    }

    /// An application policy's rate; unlimited is WSO2's 2147483647 per minute.
    pub fn requests(per_minute: Option<u32>) -> Self {
        Self {
            limit_type: "REQUESTCOUNTLIMIT".to_string(),
            event_count: None,
            request_count: Some(RequestCountDto {
                time_unit: "min".to_string(),
                unit_time: 1,
                request_count: per_minute.map_or(UNLIMITED_COUNT, u64::from),
            }),
        }
    }
}

/// The Publisher's `SubscriptionPolicy` (a streaming business plan).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SubscriptionPolicyDto {
    /// A number for the plan (its position).
    pub policy_id: i64,
    /// The plan's name, standing in for a UUID.
    pub uuid: String,
    /// The plan's name, e.g. `AsyncGold`.
    pub policy_name: String,
    /// The name shown to people.
    pub display_name: String,
    /// What it allows.
    pub description: String,
    /// Always deployed.
    pub is_deployed: bool,
    /// WSO2's super tenant.
    pub tenant_id: i64,
    /// WSO2's super tenant.
    pub tenant_domain: String,
    /// The event quota.
    pub default_limit: ThrottleLimitDto,
    /// No burst limit.
    pub rate_limit_count: u64,
    /// No burst limit.
    pub rate_limit_time_unit: String,
    /// Subscriptions under this plan.
    pub subscriber_count: u64,
    /// None.
    pub custom_attributes: Vec<Value>,
    /// Delivery stops at the quota.
    pub stop_on_quota_reach: bool,
    /// `FREE`.
    pub billing_plan: String,
}

impl SubscriptionPolicyDto {
    /// The Publisher's view of a plan.
    pub fn from_policy(index: usize, p: &SubscriptionPolicy, subscribers: u64) -> Self {
        Self {
            policy_id: i64::try_from(index + 1).unwrap_or(i64::MAX),
            uuid: p.name.clone(),
            policy_name: p.name.clone(),
            display_name: p.display_name.clone(),
            description: p.description.clone(),
            is_deployed: true,
            tenant_id: -1234,
            tenant_domain: "carbon.super".to_string(),
            default_limit: ThrottleLimitDto::events(p.quota),
            rate_limit_count: 0,
            rate_limit_time_unit: String::new(),
            subscriber_count: subscribers,
            custom_attributes: Vec::new(),
            stop_on_quota_reach: true,
            billing_plan: "FREE".to_string(),
        }
    }
}

/// A vhost of an environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VhostDto {
    /// Host name, e.g. `localhost`.
    pub host: String,
    /// Context prefix (none).
    pub http_context: String,
    /// The gateway's HTTP port.
    pub http_port: u16,
}

/// `Environment`: the Publisher's shape (with `type`, `serverUrl`, `showInApiConsole`) or
/// the Admin's (with `gatewayType`, `isReadOnly`); the other's fields are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EnvironmentDto {
    /// The environment's name doubles as its id.
    pub id: String,
    /// Its name, e.g. `Production and Sandbox`.
    pub name: String,
    /// The name shown to people.
    pub display_name: String,
    /// `wso2`.
    pub provider: String,
    /// Its vhosts.
    pub vhosts: Vec<VhostDto>,
    /// Publisher: `hybrid`, `production` or `sandbox`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub env_type: Option<String>,
    /// Publisher: the gateway's URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    /// Publisher: shown in the API console.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub show_in_api_console: Option<bool>,
    /// Admin: `Regular`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_type: Option<String>,
    /// Admin: configured at start, not through the API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_read_only: Option<bool>,
}

/// `hybrid`, `production` or `sandbox`.
fn kind_name(kind: EnvironmentKind) -> &'static str {
    match kind {
        EnvironmentKind::Hybrid => "hybrid",
        EnvironmentKind::Production => "production",
        EnvironmentKind::Sandbox => "sandbox",
    }
}

impl EnvironmentDto {
    fn common(env: &Environment, gateway_url: &str) -> Self {
        Self {
            id: env.name.clone(),
            name: env.name.clone(),
            display_name: env.display_name.clone(),
            provider: "wso2".to_string(),
            vhosts: vec![VhostDto {
                host: env.vhost.clone(),
                http_context: String::new(),
                http_port: port_of(gateway_url),
            }],
            ..Self::default()
        }
    }

    /// The Publisher's view of an environment served by the gateway at `gateway_url`.
    pub fn for_publisher(env: &Environment, gateway_url: &str) -> Self {
        Self {
            env_type: Some(kind_name(env.kind).to_string()),
            server_url: Some(gateway_url.to_string()),
            show_in_api_console: Some(true),
            ..Self::common(env, gateway_url)
        }
    }

    /// The Admin API's view of an environment.
    pub fn for_admin(env: &Environment, gateway_url: &str) -> Self {
        Self {
            gateway_type: Some("Regular".to_string()),
            is_read_only: Some(true),
            ..Self::common(env, gateway_url)
        }
    }
}

/// The port of an `http://host:port/..` URL (80 when absent).
fn port_of(url: &str) -> u16 {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    authority
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(80)
}

// ---------------------------------------------------------------- Admin

/// The Admin API's `SubscriptionThrottlePolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AdminSubscriptionPolicyDto {
    /// The plan's name doubles as its id.
    pub policy_id: String,
    /// The plan's name.
    pub policy_name: String,
    /// The name shown to people.
    pub display_name: String,
    /// What it allows.
    pub description: String,
    /// Always deployed.
    pub is_deployed: bool,
    /// `SubscriptionThrottlePolicy`.
    #[serde(rename = "type")]
    pub policy_type: String,
    /// The event quota.
    pub default_limit: ThrottleLimitDto,
    /// No burst limit.
    pub rate_limit_count: u64,
    /// No burst limit.
    pub rate_limit_time_unit: String,
    /// None.
    pub custom_attributes: Vec<Value>,
    /// Delivery stops at the quota.
    pub stop_on_quota_reach: bool,
    /// `FREE`.
    pub billing_plan: String,
    /// Subscriptions under this plan.
    pub subscriber_count: u64,
    /// Built in (streamgate's own field: built-in plans can't change).
    pub built_in: bool,
}

impl AdminSubscriptionPolicyDto {
    /// The Admin view of a plan.
    pub fn from_policy(p: &SubscriptionPolicy, subscribers: u64) -> Self {
        Self {
            policy_id: p.name.clone(),
            policy_name: p.name.clone(),
            display_name: p.display_name.clone(),
            description: p.description.clone(),
            is_deployed: true,
            policy_type: "SubscriptionThrottlePolicy".to_string(),
            default_limit: ThrottleLimitDto::events(p.quota),
            rate_limit_count: 0,
            rate_limit_time_unit: String::new(),
            custom_attributes: Vec::new(),
            stop_on_quota_reach: true,
            billing_plan: "FREE".to_string(),
            subscriber_count: subscribers,
            built_in: p.built_in,
        }
    }
}

/// The Admin API's `ApplicationThrottlePolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AdminApplicationPolicyDto {
    /// The policy's name doubles as its id.
    pub policy_id: String,
    /// The policy's name, e.g. `10PerMin`.
    pub policy_name: String,
    /// The name shown to people.
    pub display_name: String,
    /// What it allows.
    pub description: String,
    /// Always deployed.
    pub is_deployed: bool,
    /// `ApplicationThrottlePolicy`.
    #[serde(rename = "type")]
    pub policy_type: String,
    /// Connection requests per minute.
    pub default_limit: ThrottleLimitDto,
    /// Built in (streamgate's own field).
    pub built_in: bool,
}

impl AdminApplicationPolicyDto {
    /// The Admin view of an application policy.
    pub fn from_policy(p: &ApplicationPolicy) -> Self {
        Self {
            policy_id: p.name.clone(),
            policy_name: p.name.clone(),
            display_name: p.display_name.clone(),
            description: p.description.clone(),
            is_deployed: true,
            policy_type: "ApplicationThrottlePolicy".to_string(),
            default_limit: ThrottleLimitDto::requests(p.requests_per_minute),
            built_in: p.built_in,
        }
    }
}

// ---------------------------------------------------------------- Developer Portal

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
            provider: PROVIDER.to_string(),
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
            provider: PROVIDER.to_string(),
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

// ---------------------------------------------------------------- OAuth2

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_ports_are_rendered_like_wso2() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(port_of("http://localhost:8280"), 8280);
        assert_eq!(port_of("http://127.0.0.1:9/x"), 9);
        assert_eq!(port_of("http://gw"), 80);
    }

    #[test]
    fn unlimited_plans_use_wso2s_max_count() {
        let dto = ThrottleLimitDto::events(Quota::Unlimited);
        assert_eq!(
            dto.event_count.map(|e| e.event_count),
            Some(UNLIMITED_COUNT)
        );
        let dto = ThrottleLimitDto::requests(Some(10));
        assert_eq!(dto.request_count.map(|r| r.request_count), Some(10));
    }
}
