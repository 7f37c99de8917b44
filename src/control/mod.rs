//! Control: the one service layer that changes state. The TUI calls it in process, the
//! management REST API translates to it; it validates with the catalog's rules, writes
//! through the store, swaps the gateway's view and announces each change.
//!
//! This file holds the service itself: [`Control::open`], the one write path (`write()`
//! with its `Tx`), errors and change notifications. The snapshot and its queries live in
//! `snapshot.rs`, the gateway's view in `view.rs`, and the operations in one
//! `impl Control` per concern: `apis.rs`, `deploy.rs`, `portal.rs`, `tokens.rs`,
//! `counters.rs`.

pub mod analytics;
mod apis;
mod certificates;
mod counters;
mod deploy;
mod nodes;
mod portal;
mod replica;
mod snapshot;
mod tokens;
mod users;
mod view;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::Serialize;
use tokio::sync::{Mutex, broadcast, watch};

use crate::beacon::Beacon;
use crate::catalog::{Api, Application, Environment, RuleError};
use crate::keys::{self, KeyError, KeyManager};
use crate::store::{Op, Store, StoreError, Table};

pub use apis::LifecycleOutcome;
pub use counters::CounterRecord;
pub use nodes::{FeedGuard, IssuedNodeToken, NODE_TOKEN_PREFIX, NodeReport, NodeStatus};
pub use portal::GeneratedKeys;
pub use replica::{FeedPosition, PublicSigningKey, ReplicaState, WITHDRAWN_EPOCH};
pub use snapshot::Snapshot;
pub use tokens::KeyPairRef;
pub use users::{
    ADMIN_PASSWORD_FILE, AuthError, IssuedManagementToken, LAST_ADMIN_CONFLICT, ManagementClaims,
    Principal, RegisteredClient, UserRecord, UserUpdate,
};
pub use view::{GatewayView, Route, SubscriptionView};

use snapshot::deployment_key;

/// How many change notifications a slow listener may fall behind before it misses some.
const CHANGE_CHANNEL_CAPACITY: usize = 256;

/// What changed, so views can refresh just that part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An API was created, edited, moved in its lifecycle or deleted.
    Api(String),
    /// A revision or deployment of this API changed.
    Deployment(String),
    /// A plan or application policy was added.
    Policies,
    /// An application (or its keys) changed.
    Application(String),
    /// A subscription changed.
    Subscription(String),
    /// A token was issued or revoked.
    Token(String),
    /// An endpoint certificate (by alias) was added or removed.
    EndpointCertificate(String),
    /// A user was created, changed or removed.
    User(String),
}

/// Why control refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// A catalog rule refused the input (400 or 409).
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// No such thing.
    #[error("{what} '{id}' not found")]
    NotFound {
        /// What was looked for, e.g. `API`.
        what: &'static str,
        /// The id or handle given.
        id: String,
    },
    /// Wrong consumer key or secret.
    #[error("client authentication failed: unknown consumer key or wrong secret")]
    InvalidClient,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key manager failed.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// A background task failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ControlError {
    fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            what,
            id: id.into(),
        }
    }
}

/// The result type of control.
pub type Result<T, E = ControlError> = std::result::Result<T, E>;

/// Settings for opening control.
#[derive(Debug, Clone)]
pub struct ControlOptions {
    /// The data dir (redb file, signing key, admin token).
    pub data_dir: PathBuf,
    /// Gateway environments; empty means the default hybrid one.
    pub environments: Vec<Environment>,
}

impl ControlOptions {
    /// Options for a data dir with the default environment.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            environments: Vec::new(),
        }
    }
}

struct Inner {
    store: Store,
    keys: KeyManager,
    data_dir: PathBuf,
    admin_token: String,
    catalog: ArcSwap<Snapshot>,
    view: ArcSwap<GatewayView>,
    view_version: watch::Sender<u64>,
    /// Signalled with every new view, for open streams (see [`Control::view_beacon`]).
    view_beacon: Arc<Beacon>,
    write_lock: Mutex<()>,
    changes: broadcast::Sender<Change>,
    /// Gateway node credentials and heartbeats (control plane).
    nodes: nodes::Registry,
    /// This run's feed epoch (control plane; empty on a replica).
    feed_epoch: String,
    /// The feed position last applied (replica; `None` on a control plane).
    applied: watch::Sender<Option<FeedPosition>>,
}

/// The service. Cheap to clone.
#[derive(Clone)]
pub struct Control {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("data_dir", &self.inner.data_dir)
            .finish()
    }
}

/// A write in progress: the new catalog, the store ops that make it durable and the
/// changes to announce once it is.
struct Tx {
    catalog: Snapshot,
    ops: Vec<Op>,
    changes: Vec<Change>,
}

