//! Who may call which management route: one table keyed by route (method and path pattern)
//! giving the OAuth2 scopes it needs, taken from the `security` sections of WSO2 API Manager
//! 4.x's Publisher v4, Developer Portal v3 and Admin v4 OpenAPI documents (any listed scope
//! suffices, as in WSO2), and the middleware that enforces it.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ADMIN_BASE, AppState, DEVPORTAL_BASE, PUBLISHER_BASE, same_secret};
use crate::control::Principal;
use crate::keys::ADMIN_TOKEN_FILE;

use super::ApiError;

/// One row of the scope table: a method, a path pattern (`{x}` matches one segment) and
/// the scopes of which the caller needs one (none: any signed-in user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteScope {
    /// The HTTP method.
    pub method: &'static str,
    /// The base the path is mounted at, e.g. [`PUBLISHER_BASE`].
    pub base: &'static str,
    /// The path below the base, e.g. `/apis/{id}`.
    pub path: &'static str,
    /// Scopes, any of which lets the call through.
    pub scopes: &'static [&'static str],
}

const fn row(
    method: &'static str,
    base: &'static str,
    path: &'static str,
    scopes: &'static [&'static str],
) -> RouteScope {
    RouteScope {
        method,
        base,
        path,
        scopes,
    }
}

const P: &str = PUBLISHER_BASE;
const D: &str = DEVPORTAL_BASE;
const A: &str = ADMIN_BASE;
/// The SCIM 2.0 user management base.
pub const SCIM_BASE: &str = "/scim2";

const VIEW: &[&str] = &["apim:api_view", "apim:api_manage"];
const CREATE: &[&str] = &["apim:api_create", "apim:api_manage"];
// WSO2 also lets `apim:api_create` deploy; streamgate keeps deployment to publishers, as
// its issue 14 says ("a creator can create and edit APIs but not ... deploy").
const PUBLISH: &[&str] = &["apim:api_publish", "apim:api_manage"];
const REVISE: &[&str] = &["apim:api_create", "apim:api_manage", "apim:api_publish"];
const APP: &[&str] = &["apim:subscribe", "apim:app_manage"];
const SUB: &[&str] = &["apim:subscribe", "apim:sub_manage"];

