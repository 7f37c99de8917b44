//! Application names are unique per owner (WSO2: per subscriber), not across the server:
//! over the Developer Portal REST API on 127.0.0.1:0, two users both have "TutorialApp",
//! the same user twice is 409, each finds their own by name, and it all survives a restart.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use streamgate::catalog::Role;

const PASSWORD: &str = "correct horse battery";

/// A new subscriber's management token (password grant through control).
async fn subscriber(s: &TestServer, name: &str) -> String {
    s.control()
        .create_user(name, PASSWORD, vec![Role::Subscriber])
        .await
        .unwrap();
    s.control()
        .password_grant(name, PASSWORD, None, None, None)
        .await
        .unwrap()
        .access_token
}

async fn as_user(
    s: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = s.anon(method, &devportal(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn app(name: &str) -> Value {
    json!({"name": name, "throttlingPolicy": "Unlimited", "tokenType": "JWT"})
}

/// `POST /applications` as the user with `token`, for an application named `name`.
async fn create_app(s: &TestServer, token: &str, name: &str) -> (StatusCode, Value) {
    as_user(s, token, Method::POST, "/applications", Some(app(name))).await
}

fn ids(list: &Value) -> Vec<String> {
    list["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["applicationId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn two_users_may_share_an_application_name_but_one_user_may_not_repeat_it() {
    let s = TestServer::start().await;
    let dev1 = subscriber(&s, "dev1").await;
    let dev2 = subscriber(&s, "dev2").await;

    let (status, one) = create_app(&s, &dev1, "TutorialApp").await;
    assert_eq!(status, StatusCode::CREATED, "{one}");
    let (status, two) = create_app(&s, &dev2, "TutorialApp").await;
    assert_eq!(status, StatusCode::CREATED, "{two}");
    let one = one["applicationId"].as_str().unwrap().to_string();
    let two = two["applicationId"].as_str().unwrap().to_string();
    assert_ne!(one, two);

    // The same owner twice (any case) is a conflict and changes nothing.
    let before = s.control().snapshot().applications.len();
    let (status, body) = create_app(&s, &dev1, "tutorialapp").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["description"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );
    assert_eq!(s.control().snapshot().applications.len(), before);

    // The admin (local operator) may have one too; a second is 409.
    s.post_expect(
        &devportal("/applications"),
        app("TutorialApp"),
        StatusCode::CREATED,
    )
    .await;
    s.post_expect(
        &devportal("/applications"),
        app("TutorialApp"),
        StatusCode::CONFLICT,
    )
    .await;

    // Each finds their own by name; lists hold only their own.
    let (status, got) = as_user(&s, &dev1, Method::GET, "/applications/TutorialApp", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["applicationId"], one.as_str());
    let (_, got) = as_user(&s, &dev2, Method::GET, "/applications/TutorialApp", None).await;
    assert_eq!(got["applicationId"], two.as_str());
    let (_, list) = as_user(&s, &dev1, Method::GET, "/applications", None).await;
    assert_eq!(ids(&list), [one.as_str()]);
    let (_, list) = as_user(&s, &dev2, Method::GET, "/applications", None).await;
    assert_eq!(ids(&list), [two.as_str()]);
    // The admin sees all three, and by name finds their own.
    let (_, all) = s.get(&devportal("/applications")).await;
    assert_eq!(ids(&all).len(), 3);
    let (_, mine) = s.get(&devportal("/applications/TutorialApp")).await;
    assert_eq!(mine["owner"], "admin");

    // dev2 deleting "TutorialApp" deletes dev2's, not dev1's.
    let (status, _) = as_user(&s, &dev2, Method::DELETE, "/applications/TutorialApp", None).await;
    assert!(status.is_success(), "{status}");
    let catalog = s.control().snapshot();
    assert!(catalog.applications.contains_key(&one));
    assert!(!catalog.applications.contains_key(&two));
    drop(catalog);
    // ... and dev2 may create the name again.
    let (status, _) = create_app(&s, &dev2, "TutorialApp").await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn per_owner_names_survive_a_restart() {
    let s = TestServer::start().await;
    let dev1 = subscriber(&s, "dev1").await;
    let (status, _) = create_app(&s, &dev1, "Shared").await;
    assert_eq!(status, StatusCode::CREATED);
    s.post_expect(
        &devportal("/applications"),
        app("Shared"),
        StatusCode::CREATED,
    )
    .await;
    let options = s.options().clone();
    let s = s.restart(options).await;
    let owners: Vec<String> = {
        let catalog = s.control().snapshot();
        let mut o: Vec<String> = catalog
            .applications
            .values()
            .filter(|a| a.name == "Shared")
            .map(|a| a.owner.clone())
            .collect();
        o.sort();
        o
    };
    assert_eq!(owners, ["admin", "dev1"]);
    // The token survives the restart (the signing key is in the data dir).
    let (status, body) = create_app(&s, &dev1, "Shared").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

/// The CLI's name resolution: an admin seeing several applications of one name gets its
/// own when exactly one is (`app show`, as the README says), and the error naming the ids
/// when none or several are; `app list` shows each row's OWNER.
#[tokio::test]
async fn the_cli_picks_the_callers_own_application_among_several_of_one_name() {
    let s = TestServer::start().await;
    let sue = subscriber(&s, "sue").await;
    let bob = subscriber(&s, "bob").await;
    let (st, sues) = as_user(
        &s,
        &sue,
        Method::POST,
        "/applications",
        Some(application_body("TutorialApp")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{sues}");
    let mine = s
        .post_expect(
            &devportal("/applications"),
            application_body("TutorialApp"),
            StatusCode::CREATED,
        )
        .await;
    let mine = mine["applicationId"].as_str().unwrap().to_string();
    for token in [&sue, &bob] {
        let (st, app) = as_user(
            &s,
            token,
            Method::POST,
            "/applications",
            Some(application_body("Shared")),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{app}");
    }

    let shown = ok(&s, &["app", "show", "TutorialApp"]).await;
    assert!(shown.contains(&mine), "{shown}");
    let shown = ok(&s, &["app", "show", "tutorialapp", "--json"]).await;
    assert!(shown.contains(&mine), "{shown}");
    // Neither is admin's: still the error naming both owners.
    let err = fails(&s, &["app", "show", "Shared"]).await;
    assert!(
        err.contains("several applications are named 'Shared'")
            && err.contains("owner sue")
            && err.contains("owner bob"),
        "{err}"
    );

    let list = ok(&s, &["app", "list"]).await;
    let header = list.lines().next().unwrap();
    assert!(header.contains("OWNER"), "{list}");
    let tutorial: Vec<&str> = list.lines().filter(|l| l.contains("TutorialApp")).collect();
    assert_eq!(tutorial.len(), 2, "{list}");
    assert!(tutorial.iter().any(|l| l.contains("sue")), "{list}");
    assert!(tutorial.iter().any(|l| l.contains("admin")), "{list}");
}

/// `PUT /applications/{id}` (devportal-v3) changes name, application policy and
/// description, validated as on create (a name taken by the same owner 409, an unknown
/// policy or empty name 400), keeps absent fields, and another user's application is 404;
/// refusals change nothing.
#[tokio::test]
async fn put_application_updates_its_own_with_the_create_checks() {
    let s = TestServer::start().await;
    let sue = subscriber(&s, "sue").await;
    let bob = subscriber(&s, "bob").await;
    let mut ids = Vec::new();
    for name in ["TutorialApp", "Other"] {
        let (st, app) = as_user(
            &s,
            &sue,
            Method::POST,
            "/applications",
            Some(application_body(name)),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{app}");
        ids.push(app["applicationId"].as_str().unwrap().to_string());
    }
    // bob's own "Renamed" does not stop sue's.
    let (st, _) = as_user(
        &s,
        &bob,
        Method::POST,
        "/applications",
        Some(application_body("Renamed")),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let path = format!("/applications/{}", ids[0]);
    let before = s.control().snapshot().applications.clone();
    let refused = [
        (&bob, json!({"name": "Mine"}), StatusCode::NOT_FOUND),
        (&sue, json!({"name": "other"}), StatusCode::CONFLICT),
        (&sue, json!({"name": "  "}), StatusCode::BAD_REQUEST),
        (
            &sue,
            json!({"throttlingPolicy": "Nope"}),
            StatusCode::BAD_REQUEST,
        ),
        (&sue, json!({"tokenType": "SAML"}), StatusCode::BAD_REQUEST),
    ];
    for (token, body, status) in refused {
        let (st, err) = as_user(&s, token, Method::PUT, &path, Some(body.clone())).await;
        assert_eq!(st, status, "{body}: {err}");
    }
    assert_eq!(s.control().snapshot().applications, before);

    let (st, app) = as_user(
        &s,
        &sue,
        Method::PUT,
        &path,
        Some(json!({"name": "Renamed", "throttlingPolicy": "10PerMin"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{app}");
    assert_eq!(app["name"], "Renamed");
    assert_eq!(app["throttlingPolicy"], "10PerMin");
    assert_eq!(app["owner"], "sue");
    assert_eq!(app["applicationId"], ids[0].as_str());
    let (st, app) = as_user(
        &s,
        &sue,
        Method::PUT,
        &path,
        Some(json!({"description": "for the tutorial"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{app}");
    assert_eq!(app["name"], "Renamed");
    assert_eq!(app["description"], "for the tutorial");
    let (_, got) = as_user(&s, &sue, Method::GET, &path, None).await;
    assert_eq!(got["name"], "Renamed", "{got}");
    assert_eq!(got["throttlingPolicy"], "10PerMin", "{got}");
}

/// `streamgate app update` sends the PUT with the fields given, says what it changed,
/// and refuses no field (usage) and an unknown policy (the server's 400).
#[tokio::test]
async fn cli_app_update_changes_the_fields_given() {
    let s = TestServer::start().await;
    let app = s
        .post_expect(
            &devportal("/applications"),
            application_body("TutorialApp"),
            StatusCode::CREATED,
        )
        .await;
    let id = app["applicationId"].as_str().unwrap().to_string();
    let out = ok(
        &s,
        &[
            "app",
            "update",
            "TutorialApp",
            "--name",
            "Renamed",
            "--policy",
            "10PerMin",
        ],
    )
    .await;
    assert_eq!(
        out,
        format!("Updated application Renamed (id {id}) with policy 10PerMin\n")
    );
    let err = fails(&s, &["app", "update", "Renamed"]).await;
    assert!(err.contains("--name, --policy or --description"), "{err}");
    let err = fails(&s, &["app", "update", "Renamed", "--policy", "Nope"]).await;
    assert!(err.contains("400"), "{err}");
    let (_, got) = s.get(&devportal(&format!("/applications/{id}"))).await;
    assert_eq!(got["name"], "Renamed", "{got}");
    assert_eq!(got["throttlingPolicy"], "10PerMin", "{got}");
    assert_eq!(got["description"], "", "{got}");
}
