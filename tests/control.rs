//! Control over a real redb file in a temp dir: the tutorial's flow, the rules it enforces,
//! persistence across reopen, and a SIGKILL in the middle of writes losing nothing acknowledged.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use streamgate::catalog::DeployTarget;
use streamgate::catalog::{
    ApiDraft, ApplicationDraft, KeyType, LifecycleAction, LifecycleState, Quota, RuleError,
    SubscriptionPolicy, SubscriptionStatus, TimeUnit,
};
use streamgate::control::{
    Change, Control, ControlError, ControlOptions, CounterRecord, KeyPairRef,
};

const ENV: &str = "Production and Sandbox";

fn observer() -> ApiDraft {
    ApiDraft::tutorial()
}

fn targets() -> Vec<DeployTarget> {
    vec![DeployTarget::new(ENV, "localhost")]
}

fn open(dir: &std::path::Path) -> Control {
    Control::open(ControlOptions::new(dir)).unwrap()
}

fn conflict_code(err: ControlError) -> u32 {
    match err {
        ControlError::Rule(RuleError::Conflict { code, .. }) => code,
        other => panic!("expected a conflict, got {other}"),
    }
}

#[tokio::test]
async fn the_tutorial_flow_runs_through_control_and_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (api_id, app_id, token) = {
        let control = open(dir.path());
        let mut changes = control.subscribe_changes();
        let api = control.create_api(observer()).await.unwrap();
        assert_eq!(api.lifecycle, LifecycleState::Created);
        assert_eq!(api.policies, vec!["AsyncUnlimited"]);
        assert_eq!(changes.recv().await.unwrap(), Change::Api(api.id.clone()));

        let api = control
            .set_plans(&api.id, vec!["AsyncGold".into()])
            .await
            .unwrap();
        assert_eq!(api.policies, vec!["AsyncGold"]);

        let outcome = control
            .change_lifecycle("Observer:1.0.0", LifecycleAction::Publish)
            .await
            .unwrap();
        assert_eq!(outcome.previous, LifecycleState::Created);
        assert_eq!(outcome.api.lifecycle, LifecycleState::Published);
        assert!(outcome.warning.unwrap().contains("no deployed revision"));

        let before = control.view().version;
        let (rev, deps) = control
            .deploy_new_revision(&api.id, "first", &targets())
            .await
            .unwrap();
        assert_eq!(rev.number, 1);
        assert_eq!(deps[0].environment, ENV);
        let view = control.view();
        assert!(view.version > before);
        let (route, resource) = view.route_for("/observer/1.0.0/memory").unwrap();
        assert_eq!(route.api_id, api.id);
        assert_eq!(resource, "/memory");
        assert!(route.accepts_production && route.accepts_sandbox);

        let app = control
            .create_application(ApplicationDraft {
                name: "TutorialApp".into(),
                throttling_policy: "Unlimited".into(),
                description: String::new(),
            })
            .await
            .unwrap();
        let sub = control
            .subscribe(&app.id, &api.id, "AsyncGold")
            .await
            .unwrap();
        assert_eq!(sub.status, SubscriptionStatus::Unblocked);
        assert!(
            control
                .view()
                .subscriptions
                .contains_key(&(app.id.clone(), api.id.clone()))
        );

        let keys = control
            .generate_keys(&app.id, KeyType::Production, None)
            .await
            .unwrap();
        assert_ne!(keys.key_pair.secret_hash, keys.consumer_secret);
        let claims = control.keys().verify(&keys.token.access_token).unwrap();
        assert_eq!(claims.azp, keys.key_pair.consumer_key);
        assert_eq!(claims.keytype, KeyType::Production);
        assert_eq!(claims.exp - claims.iat, 3600);

        let issued = control
            .client_credentials(&keys.key_pair.consumer_key, &keys.consumer_secret, Some(60))
            .unwrap();
        assert_eq!(issued.expires_in, 60);
        assert!(matches!(
            control.client_credentials(&keys.key_pair.consumer_key, "wrong", None),
            Err(ControlError::InvalidClient)
        ));
        (api.id, app.id, issued.access_token)
    };

    let control = open(dir.path());
    let catalog = control.snapshot();
    let api = catalog.find_api(&api_id).unwrap();
    assert_eq!(api.lifecycle, LifecycleState::Published);
    assert_eq!(api.policies, vec!["AsyncGold"]);
    assert_eq!(catalog.revisions_of(&api_id).len(), 1);
    assert_eq!(catalog.deployments_of(&api_id).len(), 1);
    assert_eq!(catalog.subscriptions_of_app(&app_id).len(), 1);
    assert_eq!(catalog.keys_of(&app_id).len(), 1);
    assert!(control.view().route_for("/observer/1.0.0/memory").is_some());
    // The signing key persisted: a token from before the reopen still verifies.
    assert!(control.keys().verify(&token).is_ok());
}

