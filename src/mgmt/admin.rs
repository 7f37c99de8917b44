//! Admin v4 (`/api/am/admin/v4`): custom business plans (subscription policies counting
//! events) and application policies (connection requests per minute), and the gateway
//! environments.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::dto::{
    AdminApplicationPolicyDto, AdminSubscriptionPolicyDto, EnvironmentDto, LimitIn, ListDto,
    PolicyIn,
};
use super::{ApiError, AppState, Json};
use crate::catalog::{ApplicationPolicy, Quota, SubscriptionPolicy, TimeUnit};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/throttling/policies/subscription",
            get(list_subscription_policies).post(add_subscription_policy),
        )
        .route(
            "/throttling/policies/subscription/{id}",
            get(get_subscription_policy),
        )
        .route(
            "/throttling/policies/application",
            get(list_application_policies).post(add_application_policy),
        )
        .route(
            "/throttling/policies/application/{id}",
            get(get_application_policy),
        )
        .route("/environments", get(environments))
}

fn required_name(body: &PolicyIn) -> Result<String, ApiError> {
    body.policy_name
        .clone()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::invalid("policyName", "the plan name is required"))
}

fn check_type(limit: &LimitIn, wanted: &str, what: &str) -> Result<(), ApiError> {
    match &limit.limit_type {
        Some(t) if !t.eq_ignore_ascii_case(wanted) => Err(ApiError::invalid(
            "defaultLimit.type",
            format!("{what} use {wanted}, not '{t}'"),
        )),
        _ => Ok(()),
    }
}

impl PolicyIn {
    fn into_subscription_policy(self) -> Result<SubscriptionPolicy, ApiError> {
        let name = required_name(&self)?;
        if self.stop_on_quota_reach == Some(false) {
            return Err(ApiError::invalid(
                "stopOnQuotaReach",
                "streamgate always stops delivery at the quota; omit it or send true",
            ));
        }
        let limit = self.default_limit.ok_or_else(|| {
            ApiError::invalid(
                "defaultLimit",
                "required, e.g. {\"type\":\"EVENTCOUNTLIMIT\",\"eventCount\":\
                 {\"eventCount\":1000,\"timeUnit\":\"day\",\"unitTime\":1}}",
            )
        })?;
        check_type(
            &limit,
            "EVENTCOUNTLIMIT",
            "streaming plans count events: they",
        )?;
        let events = limit.event_count.ok_or_else(|| {
            ApiError::invalid(
                "defaultLimit.eventCount",
                "required: {\"eventCount\":N,\"timeUnit\":\"min|hour|day|month\",\"unitTime\":1}",
            )
        })?;
        let count = events
            .event_count
            .ok_or_else(|| ApiError::invalid("defaultLimit.eventCount.eventCount", "required"))?;
        let unit = TimeUnit::parse(events.time_unit.as_deref().unwrap_or_default())
            .map_err(|e| ApiError::invalid("defaultLimit.eventCount.timeUnit", e))?;
        let quota = Quota::Events {
            count,
            unit,
            unit_time: events.unit_time.unwrap_or(1),
        };
        Ok(SubscriptionPolicy {
            display_name: self.display_name.unwrap_or_else(|| name.clone()),
            description: self
                .description
                .unwrap_or_else(|| format!("Allows {}", quota.describe())),
            name,
            quota,
            built_in: false,
        })
    }

    fn into_application_policy(self) -> Result<ApplicationPolicy, ApiError> {
        let name = required_name(&self)?;
        let limit = self.default_limit.ok_or_else(|| {
            ApiError::invalid(
                "defaultLimit",
                "required, e.g. {\"type\":\"REQUESTCOUNTLIMIT\",\"requestCount\":\
                 {\"requestCount\":30,\"timeUnit\":\"min\",\"unitTime\":1}}",
            )
        })?;
        check_type(
            &limit,
            "REQUESTCOUNTLIMIT",
            "application policies count connection requests: they",
        )?;
        let requests = limit.request_count.ok_or_else(|| {
            ApiError::invalid(
                "defaultLimit.requestCount",
                "required: {\"requestCount\":N,\"timeUnit\":\"min\",\"unitTime\":1}",
            )
        })?;
        let count = requests.request_count.ok_or_else(|| {
            ApiError::invalid("defaultLimit.requestCount.requestCount", "required")
        })?;
        let unit = TimeUnit::parse(requests.time_unit.as_deref().unwrap_or("min"))
            .map_err(|e| ApiError::invalid("defaultLimit.requestCount.timeUnit", e))?;
        if unit != TimeUnit::Min || requests.unit_time.unwrap_or(1) != 1 {
            return Err(ApiError::invalid(
                "defaultLimit.requestCount.timeUnit",
                "application policies count requests per minute: use timeUnit \"min\" and unitTime 1",
            ));
        }
        let per_minute = u32::try_from(count).map_err(|_| {
            ApiError::invalid(
                "defaultLimit.requestCount.requestCount",
                "must be at most 4294967295",
            )
        })?;
        Ok(ApplicationPolicy {
            display_name: self.display_name.unwrap_or_else(|| name.clone()),
            description: self
                .description
                .unwrap_or_else(|| format!("Allows {count} connection requests per minute")),
            name,
            requests_per_minute: Some(per_minute),
            built_in: false,
        })
    }
}

