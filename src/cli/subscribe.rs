//! `streamgate subscribe` and `streamgate unsubscribe`: subscriptions through the Developer
//! Portal API.

use reqwest::Method;
use serde_json::Value;

use super::CliError;
use super::client::{Client, NO_BODY, devportal};
use super::output::{Output, handle_of, object};
use crate::mgmt::dto::*;

/// `streamgate subscribe`: subscribe an application to an API under one of its plans.
pub(super) async fn subscribe(
    client: &Client,
    app: String,
    api: String,
    plan: Option<String>,
) -> Result<Output, CliError> {
    let app = client.resolve_app(&app).await?;
    let api = client.resolve_api(&api).await?;
    let body = SubscriptionIn {
        application_id: Some(app.application_id.clone()),
        api_id: Some(api.id.clone()),
        throttling_policy: plan,
    };
    let (sub, value) = client
        .post::<SubscriptionDto>(&devportal("/subscriptions"), &[], Some(&body))
        .await?;
    Ok(Output {
        human: format!(
            "Subscribed {} to {} under {} (subscription {}, {})\n",
            app.name,
            handle_of(&api.name, &api.version),
            sub.throttling_policy,
            sub.subscription_id,
            sub.status
        ),
        quiet: sub.subscription_id,
        json: value,
        warnings: Vec::new(),
    })
}

/// `streamgate unsubscribe`: remove an application's subscription to an API.
pub(super) async fn unsubscribe(
    client: &Client,
    app: String,
    api: String,
) -> Result<Output, CliError> {
    let app = client.resolve_app(&app).await?;
    let api = client.resolve_api(&api).await?;
    let (subs, _) = client
        .get::<ListDto<SubscriptionDto>>(
            &devportal("/subscriptions"),
            &[("applicationId", &app.application_id), ("apiId", &api.id)],
        )
        .await?;
    let sub = subs.list.into_iter().next().ok_or_else(|| {
        CliError::Usage(format!(
            "{} is not subscribed to {}",
            app.name,
            handle_of(&api.name, &api.version)
        ))
    })?;
    client
        .send(
            Method::DELETE,
            &devportal(&format!("/subscriptions/{}", sub.subscription_id)),
            &[],
            NO_BODY,
        )
        .await?;
    Ok(Output {
        human: format!(
            "Removed the subscription of {} to {}\n",
            app.name,
            handle_of(&api.name, &api.version)
        ),
        quiet: sub.subscription_id.clone(),
        json: object([
            ("subscriptionId", Value::from(sub.subscription_id)),
            ("deleted", Value::from(true)),
        ]),
        warnings: Vec::new(),
    })
}
