//! Publisher v4 (`/api/am/publisher/v4`): design SSE APIs, pick their plans, move them
//! through the lifecycle, snapshot revisions and deploy them to gateway environments.

use axum::Router;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;

use super::dto::{
    ApiDto, ApiIn, ApiInfoDto, DeploymentDto, DeploymentIn, DeploymentListDto, EnvironmentDto,
    LifecycleStateDto, ListDto, Pagination, RevisionDto, RevisionIn, SubscriptionPolicyDto,
    WorkflowResponseDto,
};
use super::{ApiError, AppState, Json, OptionalJson, Query, api_or_404, asyncapi};
use crate::catalog::DeployTarget;
use crate::catalog::{ApiDraft, LifecycleAction};
use crate::control::Principal;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/apis", get(list_apis).post(create_api))
        .route("/apis/change-lifecycle", post(change_lifecycle))
        .route(
            "/apis/{id}",
            get(get_api).put(update_api).delete(delete_api),
        )
        .route("/apis/{id}/lifecycle-state", get(lifecycle_state))
        .route(
            "/apis/{id}/revisions",
            get(list_revisions).post(create_revision),
        )
        .route(
            "/apis/{id}/revisions/{rid}",
            get(get_revision).delete(delete_revision),
        )
        .route("/apis/{id}/deploy-revision", post(deploy_revision))
        .route("/apis/{id}/undeploy-revision", post(undeploy_revision))
        .route("/apis/{id}/restore-revision", post(restore_revision))
        .route("/apis/{id}/deployments", get(deployments))
        .route("/apis/{id}/asyncapi", get(asyncapi_document))
        .route(
            "/throttling-policies/streaming/subscription",
            get(streaming_plans),
        )
        .route("/environments", get(environments))
}

/// Reads one of `production_endpoints`/`sandbox_endpoints`: `{url}`, or a list of them
/// (WSO2's load-balanced form; the first is used), or null.
fn endpoint_url(config: &Value, key: &str) -> Result<Option<String>, ApiError> {
    let field = format!("endpointConfig.{key}");
    let entry = match config.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(list)) => match list.first() {
            Some(first) => first,
            None => return Ok(None),
        },
        Some(other) => other,
    };
    match entry.get("url") {
        Some(Value::String(url)) if url.trim().is_empty() => Ok(None),
        Some(Value::String(url)) => Ok(Some(url.trim().to_string())),
        Some(_) => Err(ApiError::invalid(
            &format!("{field}.url"),
            "must be a string",
        )),
        None => Err(ApiError::invalid(
            &field,
            "must be an object with a `url`, e.g. {\"url\":\"http://localhost:8080\"}",
        )),
    }
}

impl ApiIn {
    /// Lays the body over `base`, checking what the catalog's rules can't see.
    fn into_draft(self, mut base: ApiDraft) -> Result<ApiDraft, ApiError> {
        if let Some(t) = &self.api_type
            && !t.eq_ignore_ascii_case("SSE")
        {
            return Err(ApiError::invalid(
                "type",
                format!("streamgate serves Server-Sent Events APIs only: use \"SSE\", not '{t}'"),
            ));
        }
        if let Some(name) = self.name {
            base.name = name;
        }
        if let Some(context) = self.context {
            base.context = context;
        }
        if let Some(version) = self.version {
            base.version = version;
        }
        if let Some(description) = self.description {
            base.description = description;
        }
        if let Some(policies) = self.policies {
            base.policies = policies;
        }
        if let Some(config) = self.endpoint_config {
            if !config.is_object() {
                return Err(ApiError::invalid(
                    "endpointConfig",
                    "must be an object such as {\"endpoint_type\":\"http\",\
                     \"production_endpoints\":{\"url\":\"http://localhost:8080\"}}",
                ));
            }
            match config.get("endpoint_type") {
                None | Some(Value::Null) => {}
                Some(Value::String(t)) if t == "http" || t == "address" => {}
                Some(other) => {
                    return Err(ApiError::invalid(
                        "endpointConfig.endpoint_type",
                        format!("only \"http\" endpoints are supported, not {other}"),
                    ));
                }
            }
            base.production_endpoint = endpoint_url(&config, "production_endpoints")?;
            base.sandbox_endpoint = endpoint_url(&config, "sandbox_endpoints")?;
        }
        if let Some(operations) = self.operations {
            for op in &operations {
                if let Some(verb) = &op.verb
                    && !verb.eq_ignore_ascii_case("SUBSCRIBE")
                {
                    return Err(ApiError::invalid(
                        "operations.verb",
                        format!("SSE topics are subscribe-only: use \"SUBSCRIBE\", not '{verb}'"),
                    ));
                }
            }
            base.topics = operations.into_iter().map(|op| op.target).collect();
        }
        Ok(base)
    }
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    limit: Option<std::num::NonZeroUsize>,
    offset: Option<usize>,
    query: Option<String>,
}