/// Every management route with the scopes it needs.
pub const ROUTE_SCOPES: &[RouteScope] = &[
    // Publisher v4
    row(
        "GET",
        P,
        "/apis",
        &["apim:api_view", "apim:api_manage", "apim:api_list_view"],
    ),
    row("POST", P, "/apis", CREATE),
    row("POST", P, "/apis/change-lifecycle", PUBLISH),
    row("GET", P, "/apis/{id}", VIEW),
    row("PUT", P, "/apis/{id}", REVISE),
    row(
        "DELETE",
        P,
        "/apis/{id}",
        &["apim:api_delete", "apim:api_manage"],
    ),
    row(
        "GET",
        P,
        "/apis/{id}/lifecycle-state",
        &[
            "apim:api_view",
            "apim:api_publish",
            "apim:api_create",
            "apim:api_manage",
        ],
    ),
    row(
        "GET",
        P,
        "/apis/{id}/revisions",
        &[
            "apim:api_view",
            "apim:api_create",
            "apim:api_manage",
            "apim:api_publish",
        ],
    ),
    row("POST", P, "/apis/{id}/revisions", REVISE),
    row(
        "GET",
        P,
        "/apis/{id}/revisions/{rid}",
        &[
            "apim:api_view",
            "apim:api_create",
            "apim:api_manage",
            "apim:api_publish",
        ],
    ),
    row("DELETE", P, "/apis/{id}/revisions/{rid}", REVISE),
    row("POST", P, "/apis/{id}/deploy-revision", PUBLISH),
    row("POST", P, "/apis/{id}/undeploy-revision", PUBLISH),
    row("POST", P, "/apis/{id}/restore-revision", REVISE),
    row(
        "GET",
        P,
        "/apis/{id}/deployments",
        &[
            "apim:api_view",
            "apim:api_create",
            "apim:api_manage",
            "apim:api_publish",
        ],
    ),
    row(
        "GET",
        P,
        "/apis/{id}/asyncapi",
        &[
            "apim:api_view",
            "apim:api_manage",
            "apim:api_definition_view",
        ],
    ),
    row("PUT", P, "/apis/{id}/asyncapi", CREATE),
    row(
        "GET",
        P,
        "/throttling-policies/streaming/subscription",
        &["apim:api_view", "apim:tier_view", "apim:tier_manage"],
    ),
    row(
        "GET",
        P,
        "/environments",
        &["apim:api_view", "apim:api_manage"],
    ),
    // Developer Portal v3 (WSO2 lets anyone browse the portal's APIs)
    row("GET", D, "/apis", &[]),
    row("GET", D, "/apis/{id}", &[]),
    row("GET", D, "/applications", APP),
    row("POST", D, "/applications", APP),
    row("GET", D, "/applications/{id}", APP),
    row("PUT", D, "/applications/{id}", APP),
    row("DELETE", D, "/applications/{id}", APP),
    row("POST", D, "/applications/{id}/generate-keys", APP),
    row("GET", D, "/applications/{id}/oauth-keys", APP),
    row("GET", D, "/applications/{id}/oauth-keys/{km}", APP),
    row(
        "POST",
        D,
        "/applications/{id}/oauth-keys/{km}/generate-token",
        APP,
    ),
    row(
        "POST",
        D,
        "/applications/{id}/oauth-keys/{km}/regenerate-secret",
        APP,
    ),
    row("GET", D, "/subscriptions", SUB),
    row("POST", D, "/subscriptions", SUB),
    row("GET", D, "/subscriptions/{id}", SUB),
    row("DELETE", D, "/subscriptions/{id}", SUB),
    // Admin v4
    row(
        "GET",
        A,
        "/throttling/policies/subscription",
        &["apim:admin", "apim:tier_view"],
    ),
    row(
        "POST",
        A,
        "/throttling/policies/subscription",
        &["apim:admin", "apim:tier_manage"],
    ),
    row(
        "GET",
        A,
        "/throttling/policies/subscription/{id}",
        &["apim:admin", "apim:tier_view"],
    ),
    row(
        "GET",
        A,
        "/throttling/policies/application",
        &["apim:admin", "apim:tier_view"],
    ),
    row(
        "POST",
        A,
        "/throttling/policies/application",
        &["apim:admin", "apim:tier_manage"],
    ),
    row(
        "GET",
        A,
        "/throttling/policies/application/{id}",
        &["apim:admin", "apim:tier_view"],
    ),
    row(
        "GET",
        A,
        "/environments",
        &["apim:admin", "apim:environment_read"],
    ),
    // Admin v4: streamgate's gateway nodes (WSO2 has none; admins only).
    row("GET", A, "/gateway-nodes", &["apim:admin"]),
    row("POST", A, "/gateway-nodes", &["apim:admin"]),
    row("DELETE", A, "/gateway-nodes/{name}", &["apim:admin"]),
    // SCIM 2.0 users (WSO2 Identity Server's scopes)
    // Publisher v4: endpoint certificates (WSO2's scopes) and the backend client
    // certificate (streamgate's; scoped as WSO2's client-certificates).
    row(
        "GET",
        P,
        "/endpoint-certificates",
        &[
            "apim:api_view",
            "apim:api_manage",
            "apim:ep_certificates_view",
            "apim:ep_certificates_manage",
        ],
    ),
    row(
        "POST",
        P,
        "/endpoint-certificates",
        &[
            "apim:api_create",
            "apim:api_manage",
            "apim:ep_certificates_add",
            "apim:ep_certificates_manage",
        ],
    ),
    row(
        "GET",
        P,
        "/endpoint-certificates/{id}",
        &[
            "apim:api_view",
            "apim:api_manage",
            "apim:ep_certificates_view",
            "apim:ep_certificates_manage",
        ],
    ),
    row(
        "DELETE",
        P,
        "/endpoint-certificates/{id}",
        &[
            "apim:api_create",
            "apim:api_manage",
            "apim:ep_certificates_update",
            "apim:ep_certificates_manage",
        ],
    ),
    row("GET", P, "/apis/{id}/backend-client-certificate", VIEW),
    row("PUT", P, "/apis/{id}/backend-client-certificate", CREATE),
    row("DELETE", P, "/apis/{id}/backend-client-certificate", CREATE),
    // Publisher v4: streamgate's traffic analytics (read like the APIs).
    row("GET", P, crate::mgmt::analytics::STATS_PATH, VIEW),
    row("GET", SCIM_BASE, "/Users", &["internal_user_mgt_list"]),
    row("POST", SCIM_BASE, "/Users", &["internal_user_mgt_create"]),
    row("GET", SCIM_BASE, "/Users/{id}", &["internal_user_mgt_view"]),
    row(
        "PATCH",
        SCIM_BASE,
        "/Users/{id}",
        &["internal_user_mgt_update"],
    ),
    row(
        "DELETE",
        SCIM_BASE,
        "/Users/{id}",
        &["internal_user_mgt_delete"],
    ),
];

