//! SSE APIs, their immutable revisions, gateway environments and deployments.

use serde::{Deserialize, Serialize};

use super::{LifecycleState, Millis, RuleError, SubscriptionPolicy};

/// The topic a new SSE API gets: every resource, subscribe-only.
pub const DEFAULT_TOPIC: &str = "/*";

/// At most this many revisions per API (WSO2: the sixth is refused with 900351).
pub const MAX_REVISIONS: usize = 5;

/// Context prefixes that belong to the management API and so can't be an API's context.
pub const RESERVED_CONTEXTS: [&str; 4] = ["/api", "/oauth2", "/health", "/metrics"];

/// What a person or a script asks for when creating or updating an API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiDraft {
    /// Display name, e.g. `Observer`.
    pub name: String,
    /// URL prefix on the gateway, e.g. `/observer`.
    pub context: String,
    /// Version, the second path segment on the gateway, e.g. `1.0.0`.
    pub version: String,
    /// Free text.
    pub description: String,
    /// Where production tokens are sent.
    pub production_endpoint: Option<String>,
    /// Where sandbox tokens are sent.
    pub sandbox_endpoint: Option<String>,
    /// Business plans; empty means the default `AsyncUnlimited`.
    pub policies: Vec<String>,
    /// Subscribe-only topics; empty means the default `/*`.
    pub topics: Vec<String>,
}

impl ApiDraft {
    /// The API of WSO2's SSE tutorial (`seed/sse-api-tutorial.txt`, Step 1): `Observer` at
    /// `/observer`, version `1.0.0`, production and sandbox endpoints both
    /// `http://localhost:8080`, no plans, topics or description.
    pub fn tutorial() -> ApiDraft {
        ApiDraft {
            name: "Observer".into(),
            context: "/observer".into(),
            version: "1.0.0".into(),
            production_endpoint: Some("http://localhost:8080".into()),
            sandbox_endpoint: Some("http://localhost:8080".into()),
            ..ApiDraft::default()
        }
    }
}

/// An SSE API: the Publisher's working copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Api {
    /// Stable identifier (UUID).
    pub id: String,
    /// Display name.
    pub name: String,
    /// URL prefix on the gateway, starting with `/`.
    pub context: String,
    /// Version string.
    pub version: String,
    /// Free text.
    pub description: String,
    /// Production endpoint URL.
    pub production_endpoint: Option<String>,
    /// Sandbox endpoint URL.
    pub sandbox_endpoint: Option<String>,
    /// Business plans subscribers may pick.
    pub policies: Vec<String>,
    /// Subscribe-only topics (resource paths; `/*` is every resource).
    pub topics: Vec<String>,
    /// Where the API is in its lifecycle.
    pub lifecycle: LifecycleState,
    /// When it was created.
    pub created_at: Millis,
    /// When it last changed.
    pub updated_at: Millis,
    /// Per-API CORS (WSO2's `corsConfiguration`); absent in older data dirs, which load
    /// with it disabled (the gateway's default: any origin, no credentials).
    /// Boxed: most APIs keep the default, and `Api` travels in UI messages.
    #[serde(default)]
    pub cors: Box<CorsConfiguration>,
    /// Whether each client gets its own backend stream or all share one; absent in older
    /// data dirs, which load as [`BackendStream::PerClient`].
    #[serde(default)]
    pub backend_stream: BackendStream,
    /// The user who created it (WSO2's `provider`); absent in older data dirs, which load
    /// with `admin` (every API's provider then).
    #[serde(default = "default_provider")]
    pub provider: String,
}

fn default_provider() -> String {
    crate::catalog::user::ADMIN_USER.to_string()
}

/// How the gateway opens an API's backend stream (REST `backendStream`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendStream {
    /// `per-client`: each client's stream has a backend connection of its own.
    #[default]
    PerClient,
    /// `shared`: one backend stream per revision, resource path and query feeds every
    /// subscriber, each still admitted and metered on its own, with `Last-Event-ID`
    /// replay from the events the gateway holds.
    Shared,
}

impl BackendStream {
    /// Every mode, as written in REST bodies and on the command line.
    pub const ALLOWED: [&'static str; 2] = ["per-client", "shared"];

    /// The mode's name: `per-client` or `shared`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendStream::PerClient => "per-client",
            BackendStream::Shared => "shared",
        }
    }

    /// Parses a mode name (ASCII case-insensitive, surrounding spaces ignored); an unknown
    /// one is refused (invalid field `backendStream`) with the allowed values.
    pub fn parse(value: &str) -> Result<Self, RuleError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "per-client" => Ok(BackendStream::PerClient),
            "shared" => Ok(BackendStream::Shared),
            _ => Err(RuleError::invalid(
                "backendStream",
                format!(
                    "'{value}' is not a backend stream mode; allowed values: {}",
                    Self::ALLOWED.join(", ")
                ),
            )),
        }
    }

    /// One line saying what the mode does, for forms and `api show`.
    pub fn explain(self) -> &'static str {
        match self {
            BackendStream::PerClient => "each client gets its own backend connection",
            BackendStream::Shared => "one backend stream for all subscribers, each metered",
        }
    }
}

