//! SCIM 2.0 user management (RFC 7643 resources, RFC 7644 protocol), as WSO2's identity
//! server exposes it: `POST/GET /scim2/Users`, `GET/PATCH/DELETE /scim2/Users/{id}`. Roles
//! travel as `roles` (`[{"value": "subscriber"}]` or `["subscriber"]`) or `groups`.
//! Errors use the SCIM error body (RFC 7644 §3.12).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::AppState;
use crate::catalog::user::parse_roles;
use crate::catalog::{Role, RuleError, User};
use crate::control::{ControlError, Principal, UserUpdate};

/// The SCIM core User schema (RFC 7643 §4.1).
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The SCIM error schema (RFC 7644 §3.12).
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The SCIM list response schema.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The SCIM PATCH schema.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The largest SCIM body read (bytes).
pub const MAX_SCIM_BODY: usize = 64 * 1024;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/scim2/Users", get(list_users).post(create_user))
        .route(
            "/scim2/Users/{id}",
            get(get_user).patch(patch_user).delete(delete_user),
        )
}

/// A SCIM error answer.
#[derive(Debug)]
pub struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = Value::from(t);
        }
        scim_json(self.status, &body)
    }
}

impl From<ControlError> for ScimError {
    fn from(err: ControlError) -> Self {
        match err {
            ControlError::Rule(RuleError::Invalid { field, message }) => {
                Self::bad("invalidValue", format!("{field}: {message}"))
            }
            ControlError::Rule(RuleError::Conflict { code, message }) => Self {
                status: StatusCode::CONFLICT,
                // RFC 7644 §3.12: `mutability` for a change the current state forbids.
                scim_type: Some(if code == crate::control::LAST_ADMIN_CONFLICT {
                    "mutability"
                } else {
                    "uniqueness"
                }),
                detail: message,
            },
            ControlError::NotFound { what, id } => Self {
                status: StatusCode::NOT_FOUND,
                scim_type: None,
                detail: format!("{what} '{id}' not found"),
            },
            other => {
                tracing::error!(error = %other, "SCIM request failed");
                Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    scim_type: None,
                    detail: "the request failed; streamgate's log has the details".into(),
                }
            }
        }
    }
}

fn scim_json(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/scim+json"),
        )],
        body.to_string(),
    )
        .into_response()
}

/// A user as a SCIM resource (never with its password).
fn resource(user: &User) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "id": user.id,
        "userName": user.name,
        "active": true,
        "roles": user.roles.iter().map(|r| json!({"value": r.as_str(), "display": r.as_str()})).collect::<Vec<_>>(),
        "groups": user.roles.iter().map(|r| json!({"value": r.as_str(), "display": r.as_str()})).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "User",
            "created": millis_rfc3339(user.created_at),
            "lastModified": millis_rfc3339(user.updated_at.max(user.created_at)),
            "location": format!("/scim2/Users/{}", user.id),
        },
    })
}

fn millis_rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Parses a SCIM JSON body: size, JSON object, and only the schemas named in `allowed`.
fn parse_body(body: &Bytes, allowed: &str) -> Result<serde_json::Map<String, Value>, ScimError> {
    if body.len() > MAX_SCIM_BODY {
        return Err(ScimError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            scim_type: None,
            detail: format!("the body is larger than {MAX_SCIM_BODY} bytes"),
        });
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ScimError::bad("invalidSyntax", format!("the body is not JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ScimError::bad(
            "invalidSyntax",
            "the body must be a JSON object",
        ));
    };
    match map.get("schemas") {
        Some(Value::Array(schemas)) if !schemas.is_empty() => {
            for s in schemas {
                if s.as_str() != Some(allowed) {
                    return Err(ScimError::bad(
                        "invalidValue",
                        format!("unknown schema {s}; expected {allowed}"),
                    ));
                }
            }
        }
        _ => {
            return Err(ScimError::bad(
                "invalidValue",
                format!("schemas is required: [\"{allowed}\"]"),
            ));
        }
    }
    Ok(map)
}

