//! Workspaces never see each other (another workspace's ids answer 404, not 403), requests
//! without a valid key get 401, and no response body ever carries a refresh token or the
//! client secret.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{CLIENT_SECRET, TestApp, spawn_app};
use crate::probes::{Answer, assert_problem};

const UNAUTHORIZED_DETAIL: &str =
    "a valid API key is required: send Authorization: Bearer <api key>";

async fn call_with_key(app: &TestApp, key: &str, method: Method, path: &str) -> Answer {
    let url = format!("{}{path}", app.tether.base);
    Answer::of(
        app.http
            .request(method, url)
            .bearer_auth(key)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn connection_paths(id: &str) -> Vec<(Method, String)> {
    vec![
        (Method::GET, format!("/v1/connections/{id}")),
        (Method::POST, format!("/v1/connections/{id}/token")),
        (Method::GET, format!("/v1/connections/{id}/events")),
        (Method::POST, format!("/v1/connections/{id}/check")),
        (Method::POST, format!("/v1/connections/{id}/reconnect")),
        (Method::DELETE, format!("/v1/connections/{id}")),
    ]
}

#[tokio::test]
async fn another_workspaces_key_gets_404_not_found_for_every_call_on_this_connection() {
    let app = spawn_app().await;
    let id = app.connect().await;
    let stranger = app.api_key_of_workspace("other").await;

    for (method, path) in connection_paths(&id) {
        let answer = call_with_key(&app, &stranger, method.clone(), &path).await;
        assert_problem(
            &answer,
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "connection not found",
        );
    }
    let list = call_with_key(&app, &stranger, Method::GET, "/v1/connections").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json(), json!({"connections": [], "next_cursor": null}));
    // The stranger's DELETE changed nothing.
    assert_eq!(app.connection(&id).await["status"], "active");
    assert_eq!(app.live_refresh_tokens().await, 1);
}

#[tokio::test]
async fn another_workspace_cannot_use_this_workspaces_connector_name() {
    let app = spawn_app().await;
    let stranger = app.api_key_of_workspace("other").await;
    let url = format!("{}/v1/connect-sessions", app.tether.base);
    let body = json!({"connector": "salesforce", "end_user_id": "u-1"});
    let r = app
        .http
        .post(url)
        .bearer_auth(&stranger)
        .json(&body)
        .send()
        .await;

    assert_problem(
        &Answer::of(r.unwrap()).await,
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "connector \"salesforce\" not found",
    );
}

#[tokio::test]
async fn requests_without_a_valid_api_key_get_401_with_a_problem_body() {
    let app = spawn_app().await;
    let id = app.connect().await;
    let url = format!("{}/v1/connections/{id}/token", app.tether.base);

    let missing = Answer::of(app.http.post(&url).send().await.unwrap()).await;
    let unknown = call_with_key(
        &app,
        "tk_notarealkey",
        Method::POST,
        &format!("/v1/connections/{id}/token"),
    )
    .await;
    let basic = Answer::of(
        app.http
            .post(&url)
            .basic_auth("user", Some("pass"))
            .send()
            .await
            .unwrap(),
    )
    .await;

    for answer in [missing, unknown, basic] {
        assert_problem(
            &answer,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            UNAUTHORIZED_DETAIL,
        );
        assert_eq!(answer.header("www-authenticate").as_deref(), Some("Bearer"));
    }
}

/// Every key anywhere in a JSON document.
fn keys_of(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                into.push(k.clone());
                keys_of(v, into);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys_of(v, into)),
        _ => {}
    }
}

/// Runs every endpoint against a refreshed, then failing, then deleted connection; returns
/// every body (with the refresh token tether held before the delete).
async fn every_body(app: &TestApp) -> (Vec<String>, String) {
    let mut bodies = Vec::new();
    let id = app.connect().await;
    let refresh_token = app.stored_refresh_token(&id).await;
    app.advance(2 * 3600).await;
    let paths = [
        (Method::POST, format!("/v1/connections/{id}/token")),
        (
            Method::POST,
            format!("/v1/connections/{id}/token?force_refresh=true"),
        ),
        (Method::POST, format!("/v1/connections/{id}/check")),
        (Method::GET, format!("/v1/connections/{id}")),
        (Method::GET, "/v1/connections".to_owned()),
        (Method::GET, format!("/v1/connections/{id}/events")),
        (Method::GET, "/v1/connectors".to_owned()),
        (Method::GET, "/v1/connectors/salesforce".to_owned()),
        (Method::POST, format!("/v1/connections/{id}/reconnect")),
    ];
    for (method, path) in &paths {
        bodies.push(app.call(method.clone(), path).await.text);
    }
    bodies.push(app.put_connector_with("salesforce", json!({})).await.text);
    app.sandbox_patch(
        "/_sandbox/users/admin@sandbox.example",
        json!({"active": false}),
    )
    .await;
    let forced = format!("/v1/connections/{id}/token?force_refresh=true");
    bodies.push(app.call(Method::POST, &forced).await.text);
    bodies.push(
        app.call(Method::GET, &format!("/v1/connections/{id}"))
            .await
            .text,
    );
    let delete = format!("/v1/connections/{id}");
    bodies.push(app.call(Method::DELETE, &delete).await.text);
    for (method, path) in &paths[..6] {
        bodies.push(app.call(method.clone(), path).await.text);
    }
    (bodies, refresh_token)
}

#[tokio::test]
async fn no_response_body_ever_contains_the_refresh_token_or_the_client_secret() {
    let app = spawn_app().await;
    let (bodies, refresh_token) = every_body(&app).await;

    assert_eq!(bodies.len(), 19);
    for body in &bodies {
        assert!(!body.contains(&refresh_token), "refresh token in {body}");
        assert!(!body.contains(CLIENT_SECRET), "client secret in {body}");
        if let Ok(json) = serde_json::from_str::<Value>(body) {
            let mut keys = Vec::new();
            keys_of(&json, &mut keys);
            for forbidden in ["refresh_token", "client_secret"] {
                assert!(
                    !keys.iter().any(|k| k == forbidden),
                    "{forbidden} in {body}"
                );
            }
        }
    }
}
