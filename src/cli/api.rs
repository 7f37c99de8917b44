//! `streamgate api ...`: design, publish and deploy APIs through the Publisher API.

use std::fmt::Write as _;

use reqwest::Method;
use serde_json::Value;

use super::client::{Client, NO_BODY, devportal, parse, publisher};
use super::output::{Output, handle_of, object};
use super::{CliError, DEFAULT_ENVIRONMENT};
use crate::catalog::ApiDraft;
use crate::mgmt::dto::*;

mod revisions;
use revisions::{deploy, deployments, revisions, undeploy};

/// `streamgate api ...`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ApiCommand {
    /// Create an SSE API (state CREATED).
    Create(Box<ApiCreateArgs>),
    /// List APIs (a subscriber: the Dev Portal's published APIs).
    List,
    /// Show an API with its plans, revisions and deployments.
    Show {
        /// The API (id or Name:version).
        api: String,
    },
    /// Update an API's CORS configuration (`corsConfiguration`) or backend stream mode.
    Update {
        /// The API (id or Name:version).
        api: String,
        /// The CORS settings to set.
        #[command(flatten)]
        cors: CorsArgs,
        /// Backend stream: per-client (each client its own backend connection) or shared
        /// (one backend stream feeds every subscriber); served from the next revision
        /// deployed.
        #[arg(long, value_name = "MODE")]
        backend_stream: Option<String>,
    },
    /// Set the business plans an API offers.
    Plans {
        /// The API (id or Name:version).
        api: String,
        /// Plan names, e.g. AsyncGold.
        #[arg(required = true)]
        plans: Vec<String>,
    },
    /// Apply a lifecycle action: Publish, "Deploy as a Prototype", "Demote to Created",
    /// Block, Re-Publish, Deprecate, Retire.
    Lifecycle {
        /// The API (id or Name:version).
        api: String,
        /// The action.
        action: String,
    },
    /// Deploy New Revision (or, with --revision, an existing one) to a gateway environment.
    Deploy {
        /// The API (id or Name:version).
        api: String,
        /// The gateway environment.
        #[arg(long, default_value = DEFAULT_ENVIRONMENT)]
        env: String,
        /// The environment's vhost.
        #[arg(long, default_value = "localhost")]
        vhost: String,
        /// Deploy this existing revision (id, "Revision N" or N) instead of a new one.
        #[arg(long)]
        revision: Option<String>,
        /// Hide the gateway URL from the Developer Portal.
        #[arg(long)]
        hide_on_devportal: bool,
    },
    /// Undeploy a revision from an environment (or from all).
    Undeploy {
        /// The API (id or Name:version).
        api: String,
        /// The revision (id, "Revision N" or N).
        revision: String,
        /// Only from this environment.
        #[arg(long)]
        env: Option<String>,
    },
    /// List deployments (of one API, or of all).
    Deployments {
        /// The API (id or Name:version).
        api: Option<String>,
    },
    /// List an API's revisions.
    Revisions {
        /// The API (id or Name:version).
        api: String,
    },
    /// Print an API's AsyncAPI document.
    Asyncapi {
        /// The API (id or Name:version).
        api: String,
    },
    /// Delete an API (refused while it has subscriptions).
    Delete {
        /// The API (id or Name:version).
        api: String,
    },
}

/// The options of `streamgate api create`.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiCreateArgs {
    /// Name, e.g. Observer.
    #[arg(long)]
    pub name: String,
    /// Context, e.g. /observer.
    #[arg(long)]
    pub context: String,
    /// Version, e.g. 1.0.0.
    #[arg(long)]
    pub version: String,
    /// Backend URL for both production and sandbox, e.g. http://localhost:8080.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Production backend URL (overrides --endpoint).
    #[arg(long)]
    pub production_endpoint: Option<String>,
    /// Sandbox backend URL (overrides --endpoint).
    #[arg(long)]
    pub sandbox_endpoint: Option<String>,
    /// Business plans (repeatable; default AsyncUnlimited).
    #[arg(long = "plan")]
    pub plans: Vec<String>,
    /// Subscribe-only topics (repeatable; default /*).
    #[arg(long = "topic")]
    pub topics: Vec<String>,
    /// Free text.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Per-API CORS (`corsConfiguration`).
    #[command(flatten)]
    pub cors: CorsArgs,
    /// Backend stream: per-client (the default: each client its own backend connection)
    /// or shared (one backend stream feeds every subscriber, with Last-Event-ID replay).
    #[arg(long, value_name = "MODE")]
    pub backend_stream: Option<String>,
}