#[tokio::test]
async fn the_gateway_serves_the_deployed_revision_not_the_working_copy() {
    let dir = tempfile::tempdir().unwrap();
    let control = open(dir.path());
    let api = control.create_api(observer()).await.unwrap();
    control
        .deploy_new_revision(&api.id, "", &targets())
        .await
        .unwrap();
    let mut draft = api.to_draft();
    draft.production_endpoint = Some("http://localhost:9999".into());
    control.update_api(&api.id, draft).await.unwrap();
    let view = control.view();
    let (route, _) = view.route_for("/observer/1.0.0/x").unwrap();
    assert_eq!(
        route.production_endpoint.as_deref(),
        Some("http://localhost:8080")
    );

    let (rev2, _) = control
        .deploy_new_revision(&api.id, "", &targets())
        .await
        .unwrap();
    let view = control.view();
    let (route, _) = view.route_for("/observer/1.0.0/x").unwrap();
    assert_eq!(route.revision_id, rev2.id);
    assert_eq!(
        route.production_endpoint.as_deref(),
        Some("http://localhost:9999")
    );
    // One deployment per environment: the new revision replaced the old one.
    assert_eq!(control.snapshot().deployments_of(&api.id).len(), 1);
}

#[tokio::test]
async fn revisions_are_limited_to_five_and_deployed_ones_cannot_be_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let control = open(dir.path());
    let api = control.create_api(observer()).await.unwrap();
    let mut revs = Vec::new();
    for i in 0..5 {
        revs.push(
            control
                .create_revision(&api.id, &format!("r{i}"))
                .await
                .unwrap(),
        );
    }
    let err = control.create_revision(&api.id, "sixth").await.unwrap_err();
    assert_eq!(conflict_code(err), 900351);

    control
        .deploy_revision(&api.id, &revs[0].id, &targets())
        .await
        .unwrap();
    let err = control
        .delete_revision(&api.id, &revs[0].id)
        .await
        .unwrap_err();
    assert_eq!(conflict_code(err), 900348);
    // Deleting an undeployed one frees a slot; numbering keeps going up.
    control.delete_revision(&api.id, &revs[1].id).await.unwrap();
    let sixth = control.create_revision(&api.id, "again").await.unwrap();
    assert_eq!(sixth.number, 6);
    // Undeploy, then delete works; the route disappears.
    control
        .undeploy_revision(&api.id, &revs[0].id, &[])
        .await
        .unwrap();
    assert!(control.view().route_for("/observer/1.0.0/memory").is_none());
    control.delete_revision(&api.id, &revs[0].id).await.unwrap();
}

#[tokio::test]
async fn restore_copies_a_revision_back_into_the_working_copy() {
    let dir = tempfile::tempdir().unwrap();
    let control = open(dir.path());
    let api = control.create_api(observer()).await.unwrap();
    let rev = control.create_revision(&api.id, "").await.unwrap();
    control
        .change_lifecycle(&api.id, LifecycleAction::Publish)
        .await
        .unwrap();
    let mut draft = api.to_draft();
    draft.description = "changed".into();
    control.update_api(&api.id, draft).await.unwrap();
    let restored = control
        .restore_revision(&api.id, "Revision 1")
        .await
        .unwrap();
    assert_eq!(restored.description, rev.snapshot.description);
    // The lifecycle is the API's, not the revision's.
    assert_eq!(restored.lifecycle, LifecycleState::Published);
}

