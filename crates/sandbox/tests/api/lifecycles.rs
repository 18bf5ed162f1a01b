//! What dies with what (tether's diagnosis relies on it): which admin or policy action ends the
//! refresh token, which ends the sessions, and which only suspends them until undone. Each
//! test also pins what userinfo answers meanwhile (docs/sandbox.md lists it).

use reqwest::StatusCode;
use serde_json::{Value, json};
use tether_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_USERNAME};

use crate::helpers::{
    TestSandbox, bad_oauth_token, expired_refresh, inactive_user, ip_restricted,
    not_admin_approved, session_expired, session_not_valid, spawn_connected, spawn_sandbox,
    unauthorized,
};

async fn assert_userinfo_works(sandbox: &TestSandbox, access: &str) {
    let (status, body) = sandbox.userinfo(access).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["preferred_username"], DEFAULT_USERNAME);
}

/// Asserts the REST gate answers `refusal` for `access` and userinfo calls it a bad token.
async fn assert_session_refused(sandbox: &TestSandbox, access: &str, refusal: Value) {
    assert_eq!(
        sandbox.rest(access).await,
        (StatusCode::UNAUTHORIZED, refusal)
    );
    assert_eq!(sandbox.userinfo(access).await, bad_oauth_token());
}

#[tokio::test]
async fn immediately_expire_keeps_the_code_exchange_session_until_its_timeout_and_refuses_the_refresh_at_once()
 {
    let sandbox = spawn_sandbox().await;
    sandbox
        .patch_app(json!({"refresh_token_policy": {"kind": "immediately"}, "session_timeout_seconds": 900}))
        .await;
    let tokens = sandbox.connect().await;
    assert_eq!(sandbox.refresh(&tokens.refresh).await, expired_refresh());
    assert_eq!(sandbox.rest(&tokens.access).await.0, StatusCode::OK);
    assert_userinfo_works(&sandbox, &tokens.access).await;
    sandbox.advance(901).await;
    assert_session_refused(&sandbox, &tokens.access, session_expired()).await;
}

#[tokio::test]
async fn an_admin_revoke_kills_the_refresh_token_and_its_access_tokens() {
    let (sandbox, tokens) = spawn_connected().await;
    let one_user = Some(json!({"username": DEFAULT_USERNAME}));
    assert_eq!(
        sandbox.app_action("revoke", one_user).await.0,
        StatusCode::OK
    );
    assert_eq!(sandbox.refresh(&tokens.refresh).await, expired_refresh());
    assert_session_refused(&sandbox, &tokens.access, session_expired()).await;
}

#[tokio::test]
async fn a_user_revoke_of_the_refresh_token_kills_its_access_tokens_too() {
    let (sandbox, tokens) = spawn_connected().await;
    let refreshed = sandbox.refresh(&tokens.refresh).await.1;
    let refreshed = refreshed["access_token"].as_str().unwrap();
    let response = sandbox.revoke(&tokens.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    for access in [tokens.access.as_str(), refreshed] {
        assert_session_refused(&sandbox, access, session_expired()).await;
    }
}

#[tokio::test]
async fn block_ends_every_session_and_approval_and_unblock_needs_a_new_connect() {
    let (sandbox, tokens) = spawn_connected().await;
    assert_eq!(
        sandbox.app_action("block", None).await,
        (
            StatusCode::OK,
            json!({"client_id": DEFAULT_CLIENT_ID, "blocked": true})
        )
    );
    assert_session_refused(&sandbox, &tokens.access, session_not_valid()).await;
    assert_eq!(sandbox.refresh(&tokens.refresh).await, expired_refresh());
    let (status, answer) = sandbox.app_action("unblock", None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        sandbox.refresh(&tokens.refresh).await,
        expired_refresh(),
        "Block ended the old approval"
    );
    let fresh = sandbox.connect().await;
    assert_eq!(sandbox.rest(&fresh.access).await.0, StatusCode::OK);
    assert_eq!(
        sandbox.rest(&tokens.access).await,
        unauthorized(session_expired()),
        "the session Block ended stays ended"
    );
}

#[tokio::test]
async fn an_ip_restriction_refuses_refresh_and_rest_and_fixed_ranges_let_the_same_refresh_token_work()
 {
    let (sandbox, tokens) = spawn_connected().await;
    sandbox.set_login_ip_ranges(&["10.0.0.0/8"]).await;
    assert_eq!(sandbox.refresh(&tokens.refresh).await, ip_restricted());
    assert_session_refused(&sandbox, &tokens.access, session_not_valid()).await;
    sandbox.set_login_ip_ranges(&["127.0.0.0/8"]).await;
    assert_eq!(sandbox.refresh(&tokens.refresh).await.0, StatusCode::OK);
    assert_eq!(sandbox.rest(&tokens.access).await.0, StatusCode::OK);
    assert_userinfo_works(&sandbox, &tokens.access).await;
}

#[tokio::test]
async fn a_deactivated_then_reactivated_user_gets_the_same_refresh_token_working_again() {
    let (sandbox, tokens) = spawn_connected().await;
    sandbox.set_user_active(false).await;
    assert_eq!(sandbox.refresh(&tokens.refresh).await, inactive_user());
    assert_session_refused(&sandbox, &tokens.access, session_expired()).await;
    sandbox.set_user_active(true).await;
    assert_eq!(sandbox.refresh(&tokens.refresh).await.0, StatusCode::OK);
}

#[tokio::test]
async fn an_app_switched_to_admin_approved_refuses_the_refresh_until_the_user_is_approved() {
    let (sandbox, tokens) = spawn_connected().await;
    sandbox.admin_approve(&[]).await;
    assert_eq!(sandbox.refresh(&tokens.refresh).await, not_admin_approved());
    assert_eq!(sandbox.rest(&tokens.access).await.0, StatusCode::OK);
    assert_userinfo_works(&sandbox, &tokens.access).await;
    sandbox.admin_approve(&[DEFAULT_USERNAME]).await;
    assert_eq!(sandbox.refresh(&tokens.refresh).await.0, StatusCode::OK);
}