fn subscribers(catalog: &crate::control::Snapshot, plan: &str) -> u64 {
    catalog
        .subscriptions
        .values()
        .filter(|s| s.policy == plan)
        .count() as u64
}

async fn list_subscription_policies(
    State(state): State<AppState>,
) -> axum::Json<ListDto<AdminSubscriptionPolicyDto>> {
    let catalog = state.control.snapshot();
    axum::Json(ListDto::new(
        catalog
            .subscription_policies
            .iter()
            .map(|p| AdminSubscriptionPolicyDto::from_policy(p, subscribers(&catalog, &p.name)))
            .collect(),
    ))
}

async fn get_subscription_policy(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<AdminSubscriptionPolicyDto>, ApiError> {
    let catalog = state.control.snapshot();
    let p = catalog
        .subscription_policy(&id)
        .ok_or_else(|| ApiError::not_found("subscription policy", &id))?;
    Ok(axum::Json(AdminSubscriptionPolicyDto::from_policy(
        p,
        subscribers(&catalog, &p.name),
    )))
}

async fn add_subscription_policy(
    State(state): State<AppState>,
    Json(body): Json<PolicyIn>,
) -> Result<Response, ApiError> {
    let policy = body.into_subscription_policy()?;
    let policy = state.control.add_subscription_policy(policy).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(AdminSubscriptionPolicyDto::from_policy(&policy, 0)),
    )
        .into_response())
}

async fn list_application_policies(
    State(state): State<AppState>,
) -> axum::Json<ListDto<AdminApplicationPolicyDto>> {
    let catalog = state.control.snapshot();
    axum::Json(ListDto::new(
        catalog
            .application_policies
            .iter()
            .map(AdminApplicationPolicyDto::from_policy)
            .collect(),
    ))
}

async fn get_application_policy(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<AdminApplicationPolicyDto>, ApiError> {
    let catalog = state.control.snapshot();
    let p = catalog
        .application_policies
        .iter()
        .find(|p| p.name == id)
        .ok_or_else(|| ApiError::not_found("application policy", &id))?;
    Ok(axum::Json(AdminApplicationPolicyDto::from_policy(p)))
}

async fn add_application_policy(
    State(state): State<AppState>,
    Json(body): Json<PolicyIn>,
) -> Result<Response, ApiError> {
    let policy = body.into_application_policy()?;
    let policy = state.control.add_application_policy(policy).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(AdminApplicationPolicyDto::from_policy(&policy)),
    )
        .into_response())
}

async fn environments(State(state): State<AppState>) -> axum::Json<ListDto<EnvironmentDto>> {
    super::environment_list(&state, EnvironmentDto::for_admin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> PolicyIn {
        serde_json::from_str(json).expect("test body")
    }

    #[test]
    fn a_custom_plan_counts_events_per_window() {
        let p = policy(
            r#"{"policyName":"AsyncTiny","defaultLimit":{"type":"EVENTCOUNTLIMIT",
               "eventCount":{"eventCount":10,"timeUnit":"min","unitTime":2}}}"#,
        )
        .into_subscription_policy()
        .expect("valid");
        assert_eq!(
            p.quota,
            Quota::Events {
                count: 10,
                unit: TimeUnit::Min,
                unit_time: 2
            }
        );
        assert_eq!(p.display_name, "AsyncTiny");
    }

    #[test]
    fn wrong_limits_name_their_field() {
        let cases = [
            (r#"{"defaultLimit":{}}"#, "policyName:"),
            (r#"{"policyName":"X"}"#, "defaultLimit:"),
            (
                r#"{"policyName":"X","defaultLimit":{"type":"REQUESTCOUNTLIMIT"}}"#,
                "defaultLimit.type:",
            ),
            (
                r#"{"policyName":"X","defaultLimit":{"eventCount":{"eventCount":1,"timeUnit":"week"}}}"#,
                "defaultLimit.eventCount.timeUnit:",
            ),
        ];
        for (json, prefix) in cases {
            let err = policy(json).into_subscription_policy().expect_err(json);
            assert!(err.description.starts_with(prefix), "{json}: {err}");
        }
        let err = policy(
            r#"{"policyName":"X","defaultLimit":{"requestCount":{"requestCount":5,"timeUnit":"hour"}}}"#,
        )
        .into_application_policy()
        .expect_err("per hour");
        assert!(err.description.contains("per minute"), "{err}");
    }
}
