//! The Publisher v4 API's shapes: APIs, revisions, deployments, lifecycle, business plans,
//! environments.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::{
    Api, Deployment, Environment, EnvironmentKind, LifecycleState, Quota, Revision,
    SubscriptionPolicy,
};

use super::*;

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
    /// `backendStream` (streamgate's own field): `per-client` or `shared`, as the
    /// gateway serves it once a revision with it is deployed.
    pub backend_stream: String,
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
            provider: api.provider.clone(),
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
            backend_stream: api.backend_stream.as_str().to_string(),
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
            provider: api.provider.clone(),
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
pub(super) fn kind_name(kind: EnvironmentKind) -> &'static str {
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
pub(super) fn port_of(url: &str) -> u16 {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    authority
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(80)
}

// ---- Request bodies

/// The Publisher's `API` as a client sends it (create and update); absent fields keep
/// their current value on update.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiIn {
    /// `provider`: the API's provider; absent, the calling user. Only an admin may name
    /// another user (WSO2: a non-admin's API is always their own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// `name`: the API's name, e.g. `Observer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `context`: the path prefix, e.g. `/observer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// `version`, e.g. `1.0.0`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `description`: free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `type`: only `SSE` is accepted.
    #[serde(rename = "type")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_type: Option<String>,
    /// `policies`: the business plans offered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<String>>,
    /// `endpointConfig`: WSO2's shape, kept as JSON because a client may send an endpoint or a
    /// list of them (see [`EndpointConfig`] for the simple one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_config: Option<Value>,
    /// `operations`: the subscribe-only topics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operations: Option<Vec<OperationIn>>,
    /// `corsConfiguration`: WSO2's `APICorsConfiguration`, enforced by the gateway once a
    /// revision with it is deployed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors_configuration: Option<crate::catalog::CorsConfiguration>,
    /// `backendStream`: `per-client` or `shared` (anything else is refused with 400
    /// naming the allowed values); absent keeps the current mode.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_stream: Option<String>,
}

/// One of `API.operations`: a topic (`target`) with verb `SUBSCRIBE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationIn {
    /// `target`: the topic, e.g. `/memory` or `/*`.
    pub target: String,
    /// `verb`: `SUBSCRIBE` (the only one an SSE API has).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verb: Option<String>,
}

/// The Publisher's `APIRevision` as a client sends it to create a revision.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RevisionIn {
    /// `description` of the new revision.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One entry of the Publisher's `APIRevisionDeployment` list sent to deploy or undeploy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentIn {
    /// `name`: the gateway environment, e.g. `Production and Sandbox`.
    pub name: String,
    /// `vhost`, e.g. `localhost`.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vhost: Option<String>,
    /// `displayOnDevportal`: whether subscribers see the URLs.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_on_devportal: Option<bool>,
}
