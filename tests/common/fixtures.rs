//! Catalog fixtures through [`Control`]: the tutorial's environment, a published SSE API,
//! custom plans and application policies, a subscribed application with tokens; and the
//! memory backend on port 0.

use std::net::SocketAddr;
use std::time::Duration;

use streamgate::backend::{BackendHandle, BackendOptions};
use streamgate::catalog::{
    Api, ApiDraft, ApplicationDraft, ApplicationPolicy, DeployTarget, KeyType, LifecycleAction,
    Quota, SubscriptionPolicy, TimeUnit,
};
use streamgate::control::Control;

use super::{Backend, Script, TestServer};

/// The tutorial's environment.
pub fn hybrid() -> Vec<DeployTarget> {
    vec![DeployTarget::new("Production and Sandbox", "localhost")]
}

/// A published SSE API deployed to the hybrid environment.
pub async fn published_api(
    control: &Control,
    name: &str,
    production: Option<&str>,
    sandbox: Option<&str>,
    plans: &[&str],
) -> Api {
    publish_draft(
        control,
        ApiDraft {
            name: name.to_string(),
            context: format!("/{}", name.to_ascii_lowercase()),
            version: "1.0.0".to_string(),
            description: String::new(),
            production_endpoint: production.map(str::to_string),
            sandbox_endpoint: sandbox.map(str::to_string),
            policies: plans.iter().map(|p| p.to_string()).collect(),
            topics: Vec::new(),
        },
    )
    .await
}

/// A custom plan of `count` events per minute.
pub async fn plan_per_minute(control: &Control, name: &str, count: u64) {
    control
        .add_subscription_policy(SubscriptionPolicy {
            name: name.to_string(),
            display_name: name.to_string(),
            description: String::new(),
            quota: Quota::Events {
                count,
                unit: TimeUnit::Min,
                unit_time: 1,
            },
            built_in: false,
        })
        .await
        .unwrap();
}

/// A custom application policy of `n` connection requests per minute.
pub async fn app_policy_per_minute(control: &Control, name: &str, n: u32) {
    control
        .add_application_policy(ApplicationPolicy {
            name: name.to_string(),
            display_name: name.to_string(),
            description: String::new(),
            requests_per_minute: Some(n),
            built_in: false,
        })
        .await
        .unwrap();
}

/// An application, subscribed under `plan` unless it is `None`, with a production and a
/// sandbox access token.
pub struct Subscriber {
    pub app_id: String,
    pub subscription_id: Option<String>,
    pub production: String,
    pub sandbox: String,
}

/// A new access token of `key_type` for `app_id`.
pub async fn access_token(control: &Control, app_id: &str, key_type: KeyType) -> String {
    control
        .generate_keys(app_id, key_type, None)
        .await
        .unwrap()
        .token
        .access_token
}

/// Creates an application under `app_policy`, subscribes it to `api` under `plan` (unless
/// `None`) and generates both tokens.
pub async fn subscriber(
    control: &Control,
    name: &str,
    app_policy: &str,
    api: &Api,
    plan: Option<&str>,
) -> Subscriber {
    let app = control
        .create_application(ApplicationDraft {
            name: name.to_string(),
            throttling_policy: app_policy.to_string(),
            description: String::new(),
        })
        .await
        .unwrap();
    let subscription_id = match plan {
        Some(plan) => Some(control.subscribe(&app.id, &api.id, plan).await.unwrap().id),
        None => None,
    };
    Subscriber {
        production: access_token(control, &app.id, KeyType::Production).await,
        sandbox: access_token(control, &app.id, KeyType::Sandbox).await,
        app_id: app.id,
        subscription_id,
    }
}

/// Memory backend options: an event every `interval_ms`, for `time_ms` when given.
pub fn memory_options(interval_ms: u64, time_ms: Option<u64>) -> BackendOptions {
    BackendOptions {
        interval: Duration::from_millis(interval_ms),
        time: time_ms.map(Duration::from_millis),
    }
}

/// The memory backend on 127.0.0.1:0.
pub async fn memory_backend(options: BackendOptions) -> BackendHandle {
    BackendHandle::start("127.0.0.1:0".parse().unwrap(), options)
        .await
        .unwrap()
}

/// The memory backend's stream URL at `addr`.
pub fn memory_url(addr: SocketAddr) -> String {
    format!("http://{addr}/memory")
}

/// An SSE API draft: `name` at `/{name in lower case}` 1.0.0 with this production
/// endpoint and nothing else.
pub fn sse_draft(name: &str, production: String) -> ApiDraft {
    ApiDraft {
        name: name.to_string(),
        context: format!("/{}", name.to_ascii_lowercase()),
        version: "1.0.0".to_string(),
        production_endpoint: Some(production),
        ..Default::default()
    }
}

/// Creates `draft`, deploys a first revision to the hybrid environment and publishes it.
pub async fn publish_draft(control: &Control, draft: ApiDraft) -> Api {
    let api = control.create_api(draft).await.unwrap();
    deploy_and_publish(control, &api.id).await
}

/// Deploys a first revision of the API `api_id` to the hybrid environment and publishes it.
pub async fn deploy_and_publish(control: &Control, api_id: &str) -> Api {
    control
        .deploy_new_revision(api_id, "", &hybrid())
        .await
        .unwrap();
    control
        .change_lifecycle(api_id, LifecycleAction::Publish)
        .await
        .unwrap()
        .api
}

/// `/{name in lower case}/1.0.0/memory`: a stream of the API `name` made by
/// [`published_api`].
pub fn memory_path(name: &str) -> String {
    format!("/{}/1.0.0/memory", name.to_ascii_lowercase())
}

impl TestServer {
    /// Applies a lifecycle `action` to `api_id` through control (it must be allowed).
    pub async fn set_lifecycle(&self, api_id: &str, action: LifecycleAction) {
        self.control()
            .change_lifecycle(api_id, action)
            .await
            .unwrap();
    }

    /// A scripted [`Backend`], an SSE API `name` on it (production endpoint only,
    /// published and deployed) and an application `app` subscribed to it under
    /// AsyncUnlimited, with both tokens (see [`TestServer::subscribed_api`]).
    pub async fn api_on_backend(
        &self,
        name: &str,
        app: &str,
        script: Script,
    ) -> (Backend, Api, Subscriber) {
        let backend = Backend::start(script).await;
        let (api, sub) = self
            .subscribed_api(name, app, Some(&backend.url()), None)
            .await;
        (backend, api, sub)
    }

    /// An SSE API `name` on these endpoints, published and deployed (see
    /// [`published_api`]), and an application `app` under the Unlimited policy subscribed
    /// to it under AsyncUnlimited, with both tokens.
    pub async fn subscribed_api(
        &self,
        name: &str,
        app: &str,
        production: Option<&str>,
        sandbox: Option<&str>,
    ) -> (Api, Subscriber) {
        let control = self.control();
        let api = published_api(control, name, production, sandbox, &[]).await;
        let sub = subscriber(control, app, "Unlimited", &api, Some("AsyncUnlimited")).await;
        (api, sub)
    }
}

/// Opens the control over `data_dir` off the async threads, as `serve` does.
pub async fn open_control(data_dir: &std::path::Path) -> Control {
    let data_dir = data_dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        Control::open(streamgate::control::ControlOptions::new(data_dir))
    })
    .await
    .unwrap()
    .unwrap()
}
