//! The management API over a real socket: every route, its error answers, the admin
//! token, the OAuth2 token endpoint, JWKS verification and revocation.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use streamgate::keys::{AUDIENCE, AccessClaims, ISSUER};

#[tokio::test]
async fn health_metrics_and_jwks_need_no_token() {
    let s = TestServer::start().await;
    let resp = s.anon(Method::GET, "/health").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "UP");
    let resp = s.anon(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("# TYPE streamgate_open_streams gauge"),
        "{text}"
    );
    let resp = s.anon(Method::GET, "/oauth2/jwks").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let jwks: JwkSet = resp.json().await.unwrap();
    assert!(jwks.find(s.control().keys().kid()).is_some());
}

#[tokio::test]
async fn every_management_route_needs_the_admin_token() {
    let s = TestServer::start().await;
    // "METHOD path" under each API's base.
    let publisher_routes: &[&str] = &[
        "GET /apis",
        "POST /apis",
        "GET /apis/x",
        "PUT /apis/x",
        "DELETE /apis/x",
        "POST /apis/change-lifecycle?apiId=x&action=Publish",
        "GET /apis/x/lifecycle-state",
        "GET /apis/x/revisions",
        "POST /apis/x/revisions",
        "DELETE /apis/x/revisions/r",
        "POST /apis/x/deploy-revision?revisionId=r",
        "POST /apis/x/undeploy-revision?revisionId=r",
        "POST /apis/x/restore-revision?revisionId=r",
        "GET /apis/x/deployments",
        "GET /apis/x/asyncapi",
        "GET /throttling-policies/streaming/subscription",
        "GET /environments",
    ];
    let devportal_routes: &[&str] = &[
        "GET /apis",
        "GET /apis/x",
        "GET /applications",
        "POST /applications",
        "GET /applications/x",
        "DELETE /applications/x",
        "POST /applications/x/generate-keys",
        "GET /applications/x/oauth-keys",
        "POST /applications/x/oauth-keys/k/generate-token",
        "POST /applications/x/oauth-keys/k/regenerate-secret",
        "GET /subscriptions?applicationId=x",
        "POST /subscriptions",
        "DELETE /subscriptions/x",
    ];
    let admin_routes: &[&str] = &[
        "GET /throttling/policies/subscription",
        "POST /throttling/policies/subscription",
        "GET /throttling/policies/application",
        "POST /throttling/policies/application",
    ];
    let under = |base: fn(&str) -> String, routes: &[&str]| -> Vec<(Method, String)> {
        routes
            .iter()
            .map(|route| {
                let (method, path) = route.split_once(' ').unwrap();
                (Method::from_bytes(method.as_bytes()).unwrap(), base(path))
            })
            .collect()
    };
    let routes = [
        under(publisher, publisher_routes),
        under(devportal, devportal_routes),
        under(admin, admin_routes),
    ]
    .concat();
    for (method, path) in routes {
        let missing = s.anon(method.clone(), &path).send().await.unwrap();
        assert_eq!(
            missing.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        assert!(
            missing.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        let body: Value = missing.json().await.unwrap();
        assert_eq!(body["code"], 900902, "{method} {path}: {body}");
        assert!(
            body["description"]
                .as_str()
                .unwrap()
                .contains("admin-token")
        );
        let wrong = s
            .anon(method.clone(), &path)
            .bearer_auth("not-the-token")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        let body: Value = wrong.json().await.unwrap();
        assert_eq!(body["code"], 900901);
        assert_eq!(body["message"], "Invalid Credentials");
    }
    // The token itself opens the door.
    let (status, _) = s.get(&publisher("/apis")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn creating_an_api_answers_201_with_wso2s_shape() {
    let s = TestServer::start().await;
    let (status, api) = s.post(&publisher("/apis"), observer_body()).await;
    assert_eq!(status, StatusCode::CREATED, "{api}");
    assert_eq!(api["name"], "Observer");
    assert_eq!(api["context"], "/observer");
    assert_eq!(api["version"], "1.0.0");
    assert_eq!(api["type"], "SSE");
    assert_eq!(api["lifeCycleStatus"], "CREATED");
    assert_eq!(api["policies"], json!(["AsyncUnlimited"]));
    assert_eq!(
        api["endpointConfig"]["production_endpoints"]["url"],
        "http://localhost:8080"
    );
    assert_eq!(api["operations"][0]["target"], "/*");
    assert_eq!(api["operations"][0]["verb"], "SUBSCRIBE");
    let id = api["id"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    // Readable by id and by Name:version; listed.
    let (status, by_id) = s.get(&publisher(&format!("/apis/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_id, api);
    let (status, by_handle) = s.get(&publisher("/apis/Observer:1.0.0")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_handle["id"], id);
    let (status, list) = s.get(&publisher("/apis")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["count"], 1);
    assert_eq!(list["list"][0]["lifeCycleStatus"], "CREATED");
    assert_eq!(list["pagination"]["total"], 1);
    // The context as WSO2 maps it: a missing slash is refused, not guessed.
    let mut body = observer_body();
    body["context"] = json!("observer");
    body["name"] = json!("Other");
    assert_refused(
        s.post(&publisher("/apis"), body).await,
        StatusCode::BAD_REQUEST,
        "context:",
    );
}

#[tokio::test]
async fn bad_bodies_answer_400_naming_the_problem() {
    let s = TestServer::start().await;
    // Malformed JSON.
    let resp = s
        .post_raw(
            &publisher("/apis"),
            "application/json",
            "{\"name\": \"Observer\",".into(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("json")
    );
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["code"], 400);
    assert_eq!(err["message"], "Malformed JSON body");
    assert!(description(&err).contains("line 1"), "{err}");
    // A field of the wrong type: the path names it.
    let mut body = observer_body();
    body["policies"] = json!([7]);
    let err = assert_refused_naming(
        s.post(&publisher("/apis"), body).await,
        StatusCode::BAD_REQUEST,
        "policies[0]",
    );
    assert_eq!(err["message"], "Invalid request body");
    // Missing fields are named by the catalog's rules.
    assert_refused(
        s.post(&publisher("/apis"), json!({"context": "/x"})).await,
        StatusCode::BAD_REQUEST,
        "name:",
    );
    let mut body = observer_body();
    body["policies"] = json!(["AsyncPlatinum"]);
    assert_refused_naming(
        s.post(&publisher("/apis"), body).await,
        StatusCode::BAD_REQUEST,
        "AsyncPlatinum",
    );
    // curl -d without a content type is still read as JSON.
    let resp = s
        .post_raw(
            &publisher("/apis"),
            "application/x-www-form-urlencoded",
            observer_body().to_string(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    // But XML is refused with 415.
    let resp = s
        .post_raw(&devportal("/applications"), "text/xml", "<app/>".into())
        .await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["code"], 415);
    // A body over the limit (1 MiB) is 413, not a malformed one.
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
    let resp = s
        .post_raw(&publisher("/apis"), "application/json", big)
        .await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["code"], 413);
    assert!(description(&err).contains("1024 KiB"), "{err}");
}

#[tokio::test]
async fn unknown_ids_routes_and_methods_answer_json() {
    let s = TestServer::start().await;
    let (status, err) = s.get(&publisher("/apis/no-such-api")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["code"], 404);
    assert_eq!(err["description"], "API 'no-such-api' not found");
    assert_refused_naming(
        s.get(&devportal("/applications/nope")).await,
        StatusCode::NOT_FOUND,
        "application 'nope'",
    );
    assert_refused_naming(
        s.get("/no/such/route").await,
        StatusCode::NOT_FOUND,
        "/no/such/route",
    );
    let (status, err) = s.get(&publisher("/no-such-resource")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["code"], 404, "{err}");
    let (status, err) = s.call(Method::PATCH, &publisher("/apis"), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{err}");
    assert_eq!(err["code"], 405);
    let (status, _) = s.delete(&devportal("/subscriptions/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.change_lifecycle("nope", "Publish").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn conflicts_answer_409_with_wso2_codes() {
    let s = TestServer::start().await;
    let id = s.create_observer().await;
    // Duplicate context.
    let mut body = observer_body();
    body["name"] = json!("Observer2");
    let err = assert_refused_naming(
        s.post(&publisher("/apis"), body).await,
        StatusCode::CONFLICT,
        "/observer",
    );
    assert_eq!(err["code"], 900250);
    // A transition not allowed from CREATED.
    let err = assert_refused_naming(
        s.change_lifecycle(&id, "Retire").await,
        StatusCode::CONFLICT,
        "Publish",
    );
    assert_eq!(err["code"], 900347);
    // An unknown action or a missing one is a 400 naming it.
    assert_refused(
        s.change_lifecycle(&id, "Launch").await,
        StatusCode::BAD_REQUEST,
        "action:",
    );
    assert_refused(
        s.post_empty(&publisher(&format!("/apis/change-lifecycle?apiId={id}")))
            .await,
        StatusCode::BAD_REQUEST,
        "action:",
    );
    // Five revisions, then the sixth is refused.
    for n in 1..=5 {
        let rev = expect_status(
            s.create_revision(&id, &format!("r{n}")).await,
            StatusCode::CREATED,
        );
        assert_eq!(rev["displayName"], format!("Revision {n}"));
    }
    let (status, err) = s
        .post_empty(&publisher(&format!("/apis/{id}/revisions")))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["code"], 900351);
    // A deployed revision can't be deleted.
    let (_, revs) = s.get(&publisher(&format!("/apis/{id}/revisions"))).await;
    let first = revs["list"][0]["id"].as_str().unwrap().to_string();
    let (status, _) = s.deploy_revision(&id, &first, hybrid_deployment()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, err) = s
        .delete(&publisher(&format!("/apis/{id}/revisions/{first}")))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["code"], 900348);
    // An empty list of environments, or one naming an environment twice, deploys nothing.
    let before = s.control().snapshot().deployments.len();
    assert_refused_naming(
        s.deploy_revision(&id, &first, json!([])).await,
        StatusCode::BAD_REQUEST,
        "names no gateway environment",
    );
    assert_refused_naming(
        s.deploy_revision(
            &id,
            &first,
            json!([hybrid_deployment()[0], hybrid_deployment()[0]]),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "named twice",
    );
    // A JSON null is no list either (it used to deploy to every environment).
    let (status, err) = s.deploy_revision(&id, &first, json!(null)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(s.control().snapshot().deployments.len(), before);
    // Deploying to an unknown environment names the field.
    assert_refused(
        s.deploy_revision(&id, &first, json!([{"name": "Moon", "vhost": "localhost"}]))
            .await,
        StatusCode::BAD_REQUEST,
        "name:",
    );
}

#[tokio::test]
async fn lifecycle_changes_answer_workflow_responses() {
    let s = TestServer::start().await;
    let id = s.create_observer().await;
    let (status, lc) = s
        .get(&publisher(&format!("/apis/{id}/lifecycle-state")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lc["state"], "Created");
    assert_eq!(
        lc["availableTransitions"],
        json!([
            {"event": "Publish", "targetState": "Published"},
            {"event": "Deploy as a Prototype", "targetState": "Pre-Released"}
        ])
    );
    let (status, wf) = s.change_lifecycle(&id, "Publish").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(wf["workflowStatus"], "APPROVED");
    assert_eq!(wf["lifecycleState"]["state"], "Published");
    let payload: Value = serde_json::from_str(wf["jsonPayload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["previousState"], "CREATED");
    assert!(
        payload["warning"]
            .as_str()
            .unwrap()
            .contains("no deployed revision")
    );
    let (_, api) = s.get(&publisher(&format!("/apis/{id}"))).await;
    assert_eq!(api["lifeCycleStatus"], "PUBLISHED");
    // Spelled loosely, as WSO2's clients send it.
    let (status, wf) = s.change_lifecycle(&id, "Deploy%20as%20a%20Prototype").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(wf["lifecycleState"]["state"], "Pre-Released");
}

#[tokio::test]
async fn updates_merge_into_the_working_copy_and_deletes_remove() {
    let s = TestServer::start().await;
    let id = s.create_observer().await;
    let (status, api) = s
        .put(
            &publisher(&format!("/apis/{id}")),
            json!({"policies": ["AsyncGold", "AsyncSilver"], "description": "memory"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{api}");
    assert_eq!(api["policies"], json!(["AsyncGold", "AsyncSilver"]));
    assert_eq!(api["description"], "memory");
    assert_eq!(api["context"], "/observer");
    assert_refused(
        s.put(&publisher(&format!("/apis/{id}")), json!({"type": "WS"}))
            .await,
        StatusCode::BAD_REQUEST,
        "type:",
    );
    let (status, body) = s.delete(&publisher(&format!("/apis/{id}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = s.get(&publisher(&format!("/apis/{id}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A gateway path stays with the API whose revision holds it: another API can take
/// neither the path (even after the first API's working copy moved elsewhere) nor a path
/// inside it, so one API is never served with another's rights or backend.
#[tokio::test]
async fn a_gateway_path_stays_with_the_api_whose_revision_holds_it() {
    let s = TestServer::start().await;
    let id = s.create_observer().await;
    let (status, deployed) = s
        .post_empty(&publisher(&format!("/apis/{id}/deploy-revision")))
        .await;
    assert_eq!(status, StatusCode::OK, "{deployed}");
    let mut moved = observer_body();
    moved["context"] = json!("/moved");
    let (status, body) = s.put(&publisher(&format!("/apis/{id}")), moved).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut hijack = observer_body();
    hijack["name"] = json!("Hijack");
    hijack["endpointConfig"]["production_endpoints"]["url"] = json!("http://localhost:9999");
    let err = assert_refused_naming(
        s.post(&publisher("/apis"), hijack.clone()).await,
        StatusCode::CONFLICT,
        "context '/observer' with version '1.0.0' is already used by revision 1 of API 'Observer'",
    );
    assert_eq!(err["code"], 900250);
    // Inside the deployed path (its resources), or around it.
    for (context, version) in [("/observer/1.0.0", "x"), ("/observer", "1.0.0/sub")] {
        hijack["context"] = json!(context);
        hijack["version"] = json!(version);
        let (status, err) = s.post(&publisher("/apis"), hijack.clone()).await;
        if status == StatusCode::BAD_REQUEST {
            // A version with '/' is refused as a field before any path check.
            continue;
        }
        let err = assert_refused_naming((status, err), StatusCode::CONFLICT, "overlaps");
        assert_eq!(err["code"], 900250);
    }
    // A second API moving onto the path by an update is refused the same way.
    let mut other = observer_body();
    other["name"] = json!("Other");
    other["context"] = json!("/other");
    let other_id = s.create_api(other.clone()).await;
    other["context"] = json!("/observer");
    assert_refused_naming(
        s.put(&publisher(&format!("/apis/{other_id}")), other).await,
        StatusCode::CONFLICT,
        "revision 1 of API 'Observer'",
    );
    let route = s.control().view().routes["/observer/1.0.0"].clone();
    assert_eq!(route.api_id, id);
    assert_eq!(
        route.production_endpoint.as_deref(),
        Some("http://localhost:8080")
    );
    // WSO2's context template: the version goes where `{version}` is.
    let mut templated = observer_body();
    templated["name"] = json!("Templated");
    templated["context"] = json!("/tmpl/{version}/feed");
    let templated_id = s.create_api(templated).await;
    let (status, body) = s
        .post_empty(&publisher(&format!("/apis/{templated_id}/deploy-revision")))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view = s.control().view();
    assert_eq!(view.routes["/tmpl/1.0.0/feed"].api_id, templated_id);
    assert!(!view.routes.contains_key("/tmpl/{version}/feed/1.0.0"));
}

#[tokio::test]
async fn revisions_deploy_undeploy_and_restore() {
    let s = TestServer::start().await;
    let id = s.create_observer().await;
    let (status, r1) = s.create_revision(&id, "one").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(r1["apiInfo"]["id"], id.as_str());
    let r1 = r1["id"].as_str().unwrap().to_string();
    // Change the working copy; the revision keeps the old endpoint.
    let mut body = observer_body();
    body["endpointConfig"]["production_endpoints"]["url"] = json!("http://localhost:9090");
    s.put(&publisher(&format!("/apis/{id}")), body).await;
    let (status, deployed) = s.deploy_revision(&id, &r1, hybrid_deployment()).await;
    assert_eq!(status, StatusCode::OK, "{deployed}");
    assert_eq!(deployed[0]["revisionUuid"], r1.as_str());
    assert_eq!(deployed[0]["status"], "APPROVED");
    let route = s.control().view().routes["/observer/1.0.0"].clone();
    assert_eq!(
        route.production_endpoint.as_deref(),
        Some("http://localhost:8080")
    );
    let (status, deps) = s.get(&publisher(&format!("/apis/{id}/deployments"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deps["list"][0]["name"], "Production and Sandbox");
    assert_eq!(deps["list"][0]["vhost"], "localhost");
    let (_, revs) = s
        .get(&publisher(&format!(
            "/apis/{id}/revisions?query=deployed:true"
        )))
        .await;
    assert_eq!(revs["count"], 1);
    assert_eq!(
        revs["list"][0]["deploymentInfo"][0]["name"],
        "Production and Sandbox"
    );
    let (status, one) = s
        .get(&publisher(&format!("/apis/{id}/revisions/{r1}")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["displayName"], "Revision 1");
    // Deploy New Revision in one step: no revisionId, no body.
    let (status, deployed) = s
        .post_empty(&publisher(&format!("/apis/{id}/deploy-revision")))
        .await;
    assert_eq!(status, StatusCode::OK, "{deployed}");
    let r2 = deployed[0]["revisionUuid"].as_str().unwrap().to_string();
    assert_ne!(r2, r1);
    let route = s.control().view().routes["/observer/1.0.0"].clone();
    assert_eq!(
        route.production_endpoint.as_deref(),
        Some("http://localhost:9090")
    );
    // Revision 1 is no longer deployed, so it can go.
    let (status, left) = s
        .delete(&publisher(&format!("/apis/{id}/revisions/{r1}")))
        .await;
    assert_eq!(status, StatusCode::OK, "{left}");
    assert_eq!(left["count"], 1);
    // Restore revision 2 after changing the working copy again.
    s.put(
        &publisher(&format!("/apis/{id}")),
        json!({"description": "changed"}),
    )
    .await;
    let (status, restored) = s
        .post_empty(&publisher(&format!(
            "/apis/{id}/restore-revision?revisionId={r2}"
        )))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{restored}");
    assert_eq!(restored["description"], "");
    // Undeploy: the gateway stops serving it.
    let (status, gone) = s
        .post(
            &publisher(&format!("/apis/{id}/undeploy-revision?revisionId={r2}")),
            json!([{"name": "Production and Sandbox", "vhost": "localhost"}]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{gone}");
    assert_eq!(gone[0]["revisionUuid"], r2.as_str());
    assert!(s.control().view().routes.is_empty());
    assert_refused(
        s.post_empty(&publisher(&format!("/apis/{id}/undeploy-revision")))
            .await,
        StatusCode::BAD_REQUEST,
        "revisionId:",
    );
}

#[tokio::test]
async fn plans_environments_and_asyncapi_are_published() {
    let s = TestServer::start().await;
    let (status, plans) = s
        .get(&publisher("/throttling-policies/streaming/subscription"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let gold = plans["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["policyName"] == "AsyncGold")
        .unwrap();
    assert_eq!(gold["defaultLimit"]["type"], "EVENTCOUNTLIMIT");
    assert_eq!(gold["defaultLimit"]["eventCount"]["eventCount"], 50000);
    assert_eq!(gold["defaultLimit"]["eventCount"]["timeUnit"], "day");
    assert_eq!(gold["stopOnQuotaReach"], true);
    let (status, envs) = s.get(&publisher("/environments")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(envs["list"][0]["name"], "Production and Sandbox");
    assert_eq!(envs["list"][0]["vhosts"][0]["host"], "localhost");
    assert_eq!(
        envs["list"][0]["vhosts"][0]["httpPort"],
        s.gateway_addr().port()
    );
    let id = s.create_observer().await;
    let (status, doc) = s.get(&publisher(&format!("/apis/{id}/asyncapi"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["asyncapi"], "2.0.0");
    assert_eq!(
        doc["servers"]["production"]["url"],
        format!("{}/observer/1.0.0", s.public_gateway_url())
    );
    assert!(doc["channels"]["/*"]["subscribe"].is_object());
    let token_url =
        doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["tokenUrl"]
            .as_str()
            .unwrap();
    assert_eq!(token_url, format!("{}/oauth2/token", s.mgmt_url()));
}

#[tokio::test]
async fn admin_adds_custom_plans_and_application_policies() {
    let s = TestServer::start().await;
    let plan = json!({
        "policyName": "AsyncTiny",
        "displayName": "Async Tiny",
        "description": "ten a minute",
        "defaultLimit": {"type": "EVENTCOUNTLIMIT", "eventCount": {"eventCount": 10, "timeUnit": "min", "unitTime": 1}}
    });
    let (status, created) = s
        .post(&admin("/throttling/policies/subscription"), plan.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["policyName"], "AsyncTiny");
    assert_eq!(created["defaultLimit"]["eventCount"]["eventCount"], 10);
    let (status, err) = s
        .post(&admin("/throttling/policies/subscription"), plan)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_refused(
        s.post(
            &admin("/throttling/policies/subscription"),
            json!({"policyName": "Bad", "defaultLimit": {"type": "EVENTCOUNTLIMIT", "eventCount": {"eventCount": 0, "timeUnit": "min", "unitTime": 1}}}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "eventCount:",
    );
    let (_, list) = s.get(&admin("/throttling/policies/subscription")).await;
    assert_eq!(list["count"], 5);
    // The Publisher's plan list and an API's plans now know it.
    let (_, plans) = s
        .get(&publisher("/throttling-policies/streaming/subscription"))
        .await;
    assert!(list_field(&plans, "policyName").contains(&"AsyncTiny"));
    let mut body = observer_body();
    body["policies"] = json!(["AsyncTiny"]);
    let (status, _) = s.post(&publisher("/apis"), body).await;
    assert_eq!(status, StatusCode::CREATED);
    // Application policies.
    let (status, created) = s
        .post(
            &admin("/throttling/policies/application"),
            json!({"policyName": "30PerMin", "defaultLimit": {"type": "REQUESTCOUNTLIMIT", "requestCount": {"requestCount": 30, "timeUnit": "min", "unitTime": 1}}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["defaultLimit"]["requestCount"]["requestCount"], 30);
    let (_, list) = s.get(&admin("/throttling/policies/application")).await;
    assert!(list_field(&list, "policyName").contains(&"30PerMin"));
    let (status, app) = s
        .post(
            &devportal("/applications"),
            json!({"name": "Rated", "throttlingPolicy": "30PerMin"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{app}");
    assert_eq!(
        s.control().view().app_rate_limits[app["applicationId"].as_str().unwrap()],
        Some(30)
    );
}

#[tokio::test]
async fn the_devportal_lists_only_published_prereleased_and_deprecated_apis() {
    let s = TestServer::start().await;
    let published = s.published_observer().await;
    let [draft, proto] = ["Draft", "Proto"].map(|name| {
        let mut body = observer_body();
        body["name"] = json!(name);
        body["context"] = json!(format!("/{}", name.to_lowercase()));
        body
    });
    let draft = s.create_api(draft).await;
    let proto = s.create_api(proto).await;
    s.change_lifecycle(&proto, "Deploy as a Prototype").await;
    let (status, list) = s.get(&devportal("/apis")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["count"], 2);
    assert_eq!(list_field(&list, "name"), vec!["Observer", "Proto"]);
    let (status, _) = s.get(&devportal(&format!("/apis/{draft}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, api) = s.get(&devportal(&format!("/apis/{published}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(api["tiers"][0]["tierName"], "AsyncGold");
    assert_eq!(
        api["endpointURLs"][0]["URLs"]["http"],
        format!("{}/observer/1.0.0", s.public_gateway_url())
    );
    assert_eq!(api["isSubscriptionAvailable"], true);
    // Blocking hides it.
    s.change_lifecycle(&published, "Block").await;
    let (_, list) = s.get(&devportal("/apis")).await;
    assert_eq!(list["count"], 1);
}

/// Dev Portal lists page with WSO2's `limit` and `offset` (default 25) and say where they
/// are in `pagination`.
#[tokio::test]
async fn devportal_lists_are_paged() {
    let s = TestServer::start().await;
    for name in ["A1", "A2", "A3"] {
        let (status, body) = s
            .post(&devportal("/applications"), json!({"name": name}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, page) = s.get(&devportal("/applications?limit=2")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["count"], 2);
    assert_eq!(page["list"][0]["name"], "A1");
    assert_eq!(page["pagination"]["total"], 3);
    assert_eq!(page["pagination"]["next"], "/applications?limit=2&offset=2");
    let (_, page) = s.get(&devportal("/applications?limit=2&offset=2")).await;
    assert_eq!(page["count"], 1);
    assert_eq!(page["list"][0]["name"], "A3");
    assert_eq!(
        page["pagination"]["previous"],
        "/applications?limit=2&offset=0"
    );
    let (_, page) = s.get(&devportal("/applications")).await;
    assert_eq!(
        (page["count"].clone(), page["pagination"]["limit"].clone()),
        (json!(3), json!(25))
    );
    let (_, page) = s.get(&devportal("/apis?limit=1&offset=5")).await;
    assert_eq!(page["count"], 0);
    assert_eq!(page["pagination"]["offset"], 5);
    for bad in ["many", "0", "-1"] {
        assert_refused_naming(
            s.get(&devportal(&format!("/applications?limit={bad}")))
                .await,
            StatusCode::BAD_REQUEST,
            "limit",
        );
    }
}

#[tokio::test]
async fn applications_and_subscriptions_round_trip() {
    let s = TestServer::start().await;
    let api = s.published_observer().await;
    let (status, app) = s
        .post(&devportal("/applications"), json!({"name": "Tutorial", "throttlingPolicy": "10PerMin", "description": "wizard", "tokenType": "JWT"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app["tokenType"], "JWT");
    assert_eq!(app["throttlingPolicy"], "10PerMin");
    let app_id = app["applicationId"].as_str().unwrap().to_string();
    let (status, err) = s
        .post(
            &devportal("/applications"),
            json!({"name": "tutorial", "throttlingPolicy": "Unlimited"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_refused(
        s.post(
            &devportal("/applications"),
            json!({"name": "X", "throttlingPolicy": "5PerMin"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "throttlingPolicy:",
    );
    // Subscribe without naming a plan: the API's first plan, as the wizard does.
    let (status, sub) = s
        .post(
            &devportal("/subscriptions"),
            json!({"applicationId": app_id, "apiId": api}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sub}");
    assert_eq!(sub["throttlingPolicy"], "AsyncGold");
    assert_eq!(sub["status"], "UNBLOCKED");
    assert_eq!(sub["apiInfo"]["name"], "Observer");
    let sub_id = sub["subscriptionId"].as_str().unwrap().to_string();
    assert!(
        s.control()
            .view()
            .subscriptions
            .contains_key(&(app_id.clone(), api.clone()))
    );
    assert_refused_naming(
        s.post(
            &devportal("/subscriptions"),
            json!({"applicationId": app_id, "apiId": api, "throttlingPolicy": "AsyncGold"}),
        )
        .await,
        StatusCode::CONFLICT,
        "already subscribed",
    );
    assert_refused(
        s.post(&devportal("/subscriptions"), json!({"apiId": api}))
            .await,
        StatusCode::BAD_REQUEST,
        "applicationId:",
    );
    let (_, by_app) = s
        .get(&devportal(&format!(
            "/subscriptions?applicationId={app_id}"
        )))
        .await;
    assert_eq!(by_app["count"], 1);
    let (_, by_api) = s
        .get(&devportal(&format!("/subscriptions?apiId={api}")))
        .await;
    assert_eq!(by_api["list"][0]["subscriptionId"], sub_id.as_str());
    let (_, one) = s.get(&devportal(&format!("/applications/{app_id}"))).await;
    assert_eq!(one["subscriptionCount"], 1);
    let (_, apps) = s.get(&devportal("/applications")).await;
    assert_eq!(apps["list"][0]["name"], "Tutorial");
    let (status, _) = s
        .delete(&devportal(&format!("/subscriptions/{sub_id}")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(s.control().view().subscriptions.is_empty());
    let (status, _) = s
        .delete(&devportal(&format!("/applications/{app_id}")))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s.get(&devportal(&format!("/applications/{app_id}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Asserts an OAuth2 error answer (RFC 6749 §5.2): `status` and this `error`.
async fn assert_oauth_error(resp: reqwest::Response, status: StatusCode, error: &str) {
    assert_eq!(resp.status(), status);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], error);
}

/// Decodes a token with the JWKS the server publishes, as a third party would.
async fn verify_with_published_jwks(s: &TestServer, token: &str) -> AccessClaims {
    let jwks: JwkSet = s
        .anon(Method::GET, "/oauth2/jwks")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[ISSUER]);
    jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)
        .unwrap()
        .claims
}

#[tokio::test]
async fn keys_tokens_and_the_token_endpoint_follow_rfc_6749() {
    let s = TestServer::start().await;
    let api = s.published_observer().await;
    let app = s.subscribed_app("Tutorial", &api).await;
    let keys = s.generate_keys(&app).await;
    let key = keys["consumerKey"].as_str().unwrap().to_string();
    let secret = keys["consumerSecret"].as_str().unwrap().to_string();
    let mapping = keys["keyMappingId"].as_str().unwrap().to_string();
    assert_eq!(keys["keyType"], "PRODUCTION");
    assert_eq!(keys["supportedGrantTypes"], json!(["client_credentials"]));
    assert_eq!(keys["token"]["validityTime"], 3600);
    let first = keys["token"]["accessToken"].as_str().unwrap();
    assert_eq!(verify_with_published_jwks(&s, first).await.azp, key);
    // The secret is shown once: listings don't carry it, and it's stored hashed.
    let (_, listed) = s
        .get(&devportal(&format!("/applications/{app}/oauth-keys")))
        .await;
    assert_eq!(listed["count"], 1);
    assert!(listed["list"][0].get("consumerSecret").is_none());
    let stored = &s.control().snapshot().key_pairs[&key];
    assert_ne!(stored.secret_hash, secret);
    // A second generate-keys for the same type is a conflict.
    assert_refused_naming(
        s.post(
            &devportal(&format!("/applications/{app}/generate-keys")),
            json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"]}),
        )
        .await,
        StatusCode::CONFLICT,
        "regenerate-secret",
    );
    // The token endpoint.
    let resp = s
        .token_request(
            &key,
            &secret,
            "grant_type=client_credentials&validity_period=600",
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["scope"], "default");
    let claims = verify_with_published_jwks(&s, body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims.application.uuid, app);
    assert_eq!(claims.exp - claims.iat, 600);
    // Wrong secret: 401 invalid_client with a Basic challenge.
    let resp = s
        .token_request(&key, "wrong", "grant_type=client_credentials")
        .await;
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_oauth_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let resp = s
        .anon(Method::POST, "/oauth2/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // Unsupported and missing grants.
    let resp = s
        .token_request(&key, &secret, "grant_type=authorization_code&code=a")
        .await;
    assert_oauth_error(resp, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
    let resp = s.token_request(&key, &secret, "scope=default").await;
    assert_oauth_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    let resp = s
        .token_request(
            &key,
            &secret,
            "grant_type=client_credentials&validity_period=-5",
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Client id and secret in the body work too (RFC 6749 §2.3.1).
    let resp = s
        .anon(Method::POST, "/oauth2/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={key}&client_secret={secret}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // The portal's Generate Access Token.
    let generate_path = devportal(&format!(
        "/applications/{app}/oauth-keys/{mapping}/generate-token"
    ));
    let generate_token = |body: Value| s.post(&generate_path, body);
    let token = expect_status(
        generate_token(
            json!({"consumerSecret": secret, "validityPeriod": 120, "scopes": ["default"]}),
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(token["validityTime"], 120);
    assert_eq!(token["tokenScopes"], json!(["default"]));
    verify_with_published_jwks(&s, token["accessToken"].as_str().unwrap()).await;
    assert_refused(
        generate_token(json!({"consumerSecret": "nope", "validityPeriod": 120})).await,
        StatusCode::BAD_REQUEST,
        "consumerSecret:",
    );
    assert_refused(
        generate_token(json!({"validityPeriod": 0})).await,
        StatusCode::BAD_REQUEST,
        "validityPeriod:",
    );
    // Regenerating the secret retires the old one.
    let (status, regen) = s
        .post_empty(&devportal(&format!(
            "/applications/{app}/oauth-keys/{mapping}/regenerate-secret"
        )))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(regen["consumerKey"], key.as_str());
    let new_secret = regen["consumerSecret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    let resp = s
        .token_request(&key, &secret, "grant_type=client_credentials")
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = s
        .token_request(&key, new_secret, "grant_type=client_credentials")
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn revocation_reaches_the_gateway_view_and_is_quiet_about_unknown_tokens() {
    let s = TestServer::start().await;
    let api = s.published_observer().await;
    let app = s.subscribed_app("Tutorial", &api).await;
    let keys = s.generate_keys(&app).await;
    let key = keys["consumerKey"].as_str().unwrap();
    let secret = keys["consumerSecret"].as_str().unwrap();
    let token = keys["token"]["accessToken"].as_str().unwrap();
    let jti = s.control().keys().verify(token).unwrap().jti;
    assert!(!s.control().view().revoked.contains(&jti));
    let revoke = |form: String, secret: String| {
        s.anon(Method::POST, "/oauth2/revoke")
            .basic_auth(key, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
    };
    let resp = revoke(
        format!("token={token}&token_type_hint=access_token"),
        secret.into(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(s.control().view().revoked.contains(&jti));
    assert!(s.control().snapshot().revoked.contains_key(&jti));
    // Unknown tokens and repeats: still 200.
    let resp = revoke("token=not-a-token".into(), secret.into())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = revoke(format!("token={token}"), secret.into())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // Bad client credentials: 401.
    let resp = revoke(format!("token={token}"), "wrong".into())
        .await
        .unwrap();
    assert_oauth_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // No token: 400.
    let resp = revoke(String::new(), secret.into()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Revoking through generate-token's revokeToken works too.
    let generate_path = devportal(&format!(
        "/applications/{app}/oauth-keys/PRODUCTION/generate-token"
    ));
    let generate_token = |body: Value| s.post(&generate_path, body);
    let (_, fresh) = generate_token(json!({"validityPeriod": 60})).await;
    let fresh = fresh["accessToken"].as_str().unwrap().to_string();
    let fresh_jti = s.control().keys().verify(&fresh).unwrap().jti;
    let (status, _) = generate_token(json!({"validityPeriod": 60, "revokeToken": fresh})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(s.control().view().revoked.contains(&fresh_jti));
}
