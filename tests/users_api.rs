//! Users, roles, scopes and ownership over a real management API on 127.0.0.1:0 with a
//! temp data dir: the route x role matrix, two subscribers' isolation, down-scoping,
//! expired and revoked management tokens, locked accounts, audience confusion, SCIM bad
//! input, and WSO2's DCR + password grant flow.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use streamgate::catalog::Role;
use streamgate::catalog::user::scopes_of;
use streamgate::control::ManagementClaims;
use streamgate::mgmt::auth::ROUTE_SCOPES;

/// `application/x-www-form-urlencoded` bodies (reqwest is built without its `form`).
trait FormPairs {
    fn form_pairs(self, pairs: &[(&str, &str)]) -> Self;
}

impl FormPairs for reqwest::RequestBuilder {
    fn form_pairs(self, pairs: &[(&str, &str)]) -> Self {
        let enc = |v: &str| {
            v.bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        (b as char).to_string()
                    }
                    b' ' => "+".to_string(),
                    other => format!("%{other:02X}"),
                })
                .collect::<String>()
        };
        let body = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }
}

const PASSWORD: &str = "correct horse battery";

async fn add_user(s: &TestServer, name: &str, roles: &[&str]) -> (StatusCode, Value) {
    s.post(
        "/scim2/Users",
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": name,
            "password": PASSWORD,
            "roles": roles.iter().map(|r| json!({"value": r})).collect::<Vec<_>>(),
        }),
    )
    .await
}

async fn password_grant(
    s: &TestServer,
    user: &str,
    password: &str,
    scope: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "password"),
        ("username", user),
        ("password", password),
    ];
    if let Some(sc) = scope {
        form.push(("scope", sc));
    }
    s.anon(Method::POST, "/oauth2/token")
        .form_pairs(&form)
        .send()
        .await
        .unwrap()
}

