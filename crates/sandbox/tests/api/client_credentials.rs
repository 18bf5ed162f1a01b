//! The client credentials grant: the app's id and secret buy a session of its run-as user.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tether_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_USERNAME};

use crate::helpers::{
    SIGNED_ANSWER_KEYS, TestSandbox, expected_signature, inactive_user, refused, sorted_keys,
    spawn_sandbox,
};

async fn client_credentials(sandbox: &TestSandbox, secret: &str) -> (StatusCode, Value) {
    sandbox
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", secret),
        ])
        .await
}

/// A sandbox whose app has client credentials enabled, run as the default user.
async fn spawn_with_run_as_user() -> TestSandbox {
    let sandbox = spawn_sandbox().await;
    sandbox
        .patch_app(json!({"client_credentials_user": DEFAULT_USERNAME}))
        .await;
    sandbox
}

#[tokio::test]
async fn client_credentials_answer_a_signed_body_acting_as_the_run_as_user() {
    let sandbox = spawn_with_run_as_user().await;
    let (status, body) = client_credentials(&sandbox, DEFAULT_CLIENT_SECRET).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(sorted_keys(&body), SIGNED_ANSWER_KEYS);
    assert_eq!(body["scope"], "api");
    assert_eq!(body["signature"], expected_signature(&body));
    let access = body["access_token"].as_str().unwrap();
    let (status, info) = sandbox.userinfo(access).await;
    assert_eq!(status, StatusCode::OK);
    let info: Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["preferred_username"], DEFAULT_USERNAME);
    assert_eq!(sandbox.limits(access).await.0, StatusCode::OK);
}

#[tokio::test]
async fn client_credentials_in_http_basic_work_too() {
    let sandbox = spawn_with_run_as_user().await;
    let response = sandbox
        .token_with_basic_auth(&[("grant_type", "client_credentials")])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn client_credentials_refusals_carry_their_wire_errors() {
    let sandbox = spawn_sandbox().await;
    assert_eq!(
        client_credentials(&sandbox, DEFAULT_CLIENT_SECRET).await,
        refused("invalid_grant", "no client credentials user enabled")
    );
    sandbox
        .patch_app(json!({"client_credentials_user": DEFAULT_USERNAME}))
        .await;
    assert_eq!(
        client_credentials(&sandbox, "wrong").await,
        refused("invalid_client", "invalid client credentials")
    );
    sandbox.set_user_active(false).await;
    assert_eq!(
        client_credentials(&sandbox, DEFAULT_CLIENT_SECRET).await,
        inactive_user()
    );
    sandbox
        .patch_app(json!({"client_credentials_user": null}))
        .await;
    let rows = sandbox.login_history().await;
    let statuses: Vec<&Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["grant_type"] == "client_credentials")
        .map(|r| &r["status"])
        .collect();
    assert_eq!(
        statuses,
        [
            "Failed: invalid_grant (no client credentials user enabled)",
            "Failed: invalid_client (invalid client credentials)",
            "Failed: inactive_user (user is inactive)",
        ]
    );
}
