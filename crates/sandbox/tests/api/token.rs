//! The token endpoint: success bodies, client authentication, codes and grant dispatch.

use reqwest::StatusCode;
use serde_json::json;
use tether_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_ORG_ID};

use crate::helpers::{
    CALLBACK, SIGNED_ANSWER_KEYS, assert_token_answer, expected_signature, expired_code, refused,
    sorted_keys, spawn_connected, spawn_sandbox,
};

#[tokio::test]
async fn code_exchange_returns_the_salesforce_success_body_without_expires_in() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.authorize_code().await;
    let body = sandbox.exchange_ok(&code).await;
    let mut expected_keys = SIGNED_ANSWER_KEYS.to_vec();
    expected_keys.push("refresh_token");
    expected_keys.sort_unstable();
    assert_eq!(sorted_keys(&body), expected_keys);
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
    assert_eq!(body["signature"], expected_signature(&body));
    assert!(
        body["access_token"]
            .as_str()
            .unwrap()
            .starts_with("00D000000000001!AQ")
    );
}

#[tokio::test]
async fn refresh_without_rotation_returns_a_new_access_token_and_no_refresh_token() {
    let (sandbox, tokens) = spawn_connected().await;
    let (status, body) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sorted_keys(&body), SIGNED_ANSWER_KEYS);
    assert_ne!(body["access_token"], tokens.body["access_token"]);
}

#[tokio::test]
async fn code_without_refresh_scope_gets_no_refresh_token() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.authorize_code_with(&[("scope", "api")]).await;
    let body = sandbox.exchange_ok(&code).await;
    assert_eq!(body.get("refresh_token"), None);
    assert_eq!(body["scope"], "api");
}

#[tokio::test]
async fn openid_scope_adds_an_id_token() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox
        .authorize_code_with(&[("scope", "openid api offline_access")])
        .await;
    let body = sandbox.exchange_ok(&code).await;
    assert_eq!(body["id_token"].as_str().unwrap().split('.').count(), 3);
    assert!(
        body["refresh_token"].is_string(),
        "offline_access grants a refresh token"
    );
}

#[tokio::test]
async fn client_credentials_in_http_basic_are_accepted() {
    let (sandbox, tokens) = spawn_connected().await;
    let response = sandbox
        .token_with_basic_auth(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.refresh.as_str()),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_client_ids_and_wrong_secrets_are_refused_with_their_errors() {
    let (sandbox, tokens) = spawn_connected().await;
    let cases = [
        (
            "unknown client id",
            ("nope", "x"),
            refused("invalid_client_id", "client identifier invalid"),
        ),
        (
            "wrong secret",
            (DEFAULT_CLIENT_ID, "wrong"),
            refused("invalid_client", "invalid client credentials"),
        ),
    ];
    for (name, (client_id, secret), expected) in cases {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.refresh.as_str()),
            ("client_id", client_id),
            ("client_secret", secret),
        ];
        assert_eq!(sandbox.token(&form).await, expected, "{name}");
    }
}

#[tokio::test]
async fn uninstalled_app_refuses_refresh_with_app_must_be_installed() {
    let (sandbox, tokens) = spawn_connected().await;
    sandbox.patch_app(json!({"installed": false})).await;
    assert_eq!(
        sandbox.refresh(&tokens.refresh).await,
        refused("invalid_client", "app must be installed into org")
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
    for grant in ["password", "authorization-code", ""] {
        let form = [
            ("grant_type", grant),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
        ];
        assert_eq!(
            sandbox.token(&form).await,
            refused("unsupported_grant_type", "grant type not supported"),
            "{grant}"
        );
    }
}

#[tokio::test]
async fn reusing_an_authorization_code_gets_expired_authorization_code() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.authorize_code().await;
    sandbox.exchange_ok(&code).await;
    assert_eq!(sandbox.exchange_code(&code).await, expired_code());
}

#[tokio::test]
async fn an_authorization_code_lives_15_minutes() {
    let sandbox = spawn_sandbox().await;
    for (minutes, works) in [(14, true), (15, false)] {
        let code = sandbox.authorize_code().await;
        sandbox.advance(minutes * 60).await;
        let answer = sandbox.exchange_code(&code).await;
        let refusal = (!works).then(expired_code);
        assert_token_answer(answer, refusal, &format!("after {minutes} min"));
    }
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
    assert_eq!(
        sandbox.token(&form).await,
        refused(
            "redirect_uri_mismatch",
            "redirect_uri must match configuration"
        )
    );
    assert_ne!(CALLBACK, "http://localhost:7878/oauth/callback");
}

#[tokio::test]
async fn a_thousand_concurrent_refreshes_all_succeed() {
    let (sandbox, tokens) = spawn_connected().await;
    let calls = (0..1000).map(|_| sandbox.refresh(&tokens.refresh));
    let results = futures::future::join_all(calls).await;
    assert_eq!(results.len(), 1000);
    assert!(results.iter().all(|(status, _)| *status == StatusCode::OK));
}