async fn list_apis(State(state): State<AppState>, Query(q): Query<ListQuery>) -> Response {
    let catalog = state.control.snapshot();
    let needle = q
        .query
        .as_deref()
        .map(|s| s.trim_start_matches("name:").to_ascii_lowercase());
    let all: Vec<ApiInfoDto> = catalog
        .apis_sorted()
        .into_iter()
        .filter(|a| {
            needle
                .as_deref()
                .is_none_or(|n| a.name.to_ascii_lowercase().contains(n))
        })
        .map(ApiInfoDto::from_api)
        .collect();
    axum::Json(ListDto::page(
        all,
        q.limit.map(usize::from),
        q.offset,
        "/apis",
    ))
    .into_response()
}

/// The provider of a new API, as WSO2's publisher does: absent or blank, the caller; a
/// non-admin naming another user still gets themselves (WSO2 overrides it); an admin may
/// name any existing user (unknown: 400 on `provider`).
fn provider_of(state: &AppState, who: &Principal, given: Option<&str>) -> Result<String, ApiError> {
    let given = given.map(str::trim).filter(|p| !p.is_empty());
    match given {
        Some(p) if who.sees_all() && !p.eq_ignore_ascii_case(&who.user) => state
            .control
            .snapshot()
            .find_user(p)
            .map(|r| r.user.name.clone())
            .ok_or_else(|| ApiError::invalid("provider", format!("no user is named '{p}'"))),
        _ => Ok(who.user.clone()),
    }
}

async fn create_api(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Json(body): Json<ApiIn>,
) -> Result<Response, ApiError> {
    let provider = provider_of(&state, &who, body.provider.as_deref())?;
    let cors = body.cors_configuration.clone();
    if let Some(cors) = &cors {
        crate::catalog::validate_cors(cors)?;
    }
    let mode = body
        .backend_stream
        .as_deref()
        .map(crate::catalog::BackendStream::parse)
        .transpose()?;
    let draft = body.into_draft(ApiDraft::default())?;
    let mut api = state.control.create_api_by(draft, &provider).await?;
    if let Some(cors) = cors {
        api = state.control.set_api_cors(&api.id, cors).await?;
    }
    if let Some(mode) = mode {
        api = state.control.set_api_backend_stream(&api.id, mode).await?;
    }
    let location = format!("{}/apis/{}", super::PUBLISHER_BASE, api.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(ApiDto::from_api(&api)),
    )
        .into_response())
}

