//! The Admin v4 API's shapes: subscription and application throttling policies.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::{ApplicationPolicy, SubscriptionPolicy};

use super::*;

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

// ---- Request bodies

/// The Admin API's `EventCountLimit` as a client sends it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventCountIn {
    /// `eventCount`: events allowed per window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_count: Option<u64>,
    /// `timeUnit`: `sec`, `min`, `hour` or `day`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_unit: Option<String>,
    /// `unitTime`: the window is this many time units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_time: Option<u32>,
}

/// The Admin API's `RequestCountLimit` as a client sends it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestCountIn {
    /// `requestCount`: requests allowed per window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_count: Option<u64>,
    /// `timeUnit`: `sec`, `min`, `hour` or `day`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_unit: Option<String>,
    /// `unitTime`: the window is this many time units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_time: Option<u32>,
}

/// The Admin API's `ThrottleLimit` as a client sends it (`type` is `EVENTCOUNTLIMIT` or
/// `REQUESTCOUNTLIMIT`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitIn {
    /// `type`: `EVENTCOUNTLIMIT` or `REQUESTCOUNTLIMIT`.
    #[serde(rename = "type")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_type: Option<String>,
    /// `eventCount`, for `EVENTCOUNTLIMIT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_count: Option<EventCountIn>,
    /// `requestCount`, for `REQUESTCOUNTLIMIT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_count: Option<RequestCountIn>,
}

/// The Admin API's `SubscriptionThrottlePolicy` or `ApplicationThrottlePolicy` as a client
/// sends it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyIn {
    /// `policyName`: the plan's name and id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    /// `displayName`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `description`: free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `defaultLimit`: the quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_limit: Option<LimitIn>,
    /// `stopOnQuotaReach`: whether delivery stops at the quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_on_quota_reach: Option<bool>,
}
