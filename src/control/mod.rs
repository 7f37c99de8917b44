//! Control: the one service layer that changes state. The TUI calls it in process, the
//! management REST API translates to it; it validates with the catalog's rules, writes
//! through the store, swaps the gateway's view and announces each change.

pub mod analytics;
mod view;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, broadcast, watch};

use crate::catalog::DeployTarget;
use crate::catalog::{
    self, Api, ApiDraft, AppDraft, Application, ApplicationPolicy, Deployment, Environment,
    KeyPair, KeyType, LifecycleAction, LifecycleState, Millis, Revision, RuleError, Subscription,
    SubscriptionPolicy, SubscriptionStatus, new_id, now_millis,
};
use crate::keys::{self, IssuedToken, KeyError, KeyManager};
use crate::store::{Op, Store, StoreError, Table};

pub use view::{GatewayView, Route, SubscriptionView};

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

/// All the catalog's data, held in memory; a snapshot is immutable.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// APIs by id.
    pub apis: BTreeMap<String, Api>,
    /// Revisions by id.
    pub revisions: BTreeMap<String, Revision>,
    /// Deployments by `api_id/environment`.
    pub deployments: BTreeMap<String, Deployment>,
    /// Built-in and custom subscription plans.
    pub subscription_policies: Vec<SubscriptionPolicy>,
    /// Built-in and custom application policies.
    pub application_policies: Vec<ApplicationPolicy>,
    /// Applications by id.
    pub applications: BTreeMap<String, Application>,
    /// Subscriptions by id.
    pub subscriptions: BTreeMap<String, Subscription>,
    /// Key pairs by consumer key.
    pub key_pairs: BTreeMap<String, KeyPair>,
    /// Revoked token ids with their expiry (seconds).
    pub revoked: HashMap<String, i64>,
    /// Gateway environments.
    pub environments: Vec<Environment>,
}

impl Snapshot {
    /// APIs sorted by name then version.
    pub fn apis_sorted(&self) -> Vec<&Api> {
        let mut apis: Vec<&Api> = self.apis.values().collect();
        apis.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        apis
    }

    /// An API by id or by `Name:version`.
    pub fn find_api(&self, id_or_handle: &str) -> Option<&Api> {
        self.apis.get(id_or_handle).or_else(|| {
            let (name, version) = id_or_handle.rsplit_once(':')?;
            self.apis
                .values()
                .find(|a| a.name.eq_ignore_ascii_case(name) && a.version == version)
        })
    }

    /// An application by id or by name.
    pub fn find_application(&self, id_or_name: &str) -> Option<&Application> {
        self.applications.get(id_or_name).or_else(|| {
            self.applications
                .values()
                .find(|a| a.name.eq_ignore_ascii_case(id_or_name))
        })
    }

    /// An API's revisions, oldest first.
    pub fn revisions_of(&self, api_id: &str) -> Vec<&Revision> {
        let mut revs: Vec<&Revision> = self
            .revisions
            .values()
            .filter(|r| r.api_id == api_id)
            .collect();
        revs.sort_by_key(|r| r.number);
        revs
    }

    /// An API's deployments.
    pub fn deployments_of(&self, api_id: &str) -> Vec<&Deployment> {
        self.deployments
            .values()
            .filter(|d| d.api_id == api_id)
            .collect()
    }

    /// Subscriptions of an application.
    pub fn subscriptions_of_app(&self, app_id: &str) -> Vec<&Subscription> {
        self.subscriptions
            .values()
            .filter(|s| s.application_id == app_id)
            .collect()
    }

    /// Subscriptions to an API.
    pub fn subscriptions_of_api(&self, api_id: &str) -> Vec<&Subscription> {
        self.subscriptions
            .values()
            .filter(|s| s.api_id == api_id)
            .collect()
    }

    /// Key pairs of an application.
    pub fn keys_of(&self, app_id: &str) -> Vec<&KeyPair> {
        self.key_pairs
            .values()
            .filter(|k| k.application_id == app_id)
            .collect()
    }

