//! Publisher operations on revisions and deployments: snapshot the working copy, deploy
//! to gateway environments, undeploy, restore, delete (at most five revisions per API).

use crate::catalog::{
    self, Api, DeployTarget, Deployment, Revision, RuleError, new_id, now_millis,
};
use crate::store::Table;

use super::{Change, Control, ControlError, Result, Snapshot, Tx, deployment_key};

impl Control {
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
            let revisions = tx.catalog.revisions_of_others(&api.id);
            catalog::check_api_unique(&api.to_draft(), &others, &revisions)?;
            tx.save_api(&api)?;
            Ok(api)
        })
        .await
    }
}