async fn login(s: &TestServer, user: &str, scope: Option<&str>) -> String {
    let resp = password_grant(s, user, PASSWORD, scope).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// The independent list: route -> roles that may call it (written from WSO2's docs and
/// streamgate's issue 14, not from the server's table).
fn expected_roles(method: &str, base_and_path: &str) -> BTreeSet<&'static str> {
    let all = ["admin", "creator", "publisher", "subscriber"];
    let set = |r: &[&'static str]| r.iter().copied().collect::<BTreeSet<_>>();
    let p = base_and_path;
    // WSO2's Admin API lets `apim:tier_view` (creators, publishers) read the policies.
    if method == "GET" && p.starts_with("/api/am/admin/v4/throttling") {
        return set(&["admin", "creator", "publisher"]);
    }
    if p.starts_with("/scim2") || p.starts_with("/api/am/admin") {
        return set(&["admin"]);
    }
    if p.starts_with("/api/am/devportal/v3/apis") {
        return set(&all);
    }
    if p.starts_with("/api/am/devportal") {
        return set(&["admin", "subscriber"]);
    }
    // Publisher
    let rest = p.trim_start_matches("/api/am/publisher/v4");
    match (method, rest) {
        ("POST", "/apis/change-lifecycle")
        | ("POST", "/apis/{id}/deploy-revision")
        | ("POST", "/apis/{id}/undeploy-revision") => set(&["admin", "publisher"]),
        ("POST", "/apis")
        | ("PUT", "/apis/{id}/asyncapi")
        | ("DELETE", "/apis/{id}")
        | ("POST", "/endpoint-certificates")
        | ("DELETE", "/endpoint-certificates/{id}")
        | ("PUT", "/apis/{id}/backend-client-certificate")
        | ("DELETE", "/apis/{id}/backend-client-certificate") => set(&["admin", "creator"]),
        _ => set(&["admin", "creator", "publisher"]),
    }
}

/// `GET /applications` (Developer Portal) with `token`.
async fn applications_as(s: &TestServer, token: &str) -> (StatusCode, Value) {
    s.call_as(Some(token), Method::GET, &devportal("/applications"), None)
        .await
}

/// POST `body` with `token`.
async fn post_as(s: &TestServer, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    s.call_as(Some(token), Method::POST, path, Some(body)).await
}

/// The id of the user `name`.
fn user_id(s: &TestServer, name: &str) -> String {
    s.control()
        .snapshot()
        .find_user(name)
        .unwrap()
        .user
        .id
        .clone()
}

fn role_of(name: &str) -> Role {
    Role::parse(name).unwrap()
}

#[tokio::test]
async fn route_by_role_matrix_matches_the_table_and_the_independent_list() {
    let s = TestServer::start().await;
    let mut tokens = Vec::new();
    for role in ["creator", "publisher", "subscriber"] {
        let (st, body) = add_user(&s, &format!("{role}1"), &[role]).await;
        assert_eq!(st, StatusCode::CREATED, "{body}");
        tokens.push((role, login(&s, &format!("{role}1"), None).await));
    }
    let admin_pw = std::fs::read_to_string(s.dir().join("admin-password")).unwrap();
    let resp = password_grant(&s, "admin", admin_pw.trim(), None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let admin_jwt: Value = resp.json().await.unwrap();
    tokens.push((
        "admin",
        admin_jwt["access_token"].as_str().unwrap().to_string(),
    ));

    for route in ROUTE_SCOPES {
        let full = format!("{}{}", route.base, route.path);
        // The server's table and the independent list agree.
        let from_table: BTreeSet<&str> = ["admin", "creator", "publisher", "subscriber"]
            .into_iter()
            .filter(|r| {
                let granted = scopes_of(&[role_of(r)]);
                route.scopes.is_empty() || route.scopes.iter().any(|s| granted.contains(s))
            })
            .collect();
        assert_eq!(
            from_table,
            expected_roles(route.method, &full),
            "{} {full}",
            route.method
        );
        let path = full
            .replace("{id}", "no-such-id")
            .replace("{rid}", "no-such-rev")
            .replace("{km}", "PRODUCTION");
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        let body = matches!(route.method, "POST" | "PUT" | "PATCH").then(|| json!({}));
        let (st, _) = s.call_as(None, method.clone(), &path, body.clone()).await;
        assert_eq!(
            st,
            StatusCode::UNAUTHORIZED,
            "{} {path} without token",
            route.method
        );
        let (st, _) = s
            .call_as(Some("not-a-token"), method.clone(), &path, body.clone())
            .await;
        assert_eq!(
            st,
            StatusCode::UNAUTHORIZED,
            "{} {path} bad token",
            route.method
        );
        for (role, token) in &tokens {
            let (st, answer) = s
                .call_as(Some(token), method.clone(), &path, body.clone())
                .await;
            if from_table.contains(role) {
                assert!(
                    st != StatusCode::FORBIDDEN && st != StatusCode::UNAUTHORIZED,
                    "{role} {} {path}: {st} {answer}",
                    route.method
                );
            } else {
                assert_eq!(
                    st,
                    StatusCode::FORBIDDEN,
                    "{role} {} {path}: {answer}",
                    route.method
                );
                assert_eq!(answer["code"], 900910, "{answer}");
            }
        }
    }
}

#[tokio::test]
async fn two_subscribers_see_only_their_own_applications() {
    let s = TestServer::start().await;
    let api = s.published_observer().await;
    add_user(&s, "alice", &["subscriber"]).await;
    add_user(&s, "bob", &["subscriber"]).await;
    let alice = login(&s, "alice", None).await;
    let bob = login(&s, "bob", None).await;
    let (st, app) = post_as(
        &s,
        &alice,
        &devportal("/applications"),
        json!({"name": "AliceApp", "throttlingPolicy": "Unlimited"}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{app}");
    assert_eq!(app["owner"], "alice");
    let id = app["applicationId"].as_str().unwrap().to_string();
    let (st, sub) = post_as(
        &s,
        &alice,
        &devportal("/subscriptions"),
        json!({"applicationId": id, "apiId": api, "throttlingPolicy": "AsyncGold"}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{sub}");
    let sub_id = sub["subscriptionId"].as_str().unwrap().to_string();

    let before = s.control().snapshot();
    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, devportal(&format!("/applications/{id}")), None),
        (
            Method::DELETE,
            devportal(&format!("/applications/{id}")),
            None,
        ),
        (
            Method::POST,
            devportal(&format!("/applications/{id}/generate-keys")),
            Some(json!({"keyType": "PRODUCTION"})),
        ),
        (
            Method::GET,
            devportal(&format!("/applications/{id}/oauth-keys")),
            None,
        ),
        (
            Method::POST,
            devportal(&format!(
                "/applications/{id}/oauth-keys/PRODUCTION/generate-token"
            )),
            Some(json!({})),
        ),
        (
            Method::POST,
            devportal("/subscriptions"),
            Some(json!({"applicationId": id, "apiId": api, "throttlingPolicy": "AsyncGold"})),
        ),
        (
            Method::GET,
            devportal(&format!("/subscriptions?applicationId={id}")),
            None,
        ),
        (
            Method::GET,
            devportal(&format!("/subscriptions/{sub_id}")),
            None,
        ),
        (
            Method::DELETE,
            devportal(&format!("/subscriptions/{sub_id}")),
            None,
        ),
    ];
    for (method, path, body) in attempts {
        let (st, answer) = s.call_as(Some(&bob), method.clone(), &path, body).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "bob {method} {path}: {answer}");
    }
    let (st, list) = applications_as(&s, &bob).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list["count"], 0, "{list}");
    let (_, subs) = s
        .call_as(Some(&bob), Method::GET, &devportal("/subscriptions"), None)
        .await;
    assert_eq!(subs["count"], 0, "{subs}");
    let after = s.control().snapshot();
    assert_eq!(before.applications, after.applications);
    assert_eq!(before.subscriptions, after.subscriptions);
    assert_eq!(before.key_pairs, after.key_pairs);
    // Alice still sees hers; admin sees all.
    let (_, list) = applications_as(&s, &alice).await;
    assert_eq!(list["count"], 1, "{list}");
    let (st, _) = s.get(&devportal(&format!("/applications/{id}"))).await;
    assert_eq!(st, StatusCode::OK);

    // Removing alice removes her application and its subscription.
    let alice_id = user_id(&s, "alice");
    let (st, _) = s
        .call(Method::DELETE, &format!("/scim2/Users/{alice_id}"), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let snap = s.control().snapshot();
    assert!(!snap.applications.contains_key(&id));
    assert!(!snap.subscriptions.contains_key(&sub_id));
    let (st, _) = applications_as(&s, &alice).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn scopes_narrow_to_the_request_and_the_role() {
    let s = TestServer::start().await;
    add_user(&s, "carol", &["subscriber"]).await;
    let resp = password_grant(
        &s,
        "carol",
        PASSWORD,
        Some("apim:subscribe apim:admin apim:api_create"),
    )
    .await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "apim:subscribe", "{body}");
    // Only sub_manage: applications are out of reach, subscriptions are in.
    let token = login(&s, "carol", Some("apim:sub_manage")).await;
    let (st, _) = applications_as(&s, &token).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = s
        .call_as(
            Some(&token),
            Method::GET,
            &devportal("/subscriptions"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    // A creator cannot publish: 403 and the API stays CREATED.
    add_user(&s, "dave", &["creator"]).await;
    let dave = login(&s, "dave", None).await;
    let (st, api) = post_as(&s, &dave, &publisher("/apis"), observer_body()).await;
    assert_eq!(st, StatusCode::CREATED, "{api}");
    let id = api["id"].as_str().unwrap();
    let (st, body) = s
        .call_as(
            Some(&dave),
            Method::POST,
            &publisher(&format!("/apis/change-lifecycle?apiId={id}&action=Publish")),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        body["message"],
        "The access token does not allow you to access the requested resource"
    );
    assert_eq!(
        s.control().snapshot().apis[id].lifecycle,
        streamgate::catalog::LifecycleState::Created
    );
}

#[tokio::test]
async fn expired_revoked_and_foreign_audience_tokens_are_refused() {
    let s = TestServer::start().await;
    add_user(&s, "erin", &["subscriber"]).await;
    let token = login(&s, "erin", None).await;
    let (st, _) = applications_as(&s, &token).await;
    assert_eq!(st, StatusCode::OK);

    // Expired: same claims, exp in the past, signed with the real key.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expired = ManagementClaims {
        iss: streamgate::keys::ISSUER.into(),
        sub: "erin".into(),
        aud: streamgate::keys::MANAGEMENT_AUDIENCE.into(),
        iat: now - 7200,
        nbf: now - 7200,
        exp: now - 3600,
        jti: "x".into(),
        scope: "apim:subscribe".into(),
        token_gen: 0,
        uid: None,
        azp: None,
    };
    let expired = s.control().keys().sign(&expired).unwrap();
    let (st, _) = applications_as(&s, &expired).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // A management token never opens the gateway: the gateway's verifier refuses it.
    assert!(s.control().keys().verify(&token).is_err());

    // A gateway token never calls the management API.
    let api = s.published_observer().await;
    let app = s.subscribed_app("GwApp", &api).await;
    let keys = s.generate_keys(&app).await;
    let gw_token = keys["token"]["accessToken"].as_str().unwrap().to_string();
    assert!(s.control().keys().verify(&gw_token).is_ok());
    let (st, _) = applications_as(&s, &gw_token).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // A password change revokes the tokens issued before it.
    let id = user_id(&s, "erin");
    let (st, body) = s
        .call(
            Method::PATCH,
            &format!("/scim2/Users/{id}"),
            Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "password", "value": "another long password"}]
            })),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (st, _) = applications_as(&s, &token).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let resp = password_grant(&s, "erin", "another long password", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn five_failures_lock_the_user_with_the_same_answer_as_an_unknown_one() {
    let s = TestServer::start().await;
    add_user(&s, "frank", &["subscriber"]).await;
    let unknown = password_grant(&s, "nobody", PASSWORD, None).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let unknown_body: Value = unknown.json().await.unwrap();
    for _ in 0..5 {
        let resp = password_grant(&s, "frank", "wrong password!!", None).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body, unknown_body);
    }
    // Locked: even the right password is refused, with the same answer.
    let resp = password_grant(&s, "frank", PASSWORD, None).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, unknown_body);
    assert!(
        s.control()
            .snapshot()
            .find_user("frank")
            .unwrap()
            .user
            .locked_until
            .is_some()
    );
}

