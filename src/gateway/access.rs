//! Access control: finds the deployed API for a path, reads the token (RFC 6750 header or
//! query parameter), verifies it, checks the subscription and picks the endpoint for the
//! key type; and rechecks a live stream's rights whenever the gateway view changes.

use std::sync::Arc;

use axum::http::Method;

use crate::catalog::{KeyType, LifecycleState, SubscriptionStatus};
use crate::control::{GatewayView, Route, SubscriptionView};
use crate::keys::{AccessClaims, KeyManager, TokenError};
use crate::pair_key::PairKey;

use super::reject::Reject;

/// The query parameter a browser `EventSource` passes its token in (RFC 6750 §2.3).
pub const ACCESS_TOKEN_PARAM: &str = "access_token";

/// A request the gateway will serve, with everything needed to open the backend stream.
#[derive(Debug, Clone)]
pub(crate) struct Admission {
    /// The API as deployed (the view's, shared).
    pub route: Arc<Route>,
    /// The resource path under the API's base path, decoded, e.g. `/memory`.
    pub resource: String,
    /// The same resource as the client wrote it (percent-encoding kept), for the backend.
    pub upstream_resource: String,
    /// Whose endpoint of the route the request goes to (the route has it).
    endpoint_key: KeyType,
    /// The caller, unless a pre-released API was called without a token.
    pub caller: Option<Caller>,
}

impl Admission {
    /// The backend URL the resource is appended to.
    pub(crate) fn endpoint(&self) -> &str {
        self.route.endpoint(self.endpoint_key).unwrap_or_default()
    }

    /// The endpoint's URL, parsed when the view was built (the gateway joins the resource
    /// and the query to it).
    ///
    /// # Errors
    /// [`Reject::BackendUnreachable`] when the endpoint is no valid URL.
    pub(crate) fn endpoint_url(&self) -> Result<&reqwest::Url, Reject> {
        match self.route.endpoint_url(self.endpoint_key) {
            Some(Ok(url)) => Ok(url),
            Some(Err(why)) => Err(Reject::BackendUnreachable(why.clone())),
            None => Err(Reject::BackendUnreachable(
                "The API has no endpoint for this key type".to_string(),
            )),
        }
    }
}

/// A verified caller.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The token's claims.
    pub claims: Arc<AccessClaims>,
    /// The application's subscription to the API (absent only for pre-released APIs).
    pub subscription: Option<Arc<SubscriptionView>>,
}

/// The token of a request: from `Authorization: Bearer` or from `access_token` in the
/// query. Another scheme in `Authorization` counts as no token. A token sent more than once
/// (header and query, two headers, two query parameters) is refused as ambiguous, as RFC
/// 6750 §2 asks: which copy was checked must never be in doubt.
pub(crate) fn request_token(
    fields: super::fields::Fields<'_>,
    query: Option<&str>,
) -> Result<Option<String>, Reject> {
    // A value with bytes beyond visible ASCII is still a token sent (and refused as
    // invalid), not a missing one.
    let mut bearer = fields
        .get_all("authorization")
        .map(utf8_lossy)
        .filter_map(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_string())
        })
        .filter(|t| !t.is_empty());
    let first = bearer.next();
    let in_header = usize::from(first.is_some()) + bearer.count();
    let in_query = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|pair| pair.split('=').next() == Some(ACCESS_TOKEN_PARAM))
        .count();
    if in_header + in_query > 1 {
        return Err(Reject::AmbiguousCredentials);
    }
    if let Some(token) = first {
        return Ok(Some(token));
    }
    Ok(query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == ACCESS_TOKEN_PARAM)
        .map(|(_, v)| percent_decode(v))
        .filter(|t| !t.is_empty()))
}

/// `bytes` as text, invalid UTF-8 sequences replaced by U+FFFD: what
/// [`String::from_utf8_lossy`] answers, but valid text (every token, which is ASCII) is
/// checked by [`std::str::from_utf8`], which takes ASCII a word at a time, where
/// `from_utf8_lossy` walks it a byte at a time (a tenth of a stream open's instructions,
/// for a 1 KiB token).
pub(crate) fn utf8_lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Appends `query` without `access_token` (so the token never reaches the backend) to
/// `out`, its pairs joined to what `out` holds with `&`; empty pairs are dropped.
pub(crate) fn push_query_without_token(out: &mut String, query: &str) {
    for pair in pairs_without_token(query) {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(pair);
    }
}

