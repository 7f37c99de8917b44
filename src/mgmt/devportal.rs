//! Developer Portal v3 (`/api/am/devportal/v3`): browse published APIs, create
//! applications, subscribe them, generate their consumer keys and access tokens.

use axum::Router;
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;

use super::dto::{
    ApplicationDto, ApplicationIn, ApplicationInfoDto, ApplicationKeyDto, ApplicationTokenDto,
    GRANT_TYPES, KeyGenerateIn, ListDto, PageQuery, PortalApiDto, PortalApiInfoDto,
    RegeneratedSecretDto, SubscriptionDto, SubscriptionIn, TokenGenerateIn,
};
use super::{ApiError, AppState, Json, OptionalJson, Query, api_or_404, app_or_404};
use crate::catalog::{Application, ApplicationDraft, KeyPair, KeyType};
use crate::control::{KeyPairRef, Principal, Snapshot};
use crate::keys;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/apis", get(list_apis))
        .route("/apis/{id}", get(get_api))
        .route(
            "/applications",
            get(list_applications).post(create_application),
        )
        .route(
            "/applications/{id}",
            get(get_application)
                .put(update_application)
                .delete(delete_application),
        )
        .route("/applications/{id}/generate-keys", post(generate_keys))
        .route("/applications/{id}/oauth-keys", get(list_keys))
        .route("/applications/{id}/oauth-keys/{km}", get(get_key))
        .route(
            "/applications/{id}/oauth-keys/{km}/generate-token",
            post(generate_token),
        )
        .route(
            "/applications/{id}/oauth-keys/{km}/regenerate-secret",
            post(regenerate_secret),
        )
        .route(
            "/subscriptions",
            get(list_subscriptions).post(create_subscription),
        )
        .route(
            "/subscriptions/{id}",
            get(get_subscription).delete(delete_subscription),
        )
}

/// An API the portal shows (PUBLISHED, PRE-RELEASED or DEPRECATED), or 404.
fn portal_api<'a>(catalog: &'a Snapshot, id: &str) -> Result<&'a crate::catalog::Api, ApiError> {
    catalog
        .find_api(id)
        .filter(|a| a.lifecycle.visible_in_portal())
        .ok_or_else(|| ApiError::not_found("API", id))
}

fn portal_dto(state: &AppState, catalog: &Snapshot, api: &crate::catalog::Api) -> PortalApiDto {
    PortalApiDto::from_api(
        api,
        &catalog.deployments_of(&api.id),
        &catalog.environments,
        &state.gateway_url,
    )
}

async fn list_apis(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
) -> axum::Json<ListDto<PortalApiInfoDto>> {
    let catalog = state.control.snapshot();
    axum::Json(ListDto::page(
        catalog
            .portal_apis()
            .into_iter()
            .map(PortalApiInfoDto::from_api)
            .collect(),
        q.limit.map(usize::from),
        q.offset,
        "/apis",
    ))
}