#[tokio::test]
async fn scim_bad_input_is_refused_and_changes_nothing() {
    let s = TestServer::start().await;
    let (st, _) = add_user(&s, "gina", &["subscriber"]).await;
    assert_eq!(st, StatusCode::CREATED);
    let before = s.control().users();
    let schema = "urn:ietf:params:scim:schemas:core:2.0:User";
    let cases = vec![
        (
            json!({"schemas": [schema], "userName": "gina", "password": PASSWORD}),
            StatusCode::CONFLICT,
            "",
        ),
        (
            json!({"schemas": [schema], "userName": "hank", "password": "short"}),
            StatusCode::BAD_REQUEST,
            "at least 12",
        ),
        (
            json!({"schemas": [schema], "userName": "hank", "password": PASSWORD, "roles": ["root"]}),
            StatusCode::BAD_REQUEST,
            "unknown role",
        ),
        (
            json!({"schemas": ["urn:example:evil"], "userName": "hank", "password": PASSWORD}),
            StatusCode::BAD_REQUEST,
            "unknown schema",
        ),
        (
            json!({"userName": "hank", "password": PASSWORD}),
            StatusCode::BAD_REQUEST,
            "schemas",
        ),
        (
            json!({"schemas": [schema], "userName": "hank", "password": "x".repeat(70_000)}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger",
        ),
    ];
    for (body, status, needle) in cases {
        let (st, answer) = s.call(Method::POST, "/scim2/Users", Some(body)).await;
        assert_eq!(st, status, "{answer}");
        assert_eq!(
            answer["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        assert!(
            answer["detail"].as_str().unwrap().contains(needle),
            "{answer}"
        );
    }
    let resp = s
        .anon(Method::POST, "/scim2/Users")
        .bearer_auth(s.admin_token())
        .header("content-type", "application/scim+json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(s.control().users(), before);
    // A subscriber cannot manage users.
    let gina = login(&s, "gina", None).await;
    let (st, _) = s
        .call_as(Some(&gina), Method::GET, "/scim2/Users", None)
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

/// `GET /scim2/Users` filters on userName and pages from a 1-based startIndex (RFC 7644
/// §3.4.2); a filter it cannot apply is a 400 invalidFilter, not the whole list; an empty
/// PATCH is refused and changes nothing.
#[tokio::test]
async fn scim_lists_filter_and_page() {
    let s = TestServer::start().await;
    for name in ["alice", "albert", "bob"] {
        let (st, _) = add_user(&s, name, &["subscriber"]).await;
        assert_eq!(st, StatusCode::CREATED);
    }
    let list = |query: &'static str| {
        let s = &s;
        async move {
            s.call(Method::GET, &format!("/scim2/Users{query}"), None)
                .await
        }
    };
    let names = |answer: &Value| -> Vec<String> {
        answer["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_string())
            .collect()
    };
    let (st, one) = list("?filter=userName%20eq%20%22Alice%22").await;
    assert_eq!(st, StatusCode::OK, "{one}");
    assert_eq!(names(&one), ["alice"]);
    assert_eq!(one["totalResults"], 1);
    let (_, al) = list("?filter=username%20sw%20%22al%22").await;
    assert_eq!(al["totalResults"], 2, "{al}");
    // admin, albert, alice, bob (4 users): the second and third.
    let (_, page) = list("?startIndex=2&count=2").await;
    assert_eq!(page["totalResults"], 4, "{page}");
    assert_eq!(page["startIndex"], 2);
    assert_eq!(page["itemsPerPage"], 2);
    assert_eq!(names(&page).len(), 2);
    for bad in [
        "?filter=garbage",
        "?filter=emails%20eq%20%22x%22",
        "?filter=userName%20eq%20x",
    ] {
        let (st, err) = list(bad).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}: {err}");
        assert_eq!(err["scimType"], "invalidFilter", "{bad}: {err}");
    }
    let bob = names(&list("?filter=userName%20eq%20%22bob%22").await.1);
    assert_eq!(bob, ["bob"]);
    let (_, found) = list("?filter=userName%20eq%20%22bob%22").await;
    let id = found["Resources"][0]["id"].as_str().unwrap().to_string();
    let before = s.control().users();
    let (st, err) = s
        .call(
            Method::PATCH,
            &format!("/scim2/Users/{id}"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": []
            })),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(s.control().users(), before);
    // The last admin stays: a state conflict (mutability), not a uniqueness one.
    let (_, admin) = list("?filter=userName%20eq%20%22admin%22").await;
    let admin_id = admin["Resources"][0]["id"].as_str().unwrap().to_string();
    let (st, err) = s
        .call(Method::DELETE, &format!("/scim2/Users/{admin_id}"), None)
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["scimType"], "mutability", "{err}");
    // A password of spaces only is no password.
    let (st, err) = s
        .post(
            "/scim2/Users",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "spaces",
                "password": " ".repeat(12),
            }),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{err}");
    assert!(
        err["detail"].as_str().unwrap().contains("only spaces"),
        "{err}"
    );
    assert_eq!(s.control().users(), before);
}