/// The non-empty `&`-separated pairs of `query` (as written) but `access_token`'s.
pub(crate) fn pairs_without_token(query: &str) -> impl Iterator<Item = &str> {
    query.split('&').filter(|pair| {
        !pair.is_empty()
            && pair
                .split('=')
                .next()
                .is_some_and(|k| k != ACCESS_TOKEN_PARAM)
    })
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

/// Why a request path may not be routed, if it may not. The resource is appended to the
/// backend endpoint and resolved there as a URL, where `..` (also as `%2e%2e`, or with a
/// `;` parameter), `\` (taken as `/`) and, in many servers, `%2f` and `%5c` would climb
/// out of the API's topics and the endpoint's base path; and `//` makes the route
/// ambiguous. So none of them is routed.
pub(crate) fn path_problem(path: &str) -> Option<&'static str> {
    // Byte searches, not `str` patterns: this runs on every request, and a path is short.
    let bytes = path.as_bytes();
    if bytes.windows(2).any(|w| w == b"//") {
        return Some("empty path segments ('//') are not allowed");
    }
    if bytes.contains(&b'\\') {
        return Some("'\\' is not allowed in the path");
    }
    let encoded_separator = bytes.windows(3).any(|w| {
        w[0] == b'%'
            && matches!(
                (w[1], w[2].to_ascii_lowercase()),
                (b'2', b'f') | (b'5', b'c')
            )
    });
    if encoded_separator {
        return Some("encoded '/' or '\\' (%2F, %5C) is not allowed in the path");
    }
    if bytes.split(|b| *b == b'/').any(is_dot_segment) {
        return Some("'.' and '..' path segments (also as %2E) are not allowed");
    }
    None
}

/// `.` or `..`, each dot plain or `%2e`, ignoring a `;parameter`.
fn is_dot_segment(segment: &[u8]) -> bool {
    let mut rest = segment.split(|b| *b == b';').next().unwrap_or_default();
    let mut dots = 0;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(b".") {
            rest = after;
        } else if let Some((encoded, after)) = rest.split_at_checked(3)
            && encoded.eq_ignore_ascii_case(b"%2e")
        {
            rest = after;
        } else {
            return false;
        }
        dots += 1;
        if dots > 2 {
            return false;
        }
    }
    dots == 1 || dots == 2
}

/// The path a request is routed on: the request path with every percent-encoded octet
/// decoded (RFC 3986 §6.2.2: `%65` is `e`, `%C3%A9` and `%c3%a9` are `é`), so a path as a
/// browser sends it and as typed in UTF-8 route alike. A path whose octets do not decode
/// to UTF-8 is routed as written. Refused (400) when the raw path has a [`path_problem`]
/// (encoded `/`, `\` and dot segments are never decoded into routing).
pub(crate) fn normalise_path(raw: &str) -> Result<std::borrow::Cow<'_, str>, Reject> {
    if let Some(problem) = path_problem(raw) {
        return Err(Reject::BadRequest(format!(
            "The request path cannot be routed: {problem}"
        )));
    }
    if !raw.as_bytes().contains(&b'%') {
        return Ok(std::borrow::Cow::Borrowed(raw));
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2)))
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    Ok(match String::from_utf8(out) {
        Ok(decoded) => std::borrow::Cow::Owned(decoded),
        Err(_) => std::borrow::Cow::Borrowed(raw),
    })
}

/// The part of the raw request path after the segments of `base_path`: the resource as the
/// client wrote it. Segments line up because `/` is never percent-encoded in a routed path.
fn raw_resource<'a>(raw: &'a str, base_path: &str) -> &'a str {
    let segments = base_path.bytes().filter(|b| *b == b'/').count();
    let slashes = raw.bytes().enumerate().filter(|(_, b)| *b == b'/');
    match slashes.map(|(i, _)| i).nth(segments) {
        // At a `/`, so a char boundary.
        Some(i) => raw.get(i..).unwrap_or("/"),
        None => "/",
    }
}

/// A request path routed against one gateway view.
#[derive(Debug)]
pub(crate) struct Routed {
    /// The API deployed at the path's longest `/{context}/{version}` prefix (the view's).
    pub route: Arc<Route>,
    /// The resource path under the API's base path, decoded, e.g. `/memory`.
    pub resource: String,
}

/// Normalises the raw request path `raw` (see [`normalise_path`]) and finds the API
/// deployed there. Errors: the path's problem (400), or no API at the path (404).
pub(crate) fn route(view: &GatewayView, raw: &str) -> Result<Routed, Reject> {
    let path = normalise_path(raw)?;
    let Some((route, resource)) = view.route_for(&path) else {
        return Err(Reject::NotFound(
            "The requested resource is not available: no API is deployed at this path.".to_string(),
        ));
    };
    Ok(Routed {
        route: route.clone(),
        resource: resource.to_string(),
    })
}

