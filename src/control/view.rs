//! The gateway's view of the catalog: an immutable snapshot that control rebuilds after
//! every change and swaps in atomically, so the data plane never reads the store.

use crate::fast_map::{FastHashMap, FastHashSet};
use std::collections::HashMap;
use std::sync::Arc;

use crate::catalog::{
    EnvironmentKind, KeyType, LifecycleState, Quota, SubscriptionStatus, topic_matches,
};

use super::Snapshot;

/// One API as the gateway serves it: the deployed revision's snapshot plus the API's
/// current lifecycle state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The API's id.
    pub api_id: String,
    /// The API's name.
    pub name: String,
    /// `Name:version`, as analytics and metrics name the API.
    pub handle: String,
    /// `/{context}/{version}`.
    pub base_path: String,
    /// The API's lifecycle state now.
    pub state: LifecycleState,
    /// The deployed revision's id.
    pub revision_id: String,
    /// The deployed revision's number.
    pub revision_number: u32,
    /// Production endpoint of the deployed revision.
    pub production_endpoint: Option<String>,
    /// Sandbox endpoint of the deployed revision.
    pub sandbox_endpoint: Option<String>,
    /// The production endpoint parsed as a URL once, when the view is built (`Err`: why it
    /// is none), so a request does not parse it again.
    pub production_url: Option<Result<reqwest::Url, String>>,
    /// The sandbox endpoint parsed, as `production_url`.
    pub sandbox_url: Option<Result<reqwest::Url, String>>,
    /// Topics of the deployed revision.
    pub topics: Vec<String>,
    /// Whether some environment it is deployed to takes production keys.
    pub accepts_production: bool,
    /// Whether some environment it is deployed to takes sandbox keys.
    pub accepts_sandbox: bool,
    /// The deployed revision's CORS configuration.
    pub cors: crate::catalog::CorsConfiguration,
    /// The deployed revision's backend stream mode.
    pub backend_stream: crate::catalog::BackendStream,
}

impl Route {
    /// The endpoint for a key type, if the deployed revision has one.
    pub fn endpoint(&self, key_type: KeyType) -> Option<&str> {
        match key_type {
            KeyType::Production => self.production_endpoint.as_deref(),
            KeyType::Sandbox => self.sandbox_endpoint.as_deref(),
        }
    }

    /// The endpoint for a key type parsed as a URL (`Err`: why it is none), if the deployed
    /// revision has one.
    pub fn endpoint_url(&self, key_type: KeyType) -> Option<&Result<reqwest::Url, String>> {
        match key_type {
            KeyType::Production => self.production_url.as_ref(),
            KeyType::Sandbox => self.sandbox_url.as_ref(),
        }
    }

    /// Whether `resource` is one of the revision's topics.
    pub fn has_topic(&self, resource: &str) -> bool {
        self.topics.iter().any(|t| topic_matches(t, resource))
    }
}

/// A subscription as the gateway checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionView {
    /// The subscription's id: the key of its quota counter.
    pub id: String,
    /// The plan's name.
    pub policy: String,
    /// The plan's quota.
    pub quota: Quota,
    /// Whether it delivers.
    pub status: SubscriptionStatus,
}

/// Everything the gateway needs to decide a request, immutable.
#[derive(Debug, Default, Clone)]
pub struct GatewayView {
    /// Bumped on every change; streams recheck their rights when it moves.
    pub version: u64,
    /// Routes by `/{context}/{version}`; shared, so an admitted request holds its route
    /// without copying it.
    pub routes: FastHashMap<String, Arc<Route>>,
    /// Subscriptions by (application id, API id); shared, so an admitted stream holds its
    /// subscription without copying it. Look up with borrowed ids through
    /// [`crate::pair_key::PairKey`].
    pub subscriptions: FastHashMap<(String, String), Arc<SubscriptionView>>,
    /// Requests per minute by application id (`None`: unlimited).
    pub app_rate_limits: FastHashMap<String, Option<u32>>,
    /// Revoked token ids.
    pub revoked: FastHashSet<String>,
}