/// WSO2's `APICorsConfiguration`: which other origins a browser may open the API's streams
/// from. Disabled (the default), the gateway answers `Access-Control-Allow-Origin: *`
/// without credentials; enabled, only the listed origins are allowed (each echoed with
/// `Vary: Origin`), others get 403 before the backend is called.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CorsConfiguration {
    /// Whether this configuration applies (else the gateway's default).
    pub cors_configuration_enabled: bool,
    /// Allowed origins (`scheme://host[:port]`, RFC 6454), or `*` for any.
    pub access_control_allow_origins: Vec<String>,
    /// Whether credentials (cookies, `withCredentials`) are allowed: answers
    /// `Access-Control-Allow-Credentials: true`. Needs explicit origins, not `*`.
    pub access_control_allow_credentials: bool,
    /// Request headers a preflight may ask for (empty: the gateway's default list).
    pub access_control_allow_headers: Vec<String>,
    /// Methods a preflight may ask for (empty: `GET`, `HEAD`, `OPTIONS`).
    pub access_control_allow_methods: Vec<String>,
}

impl CorsConfiguration {
    /// Whether a request from `origin` (the `Origin` header's value) is allowed. Origins
    /// compare as ASCII case-insensitive strings, without a trailing `/`.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let origin = origin.trim().trim_end_matches('/');
        self.access_control_allow_origins
            .iter()
            .map(|o| o.trim().trim_end_matches('/'))
            .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    }
}

/// Checks a CORS configuration: each origin is `*` or `http(s)://host[:port]` without a
/// path; credentials need explicit origins (browsers refuse `*` with credentials); header
/// and method names are HTTP tokens (RFC 9110 §5.6.2). Errors name the field.
pub fn validate_cors(cors: &CorsConfiguration) -> Result<(), RuleError> {
    const FIELD: &str = "corsConfiguration";
    for origin in &cors.access_control_allow_origins {
        let o = origin.trim();
        if o == "*" {
            if cors.access_control_allow_credentials {
                return Err(RuleError::invalid(
                    FIELD,
                    "accessControlAllowCredentials needs explicit origins: browsers refuse '*' with credentials",
                ));
            }
            continue;
        }
        let rest = o
            .strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"));
        let valid = rest.is_some_and(|host| {
            let host = host.trim_end_matches('/');
            !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']) && host.is_ascii()
        });
        if !valid {
            return Err(RuleError::invalid(
                FIELD,
                format!(
                    "accessControlAllowOrigins: '{origin}' is not '*' or an origin such as https://app.example:8443"
                ),
            ));
        }
    }
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    for (name, list) in [
        (
            "accessControlAllowHeaders",
            &cors.access_control_allow_headers,
        ),
        (
            "accessControlAllowMethods",
            &cors.access_control_allow_methods,
        ),
    ] {
        if let Some(bad) = list.iter().find(|h| !token(h.trim())) {
            return Err(RuleError::invalid(
                FIELD,
                format!("{name}: '{bad}' is not a valid HTTP token"),
            ));
        }
    }
    Ok(())
}

impl Api {
    /// A new API in state CREATED from a draft that [`validate_api`] accepted.
    pub fn from_draft(id: String, draft: ApiDraft, now: Millis) -> Self {
        let mut api = Api {
            id,
            name: String::new(),
            context: String::new(),
            version: String::new(),
            description: String::new(),
            production_endpoint: None,
            sandbox_endpoint: None,
            policies: Vec::new(),
            topics: Vec::new(),
            lifecycle: LifecycleState::Created,
            created_at: now,
            updated_at: now,
            cors: Box::default(),
            backend_stream: BackendStream::PerClient,
            provider: default_provider(),
        };
        api.apply_draft(draft, now);
        api
    }

    /// Replaces the editable fields with a draft's, normalised.
    pub fn apply_draft(&mut self, draft: ApiDraft, now: Millis) {
        self.name = draft.name.trim().to_string();
        self.context = normalise_context(&draft.context);
        self.version = draft.version.trim().to_string();
        self.description = draft.description;
        self.production_endpoint = draft.production_endpoint.map(|u| u.trim().to_string());
        self.sandbox_endpoint = draft.sandbox_endpoint.map(|u| u.trim().to_string());
        self.policies = if draft.policies.is_empty() {
            vec!["AsyncUnlimited".to_string()]
        } else {
            draft.policies
        };
        self.topics = if draft.topics.is_empty() {
            vec![DEFAULT_TOPIC.to_string()]
        } else {
            draft.topics
        };
        self.updated_at = now;
    }