#[tokio::test]
async fn refused_writes_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let control = open(dir.path());
    let api = control.create_api(observer()).await.unwrap();
    let before = control.view().version;

    let err = control.create_api(observer()).await.unwrap_err();
    assert!(err.to_string().contains("already used"), "{err}");
    let mut bad = observer();
    bad.context = "/api/x".into();
    let err = control.create_api(bad).await.unwrap_err();
    assert!(matches!(
        err,
        ControlError::Rule(RuleError::Invalid {
            field: "context",
            ..
        })
    ));
    let err = control
        .change_lifecycle(&api.id, LifecycleAction::Retire)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("allowed actions: Publish, Deploy as a Prototype"),
        "{err}"
    );
    let err = control
        .set_plans(&api.id, vec!["Nope".into()])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown plan 'Nope'"), "{err}");
    assert!(matches!(
        control.create_revision("missing", "").await.unwrap_err(),
        ControlError::NotFound { what: "API", .. }
    ));

    assert_eq!(control.view().version, before);
    assert_eq!(control.snapshot().apis.len(), 1);
    let stored = control.snapshot().find_api(&api.id).unwrap().clone();
    assert_eq!(stored, api);
    drop(control);
    let reopened = open(dir.path());
    assert_eq!(reopened.snapshot().apis.len(), 1);
}

#[tokio::test]
async fn subscriptions_follow_the_rules_and_the_view() {
    let dir = tempfile::tempdir().unwrap();
    let control = open(dir.path());
    let api = control.create_api(observer()).await.unwrap();
    let app = control
        .create_application(ApplicationDraft {
            name: "A".into(),
            throttling_policy: "10PerMin".into(),
            description: String::new(),
        })
        .await
        .unwrap();
    // CREATED: no subscriptions.
    assert_eq!(
        conflict_code(
            control
                .subscribe(&app.id, &api.id, "AsyncUnlimited")
                .await
                .unwrap_err()
        ),
        900908
    );
    control
        .change_lifecycle(&api.id, LifecycleAction::Publish)
        .await
        .unwrap();
    let sub = control
        .subscribe("A", "Observer:1.0.0", "AsyncUnlimited")
        .await
        .unwrap();
    assert_eq!(control.view().app_rate_limits.get(&app.id), Some(&Some(10)));
    control
        .set_subscription_status(&sub.id, SubscriptionStatus::Blocked)
        .await
        .unwrap();
    let key = (app.id.clone(), api.id.clone());
    assert_eq!(
        control.view().subscriptions[&key].status,
        SubscriptionStatus::Blocked
    );
    // An API with subscriptions can't be deleted; deleting the app removes them.
    assert_eq!(
        conflict_code(control.delete_api(&api.id).await.unwrap_err()),
        900343
    );
    control.delete_application(&app.id).await.unwrap();
    assert!(control.view().subscriptions.is_empty());
    control.delete_api(&api.id).await.unwrap();
    assert!(control.snapshot().apis.is_empty());
}

#[tokio::test]
async fn custom_plans_and_counters_persist() {
    let dir = tempfile::tempdir().unwrap();
    {
        let control = open(dir.path());
        control
            .add_subscription_policy(SubscriptionPolicy {
                name: "Ten".into(),
                display_name: "Ten".into(),
                description: "10 per minute".into(),
                quota: Quota::Events {
                    count: 10,
                    unit: TimeUnit::Min,
                    unit_time: 1,
                },
                built_in: true,
            })
            .await
            .unwrap();
        control
            .save_counters(vec![(
                "sub-1".into(),
                CounterRecord {
                    window_start: 5,
                    count: 7,
                },
            )])
            .await
            .unwrap();
    }
    let control = open(dir.path());
    let catalog = control.snapshot();
    let plan = catalog.subscription_policy("Ten").unwrap();
    assert!(!plan.built_in, "custom plans are never built in");
    assert_eq!(plan.quota.limit(), Some(10));
    assert_eq!(
        control.load_counters().unwrap()["sub-1"],
        CounterRecord {
            window_start: 5,
            count: 7
        }
    );
}

