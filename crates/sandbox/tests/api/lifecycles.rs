//! What dies with what (tether's diagnosis relies on it): which admin or policy action ends the
//! refresh token, which ends the sessions, and which only suspends them until undone. Each
//! test also pins what userinfo answers meanwhile (docs/sandbox.md lists it).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tether_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_USERNAME};

use crate::helpers::{
    TestSandbox, expired_token, session_expired, session_not_valid, spawn_sandbox,
};

fn bad_token() -> (StatusCode, String) {
    (StatusCode::FORBIDDEN, "Bad_OAuth_Token".to_owned())
}

async fn assert_userinfo_works(sandbox: &TestSandbox, access: &str) {
    let (status, body) = sandbox.userinfo(access).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["preferred_username"], DEFAULT_USERNAME);
}

async fn rest(sandbox: &TestSandbox, access: &str) -> (StatusCode, Value) {
    let (status, _, body) = sandbox.limits(access).await;
    (status, body)
}

async fn app_action(sandbox: &TestSandbox, action: &str, body: Option<Value>) {
    let path = format!("/_sandbox/apps/{DEFAULT_CLIENT_ID}/{action}");
    let (status, answer) = sandbox.control(Method::POST, &path, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn immediately_expire_keeps_the_code_exchange_session_until_its_timeout_and_refuses_the_refresh_at_once()
 {
    let sandbox = spawn_sandbox().await;
    sandbox
        .patch_app(json!({"refresh_token_policy": {"kind": "immediately"}, "session_timeout_seconds": 900}))
        .await;
    let tokens = sandbox.connect().await;
    assert_eq!(
        sandbox.refresh(&tokens.refresh).await,
        (StatusCode::BAD_REQUEST, expired_token())
    );
    assert_eq!(rest(&sandbox, &tokens.access).await.0, StatusCode::OK);
    assert_userinfo_works(&sandbox, &tokens.access).await;
    sandbox.advance(901).await;
    assert_eq!(
        rest(&sandbox, &tokens.access).await,
        (StatusCode::UNAUTHORIZED, session_expired())
    );
    assert_eq!(sandbox.userinfo(&tokens.access).await, bad_token());
}

#[tokio::test]
async fn an_admin_revoke_kills_the_refresh_token_and_its_access_tokens() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    app_action(
        &sandbox,
        "revoke",
        Some(json!({"username": DEFAULT_USERNAME})),
    )
    .await;
    assert_eq!(
        sandbox.refresh(&tokens.refresh).await,
        (StatusCode::BAD_REQUEST, expired_token())
    );
    assert_eq!(
        rest(&sandbox, &tokens.access).await,
        (StatusCode::UNAUTHORIZED, session_expired())
    );
    assert_eq!(sandbox.userinfo(&tokens.access).await, bad_token());
}

#[tokio::test]
async fn a_user_revoke_of_the_refresh_token_kills_its_access_tokens_too() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    let refreshed = sandbox.refresh(&tokens.refresh).await.1;
    let refreshed = refreshed["access_token"].as_str().unwrap();
    let response = sandbox
        .client
        .post(sandbox.url("/services/oauth2/revoke"))
        .form(&[("token", tokens.refresh.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    for access in [tokens.access.as_str(), refreshed] {
        assert_eq!(
            rest(&sandbox, access).await,
            (StatusCode::UNAUTHORIZED, session_expired())
        );
        assert_eq!(sandbox.userinfo(access).await, bad_token());
    }
}

#[tokio::test]
async fn block_ends_every_session_and_approval_and_unblock_needs_a_new_connect() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    let path = format!("/_sandbox/apps/{DEFAULT_CLIENT_ID}/block");
    let (status, body) = sandbox.control(Method::POST, &path, None).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"client_id": DEFAULT_CLIENT_ID, "blocked": true})
        )
    );
    assert_eq!(
        rest(&sandbox, &tokens.access).await,
        (StatusCode::UNAUTHORIZED, session_not_valid())
    );
    assert_eq!(sandbox.userinfo(&tokens.access).await, bad_token());
    assert_eq!(
        sandbox.refresh(&tokens.refresh).await,
        (StatusCode::BAD_REQUEST, expired_token())
    );
    app_action(&sandbox, "unblock", None).await;
    assert_eq!(
        sandbox.refresh(&tokens.refresh).await,
        (StatusCode::BAD_REQUEST, expired_token()),
        "Block ended the old approval"
    );
    let fresh = sandbox.connect().await;
    assert_eq!(rest(&sandbox, &fresh.access).await.0, StatusCode::OK);
    assert_eq!(
        rest(&sandbox, &tokens.access).await,
        (StatusCode::UNAUTHORIZED, session_expired()),
        "the session Block ended stays ended"
    );
}

#[tokio::test]
async fn an_ip_restriction_refuses_refresh_and_rest_and_fixed_ranges_let_the_same_refresh_token_work()
 {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    sandbox
        .patch_user(DEFAULT_USERNAME, json!({"login_ip_ranges": ["10.0.0.0/8"]}))
        .await;
    let ip_restricted = json!({"error": "invalid_grant", "error_description": "IP restricted or invalid login hours"});
    assert_eq!(
        sandbox.refresh(&tokens.refresh).await,
        (StatusCode::BAD_REQUEST, ip_restricted)
    );
    assert_eq!(
        rest(&sandbox, &tokens.access).await,
        (StatusCode::UNAUTHORIZED, session_not_valid())
    );
    assert_eq!(sandbox.userinfo(&tokens.access).await, bad_token());
    sandbox
        .patch_user(
            DEFAULT_USERNAME,
            json!({"login_ip_ranges": ["127.0.0.0/8"]}),
        )
        .await;
    assert_eq!(sandbox.refresh(&tokens.refresh).await.0, StatusCode::OK);
    assert_eq!(rest(&sandbox, &tokens.access).await.0, StatusCode::OK);
    assert_userinfo_works(&sandbox, &tokens.access).await;
}

#[tokio::test]
async fn a_deactivated_then_reactivated_user_gets_the_same_refresh_token_working_again() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    sandbox
        .patch_user(DEFAULT_USERNAME, json!({"active": false}))
        .await;
    assert_eq!(
        sandbox.refresh(&tokens.refresh).await,
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "inactive_user", "error_description": "user is inactive"})
        )
    );
    assert_eq!(
        rest(&sandbox, &tokens.access).await,
        (StatusCode::UNAUTHORIZED, session_expired())
    );
    assert_eq!(sandbox.userinfo(&tokens.access).await, bad_token());
    sandbox
        .patch_user(DEFAULT_USERNAME, json!({"active": true}))
        .await;
    assert_eq!(sandbox.refresh(&tokens.refresh).await.0, StatusCode::OK);
}

#[tokio::test]
async fn an_app_switched_to_admin_approved_refuses_the_refresh_until_the_user_is_approved() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    sandbox
        .patch_app(json!({"permitted_users": "admin_approved", "approved_users": []}))
        .await;
    assert_eq!(
        sandbox.refresh(&tokens.refresh).await,
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_app_access", "error_description": "user is not admin approved to access this app"})
        )
    );
    assert_eq!(rest(&sandbox, &tokens.access).await.0, StatusCode::OK);
    assert_userinfo_works(&sandbox, &tokens.access).await;
    sandbox
        .patch_app(json!({"approved_users": [DEFAULT_USERNAME]}))
        .await;
    assert_eq!(sandbox.refresh(&tokens.refresh).await.0, StatusCode::OK);
}