async fn get_api(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<ApiDto>, ApiError> {
    let catalog = state.control.snapshot();
    Ok(axum::Json(ApiDto::from_api(api_or_404(&catalog, &id)?)))
}

async fn update_api(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<ApiIn>,
) -> Result<axum::Json<ApiDto>, ApiError> {
    let current = api_or_404(&state.control.snapshot(), &id)?.clone();
    let cors = body.cors_configuration.clone();
    if let Some(cors) = &cors {
        crate::catalog::validate_cors(cors)?;
    }
    let mode = body
        .backend_stream
        .as_deref()
        .map(crate::catalog::BackendStream::parse)
        .transpose()?;
    let draft = body.into_draft(current.to_draft())?;
    let mut api = state.control.update_api(&current.id, draft).await?;
    if let Some(cors) = cors {
        api = state.control.set_api_cors(&api.id, cors).await?;
    }
    if let Some(mode) = mode {
        api = state.control.set_api_backend_stream(&api.id, mode).await?;
    }
    Ok(axum::Json(ApiDto::from_api(&api)))
}

async fn delete_api(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.control.delete_api(&id).await?;
    Ok(StatusCode::OK)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LifecycleQuery {
    api_id: Option<String>,
    action: Option<String>,
}

async fn change_lifecycle(
    State(state): State<AppState>,
    Query(q): Query<LifecycleQuery>,
) -> Result<axum::Json<WorkflowResponseDto>, ApiError> {
    let api_id = q
        .api_id
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("apiId", "the query parameter apiId is required"))?;
    let action = q.action.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
        ApiError::invalid(
            "action",
            "the query parameter action is required, e.g. action=Publish",
        )
    })?;
    // An unknown API is a 404 even when the action is also wrong.
    api_or_404(&state.control.snapshot(), &api_id)?;
    let action = LifecycleAction::parse(&action)?;
    let outcome = state.control.change_lifecycle(&api_id, action).await?;
    let payload = serde_json::json!({
        "previousState": outcome.previous.as_wso2(),
        "state": outcome.api.lifecycle.as_wso2(),
        "warning": outcome.warning,
    });
    Ok(axum::Json(WorkflowResponseDto {
        workflow_status: "APPROVED".to_string(),
        json_payload: payload.to_string(),
        lifecycle_state: LifecycleStateDto::of(outcome.api.lifecycle),
    }))
}

async fn lifecycle_state(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<LifecycleStateDto>, ApiError> {
    let catalog = state.control.snapshot();
    let api = api_or_404(&catalog, &id)?;
    Ok(axum::Json(LifecycleStateDto::of(api.lifecycle)))
}

#[derive(Debug, Default, Deserialize)]
struct RevisionListQuery {
    query: Option<String>,
}

fn revision_list(state: &AppState, api_id: &str, only_deployed: bool) -> ListDto<RevisionDto> {
    let catalog = state.control.snapshot();
    let deps = catalog.deployments_of(api_id);
    ListDto::new(
        catalog
            .revisions_of(api_id)
            .into_iter()
            .filter(|r| !only_deployed || deps.iter().any(|d| d.revision_id == r.id))
            .map(|r| RevisionDto::from_revision(r, &deps))
            .collect(),
    )
}

async fn list_revisions(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<RevisionListQuery>,
) -> Result<axum::Json<ListDto<RevisionDto>>, ApiError> {
    let api_id = api_or_404(&state.control.snapshot(), &id)?.id.clone();
    let only_deployed = q
        .query
        .as_deref()
        .is_some_and(|s| s.replace(' ', "").eq_ignore_ascii_case("deployed:true"));
    Ok(axum::Json(revision_list(&state, &api_id, only_deployed)))
}

async fn create_revision(
    State(state): State<AppState>,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<RevisionIn>,
) -> Result<Response, ApiError> {
    let rev = state
        .control
        .create_revision(&id, body.description.as_deref().unwrap_or_default())
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(RevisionDto::from_revision(&rev, &[])),
    )
        .into_response())
}

async fn get_revision(
    State(state): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
) -> Result<axum::Json<RevisionDto>, ApiError> {
    let catalog = state.control.snapshot();
    let api = api_or_404(&catalog, &id)?;
    let rev = catalog
        .revisions
        .get(&rid)
        .filter(|r| r.api_id == api.id)
        .ok_or_else(|| ApiError::not_found("revision", &rid))?;
    Ok(axum::Json(RevisionDto::from_revision(
        rev,
        &catalog.deployments_of(&api.id),
    )))
}

