//! Our request and response bodies checked against WSO2's own OpenAPI schemas (publisher v4,
//! devportal v3, admin v4, in shared/reference-data/wso2-openapi): required properties,
//! types, enums, and no property the schema doesn't know (which catches misspellings).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Where WSO2's specs are looked for, first hit wins.
fn spec_dir() -> PathBuf {
    let candidates = [
        std::env::var_os("STREAMGATE_WSO2_OPENAPI").map(PathBuf::from),
        Some(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference-data/wso2-openapi"),
        ),
        Some(PathBuf::from("/work/shared/reference-data/wso2-openapi")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|d| d.join("publisher-v4.yaml").is_file())
        .expect(
            "WSO2's OpenAPI specs not found: set STREAMGATE_WSO2_OPENAPI to the folder holding \
             publisher-v4.yaml, devportal-v3.yaml and admin-v4.yaml",
        )
}

/// Properties we add beyond WSO2's schemas, on purpose.
const OUR_EXTRAS: [&str; 2] = ["builtIn", "backendStream"];

struct Spec {
    name: &'static str,
    doc: Value,
}

impl Spec {
    fn load(file: &str, name: &'static str) -> Spec {
        let text = std::fs::read_to_string(spec_dir().join(file)).unwrap();
        let doc: Value = serde_norway::from_str(&text).unwrap();
        Spec { name, doc }
    }

    fn schema(&self, name: &str) -> &Value {
        let s = &self.doc["components"]["schemas"][name];
        assert!(s.is_object(), "{}: no schema {name}", self.name);
        s
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap();
                self.resolve(self.schema(name))
            }
            None => schema,
        }
    }

    /// The schema and, through `allOf`, the schemas it is made of.
    fn parts<'a>(&'a self, schema: &'a Value) -> Vec<&'a Value> {
        let schema = self.resolve(schema);
        let mut out = vec![schema];
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for sub in all {
                out.extend(self.parts(sub));
            }
        }
        out
    }

    fn check(&self, schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
        let parts = self.parts(schema);
        let types: Vec<&str> = parts
            .iter()
            .filter_map(|p| p.get("type").and_then(Value::as_str))
            .collect();
        for t in &types {
            let ok = match *t {
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "array" => value.is_array(),
                "object" => value.is_object(),
                _ => true,
            };
            if !ok {
                errors.push(format!("{path}: expected {t}, got {value}"));
                return;
            }
        }
        for p in &parts {
            if let Some(allowed) = p.get("enum").and_then(Value::as_array)
                && !allowed.contains(value)
            {
                errors.push(format!("{path}: {value} is not one of {allowed:?}"));
            }
        }
        if let Some(obj) = value.as_object() {
            let mut properties = serde_json::Map::new();
            let mut additional: Option<&Value> = None;
            for p in &parts {
                if let Some(props) = p.get("properties").and_then(Value::as_object) {
                    properties.extend(props.clone());
                }
                if let Some(a) = p.get("additionalProperties").filter(|a| a.is_object()) {
                    additional = Some(a);
                }
                for req in p
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let req = req.as_str().unwrap();
                    if !obj.contains_key(req) {
                        errors.push(format!("{path}: required property '{req}' is missing"));
                    }
                }
            }
            for (k, v) in obj {
                let sub_path = format!("{path}.{k}");
                match (properties.get(k), additional) {
                    (Some(sub), _) => self.check(sub, v, &sub_path, errors),
                    (None, Some(sub)) => self.check(sub, v, &sub_path, errors),
                    (None, None) if properties.is_empty() || OUR_EXTRAS.contains(&k.as_str()) => {}
                    (None, None) => errors.push(format!("{sub_path}: not in the schema")),
                }
            }
        }
        if let (Some(items), Some(list)) =
            (parts.iter().find_map(|p| p.get("items")), value.as_array())
        {
            for (i, v) in list.iter().enumerate() {
                self.check(items, v, &format!("{path}[{i}]"), errors);
            }
        }
    }

    /// Panics listing every violation of `schema` by `value`.
    fn assert_valid(&self, schema: &str, value: &Value) {
        assert!(!value.is_null(), "{}: {schema}: empty body", self.name);
        let mut errors = Vec::new();
        self.check(self.schema(schema), value, schema, &mut errors);
        assert!(
            errors.is_empty(),
            "{} {schema} violations:\n{}\nin {value:#}",
            self.name,
            errors.join("\n")
        );
    }

    /// Like `assert_valid` for a schema given inline (e.g. an array of a named schema).
    fn assert_valid_array_of(&self, schema: &str, value: &Value) {
        let list = value.as_array().unwrap();
        assert!(!list.is_empty());
        for item in list {
            self.assert_valid(schema, item);
        }
    }
}

