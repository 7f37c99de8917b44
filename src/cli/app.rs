//! `streamgate app ...`: applications through the Developer Portal API.

use std::fmt::Write as _;

use reqwest::Method;
use serde_json::Value;

use super::CliError;
use super::client::{Client, NO_BODY, devportal};
use super::output::{Output, handle_of, object};
use crate::mgmt::dto::*;

/// `streamgate app ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AppCommand {
    /// Create an application.
    Create {
        /// Its name.
        name: String,
        /// Application policy: 10PerMin, 20PerMin, 50PerMin, Unlimited or a custom one.
        #[arg(long, default_value = "Unlimited")]
        policy: String,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List applications.
    List,
    /// Show an application with its keys and subscriptions.
    Show {
        /// The application (id or name).
        app: String,
    },
    /// Change an application's name, policy or description (the ones given).
    Update {
        /// The application (id or name).
        app: String,
        /// Its new name.
        #[arg(long)]
        name: Option<String>,
        /// Its new application policy.
        #[arg(long)]
        policy: Option<String>,
        /// Its new description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete an application with its subscriptions and keys.
    Delete {
        /// The application (id or name).
        app: String,
    },
}

/// Runs one `streamgate app ...` subcommand.
pub(super) async fn run(client: &Client, cmd: AppCommand) -> Result<Output, CliError> {
    match cmd {
        AppCommand::Create {
            name,
            policy,
            description,
        } => create(client, name, policy, description).await,
        AppCommand::List => list(client).await,
        AppCommand::Show { app } => show(client, app).await,
        AppCommand::Update {
            app,
            name,
            policy,
            description,
        } => update(client, app, name, policy, description).await,
        AppCommand::Delete { app } => delete(client, app).await,
    }
}

/// `streamgate app create`: create an application.
pub(super) async fn create(
    client: &Client,
    name: String,
    policy: String,
    description: String,
) -> Result<Output, CliError> {
    let body = ApplicationIn {
        name: Some(name),
        throttling_policy: Some(policy),
        description: Some(description),
        token_type: Some("JWT".to_string()),
    };
    let (app, value) = client
        .post::<ApplicationDto>(&devportal("/applications"), &[], Some(&body))
        .await?;
    Ok(Output {
        human: format!(
            "Created application {} (id {}) with policy {}\n",
            app.name, app.application_id, app.throttling_policy
        ),
        quiet: app.application_id,
        json: value,
        warnings: Vec::new(),
    })
}

/// `streamgate app list`: list applications.
pub(super) async fn list(client: &Client) -> Result<Output, CliError> {
    let (list, value) = client
        .get::<ListDto<ApplicationInfoDto>>(&devportal("/applications"), &[("limit", "100000")])
        .await?;
    let rows: Vec<Vec<String>> = list
        .list
        .iter()
        .map(|a| {
            vec![
                a.application_id.clone(),
                a.name.clone(),
                a.owner.clone(),
                a.throttling_policy.clone(),
                a.subscription_count.to_string(),
            ]
        })
        .collect();
    Ok(Output::listing(
        value,
        &["ID", "NAME", "OWNER", "POLICY", "SUBSCRIPTIONS"],
        &rows,
        "No applications yet: create one with `streamgate app create NAME`",
    ))
}

/// `streamgate app show`: show an application with its keys and subscriptions.
pub(super) async fn show(client: &Client, app: String) -> Result<Output, CliError> {
    let info = client.resolve_app(&app).await?;
    let (app, value) = client
        .get::<ApplicationDto>(
            &devportal(&format!("/applications/{}", info.application_id)),
            &[],
        )
        .await?;
    let (subs, _) = client
        .get::<ListDto<SubscriptionDto>>(
            &devportal("/subscriptions"),
            &[("applicationId", &app.application_id)],
        )
        .await?;
    let mut human = String::new();
    let _ = writeln!(human, "{}", app.name);
    let _ = writeln!(human, "  id:       {}", app.application_id);
    let _ = writeln!(human, "  policy:   {}", app.throttling_policy);
    let _ = writeln!(human, "  token:    {}", app.token_type);
    for k in &app.keys {
        let _ = writeln!(
            human,
            "  {} key: {} (keyMappingId {})",
            k.key_type, k.consumer_key, k.key_mapping_id
        );
    }
    if app.keys.is_empty() {
        let _ = writeln!(human, "  keys:     none");
    }
    for s in &subs.list {
        let api = s
            .api_info
            .as_ref()
            .map_or_else(|| s.api_id.clone(), |a| handle_of(&a.name, &a.version));
        let _ = writeln!(
            human,
            "  subscribed to {api} under {} ({})",
            s.throttling_policy, s.status
        );
    }
    Ok(Output {
        human,
        quiet: app.application_id,
        json: value,
        warnings: Vec::new(),
    })
}

/// `streamgate app update`: `PUT /applications/{id}` with the fields given.
pub(super) async fn update(
    client: &Client,
    app: String,
    name: Option<String>,
    policy: Option<String>,
    description: Option<String>,
) -> Result<Output, CliError> {
    if name.is_none() && policy.is_none() && description.is_none() {
        return Err(CliError::Usage(
            "app update needs --name, --policy or --description".to_string(),
        ));
    }
    let info = client.resolve_app(&app).await?;
    let body = ApplicationIn {
        name,
        throttling_policy: policy,
        description,
        token_type: None,
    };
    let value = client
        .send(
            Method::PUT,
            &devportal(&format!("/applications/{}", info.application_id)),
            &[],
            Some(&body),
        )
        .await?;
    let app: ApplicationDto = serde_json::from_value(value.clone())
        .map_err(|e| CliError::BadAnswer(format!("the updated application: {e}")))?;
    Ok(Output {
        human: format!(
            "Updated application {} (id {}) with policy {}\n",
            app.name, app.application_id, app.throttling_policy
        ),
        quiet: app.application_id,
        json: value,
        warnings: Vec::new(),
    })
}

/// `streamgate app delete`: delete an application with its subscriptions and keys.
pub(super) async fn delete(client: &Client, app: String) -> Result<Output, CliError> {
    let info = client.resolve_app(&app).await?;
    client
        .send(
            Method::DELETE,
            &devportal(&format!("/applications/{}", info.application_id)),
            &[],
            NO_BODY,
        )
        .await?;
    Ok(Output {
        human: format!("Deleted application {}\n", info.name),
        quiet: info.application_id.clone(),
        json: object([
            ("applicationId", Value::from(info.application_id)),
            ("deleted", Value::from(true)),
        ]),
        warnings: Vec::new(),
    })
}