async fn delete_revision(
    State(state): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
) -> Result<axum::Json<ListDto<RevisionDto>>, ApiError> {
    let rev = state.control.delete_revision(&id, &rid).await?;
    Ok(axum::Json(revision_list(&state, &rev.api_id, false)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RevisionQuery {
    revision_id: Option<String>,
    /// WSO2's alternative to `revisionId`: the revision's number.
    revision_number: Option<String>,
    #[serde(default)]
    all_environments: Option<bool>,
}

impl RevisionQuery {
    fn revision(&self) -> Option<String> {
        self.revision_id
            .clone()
            .or_else(|| self.revision_number.clone())
            .filter(|s| !s.trim().is_empty())
    }
}

/// A deploy request's body: none (every environment), or a list of environments. A JSON
/// `null` is neither, and is refused as a malformed body (it used to deploy everywhere).
#[derive(Debug, Default)]
struct DeployBody(Option<Vec<DeploymentIn>>);

impl<'de> Deserialize<'de> for DeployBody {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<DeploymentIn>::deserialize(d).map(|list| DeployBody(Some(list)))
    }
}

/// Deploys a revision. Beyond WSO2: without `revisionId` it makes a new revision of the
/// working copy and deploys it in one step ("Deploy New Revision"); without a body it
/// deploys to every environment.
async fn deploy_revision(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<RevisionQuery>,
    OptionalJson(DeployBody(body)): OptionalJson<DeployBody>,
) -> Result<axum::Json<Vec<DeploymentDto>>, ApiError> {
    let catalog = state.control.snapshot();
    let api_id = api_or_404(&catalog, &id)?.id.clone();
    let targets: Vec<DeployTarget> = match body {
        None => catalog
            .environments
            .iter()
            .map(|e| DeployTarget::new(e.name.clone(), e.vhost.clone()))
            .collect(),
        Some(body) if body.is_empty() => {
            return Err(ApiError::invalid(
                "name",
                "the list names no gateway environment (send no body to deploy to every one)",
            ));
        }
        Some(body) => body
            .into_iter()
            .map(|d| DeployTarget {
                environment: d.name,
                vhost: d.vhost.unwrap_or_default(),
                display_on_devportal: d.display_on_devportal.unwrap_or(true),
            })
            .collect(),
    };
    for (i, target) in targets.iter().enumerate() {
        if targets[..i]
            .iter()
            .any(|t| t.environment == target.environment)
        {
            return Err(ApiError::invalid(
                "name",
                format!(
                    "the gateway environment '{}' is named twice",
                    target.environment
                ),
            ));
        }
    }
    let deployed = match q.revision() {
        Some(rev) => {
            state
                .control
                .deploy_revision(&api_id, &rev, &targets)
                .await?
        }
        None => {
            state
                .control
                .deploy_new_revision(&api_id, "", &targets)
                .await?
                .1
        }
    };
    Ok(axum::Json(
        deployed
            .iter()
            .map(DeploymentDto::from_deployment)
            .collect(),
    ))
}

async fn undeploy_revision(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<RevisionQuery>,
    OptionalJson(body): OptionalJson<Vec<DeploymentIn>>,
) -> Result<Response, ApiError> {
    let rev = q.revision().ok_or_else(|| {
        ApiError::invalid("revisionId", "the query parameter revisionId is required")
    })?;
    let environments: Vec<String> = if q.all_environments.unwrap_or(false) {
        Vec::new()
    } else {
        body.into_iter().map(|d| d.name).collect()
    };
    let removed = state
        .control
        .undeploy_revision(&id, &rev, &environments)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(
            removed
                .iter()
                .map(DeploymentDto::from_deployment)
                .collect::<Vec<_>>(),
        ),
    )
        .into_response())
}

async fn restore_revision(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<RevisionQuery>,
) -> Result<Response, ApiError> {
    let rev = q.revision().ok_or_else(|| {
        ApiError::invalid("revisionId", "the query parameter revisionId is required")
    })?;
    let api = state.control.restore_revision(&id, &rev).await?;
    Ok((StatusCode::CREATED, axum::Json(ApiDto::from_api(&api))).into_response())
}

async fn deployments(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<DeploymentListDto>, ApiError> {
    let catalog = state.control.snapshot();
    let api = api_or_404(&catalog, &id)?;
    Ok(axum::Json(DeploymentListDto {
        list: catalog
            .deployments_of(&api.id)
            .into_iter()
            .map(DeploymentDto::from_deployment)
            .collect(),
    }))
}

/// The management API's own URL as the client reached it, for the token URL.
fn own_url(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| format!("http://{h}"))
        .unwrap_or_else(|| format!("http://{}", super::DEFAULT_ADDR))
}

