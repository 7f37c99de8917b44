//! Access control: finds the deployed API for a path, reads the token (RFC 6750 header or
//! query parameter), verifies it, checks the subscription and picks the endpoint for the
//! key type; and rechecks a live stream's rights whenever the gateway view changes.

use axum::http::{HeaderMap, Method, header};

use crate::catalog::{KeyType, LifecycleState, SubscriptionStatus};
use crate::control::{GatewayView, Route, SubscriptionView};
use crate::keys::{AccessClaims, KeyManager, TokenError};

use super::reject::Reject;

/// The query parameter a browser `EventSource` passes its token in (RFC 6750 §2.3).
pub const ACCESS_TOKEN_PARAM: &str = "access_token";

/// A request the gateway will serve, with everything needed to open the backend stream.
#[derive(Debug, Clone)]
pub(crate) struct Admission {
    /// The API as deployed.
    pub route: Route,
    /// The resource path under the API's base path, e.g. `/memory`.
    pub resource: String,
    /// The backend URL the resource is appended to.
    pub endpoint: String,
    /// The caller, unless a pre-released API was called without a token.
    pub caller: Option<Caller>,
}

/// A verified caller.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The token's claims.
    pub claims: AccessClaims,
    /// The application's subscription to the API (absent only for pre-released APIs).
    pub subscription: Option<SubscriptionView>,
}

/// The token of a request: `Authorization: Bearer` first, then `access_token` in the query.
/// Another scheme in `Authorization` counts as no token.
pub(crate) fn request_token(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_string())
        })
        .filter(|t| !t.is_empty());
    from_header.or_else(|| {
        query?
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == ACCESS_TOKEN_PARAM)
            .map(|(_, v)| percent_decode(v))
            .filter(|t| !t.is_empty())
    })
}