/// The CORS flags of `api create` / `api update`: WSO2's `APICorsConfiguration`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CorsArgs {
    /// Enforce this API's CORS configuration (else the gateway's default: any origin,
    /// no credentials).
    #[arg(long)]
    pub cors_enabled: bool,
    /// An allowed origin, `scheme://host[:port]` or `*` (repeatable).
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// Allow credentials (cookies, `withCredentials`); needs explicit origins.
    #[arg(long)]
    pub cors_credentials: bool,
    /// A request header a preflight may ask for (repeatable).
    #[arg(long = "cors-header", value_name = "NAME")]
    pub cors_headers: Vec<String>,
    /// A method a preflight may ask for (repeatable).
    #[arg(long = "cors-method", value_name = "M")]
    pub cors_methods: Vec<String>,
}

impl CorsArgs {
    /// Whether any CORS flag was given.
    pub fn given(&self) -> bool {
        self.cors_enabled
            || self.cors_credentials
            || !self.cors_origins.is_empty()
            || !self.cors_headers.is_empty()
            || !self.cors_methods.is_empty()
    }

    /// The `corsConfiguration` these flags describe, or `None` when none was given.
    pub fn configuration(&self) -> Option<crate::catalog::CorsConfiguration> {
        self.given().then(|| crate::catalog::CorsConfiguration {
            cors_configuration_enabled: self.cors_enabled,
            access_control_allow_origins: self.cors_origins.clone(),
            access_control_allow_credentials: self.cors_credentials,
            access_control_allow_headers: self.cors_headers.clone(),
            access_control_allow_methods: self.cors_methods.clone(),
        })
    }
}

/// The API body the CLI sends for a draft: WSO2's `API` shape (type `SSE`, an `http`
/// `endpointConfig`, topics as `SUBSCRIBE` operations).
pub fn api_body(draft: &ApiDraft) -> ApiIn {
    let endpoint_config = EndpointConfig {
        endpoint_type: "http".to_string(),
        production_endpoints: draft
            .production_endpoint
            .clone()
            .map(|url| EndpointUrl { url }),
        sandbox_endpoints: draft
            .sandbox_endpoint
            .clone()
            .map(|url| EndpointUrl { url }),
    };
    ApiIn {
        name: Some(draft.name.clone()),
        context: Some(draft.context.clone()),
        version: Some(draft.version.clone()),
        description: Some(draft.description.clone()),
        api_type: Some("SSE".to_string()),
        policies: (!draft.policies.is_empty()).then(|| draft.policies.clone()),
        endpoint_config: serde_json::to_value(endpoint_config).ok(),
        operations: (!draft.topics.is_empty()).then(|| {
            draft
                .topics
                .iter()
                .map(|t| OperationIn {
                    target: t.clone(),
                    verb: Some("SUBSCRIBE".to_string()),
                })
                .collect()
        }),
        provider: None,
        cors_configuration: None,
        backend_stream: None,
    }
}

/// Runs one `streamgate api ...` subcommand.
pub(super) async fn run(client: &Client, cmd: ApiCommand) -> Result<Output, CliError> {
    match cmd {
        ApiCommand::Create(args) => create(client, *args).await,
        ApiCommand::List => list(client).await,
        ApiCommand::Show { api } => show(client, api).await,
        ApiCommand::Update {
            api,
            cors,
            backend_stream,
        } => update(client, api, cors, backend_stream).await,
        ApiCommand::Plans { api, plans } => set_plans(client, api, plans).await,
        ApiCommand::Lifecycle { api, action } => lifecycle(client, api, action).await,
        ApiCommand::Deploy {
            api,
            env,
            vhost,
            revision,
            hide_on_devportal,
        } => deploy(client, api, env, vhost, revision, hide_on_devportal).await,
        ApiCommand::Undeploy { api, revision, env } => undeploy(client, api, revision, env).await,
        ApiCommand::Deployments { api } => deployments(client, api).await,
        ApiCommand::Revisions { api } => revisions(client, api).await,
        ApiCommand::Asyncapi { api } => asyncapi(client, api).await,
        ApiCommand::Delete { api } => delete(client, api).await,
    }
}

