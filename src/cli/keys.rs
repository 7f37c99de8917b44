//! `streamgate keys ...` and `streamgate token`: consumer keys and access tokens through
//! the Developer Portal API.

use std::fmt::Write as _;

use serde_json::Value;

use super::CliError;
use super::client::{Client, NO_BODY, devportal, shell_word};
use super::output::{Output, table};
use crate::mgmt::dto::*;

/// `streamgate keys ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeysCommand {
    /// Generate the consumer key and secret (shown once) and a first token.
    Generate {
        /// The application (id or name).
        app: String,
        /// PRODUCTION or SANDBOX.
        #[arg(long, default_value = "PRODUCTION")]
        key_type: String,
        /// Validity of the first token in seconds.
        #[arg(long, default_value_t = 3600)]
        validity: i64,
    },
    /// List an application's keys (without secrets).
    List {
        /// The application (id or name).
        app: String,
    },
    /// Replace a consumer secret (the old one stops working).
    Regenerate {
        /// The application (id or name).
        app: String,
        /// PRODUCTION or SANDBOX.
        #[arg(long, default_value = "PRODUCTION")]
        key_type: String,
    },
}

/// Runs one `streamgate keys ...` subcommand.
pub(super) async fn run(client: &Client, cmd: KeysCommand) -> Result<Output, CliError> {
    match cmd {
        KeysCommand::Generate {
            app,
            key_type,
            validity,
        } => generate(client, app, key_type, validity).await,
        KeysCommand::List { app } => list(client, app).await,
        KeysCommand::Regenerate { app, key_type } => regenerate(client, app, key_type).await,
    }
}

/// `streamgate keys generate`: generate the consumer key and secret (shown once) and a first token.
pub(super) async fn generate(
    client: &Client,
    app: String,
    key_type: String,
    validity: i64,
) -> Result<Output, CliError> {
    let app = client.resolve_app(&app).await?;
    let body = KeyGenerateIn {
        key_type: Some(key_type.to_ascii_uppercase()),
        grant_types_to_be_supported: Some(GRANT_TYPES.iter().map(|g| g.to_string()).collect()),
        validity_time: Some(Value::from(validity.to_string())),
    };
    let (key, value) = client
        .post::<ApplicationKeyDto>(
            &devportal(&format!(
                "/applications/{}/generate-keys",
                app.application_id
            )),
            &[],
            Some(&body),
        )
        .await?;
    let secret = key.consumer_secret.clone().unwrap_or_default();
    let mut human = format!(
        "Generated {} keys for {}\n  consumer key:    {}\n  consumer secret: {}\n",
        key.key_type, app.name, key.consumer_key, secret
    );
    if let Some(token) = &key.token {
        let _ = writeln!(
            human,
            "  access token (valid {} s):\n{}",
            token.validity_time, token.access_token
        );
    }
    Ok(Output {
        human,
        quiet: format!("{}:{}", key.consumer_key, secret),
        json: value,
        warnings: vec!["the consumer secret is shown only now; it is stored hashed".to_string()],
    })
}

/// `streamgate keys list`: list an application's keys (without secrets).
pub(super) async fn list(client: &Client, app: String) -> Result<Output, CliError> {
    let app = client.resolve_app(&app).await?;
    let (keys, value) = client
        .get::<ListDto<ApplicationKeyDto>>(
            &devportal(&format!("/applications/{}/oauth-keys", app.application_id)),
            &[],
        )
        .await?;
    let rows: Vec<Vec<String>> = keys
        .list
        .iter()
        .map(|k| {
            vec![
                k.key_type.clone(),
                k.consumer_key.clone(),
                k.key_mapping_id.clone(),
                k.supported_grant_types.join(","),
            ]
        })
        .collect();
    Ok(Output {
        human: if rows.is_empty() {
            format!(
                "{} has no keys: run `streamgate keys generate {}`\n",
                app.name,
                shell_word(&app.name)
            )
        } else {
            table(&["TYPE", "CONSUMER KEY", "KEY MAPPING ID", "GRANTS"], &rows)
        },
        quiet: keys
            .list
            .iter()
            .map(|k| k.consumer_key.clone())
            .collect::<Vec<_>>()
            .join("\n"),
        json: value,
        warnings: Vec::new(),
    })
}

/// `streamgate keys regenerate`: replace a consumer secret (the old one stops working).
pub(super) async fn regenerate(
    client: &Client,
    app: String,
    key_type: String,
) -> Result<Output, CliError> {
    let app = client.resolve_app(&app).await?;
    let key = client.key_of(&app, &key_type).await?;
    let (regen, value) = client
        .post::<RegeneratedSecretDto>(
            &devportal(&format!(
                "/applications/{}/oauth-keys/{}/regenerate-secret",
                app.application_id, key.key_mapping_id
            )),
            &[],
            NO_BODY,
        )
        .await?;
    Ok(Output {
        human: format!(
            "New {} consumer secret for {}\n  consumer key:    {}\n  consumer secret: {}\n",
            key.key_type, app.name, regen.consumer_key, regen.consumer_secret
        ),
        quiet: format!("{}:{}", regen.consumer_key, regen.consumer_secret),
        json: value,
        warnings: vec!["the old secret no longer works; the new one is shown only now".to_string()],
    })
}

/// `streamgate token`: issue an access token for an application (prints just the token with --quiet).
pub(super) async fn token(
    client: &Client,
    app: String,
    key_type: String,
    validity: i64,
) -> Result<Output, CliError> {
    let app = client.resolve_app(&app).await?;
    let key = client.key_of(&app, &key_type).await?;
    let (token, value) = client
        .post::<ApplicationTokenDto>(
            &devportal(&format!(
                "/applications/{}/oauth-keys/{}/generate-token",
                app.application_id, key.key_mapping_id
            )),
            &[],
            Some(&TokenGenerateIn {
                validity_period: Some(Value::from(validity)),
                scopes: Some(vec!["default".to_string()]),
                ..TokenGenerateIn::default()
            }),
        )
        .await?;
    Ok(Output {
        human: format!(
            "Access token for {} ({}), valid {} s:\n{}\n",
            app.name, key.key_type, token.validity_time, token.access_token
        ),
        quiet: token.access_token,
        json: value,
        warnings: Vec::new(),
    })
}
