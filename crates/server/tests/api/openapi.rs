//! The OpenAPI contract at `/openapi.json`: it covers every `/v1` route the router answers
//! (the route table is read off the router itself, the methods off its answers), it is valid
//! OpenAPI 3.1 (`openapi-spec-validator` from PyPI, installed by `scripts/test.sh`), and the
//! answers of a real run validate against the schemas it gives for them (`jsonschema`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::{TestApp, spawn_app};

/// Methods a route may answer; HEAD follows GET in axum and is not probed.
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// Every path of `router`'s route table (`Router`'s `Debug` lists them), as routed.
fn route_table(router: &axum::Router) -> BTreeSet<String> {
    let table = format!("{router:?}");
    let mut paths = BTreeSet::new();
    let mut rest = table.as_str();
    while let Some(at) = rest.find("RouteId(") {
        rest = &rest[at..];
        let Some(open) = rest.find(": \"") else { break };
        let after = &rest[open + 3..];
        let Some(close) = after.find('"') else { break };
        paths.insert(after[..close].to_owned());
        rest = &after[close..];
    }
    assert!(
        paths.contains("/v1/connections/{id}/token") && paths.contains("/healthz"),
        "the router's route table could not be read: {paths:?}"
    );
    paths
}

/// The route's path as the document writes it (a wildcard is a plain parameter).
fn documented_path(route: &str) -> String {
    route.replace("{*", "{")
}

/// A concrete path for a route template.
fn concrete(route: &str) -> String {
    route
        .replace("{id}", "conn_AAAAAAAAAAAAAAAAAAAA")
        .replace("{name}", "salesforce")
        .replace("{*path}", "services/data/v64.0/limits")
}

/// Whether `router` answers `method` on `route` (without a key: 401 from the handler; an
/// unrouted method answers 405, an unknown path 404).
async fn routes_method(router: &axum::Router, method: &Method, route: &str) -> bool {
    let request = axum::http::Request::builder()
        .method(method.as_str())
        .uri(concrete(route))
        .body(axum::body::Body::empty())
        .unwrap();
    let answer = router.clone().oneshot(request).await.unwrap();
    !matches!(answer.status().as_u16(), 404 | 405)
}

/// The `/v1` routes and methods `router` answers ("METHOD /path"), and those of them that
/// `document` has no operation for.
async fn coverage(
    router: &axum::Router,
    document: &Value,
) -> (BTreeSet<(String, String)>, Vec<String>) {
    let mut undocumented = Vec::new();
    let mut routed = BTreeSet::new();
    for route in route_table(router).iter().filter(|r| r.starts_with("/v1/")) {
        for method in &METHODS {
            if !routes_method(router, method, route).await {
                continue;
            }
            let path = documented_path(route);
            routed.insert((method.to_string(), path.clone()));
            if operation(document, method, &path).is_none() {
                undocumented.push(format!("{method} {route}"));
            }
        }
    }
    (routed, undocumented)
}

async fn served_document(app: &TestApp) -> Value {
    let answer = app.get_without_key("/openapi.json").await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["content-type"], "application/json");
    answer.json().await.unwrap()
}

fn operation<'a>(document: &'a Value, method: &Method, path: &str) -> Option<&'a Value> {
    document["paths"]
        .get(path)?
        .get(method.as_str().to_lowercase())
}

#[tokio::test]
async fn every_v1_route_the_router_answers_is_an_operation_of_the_document_and_back() {
    let app = spawn_app().await;
    let document = served_document(&app).await;
    assert_eq!(
        document,
        serde_json::to_value(tether_server::openapi()).unwrap()
    );
    let router = tether_server::routes(app.tether.state.clone(), axum::Router::new());
    let (routed, undocumented) = coverage(&router, &document).await;
    assert!(
        undocumented.is_empty(),
        "routes of the router missing from /openapi.json (annotate each handler with \
         #[utoipa::path] and register it with .routes(routes!(handler)) in api::routes()): {undocumented:#?}"
    );

    let mut phantom = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        assert!(path.starts_with("/v1/"), "{path} is not under /v1");
        for method in item.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            if METHODS.contains(&method) && !routed.contains(&(method.to_string(), path.clone())) {
                phantom.push(format!("{method} {path}"));
            }
        }
    }
    assert!(
        phantom.is_empty(),
        "operations the router does not answer: {phantom:?}"
    );
    let proxy = &document["paths"]["/v1/proxy/{id}/{path}"];
    for method in ["get", "post", "put", "patch", "delete", "head", "options"] {
        assert!(proxy.get(method).is_some(), "the proxy lacks {method}");
    }
}

#[tokio::test]
async fn a_v1_route_added_without_its_annotation_is_named_by_the_coverage_check() {
    let app = spawn_app().await;
    let document = serde_json::to_value(tether_server::openapi()).unwrap();
    let extra = axum::Router::new().route(
        "/v1/undocumented/{id}",
        axum::routing::post(|| async { "created" }).delete(|| async { "deleted" }),
    );
    let router = tether_server::routes(app.tether.state.clone(), extra);
    let (_, undocumented) = coverage(&router, &document).await;
    assert_eq!(
        undocumented,
        ["POST /v1/undocumented/{id}", "DELETE /v1/undocumented/{id}"]
    );
}

