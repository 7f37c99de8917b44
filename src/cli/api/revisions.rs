//! `streamgate api deploy`, `undeploy`, `deployments` and `revisions`: an API's revisions
//! and where they are deployed (the Publisher's `/apis/{apiId}/revisions` and
//! `/deployments`).

use super::super::output::table;
use super::*;

/// `streamgate api deploy`: deploy New Revision (or, with --revision, an existing one) to a gateway environment.
pub(super) async fn deploy(
    client: &Client,
    api: String,
    env: String,
    vhost: String,
    revision: Option<String>,
    hide_on_devportal: bool,
) -> Result<Output, CliError> {
    let info = client.resolve_api(&api).await?;
    let body = vec![DeploymentIn {
        name: env,
        vhost: Some(vhost),
        display_on_devportal: Some(!hide_on_devportal),
    }];
    let path = publisher(&format!("/apis/{}/deploy-revision", info.id));
    let query: Vec<(&str, &str)> = revision
        .as_deref()
        .map(|r| vec![("revisionId", r)])
        .unwrap_or_default();
    let (deployed, value) = client
        .post::<Vec<DeploymentDto>>(&path, &query, Some(&body))
        .await?;
    let first = deployed
        .first()
        .ok_or_else(|| CliError::BadAnswer("no deployment in the answer".to_string()))?;
    let (revs, _) = client
        .get::<ListDto<RevisionDto>>(&publisher(&format!("/apis/{}/revisions", info.id)), &[])
        .await?;
    let rev_name = revs
        .list
        .iter()
        .find(|r| r.id == first.revision_uuid)
        .map_or_else(|| first.revision_uuid.clone(), |r| r.display_name.clone());
    let url = client
        .gateway_url(&first.name)
        .await
        .map(|g| {
            format!(
                ": {}{}/{}",
                g.trim_end_matches('/'),
                info.context,
                info.version
            )
        })
        .unwrap_or_default();
    Ok(Output {
        human: format!(
            "Deployed {rev_name} of {} to {} (vhost {}){url}\n",
            handle_of(&info.name, &info.version),
            first.name,
            first.vhost
        ),
        quiet: first.revision_uuid.clone(),
        json: value,
        warnings: Vec::new(),
    })
}

/// `streamgate api undeploy`: undeploy a revision from an environment (or from all).
pub(super) async fn undeploy(
    client: &Client,
    api: String,
    revision: String,
    env: Option<String>,
) -> Result<Output, CliError> {
    let info = client.resolve_api(&api).await?;
    let path = publisher(&format!("/apis/{}/undeploy-revision", info.id));
    let (body, query) = match &env {
        Some(env) => (
            Some(vec![DeploymentIn {
                name: env.clone(),
                vhost: None,
                display_on_devportal: None,
            }]),
            vec![("revisionId", revision.as_str())],
        ),
        None => (
            None,
            vec![
                ("revisionId", revision.as_str()),
                ("allEnvironments", "true"),
            ],
        ),
    };
    let (removed, value) = client
        .post::<Vec<DeploymentDto>>(&path, &query, body.as_ref())
        .await?;
    let envs: Vec<&str> = removed.iter().map(|d| d.name.as_str()).collect();
    Ok(Output {
        human: format!(
            "Undeployed {revision} of {} from {}\n",
            handle_of(&info.name, &info.version),
            envs.join(", ")
        ),
        quiet: envs.join("\n"),
        json: value,
        warnings: Vec::new(),
    })
}

/// `streamgate api deployments`: list deployments (of one API, or of all).
pub(super) async fn deployments(client: &Client, api: Option<String>) -> Result<Output, CliError> {
    let apis = match api {
        Some(api) => vec![client.resolve_api(&api).await?],
        None => {
            client
                .get::<ListDto<ApiInfoDto>>(&publisher("/apis"), &[("limit", "100000")])
                .await?
                .0
                .list
        }
    };
    let mut rows = Vec::new();
    let mut all = Vec::new();
    for info in &apis {
        let (deps, value) = client
            .get::<DeploymentListDto>(&publisher(&format!("/apis/{}/deployments", info.id)), &[])
            .await?;
        if deps.list.is_empty() {
            continue;
        }
        let (revs, _) = client
            .get::<ListDto<RevisionDto>>(&publisher(&format!("/apis/{}/revisions", info.id)), &[])
            .await?;
        for d in &deps.list {
            let rev = revs
                .list
                .iter()
                .find(|r| r.id == d.revision_uuid)
                .map_or_else(|| d.revision_uuid.clone(), |r| r.display_name.clone());
            rows.push(vec![
                handle_of(&info.name, &info.version),
                rev,
                d.name.clone(),
                d.vhost.clone(),
                d.deployed_time.clone(),
            ]);
        }
        all.push(object([
            ("apiId", Value::from(info.id.clone())),
            ("list", value["list"].clone()),
        ]));
    }
    Ok(Output {
        human: if rows.is_empty() {
            "Nothing deployed: deploy with `streamgate api deploy Name:version`\n".to_string()
        } else {
            table(
                &["API", "REVISION", "ENVIRONMENT", "VHOST", "DEPLOYED"],
                &rows,
            )
        },
        quiet: rows
            .iter()
            .map(|r| format!("{} {}", r[0], r[2]))
            .collect::<Vec<_>>()
            .join("\n"),
        json: Value::Array(all),
        warnings: Vec::new(),
    })
}

/// `streamgate api revisions`: list an API's revisions.
pub(super) async fn revisions(client: &Client, api: String) -> Result<Output, CliError> {
    let info = client.resolve_api(&api).await?;
    let (revs, value) = client
        .get::<ListDto<RevisionDto>>(&publisher(&format!("/apis/{}/revisions", info.id)), &[])
        .await?;
    let rows: Vec<Vec<String>> = revs
        .list
        .iter()
        .map(|r| {
            let deployed: Vec<&str> = r.deployment_info.iter().map(|d| d.name.as_str()).collect();
            vec![
                r.display_name.clone(),
                r.id.clone(),
                r.created_time.clone(),
                deployed.join(", "),
            ]
        })
        .collect();
    Ok(Output {
        human: if rows.is_empty() {
            format!(
                "{} has no revisions\n",
                handle_of(&info.name, &info.version)
            )
        } else {
            table(&["REVISION", "ID", "CREATED", "DEPLOYED TO"], &rows)
        },
        quiet: revs
            .list
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>()
            .join("\n"),
        json: value,
        warnings: Vec::new(),
    })
}