    /// The draft that would recreate this API's editable fields.
    pub fn to_draft(&self) -> ApiDraft {
        ApiDraft {
            name: self.name.clone(),
            context: self.context.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            production_endpoint: self.production_endpoint.clone(),
            sandbox_endpoint: self.sandbox_endpoint.clone(),
            policies: self.policies.clone(),
            topics: self.topics.clone(),
        }
    }

    /// `Name:version`, the handle the CLI accepts for an API.
    pub fn handle(&self) -> String {
        format!("{}:{}", self.name, self.version)
    }

    /// The gateway path prefix: `/{context}/{version}`, or, when the context holds the
    /// `{version}` placeholder (WSO2's versioned context template), the context with the
    /// version in its place.
    pub fn base_path(&self) -> String {
        gateway_path(&self.context, &self.version)
    }

    /// The resource a try-out asks for (the TUI's Try it and its curl command): the first
    /// topic that names one resource (no `*` wildcard, no `{parameter}`), else `/memory`,
    /// the resource of the tutorial's sample backend.
    pub fn try_resource(&self) -> &str {
        self.topics
            .iter()
            .map(String::as_str)
            .find(|t| t.starts_with('/') && !t.contains(['*', '{', '}']))
            .unwrap_or(TRY_RESOURCE)
    }

    /// Whether `resource` (e.g. `/memory`) is one of the API's topics.
    pub fn has_topic(&self, resource: &str) -> bool {
        self.topics.iter().any(|t| topic_matches(t, resource))
    }
}

/// Whether a topic pattern (`/*`, `/memory`, `/prices/*`) matches a resource path.
pub fn topic_matches(topic: &str, resource: &str) -> bool {
    match topic.strip_suffix('*') {
        Some(prefix) => resource.starts_with(prefix) || resource == prefix.trim_end_matches('/'),
        None => topic == resource,
    }
}

/// `observer` and ` /observer/ ` both become `/observer`.
fn normalise_context(context: &str) -> String {
    let trimmed = context.trim().trim_end_matches('/');
    if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    }
}

/// Checks every field of a draft, naming the first field that is wrong.
pub fn validate_api(draft: &ApiDraft, plans: &[SubscriptionPolicy]) -> Result<(), RuleError> {
    let name = draft.name.trim();
    if name.is_empty() {
        return Err(RuleError::invalid("name", "the name must not be empty"));
    }
    if name.chars().count() > 60 {
        return Err(RuleError::invalid(
            "name",
            "the name must be at most 60 characters",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(RuleError::invalid(
            "name",
            "the name must not contain control characters",
        ));
    }
    validate_context(&draft.context)?;
    let version = draft.version.trim();
    if version.is_empty() {
        return Err(RuleError::invalid(
            "version",
            "the version must not be empty",
        ));
    }
    if version.len() > 30 {
        return Err(RuleError::invalid(
            "version",
            "the version must be at most 30 characters",
        ));
    }
    if version
        .chars()
        .any(|c| c == '/' || c.is_whitespace() || c.is_control() || c == '?' || c == '#')
    {
        return Err(RuleError::invalid(
            "version",
            format!("'{version}' must not contain '/', '?', '#' or spaces"),
        ));
    }
    if version == "." || version == ".." || version.contains(['%', '\\']) {
        return Err(RuleError::invalid(
            "version",
            format!("'{version}' must not be '.' or '..' or contain '%' or '\\'"),
        ));
    }
    if draft.production_endpoint.is_none() && draft.sandbox_endpoint.is_none() {
        return Err(RuleError::invalid(
            "endpoint",
            "give at least one endpoint (production or sandbox)",
        ));
    }
    if let Some(url) = &draft.production_endpoint {
        validate_endpoint("productionEndpoint", url)?;
    }
    if let Some(url) = &draft.sandbox_endpoint {
        validate_endpoint("sandboxEndpoint", url)?;
    }
    for policy in &draft.policies {
        if !plans.iter().any(|p| &p.name == policy) {
            let known: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
            return Err(RuleError::invalid(
                "policies",
                format!("unknown plan '{policy}'; known plans: {}", known.join(", ")),
            ));
        }
    }
    for topic in &draft.topics {
        if !topic.starts_with('/') || topic.chars().any(char::is_whitespace) {
            return Err(RuleError::invalid(
                "topics",
                format!("topic '{topic}' must start with '/' and contain no spaces"),
            ));
        }
    }
    Ok(())
}

fn validate_context(context: &str) -> Result<(), RuleError> {
    let ctx = context.trim();
    if ctx.is_empty() || ctx == "/" {
        return Err(RuleError::invalid(
            "context",
            "the context must not be empty",
        ));
    }
    if !ctx.starts_with('/') {
        return Err(RuleError::invalid(
            "context",
            format!("the context must start with '/', e.g. '/{ctx}'"),
        ));
    }
    if ctx.len() > 100 {
        return Err(RuleError::invalid(
            "context",
            "the context must be at most 100 characters",
        ));
    }
    if ctx.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(RuleError::invalid(
            "context",
            "the context must not contain spaces or control characters",
        ));
    }
    let without_version = ctx.replacen(VERSION_PLACEHOLDER, "", 1);
    if without_version.contains(['{', '}'])
        || (ctx.contains(VERSION_PLACEHOLDER)
            && !ctx.split('/').any(|seg| seg == VERSION_PLACEHOLDER))
    {
        return Err(RuleError::invalid(
            "context",
            format!(
                "the context may hold braces only as one whole '{VERSION_PLACEHOLDER}' \
                 segment, where the version goes (e.g. '/observer/{VERSION_PLACEHOLDER}/memory')"
            ),
        ));
    }
    if ctx.contains('?') || ctx.contains('#') {
        return Err(RuleError::invalid(
            "context",
            "the context must not contain a query ('?') or fragment ('#')",
        ));
    }
    if ctx.contains(['%', '\\']) {
        return Err(RuleError::invalid(
            "context",
            "the context must not contain '%' or '\\' (the gateway routes no such path)",
        ));
    }
    if ctx.contains("//") || ctx.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(RuleError::invalid(
            "context",
            "the context must not contain empty, '.' or '..' segments",
        ));
    }
    let normal = normalise_context(ctx).to_ascii_lowercase();
    for reserved in RESERVED_CONTEXTS {
        if normal == reserved || normal.starts_with(&format!("{reserved}/")) {
            return Err(RuleError::invalid(
                "context",
                format!("'{reserved}' is reserved for the management API; choose another context"),
            ));
        }
    }
    Ok(())
}

