//! The snapshot: all the catalog's data held in memory, immutable once published, with
//! the queries the TUI, the management API and control itself ask of it.

use std::collections::{BTreeMap, HashMap};

use crate::catalog::{
    self, Api, Application, ApplicationPolicy, Deployment, Environment, KeyPair, Revision,
    Subscription, SubscriptionPolicy, now_millis,
};
use crate::store::{Store, Table};

use super::Result;

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
    /// Endpoint certificates by alias (trusted for their endpoint's `host:port`).
    pub endpoint_certificates: BTreeMap<String, crate::tls::store::EndpointCertificate>,
    /// Client certificates presented to backends, by API id (mutual TLS).
    pub backend_client_certificates: BTreeMap<String, crate::tls::store::BackendClientCertificate>,
    /// Management users (with their DCR clients) by id.
    pub users: BTreeMap<String, super::UserRecord>,
}

impl Snapshot {
    /// APIs sorted by name then version.
    pub fn apis_sorted(&self) -> Vec<&Api> {
        let mut apis: Vec<&Api> = self.apis.values().collect();
        apis.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        apis
    }

    /// The revisions of every API but `api_id`: the gateway paths other APIs hold or may
    /// deploy ([`catalog::check_api_unique`]).
    pub fn revisions_of_others(&self, api_id: &str) -> Vec<&Revision> {
        self.revisions
            .values()
            .filter(|r| r.api_id != api_id)
            .collect()
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

pub(super) fn load(store: &Store, environments: Vec<Environment>) -> Result<Snapshot> {
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
        endpoint_certificates: by_key(
            store.load::<crate::tls::store::EndpointCertificate>(Table::EndpointCertificates)?,
            |c| c.alias.clone(),
        ),
        backend_client_certificates: by_key(
            store.load::<crate::tls::store::BackendClientCertificate>(
                Table::BackendClientCertificates,
            )?,
            |c| c.api_id.clone(),
        ),
        users: super::users::load_users(store)?,
    })
}

fn by_key<T>(items: Vec<T>, key: impl Fn(&T) -> String) -> BTreeMap<String, T> {
    items.into_iter().map(|i| (key(&i), i)).collect()
}

/// The key of a deployment in the store and the snapshot: `api_id/environment`.
pub(super) fn deployment_key(d: &Deployment) -> String {
    format!("{}/{}", d.api_id, d.environment)
}