#[tokio::test]
async fn revoked_tokens_are_in_the_view_and_stay_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let jti = {
        let control = open(dir.path());
        let app = control
            .create_application(ApplicationDraft {
                name: "A".into(),
                throttling_policy: "Unlimited".into(),
                description: String::new(),
            })
            .await
            .unwrap();
        let keys = control
            .generate_keys(&app.id, KeyType::Sandbox, Some(600))
            .await
            .unwrap();
        let token = keys.token.access_token;
        // Another client can't revoke it; its own client can.
        assert!(
            !control
                .revoke_token(&token, Some("someone-else"))
                .await
                .unwrap()
        );
        assert!(
            control
                .revoke_token(&token, Some(&keys.key_pair.consumer_key))
                .await
                .unwrap()
        );
        assert!(!control.revoke_token("not-a-token", None).await.unwrap());
        keys.token.claims.jti
    };
    let control = open(dir.path());
    assert!(control.view().revoked.contains(&jti));
}

/// The child side of the kill test: writes APIs in a loop, printing each id once acknowledged.
#[tokio::test]
async fn kill_test_child_writer() {
    let Ok(dir) = std::env::var("STREAMGATE_KILL_TEST_DIR") else {
        return; // Only runs as the child of the kill test.
    };
    let control = open(std::path::Path::new(&dir));
    for i in 0.. {
        let mut draft = observer();
        draft.name = format!("Api{i}");
        draft.context = format!("/api{i}x");
        let api = control.create_api(draft).await.unwrap();
        println!("ACK {}", api.id);
    }
}

#[test]
fn a_sigkill_mid_writes_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "kill_test_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("STREAMGATE_KILL_TEST_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acked = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(id) = line.strip_prefix("ACK ") {
            acked.push(id.to_string());
            if acked.len() == 40 {
                break;
            }
        }
    }
    // SIGKILL: no destructors, no flush.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(acked.len(), 40, "the child acknowledged too few writes");

    let control = open(dir.path());
    let catalog = control.snapshot();
    for id in &acked {
        assert!(
            catalog.apis.contains_key(id),
            "acknowledged API {id} was lost"
        );
    }
    // The database opened without repair and still takes writes.
    let mut draft = observer();
    draft.context = "/after".into();
    draft.name = "After".into();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(control.create_api(draft))
        .unwrap();
}

#[tokio::test]
async fn a_token_is_issued_for_the_key_pair_named_by_mapping_id_or_key_type() {
    let dir = tempfile::tempdir().unwrap();
    let control = open(dir.path());
    let app = control
        .create_application(ApplicationDraft {
            name: "Tokens".into(),
            throttling_policy: "Unlimited".into(),
            description: String::new(),
        })
        .await
        .unwrap();
    let production = control
        .generate_keys(&app.id, KeyType::Production, None)
        .await
        .unwrap();
    let sandbox = control
        .generate_keys("Tokens", KeyType::Sandbox, None)
        .await
        .unwrap();
    let by_mapping = control
        .generate_token(
            "Tokens",
            &KeyPairRef::MappingId(sandbox.key_pair.key_mapping_id.clone()),
            Some(60),
        )
        .unwrap();
    assert_eq!(by_mapping.claims.azp, sandbox.key_pair.consumer_key);
    assert_eq!(by_mapping.expires_in, 60);
    let by_type = control
        .generate_token(&app.id, &KeyPairRef::Type(KeyType::Production), None)
        .unwrap();
    assert_eq!(by_type.claims.azp, production.key_pair.consumer_key);
    assert!(matches!(
        control.generate_token(&app.id, &KeyPairRef::MappingId("nope".into()), None),
        Err(ControlError::NotFound {
            what: "key mapping",
            ..
        })
    ));
    assert!(matches!(
        control.generate_token("Nobody", &KeyPairRef::Type(KeyType::Production), None),
        Err(ControlError::NotFound {
            what: "application",
            ..
        })
    ));
}