/// Decides whether a request may be served: topic, method, lifecycle, token,
/// subscription and endpoint, in the order WSO2 checks them, for a path already routed
/// by [`route`] against the same `view`. Quotas are the caller's to check next. `raw` is
/// the raw request path; `nbf`/`iat` may be up to `clock_skew_secs` in the future.
pub(crate) fn admit(
    view: &GatewayView,
    keys: &KeyManager,
    method: &Method,
    raw: &str,
    routed: &Routed,
    token: Option<&str>,
    clock_skew_secs: i64,
) -> Result<Admission, Reject> {
    let route = &*routed.route;
    let resource = routed.resource.as_str();
    if !route.has_topic(resource) {
        return Err(Reject::NotFound(format!(
            "No matching resource found for given API Request: {} has no topic {resource}",
            route.base_path
        )));
    }
    if *method != Method::GET && *method != Method::HEAD {
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
    let upstream_resource = raw_resource(raw, &route.base_path).to_string();
    let admission = |endpoint_key: KeyType, caller| Admission {
        route: routed.route.clone(),
        resource: routed.resource.clone(),
        upstream_resource,
        endpoint_key,
        caller,
    };
    let Some(token) = token else {
        if prototype {
            // Pre-released APIs are tried without a token: production endpoint first.
            let endpoint_key = [KeyType::Production, KeyType::Sandbox]
                .into_iter()
                .find(|k| accepts(route, *k) && route.endpoint(*k).is_some());
            return match endpoint_key {
                Some(key) => Ok(admission(key, None)),
                None => Err(Reject::NoEndpoint(
                    "The pre-released API has no endpoint where it is deployed".to_string(),
                )),
            };
        }
        return Err(Reject::MissingCredentials);
    };
    let claims = keys
        .verify_cached_with_leeway(token, crate::catalog::now_millis() / 1000, clock_skew_secs)
        .map_err(|e| {
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
        .get(&(app_id.as_str(), route.api_id.as_str()) as &dyn PairKey)
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
    if route.endpoint(claims.keytype).is_none() {
        return Err(Reject::NoEndpoint(format!(
            "{label} key offered to the API with no {} endpoint",
            label.to_ascii_lowercase()
        )));
    }
    Ok(admission(
        claims.keytype,
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

/// What a live stream was admitted on, rechecked against every new view. Holds the
/// view's route, the verified claims and the subscription as they were (shared, nothing
/// copied), so rechecking looks everything up by borrowed keys and allocates nothing.
#[derive(Debug, Clone)]
pub(crate) struct Rights {
    route: Arc<Route>,
    caller: Option<CallerRights>,
}

#[derive(Debug, Clone)]
struct CallerRights {
    claims: Arc<AccessClaims>,
    subscription: Option<Arc<SubscriptionView>>,
}

impl Rights {
    /// The rights an admission granted.
    pub(crate) fn of(admission: &Admission) -> Self {
        Self {
            route: admission.route.clone(),
            caller: admission.caller.as_ref().map(|c| CallerRights {
                claims: c.claims.clone(),
                subscription: c.subscription.clone(),
            }),
        }
    }

    /// Why the stream must close under `view`, if it must. Allocates only to say why: a
    /// stream that may go on costs lookups by borrowed keys.
    pub(crate) fn lost(&self, view: &GatewayView) -> Option<String> {
        let Some(route) = view
            .routes
            .get(&self.route.base_path)
            .filter(|r| r.api_id == self.route.api_id)
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
        let claims = &caller.claims;
        if view.revoked.contains(&claims.jti) {
            return Some("the access token was revoked".to_string());
        }
        let app_id = claims.application.uuid.as_str();
        if !view.app_rate_limits.contains_key(app_id) {
            return Some("the application was deleted".to_string());
        }
        let current = view
            .subscriptions
            .get(&(app_id, self.route.api_id.as_str()) as &dyn PairKey);
        match (current, &caller.subscription) {
            (Some(s), Some(held)) if s.id != held.id => Some("the subscription was removed".into()),
            (None, Some(_)) => Some("the subscription was removed".to_string()),
            (None, None) if !prototype => Some("the API now needs a subscription".to_string()),
            (Some(s), _) if !s.status.allows(claims.keytype) => Some(match s.status {
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
    use crate::gateway::fields::Fields;
    use axum::http::HeaderValue;
    use axum::http::{HeaderMap, header};

    proptest::proptest! {
        /// The fast path answers what `String::from_utf8_lossy` answers, for any bytes:
        /// ASCII, valid UTF-8 and broken sequences mixed.
        #[test]
        fn utf8_lossy_is_from_utf8_lossy(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    0x20u8..0x7f,
                    proptest::num::u8::ANY,
                    proptest::sample::select(vec![0xc3u8, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f]),
                ],
                0..64,
            ),
        ) {
            proptest::prop_assert_eq!(utf8_lossy(&bytes), String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn the_token_comes_from_the_header_or_the_query_never_both() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            request_token(Fields::Map(&headers), Some("a=1&access_token=x%2Ey")),
            Ok(Some("x.y".into()))
        );
        assert_eq!(
            request_token(Fields::Map(&headers), Some("access_token=")),
            Ok(None)
        );
        assert_eq!(
            request_token(Fields::Map(&headers), Some("access_token=a&access_token=b")),
            Err(Reject::AmbiguousCredentials)
        );
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(
            request_token(Fields::Map(&headers), None),
            Ok(Some("abc".into()))
        );
        assert_eq!(
            request_token(Fields::Map(&headers), Some("access_token=q")),
            Err(Reject::AmbiguousCredentials)
        );
        headers.append(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer other"),
        );
        assert_eq!(
            request_token(Fields::Map(&headers), None),
            Err(Reject::AmbiguousCredentials)
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(request_token(Fields::Map(&headers), None), Ok(None));
        assert_eq!(
            request_token(Fields::Map(&headers), Some("access_token=q")),
            Ok(Some("q".into()))
        );
        // A token with bytes beyond visible ASCII was sent (and is refused by the check),
        // not missing: it was answered as missing credentials (900902).
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_bytes("Bearer tökén".as_bytes()).unwrap(),
        );
        assert!(
            matches!(request_token(Fields::Map(&headers), None), Ok(Some(t)) if t.starts_with('t'))
        );
    }

    #[test]
    fn access_token_is_removed_from_the_query_and_the_rest_kept() {
        let strip = |prefix: &str, query: &str| {
            let mut out = prefix.to_string();
            push_query_without_token(&mut out, query);
            out
        };
        assert_eq!(strip("", "a=1&access_token=x&b=%20"), "a=1&b=%20");
        assert_eq!(strip("", "access_token=x"), "");
        assert_eq!(strip("", "access_tokenx=1"), "access_tokenx=1");
        assert_eq!(strip("k=1", "&x=2&&access_token=y"), "k=1&x=2");
        assert_eq!(strip("k=1", "access_token=y"), "k=1");
    }

    #[test]
    fn paths_that_could_climb_out_of_the_resource_are_refused() {
        for bad in [
            "/a/1/../b",
            "/a/1/..",
            "/a/1/./b",
            "/a/1/%2e%2E/b",
            "/a/1/.%2e",
            "/a/1/..;x/b",
            "/a/1/x%2fy",
            "/a/1/x%5Cy",
            "/a/1/x\\y",
            "//a/1/b",
            "/a/1//b",
        ] {
            assert!(path_problem(bad).is_some(), "{bad}");
        }
        for good in [
            "/a/1/b",
            "/a/1/",
            "/a/1/...",
            "/a/1/.x",
            "/a/1/x..y",
            "/a/1/%2e2",
            "/a/1/caf\u{e9}",
            "/a/1/\u{e9}\u{e9}",
            "/a/1/.\u{e9}",
        ] {
            assert_eq!(path_problem(good), None, "{good}");
        }
    }

    #[test]
    fn paths_are_routed_decoded_in_either_hex_case() {
        assert_eq!(
            normalise_path("/caf%C3%A9/1.0.0/x").unwrap(),
            "/caf\u{e9}/1.0.0/x"
        );
        assert_eq!(
            normalise_path("/caf%c3%a9/1.0.0/x").unwrap(),
            "/caf\u{e9}/1.0.0/x"
        );
        assert_eq!(
            normalise_path("/%65vents/1.0.0/x").unwrap(),
            "/events/1.0.0/x"
        );
        assert_eq!(normalise_path("/caf\u{e9}/1/x").unwrap(), "/caf\u{e9}/1/x");
        assert_eq!(normalise_path("/a/1/100%").unwrap(), "/a/1/100%");
        assert_eq!(normalise_path("/a/1/%FF").unwrap(), "/a/1/%FF");
        assert_eq!(
            raw_resource("/caf%C3%A9/1.0.0/x%20y", "/caf\u{e9}/1.0.0"),
            "/x%20y"
        );
        assert_eq!(raw_resource("/a/1.0.0", "/a/1.0.0"), "/");
        assert_eq!(raw_resource("/a/1.0.0/", "/a/1.0.0"), "/");
        assert!(normalise_path("/a/1/x%2Fy").is_err());
        assert!(normalise_path("/a/1/%2E%2E").is_err());
        assert!(normalise_path("/a/1/%5c").is_err());
    }

    #[test]
    fn percent_decoding_leaves_broken_escapes_alone() {
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%41%zz"), "A%zz");
    }

    fn route() -> Route {
        Route {
            api_id: "api-1".into(),
            name: "Observer".into(),
            handle: "Observer:1.0.0".into(),
            base_path: "/observer/1.0.0".into(),
            state: LifecycleState::Published,
            revision_id: "rev-1".into(),
            revision_number: 1,
            production_endpoint: Some("http://127.0.0.1:1".into()),
            sandbox_endpoint: None,
            production_url: Some(crate::gateway::endpoint_url("http://127.0.0.1:1")),
            sandbox_url: None,
            topics: vec!["/memory".into()],
            accepts_production: true,
            accepts_sandbox: false,
            cors: Default::default(),
            backend_stream: Default::default(),
        }
    }

    fn subscription(status: SubscriptionStatus, id: &str) -> Arc<SubscriptionView> {
        Arc::new(SubscriptionView {
            id: id.into(),
            policy: "Gold".into(),
            quota: crate::catalog::Quota::Unlimited,
            status,
        })
    }

    fn view_with(status: SubscriptionStatus, subscription_id: &str) -> GatewayView {
        let route = route();
        let mut view = GatewayView::default();
        view.routes.insert(route.base_path.clone(), Arc::new(route));
        view.app_rate_limits.insert("app-1".into(), None);
        view.subscriptions.insert(
            ("app-1".into(), "api-1".into()),
            subscription(status, subscription_id),
        );
        view
    }

    /// The rights of a stream admitted on `view_with(Unblocked, "sub-1")`, as built from
    /// their own copies (not the view's), so a recheck must look them up again.
    fn rights() -> Rights {
        Rights {
            route: Arc::new(route()),
            caller: Some(CallerRights {
                claims: Arc::new(AccessClaims {
                    iss: "streamgate".into(),
                    sub: "admin".into(),
                    aud: "gateway".into(),
                    azp: "ck".into(),
                    iat: 0,
                    nbf: 0,
                    exp: i64::MAX,
                    jti: "jti-1".into(),
                    scope: String::new(),
                    keytype: KeyType::Production,
                    application: crate::keys::ApplicationClaim {
                        uuid: "app-1".into(),
                        name: "App".into(),
                        owner: "admin".into(),
                        tier: "Unlimited".into(),
                    },
                }),
                subscription: Some(subscription(SubscriptionStatus::Unblocked, "sub-1")),
            }),
        }
    }

    #[test]
    fn rights_are_rechecked_by_the_keys_built_at_admission() {
        let r = rights();
        assert_eq!(
            r.lost(&view_with(SubscriptionStatus::Unblocked, "sub-1")),
            None
        );
        assert_eq!(
            r.lost(&view_with(SubscriptionStatus::Unblocked, "sub-2"))
                .as_deref(),
            Some("the subscription was removed"),
            "a new subscription with another id is not the one admitted"
        );
        let mut view = view_with(SubscriptionStatus::Unblocked, "sub-1");
        view.subscriptions.clear();
        assert_eq!(
            r.lost(&view).as_deref(),
            Some("the subscription was removed")
        );
        assert_eq!(
            r.lost(&view_with(SubscriptionStatus::Blocked, "sub-1"))
                .as_deref(),
            Some("the subscription was blocked")
        );
        let mut view = view_with(SubscriptionStatus::Unblocked, "sub-1");
        view.revoked.insert("jti-1".into());
        assert_eq!(
            r.lost(&view).as_deref(),
            Some("the access token was revoked")
        );
        let mut view = view_with(SubscriptionStatus::Unblocked, "sub-1");
        view.app_rate_limits.clear();
        assert_eq!(
            r.lost(&view).as_deref(),
            Some("the application was deleted")
        );
        // The same subscription to another API does not count.
        let mut view = view_with(SubscriptionStatus::Unblocked, "sub-1");
        let sub = view
            .subscriptions
            .remove(&("app-1".to_string(), "api-1".to_string()));
        view.subscriptions
            .insert(("app-1".into(), "api-2".into()), sub.unwrap());
        assert_eq!(
            r.lost(&view).as_deref(),
            Some("the subscription was removed")
        );
    }
}
