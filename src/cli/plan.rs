//! `streamgate plan ...`: business plans and application policies through the Admin API.

use super::CliError;
use super::client::{Client, admin};
use super::output::{Output, object, table};
use crate::mgmt::dto::*;

/// `streamgate plan ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum PlanCommand {
    /// List business plans and application policies.
    List,
    /// Create a business plan: N events per window, delivery stops at the quota.
    Create {
        /// The plan's name, e.g. AsyncTiny.
        name: String,
        /// Events allowed per window.
        #[arg(long)]
        events: u64,
        /// The window's unit: min, hour, day or month.
        #[arg(long, default_value = "day")]
        per: String,
        /// Units per window.
        #[arg(long, default_value_t = 1)]
        unit_time: u32,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
    },
    /// Create an application policy: N connection requests per minute.
    CreateApp {
        /// The policy's name, e.g. 30PerMin.
        name: String,
        /// Requests allowed per minute.
        #[arg(long)]
        per_minute: u64,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
    },
}

/// Runs one `streamgate plan ...` subcommand.
pub(super) async fn run(client: &Client, cmd: PlanCommand) -> Result<Output, CliError> {
    match cmd {
        PlanCommand::List => list(client).await,
        PlanCommand::Create {
            name,
            events,
            per,
            unit_time,
            description,
        } => create(client, name, events, per, unit_time, description).await,
        PlanCommand::CreateApp {
            name,
            per_minute,
            description,
        } => create_app(client, name, per_minute, description).await,
    }
}

/// `streamgate plan list`: list business plans and application policies.
pub(super) async fn list(client: &Client) -> Result<Output, CliError> {
    let (plans, plans_json) = client
        .get::<ListDto<AdminSubscriptionPolicyDto>>(
            &admin("/throttling/policies/subscription"),
            &[],
        )
        .await?;
    let (apps, apps_json) = client
        .get::<ListDto<AdminApplicationPolicyDto>>(&admin("/throttling/policies/application"), &[])
        .await?;
    let plan_rows: Vec<Vec<String>> = plans
        .list
        .iter()
        .map(|p| {
            vec![
                p.policy_name.clone(),
                describe_events(&p.default_limit),
                if p.built_in { "built-in" } else { "custom" }.to_string(),
                p.subscriber_count.to_string(),
            ]
        })
        .collect();
    let app_rows: Vec<Vec<String>> = apps
        .list
        .iter()
        .map(|p| {
            vec![
                p.policy_name.clone(),
                describe_events(&p.default_limit),
                if p.built_in { "built-in" } else { "custom" }.to_string(),
            ]
        })
        .collect();
    Ok(Output {
        human: format!(
            "Business plans (events delivered per subscription):\n{}\nApplication policies (connection requests per application):\n{}",
            table(&["PLAN", "QUOTA", "KIND", "SUBSCRIPTIONS"], &plan_rows),
            table(&["POLICY", "RATE", "KIND"], &app_rows)
        ),
        quiet: plans
            .list
            .iter()
            .map(|p| p.policy_name.clone())
            .collect::<Vec<_>>()
            .join("\n"),
        json: object([
            ("subscriptionPolicies", plans_json),
            ("applicationPolicies", apps_json),
        ]),
        warnings: Vec::new(),
    })
}

/// `streamgate plan create`: create a business plan: N events per window, delivery stops at the quota.
pub(super) async fn create(
    client: &Client,
    name: String,
    events: u64,
    per: String,
    unit_time: u32,
    description: Option<String>,
) -> Result<Output, CliError> {
    let body = PolicyIn {
        policy_name: Some(name.clone()),
        display_name: Some(name),
        description,
        default_limit: Some(LimitIn {
            limit_type: Some("EVENTCOUNTLIMIT".to_string()),
            event_count: Some(EventCountIn {
                event_count: Some(events),
                time_unit: Some(per),
                unit_time: Some(unit_time),
            }),
            request_count: None,
        }),
        stop_on_quota_reach: Some(true),
    };
    let (plan, value) = client
        .post::<AdminSubscriptionPolicyDto>(
            &admin("/throttling/policies/subscription"),
            &[],
            Some(&body),
        )
        .await?;
    Ok(Output {
        human: format!(
            "Created business plan {}: {}\n",
            plan.policy_name,
            describe_events(&plan.default_limit)
        ),
        quiet: plan.policy_name,
        json: value,
        warnings: Vec::new(),
    })
}

/// `streamgate plan create-app`: create an application policy: N connection requests per minute.
pub(super) async fn create_app(
    client: &Client,
    name: String,
    per_minute: u64,
    description: Option<String>,
) -> Result<Output, CliError> {
    let body = PolicyIn {
        policy_name: Some(name.clone()),
        display_name: Some(name),
        description,
        default_limit: Some(LimitIn {
            limit_type: Some("REQUESTCOUNTLIMIT".to_string()),
            event_count: None,
            request_count: Some(RequestCountIn {
                request_count: Some(per_minute),
                time_unit: Some("min".to_string()),
                unit_time: Some(1),
            }),
        }),
        stop_on_quota_reach: None,
    };
    let (policy, value) = client
        .post::<AdminApplicationPolicyDto>(
            &admin("/throttling/policies/application"),
            &[],
            Some(&body),
        )
        .await?;
    Ok(Output {
        human: format!(
            "Created application policy {}: {}\n",
            policy.policy_name,
            describe_events(&policy.default_limit)
        ),
        quiet: policy.policy_name,
        json: value,
        warnings: Vec::new(),
    })
}

/// A plan's limit for people: "N events / 1 min", "unlimited".
fn describe_events(limit: &ThrottleLimitDto) -> String {
    match (&limit.event_count, &limit.request_count) {
        (Some(e), _) if e.event_count >= UNLIMITED_COUNT => "unlimited".to_string(),
        (Some(e), _) => format!("{} events / {} {}", e.event_count, e.unit_time, e.time_unit),
        (_, Some(r)) if r.request_count >= UNLIMITED_COUNT => "unlimited".to_string(),
        (_, Some(r)) => format!(
            "{} requests / {} {}",
            r.request_count, r.unit_time, r.time_unit
        ),
        _ => "-".to_string(),
    }
}