    /// A subscription plan by name.
    pub fn subscription_policy(&self, name: &str) -> Option<&SubscriptionPolicy> {
        self.subscription_policies.iter().find(|p| p.name == name)
    }

    /// The APIs a subscriber may see in the Developer Portal.
    pub fn portal_apis(&self) -> Vec<&Api> {
        self.apis_sorted()
            .into_iter()
            .filter(|a| a.lifecycle.visible_in_portal())
            .collect()
    }
}

/// The outcome of a lifecycle change.
#[derive(Debug, Clone)]
pub struct LifecycleOutcome {
    /// The API after the change.
    pub api: Api,
    /// The state before.
    pub previous: LifecycleState,
    /// Something the person should know, e.g. published with nothing deployed.
    pub warning: Option<String>,
}

/// Keys just generated: the secret is shown once, here, and stored only hashed.
#[derive(Debug, Clone)]
pub struct GeneratedKeys {
    /// The key pair as stored.
    pub key_pair: KeyPair,
    /// The consumer secret in clear.
    pub consumer_secret: String,
    /// An access token issued right away.
    pub token: IssuedToken,
}

/// A quota window counter as persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterRecord {
    /// Start of the current window (ms since epoch).
    pub window_start: Millis,
    /// Events delivered in the window.
    pub count: u64,
}

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
    write_lock: Mutex<()>,
    changes: broadcast::Sender<Change>,
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

fn load_catalog(store: &Store, environments: Vec<Environment>) -> Result<Snapshot> {
    let mut subscription_policies = catalog::builtin_subscription_policies();
    subscription_policies.extend(store.load::<SubscriptionPolicy>(Table::SubscriptionPolicies)?);
    let mut application_policies = catalog::builtin_application_policies();
    application_policies.extend(store.load::<ApplicationPolicy>(Table::ApplicationPolicies)?);
    let now_secs = now_millis() / 1000;
    let revoked: HashMap<String, i64> = store
        .scan(Table::RevokedTokens)?
        .into_iter()
        .filter_map(|(jti, v)| {
            let exp: i64 = serde_json::from_slice(&v).ok()?;
            (exp > now_secs).then_some((jti, exp))
        })
        .collect();
    Ok(Snapshot {
        apis: by_key(store.load::<Api>(Table::Apis)?, |a| a.id.clone()),
        revisions: by_key(store.load::<Revision>(Table::Revisions)?, |r| r.id.clone()),
        deployments: by_key(
            store.load::<Deployment>(Table::Deployments)?,
            deployment_key,
        ),
        subscription_policies,
        application_policies,
        applications: by_key(store.load::<Application>(Table::Applications)?, |a| {
            a.id.clone()
        }),
        subscriptions: by_key(store.load::<Subscription>(Table::Subscriptions)?, |s| {
            s.id.clone()
        }),
        key_pairs: by_key(store.load::<KeyPair>(Table::KeyPairs)?, |k| {
            k.consumer_key.clone()
        }),
        revoked,
        environments: if environments.is_empty() {
            catalog::default_environments()
        } else {
            environments
        },
    })
}

fn by_key<T>(items: Vec<T>, key: impl Fn(&T) -> String) -> BTreeMap<String, T> {
    items.into_iter().map(|i| (key(&i), i)).collect()
}