fn validate_endpoint(field: &'static str, url: &str) -> Result<(), RuleError> {
    let url = url.trim();
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            RuleError::invalid(
                field,
                format!("'{url}' must be an absolute http:// or https:// URL"),
            )
        })?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host_only = if host.starts_with('[') {
        host.split(']')
            .next()
            .unwrap_or_default()
            .trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or_default()
    };
    if host_only.is_empty() {
        return Err(RuleError::invalid(field, format!("'{url}' has no host")));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(RuleError::invalid(
            field,
            format!("'{url}' must not contain spaces or control characters"),
        ));
    }
    if authority.contains('@') {
        return Err(RuleError::invalid(
            field,
            format!(
                "'{url}' carries credentials (user@ or user:password@), which the gateway would \
                 not send to the backend; give the URL without them"
            ),
        ));
    }
    if let Some(port) = host
        .strip_prefix('[')
        .and_then(|h| h.split("]:").nth(1))
        .or_else(|| {
            (!host.starts_with('['))
                .then(|| host.split_once(':').map(|(_, p)| p))
                .flatten()
        })
        && port.parse::<u16>().is_err()
    {
        return Err(RuleError::invalid(
            field,
            format!("'{url}' has an invalid port '{port}'"),
        ));
    }
    Ok(())
}

/// Checks that `draft` may take its name and its gateway path beside the other APIs:
/// `others`, their working copies, and `revisions`, their revisions (each may be deployed
/// at any time, whatever the working copy says now).
///
/// # Errors
/// A conflict (409) when another API has the same name and version (code 900300), or when
/// the draft's gateway path `/{context}/{version}` is another's working copy's or
/// revision's, or lies inside it or contains it segment by segment (code 900250): the
/// gateway routes a request to the API at its path's longest such prefix, so one API would
/// serve, or take, the other's resources. Contexts compare without regard to case.
pub fn check_api_unique(
    draft: &ApiDraft,
    others: &[&Api],
    revisions: &[&Revision],
) -> Result<(), RuleError> {
    let context = normalise_context(&draft.context);
    let version = draft.version.trim();
    let name = draft.name.trim();
    let base = gateway_base(&context, version);
    let taken = others
        .iter()
        .map(|a| (*a, None))
        .chain(revisions.iter().map(|r| (&r.snapshot, Some(r.number))));
    for (other, revision) in taken {
        let other_base = gateway_base(&other.context, &other.version);
        let whose = match revision {
            Some(n) => format!("revision {n} of API '{}'", other.name),
            None => format!("API '{}'", other.name),
        };
        if other_base == base {
            return Err(RuleError::conflict(
                900250,
                format!("context '{context}' with version '{version}' is already used by {whose}"),
            ));
        }
        if nested(&base, &other_base) || nested(&other_base, &base) {
            return Err(RuleError::conflict(
                900250,
                format!(
                    "the gateway path '{}' overlaps '{}' of {whose}: one API's path may not \
                     lie inside another's",
                    gateway_path(&context, version),
                    gateway_path(&other.context, &other.version)
                ),
            ));
        }
    }
    for other in others {
        if other.version == version && other.name.eq_ignore_ascii_case(name) {
            return Err(RuleError::conflict(
                900300,
                format!("an API named '{name}' with version '{version}' already exists"),
            ));
        }
    }
    Ok(())
}

