//! CORS (the Fetch standard's CORS protocol) per API, in WSO2's `corsConfiguration`
//! shape. An API without an enabled configuration gets the gateway's default: any origin
//! (`Access-Control-Allow-Origin: *`), no credentials. An enabled one allows only its
//! origins, echoing the request's `Origin` with `Vary: Origin` (and
//! `Access-Control-Allow-Credentials: true` when configured); other origins are refused
//! with 403 before the backend is called.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};

use crate::catalog::CorsConfiguration;

use super::fields::Fields;

use super::reject::Reject;

/// How long browsers may cache a preflight answer.
const MAX_AGE: Duration = Duration::from_secs(3600);
/// Request headers allowed when the configuration lists none.
const DEFAULT_ALLOW_HEADERS: &str =
    "authorization, last-event-id, cache-control, accept, x-requested-with";
/// Methods allowed when the configuration lists none.
const DEFAULT_ALLOW_METHODS: &str = "GET, HEAD, OPTIONS";
/// Response headers a page may read.
const EXPOSE_HEADERS: &str = "retry-after, www-authenticate";

/// Whether a request is a CORS preflight: `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`.
pub(crate) fn is_preflight(method: &Method, fields: Fields<'_>) -> bool {
    method == Method::OPTIONS
        && fields.contains("origin")
        && fields.contains("access-control-request-method")
}

/// Refuses a request whose `Origin` (`origin`, its value) the API's enabled configuration
/// does not allow. Requests without `Origin` (not from a browser's cross-origin fetch)
/// pass.
pub(crate) fn check_origin(
    cors: Option<&CorsConfiguration>,
    origin: Option<&[u8]>,
) -> Result<(), Reject> {
    let (Some(cors), Some(origin)) = (cors, origin) else {
        return Ok(());
    };
    let origin = String::from_utf8_lossy(origin);
    if cors.allows_origin(&origin) {
        Ok(())
    } else {
        Err(Reject::CorsForbidden(format!(
            "The origin {origin} is not allowed by this API's CORS configuration"
        )))
    }
}

/// The answer headers of a preflight, or a refusal when the API's configuration does not
/// allow its origin, method or headers.
pub(crate) fn preflight(
    cors: Option<&CorsConfiguration>,
    fields: Fields<'_>,
) -> Result<HeaderMap, Reject> {
    let origin = fields.get("origin");
    check_origin(cors, origin)?;
    let mut out = HeaderMap::new();
    let (methods, allow_headers) = match cors {
        None => (
            DEFAULT_ALLOW_METHODS.to_string(),
            DEFAULT_ALLOW_HEADERS.to_string(),
        ),
        Some(cors) => {
            let methods = if cors.access_control_allow_methods.is_empty() {
                DEFAULT_ALLOW_METHODS.to_string()
            } else {
                cors.access_control_allow_methods.join(", ")
            };
            let allow_headers = if cors.access_control_allow_headers.is_empty() {
                DEFAULT_ALLOW_HEADERS.to_string()
            } else {
                cors.access_control_allow_headers.join(", ")
            };
            let asked = fields
                .get("access-control-request-method")
                .map(|v| String::from_utf8_lossy(v).trim().to_string())
                .unwrap_or_default();
            if !listed(&methods, &asked, true) {
                return Err(Reject::CorsForbidden(format!(
                    "The method {asked} is not allowed by this API's CORS configuration"
                )));
            }
            let asked_headers = fields
                .get("access-control-request-headers")
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default();
            if let Some(h) = asked_headers
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .find(|h| !listed(&allow_headers, h, false))
            {
                return Err(Reject::CorsForbidden(format!(
                    "The request header {h} is not allowed by this API's CORS configuration"
                )));
            }
            (methods, allow_headers)
        }
    };
    Allowance::of(cors, origin).apply(&mut out);
    insert(&mut out, header::ACCESS_CONTROL_ALLOW_METHODS, &methods);
    insert(
        &mut out,
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        &allow_headers,
    );
    insert(
        &mut out,
        header::ACCESS_CONTROL_MAX_AGE,
        &MAX_AGE.as_secs().to_string(),
    );
    // One `Vary` (replacing the `origin` one the allowance may have added).
    out.insert(
        header::VARY,
        HeaderValue::from_static(
            "origin, access-control-request-method, access-control-request-headers",
        ),
    );
    Ok(out)
}

/// Adds the CORS headers of an actual (non-preflight) answer to a request with `origin`
/// (its `Origin` header, if any).
pub(crate) fn decorate(
    out: &mut HeaderMap,
    cors: Option<&CorsConfiguration>,
    origin: Option<&[u8]>,
) {
    Allowance::of(cors, origin).decorate(out);
}

/// What an answer says of the request's origin (the Fetch standard's CORS protocol).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Allowance {
    /// No enabled configuration: `Access-Control-Allow-Origin: *`.
    Any,
    /// An enabled configuration and no allowed `Origin`: only `Vary: origin`.
    Vary,
    /// An enabled configuration that allows the request's `Origin`: echoed, after
    /// `Vary: origin`, with `Access-Control-Allow-Credentials: true` when configured.
    Echo {
        origin: HeaderValue,
        credentials: bool,
    },
}

impl Allowance {
    /// The allowance for a request with `origin` (its `Origin` value, if any).
    pub(crate) fn of(cors: Option<&CorsConfiguration>, origin: Option<&[u8]>) -> Self {
        let Some(cors) = cors else {
            return Allowance::Any;
        };
        let Some(origin) = origin else {
            return Allowance::Vary;
        };
        if !cors.allows_origin(&String::from_utf8_lossy(origin)) {
            return Allowance::Vary;
        }
        // A request's field value is a valid answer field value (the same rules).
        match HeaderValue::from_bytes(origin) {
            Ok(origin) => Allowance::Echo {
                origin,
                credentials: cors.access_control_allow_credentials,
            },
            Err(_) => Allowance::Vary,
        }
    }

