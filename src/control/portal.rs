//! Developer Portal operations: applications, their subscriptions and their OAuth2 key
//! pairs (consumer key and secret).

use crate::catalog::{
    self, Application, ApplicationDraft, KeyPair, KeyType, Subscription, SubscriptionStatus,
    new_id, now_millis,
};
use crate::keys::{self, IssuedToken};
use crate::store::Table;

use super::{Change, Control, ControlError, Result};

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

impl Control {
    /// Creates an application (token type JWT, owner `admin`).
    pub async fn create_application(&self, draft: ApplicationDraft) -> Result<Application> {
        self.create_application_owned(draft, "admin").await
    }

    /// Creates an application (token type JWT) owned by the user `owner`.
    pub async fn create_application_owned(
        &self,
        draft: ApplicationDraft,
        owner: &str,
    ) -> Result<Application> {
        self.write(|tx| {
            // Names are unique per owner (WSO2: per subscriber), so two users may both
            // have a "TutorialApp".
            let others: Vec<&Application> = tx
                .catalog
                .applications
                .values()
                .filter(|a| a.owner.eq_ignore_ascii_case(owner))
                .collect();
            catalog::validate_application(&draft, &tx.catalog.application_policies, &others)?;
            let app = Application {
                id: new_id(),
                name: draft.name.trim().to_string(),
                throttling_policy: draft.throttling_policy,
                description: draft.description,
                token_type: "JWT".to_string(),
                owner: owner.to_string(),
                created_at: now_millis(),
            };
            tx.put(Table::Applications, &app.id, &app)?;
            tx.changes.push(Change::Application(app.id.clone()));
            tx.catalog.applications.insert(app.id.clone(), app.clone());
            Ok(app)
        })
        .await
    }

    /// Replaces an application's name, application policy and description (WSO2's `PUT
    /// /applications/{id}`), checked as on create: the name stays unique per owner.
    /// Owner, token type, keys and subscriptions stay.
    pub async fn update_application(
        &self,
        id: &str,
        draft: ApplicationDraft,
    ) -> Result<Application> {
        self.write(|tx| {
            let mut app = Self::application_of(&tx.catalog, id)?.clone();
            let others: Vec<&Application> = tx
                .catalog
                .applications
                .values()
                .filter(|a| a.id != app.id && a.owner.eq_ignore_ascii_case(&app.owner))
                .collect();
            catalog::validate_application(&draft, &tx.catalog.application_policies, &others)?;
            app.name = draft.name.trim().to_string();
            app.throttling_policy = draft.throttling_policy;
            app.description = draft.description;
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
            let app = Self::application_of(&tx.catalog, id)?.clone();
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
            let app = Self::application_of(&tx.catalog, app_id)?.clone();
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
                let app = Self::application_of(&tx.catalog, app_id)?.clone();
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
            let app = Self::application_of(&tx.catalog, app_id)?.clone();
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
}