/// The resource a try-out asks for when no topic names one: the sample backend's.
pub const TRY_RESOURCE: &str = "/memory";

/// The placeholder for the version in a context (WSO2's context template).
pub const VERSION_PLACEHOLDER: &str = "{version}";

/// The gateway path of `context` and `version`: the context with the version in place of
/// [`VERSION_PLACEHOLDER`] when it holds one, else `/{context}/{version}`.
pub fn gateway_path(context: &str, version: &str) -> String {
    if context.contains(VERSION_PLACEHOLDER) {
        context.replacen(VERSION_PLACEHOLDER, version, 1)
    } else {
        format!("{context}/{version}")
    }
}

/// An API's gateway base path for comparisons ([`gateway_path`]), lower case.
fn gateway_base(context: &str, version: &str) -> String {
    gateway_path(&normalise_context(context), version.trim()).to_ascii_lowercase()
}

/// Whether path `inner` lies inside path `outer`, segment by segment.
fn nested(inner: &str, outer: &str) -> bool {
    inner.len() > outer.len()
        && inner.starts_with(outer)
        && inner.as_bytes().get(outer.len()) == Some(&b'/')
}

/// An immutable snapshot of an API, the thing that gets deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    /// Stable identifier (UUID).
    pub id: String,
    /// The API it snapshots.
    pub api_id: String,
    /// 1, 2, 3 ... per API; shown as "Revision N".
    pub number: u32,
    /// Free text.
    pub description: String,
    /// When it was made.
    pub created_at: Millis,
    /// The API as it was.
    pub snapshot: Api,
}

impl Revision {
    /// "Revision 3".
    pub fn display_name(&self) -> String {
        format!("Revision {}", self.number)
    }
}

/// Refuses a sixth revision.
pub fn check_revision_limit(existing: usize) -> Result<(), RuleError> {
    if existing >= MAX_REVISIONS {
        return Err(RuleError::conflict(
            900351,
            format!(
                "an API may have at most {MAX_REVISIONS} revisions; delete an undeployed revision first"
            ),
        ));
    }
    Ok(())
}