fn deployment_key(d: &Deployment) -> String {
    format!("{}/{}", d.api_id, d.environment)
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
        let catalog = load_catalog(&store, options.environments)?;
        let view = GatewayView::build(&catalog, 1);
        let (view_version, _) = watch::channel(1);
        let (changes, _) = broadcast::channel(CHANGE_CHANNEL_CAPACITY);
        Ok(Control {
            inner: Arc::new(Inner {
                store,
                keys,
                data_dir: options.data_dir,
                admin_token,
                catalog: ArcSwap::from_pointee(catalog),
                view: ArcSwap::from_pointee(view),
                view_version,
                write_lock: Mutex::new(()),
                changes,
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

    // ---- Publisher: APIs ----

    /// Creates an SSE API in state CREATED.
    pub async fn create_api(&self, draft: ApiDraft) -> Result<Api> {
        self.write(|tx| {
            catalog::validate_api(&draft, &tx.catalog.subscription_policies)?;
            let others: Vec<&Api> = tx.catalog.apis.values().collect();
            catalog::check_api_unique(&draft, &others)?;
            let api = Api::from_draft(new_id(), draft, now_millis());
            tx.save_api(&api)?;
            Ok(api)
        })
        .await
    }

    /// Replaces an API's editable fields (the working copy; deployed revisions keep theirs).
    pub async fn update_api(&self, id: &str, draft: ApiDraft) -> Result<Api> {
        self.write(|tx| {
            let mut api = Self::api_of(&tx.catalog, id)?.clone();
            catalog::validate_api(&draft, &tx.catalog.subscription_policies)?;
            let others: Vec<&Api> = tx
                .catalog
                .apis
                .values()
                .filter(|a| a.id != api.id)
                .collect();
            catalog::check_api_unique(&draft, &others)?;
            api.apply_draft(draft, now_millis());
            tx.save_api(&api)?;
            Ok(api)
        })
        .await
    }

    /// Sets the business plans offered (the Publisher's Business Plans page).
    pub async fn set_plans(&self, id: &str, plans: Vec<String>) -> Result<Api> {
        if plans.is_empty() {
            return Err(RuleError::invalid("policies", "select at least one business plan").into());
        }
        let current = Self::api_of(&self.snapshot(), id)?.clone();
        let mut draft = current.to_draft();
        draft.policies = plans;
        self.update_api(&current.id, draft).await
    }

    /// Deletes an API with its revisions and deployments; refused while subscribed.
    pub async fn delete_api(&self, id: &str) -> Result<Api> {
        self.write(|tx| {
            let api = Self::api_of(&tx.catalog, id)?.clone();
            let subs = tx.catalog.subscriptions_of_api(&api.id).len();
            if subs > 0 {
                return Err(RuleError::conflict(
                    900343,
                    format!(
                        "API '{}' has {subs} subscription(s); remove them before deleting it",
                        api.handle()
                    ),
                )
                .into());
            }
            let revs: Vec<String> = tx
                .catalog
                .revisions_of(&api.id)
                .iter()
                .map(|r| r.id.clone())
                .collect();
            for rid in revs {
                tx.delete(Table::Revisions, &rid);
                tx.catalog.revisions.remove(&rid);
            }
            let deps: Vec<String> = tx
                .catalog
                .deployments_of(&api.id)
                .iter()
                .map(|d| deployment_key(d))
                .collect();
            for key in deps {
                tx.delete(Table::Deployments, &key);
                tx.catalog.deployments.remove(&key);
            }
            tx.delete(Table::Apis, &api.id);
            tx.catalog.apis.remove(&api.id);
            tx.changes.push(Change::Api(api.id.clone()));
            Ok(api)
        })
        .await
    }

    /// Applies a lifecycle action; publishing with nothing deployed is allowed with a warning.
    pub async fn change_lifecycle(
        &self,
        id: &str,
        action: LifecycleAction,
    ) -> Result<LifecycleOutcome> {
        self.write(|tx| {
            let mut api = Self::api_of(&tx.catalog, id)?.clone();
            let previous = api.lifecycle;
            api.lifecycle = previous.apply(action)?;
            api.updated_at = now_millis();
            let deployed = !tx.catalog.deployments_of(&api.id).is_empty();
            let warning = (api.lifecycle.accepts_subscriptions()
                && !deployed)
                .then(|| {
                    format!(
                        "API '{}' is {} but has no deployed revision: deploy a revision so the gateway serves it",
                        api.handle(),
                        api.lifecycle.label()
                    )
                });
            tx.save_api(&api)?;
            Ok(LifecycleOutcome { api, previous, warning })
        })
        .await
    }

    // ---- Publisher: revisions and deployments ----

    /// Snapshots the working copy as a new revision (at most five per API).
    pub async fn create_revision(&self, api_id: &str, description: &str) -> Result<Revision> {
        self.write(|tx| Self::create_revision_in(tx, api_id, description))
            .await
    }

    fn create_revision_in(tx: &mut Tx, api_id: &str, description: &str) -> Result<Revision> {
        let api = Self::api_of(&tx.catalog, api_id)?.clone();
        let existing = tx.catalog.revisions_of(&api.id);
        catalog::check_revision_limit(existing.len())?;
        let number = existing.iter().map(|r| r.number).max().unwrap_or(0) + 1;
        let rev = Revision {
            id: new_id(),
            api_id: api.id.clone(),
            number,
            description: description.to_string(),
            created_at: now_millis(),
            snapshot: api,
        };
        tx.put(Table::Revisions, &rev.id, &rev)?;
        tx.changes.push(Change::Deployment(rev.api_id.clone()));
        tx.catalog.revisions.insert(rev.id.clone(), rev.clone());
        Ok(rev)
    }

    fn revision_of<'a>(catalog: &'a Snapshot, api_id: &str, rev: &str) -> Result<&'a Revision> {
        catalog
            .revisions
            .get(rev)
            .filter(|r| r.api_id == api_id)
            .or_else(|| {
                let n: u32 = rev.trim_start_matches("Revision ").trim().parse().ok()?;
                catalog
                    .revisions
                    .values()
                    .find(|r| r.api_id == api_id && r.number == n)
            })
            .ok_or_else(|| ControlError::not_found("revision", rev))
    }

    /// Deletes an undeployed revision.
    pub async fn delete_revision(&self, api_id: &str, revision_id: &str) -> Result<Revision> {
        self.write(|tx| {
            let api = Self::api_of(&tx.catalog, api_id)?.id.clone();
            let rev = Self::revision_of(&tx.catalog, &api, revision_id)?.clone();
            let deps: Vec<Deployment> = tx
                .catalog
                .deployments_of(&api)
                .into_iter()
                .cloned()
                .collect();
            catalog::check_can_delete_revision(&rev, &deps)?;
            tx.delete(Table::Revisions, &rev.id);
            tx.catalog.revisions.remove(&rev.id);
            tx.changes.push(Change::Deployment(api));
            Ok(rev)
        })
        .await
    }

    /// Deploys a revision to environments (by name), replacing what each served.
    pub async fn deploy_revision(
        &self,
        api_id: &str,
        revision_id: &str,
        targets: &[DeployTarget],
    ) -> Result<Vec<Deployment>> {
        self.write(|tx| {
            let api = Self::api_of(&tx.catalog, api_id)?.id.clone();
            let rev = Self::revision_of(&tx.catalog, &api, revision_id)?
                .id
                .clone();
            Self::deploy_in(tx, &api, &rev, targets)
        })
        .await
    }

    fn deploy_in(
        tx: &mut Tx,
        api_id: &str,
        revision_id: &str,
        targets: &[DeployTarget],
    ) -> Result<Vec<Deployment>> {
        if targets.is_empty() {
            return Err(RuleError::invalid(
                "environments",
                "choose at least one gateway environment",
            )
            .into());
        }
        let mut out = Vec::new();
        for DeployTarget {
            environment: env_name,
            vhost,
            display_on_devportal: display,
        } in targets
        {
            let env = tx
                .catalog
                .environments
                .iter()
                .find(|e| e.name == *env_name)
                .ok_or_else(|| {
                    let known: Vec<&str> = tx
                        .catalog
                        .environments
                        .iter()
                        .map(|e| e.name.as_str())
                        .collect();
                    RuleError::invalid(
                        "name",
                        format!(
                            "unknown gateway environment '{env_name}'; known: {}",
                            known.join(", ")
                        ),
                    )
                })?;
            let vhost = if vhost.is_empty() {
                env.vhost.clone()
            } else {
                vhost.clone()
            };
            if vhost != env.vhost {
                return Err(RuleError::invalid(
                    "vhost",
                    format!(
                        "environment '{}' has vhost '{}', not '{vhost}'",
                        env.name, env.vhost
                    ),
                )
                .into());
            }
            let dep = Deployment {
                api_id: api_id.to_string(),
                revision_id: revision_id.to_string(),
                environment: env.name.clone(),
                vhost,
                display_on_devportal: *display,
                deployed_at: now_millis(),
            };
            let key = deployment_key(&dep);
            tx.put(Table::Deployments, &key, &dep)?;
            tx.catalog.deployments.insert(key, dep.clone());
            out.push(dep);
        }
        tx.changes.push(Change::Deployment(api_id.to_string()));
        Ok(out)
    }

    /// "Deploy New Revision": snapshot the working copy and deploy it in one step.
    pub async fn deploy_new_revision(
        &self,
        api_id: &str,
        description: &str,
        targets: &[DeployTarget],
    ) -> Result<(Revision, Vec<Deployment>)> {
        self.write(|tx| {
            let rev = Self::create_revision_in(tx, api_id, description)?;
            let deps = Self::deploy_in(tx, &rev.api_id, &rev.id, targets)?;
            Ok((rev, deps))
        })
        .await
    }

    /// Undeploys a revision from the named environments (all of them when empty).
    pub async fn undeploy_revision(
        &self,
        api_id: &str,
        revision_id: &str,
        environments: &[String],
    ) -> Result<Vec<Deployment>> {
        self.write(|tx| {
            let api = Self::api_of(&tx.catalog, api_id)?.id.clone();
            let rev = Self::revision_of(&tx.catalog, &api, revision_id)?.clone();
            let removed: Vec<Deployment> = tx
                .catalog
                .deployments_of(&api)
                .into_iter()
                .filter(|d| d.revision_id == rev.id)
                .filter(|d| environments.is_empty() || environments.contains(&d.environment))
                .cloned()
                .collect();
            if removed.is_empty() {
                return Err(RuleError::conflict(
                    900349,
                    format!(
                        "{} is not deployed to the chosen environments",
                        rev.display_name()
                    ),
                )
                .into());
            }
            for dep in &removed {
                let key = deployment_key(dep);
                tx.delete(Table::Deployments, &key);
                tx.catalog.deployments.remove(&key);
            }
            tx.changes.push(Change::Deployment(api));
            Ok(removed)
        })
        .await
    }

    /// Copies a revision back into the working copy (the lifecycle state is kept).
    pub async fn restore_revision(&self, api_id: &str, revision_id: &str) -> Result<Api> {
        self.write(|tx| {
            let current = Self::api_of(&tx.catalog, api_id)?.clone();
            let rev = Self::revision_of(&tx.catalog, &current.id, revision_id)?.clone();
            let mut api = rev.snapshot.clone();
            api.lifecycle = current.lifecycle;
            api.created_at = current.created_at;
            api.updated_at = now_millis();
            let others: Vec<&Api> = tx
                .catalog
                .apis
                .values()
                .filter(|a| a.id != api.id)
                .collect();
            catalog::check_api_unique(&api.to_draft(), &others)?;
            tx.save_api(&api)?;
            Ok(api)
        })
        .await
    }

    // ---- Policies ----

    /// Adds a custom subscription plan.
    pub async fn add_subscription_policy(
        &self,
        policy: SubscriptionPolicy,
    ) -> Result<SubscriptionPolicy> {
        self.write(|tx| {
            catalog::validate_subscription_policy(&policy, &tx.catalog.subscription_policies)?;
            let policy = SubscriptionPolicy {
                built_in: false,
                ..policy
            };
            tx.put(Table::SubscriptionPolicies, &policy.name, &policy)?;
            tx.catalog.subscription_policies.push(policy.clone());
            tx.changes.push(Change::Policies);
            Ok(policy)
        })
        .await
    }

    /// Adds a custom application policy.
    pub async fn add_application_policy(
        &self,
        policy: ApplicationPolicy,
    ) -> Result<ApplicationPolicy> {
        self.write(|tx| {
            catalog::validate_application_policy(&policy, &tx.catalog.application_policies)?;
            let policy = ApplicationPolicy {
                built_in: false,
                ..policy
            };
            tx.put(Table::ApplicationPolicies, &policy.name, &policy)?;
            tx.catalog.application_policies.push(policy.clone());
            tx.changes.push(Change::Policies);
            Ok(policy)
        })
        .await
    }

    // ---- Developer Portal: applications, subscriptions, keys ----

    /// Creates an application (token type JWT, owner `admin`).
    pub async fn create_application(&self, draft: AppDraft) -> Result<Application> {
        self.write(|tx| {
            let others: Vec<&Application> = tx.catalog.applications.values().collect();
            catalog::validate_application(&draft, &tx.catalog.application_policies, &others)?;
            let app = Application {
                id: new_id(),
                name: draft.name.trim().to_string(),
                throttling_policy: draft.throttling_policy,
                description: draft.description,
                token_type: "JWT".to_string(),
                owner: "admin".to_string(),
                created_at: now_millis(),
            };
            tx.put(Table::Applications, &app.id, &app)?;
            tx.changes.push(Change::Application(app.id.clone()));
            tx.catalog.applications.insert(app.id.clone(), app.clone());
            Ok(app)
        })
        .await
    }

    /// Deletes an application with its subscriptions and keys.
    pub async fn delete_application(&self, id: &str) -> Result<Application> {
        self.write(|tx| {
            let app = tx
                .catalog
                .find_application(id)
                .cloned()
                .ok_or_else(|| ControlError::not_found("application", id))?;
            let subs: Vec<String> = tx
                .catalog
                .subscriptions_of_app(&app.id)
                .iter()
                .map(|s| s.id.clone())
                .collect();
            for sid in subs {
                tx.delete(Table::Subscriptions, &sid);
                tx.catalog.subscriptions.remove(&sid);
                tx.changes.push(Change::Subscription(sid));
            }
            let keys: Vec<String> = tx
                .catalog
                .keys_of(&app.id)
                .iter()
                .map(|k| k.consumer_key.clone())
                .collect();
            for ck in keys {
                tx.delete(Table::KeyPairs, &ck);
                tx.catalog.key_pairs.remove(&ck);
            }
            tx.delete(Table::Applications, &app.id);
            tx.catalog.applications.remove(&app.id);
            tx.changes.push(Change::Application(app.id.clone()));
            Ok(app)
        })
        .await
    }

    /// Subscribes an application to an API under one of its plans.
    pub async fn subscribe(&self, app_id: &str, api_id: &str, plan: &str) -> Result<Subscription> {
        self.write(|tx| {
            let app = tx
                .catalog
                .find_application(app_id)
                .cloned()
                .ok_or_else(|| ControlError::not_found("application", app_id))?;
            let api = Self::api_of(&tx.catalog, api_id)?.clone();
            let existing: Vec<&Subscription> = tx.catalog.subscriptions.values().collect();
            catalog::check_can_subscribe(&api, plan, &existing, &app)?;
            let sub = Subscription {
                id: new_id(),
                application_id: app.id,
                api_id: api.id,
                policy: plan.to_string(),
                status: SubscriptionStatus::Unblocked,
                created_at: now_millis(),
            };
            tx.put(Table::Subscriptions, &sub.id, &sub)?;
            tx.changes.push(Change::Subscription(sub.id.clone()));
            tx.catalog.subscriptions.insert(sub.id.clone(), sub.clone());
            Ok(sub)
        })
        .await
    }

    /// Removes a subscription; live streams that used it are closed by the gateway.
    pub async fn unsubscribe(&self, subscription_id: &str) -> Result<Subscription> {
        self.write(|tx| {
            let sub = tx
                .catalog
                .subscriptions
                .remove(subscription_id)
                .ok_or_else(|| ControlError::not_found("subscription", subscription_id))?;
            tx.delete(Table::Subscriptions, &sub.id);
            tx.changes.push(Change::Subscription(sub.id.clone()));
            Ok(sub)
        })
        .await
    }

    /// Blocks or unblocks a subscription (the Publisher's subscription page).
    pub async fn set_subscription_status(
        &self,
        subscription_id: &str,
        status: SubscriptionStatus,
    ) -> Result<Subscription> {
        self.write(|tx| {
            let mut sub = tx
                .catalog
                .subscriptions
                .get(subscription_id)
                .cloned()
                .ok_or_else(|| ControlError::not_found("subscription", subscription_id))?;
            sub.status = status;
            tx.put(Table::Subscriptions, &sub.id, &sub)?;
            tx.changes.push(Change::Subscription(sub.id.clone()));
            tx.catalog.subscriptions.insert(sub.id.clone(), sub.clone());
            Ok(sub)
        })
        .await
    }

    /// Generates the consumer key and secret of a key type (replacing any earlier pair of
    /// that type) and issues a first access token.
    pub async fn generate_keys(
        &self,
        app_id: &str,
        key_type: KeyType,
        validity_secs: Option<i64>,
    ) -> Result<GeneratedKeys> {
        let consumer_key = keys::new_consumer_key()?;
        let consumer_secret = keys::new_consumer_secret()?;
        let generated = self
            .write(|tx| {
                let app = tx
                    .catalog
                    .find_application(app_id)
                    .cloned()
                    .ok_or_else(|| ControlError::not_found("application", app_id))?;
                let old: Vec<String> = tx
                    .catalog
                    .keys_of(&app.id)
                    .iter()
                    .filter(|k| k.key_type == key_type)
                    .map(|k| k.consumer_key.clone())
                    .collect();
                for ck in old {
                    tx.delete(Table::KeyPairs, &ck);
                    tx.catalog.key_pairs.remove(&ck);
                }
                let key_pair = KeyPair {
                    key_mapping_id: new_id(),
                    application_id: app.id.clone(),
                    key_type,
                    consumer_key,
                    secret_hash: keys::hash_secret(&consumer_secret),
                    grant_types: vec!["client_credentials".to_string()],
                    created_at: now_millis(),
                };
                tx.put(Table::KeyPairs, &key_pair.consumer_key, &key_pair)?;
                tx.catalog
                    .key_pairs
                    .insert(key_pair.consumer_key.clone(), key_pair.clone());
                tx.changes.push(Change::Application(app.id.clone()));
                let token = self.inner.keys.issue(
                    &app,
                    &key_pair,
                    validity_secs.unwrap_or(keys::DEFAULT_VALIDITY_SECS),
                    "default",
                    now_millis() / 1000,
                )?;
                Ok(GeneratedKeys {
                    key_pair,
                    consumer_secret,
                    token,
                })
            })
            .await?;
        Ok(generated)
    }

    /// Replaces the consumer secret of a key pair; returns the new secret in clear.
    pub async fn regenerate_secret(
        &self,
        app_id: &str,
        key_mapping_id: &str,
    ) -> Result<(KeyPair, String)> {
        let secret = keys::new_consumer_secret()?;
        self.write(|tx| {
            let app = tx
                .catalog
                .find_application(app_id)
                .cloned()
                .ok_or_else(|| ControlError::not_found("application", app_id))?;
            let mut kp = tx
                .catalog
                .keys_of(&app.id)
                .into_iter()
                .find(|k| k.key_mapping_id == key_mapping_id)
                .cloned()
                .ok_or_else(|| ControlError::not_found("key mapping", key_mapping_id))?;
            kp.secret_hash = keys::hash_secret(&secret);
            kp.created_at = now_millis();
            tx.put(Table::KeyPairs, &kp.consumer_key, &kp)?;
            tx.catalog
                .key_pairs
                .insert(kp.consumer_key.clone(), kp.clone());
            tx.changes.push(Change::Application(app.id));
            Ok((kp, secret))
        })
        .await
    }

    /// Issues a token for an application's key pair (the portal's Generate Access Token).
    pub fn generate_token(
        &self,
        app_id: &str,
        key_mapping_id: &str,
        validity_secs: Option<i64>,
    ) -> Result<IssuedToken> {
        let catalog = self.snapshot();
        let app = catalog
            .find_application(app_id)
            .ok_or_else(|| ControlError::not_found("application", app_id))?;
        let kp = catalog
            .keys_of(&app.id)
            .into_iter()
            .find(|k| k.key_mapping_id == key_mapping_id || k.key_type.as_str() == key_mapping_id)
            .ok_or_else(|| ControlError::not_found("key mapping", key_mapping_id))?;
        self.issue(app, kp, validity_secs)
    }

    fn issue(
        &self,
        app: &Application,
        kp: &KeyPair,
        validity_secs: Option<i64>,
    ) -> Result<IssuedToken> {
        let validity = validity_secs.unwrap_or(keys::DEFAULT_VALIDITY_SECS);
        if validity <= 0 {
            return Err(RuleError::invalid(
                "validityPeriod",
                "the validity period must be a positive number of seconds",
            )
            .into());
        }
        let token = self
            .inner
            .keys
            .issue(app, kp, validity, "default", now_millis() / 1000)?;
        // Nobody listening is fine.
        let _ = self.inner.changes.send(Change::Token(app.id.clone()));
        Ok(token)
    }

    /// The OAuth2 client-credentials grant: checks the consumer key and secret.
    pub fn client_credentials(
        &self,
        consumer_key: &str,
        consumer_secret: &str,
        validity_secs: Option<i64>,
    ) -> Result<IssuedToken> {
        let kp = self.authenticate_client(consumer_key, consumer_secret)?;
        let catalog = self.snapshot();
        let app = catalog
            .applications
            .get(&kp.application_id)
            .ok_or(ControlError::InvalidClient)?;
        self.issue(app, &kp, validity_secs)
    }

    /// Checks client credentials, returning the key pair.
    pub fn authenticate_client(
        &self,
        consumer_key: &str,
        consumer_secret: &str,
    ) -> Result<KeyPair> {
        self.snapshot()
            .key_pairs
            .get(consumer_key)
            .filter(|k| keys::secret_matches(consumer_secret, &k.secret_hash))
            .cloned()
            .ok_or(ControlError::InvalidClient)
    }

    /// Revokes a token (RFC 7009). Tokens that aren't ours, or that belong to another
    /// client when `client` is given, are ignored, as the RFC asks. Returns whether a
    /// token was revoked.
    pub async fn revoke_token(&self, token: &str, client: Option<&str>) -> Result<bool> {
        let Some(claims) = self.inner.keys.peek_claims(token) else {
            return Ok(false);
        };
        // Only tokens we signed; an expired one needs no revoking.
        if let Err(crate::keys::TokenError::Invalid(_)) = self.inner.keys.verify(token) {
            return Ok(false);
        }
        if client.is_some_and(|c| c != claims.azp) {
            return Ok(false);
        }
        self.write(|tx| {
            if tx.catalog.revoked.contains_key(&claims.jti) {
                return Ok(false);
            }
            tx.put(Table::RevokedTokens, &claims.jti, &claims.exp)?;
            tx.catalog.revoked.insert(claims.jti.clone(), claims.exp);
            tx.changes
                .push(Change::Token(claims.application.uuid.clone()));
            Ok(true)
        })
        .await
    }

    // ---- Quota counters ----

    /// Persists quota counters in one transaction.
    pub async fn save_counters(&self, counters: Vec<(String, CounterRecord)>) -> Result<()> {
        let ops = counters
            .iter()
            .map(|(id, rec)| Op::put(Table::QuotaCounters, id, rec))
            .collect::<Result<Vec<_>, _>>()?;
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || store.apply(&ops))
            .await
            .map_err(|e| ControlError::Internal(e.to_string()))??;
        Ok(())
    }

    /// Loads the persisted quota counters.
    pub fn load_counters(&self) -> Result<HashMap<String, CounterRecord>> {
        Ok(self
            .inner
            .store
            .scan(Table::QuotaCounters)?
            .into_iter()
            .filter_map(|(k, v)| Some((k, serde_json::from_slice(&v).ok()?)))
            .collect())
    }
}