async fn get_api(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<PortalApiDto>, ApiError> {
    let catalog = state.control.snapshot();
    let api = portal_api(&catalog, &id)?;
    Ok(axum::Json(portal_dto(&state, &catalog, api)))
}

// ---- Applications

fn app_dto(catalog: &Snapshot, app: &Application) -> ApplicationDto {
    ApplicationDto::from_application(
        app,
        catalog.subscriptions_of_app(&app.id).len(),
        &catalog.keys_of(&app.id),
    )
}

/// Refuses a `tokenType` other than JWT or OAUTH (create and update).
fn check_token_type(body: &ApplicationIn) -> Result<(), ApiError> {
    if let Some(t) = &body.token_type
        && !t.eq_ignore_ascii_case("JWT")
        && !t.eq_ignore_ascii_case("OAUTH")
    {
        return Err(ApiError::invalid(
            "tokenType",
            format!("expected JWT or OAUTH, not '{t}' (streamgate issues JWTs for both)"),
        ));
    }
    Ok(())
}

/// `PUT /applications/{id}`: name, throttlingPolicy (the application policy) and
/// description, validated as on create; an absent field keeps its value. Another user's
/// application is 404.
async fn update_application(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Json(body): Json<ApplicationIn>,
) -> Result<axum::Json<ApplicationDto>, ApiError> {
    let current = app_or_404(&state.control.snapshot(), &who, &id)?.clone();
    check_token_type(&body)?;
    let app = state
        .control
        .update_application(
            &current.id,
            ApplicationDraft {
                name: body.name.unwrap_or(current.name),
                throttling_policy: body.throttling_policy.unwrap_or(current.throttling_policy),
                description: body.description.unwrap_or(current.description),
            },
        )
        .await?;
    Ok(axum::Json(app_dto(&state.control.snapshot(), &app)))
}

async fn create_application(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Json(body): Json<ApplicationIn>,
) -> Result<Response, ApiError> {
    check_token_type(&body)?;
    let app = state
        .control
        .create_application_owned(
            ApplicationDraft {
                name: body.name.unwrap_or_default(),
                throttling_policy: body
                    .throttling_policy
                    .unwrap_or_else(|| "Unlimited".to_string()),
                description: body.description.unwrap_or_default(),
            },
            &who.user,
        )
        .await?;
    let catalog = state.control.snapshot();
    let location = format!("{}/applications/{}", super::DEVPORTAL_BASE, app.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(app_dto(&catalog, &app)),
    )
        .into_response())
}

async fn list_applications(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Query(q): Query<PageQuery>,
) -> axum::Json<ListDto<ApplicationInfoDto>> {
    let catalog = state.control.snapshot();
    let mut apps: Vec<&Application> = catalog
        .applications
        .values()
        .filter(|a| who.sees_all() || a.owner == who.user)
        .collect();
    apps.sort_by_key(|a| a.name.to_ascii_lowercase());
    axum::Json(ListDto::page(
        apps.into_iter()
            .map(|a| {
                ApplicationInfoDto::from_application(a, catalog.subscriptions_of_app(&a.id).len())
            })
            .collect(),
        q.limit.map(usize::from),
        q.offset,
        "/applications",
    ))
}

async fn get_application(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<axum::Json<ApplicationDto>, ApiError> {
    let catalog = state.control.snapshot();
    let app = app_or_404(&catalog, &who, &id)?;
    Ok(axum::Json(app_dto(&catalog, app)))
}

async fn delete_application(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let app_id = app_or_404(&state.control.snapshot(), &who, &id)?.id.clone();
    state.control.delete_application(&app_id).await?;
    Ok(StatusCode::OK)
}

// ---- Keys and tokens

/// A validity in seconds from a JSON string or number; positive.
fn validity_of(field: &str, value: Option<&Value>) -> Result<Option<i64>, ApiError> {
    let secs = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    match secs {
        Some(s) if s > 0 && s <= keys::MAX_VALIDITY_SECS => Ok(Some(s)),
        Some(s) if s > keys::MAX_VALIDITY_SECS => Err(ApiError::invalid(
            field,
            format!(
                "at most {} seconds (one year), not {s}",
                keys::MAX_VALIDITY_SECS
            ),
        )),
        _ => Err(ApiError::invalid(
            field,
            "must be a positive number of seconds, e.g. 3600",
        )),
    }
}

async fn generate_keys(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<KeyGenerateIn>,
) -> Result<axum::Json<ApplicationKeyDto>, ApiError> {
    let key_type = KeyType::parse(body.key_type.as_deref().unwrap_or("PRODUCTION"))?;
    if let Some(grants) = &body.grant_types_to_be_supported
        && !grants.is_empty()
        && !grants.iter().any(|g| GRANT_TYPES.contains(&g.as_str()))
    {
        return Err(ApiError::invalid(
            "grantTypesToBeSupported",
            format!(
                "streamgate's key manager supports {} only, not {}",
                GRANT_TYPES.join(", "),
                grants.join(", ")
            ),
        ));
    }
    let validity = validity_of("validityTime", body.validity_time.as_ref())?;
    {
        let catalog = state.control.snapshot();
        let app = app_or_404(&catalog, &who, &id)?;
        if let Some(existing) = catalog
            .keys_of(&app.id)
            .into_iter()
            .find(|k| k.key_type == key_type)
        {
            return Err(ApiError::conflict(
                409,
                format!(
                    "application '{}' already has {} keys (keyMappingId {}); regenerate the \
                     secret with POST /applications/{}/oauth-keys/{}/regenerate-secret",
                    app.name,
                    key_type.as_str(),
                    existing.key_mapping_id,
                    app.id,
                    existing.key_mapping_id
                ),
            ));
        }
    }
    let generated = state.control.generate_keys(&id, key_type, validity).await?;
    Ok(axum::Json(ApplicationKeyDto::from_key_pair(
        &generated.key_pair,
        Some(generated.consumer_secret),
        Some(&generated.token),
    )))
}

/// The key pair `km` (a keyMappingId, or `PRODUCTION`/`SANDBOX`) of an application.
fn key_of<'a>(catalog: &'a Snapshot, app: &Application, km: &str) -> Result<&'a KeyPair, ApiError> {
    catalog
        .keys_of(&app.id)
        .into_iter()
        .find(|k| k.key_mapping_id == km || k.key_type.as_str().eq_ignore_ascii_case(km))
        .ok_or_else(|| ApiError::not_found("key mapping", km))
}