async fn asyncapi_document(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, ApiError> {
    let catalog = state.control.snapshot();
    let api = api_or_404(&catalog, &id)?;
    Ok(axum::Json(asyncapi::document(
        api,
        &state.gateway_url,
        &format!("{}/oauth2/token", own_url(&headers)),
    )))
}

async fn streaming_plans(
    State(state): State<AppState>,
) -> axum::Json<ListDto<SubscriptionPolicyDto>> {
    let catalog = state.control.snapshot();
    let list: Vec<SubscriptionPolicyDto> = catalog
        .subscription_policies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let subscribers = catalog
                .subscriptions
                .values()
                .filter(|s| s.policy == p.name)
                .count();
            SubscriptionPolicyDto::from_policy(i, p, subscribers as u64)
        })
        .collect();
    let total = list.len();
    axum::Json(ListDto {
        count: total,
        list,
        pagination: Some(Pagination {
            offset: 0,
            limit: total,
            total,
            next: String::new(),
            previous: String::new(),
        }),
    })
}

async fn environments(State(state): State<AppState>) -> axum::Json<ListDto<EnvironmentDto>> {
    super::environment_list(&state, EnvironmentDto::for_publisher)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> ApiIn {
        serde_json::from_str(json).expect("test body")
    }

    #[test]
    fn a_wso2_body_becomes_a_draft() {
        let draft = body(
            r#"{"name":"Observer","context":"/observer","version":"1.0.0","type":"SSE",
               "policies":["AsyncGold"],
               "endpointConfig":{"endpoint_type":"http",
                 "production_endpoints":{"url":"http://localhost:8080"},
                 "sandbox_endpoints":[{"url":"http://localhost:8081"}]},
               "operations":[{"target":"/memory","verb":"SUBSCRIBE"}]}"#,
        )
        .into_draft(ApiDraft::default())
        .expect("valid");
        assert_eq!(draft.name, "Observer");
        assert_eq!(
            draft.production_endpoint.as_deref(),
            Some("http://localhost:8080")
        );
        assert_eq!(
            draft.sandbox_endpoint.as_deref(),
            Some("http://localhost:8081")
        );
        assert_eq!(draft.topics, vec!["/memory"]);
        assert_eq!(draft.policies, vec!["AsyncGold"]);
    }

    #[test]
    fn wrong_types_verbs_and_endpoints_name_their_field() {
        let cases = [
            (r#"{"type":"HTTP"}"#, "type:"),
            (
                r#"{"operations":[{"target":"/x","verb":"GET"}]}"#,
                "operations.verb:",
            ),
            (r#"{"endpointConfig":"http://x"}"#, "endpointConfig:"),
            (
                r#"{"endpointConfig":{"production_endpoints":{"uri":"x"}}}"#,
                "endpointConfig.production_endpoints:",
            ),
            (
                r#"{"endpointConfig":{"endpoint_type":"load_balance"}}"#,
                "endpointConfig.endpoint_type:",
            ),
        ];
        for (json, prefix) in cases {
            let err = body(json).into_draft(ApiDraft::default()).expect_err(json);
            assert!(err.description.starts_with(prefix), "{json}: {err}");
        }
    }

    #[test]
    fn pages_say_where_they_are() {
        let p = ListDto::page((0..60).collect::<Vec<_>>(), Some(25), Some(25), "/apis");
        assert_eq!(p.count, 25);
        assert_eq!(p.list.first(), Some(&25));
        let pg = p.pagination.expect("pagination");
        assert_eq!(pg.total, 60);
        assert_eq!(pg.next, "/apis?limit=25&offset=50");
        assert_eq!(pg.previous, "/apis?limit=25&offset=0");
        // Past the end: an empty page that says where it asked for.
        let p = ListDto::page((0..8).collect::<Vec<_>>(), None, Some(100), "/apis");
        assert_eq!(p.count, 0);
        let pg = p.pagination.expect("pagination");
        assert_eq!((pg.offset, pg.limit, pg.total), (100, 25, 8));
        assert_eq!(pg.next, "");
        assert_eq!(pg.previous, "/apis?limit=25&offset=0");
    }
}
