//! The client credentials grant: the app's id and secret buy a session of its run-as user.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use tether_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_USERNAME};

use crate::helpers::{TestSandbox, spawn_sandbox};

fn error(error: &str, description: &str) -> Value {
    json!({"error": error, "error_description": description})
}

async fn client_credentials(sandbox: &TestSandbox, secret: &str) -> (StatusCode, Value) {
    sandbox
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", secret),
        ])
        .await
}

#[tokio::test]
async fn client_credentials_answer_a_signed_body_acting_as_the_run_as_user() {
    let sandbox = spawn_sandbox().await;
    sandbox
        .patch_app(json!({"client_credentials_user": DEFAULT_USERNAME}))
        .await;
    let (status, body) = client_credentials(&sandbox, DEFAULT_CLIENT_SECRET).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "access_token",
            "id",
            "instance_url",
            "issued_at",
            "scope",
            "signature",
            "token_type"
        ]
    );
    assert_eq!(body["scope"], "api");
    let mut mac = Hmac::<Sha256>::new_from_slice(DEFAULT_CLIENT_SECRET.as_bytes()).unwrap();
    let signed = format!(
        "{}{}",
        body["id"].as_str().unwrap(),
        body["issued_at"].as_str().unwrap()
    );
    mac.update(signed.as_bytes());
    assert_eq!(
        body["signature"],
        STANDARD.encode(mac.finalize().into_bytes())
    );
    let access = body["access_token"].as_str().unwrap();
    let (status, info) = sandbox.userinfo(access).await;
    assert_eq!(status, StatusCode::OK);
    let info: Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["preferred_username"], DEFAULT_USERNAME);
    assert_eq!(sandbox.limits(access).await.0, StatusCode::OK);
}

#[tokio::test]
async fn client_credentials_in_http_basic_work_too() {
    let sandbox = spawn_sandbox().await;
    sandbox
        .patch_app(json!({"client_credentials_user": DEFAULT_USERNAME}))
        .await;
    let response = sandbox
        .client
        .post(sandbox.url("/services/oauth2/token"))
        .basic_auth(DEFAULT_CLIENT_ID, Some(DEFAULT_CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn client_credentials_refusals_carry_their_wire_errors() {
    let sandbox = spawn_sandbox().await;
    assert_eq!(
        client_credentials(&sandbox, DEFAULT_CLIENT_SECRET).await,
        (
            StatusCode::BAD_REQUEST,
            error("invalid_grant", "no client credentials user enabled")
        )
    );
    sandbox
        .patch_app(json!({"client_credentials_user": DEFAULT_USERNAME}))
        .await;
    assert_eq!(
        client_credentials(&sandbox, "wrong").await,
        (
            StatusCode::BAD_REQUEST,
            error("invalid_client", "invalid client credentials")
        )
    );
    sandbox
        .patch_user(DEFAULT_USERNAME, json!({"active": false}))
        .await;
    assert_eq!(
        client_credentials(&sandbox, DEFAULT_CLIENT_SECRET).await,
        (
            StatusCode::BAD_REQUEST,
            error("inactive_user", "user is inactive")
        )
    );
    sandbox
        .patch_app(json!({"client_credentials_user": null}))
        .await;
    let (_, rows) = sandbox
        .control(Method::GET, "/_sandbox/login-history", None)
        .await;
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