/// Roles from a SCIM `roles` or `groups` value: strings or `{value}` / `{display}` objects.
fn roles_of(value: &Value) -> Result<Vec<Role>, ScimError> {
    let Value::Array(items) = value else {
        return Err(ScimError::bad("invalidValue", "roles must be an array"));
    };
    let mut names = Vec::new();
    for item in items {
        let name = match item {
            Value::String(s) => Some(s.as_str()),
            Value::Object(o) => o
                .get("value")
                .or_else(|| o.get("display"))
                .and_then(Value::as_str),
            _ => None,
        };
        names.push(name.ok_or_else(|| {
            ScimError::bad("invalidValue", "each role is a string or {\"value\": role}")
        })?);
    }
    parse_roles(names).map_err(|e| ScimError::bad("invalidValue", e.to_string()))
}

fn roles_in(map: &serde_json::Map<String, Value>) -> Result<Option<Vec<Role>>, ScimError> {
    match map.get("roles").or_else(|| map.get("groups")) {
        None => Ok(None),
        Some(v) => roles_of(v).map(Some),
    }
}

async fn create_user(State(state): State<AppState>, body: Bytes) -> Result<Response, ScimError> {
    let map = parse_body(&body, USER_SCHEMA)?;
    let name = map
        .get("userName")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::bad("invalidValue", "userName is required"))?;
    let password = map.get("password").and_then(Value::as_str).ok_or_else(|| {
        ScimError::bad(
            "invalidValue",
            "password is required (at least 12 characters)",
        )
    })?;
    let roles = roles_in(&map)?.unwrap_or_else(|| vec![Role::Subscriber]);
    let user = state.control.create_user(name, password, roles).await?;
    let mut response = scim_json(StatusCode::CREATED, &resource(&user));
    if let Ok(v) = HeaderValue::from_str(&format!("/scim2/Users/{}", user.id)) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// `GET /scim2/Users`'s query (RFC 7644 §3.4.2): a filter, and 1-based paging.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
}

/// A filter on `userName`, the one attribute streamgate filters on: `userName OP "value"`
/// with OP one of `eq`, `ne`, `co`, `sw`, `ew` (RFC 7644 §3.4.2.2), attribute name and
/// operator case-insensitive, values compared case-insensitively (`userName` is
/// `caseExact: false`, RFC 7643 §4.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
struct UserNameFilter {
    op: String,
    value: String,
}

impl UserNameFilter {
    /// Parses `text`. Errors: anything else, as SCIM's `invalidFilter`.
    fn parse(text: &str) -> Result<Self, ScimError> {
        let invalid = || {
            ScimError::bad(
                "invalidFilter",
                format!(
                    "unsupported filter '{text}': use userName eq|ne|co|sw|ew \"value\" \
                     (RFC 7644 §3.4.2.2)"
                ),
            )
        };
        let mut parts = text.trim().splitn(3, char::is_whitespace);
        let (Some(attr), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid());
        };
        let op = op.to_ascii_lowercase();
        if !attr.eq_ignore_ascii_case("userName")
            || !matches!(op.as_str(), "eq" | "ne" | "co" | "sw" | "ew")
        {
            return Err(invalid());
        }
        let value: String = serde_json::from_str(value.trim()).map_err(|_| invalid())?;
        Ok(Self {
            op,
            value: value.to_lowercase(),
        })
    }

    fn matches(&self, user_name: &str) -> bool {
        let name = user_name.to_lowercase();
        match self.op.as_str() {
            "eq" => name == self.value,
            "ne" => name != self.value,
            "co" => name.contains(&self.value),
            "sw" => name.starts_with(&self.value),
            _ => name.ends_with(&self.value),
        }
    }
}