/// `streamgate api create`: create an SSE API (state CREATED).
pub(super) async fn create(client: &Client, args: ApiCreateArgs) -> Result<Output, CliError> {
    let ApiCreateArgs {
        name,
        context,
        version,
        endpoint,
        production_endpoint,
        sandbox_endpoint,
        plans,
        topics,
        description,
        cors,
        backend_stream,
    } = args;
    let production = production_endpoint.or_else(|| endpoint.clone());
    let sandbox = sandbox_endpoint.or(endpoint);
    if production.is_none() && sandbox.is_none() {
        return Err(CliError::Usage(
            "give the backend with --endpoint URL (or --production-endpoint / --sandbox-endpoint)"
                .to_string(),
        ));
    }
    let mut body = api_body(&ApiDraft {
        name,
        context,
        version,
        description,
        production_endpoint: production,
        sandbox_endpoint: sandbox,
        policies: plans,
        topics,
    });
    body.cors_configuration = cors.configuration();
    body.backend_stream = backend_stream;
    let (api, value) = client
        .post::<ApiDto>(&publisher("/apis"), &[], Some(&body))
        .await?;
    Ok(Output {
        human: format!(
            "Created API {} (id {}): context {}, state {}, plans {}\n",
            handle_of(&api.name, &api.version),
            api.id,
            api.context,
            api.lifecycle_status,
            api.policies.join(", ")
        ),
        quiet: api.id,
        json: value,
        warnings: Vec::new(),
    })
}

/// What `api list` says above the Dev Portal's list, shown to a caller the Publisher's
/// list refuses (a subscriber).
const PORTAL_LIST_NOTE: &str =
    "Published APIs from the Dev Portal (the full list needs creator or publisher):";

/// `streamgate api list`: list APIs. A caller without the Publisher's scopes (a
/// subscriber) gets the Developer Portal's list instead: the APIs they can subscribe to.
pub(super) async fn list(client: &Client) -> Result<Output, CliError> {
    let (list, value) = match client
        .get::<ListDto<ApiInfoDto>>(&publisher("/apis"), &[("limit", "100000")])
        .await
    {
        // Refused there too: the first refusal says which scopes the Publisher's needs.
        Err(refused @ CliError::Refused { status: 403, .. }) => {
            return match portal_list(client).await {
                Err(CliError::Refused { .. }) => Err(refused),
                answer => answer,
            };
        }
        answer => answer?,
    };
    let rows: Vec<Vec<String>> = list
        .list
        .iter()
        .map(|a| {
            vec![
                a.id.clone(),
                handle_of(&a.name, &a.version),
                a.context.clone(),
                a.lifecycle_status.clone(),
            ]
        })
        .collect();
    Ok(Output::listing(
        value,
        &["ID", "API", "CONTEXT", "STATE"],
        &rows,
        "No APIs yet: create one with `streamgate api create`",
    ))
}

/// The Developer Portal's APIs (`GET /api/am/devportal/v3/apis`), under a note saying so.
async fn portal_list(client: &Client) -> Result<Output, CliError> {
    let (list, value) = client
        .get::<ListDto<PortalApiInfoDto>>(&devportal("/apis"), &[("limit", "100000")])
        .await?;
    let rows: Vec<Vec<String>> = list
        .list
        .iter()
        .map(|a| {
            vec![
                a.id.clone(),
                handle_of(&a.name, &a.version),
                a.context.clone(),
                a.lifecycle_status.clone(),
                a.throttling_policies.join(","),
            ]
        })
        .collect();
    let mut out = Output::listing(
        value,
        &["ID", "API", "CONTEXT", "STATE", "PLANS"],
        &rows,
        "No published APIs yet.",
    );
    out.human = format!("{PORTAL_LIST_NOTE}\n{}", out.human);
    Ok(out)
}

