//! The token endpoint: success bodies, client authentication, codes and grant dispatch.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use tether_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_ORG_ID};

use crate::helpers::{CALLBACK, spawn_sandbox};

fn keys(body: &Value) -> Vec<String> {
    let mut keys: Vec<String> = body.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    keys
}

fn expected_signature(id: &str, issued_at: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(DEFAULT_CLIENT_SECRET.as_bytes()).unwrap();
    mac.update(format!("{id}{issued_at}").as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn code_exchange_returns_the_salesforce_success_body_without_expires_in() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.authorize_code().await;
    let (status, body) = sandbox.exchange_code(&code).await;
    assert_eq!(status, StatusCode::OK);
    let expected_keys = [
        "access_token",
        "id",
        "instance_url",
        "issued_at",
        "refresh_token",
        "scope",
        "signature",
        "token_type",
    ];
    assert_eq!(keys(&body), expected_keys);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "api refresh_token");
    assert_eq!(body["instance_url"], sandbox.base.as_str());
    let id = body["id"].as_str().unwrap();
    assert_eq!(
        id,
        format!("{}/id/{DEFAULT_ORG_ID}/005000000000001AAA", sandbox.base)
    );
    let issued_at = body["issued_at"].as_str().unwrap();
    assert!(
        issued_at.parse::<i64>().unwrap() > 1_600_000_000_000,
        "issued_at is milliseconds"
    );
    assert_eq!(body["signature"], expected_signature(id, issued_at));
    assert!(
        body["access_token"]
            .as_str()
            .unwrap()
            .starts_with("00D000000000001!AQ")
    );
}

#[tokio::test]
async fn refresh_without_rotation_returns_a_new_access_token_and_no_refresh_token() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    let (status, body) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(status, StatusCode::OK);
    let expected_keys = [
        "access_token",
        "id",
        "instance_url",
        "issued_at",
        "scope",
        "signature",
        "token_type",
    ];
    assert_eq!(keys(&body), expected_keys);
    assert_ne!(body["access_token"], tokens.body["access_token"]);
}

#[tokio::test]
async fn code_without_refresh_scope_gets_no_refresh_token() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.authorize_code_with(&[("scope", "api")]).await;
    let (status, body) = sandbox.exchange_code(&code).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.get("refresh_token"), None);
    assert_eq!(body["scope"], "api");
}

#[tokio::test]
async fn openid_scope_adds_an_id_token() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox
        .authorize_code_with(&[("scope", "openid api offline_access")])
        .await;
    let (status, body) = sandbox.exchange_code(&code).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id_token"].as_str().unwrap().split('.').count(), 3);
    assert!(
        body["refresh_token"].is_string(),
        "offline_access grants a refresh token"
    );
}

#[tokio::test]
async fn client_credentials_in_http_basic_are_accepted() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    let response = sandbox
        .client
        .post(sandbox.url("/services/oauth2/token"))
        .basic_auth(DEFAULT_CLIENT_ID, Some(DEFAULT_CLIENT_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.refresh.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_client_id_gets_invalid_client_id() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens.refresh.as_str()),
        ("client_id", "nope"),
        ("client_secret", "x"),
    ];
    let (status, body) = sandbox.token(&form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid_client_id", "error_description": "client identifier invalid"})
    );
}

#[tokio::test]
async fn wrong_secret_gets_invalid_client_credentials() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens.refresh.as_str()),
        ("client_id", DEFAULT_CLIENT_ID),
        ("client_secret", "wrong"),
    ];
    let (status, body) = sandbox.token(&form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid_client", "error_description": "invalid client credentials"})
    );
}

#[tokio::test]
async fn uninstalled_app_refuses_refresh_with_app_must_be_installed() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    sandbox.patch_app(json!({"installed": false})).await;
    let (status, body) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid_client", "error_description": "app must be installed into org"})
    );
    sandbox.patch_app(json!({"installed": true})).await;
    let (status, _) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "installing again brings the same token back"
    );
}

#[tokio::test]
async fn password_and_unknown_grants_are_unsupported() {
    let sandbox = spawn_sandbox().await;
    let expected =
        json!({"error": "unsupported_grant_type", "error_description": "grant type not supported"});
    for grant in ["password", "authorization-code", ""] {
        let form = [
            ("grant_type", grant),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
        ];
        let (status, body) = sandbox.token(&form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{grant}");
        assert_eq!(body, expected, "{grant}");
    }
}

#[tokio::test]
async fn reusing_an_authorization_code_gets_expired_authorization_code() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.authorize_code().await;
    let (first, _) = sandbox.exchange_code(&code).await;
    assert_eq!(first, StatusCode::OK);
    let (status, body) = sandbox.exchange_code(&code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "expired authorization code"})
    );
}

#[tokio::test]
async fn a_code_older_than_15_minutes_gets_expired_authorization_code() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.authorize_code().await;
    sandbox.advance(15 * 60).await;
    let (status, body) = sandbox.exchange_code(&code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "expired authorization code"})
    );
}

#[tokio::test]
async fn a_code_used_within_15_minutes_is_accepted() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.authorize_code().await;
    sandbox.advance(14 * 60).await;
    let (status, _) = sandbox.exchange_code(&code).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn exchanging_with_another_redirect_uri_gets_redirect_uri_mismatch() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.authorize_code().await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("client_id", DEFAULT_CLIENT_ID),
        ("client_secret", DEFAULT_CLIENT_SECRET),
        ("redirect_uri", "http://localhost:7878/oauth/callback"),
    ];
    let (status, body) = sandbox.token(&form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "redirect_uri_mismatch", "error_description": "redirect_uri must match configuration"})
    );
    assert_ne!(CALLBACK, "http://localhost:7878/oauth/callback");
}

#[tokio::test]
async fn a_thousand_concurrent_refreshes_all_succeed() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    let calls = (0..1000).map(|_| sandbox.refresh(&tokens.refresh));
    let results = futures::future::join_all(calls).await;
    assert_eq!(results.len(), 1000);
    assert!(results.iter().all(|(status, _)| *status == StatusCode::OK));
}