fn ok(status: StatusCode, expected: StatusCode, body: &Value) {
    assert_eq!(status, expected, "{body}");
}

#[test]
fn the_checker_itself_catches_missing_misspelled_and_mistyped_properties() {
    let publisher = Spec::load("publisher-v4.yaml", "publisher");
    let mut errors = Vec::new();
    publisher.check(
        publisher.schema("API"),
        &json!({"name": "x", "version": "1", "lifecycleStatus": "CREATED", "type": "SOAPY", "policies": [1]}),
        "API",
        &mut errors,
    );
    let text = errors.join("\n");
    assert!(text.contains("'context' is missing"), "{text}");
    assert!(
        text.contains("API.lifecycleStatus: not in the schema"),
        "{text}"
    );
    assert!(text.contains("\"SOAPY\" is not one of"), "{text}");
    assert!(text.contains("API.policies[0]: expected string"), "{text}");
}

#[tokio::test]
async fn publisher_bodies_validate_against_wso2s_publisher_v4_schemas() {
    let spec = Spec::load("publisher-v4.yaml", "publisher");
    let s: TestServer = TestServer::start().await;
    let mut body = observer_body();
    body["policies"] = json!(["AsyncGold"]);
    body["operations"] = json!([{"target": "/*", "verb": "SUBSCRIBE"}]);
    spec.assert_valid("API", &body);
    let (status, api) = s.post(&publisher("/apis"), body).await;
    ok(status, StatusCode::CREATED, &api);
    spec.assert_valid("API", &api);
    let id = api["id"].as_str().unwrap().to_string();
    let (status, one) = s.get(&publisher(&format!("/apis/{id}"))).await;
    ok(status, StatusCode::OK, &one);
    spec.assert_valid("API", &one);
    let (status, updated) = s.put(&publisher(&format!("/apis/{id}")), one.clone()).await;
    ok(status, StatusCode::OK, &updated);
    spec.assert_valid("API", &updated);
    let (_, list) = s.get(&publisher("/apis")).await;
    spec.assert_valid("APIList", &list);
    let (_, plans) = s
        .get(&publisher("/throttling-policies/streaming/subscription"))
        .await;
    spec.assert_valid("SubscriptionPolicyList", &plans);
    let (_, lc) = s
        .get(&publisher(&format!("/apis/{id}/lifecycle-state")))
        .await;
    spec.assert_valid("LifecycleState", &lc);
    let (status, wf) = s
        .post_empty(&publisher(&format!(
            "/apis/change-lifecycle?apiId={id}&action=Publish"
        )))
        .await;
    ok(status, StatusCode::OK, &wf);
    spec.assert_valid("WorkflowResponse", &wf);
    let rev_body = json!({"description": "first"});
    spec.assert_valid("APIRevision", &rev_body);
    let (status, rev) = s
        .post(&publisher(&format!("/apis/{id}/revisions")), rev_body)
        .await;
    ok(status, StatusCode::CREATED, &rev);
    spec.assert_valid("APIRevision", &rev);
    let rid = rev["id"].as_str().unwrap().to_string();
    let deploy = json!([{"name": "Production and Sandbox", "vhost": "localhost", "displayOnDevportal": true}]);
    spec.assert_valid_array_of("APIRevisionDeployment", &deploy);
    let (status, deployed) = s
        .post(
            &publisher(&format!("/apis/{id}/deploy-revision?revisionId={rid}")),
            deploy,
        )
        .await;
    ok(status, StatusCode::OK, &deployed);
    spec.assert_valid_array_of("APIRevisionDeployment", &deployed);
    let (_, revs) = s.get(&publisher(&format!("/apis/{id}/revisions"))).await;
    spec.assert_valid("APIRevisionList", &revs);
    assert_eq!(
        revs["list"][0]["deploymentInfo"][0]["name"],
        "Production and Sandbox"
    );
    let (_, deps) = s.get(&publisher(&format!("/apis/{id}/deployments"))).await;
    spec.assert_valid("APIRevisionDeploymentList", &deps);
    let (_, envs) = s.get(&publisher("/environments")).await;
    spec.assert_valid("EnvironmentList", &envs);
    let (status, restored) = s
        .post_empty(&publisher(&format!(
            "/apis/{id}/restore-revision?revisionId={rid}"
        )))
        .await;
    ok(status, StatusCode::CREATED, &restored);
    spec.assert_valid("API", &restored);
    let (status, undeployed) = s
        .post_empty(&publisher(&format!(
            "/apis/{id}/undeploy-revision?revisionId={rid}&allEnvironments=true"
        )))
        .await;
    ok(status, StatusCode::CREATED, &undeployed);
    spec.assert_valid_array_of("APIRevisionDeployment", &undeployed);
    let (status, left) = s
        .delete(&publisher(&format!("/apis/{id}/revisions/{rid}")))
        .await;
    ok(status, StatusCode::OK, &left);
    spec.assert_valid("APIRevisionList", &left);
    for (path, expected) in [
        (publisher("/apis/nope"), StatusCode::NOT_FOUND),
        (
            publisher("/apis/change-lifecycle?apiId=nope"),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ] {
        let (status, err) = s.get(&path).await;
        ok(status, expected, &err);
        spec.assert_valid("Error", &err);
    }
    let (status, err) = s.post(&publisher("/apis"), json!({"name": 5})).await;
    ok(status, StatusCode::BAD_REQUEST, &err);
    spec.assert_valid("Error", &err);
    let (status, err) = s.post(&publisher("/apis"), observer_body()).await;
    ok(status, StatusCode::CONFLICT, &err);
    spec.assert_valid("Error", &err);
}

#[tokio::test]
async fn devportal_bodies_validate_against_wso2s_devportal_v3_schemas() {
    let spec = Spec::load("devportal-v3.yaml", "devportal");
    let s = TestServer::start().await;
    let api = s.published_observer().await;
    let (_, list) = s.get(&devportal("/apis")).await;
    spec.assert_valid("APIList", &list);
    let (_, one) = s.get(&devportal(&format!("/apis/{api}"))).await;
    spec.assert_valid("API", &one);
    let app_body = json!({"name": "Tutorial", "throttlingPolicy": "Unlimited", "description": "wizard", "tokenType": "JWT"});
    spec.assert_valid("Application", &app_body);
    let (status, app) = s.post(&devportal("/applications"), app_body).await;
    ok(status, StatusCode::CREATED, &app);
    spec.assert_valid("Application", &app);
    let app_id = app["applicationId"].as_str().unwrap().to_string();
    let sub_body = json!({"applicationId": app_id, "apiId": api, "throttlingPolicy": "AsyncGold"});
    spec.assert_valid("Subscription", &sub_body);
    let (status, sub) = s.post(&devportal("/subscriptions"), sub_body).await;
    ok(status, StatusCode::CREATED, &sub);
    spec.assert_valid("Subscription", &sub);
    let (_, subs) = s
        .get(&devportal(&format!(
            "/subscriptions?applicationId={app_id}"
        )))
        .await;
    spec.assert_valid("SubscriptionList", &subs);
    let key_body = json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"], "validityTime": "3600"});
    spec.assert_valid("ApplicationKeyGenerateRequest", &key_body);
    let (status, keys) = s
        .post(
            &devportal(&format!("/applications/{app_id}/generate-keys")),
            key_body,
        )
        .await;
    ok(status, StatusCode::OK, &keys);
    spec.assert_valid("ApplicationKey", &keys);
    let mapping = keys["keyMappingId"].as_str().unwrap().to_string();
    let (_, key_list) = s
        .get(&devportal(&format!("/applications/{app_id}/oauth-keys")))
        .await;
    spec.assert_valid("ApplicationKeyList", &key_list);
    let token_body = json!({"consumerSecret": keys["consumerSecret"], "validityPeriod": 3600, "scopes": ["default"]});
    spec.assert_valid("ApplicationTokenGenerateRequest", &token_body);
    let (status, token) = s
        .post(
            &devportal(&format!(
                "/applications/{app_id}/oauth-keys/{mapping}/generate-token"
            )),
            token_body,
        )
        .await;
    ok(status, StatusCode::OK, &token);
    spec.assert_valid("ApplicationToken", &token);
    let (status, regen) = s
        .post_empty(&devportal(&format!(
            "/applications/{app_id}/oauth-keys/{mapping}/regenerate-secret"
        )))
        .await;
    ok(status, StatusCode::OK, &regen);
    spec.assert_valid("ApplicationKeyReGenerateResponse", &regen);
    let (_, full) = s.get(&devportal(&format!("/applications/{app_id}"))).await;
    spec.assert_valid("Application", &full);
    let (_, apps) = s.get(&devportal("/applications")).await;
    spec.assert_valid("ApplicationList", &apps);
    let (status, err) = s.get(&devportal("/applications/nope")).await;
    ok(status, StatusCode::NOT_FOUND, &err);
    spec.assert_valid("Error", &err);
}

#[tokio::test]
async fn admin_bodies_validate_against_wso2s_admin_v4_schemas() {
    let spec = Spec::load("admin-v4.yaml", "admin");
    let s = TestServer::start().await;
    let plan = json!({
        "policyName": "AsyncTiny",
        "displayName": "AsyncTiny",
        "description": "ten events a minute",
        "defaultLimit": {"type": "EVENTCOUNTLIMIT", "eventCount": {"eventCount": 10, "timeUnit": "min", "unitTime": 1}}
    });
    spec.assert_valid("SubscriptionThrottlePolicy", &plan);
    let (status, created) = s
        .post(&admin("/throttling/policies/subscription"), plan)
        .await;
    ok(status, StatusCode::CREATED, &created);
    spec.assert_valid("SubscriptionThrottlePolicy", &created);
    let (_, list) = s.get(&admin("/throttling/policies/subscription")).await;
    spec.assert_valid("SubscriptionThrottlePolicyList", &list);
    let app_policy = json!({
        "policyName": "30PerMin",
        "defaultLimit": {"type": "REQUESTCOUNTLIMIT", "requestCount": {"requestCount": 30, "timeUnit": "min", "unitTime": 1}}
    });
    spec.assert_valid("ApplicationThrottlePolicy", &app_policy);
    let (status, created) = s
        .post(&admin("/throttling/policies/application"), app_policy)
        .await;
    ok(status, StatusCode::CREATED, &created);
    spec.assert_valid("ApplicationThrottlePolicy", &created);
    let (_, list) = s.get(&admin("/throttling/policies/application")).await;
    spec.assert_valid("ApplicationThrottlePolicyList", &list);
    let (_, envs) = s.get(&admin("/environments")).await;
    spec.assert_valid("EnvironmentList", &envs);
    let (status, err) = s
        .post(
            &admin("/throttling/policies/subscription"),
            json!({"policyName": "X"}),
        )
        .await;
    ok(status, StatusCode::BAD_REQUEST, &err);
    spec.assert_valid("Error", &err);
}