/// `streamgate api show`: show an API with its plans, revisions and deployments.
pub(super) async fn show(client: &Client, api: String) -> Result<Output, CliError> {
    let info = client.resolve_api(&api).await?;
    let (api, value) = client
        .get::<ApiDto>(&publisher(&format!("/apis/{}", info.id)), &[])
        .await?;
    let (revs, _) = client
        .get::<ListDto<RevisionDto>>(&publisher(&format!("/apis/{}/revisions", api.id)), &[])
        .await?;
    let mut human = String::new();
    let _ = writeln!(human, "{}", handle_of(&api.name, &api.version));
    let _ = writeln!(human, "  id:          {}", api.id);
    let _ = writeln!(human, "  context:     {}", api.context);
    let _ = writeln!(human, "  state:       {}", api.lifecycle_status);
    let _ = writeln!(human, "  plans:       {}", api.policies.join(", "));
    let endpoint = |e: &Option<crate::mgmt::dto::EndpointUrl>| {
        e.as_ref().map_or("-".to_string(), |e| e.url.clone())
    };
    let _ = writeln!(
        human,
        "  production:  {}",
        endpoint(&api.endpoint_config.production_endpoints)
    );
    let _ = writeln!(
        human,
        "  sandbox:     {}",
        endpoint(&api.endpoint_config.sandbox_endpoints)
    );
    let topics: Vec<&str> = api.operations.iter().map(|o| o.target.as_str()).collect();
    let _ = writeln!(human, "  topics:      {}", topics.join(", "));
    let _ = writeln!(
        human,
        "  cors:        {}",
        cors_summary(&api.cors_configuration)
    );
    let _ = writeln!(human, "  backend:     {} stream", api.backend_stream);
    if !api.description.is_empty() {
        let _ = writeln!(human, "  description: {}", api.description);
    }
    if revs.list.is_empty() {
        let _ = writeln!(human, "  revisions:   none");
    }
    for rev in &revs.list {
        let deployed: Vec<String> = rev
            .deployment_info
            .iter()
            .map(|d| format!("{} ({})", d.name, d.vhost))
            .collect();
        let _ = writeln!(
            human,
            "  {}: {}{}",
            rev.display_name,
            rev.id,
            if deployed.is_empty() {
                String::new()
            } else {
                format!(", deployed to {}", deployed.join(", "))
            }
        );
    }
    Ok(Output {
        human,
        quiet: api.id,
        json: value,
        warnings: Vec::new(),
    })
}

/// `streamgate api update`: set an API's CORS configuration and/or backend stream mode.
pub(super) async fn update(
    client: &Client,
    api: String,
    cors: CorsArgs,
    backend_stream: Option<String>,
) -> Result<Output, CliError> {
    let cors = cors.configuration();
    if cors.is_none() && backend_stream.is_none() {
        return Err(CliError::Usage(
            "nothing to update: give --cors-enabled, --cors-origin, --cors-credentials, \
             --cors-header, --cors-method or --backend-stream"
                .to_string(),
        ));
    }
    let info = client.resolve_api(&api).await?;
    let path = publisher(&format!("/apis/{}", info.id));
    let cors_given = cors.is_some();
    let mode_given = backend_stream.is_some();
    let body = ApiIn {
        cors_configuration: cors,
        backend_stream,
        ..ApiIn::default()
    };
    let value = client.send(Method::PUT, &path, &[], Some(&body)).await?;
    let api: ApiDto = parse(&value)?;
    let mut human = String::new();
    if cors_given {
        let _ = writeln!(
            human,
            "{} CORS: {}",
            handle_of(&api.name, &api.version),
            cors_summary(&api.cors_configuration)
        );
    }
    if mode_given {
        let _ = writeln!(
            human,
            "{} backend stream: {} (served from the next revision deployed)",
            handle_of(&api.name, &api.version),
            api.backend_stream
        );
    }
    Ok(Output {
        human,
        quiet: api.id,
        json: value,
        warnings: Vec::new(),
    })
}

/// One line describing a CORS configuration, for `api show` and `api update`.
fn cors_summary(cors: &crate::catalog::CorsConfiguration) -> String {
    if !cors.cors_configuration_enabled {
        return "disabled (any origin, no credentials)".to_string();
    }
    let list = |v: &[String]| {
        if v.is_empty() {
            "default".to_string()
        } else {
            v.join(", ")
        }
    };
    format!(
        "enabled; origins {}; credentials {}; headers {}; methods {}",
        if cors.access_control_allow_origins.is_empty() {
            "none".to_string()
        } else {
            cors.access_control_allow_origins.join(", ")
        },
        if cors.access_control_allow_credentials {
            "yes"
        } else {
            "no"
        },
        list(&cors.access_control_allow_headers),
        list(&cors.access_control_allow_methods)
    )
}