/// Refuses to delete a deployed revision.
pub fn check_can_delete_revision(
    revision: &Revision,
    deployments: &[Deployment],
) -> Result<(), RuleError> {
    let envs: Vec<&str> = deployments
        .iter()
        .filter(|d| d.revision_id == revision.id)
        .map(|d| d.environment.as_str())
        .collect();
    if !envs.is_empty() {
        return Err(RuleError::conflict(
            900348,
            format!(
                "{} is deployed to {}; undeploy it before deleting it",
                revision.display_name(),
                envs.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Which key types a gateway environment accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnvironmentKind {
    /// Production and sandbox keys alike.
    Hybrid,
    /// Production keys only.
    Production,
    /// Sandbox keys only.
    Sandbox,
}

/// A gateway environment that revisions are deployed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// Its name, e.g. `Production and Sandbox`.
    pub name: String,
    /// The name shown to people.
    pub display_name: String,
    /// The virtual host, e.g. `localhost`.
    pub vhost: String,
    /// Key types accepted.
    pub kind: EnvironmentKind,
}

/// The default environments: one hybrid gateway, vhost `localhost`, as in the tutorial.
pub fn default_environments() -> Vec<Environment> {
    vec![Environment {
        name: "Production and Sandbox".to_string(),
        display_name: "Production and Sandbox".to_string(),
        vhost: "localhost".to_string(),
        kind: EnvironmentKind::Hybrid,
    }]
}

/// Where a revision is to be deployed: one entry of WSO2's `deploy-revision` body
/// (`APIRevisionDeployment`: `name`, `vhost`, `displayOnDevportal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployTarget {
    /// The gateway environment's name, e.g. `Production and Sandbox`.
    pub environment: String,
    /// The virtual host; empty means the environment's own.
    pub vhost: String,
    /// Whether the Developer Portal shows this deployment's URL.
    pub display_on_devportal: bool,
}

impl DeployTarget {
    /// A target on `environment` with its own vhost, shown on the Developer Portal.
    pub fn new(environment: impl Into<String>, vhost: impl Into<String>) -> DeployTarget {
        DeployTarget {
            environment: environment.into(),
            vhost: vhost.into(),
            display_on_devportal: true,
        }
    }
}

/// A revision deployed to an environment. One per (API, environment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// The API.
    pub api_id: String,
    /// The revision served there.
    pub revision_id: String,
    /// The environment's name.
    pub environment: String,
    /// The vhost chosen.
    pub vhost: String,
    /// Whether the Developer Portal shows this gateway URL.
    pub display_on_devportal: bool,
    /// When it was deployed.
    pub deployed_at: Millis,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::catalog::builtin_subscription_policies;

    #[test]
    fn an_api_stored_before_backend_stream_loads_as_per_client() {
        let mut api = Api::from_draft("id1".into(), observer(), 1);
        api.backend_stream = BackendStream::Shared;
        let mut json = serde_json::to_value(&api).unwrap();
        assert_eq!(json["backend_stream"], "shared");
        json.as_object_mut().unwrap().remove("backend_stream");
        let loaded: Api = serde_json::from_value(json).unwrap();
        assert_eq!(loaded.backend_stream, BackendStream::PerClient);
        assert_eq!(BackendStream::parse(" Shared "), Ok(BackendStream::Shared));
        let err = BackendStream::parse("fanout").unwrap_err().to_string();
        assert!(err.contains("per-client, shared"), "{err}");
    }

    #[test]
    fn an_api_stored_before_cors_loads_with_cors_disabled() {
        let api = Api::from_draft("id1".into(), observer(), 1);
        let mut json = serde_json::to_value(&api).unwrap();
        json.as_object_mut().unwrap().remove("cors");
        let loaded: Api = serde_json::from_value(json).unwrap();
        assert_eq!(*loaded.cors, CorsConfiguration::default());
        assert!(!loaded.cors.cors_configuration_enabled);
    }

    #[test]
    fn cors_configurations_are_checked() {
        let mut cors = CorsConfiguration {
            cors_configuration_enabled: true,
            access_control_allow_origins: vec!["https://app.example:8443".into()],
            access_control_allow_credentials: true,
            access_control_allow_headers: vec!["authorization".into()],
            access_control_allow_methods: vec!["GET".into()],
        };
        assert!(validate_cors(&cors).is_ok());
        assert!(cors.allows_origin("https://APP.example:8443"));
        assert!(!cors.allows_origin("https://app.example"));
        cors.access_control_allow_origins = vec!["*".into()];
        assert!(validate_cors(&cors).is_err());
        cors.access_control_allow_credentials = false;
        assert!(validate_cors(&cors).is_ok());
        cors.access_control_allow_origins = vec!["app.example/path".into()];
        assert!(validate_cors(&cors).is_err());
        cors.access_control_allow_origins = vec!["https://a.example".into()];
        cors.access_control_allow_headers = vec!["bad header".into()];
        assert!(validate_cors(&cors).is_err());
    }

    fn observer() -> ApiDraft {
        ApiDraft::tutorial()
    }

    fn field_of(draft: &ApiDraft) -> (&'static str, String) {
        match validate_api(draft, &builtin_subscription_policies()) {
            Err(RuleError::Invalid { field, message }) => (field, message),
            other => panic!("expected invalid, got {other:?} for {draft:?}"),
        }
    }

    #[test]
    fn the_tutorial_api_is_valid_and_gets_the_defaults() {
        assert_eq!(
            validate_api(&observer(), &builtin_subscription_policies()),
            Ok(())
        );
        let api = Api::from_draft("id".into(), observer(), 1);
        assert_eq!(api.policies, vec!["AsyncUnlimited"]);
        assert_eq!(api.topics, vec![DEFAULT_TOPIC]);
        assert_eq!(api.lifecycle, LifecycleState::Created);
        assert_eq!(api.base_path(), "/observer/1.0.0");
        assert_eq!(api.handle(), "Observer:1.0.0");
    }

    #[test]
    fn each_bad_field_is_named_with_a_specific_message() {
        type Case = (Box<dyn Fn(&mut ApiDraft)>, &'static str, &'static str);
        let cases: Vec<Case> = vec![
            (
                Box::new(|d| d.name = "  ".into()),
                "name",
                "must not be empty",
            ),
            (Box::new(|d| d.name = "x".repeat(61)), "name", "at most 60"),
            (
                Box::new(|d| d.name = "a\u{7}b".into()),
                "name",
                "control characters",
            ),
            (
                Box::new(|d| d.context = "observer".into()),
                "context",
                "start with '/'",
            ),
            (
                Box::new(|d| d.context = "/obs erver".into()),
                "context",
                "spaces",
            ),
            (
                Box::new(|d| d.context = "/obs?x=1".into()),
                "context",
                "query",
            ),
            (
                Box::new(|d| d.context = "/obs#x".into()),
                "context",
                "fragment",
            ),
            (
                Box::new(|d| d.context = "/api".into()),
                "context",
                "reserved",
            ),
            (
                Box::new(|d| d.context = "/oauth2/x".into()),
                "context",
                "reserved",
            ),
            (
                Box::new(|d| d.context = "/health".into()),
                "context",
                "reserved",
            ),
            (
                Box::new(|d| d.context = "/metrics".into()),
                "context",
                "reserved",
            ),
            (
                Box::new(|d| d.context = "/a/../b".into()),
                "context",
                "'..'",
            ),
            (
                Box::new(|d| d.context = "".into()),
                "context",
                "must not be empty",
            ),
            (
                Box::new(|d| d.version = "".into()),
                "version",
                "must not be empty",
            ),
            (Box::new(|d| d.version = "1/0".into()), "version", "'/'"),
            (Box::new(|d| d.version = "1 0".into()), "version", "spaces"),
            (Box::new(|d| d.version = "..".into()), "version", "'..'"),
            (Box::new(|d| d.version = "%2e".into()), "version", "'%'"),
            (
                Box::new(|d| d.context = "/a/%2e%2e/b".into()),
                "context",
                "'%'",
            ),
            (Box::new(|d| d.context = "/a\\b".into()), "context", "'\\'"),
            (
                Box::new(|d| {
                    d.production_endpoint = None;
                    d.sandbox_endpoint = None;
                }),
                "endpoint",
                "at least one endpoint",
            ),
            (
                Box::new(|d| d.production_endpoint = Some("localhost:8080".into())),
                "productionEndpoint",
                "absolute http:// or https://",
            ),
            (
                Box::new(|d| d.production_endpoint = Some("ftp://h/x".into())),
                "productionEndpoint",
                "absolute",
            ),
            (
                Box::new(|d| d.sandbox_endpoint = Some("http:///memory".into())),
                "sandboxEndpoint",
                "no host",
            ),
            (
                Box::new(|d| d.sandbox_endpoint = Some("http://h:99999".into())),
                "sandboxEndpoint",
                "invalid port",
            ),
            (
                Box::new(|d| d.policies = vec!["AsyncPlatinum".into()]),
                "policies",
                "unknown plan 'AsyncPlatinum'",
            ),
            (
                Box::new(|d| d.topics = vec!["memory".into()]),
                "topics",
                "start with '/'",
            ),
        ];
        for (change, field, needle) in cases {
            let mut draft = observer();
            change(&mut draft);
            let (f, message) = field_of(&draft);
            assert_eq!(f, field, "{draft:?}: {message}");
            assert!(
                message.contains(needle),
                "{field}: {message} lacks {needle}"
            );
        }
    }

    #[test]
    fn contexts_like_apis_are_not_mistaken_for_reserved_ones() {
        let mut draft = observer();
        draft.context = "/apis-weather".into();
        assert_eq!(
            validate_api(&draft, &builtin_subscription_policies()),
            Ok(())
        );
        draft.production_endpoint = Some("https://[::1]:8443/x".into());
        assert_eq!(
            validate_api(&draft, &builtin_subscription_policies()),
            Ok(())
        );
    }

    #[test]
    fn context_and_name_must_be_unique_per_version() {
        let existing = Api::from_draft("a".into(), observer(), 1);
        let mut same_context = observer();
        same_context.name = "Other".into();
        let err = check_api_unique(&same_context, &[&existing], &[]).expect_err("dup context");
        assert!(err.to_string().contains("context '/observer'"), "{err}");
        let mut same_name = observer();
        same_name.context = "/other".into();
        let err = check_api_unique(&same_name, &[&existing], &[]).expect_err("dup name");
        assert!(err.to_string().contains("named 'Observer'"), "{err}");
        let mut next_version = observer();
        next_version.version = "2.0.0".into();
        assert_eq!(check_api_unique(&next_version, &[&existing], &[]), Ok(()));
    }

    #[test]
    fn a_try_out_asks_for_the_first_topic_that_names_one_resource() {
        let mut api = Api::from_draft("a".into(), observer(), 1);
        assert_eq!(api.try_resource(), "/memory");
        api.topics = vec!["/*".into(), "/prices/{symbol}".into(), "/news".into()];
        assert_eq!(api.try_resource(), "/news");
    }

    #[test]
    fn a_version_placeholder_in_the_context_places_the_version() {
        let plans = builtin_subscription_policies();
        let mut draft = observer();
        draft.context = "/obs/{version}/memory".into();
        assert_eq!(validate_api(&draft, &plans), Ok(()));
        let api = Api::from_draft("a".into(), draft.clone(), 1);
        assert_eq!(api.base_path(), "/obs/1.0.0/memory");
        assert_eq!(
            Api::from_draft("b".into(), observer(), 1).base_path(),
            "/observer/1.0.0"
        );
        for bad in [
            "/obs/{version}x",
            "/obs/{ver}",
            "/obs/{version}/{version}",
            "/o}",
        ] {
            draft.context = bad.into();
            let err = validate_api(&draft, &plans).expect_err(bad);
            assert!(
                err.to_string().contains("'{version}' segment"),
                "{bad}: {err}"
            );
        }
        // The placed path is what two APIs may not share.
        let mut same = observer();
        same.name = "Same".into();
        same.context = "/observer/{version}".into();
        let existing = Api::from_draft("c".into(), observer(), 1);
        assert!(check_api_unique(&same, &[&existing], &[]).is_err());
        draft.context = "/obs\u{0}".into();
        let err = validate_api(&draft, &plans).expect_err("NUL");
        assert!(err.to_string().contains("control characters"), "{err}");
        let mut with_user = observer();
        with_user.production_endpoint = Some("http://user:pw@127.0.0.1:8080/x".into());
        let err = validate_api(&with_user, &plans).expect_err("credentials");
        assert!(err.to_string().contains("carries credentials"), "{err}");
    }

    #[test]
    fn a_gateway_path_taken_by_a_revision_or_nested_in_another_is_refused() {
        // Another API's working copy moved to /moved, but its revision 1 still holds
        // /observer/1.0.0 (deployed, or deployable at any time).
        let mut moved = Api::from_draft("a".into(), observer(), 1);
        let revision = Revision {
            id: "r".into(),
            api_id: "a".into(),
            number: 1,
            description: String::new(),
            created_at: 1,
            snapshot: moved.clone(),
        };
        moved.context = "/moved".into();
        let mut taker = observer();
        taker.name = "Taker".into();
        let err = check_api_unique(&taker, &[&moved], &[&revision]).expect_err("revision's path");
        assert_eq!(
            err.to_string(),
            "context '/observer' with version '1.0.0' is already used by revision 1 of API 'Observer'"
        );
        // Inside another API's path, and around it; case does not matter.
        for (context, version) in [("/Observer/1.0.0", "x"), ("/observer", "1.0.0/")] {
            let mut nested_draft = observer();
            nested_draft.name = "Nested".into();
            nested_draft.context = context.into();
            nested_draft.version = version.into();
            let err = check_api_unique(&nested_draft, &[], &[&revision]);
            assert!(
                matches!(err, Err(RuleError::Conflict { code: 900250, .. })),
                "{context} {version}: {err:?}"
            );
        }
        let mut outer = observer();
        outer.name = "Outer".into();
        outer.context = "/observer".into();
        outer.version = "v".into();
        let existing = Api::from_draft("b".into(), observer(), 1);
        let mut inner = observer();
        inner.name = "Inner".into();
        inner.context = "/observer/1.0.0/deep".into();
        let err = check_api_unique(&inner, &[&existing], &[]).expect_err("inside");
        assert!(
            err.to_string().contains("overlaps '/observer/1.0.0'"),
            "{err}"
        );
        // A path that only shares a prefix of characters is fine.
        let mut sibling = observer();
        sibling.name = "Sibling".into();
        sibling.context = "/observer2".into();
        assert_eq!(
            check_api_unique(&sibling, &[&existing], &[&revision]),
            Ok(())
        );
        assert_eq!(check_api_unique(&outer, &[&existing], &[&revision]), Ok(()));
    }

    #[test]
    fn a_sixth_revision_is_refused_with_900351() {
        for n in 0..MAX_REVISIONS {
            assert_eq!(check_revision_limit(n), Ok(()));
        }
        assert!(matches!(
            check_revision_limit(MAX_REVISIONS),
            Err(RuleError::Conflict { code: 900351, .. })
        ));
    }

    #[test]
    fn a_deployed_revision_cannot_be_deleted() {
        let api = Api::from_draft("a".into(), observer(), 1);
        let rev = Revision {
            id: "r1".into(),
            api_id: "a".into(),
            number: 1,
            description: String::new(),
            created_at: 1,
            snapshot: api,
        };
        let dep = Deployment {
            api_id: "a".into(),
            revision_id: "r1".into(),
            environment: "Production and Sandbox".into(),
            vhost: "localhost".into(),
            display_on_devportal: true,
            deployed_at: 2,
        };
        let err =
            check_can_delete_revision(&rev, std::slice::from_ref(&dep)).expect_err("deployed");
        assert!(matches!(err, RuleError::Conflict { code: 900348, .. }));
        assert!(err.to_string().contains("Production and Sandbox"));
        assert_eq!(check_can_delete_revision(&rev, &[]), Ok(()));
    }

    #[test]
    fn topics_match_wildcards_and_exact_paths() {
        assert!(topic_matches("/*", "/memory"));
        assert!(topic_matches("/prices/*", "/prices/eur"));
        assert!(topic_matches("/prices/*", "/prices"));
        assert!(!topic_matches("/prices/*", "/pricesx"));
        assert!(topic_matches("/memory", "/memory"));
        assert!(!topic_matches("/memory", "/cpu"));
    }
}