async fn list_keys(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<axum::Json<ListDto<ApplicationKeyDto>>, ApiError> {
    let catalog = state.control.snapshot();
    let app = app_or_404(&catalog, &who, &id)?;
    let mut keys = catalog.keys_of(&app.id);
    keys.sort_by_key(|k| k.key_type.as_str());
    Ok(axum::Json(ListDto::new(
        keys.into_iter()
            .map(|k| ApplicationKeyDto::from_key_pair(k, None, None))
            .collect(),
    )))
}

async fn get_key(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((id, km)): Path<(String, String)>,
) -> Result<axum::Json<ApplicationKeyDto>, ApiError> {
    let catalog = state.control.snapshot();
    let app = app_or_404(&catalog, &who, &id)?;
    let kp = key_of(&catalog, app, &km)?;
    Ok(axum::Json(ApplicationKeyDto::from_key_pair(kp, None, None)))
}

async fn generate_token(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((id, km)): Path<(String, String)>,
    OptionalJson(body): OptionalJson<TokenGenerateIn>,
) -> Result<axum::Json<ApplicationTokenDto>, ApiError> {
    let validity = validity_of("validityPeriod", body.validity_period.as_ref())?;
    let (app_id, kp) = {
        let catalog = state.control.snapshot();
        let app = app_or_404(&catalog, &who, &id)?;
        (app.id.clone(), key_of(&catalog, app, &km)?.clone())
    };
    if let Some(secret) = &body.consumer_secret
        && !keys::secret_matches(secret, &kp.secret_hash)
    {
        return Err(ApiError::invalid(
            "consumerSecret",
            "does not match the key's consumer secret",
        ));
    }
    if let Some(old) = body.revoke_token.as_deref().filter(|t| !t.is_empty()) {
        state
            .control
            .revoke_token(old, Some(&kp.consumer_key))
            .await?;
    }
    let token = state.control.generate_token(
        &app_id,
        &KeyPairRef::MappingId(kp.key_mapping_id),
        validity,
    )?;
    Ok(axum::Json(ApplicationTokenDto::from_token(&token)))
}

async fn regenerate_secret(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((id, km)): Path<(String, String)>,
) -> Result<axum::Json<RegeneratedSecretDto>, ApiError> {
    let mapping = {
        let catalog = state.control.snapshot();
        let app = app_or_404(&catalog, &who, &id)?;
        key_of(&catalog, app, &km)?.key_mapping_id.clone()
    };
    let (kp, secret) = state.control.regenerate_secret(&id, &mapping).await?;
    Ok(axum::Json(RegeneratedSecretDto {
        consumer_key: kp.consumer_key,
        consumer_secret: secret,
    }))
}

// ---- Subscriptions

fn sub_dto(catalog: &Snapshot, s: &crate::catalog::Subscription) -> SubscriptionDto {
    let app = catalog
        .applications
        .get(&s.application_id)
        .map(|a| (a, catalog.subscriptions_of_app(&a.id).len()));
    SubscriptionDto::from_subscription(s, catalog.apis.get(&s.api_id), app)
}

/// A subscription of one of `who`'s applications (any, for admin), or 404.
fn subscription_for<'a>(
    catalog: &'a Snapshot,
    who: &Principal,
    id: &str,
) -> Result<&'a crate::catalog::Subscription, ApiError> {
    catalog
        .subscriptions
        .get(id)
        .filter(|s| catalog.application_for(who, &s.application_id).is_some())
        .ok_or_else(|| ApiError::not_found("subscription", id))
}