impl GatewayView {
    /// Finds the route for a request path: the longest `/{context}/{version}` prefix that
    /// ends at a segment boundary. Returns the route and the remaining resource path.
    pub fn route_for<'a>(&self, path: &'a str) -> Option<(&Arc<Route>, &'a str)> {
        let mut best: Option<(&Arc<Route>, &'a str)> = None;
        // Byte positions of `/` (a char boundary each): no `char` pattern matching.
        let slashes = path.bytes().enumerate().filter(|(_, b)| *b == b'/');
        for (i, _) in slashes.skip(1) {
            if let (Some(prefix), Some(rest)) = (path.get(..i), path.get(i..))
                && let Some(route) = self.routes.get(prefix)
            {
                best = Some((route, rest));
            }
        }
        if let Some(route) = self.routes.get(path) {
            best = Some((route, "/"));
        }
        best
    }

    /// Builds the view from the catalog.
    pub fn build(catalog: &Snapshot, version: u64) -> GatewayView {
        let mut routes: HashMap<String, Route> = HashMap::new();
        let mut newest: HashMap<&str, i64> = HashMap::new();
        for dep in catalog.deployments.values() {
            let (Some(api), Some(rev)) = (
                catalog.apis.get(&dep.api_id),
                catalog.revisions.get(&dep.revision_id),
            ) else {
                continue;
            };
            if api.lifecycle == LifecycleState::Retired {
                continue;
            }
            let kind = catalog
                .environments
                .iter()
                .find(|e| e.name == dep.environment)
                .map(|e| e.kind)
                .unwrap_or(EnvironmentKind::Hybrid);
            let (prod, sand) = match kind {
                EnvironmentKind::Hybrid => (true, true),
                EnvironmentKind::Production => (true, false),
                EnvironmentKind::Sandbox => (false, true),
            };
            let snap = &rev.snapshot;
            let base = snap.base_path();
            let is_newer = newest
                .get(dep.api_id.as_str())
                .is_none_or(|t| dep.deployed_at >= *t);
            let entry = routes.entry(base.clone()).or_insert_with(|| Route {
                api_id: api.id.clone(),
                name: snap.name.clone(),
                handle: snap.handle(),
                base_path: base,
                state: api.lifecycle,
                revision_id: rev.id.clone(),
                revision_number: rev.number,
                production_endpoint: snap.production_endpoint.clone(),
                sandbox_endpoint: snap.sandbox_endpoint.clone(),
                production_url: None,
                sandbox_url: None,
                topics: snap.topics.clone(),
                accepts_production: false,
                accepts_sandbox: false,
                cors: (*snap.cors).clone(),
                backend_stream: snap.backend_stream,
            });
            if entry.api_id != api.id {
                // Two APIs at one path (a catalog from before paths were checked across
                // revisions): the first keeps it, whole; never one's rights with the
                // other's backend.
                tracing::warn!(
                    "{} of API '{}' is not served: its path {} is already API '{}''s",
                    rev.display_name(),
                    snap.name,
                    entry.base_path,
                    entry.name
                );
                continue;
            }
            if is_newer {
                newest.insert(dep.api_id.as_str(), dep.deployed_at);
                entry.revision_id = rev.id.clone();
                entry.revision_number = rev.number;
                entry.production_endpoint = snap.production_endpoint.clone();
                entry.sandbox_endpoint = snap.sandbox_endpoint.clone();
                entry.topics = snap.topics.clone();
                entry.cors = (*snap.cors).clone();
                entry.backend_stream = snap.backend_stream;
            }
            entry.accepts_production |= prod;
            entry.accepts_sandbox |= sand;
        }
        let subscriptions = catalog
            .subscriptions
            .values()
            .map(|s| {
                let quota = catalog
                    .subscription_policies
                    .iter()
                    .find(|p| p.name == s.policy)
                    .map(|p| p.quota)
                    .unwrap_or(Quota::Unlimited);
                (
                    (s.application_id.clone(), s.api_id.clone()),
                    Arc::new(SubscriptionView {
                        id: s.id.clone(),
                        policy: s.policy.clone(),
                        quota,
                        status: s.status,
                    }),
                )
            })
            .collect();
        let app_rate_limits = catalog
            .applications
            .values()
            .map(|a| {
                let rpm = catalog
                    .application_policies
                    .iter()
                    .find(|p| p.name == a.throttling_policy)
                    .and_then(|p| p.requests_per_minute);
                (a.id.clone(), rpm)
            })
            .collect();
        let parse =
            |endpoint: &Option<String>| endpoint.as_deref().map(crate::gateway::endpoint_url);
        GatewayView {
            version,
            routes: routes
                .into_iter()
                .map(|(base, mut route)| {
                    route.production_url = parse(&route.production_endpoint);
                    route.sandbox_url = parse(&route.sandbox_endpoint);
                    (base, Arc::new(route))
                })
                .collect(),
            subscriptions,
            app_rate_limits,
            revoked: catalog.revoked.keys().cloned().collect(),
        }
    }
}