/// The query string without `access_token`, so the token never reaches the backend.
pub(crate) fn strip_access_token(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| {
            !pair.is_empty()
                && pair
                    .split('=')
                    .next()
                    .is_some_and(|k| k != ACCESS_TOKEN_PARAM)
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn key_label(key_type: KeyType) -> &'static str {
    match key_type {
        KeyType::Production => "Production",
        KeyType::Sandbox => "Sandbox",
    }
}

/// Decides whether a request may be served: routing, lifecycle, token, subscription and
/// endpoint, in the order WSO2 checks them. Quotas are the caller's to check next.
pub(crate) fn admit(
    view: &GatewayView,
    keys: &KeyManager,
    method: &Method,
    path: &str,
    token: Option<&str>,
) -> Result<Admission, Reject> {
    let Some((route, resource)) = view.route_for(path) else {
        return Err(Reject::NotFound(
            "The requested resource is not available: no API is deployed at this path.".to_string(),
        ));
    };
    if !route.has_topic(resource) {
        return Err(Reject::NotFound(format!(
            "No matching resource found for given API Request: {} has no topic {resource}",
            route.base_path
        )));
    }
    if *method != Method::GET {
        return Err(Reject::MethodNotAllowed);
    }
    let prototype = route.state == LifecycleState::Prototyped;
    match route.state {
        LifecycleState::Blocked => return Err(Reject::ApiBlocked),
        state if !state.serves_subscribers() && !prototype => {
            return Err(Reject::NotFound(format!(
                "The requested resource is not available: the API is {}",
                state.as_wso2()
            )));
        }
        _ => {}
    }
    let admission = |endpoint: &str, caller| Admission {
        route: route.clone(),
        resource: resource.to_string(),
        endpoint: endpoint.to_string(),
        caller,
    };
    let Some(token) = token else {
        if prototype {
            // Pre-released APIs are tried without a token: production endpoint first.
            let endpoint = [KeyType::Production, KeyType::Sandbox]
                .into_iter()
                .filter(|k| accepts(route, *k))
                .find_map(|k| route.endpoint(k));
            return match endpoint {
                Some(e) => Ok(admission(e, None)),
                None => Err(Reject::NoEndpoint(
                    "The pre-released API has no endpoint where it is deployed".to_string(),
                )),
            };
        }
        return Err(Reject::MissingCredentials);
    };
    let claims = keys.verify(token).map_err(|e| {
        Reject::InvalidCredentials(match e {
            TokenError::Expired => "The access token has expired".to_string(),
            TokenError::NotYetValid => "The access token is not valid yet".to_string(),
            TokenError::Invalid(why) => format!("The access token is invalid ({why})"),
        })
    })?;
    if view.revoked.contains(&claims.jti) {
        return Err(Reject::InvalidCredentials(
            "The access token has been revoked".to_string(),
        ));
    }
    let app_id = &claims.application.uuid;
    if !view.app_rate_limits.contains_key(app_id) {
        return Err(Reject::InvalidCredentials(
            "The access token's application no longer exists".to_string(),
        ));
    }
    let subscription = view
        .subscriptions
        .get(&(app_id.clone(), route.api_id.clone()))
        .cloned();
    match &subscription {
        None if !prototype => {
            return Err(Reject::NotSubscribed(format!(
                "User is NOT authorized to access the Resource: application '{}' is not \
                 subscribed to API '{}'",
                claims.application.name, route.name
            )));
        }
        Some(s) if !s.status.allows(claims.keytype) => {
            return Err(Reject::SubscriptionBlocked(format!(
                "The subscription of application '{}' to API '{}' is {}",
                claims.application.name,
                route.name,
                s.status.as_str()
            )));
        }
        _ => {}
    }
    let label = key_label(claims.keytype);
    if !accepts(route, claims.keytype) {
        return Err(Reject::NoEndpoint(format!(
            "{label} key offered to an API deployed only to gateways that take other keys"
        )));
    }
    let Some(endpoint) = route.endpoint(claims.keytype) else {
        return Err(Reject::NoEndpoint(format!(
            "{label} key offered to the API with no {} endpoint",
            label.to_ascii_lowercase()
        )));
    };
    Ok(admission(
        endpoint,
        Some(Caller {
            claims,
            subscription,
        }),
    ))
}

fn accepts(route: &Route, key_type: KeyType) -> bool {
    match key_type {
        KeyType::Production => route.accepts_production,
        KeyType::Sandbox => route.accepts_sandbox,
    }
}

/// What a live stream was admitted on, rechecked against every new view.
#[derive(Debug, Clone)]
pub(crate) struct Rights {
    api_id: String,
    base_path: String,
    caller: Option<CallerRights>,
}

#[derive(Debug, Clone)]
struct CallerRights {
    app_id: String,
    jti: String,
    key_type: KeyType,
    subscription_id: Option<String>,
}

impl Rights {
    /// The rights an admission granted.
    pub(crate) fn of(admission: &Admission) -> Self {
        Self {
            api_id: admission.route.api_id.clone(),
            base_path: admission.route.base_path.clone(),
            caller: admission.caller.as_ref().map(|c| CallerRights {
                app_id: c.claims.application.uuid.clone(),
                jti: c.claims.jti.clone(),
                key_type: c.claims.keytype,
                subscription_id: c.subscription.as_ref().map(|s| s.id.clone()),
            }),
        }
    }

    /// Why the stream must close under `view`, if it must.
    pub(crate) fn lost(&self, view: &GatewayView) -> Option<String> {
        let Some(route) = view
            .routes
            .get(&self.base_path)
            .filter(|r| r.api_id == self.api_id)
        else {
            return Some("the API was undeployed or retired".to_string());
        };
        let prototype = route.state == LifecycleState::Prototyped;
        match route.state {
            LifecycleState::Blocked => return Some("the API was blocked".to_string()),
            state if !state.serves_subscribers() && !prototype => {
                return Some(format!("the API is now {}", state.as_wso2()));
            }
            _ => {}
        }
        let Some(caller) = &self.caller else {
            return (!prototype)
                .then(|| "the API is no longer pre-released; an access token is needed".into());
        };
        if view.revoked.contains(&caller.jti) {
            return Some("the access token was revoked".to_string());
        }
        if !view.app_rate_limits.contains_key(&caller.app_id) {
            return Some("the application was deleted".to_string());
        }
        let current = view
            .subscriptions
            .get(&(caller.app_id.clone(), self.api_id.clone()));
        match (current, &caller.subscription_id) {
            (Some(s), Some(id)) if s.id != *id => Some("the subscription was removed".into()),
            (None, Some(_)) => Some("the subscription was removed".to_string()),
            (None, None) if !prototype => Some("the API now needs a subscription".to_string()),
            (Some(s), _) if !s.status.allows(caller.key_type) => Some(match s.status {
                SubscriptionStatus::ProdOnlyBlocked => {
                    "the subscription was blocked for production keys".to_string()
                }
                _ => "the subscription was blocked".to_string(),
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn header_token_wins_and_query_token_is_decoded() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            request_token(&headers, Some("a=1&access_token=x%2Ey")),
            Some("x.y".into())
        );
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(
            request_token(&headers, Some("access_token=q")),
            Some("abc".into())
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(request_token(&headers, None), None);
    }

    #[test]
    fn access_token_is_removed_from_the_query_and_the_rest_kept() {
        assert_eq!(strip_access_token("a=1&access_token=x&b=%20"), "a=1&b=%20");
        assert_eq!(strip_access_token("access_token=x"), "");
        assert_eq!(strip_access_token("access_tokenx=1"), "access_tokenx=1");
    }

    #[test]
    fn percent_decoding_leaves_broken_escapes_alone() {
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%41%zz"), "A%zz");
    }
}
