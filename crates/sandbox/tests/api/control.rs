//! The control API and the read-outs: login history on every token call, stats, faults, and
//! the 400 / 404 answers for bad control calls.

use std::time::Instant;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tether_sandbox::{DEFAULT_APP_NAME, DEFAULT_CLIENT_ID, DEFAULT_USERNAME};

use crate::helpers::{
    CALLBACK, expired_code, expired_token, oauth_error, row_fields, spawn_connected, spawn_sandbox,
};

#[tokio::test]
async fn health_answers_ok() {
    let sandbox = spawn_sandbox().await;
    let (status, body) = sandbox.control(Method::GET, "/_sandbox/health", None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"ok": true})));
}

#[tokio::test]
async fn every_token_call_adds_a_login_history_row_including_failures() {
    let (sandbox, tokens) = spawn_connected().await;
    sandbox.refresh(&tokens.refresh).await;
    sandbox.refresh("bogus").await;
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens.refresh.as_str()),
        ("client_id", "nope"),
    ];
    sandbox.token(&form).await;
    let rows = sandbox.login_history().await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let columns = ["grant_type", "status", "username", "application"];
    let summary: Vec<Value> = rows.iter().map(|r| row_fields(r, &columns)).collect();
    assert_eq!(
        summary,
        [
            json!([
                "authorization_code",
                "Success",
                DEFAULT_USERNAME,
                DEFAULT_APP_NAME
            ]),
            json!([
                "refresh_token",
                "Success",
                DEFAULT_USERNAME,
                DEFAULT_APP_NAME
            ]),
            json!([
                "refresh_token",
                "Failed: invalid_grant (expired access/refresh token)",
                null,
                DEFAULT_APP_NAME
            ]),
            json!([
                "refresh_token",
                "Failed: invalid_client_id (client identifier invalid)",
                null,
                "nope"
            ]),
        ]
    );
    assert!(
        rows.iter()
            .all(|r| r["login_type"] == "Remote Access 2.0" && r["source_ip"] == "127.0.0.1")
    );
}

#[tokio::test]
async fn stats_count_token_calls_rest_calls_and_live_refresh_tokens() {
    let (sandbox, tokens) = spawn_connected().await;
    sandbox.connect().await;
    sandbox.refresh(&tokens.refresh).await;
    sandbox.refresh("bogus").await;
    sandbox.limits(&tokens.access).await;
    sandbox.limits("bogus").await;
    let body = sandbox.stats().await;
    assert_eq!(
        body["token_calls"],
        json!({"authorization_code": {"success": 2}, "refresh_token": {"success": 1, "invalid_grant": 1}})
    );
    assert_eq!(body["rest_calls"], json!({"allowed": 1, "rejected": 1}));
    assert_eq!(
        body["live_refresh_tokens"],
        json!({DEFAULT_CLIENT_ID: {DEFAULT_USERNAME: 2}})
    );
}

#[tokio::test]
async fn token_fault_fails_the_next_call_with_its_status_then_clears() {
    let (sandbox, tokens) = spawn_connected().await;
    let faults = json!({"token_endpoint": {"status": 503, "delay_ms": 0, "count": 1}});
    assert_eq!(sandbox.set_faults(faults).await.0, StatusCode::OK);
    assert_eq!(
        sandbox.refresh(&tokens.refresh).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            oauth_error("temporarily_unavailable", "sandbox fault: status 503")
        )
    );
    assert_eq!(sandbox.refresh(&tokens.refresh).await.0, StatusCode::OK);
    let rows = sandbox.login_history().await;
    assert_eq!(rows[1]["status"], "Failed: sandbox fault 503");
}

#[tokio::test]
async fn token_fault_with_a_delay_and_no_status_stalls_then_answers_normally() {
    let (sandbox, tokens) = spawn_connected().await;
    let faults = json!({"token_endpoint": {"delay_ms": 300, "count": 1}});
    sandbox.set_faults(faults).await;
    let started = Instant::now();
    let (status, _) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        started.elapsed().as_millis() >= 300,
        "stalled only {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn created_app_has_salesforce_defaults_and_works_end_to_end() {
    let sandbox = spawn_sandbox().await;
    let spec = json!({"client_id": "app2", "client_secret": "s2", "callback_urls": [CALLBACK], "rotation": true});
    let (status, app) = sandbox
        .control(Method::POST, "/_sandbox/apps", Some(spec))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        app,
        json!({
            "name": "app2", "client_id": "app2", "callback_urls": [CALLBACK],
            "refresh_token_policy": {"kind": "until_revoked"}, "idle_ttl_30d": false,
            "ip_relaxation": "enforce", "permitted_users": "self_authorize", "approved_users": [],
            "session_timeout_seconds": 7200, "rotation": true, "pkce_required": false,
            "installed": true, "api_enabled": true, "daily_api_limit": 100000, "blocked": false,
            "certificate": null, "client_credentials_user": null,
        })
    );
    let code = sandbox.authorize_code_with(&[("client_id", "app2")]).await;
    let app2 = [("client_id", "app2"), ("client_secret", "s2")];
    let (status, body) = sandbox.exchange_code_with(&code, &app2).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = sandbox.exchange_code(&code).await;
    assert_eq!(
        (status, body.clone()),
        expired_code(),
        "a code belongs to its app"
    );
    assert_ne!(body, expired_token());
}

#[tokio::test]
async fn malformed_control_bodies_get_400_and_unknown_names_404() {
    let sandbox = spawn_sandbox().await;
    let app = format!("/_sandbox/apps/{DEFAULT_CLIENT_ID}");
    let (status, body) = sandbox
        .control(Method::PATCH, &app, Some(json!({"rotation": "yes"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "bad_request");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid request body: invalid type"),
        "{body}"
    );
    let not_found = |message: &str| Some(json!({"error": "not_found", "message": message}));
    let cases = [
        (
            "unknown app field",
            Method::PATCH,
            app.as_str(),
            json!({"rotaton": true}),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "unknown app",
            Method::PATCH,
            "/_sandbox/apps/missing",
            json!({"rotation": true}),
            StatusCode::NOT_FOUND,
            not_found("app missing not found"),
        ),
        (
            "unknown user",
            Method::PATCH,
            "/_sandbox/users/ghost",
            json!({"active": false}),
            StatusCode::NOT_FOUND,
            not_found("user ghost not found"),
        ),
        (
            "negative clock advance",
            Method::POST,
            "/_sandbox/clock/advance",
            json!({"seconds": -5}),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "client IP that is no IP",
            Method::PUT,
            "/_sandbox/network",
            json!({"client_ip": "not-an-ip"}),
            StatusCode::BAD_REQUEST,
            None,
        ),
    ];
    for (name, method, path, request, status, answer) in cases {
        let (got, body) = sandbox.control(method, path, Some(request)).await;
        assert_eq!(got, status, "{name}: {body}");
        if let Some(answer) = answer {
            assert_eq!(body, answer, "{name}");
        }
    }
}

#[tokio::test]
async fn settings_turn_auto_approve_off_and_authorize_shows_the_login_form() {
    let sandbox = spawn_sandbox().await;
    let (status, body) = sandbox
        .control(
            Method::PUT,
            "/_sandbox/settings",
            Some(json!({"auto_approve": false})),
        )
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"auto_approve": false}))
    );
    let response = sandbox.authorize(&[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("name=\"password\""));
}
