//! The endpoints around the token: identity URL, userinfo, introspection, OpenID discovery.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tether_sandbox::{DEFAULT_ORG_ID, DEFAULT_USERNAME};

use crate::helpers::{bad_oauth_token, spawn_connected, spawn_sandbox};

#[tokio::test]
async fn identity_url_answers_the_user_for_a_live_token() {
    let (sandbox, tokens) = spawn_connected().await;
    let id = tokens.body["id"].as_str().unwrap();
    let response = sandbox.get_with_token(id, &tokens.access).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], id);
    assert_eq!(body["username"], DEFAULT_USERNAME);
    assert_eq!(body["organization_id"], DEFAULT_ORG_ID);
    assert_eq!(body["user_id"], "005000000000001AAA");
}

#[tokio::test]
async fn identity_url_with_a_bad_token_is_403_bad_oauth_token() {
    let (sandbox, tokens) = spawn_connected().await;
    let id = tokens.body["id"].as_str().unwrap();
    let response = sandbox.get_with_token(id, "nope").await;
    let answer = (response.status(), response.text().await.unwrap());
    assert_eq!(answer, bad_oauth_token());
}

#[tokio::test]
async fn userinfo_lists_the_user() {
    let (sandbox, tokens) = spawn_connected().await;
    let (status, body) = sandbox.userinfo(&tokens.access).await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["preferred_username"], DEFAULT_USERNAME);
    assert_eq!(body["sub"], tokens.body["id"]);
    assert_eq!(body["active"], true);
}

#[tokio::test]
async fn introspection_reports_the_access_token_expiry_and_inactive_after_revoke() {
    let (sandbox, tokens) = spawn_connected().await;
    let (status, body) = sandbox.introspect(&tokens.access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "access_token");
    assert_eq!(
        body["exp"].as_i64().unwrap() - body["iat"].as_i64().unwrap(),
        7200
    );
    let (_, body) = sandbox.introspect(&tokens.refresh).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "refresh_token");
    sandbox.revoke(&tokens.refresh).await;
    for token in [&tokens.access, &tokens.refresh] {
        assert_eq!(
            sandbox.introspect(token).await,
            (StatusCode::OK, json!({"active": false}))
        );
    }
}

#[tokio::test]
async fn openid_configuration_points_at_this_host() {
    let sandbox = spawn_sandbox().await;
    let response = sandbox.get("/.well-known/openid-configuration").await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["issuer"], sandbox.base.as_str());
    assert_eq!(
        body["token_endpoint"],
        format!("{}/services/oauth2/token", sandbox.base)
    );
}

#[tokio::test]
async fn userinfo_with_an_expired_session_is_403_bad_oauth_token() {
    let (sandbox, tokens) = spawn_connected().await;
    sandbox.advance(2 * 60 * 60).await;
    assert_eq!(sandbox.userinfo(&tokens.access).await, bad_oauth_token());
}