/// SCIM DELETE of the calling user itself is refused (409 `mutability`, like the last
/// admin) and changes nothing, even with another admin left: `admin` with the
/// `admin-token` file, and a signed-in admin by id or by name. Another admin may remove it.
#[tokio::test]
async fn a_user_cannot_delete_itself_over_scim() {
    let s = TestServer::start().await;
    let (st, _) = add_user(&s, "boss", &["admin"]).await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, app) = s
        .post(&devportal("/applications"), application_body("AdminApp"))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{app}");
    let boss = login(&s, "boss", None).await;
    let admin_id = user_id(&s, "admin");
    let boss_id = user_id(&s, "boss");
    let before = s.control().snapshot();
    let users_before = s.control().users();
    let attempts = [
        (None, format!("/scim2/Users/{admin_id}")),
        (Some(boss.as_str()), format!("/scim2/Users/{boss_id}")),
        (Some(boss.as_str()), "/scim2/Users/BOSS".to_string()),
    ];
    for (token, path) in attempts {
        let token = token.unwrap_or(s.admin_token());
        let (st, err) = s.call_as(Some(token), Method::DELETE, &path, None).await;
        assert_eq!(st, StatusCode::CONFLICT, "{path}: {err}");
        assert_eq!(err["scimType"], "mutability", "{path}: {err}");
        assert_eq!(
            err["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{err}"
        );
        assert!(
            err["detail"]
                .as_str()
                .unwrap()
                .contains("cannot remove itself"),
            "{err}"
        );
    }
    assert_eq!(s.control().users(), users_before);
    assert_eq!(
        s.control().snapshot().applications.len(),
        before.applications.len()
    );
    // admin still signs in and still owns its application.
    let (st, apps) = s.get(&devportal("/applications")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list_field(&apps, "name"), ["AdminApp"], "{apps}");
    // Another admin removes `boss`.
    let (st, _) = s
        .call(Method::DELETE, &format!("/scim2/Users/{boss_id}"), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
}

/// An API's `provider` is the user who created it (WSO2: "If the provider value is not
/// given user invoking the api will be used as the provider"), in the Publisher and the
/// Developer Portal; a non-admin naming another provider still gets themselves, an admin
/// may name an existing user, not an unknown one.
#[tokio::test]
async fn an_apis_provider_is_the_user_who_created_it() {
    let s = TestServer::start().await;
    let (st, _) = add_user(&s, "cara", &["creator"]).await;
    assert_eq!(st, StatusCode::CREATED);
    let cara = login(&s, "cara", None).await;
    let body = |name: &str, ctx: &str| api_body(name, ctx, "http://localhost:8080", None, &[]);
    let create = |token: Option<String>, b: Value| {
        let s = &s;
        async move {
            let token = token.unwrap_or_else(|| s.admin_token().to_string());
            post_as(s, &token, &publisher("/apis"), b).await
        }
    };
    let (st, api) = create(Some(cara.clone()), body("CaraApi", "/cara")).await;
    assert_eq!(st, StatusCode::CREATED, "{api}");
    assert_eq!(api["provider"], "cara", "{api}");
    let cara_api = api["id"].as_str().unwrap().to_string();
    let (_, got) = s.get(&publisher(&format!("/apis/{cara_api}"))).await;
    assert_eq!(got["provider"], "cara", "{got}");
    let (_, list) = s.get(&publisher("/apis")).await;
    assert_eq!(list_field(&list, "provider"), ["cara"], "{list}");
    // A creator cannot create in another's name: WSO2 overrides it with the caller.
    let mut other = body("Other", "/other");
    other["provider"] = json!("admin");
    let (st, api) = create(Some(cara.clone()), other).await;
    assert_eq!(st, StatusCode::CREATED, "{api}");
    assert_eq!(api["provider"], "cara", "{api}");
    // The admin: itself by default, an existing user when named, never an unknown one.
    let (_, api) = create(None, body("Mine", "/mine")).await;
    assert_eq!(api["provider"], "admin", "{api}");
    let mut named = body("ForCara", "/forcara");
    named["provider"] = json!("Cara");
    let (_, api) = create(None, named).await;
    assert_eq!(api["provider"], "cara", "{api}");
    let before = s.control().snapshot().apis.len();
    let mut unknown = body("Ghost", "/ghost");
    unknown["provider"] = json!("nobody");
    let (st, err) = create(None, unknown).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{err}");
    assert!(err.to_string().contains("nobody"), "{err}");
    assert_eq!(s.control().snapshot().apis.len(), before);
    // The Developer Portal shows the same provider.
    s.publish_and_deploy(&cara_api).await;
    let (_, portal) = s.get(&devportal(&format!("/apis/{cara_api}"))).await;
    assert_eq!(portal["provider"], "cara", "{portal}");
    let (_, portal) = s.get(&devportal("/apis")).await;
    assert_eq!(list_field(&portal, "provider"), ["cara"], "{portal}");
}

#[tokio::test]
async fn dcr_then_password_grant_as_a_wso2_client_does() {
    let s = TestServer::start().await;
    add_user(&s, "ivan", &["creator", "publisher"]).await;
    let resp = s.anon(Method::POST, "/client-registration/v0.17/register")
        .basic_auth("ivan", Some(PASSWORD))
        .json(&json!({"clientName": "rest_api_publisher", "owner": "ivan", "grantType": "password refresh_token", "saasApp": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let reg: Value = resp.json().await.unwrap();
    let id = reg["clientId"].as_str().unwrap();
    let secret = reg["clientSecret"].as_str().unwrap();
    assert_eq!(reg["clientName"], "rest_api_publisher");
    assert_eq!(reg["isSaasApplication"], true);
    let resp = s
        .anon(Method::POST, "/oauth2/token")
        .basic_auth(id, Some(secret))
        .form_pairs(&[
            ("grant_type", "password"),
            ("username", "ivan"),
            ("password", PASSWORD),
            ("scope", "apim:api_view apim:api_create apim:api_publish"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let tok: Value = resp.json().await.unwrap();
    assert_eq!(
        tok["scope"],
        "apim:api_create apim:api_publish apim:api_view"
    );
    let (st, _) = s
        .call_as(
            tok["access_token"].as_str(),
            Method::GET,
            &publisher("/apis"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    // A wrong client secret, a wrong user password and a missing field are refused.
    let resp = s
        .anon(Method::POST, "/oauth2/token")
        .basic_auth(id, Some("wrong"))
        .form_pairs(&[
            ("grant_type", "password"),
            ("username", "ivan"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = s
        .anon(Method::POST, "/client-registration/v0.17/register")
        .basic_auth("ivan", Some("not the password"))
        .json(&json!({"clientName": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = s
        .anon(Method::POST, "/oauth2/token")
        .form_pairs(&[("grant_type", "password"), ("username", "ivan")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");

    // The password grant's refresh token, issued to the client, needs that client.
    let refresh = tok["refresh_token"].as_str().unwrap().to_string();
    let resp = refresh_grant(&s, &refresh, None, None).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = refresh_grant(&s, &refresh, None, Some((id, secret))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let again: Value = resp.json().await.unwrap();
    assert_eq!(again["scope"], tok["scope"]);
    assert_ne!(again["refresh_token"], tok["refresh_token"]);
}

/// `grant_type=refresh_token` (RFC 6749 §6).
async fn refresh_grant(
    s: &TestServer,
    refresh_token: &str,
    scope: Option<&str>,
    client: Option<(&str, &str)>,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    if let Some(sc) = scope {
        form.push(("scope", sc));
    }
    let mut req = s.anon(Method::POST, "/oauth2/token");
    if let Some((id, secret)) = client {
        req = req.basic_auth(id, Some(secret));
    }
    req.form_pairs(&form).send().await.unwrap()
}

/// The password grant returns a refresh token; the refresh_token grant trades it once for
/// a new pair, may narrow the scopes but not widen them, and refuses it after use,
/// revocation or a password change; it is no bearer token anywhere.
#[tokio::test]
async fn refresh_tokens_are_traded_once_for_a_new_pair() {
    let s = TestServer::start().await;
    add_user(&s, "rita", &["subscriber"]).await;
    let resp = password_grant(&s, "rita", PASSWORD, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let first: Value = resp.json().await.unwrap();
    let refresh = first["refresh_token"].as_str().unwrap().to_string();
    // Not a bearer token for the management API.
    let (st, _) = applications_as(&s, &refresh).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // Wider than granted: refused, and the token stays usable.
    let resp = refresh_grant(&s, &refresh, Some("apim:admin"), None).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    let resp = refresh_grant(&s, &refresh, Some("apim:subscribe"), None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let second: Value = resp.json().await.unwrap();
    assert_eq!(second["scope"], "apim:subscribe");
    assert_eq!(second["token_type"], "Bearer");
    let (st, _) = applications_as(&s, second["access_token"].as_str().unwrap()).await;
    assert_eq!(st, StatusCode::OK);
    // Used once.
    let resp = refresh_grant(&s, &refresh, None, None).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Revoked: refused.
    let next = second["refresh_token"].as_str().unwrap().to_string();
    let resp = s
        .anon(Method::POST, "/oauth2/revoke")
        .form_pairs(&[("token", next.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = refresh_grant(&s, &next, None, None).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // A password change ends the refresh tokens issued before it.
    let resp = password_grant(&s, "rita", PASSWORD, None).await;
    let third: Value = resp.json().await.unwrap();
    let users = s.control().users();
    let rita = users.iter().find(|u| u.user.name == "rita").unwrap();
    let (st, body) = s
        .call(
            Method::PATCH,
            &format!("/scim2/Users/{}", rita.user.id),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "password", "value": "another long password"}]
            })),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let resp = refresh_grant(&s, third["refresh_token"].as_str().unwrap(), None, None).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Garbage and a gateway-audience token are refused the same way.
    let resp = refresh_grant(&s, "garbage", None, None).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // A token issued to no client is not for a client.
    let resp = password_grant(&s, "rita", "another long password", None).await;
    let fourth: Value = resp.json().await.unwrap();
    let reg: Value = s
        .anon(Method::POST, "/client-registration/v0.17/register")
        .basic_auth("rita", Some("another long password"))
        .json(&json!({"clientName": "c"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client = (
        reg["clientId"].as_str().unwrap(),
        reg["clientSecret"].as_str().unwrap(),
    );
    let resp = refresh_grant(
        &s,
        fourth["refresh_token"].as_str().unwrap(),
        None,
        Some(client),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

/// A user deleted and created again under the same name is another user: the first one's
/// management and refresh tokens do not work for the second.
#[tokio::test]
async fn a_recreated_user_does_not_inherit_the_deleted_ones_tokens() {
    let s = TestServer::start().await;
    let (_, carol) = add_user(&s, "carol", &["subscriber"]).await;
    let resp = password_grant(&s, "carol", PASSWORD, None).await;
    let issued: Value = resp.json().await.unwrap();
    let access = issued["access_token"].as_str().unwrap().to_string();
    let refresh = issued["refresh_token"].as_str().unwrap().to_string();
    let (st, _) = applications_as(&s, &access).await;
    assert_eq!(st, StatusCode::OK);
    let id = carol["id"].as_str().unwrap();
    let (st, _) = s
        .call(Method::DELETE, &format!("/scim2/Users/{id}"), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = add_user(&s, "carol", &["subscriber"]).await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, _) = applications_as(&s, &access).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let resp = refresh_grant(&s, &refresh, None, None).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // The new carol signs in as herself.
    let resp = password_grant(&s, "carol", PASSWORD, None).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

/// The token endpoint and client registration keep the management API's 1 MiB limit,
/// answering 413 in their own error shape.
#[tokio::test]
async fn oauth_bodies_over_the_limit_are_413() {
    let s = TestServer::start().await;
    let big = format!(
        "grant_type=password&username=x&password=y&pad={}",
        "a".repeat(1_500_000)
    );
    let resp = s
        .anon(Method::POST, "/oauth2/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    let resp = s
        .anon(Method::POST, "/client-registration/v0.17/register")
        .basic_auth("admin", Some("whatever password"))
        .header("content-type", "application/json")
        .body(format!("{{\"clientName\": \"{}\"}}", "c".repeat(1_500_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("1024 KiB"),
        "{body}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_dir_and_its_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let s = TestServer::start().await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(s.dir()), 0o700);
    for entry in std::fs::read_dir(s.dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    assert!(s.dir().join("admin-password").exists());
}

/// A new user whose name differs from an existing one only in case is refused, naming the
/// existing spelling (names ignore case); a name with a non-ASCII letter is refused saying
/// that letters must be ASCII (it said "letters", which `ü` is).
#[tokio::test]
async fn user_name_conflicts_and_refusals_name_the_rule() {
    let s = TestServer::start().await;
    add_user(&s, "cara", &["creator"]).await;
    let err = s
        .control()
        .create_user("CARA", PASSWORD, vec![Role::Creator])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("'cara' already exists (user names ignore case)"),
        "{err}"
    );
    let err = s
        .control()
        .create_user("Ünïcødé", PASSWORD, vec![Role::Creator])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("ASCII letters"), "{err}");
    assert_eq!(s.control().snapshot().users.len(), 2);
}
