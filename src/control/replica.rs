//! The configuration feed's payload and the gateway node's replica.
//!
//! On the control plane, [`Control::feed_state`] cuts from the catalog what a gateway needs
//! to decide requests: deployed APIs with their revisions and deployments, plans and
//! application policies, applications, subscriptions, revoked token ids, environments,
//! endpoint certificates, the backend client certificates it presents, and the public
//! token-signing key. Never users, password hashes, consumer secrets or the private
//! signing key.
//!
//! On a node, a replica `Control` ([`Control::open_replica`]) holds the last applied
//! [`ReplicaState`] in its own store (table `replica-v1`), so it starts and serves while
//! the control plane is down; [`Control::apply_replica`] replaces it with a newer one and
//! bumps the view, so open streams recheck their rights and close as on one node.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, broadcast, watch};

use crate::beacon::Beacon;
use crate::catalog::{
    Api, Application, ApplicationPolicy, Deployment, Environment, Revision, Subscription,
    SubscriptionPolicy, now_millis,
};
use crate::keys::KeyManager;
use crate::store::{Op, Store, Table};
use crate::tls::store::{BackendClientCertificate, EndpointCertificate};

use super::{CHANGE_CHANNEL_CAPACITY, Change, Control, ControlError, GatewayView, Inner, Result};

/// The store key of the replicated state in the `replica-v1` table.
const REPLICA_KEY: &str = "state";

/// A position in a control plane's feed: the control plane's run (`epoch`, new at every
/// start) and its view version within that run. Written `EPOCH-VERSION` as the SSE event
/// id, which a node sends back as `Last-Event-ID`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPosition {
    /// The control plane's run.
    pub epoch: String,
    /// The view version within the run.
    pub version: u64,
}

impl std::fmt::Display for FeedPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.epoch, self.version)
    }
}

impl std::str::FromStr for FeedPosition {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (epoch, version) = s
            .trim()
            .rsplit_once('-')
            .ok_or_else(|| format!("feed position '{s}': expected EPOCH-VERSION"))?;
        let version = version
            .parse()
            .map_err(|_| format!("feed position '{s}': the version is not a number"))?;
        Ok(FeedPosition {
            epoch: epoch.to_string(),
            version,
        })
    }
}

/// The public half of the control plane's token-signing key (a JWK's `kid` and `x`,
/// RFC 8037, Ed25519).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicSigningKey {
    /// The key id in tokens' headers.
    pub kid: String,
    /// The Ed25519 public key, base64url without padding.
    pub x: String,
}

/// The epoch of a withdrawn replica's position (see [`Control::withdraw_replica`]).
pub const WITHDRAWN_EPOCH: &str = "withdrawn";

/// Everything a gateway node needs, as one feed event carries it (JSON, camelCase).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaState {
    /// Where in the feed this state is.
    pub position: FeedPosition,
    /// The key tokens are verified with.
    pub signing_key: PublicSigningKey,
    /// APIs that have a deployment.
    pub apis: Vec<Api>,
    /// Deployed revisions.
    pub revisions: Vec<Revision>,
    /// Deployments.
    pub deployments: Vec<Deployment>,
    /// Business plans (built-in and custom).
    pub subscription_policies: Vec<SubscriptionPolicy>,
    /// Application policies (built-in and custom).
    pub application_policies: Vec<ApplicationPolicy>,
    /// Applications.
    pub applications: Vec<Application>,
    /// Subscriptions.
    pub subscriptions: Vec<Subscription>,
    /// Revoked token ids with their expiry (seconds).
    pub revoked: HashMap<String, i64>,
    /// Gateway environments.
    pub environments: Vec<Environment>,
    /// Endpoint certificates the gateway trusts for backends.
    pub endpoint_certificates: Vec<EndpointCertificate>,
    /// Client certificates (with their keys) the gateway presents to backends.
    pub backend_client_certificates: Vec<BackendClientCertificate>,
}