fn pattern_matches(pattern: &str, path: &str) -> bool {
    let mut pat = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (pat.next(), got.next()) {
            (None, None) => return true,
            (Some(p), Some(g)) if p.starts_with('{') && p.ends_with('}') && !g.is_empty() => {}
            (Some(p), Some(g)) if p == g => {}
            _ => return false,
        }
    }
}

/// The table row for a request, if the route is in the table.
pub fn route_scope(method: &Method, path: &str) -> Option<&'static RouteScope> {
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    ROUTE_SCOPES.iter().find(|r| {
        r.method == method.as_str()
            && path
                .strip_prefix(r.base)
                .is_some_and(|rest| pattern_matches(r.path, rest))
    })
}

/// WSO2's 403 body for a token without the route's scope.
fn forbidden(needed: &[&str]) -> Response {
    ApiError {
        status: StatusCode::FORBIDDEN,
        code: 900910,
        message: "The access token does not allow you to access the requested resource".to_string(),
        description: format!(
            "this resource needs one of the scopes: {}",
            needed.join(" ")
        ),
        challenge: None,
    }
    .into_response()
}

/// Authenticates the caller (the `admin-token` file's token: `admin` with every scope; else
/// a management JWT), checks the route's scopes and hands the [`Principal`] to the handler.
/// Missing or invalid credentials answer 401, missing scopes 403 (WSO2's 900910); routes
/// not in the table need no scope (they answer 404/405 further on).
pub(super) async fn require_scopes(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    let Some(token) = presented else {
        return ApiError::unauthorized(
            900902,
            "Missing Credentials",
            format!(
                "send `Authorization: Bearer <token>`: a management token from POST \
                 /oauth2/token (grant_type=password), or the admin token in the file \
                 {ADMIN_TOKEN_FILE} of streamgate's data dir"
            ),
        )
        .into_response();
    };
    let principal = if same_secret(token, state.control.admin_token()) {
        Principal::local_operator()
    } else {
        match state.control.authenticate_management_token(token) {
            Ok(p) => p,
            Err(err) => {
                return ApiError::unauthorized(
                    900901,
                    "Invalid Credentials",
                    format!(
                        "the bearer token is neither a valid management token nor the admin \
                         token (file {ADMIN_TOKEN_FILE} of streamgate's data dir): {err}"
                    ),
                )
                .into_response();
            }
        }
    };
    if let Some(route) = route_scope(req.method(), req.uri().path())
        && !principal.has_any_scope(route.scopes)
    {
        return forbidden(route.scopes);
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_segments() {
        let r = route_scope(
            &Method::GET,
            "/api/am/devportal/v3/applications/abc/oauth-keys",
        );
        assert_eq!(r.map(|r| r.path), Some("/applications/{id}/oauth-keys"));
        assert!(route_scope(&Method::GET, "/api/am/devportal/v3/applications//x").is_none());
        let r = route_scope(&Method::POST, "/api/am/publisher/v4/apis/change-lifecycle");
        assert_eq!(r.map(|r| r.scopes), Some(PUBLISH));
    }

    #[test]
    fn every_scope_in_the_table_is_known() {
        for r in ROUTE_SCOPES {
            for s in r.scopes {
                assert!(
                    crate::catalog::user::ALL_SCOPES.contains(s),
                    "{} {}{}: {s}",
                    r.method,
                    r.base,
                    r.path
                );
            }
        }
    }
}
