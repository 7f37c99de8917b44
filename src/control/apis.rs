//! Publisher operations on APIs: create, edit, business plans, delete, lifecycle, and the
//! custom subscription and application policies (the Admin portal's throttling pages).

use crate::catalog::{
    self, Api, ApiDraft, ApplicationPolicy, LifecycleAction, LifecycleState, RuleError,
    SubscriptionPolicy, new_id, now_millis,
};
use crate::store::Table;

use super::{Change, Control, Result, deployment_key};

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

impl Control {
    /// Creates an SSE API in state CREATED.
    pub async fn create_api(&self, draft: ApiDraft) -> Result<Api> {
        self.create_api_by(draft, crate::catalog::user::ADMIN_USER)
            .await
    }

    /// Creates an API whose provider (WSO2's `provider`) is `provider`, the creating user.
    pub async fn create_api_by(&self, draft: ApiDraft, provider: &str) -> Result<Api> {
        self.write(|tx| {
            catalog::validate_api(&draft, &tx.catalog.subscription_policies)?;
            let others: Vec<&Api> = tx.catalog.apis.values().collect();
            let revisions: Vec<&catalog::Revision> = tx.catalog.revisions.values().collect();
            catalog::check_api_unique(&draft, &others, &revisions)?;
            let mut api = Api::from_draft(new_id(), draft, now_millis());
            api.provider = provider.to_string();
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
            let revisions = tx.catalog.revisions_of_others(&api.id);
            catalog::check_api_unique(&draft, &others, &revisions)?;
            api.apply_draft(draft, now_millis());
            tx.save_api(&api)?;
            Ok(api)
        })
        .await
    }

    /// Sets an API's CORS configuration (WSO2's `corsConfiguration`; the working copy:
    /// the gateway applies it once a revision with it is deployed). Refused (invalid
    /// field `corsConfiguration`) as [`crate::catalog::validate_cors`] says.
    pub async fn set_api_cors(
        &self,
        id: &str,
        cors: crate::catalog::CorsConfiguration,
    ) -> Result<Api> {
        crate::catalog::validate_cors(&cors)?;
        self.write(|tx| {
            let mut api = Self::api_of(&tx.catalog, id)?.clone();
            api.cors = Box::new(cors);
            api.updated_at = crate::catalog::now_millis();
            tx.save_api(&api)?;
            Ok(api)
        })
        .await
    }

    /// Sets how the gateway opens the API's backend stream (REST `backendStream`; the
    /// working copy: the gateway applies it once a revision with it is deployed, so open
    /// streams are never broken by the switch).
    pub async fn set_api_backend_stream(
        &self,
        id: &str,
        mode: crate::catalog::BackendStream,
    ) -> Result<Api> {
        self.write(|tx| {
            let mut api = Self::api_of(&tx.catalog, id)?.clone();
            api.backend_stream = mode;
            api.updated_at = crate::catalog::now_millis();
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
}