async fn create_subscription(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Json(body): Json<SubscriptionIn>,
) -> Result<Response, ApiError> {
    let app_id = body
        .application_id
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("applicationId", "required"))?;
    let api_id = body
        .api_id
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("apiId", "required"))?;
    let app_id = app_or_404(&state.control.snapshot(), &who, &app_id)?
        .id
        .clone();
    let plan = match body.throttling_policy.filter(|s| !s.trim().is_empty()) {
        Some(plan) => plan,
        // The wizard's choice: the API's first plan.
        None => {
            let catalog = state.control.snapshot();
            app_or_404(&catalog, &who, &app_id)?;
            api_or_404(&catalog, &api_id)?
                .policies
                .first()
                .cloned()
                .unwrap_or_default()
        }
    };
    let sub = state.control.subscribe(&app_id, &api_id, &plan).await?;
    let catalog = state.control.snapshot();
    let location = format!("{}/subscriptions/{}", super::DEVPORTAL_BASE, sub.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(sub_dto(&catalog, &sub)),
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionQuery {
    application_id: Option<String>,
    api_id: Option<String>,
}

async fn list_subscriptions(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Query(q): Query<SubscriptionQuery>,
) -> Result<axum::Json<ListDto<SubscriptionDto>>, ApiError> {
    let catalog = state.control.snapshot();
    let app = match q.application_id.as_deref().filter(|s| !s.is_empty()) {
        Some(id) => Some(app_or_404(&catalog, &who, id)?.id.clone()),
        None => None,
    };
    let api = match q.api_id.as_deref().filter(|s| !s.is_empty()) {
        Some(id) => Some(api_or_404(&catalog, id)?.id.clone()),
        None => None,
    };
    let mut subs: Vec<&crate::catalog::Subscription> = catalog
        .subscriptions
        .values()
        .filter(|s| app.as_ref().is_none_or(|a| &s.application_id == a))
        .filter(|s| {
            who.sees_all()
                || catalog
                    .applications
                    .get(&s.application_id)
                    .is_some_and(|a| a.owner == who.user)
        })
        .filter(|s| api.as_ref().is_none_or(|a| &s.api_id == a))
        .collect();
    subs.sort_by_key(|s| s.created_at);
    Ok(axum::Json(ListDto::new(
        subs.into_iter().map(|s| sub_dto(&catalog, s)).collect(),
    )))
}

async fn get_subscription(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<axum::Json<SubscriptionDto>, ApiError> {
    let catalog = state.control.snapshot();
    let sub = subscription_for(&catalog, &who, &id)?;
    Ok(axum::Json(sub_dto(&catalog, sub)))
}

async fn delete_subscription(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    subscription_for(&state.control.snapshot(), &who, &id)?;
    state.control.unsubscribe(&id).await?;
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_accepts_strings_and_numbers_and_names_the_field() {
        assert_eq!(
            validity_of("validityTime", Some(&Value::from("3600"))),
            Ok(Some(3600))
        );
        assert_eq!(
            validity_of("validityTime", Some(&Value::from(60))),
            Ok(Some(60))
        );
        assert_eq!(validity_of("validityTime", None), Ok(None));
        let err = validity_of("validityPeriod", Some(&Value::from(-1))).expect_err("negative");
        assert!(err.description.starts_with("validityPeriod:"), "{err}");
        let err = validity_of("validityTime", Some(&Value::from("soon"))).expect_err("text");
        assert!(err.description.starts_with("validityTime:"), "{err}");
    }
}