#[tokio::test]
async fn every_v1_operation_documents_its_problem_responses() {
    let document = serde_json::to_value(tether_server::openapi()).unwrap();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let problems: Vec<&String> = op["responses"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(_, r)| resolve(&document, r)["content"].get(PROBLEM).is_some())
                .map(|(status, _)| status)
                .collect();
            assert!(
                problems.iter().any(|s| *s == "401") && problems.iter().any(|s| *s == "500"),
                "{method} {path} documents the problems {problems:?}; it needs at least 401 and 500"
            );
        }
    }
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1_by_openapi_spec_validator() {
    let document = serde_json::to_value(tether_server::openapi()).unwrap();
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        document["openapi"]
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&document).unwrap()).unwrap();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/validate_openapi.py");
    let output = tokio::process::Command::new("python3")
        .arg(script)
        .arg(&file)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "python3 cannot import openapi_spec_validator: run scripts/test.sh (it installs scripts/requirements-test.txt)"
    );
    assert!(
        output.status.success() && stdout.trim() == "valid",
        "openapi-spec-validator refused the document:\n{stdout}{stderr}"
    );
}

const PROBLEM: &str = "application/problem+json";

/// `value`, or what its `$ref` points to in `document`.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(pointer) => document
            .pointer(pointer.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{pointer} resolves to nothing")),
        None => value,
    }
}

/// Checks a real answer against the schema the document gives for `method template` and its
/// status and content type; a problem list of what did not fit otherwise.
struct Contract {
    document: Value,
    checked: usize,
}

impl Contract {
    fn new() -> Self {
        Self {
            document: serde_json::to_value(tether_server::openapi()).unwrap(),
            checked: 0,
        }
    }

    /// [`Contract::check`] of each `(method, operation, path, status)` with the app's key and
    /// no body; `status`, when given, is the status the answer must have.
    async fn calls<const N: usize>(
        &mut self,
        app: &TestApp,
        calls: [(Method, &str, String, Option<StatusCode>); N],
    ) {
        for (method, template, path, expected) in calls {
            let (status, body) = self
                .check(method.clone(), template, app.api(method, &path))
                .await;
            if let Some(expected) = expected {
                assert_eq!(status, expected, "{path}: {body}");
            }
        }
    }

    /// Sends `request`, checks its answer against the operation `method template`; the body.
    async fn check(
        &mut self,
        method: Method,
        template: &str,
        request: reqwest::RequestBuilder,
    ) -> (StatusCode, Value) {
        let answer = request.send().await.unwrap();
        let status = answer.status();
        let content_type = answer
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = answer.text().await.unwrap();
        let op = operation(&self.document, &method, template)
            .unwrap_or_else(|| panic!("{method} {template} is not in the document"));
        let responses = &op["responses"];
        let response = responses.get(status.as_str()).unwrap_or_else(|| {
            panic!(
                "{method} {template} answered {status}, which the document does not list: {text}"
            )
        });
        let response = resolve(&self.document, response).clone();
        let Some(content_type) = content_type else {
            assert!(
                response.get("content").is_none(),
                "{method} {template} {status} has no body, the document says it has"
            );
            self.checked += 1;
            return (status, Value::Null);
        };
        let media = content_type.split(';').next().unwrap().trim().to_owned();
        let schema =
            response["content"].get(&media).unwrap_or_else(|| {
                panic!("{method} {template} {status}: {media} is not documented")
            })["schema"]
                .clone();
        let body: Value = serde_json::from_str(&text).unwrap();
        self.validate(&schema, &body, &format!("{method} {template} {status}"));
        (status, body)
    }

    fn validate(&mut self, schema: &Value, body: &Value, what: &str) {
        let errors = self.misfits(schema, body);
        assert!(
            errors.is_empty(),
            "{what}: the answer does not fit the document: {errors:#?}\n{body:#}"
        );
        self.checked += 1;
    }

    /// How `body` breaks `schema` (nothing when it fits).
    fn misfits(&self, schema: &Value, body: &Value) -> Vec<String> {
        // The document is the root, so the schema's `$ref`s resolve inside it.
        let mut root = self.document.clone();
        let map = root.as_object_mut().unwrap();
        map.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        map.insert("allOf".into(), json!([schema]));
        let validator = jsonschema::validator_for(&root).unwrap();
        validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }
}

#[test]
fn the_check_refuses_a_body_that_breaks_the_document() {
    let contract = Contract::new();
    let connection = json!({"$ref": "#/components/schemas/ConnectionView"});
    let misfits = contract.misfits(&connection, &json!({"id": 7, "status": "asleep"}));
    assert!(misfits.iter().any(|m| m.contains("asleep")), "{misfits:?}");
    assert!(misfits.iter().any(|m| m.contains("account")), "{misfits:?}");
}