impl ReplicaState {
    fn into_snapshot(self) -> super::Snapshot {
        let now_secs = now_millis() / 1000;
        super::Snapshot {
            apis: self.apis.into_iter().map(|a| (a.id.clone(), a)).collect(),
            revisions: self
                .revisions
                .into_iter()
                .map(|r| (r.id.clone(), r))
                .collect(),
            deployments: self
                .deployments
                .into_iter()
                .map(|d| (super::snapshot::deployment_key(&d), d))
                .collect(),
            subscription_policies: self.subscription_policies,
            application_policies: self.application_policies,
            applications: self
                .applications
                .into_iter()
                .map(|a| (a.id.clone(), a))
                .collect(),
            subscriptions: self
                .subscriptions
                .into_iter()
                .map(|s| (s.id.clone(), s))
                .collect(),
            key_pairs: Default::default(),
            revoked: self
                .revoked
                .into_iter()
                .filter(|(_, exp)| *exp > now_secs)
                .collect(),
            environments: self.environments,
            endpoint_certificates: self
                .endpoint_certificates
                .into_iter()
                .map(|c| (c.alias.clone(), c))
                .collect(),
            backend_client_certificates: self
                .backend_client_certificates
                .into_iter()
                .map(|c| (c.api_id.clone(), c))
                .collect(),
            users: Default::default(),
        }
    }
}

impl Control {
    /// This control plane's feed position now.
    pub fn feed_position(&self) -> FeedPosition {
        FeedPosition {
            epoch: self.inner.feed_epoch.clone(),
            version: self.view().version,
        }
    }

    /// What the feed sends a node now (see the module's doc for what is left out).
    pub fn feed_state(&self) -> ReplicaState {
        // The version first: the catalog read after it is at least as new.
        let position = self.feed_position();
        let catalog = self.snapshot();
        let deployed: std::collections::HashSet<&str> = catalog
            .deployments
            .values()
            .flat_map(|d| [d.api_id.as_str(), d.revision_id.as_str()])
            .collect();
        ReplicaState {
            position,
            signing_key: PublicSigningKey {
                kid: self.keys().kid().to_string(),
                x: self.keys().public_x().to_string(),
            },
            apis: catalog
                .apis
                .values()
                .filter(|a| deployed.contains(a.id.as_str()))
                .cloned()
                .collect(),
            revisions: catalog
                .revisions
                .values()
                .filter(|r| deployed.contains(r.id.as_str()))
                .cloned()
                .collect(),
            deployments: catalog.deployments.values().cloned().collect(),
            subscription_policies: catalog.subscription_policies.clone(),
            application_policies: catalog.application_policies.clone(),
            applications: catalog.applications.values().cloned().collect(),
            subscriptions: catalog.subscriptions.values().cloned().collect(),
            revoked: catalog.revoked.clone(),
            environments: catalog.environments.clone(),
            endpoint_certificates: catalog.endpoint_certificates.values().cloned().collect(),
            backend_client_certificates: catalog
                .backend_client_certificates
                .values()
                .cloned()
                .collect(),
        }
    }

    /// Opens a gateway node's replica in `data_dir`: from the state saved there by the last
    /// [`apply_replica`](Self::apply_replica), else from `initial` (saved at once).
    /// `Ok(None)` when there is neither. Tokens are verified with the state's public key;
    /// the replica cannot sign. Blocking, as [`Control::open`].
    pub fn open_replica(data_dir: &Path, initial: Option<ReplicaState>) -> Result<Option<Control>> {
        let store = Store::open(data_dir)?;
        let saved: Option<ReplicaState> = store.get(Table::Replica, REPLICA_KEY)?;
        let state = match (saved, initial) {
            (_, Some(initial)) => {
                store.apply(&[Op::put(Table::Replica, REPLICA_KEY, &initial)?])?;
                initial
            }
            (Some(saved), None) => saved,
            (None, None) => return Ok(None),
        };
        let keys = KeyManager::verify_only(&state.signing_key.x)?;
        let position = state.position.clone();
        let catalog = state.into_snapshot();
        let view = GatewayView::build(&catalog, 1);
        let nodes = super::nodes::Registry::load(&store)?;
        Ok(Some(Control {
            inner: Arc::new(Inner {
                store,
                keys,
                data_dir: data_dir.to_path_buf(),
                // A replica serves no management API; nothing can present this.
                admin_token: String::new(),
                catalog: ArcSwap::from_pointee(catalog),
                view: ArcSwap::from_pointee(view),
                view_version: watch::channel(1).0,
                view_beacon: Beacon::new(),
                write_lock: Mutex::new(()),
                changes: broadcast::channel(CHANGE_CHANNEL_CAPACITY).0,
                nodes,
                feed_epoch: String::new(),
                applied: watch::channel(Some(position)).0,
            }),
        }))
    }