impl Tx {
    fn put<T: Serialize>(&mut self, table: Table, key: &str, value: &T) -> Result<()> {
        self.ops.push(Op::put(table, key, value)?);
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &str) {
        self.ops.push(Op::delete(table, key));
    }

    /// Writes an API's working copy and announces it.
    fn save_api(&mut self, api: &Api) -> Result<()> {
        self.put(Table::Apis, &api.id, api)?;
        self.changes.push(Change::Api(api.id.clone()));
        self.catalog.apis.insert(api.id.clone(), api.clone());
        Ok(())
    }
}

impl Control {
    /// Opens the data dir: the store, the signing key and the admin token.
    /// Blocking; call it before serving or from `spawn_blocking`.
    pub fn open(options: ControlOptions) -> Result<Control> {
        let store = Store::open(&options.data_dir)?;
        let keys = KeyManager::load_or_create(&options.data_dir)?;
        let admin_token = keys::load_or_create_admin_token(&options.data_dir)?;
        let mut catalog = snapshot::load(&store, options.environments)?;
        if users::ensure_admin(&store, &options.data_dir, &mut catalog)? {
            tracing::info!(
                file = %options.data_dir.join(ADMIN_PASSWORD_FILE).display(),
                "created user admin; its password is in this file (mode 0600)"
            );
        }
        let view = GatewayView::build(&catalog, 1);
        let (view_version, _) = watch::channel(1);
        let (changes, _) = broadcast::channel(CHANGE_CHANNEL_CAPACITY);
        let nodes = nodes::Registry::load(&store)?;
        let feed_epoch = keys::random_bytes::<6>()?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Control {
            inner: Arc::new(Inner {
                store,
                keys,
                data_dir: options.data_dir,
                admin_token,
                catalog: ArcSwap::from_pointee(catalog),
                view: ArcSwap::from_pointee(view),
                view_version,
                view_beacon: Beacon::new(),
                write_lock: Mutex::new(()),
                changes,
                nodes,
                feed_epoch,
                applied: watch::channel(None).0,
            }),
        })
    }

    /// The data dir.
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The token the management API requires.
    pub fn admin_token(&self) -> &str {
        &self.inner.admin_token
    }

    /// The key manager (token verification, JWKS).
    pub fn keys(&self) -> &KeyManager {
        &self.inner.keys
    }

    /// A snapshot of the whole catalog; never blocks.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.catalog.load_full()
    }

    /// The gateway's current view; lock-free.
    pub fn view(&self) -> Arc<GatewayView> {
        self.inner.view.load_full()
    }

    /// Notified with the view's version on every change.
    pub fn watch_view(&self) -> watch::Receiver<u64> {
        self.inner.view_version.subscribe()
    }

    /// Signalled after every new view, like [`Control::watch_view`], but cheap to poll
    /// for a stream woken by its traffic many times between changes: watch it before
    /// reading the view, so a change in between is not missed.
    pub fn view_beacon(&self) -> &Arc<Beacon> {
        &self.inner.view_beacon
    }

    /// Change notifications.
    pub fn subscribe_changes(&self) -> broadcast::Receiver<Change> {
        self.inner.changes.subscribe()
    }

    /// Runs `f` on a copy of the catalog under the write lock; if it succeeds, makes its
    /// ops durable in one transaction, then publishes the new catalog and view.
    async fn write<T>(&self, f: impl FnOnce(&mut Tx) -> Result<T>) -> Result<T> {
        let _guard = self.inner.write_lock.lock().await;
        let mut tx = Tx {
            catalog: (*self.inner.catalog.load_full()).clone(),
            ops: Vec::new(),
            changes: Vec::new(),
        };
        let out = f(&mut tx)?;
        let store = self.inner.store.clone();
        let ops = std::mem::take(&mut tx.ops);
        tokio::task::spawn_blocking(move || store.apply(&ops))
            .await
            .map_err(|e| ControlError::Internal(e.to_string()))??;
        let version = self.inner.view.load().version + 1;
        let view = GatewayView::build(&tx.catalog, version);
        self.inner.catalog.store(Arc::new(tx.catalog));
        self.inner.view.store(Arc::new(view));
        self.inner.view_version.send_replace(version);
        self.inner.view_beacon.signal();
        for change in tx.changes {
            // Nobody listening is fine: views subscribe when they open.
            let _ = self.inner.changes.send(change);
        }
        Ok(out)
    }

    fn api_of<'a>(catalog: &'a Snapshot, id: &str) -> Result<&'a Api> {
        catalog
            .find_api(id)
            .ok_or_else(|| ControlError::not_found("API", id))
    }

    /// The application with this id or name, or not-found.
    fn application_of<'a>(catalog: &'a Snapshot, id_or_name: &str) -> Result<&'a Application> {
        catalog
            .find_application(id_or_name)
            .ok_or_else(|| ControlError::not_found("application", id_or_name))
    }
}