#[tokio::test]
async fn real_answers_of_a_connection_lifecycle_validate_against_the_document() {
    let app = spawn_app().await;
    let mut contract = Contract::new();
    let api = |method: Method, path: &str| app.api(method, path);

    contract
        .calls(
            &app,
            [
                (Method::GET, "/v1/connectors", "/v1/connectors".into(), None),
                (
                    Method::GET,
                    "/v1/connectors/{name}",
                    "/v1/connectors/salesforce".into(),
                    None,
                ),
            ],
        )
        .await;
    let body = json!({"provider": "salesforce", "client_id": "x", "client_secret": "y",
        "refresh_token_policy": {"kind": "idle", "seconds": 86400}});
    let connector = "/v1/connectors/{name}";
    contract
        .check(
            Method::PUT,
            connector,
            api(Method::PUT, "/v1/connectors/other").json(&body),
        )
        .await;
    let (status, _) = contract
        .check(
            Method::PUT,
            connector,
            api(Method::PUT, "/v1/connectors/other").json(&json!({"provider": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    contract
        .calls(
            &app,
            [(
                Method::DELETE,
                connector,
                "/v1/connectors/other".into(),
                None,
            )],
        )
        .await;
    contract
        .check(
            Method::POST,
            "/v1/connect-sessions",
            api(Method::POST, "/v1/connect-sessions")
                .json(&json!({"connector": "salesforce", "end_user_id": "u-1"})),
        )
        .await;

    let id = app.connect().await;
    let one = format!("/v1/connections/{id}");
    let (list, connection) = ("/v1/connections", "/v1/connections/{id}");
    contract
        .calls(
            &app,
            [
                (Method::GET, list, format!("{list}?limit=1"), None),
                (
                    Method::GET,
                    list,
                    format!("{list}?limit=0"),
                    Some(StatusCode::BAD_REQUEST),
                ),
                (Method::GET, connection, one.clone(), None),
                (
                    Method::POST,
                    "/v1/connections/{id}/token",
                    format!("{one}/token?force_refresh=true"),
                    None,
                ),
                (
                    Method::POST,
                    "/v1/connections/{id}/check",
                    format!("{one}/check"),
                    None,
                ),
                (
                    Method::GET,
                    "/v1/connections/{id}/events",
                    format!("{one}/events?limit=2"),
                    None,
                ),
                (
                    Method::POST,
                    "/v1/connections/{id}/reconnect",
                    format!("{one}/reconnect"),
                    None,
                ),
            ],
        )
        .await;
    let (status, problem) = contract
        .check(
            Method::GET,
            "/v1/connections/{id}",
            api(Method::GET, "/v1/connections/conn_ZZZZZZZZZZZZZZZZZZZZ"),
        )
        .await;
    assert_eq!(
        (status, &problem["title"]),
        (StatusCode::NOT_FOUND, &json!("Not found"))
    );
    let (status, _) = contract
        .check(
            Method::GET,
            "/v1/connections",
            app.http.get(format!("{}/v1/connections", app.tether.base)),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    contract
        .check(
            Method::DELETE,
            "/v1/connections/{id}",
            api(Method::DELETE, &one),
        )
        .await;
    let (status, problem) = contract
        .check(
            Method::POST,
            "/v1/connections/{id}/token",
            api(Method::POST, &format!("{one}/token")),
        )
        .await;
    assert_eq!(
        (status, &problem["title"]),
        (StatusCode::CONFLICT, &json!("Conflict"))
    );
    let refused = json!({"connector": "salesforce", "end_user_id": "u-refused",
        "refresh_token": "5Aep861-not-a-token", "instance_url": app.sandbox_base});
    let (status, problem) = contract
        .check(
            Method::POST,
            "/v1/connections/import",
            api(Method::POST, "/v1/connections/import").json(&refused),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(problem["diagnosis"].is_object(), "{problem}");
    assert!(
        contract.checked >= 17,
        "{} answers checked",
        contract.checked
    );
}

#[tokio::test]
async fn an_expired_connections_problem_and_diagnosis_validate_against_the_document() {
    let app = spawn_app().await;
    let mut contract = Contract::new();
    let id = app.connect().await;
    app.revoke_app().await;
    let (status, problem) = contract
        .check(
            Method::POST,
            "/v1/connections/{id}/token",
            app.api(
                Method::POST,
                &format!("/v1/connections/{id}/token?force_refresh=true"),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["title"], "Connection Expired");
    let one = format!("/v1/connections/{id}");
    contract
        .calls(
            &app,
            [
                (Method::GET, "/v1/connections/{id}", one.clone(), None),
                (
                    Method::GET,
                    "/v1/connections/{id}/events",
                    format!("{one}/events"),
                    None,
                ),
            ],
        )
        .await;
}