    /// Adds an actual answer's CORS lines to `out`: the allowance's, then
    /// `Access-Control-Expose-Headers`.
    pub(crate) fn decorate(&self, out: &mut HeaderMap) {
        self.apply(out);
        insert(out, header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS);
    }

    /// Adds the allowance's lines to `out`.
    fn apply(&self, out: &mut HeaderMap) {
        match self {
            Allowance::Any => {
                out.insert(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                );
            }
            Allowance::Vary => {
                out.append(header::VARY, HeaderValue::from_static("origin"));
            }
            Allowance::Echo {
                origin,
                credentials,
            } => {
                out.append(header::VARY, HeaderValue::from_static("origin"));
                out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                if *credentials {
                    out.insert(
                        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                        HeaderValue::from_static("true"),
                    );
                }
            }
        }
    }

    /// The lines [`decorate`] adds, as HTTP/1.1 field lines (RFC 9112 §5) in its order, for
    /// an answer head written without a map.
    pub(crate) fn write_lines(&self, out: &mut Vec<u8>) {
        match self {
            Allowance::Any => out.extend_from_slice(b"access-control-allow-origin: *\r\n"),
            Allowance::Vary => out.extend_from_slice(b"vary: origin\r\n"),
            Allowance::Echo {
                origin,
                credentials,
            } => {
                out.extend_from_slice(b"vary: origin\r\naccess-control-allow-origin: ");
                out.extend_from_slice(origin.as_bytes());
                out.extend_from_slice(b"\r\n");
                if *credentials {
                    out.extend_from_slice(b"access-control-allow-credentials: true\r\n");
                }
            }
        }
        out.extend_from_slice(b"access-control-expose-headers: ");
        out.extend_from_slice(EXPOSE_HEADERS.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// Whether `item` is in the comma-separated `list` (`*` matches all), ASCII
/// case-insensitively unless `exact` (methods are case-sensitive, RFC 9110 §9.1).
fn listed(list: &str, item: &str, exact: bool) -> bool {
    list.split(',').map(str::trim).any(|l| {
        l == "*"
            || if exact {
                l == item
            } else {
                l.eq_ignore_ascii_case(item)
            }
    })
}

fn insert(out: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        out.insert(name, v);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn config(origins: &[&str], credentials: bool) -> CorsConfiguration {
        CorsConfiguration {
            cors_configuration_enabled: true,
            access_control_allow_origins: origins.iter().map(|s| s.to_string()).collect(),
            access_control_allow_credentials: credentials,
            access_control_allow_headers: Vec::new(),
            access_control_allow_methods: Vec::new(),
        }
    }

    fn request(origin: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        h.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("GET"),
        );
        h
    }

    #[test]
    fn an_allowed_origin_is_echoed_with_vary_and_credentials() {
        let cors = config(&["http://app.example:8000"], true);
        let mut out = HeaderMap::new();
        let req = request("http://app.example:8000");
        decorate(
            &mut out,
            Some(&cors),
            req.get(header::ORIGIN).map(HeaderValue::as_bytes),
        );
        assert_eq!(
            out["access-control-allow-origin"],
            "http://app.example:8000"
        );
        assert_eq!(out["access-control-allow-credentials"], "true");
        assert_eq!(out["vary"], "origin");
        assert!(check_origin(Some(&cors), Some(b"http://evil.example")).is_err());
        assert!(preflight(Some(&cors), Fields::Map(&request("http://evil.example"))).is_err());
        let mut asks_put = request("http://app.example:8000");
        asks_put.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("PUT"),
        );
        assert!(preflight(Some(&cors), Fields::Map(&asks_put)).is_err());
        let mut asks_header = request("http://app.example:8000");
        asks_header.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("last-event-id, x-custom"),
        );
        assert!(preflight(Some(&cors), Fields::Map(&asks_header)).is_err());
        assert!(check_origin(Some(&cors), None).is_ok());
    }

    #[test]
    fn the_default_allows_any_origin_without_credentials() {
        let mut out = HeaderMap::new();
        decorate(
            &mut out,
            None,
            request("http://any.example")
                .get(header::ORIGIN)
                .map(HeaderValue::as_bytes),
        );
        assert_eq!(out["access-control-allow-origin"], "*");
        assert!(out.get("access-control-allow-credentials").is_none());
        let pre = preflight(None, Fields::Map(&request("http://any.example"))).unwrap();
        assert_eq!(pre["access-control-allow-origin"], "*");
    }

    #[test]
    fn written_lines_are_the_decorated_maps() {
        let allowed = config(&["http://app.example:8000"], true);
        let no_credentials = config(&["http://app.example:8000"], false);
        let origin = Some(&b"http://app.example:8000"[..]);
        for (cors, origin) in [
            (None, origin),
            (None, None),
            (Some(&allowed), origin),
            (Some(&no_credentials), origin),
            (Some(&allowed), Some(&b"http://evil.example"[..])),
            (Some(&allowed), None),
        ] {
            let mut map = HeaderMap::new();
            decorate(&mut map, cors, origin);
            let mut from_map = Vec::new();
            for (name, value) in &map {
                from_map.extend_from_slice(name.as_str().as_bytes());
                from_map.extend_from_slice(b": ");
                from_map.extend_from_slice(value.as_bytes());
                from_map.extend_from_slice(b"\r\n");
            }
            let mut written = Vec::new();
            Allowance::of(cors, origin).write_lines(&mut written);
            assert_eq!(
                String::from_utf8(written).unwrap(),
                String::from_utf8(from_map).unwrap(),
                "{cors:?} {origin:?}"
            );
        }
    }
}