async fn list_users(
    State(state): State<AppState>,
    query: Result<axum::extract::Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ScimError> {
    let axum::extract::Query(q) =
        query.map_err(|e| ScimError::bad("invalidValue", e.body_text()))?;
    let filter = q.filter.as_deref().map(UserNameFilter::parse).transpose()?;
    let matching: Vec<Value> = state
        .control
        .users()
        .iter()
        .filter(|r| filter.as_ref().is_none_or(|f| f.matches(&r.user.name)))
        .map(|r| resource(&r.user))
        .collect();
    let total = matching.len();
    // 1-based; values below 1 are 1, a negative count is 0 (RFC 7644 §3.4.2.4).
    let start = q.start_index.unwrap_or(1).max(1);
    let count = q
        .count
        .map_or(total, |c| usize::try_from(c.max(0)).unwrap_or(0));
    let page: Vec<Value> = matching
        .into_iter()
        .skip(usize::try_from(start - 1).unwrap_or(usize::MAX))
        .take(count)
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": page.len(),
            "Resources": page,
        }),
    ))
}

async fn get_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let catalog = state.control.snapshot();
    let record = catalog
        .find_user(&id)
        .ok_or_else(|| ControlError::NotFound {
            what: "user",
            id: id.clone(),
        })?;
    Ok(scim_json(StatusCode::OK, &resource(&record.user)))
}

async fn patch_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ScimError> {
    let map = parse_body(&body, PATCH_SCHEMA)?;
    let ops = map
        .get("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::bad("invalidValue", "Operations is required"))?;
    if ops.is_empty() {
        return Err(ScimError::bad(
            "invalidValue",
            "Operations must hold at least one operation (RFC 7644 §3.5.2)",
        ));
    }
    let mut update = UserUpdate::default();
    for op in ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or_default();
        if !kind.eq_ignore_ascii_case("replace") && !kind.eq_ignore_ascii_case("add") {
            return Err(ScimError::bad(
                "invalidValue",
                format!("op '{kind}' is not supported; use replace"),
            ));
        }
        let value = op.get("value").cloned().unwrap_or(Value::Null);
        // `{"op":"replace","path":"password","value":"..."}` or a value object.
        let fields: serde_json::Map<String, Value> = match op.get("path").and_then(Value::as_str) {
            Some(path) => [(path.to_string(), value)].into_iter().collect(),
            None => value.as_object().cloned().ok_or_else(|| {
                ScimError::bad("invalidValue", "without a path, value must be an object")
            })?,
        };
        for (field, v) in fields {
            match field.as_str() {
                "password" => {
                    update.password = Some(
                        v.as_str()
                            .ok_or_else(|| {
                                ScimError::bad("invalidValue", "password must be a string")
                            })?
                            .to_string(),
                    );
                }
                "roles" | "groups" => update.roles = Some(roles_of(&v)?),
                other => {
                    return Err(ScimError::bad(
                        "invalidPath",
                        format!("'{other}' cannot be changed; password and roles can"),
                    ));
                }
            }
        }
    }
    let user = state.control.update_user(&id, update).await?;
    Ok(scim_json(StatusCode::OK, &resource(&user)))
}

/// `DELETE /scim2/Users/{id}`: removes a user and their applications. The caller cannot
/// remove itself (409 `mutability`, as for the last admin: the current state forbids it,
/// RFC 7644 §3.12), so `admin` with the `admin-token` file cannot remove `admin`.
async fn delete_user(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ScimError> {
    let is_caller = state
        .control
        .snapshot()
        .find_user(&id)
        .is_some_and(|r| r.user.name.eq_ignore_ascii_case(&who.user));
    if is_caller {
        return Err(ScimError {
            status: StatusCode::CONFLICT,
            scim_type: Some("mutability"),
            detail: format!(
                "user '{}' is the caller and cannot remove itself; another admin can",
                who.user
            ),
        });
    }
    state.control.delete_user(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