/// `streamgate api plans`: set the business plans an API offers.
pub(super) async fn set_plans(
    client: &Client,
    api: String,
    plans: Vec<String>,
) -> Result<Output, CliError> {
    let info = client.resolve_api(&api).await?;
    let path = publisher(&format!("/apis/{}", info.id));
    let body = ApiIn {
        policies: Some(plans),
        ..ApiIn::default()
    };
    let value = client.send(Method::PUT, &path, &[], Some(&body)).await?;
    let api: ApiDto = parse(&value)?;
    Ok(Output {
        human: format!(
            "{} now offers {}\n",
            handle_of(&api.name, &api.version),
            api.policies.join(", ")
        ),
        quiet: api.policies.join(","),
        json: value,
        warnings: Vec::new(),
    })
}

/// `streamgate api lifecycle`: apply a lifecycle action: Publish, "Deploy as a Prototype", "Demote to Created",
pub(super) async fn lifecycle(
    client: &Client,
    api: String,
    action: String,
) -> Result<Output, CliError> {
    let info = client.resolve_api(&api).await?;
    let (wf, value) = client
        .post::<WorkflowResponseDto>(
            &publisher("/apis/change-lifecycle"),
            &[("apiId", &info.id), ("action", &action)],
            NO_BODY,
        )
        .await?;
    let payload: Value = serde_json::from_str(&wf.json_payload).unwrap_or(Value::Null);
    let previous = payload["previousState"]
        .as_str()
        .unwrap_or(&info.lifecycle_status)
        .to_string();
    let state = payload["state"]
        .as_str()
        .unwrap_or(&wf.lifecycle_state.state)
        .to_string();
    let next: Vec<&str> = wf
        .lifecycle_state
        .available_transitions
        .iter()
        .map(|t| t.event.as_str())
        .collect();
    Ok(Output {
        human: format!(
            "{}: {previous} -> {state}\n  next actions: {}\n",
            handle_of(&info.name, &info.version),
            if next.is_empty() {
                "none".to_string()
            } else {
                next.join(", ")
            }
        ),
        quiet: state,
        json: value,
        warnings: payload["warning"]
            .as_str()
            .map(str::to_string)
            .into_iter()
            .collect(),
    })
}

/// `streamgate api asyncapi`: print an API's AsyncAPI document.
pub(super) async fn asyncapi(client: &Client, api: String) -> Result<Output, CliError> {
    let info = client.resolve_api(&api).await?;
    let value = client
        .send(
            Method::GET,
            &publisher(&format!("/apis/{}/asyncapi", info.id)),
            &[],
            NO_BODY,
        )
        .await?;
    let text = serde_json::to_string_pretty(&value).unwrap_or_default();
    Ok(Output {
        human: format!("{text}\n"),
        quiet: text,
        json: value,
        warnings: Vec::new(),
    })
}

/// `streamgate api delete`: delete an API (refused while it has subscriptions).
pub(super) async fn delete(client: &Client, api: String) -> Result<Output, CliError> {
    let info = client.resolve_api(&api).await?;
    client
        .send(
            Method::DELETE,
            &publisher(&format!("/apis/{}", info.id)),
            &[],
            NO_BODY,
        )
        .await?;
    Ok(Output {
        human: format!("Deleted API {}\n", handle_of(&info.name, &info.version)),
        quiet: info.id.clone(),
        json: object([("id", Value::from(info.id)), ("deleted", Value::from(true))]),
        warnings: Vec::new(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_api_body_is_wso2s_shape() {
        let body = serde_json::to_value(api_body(&ApiDraft {
            name: "Observer".into(),
            context: "/observer".into(),
            version: "1.0.0".into(),
            production_endpoint: Some("http://localhost:8080".into()),
            policies: vec!["AsyncGold".into()],
            ..ApiDraft::default()
        }))
        .unwrap();
        assert_eq!(body["type"], "SSE");
        assert_eq!(
            body["endpointConfig"]["production_endpoints"]["url"],
            "http://localhost:8080"
        );
        assert!(body["endpointConfig"].get("sandbox_endpoints").is_none());
        assert_eq!(body["policies"], Value::from(vec!["AsyncGold"]));
        assert!(body.get("operations").is_none());
    }
}