    /// Empties a replica: a node the control plane removed, or whose credential it
    /// refuses, serves nothing. Every API, application, subscription, policy, certificate
    /// and client key goes, from memory and from the data dir, so open streams close (their
    /// APIs are gone) and a restart serves nothing either. The signing key stays; the
    /// position becomes [`WITHDRAWN_EPOCH`]`-0`, which no feed sends, so the next feed
    /// connection gets a whole snapshot.
    ///
    /// # Errors
    /// The store's, when the empty state cannot be saved (nothing changes then).
    pub async fn withdraw_replica(&self) -> Result<()> {
        let state = ReplicaState {
            position: FeedPosition {
                epoch: WITHDRAWN_EPOCH.to_string(),
                version: 0,
            },
            signing_key: PublicSigningKey {
                kid: self.keys().kid().to_string(),
                x: self.keys().public_x().to_string(),
            },
            apis: Vec::new(),
            revisions: Vec::new(),
            deployments: Vec::new(),
            subscription_policies: Vec::new(),
            application_policies: Vec::new(),
            applications: Vec::new(),
            subscriptions: Vec::new(),
            revoked: HashMap::new(),
            environments: Vec::new(),
            endpoint_certificates: Vec::new(),
            backend_client_certificates: Vec::new(),
        };
        self.apply_replica(state).await
    }

    /// Replaces a replica's state with `state` from the feed: saved to the store first,
    /// then published with a new view version, so open streams recheck their rights.
    pub async fn apply_replica(&self, state: ReplicaState) -> Result<()> {
        let _guard = self.inner.write_lock.lock().await;
        if state.signing_key.x != self.keys().public_x() {
            tracing::error!(
                kid = %state.signing_key.kid,
                "the control plane's signing key changed; tokens it signs now are refused \
                 until this node restarts"
            );
        }
        let ops = vec![Op::put(Table::Replica, REPLICA_KEY, &state)?];
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || store.apply(&ops))
            .await
            .map_err(|e| ControlError::Internal(e.to_string()))??;
        let position = state.position.clone();
        let catalog = state.into_snapshot();
        let version = self.inner.view.load().version + 1;
        let view = GatewayView::build(&catalog, version);
        self.inner.catalog.store(Arc::new(catalog));
        self.inner.view.store(Arc::new(view));
        self.inner.view_version.send_replace(version);
        self.inner.view_beacon.signal();
        self.inner.applied.send_replace(Some(position));
        // Nobody listening is fine.
        let _ = self.inner.changes.send(Change::Policies);
        Ok(())
    }

    /// The feed position a replica last applied (`None` on a control plane).
    pub fn applied_position(&self) -> Option<FeedPosition> {
        self.inner.applied.borrow().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip() {
        let p = FeedPosition {
            epoch: "1a2b".into(),
            version: 42,
        };
        assert_eq!(p.to_string(), "1a2b-42");
        assert_eq!("1a2b-42".parse::<FeedPosition>(), Ok(p));
        assert!("nodash".parse::<FeedPosition>().is_err());
        assert!("a-b".parse::<FeedPosition>().is_err());
    }
}

#[cfg(test)]
mod round_trip {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::catalog::{ApiDraft, DeployTarget, LifecycleAction};
    use crate::control::ControlOptions;

    #[tokio::test]
    async fn a_replica_routes_as_its_control_plane() {
        let cp_dir = tempfile::tempdir().unwrap();
        let cp = Control::open(ControlOptions::new(cp_dir.path())).unwrap();
        let api = cp
            .create_api(ApiDraft {
                name: "Round".into(),
                context: "/round".into(),
                version: "1.0.0".into(),
                production_endpoint: Some("http://127.0.0.1:1/x".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        cp.deploy_new_revision(
            &api.id,
            "",
            &[DeployTarget::new("Production and Sandbox", "localhost")],
        )
        .await
        .unwrap();
        cp.change_lifecycle(&api.id, LifecycleAction::Publish)
            .await
            .unwrap();
        let state = cp.feed_state();
        let json = serde_json::to_string(&state).unwrap();
        assert!(!json.contains("secretHash") && !json.contains("PRIVATE KEY"));
        let state: ReplicaState = serde_json::from_str(&json).unwrap();
        let node_dir = tempfile::tempdir().unwrap();
        let node = Control::open_replica(node_dir.path(), Some(state))
            .unwrap()
            .unwrap();
        assert_eq!(node.view().routes, cp.view().routes);
        assert_eq!(node.view().subscriptions, cp.view().subscriptions);
        assert_eq!(node.applied_position(), Some(cp.feed_position()));
        assert_eq!(node.keys().kid(), cp.keys().kid());
        drop(node);
        // Reopened without a state, it serves what it saved.
        let node = Control::open_replica(node_dir.path(), None)
            .unwrap()
            .unwrap();
        assert_eq!(node.view().routes, cp.view().routes);
        assert!(node.keys().sign(&serde_json::json!({})).is_err());
    }
}
