//! The JWT bearer grant: an RS256 assertion verified with the app's certificate, for a user
//! who is pre-authorized; no refresh token, and Salesforce's short answer.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tether_core::clock::Clock;
use tether_sandbox::jwt::{assertion, signed};
use tether_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_USERNAME, JWT_BEARER};

use crate::helpers::{
    TestSandbox, expired_code, inactive_user, ip_restricted, keys, refused, row_fields,
    session_expired, session_not_valid, sorted_keys, spawn_sandbox,
};

const LOGIN: &str = "https://login.salesforce.com";

fn invalid_assertion() -> (StatusCode, Value) {
    refused("invalid_grant", "invalid assertion")
}

fn not_approved() -> (StatusCode, Value) {
    refused("invalid_grant", "user hasn't approved this consumer")
}

/// A sandbox whose default app has the test certificate, and a user who approved it.
async fn jwt_sandbox() -> TestSandbox {
    let sandbox = spawn_sandbox().await;
    sandbox
        .patch_app(json!({"certificate": keys().certificate_pem}))
        .await;
    sandbox.connect().await;
    sandbox
}

fn exp_in(sandbox: &TestSandbox, seconds: i64) -> i64 {
    sandbox.clock.now().timestamp() + seconds
}

fn mint(sandbox: &TestSandbox, iss: &str, sub: &str, aud: &str, exp_in_s: i64) -> String {
    let exp = exp_in(sandbox, exp_in_s);
    assertion(&keys().private_key_pem, iss, sub, aud, exp).unwrap()
}

async fn jwt_grant(sandbox: &TestSandbox, assertion: &str) -> (StatusCode, Value) {
    sandbox
        .token(&[("grant_type", JWT_BEARER), ("assertion", assertion)])
        .await
}

#[tokio::test]
async fn a_valid_assertion_gets_the_short_jwt_answer_without_refresh_token() {
    let sandbox = jwt_sandbox().await;
    let jwt = mint(&sandbox, DEFAULT_CLIENT_ID, DEFAULT_USERNAME, LOGIN, 60);
    let (status, body) = jwt_grant(&sandbox, &jwt).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        sorted_keys(&body),
        ["access_token", "id", "instance_url", "scope", "token_type"]
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "api");
    assert_eq!(body["instance_url"], sandbox.base.as_str());
    assert_eq!(
        body["id"],
        format!("{}/id/00D000000000001AAA/005000000000001AAA", sandbox.base)
    );
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(sandbox.limits(access).await.0, StatusCode::OK);
    assert_eq!(sandbox.userinfo(access).await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_sandbox_base_url_and_test_salesforce_are_accepted_audiences() {
    let sandbox = jwt_sandbox().await;
    for aud in [
        sandbox.base.clone(),
        "https://test.salesforce.com".to_owned(),
    ] {
        let jwt = mint(&sandbox, DEFAULT_CLIENT_ID, DEFAULT_USERNAME, &aud, 60);
        assert_eq!(jwt_grant(&sandbox, &jwt).await.0, StatusCode::OK, "{aud}");
    }
}

#[tokio::test]
async fn malformed_foreign_or_unverifiable_assertions_get_their_wire_errors() {
    let sandbox = jwt_sandbox().await;
    let good = mint(&sandbox, DEFAULT_CLIENT_ID, DEFAULT_USERNAME, LOGIN, 60);
    let mut parts: Vec<&str> = good.split('.').collect();
    let other_claims = json!({"iss": DEFAULT_CLIENT_ID, "sub": DEFAULT_USERNAME, "aud": LOGIN, "exp": exp_in(&sandbox, 90)});
    let tampered_payload = URL_SAFE_NO_PAD.encode(other_claims.to_string());
    parts[1] = &tampered_payload;
    let tampered = parts.join(".");
    let hs256_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let hs256 = format!("{hs256_header}.{}", good.split_once('.').unwrap().1);
    let cases = [
        ("not-a-jwt".to_owned(), invalid_assertion()),
        (tampered, invalid_assertion()),
        (hs256, invalid_assertion()),
        (
            mint(&sandbox, "unknown-app", DEFAULT_USERNAME, LOGIN, 60),
            refused("invalid_client_id", "client identifier invalid"),
        ),
        (
            mint(
                &sandbox,
                DEFAULT_CLIENT_ID,
                DEFAULT_USERNAME,
                "https://evil.example",
                60,
            ),
            refused("invalid_grant", "audience is invalid"),
        ),
        (
            mint(&sandbox, DEFAULT_CLIENT_ID, DEFAULT_USERNAME, LOGIN, -10),
            expired_code(),
        ),
        (
            mint(&sandbox, DEFAULT_CLIENT_ID, DEFAULT_USERNAME, LOGIN, 600),
            expired_code(),
        ),
        (
            mint(
                &sandbox,
                DEFAULT_CLIENT_ID,
                "nobody@sandbox.example",
                LOGIN,
                60,
            ),
            invalid_assertion(),
        ),
    ];
    for (jwt, expected) in cases {
        assert_eq!(jwt_grant(&sandbox, &jwt).await, expected, "{jwt}");
    }
}

#[tokio::test]
async fn an_app_without_a_certificate_refuses_every_assertion() {
    let sandbox = spawn_sandbox().await;
    sandbox.connect().await;
    let jwt = mint(&sandbox, DEFAULT_CLIENT_ID, DEFAULT_USERNAME, LOGIN, 60);
    assert_eq!(jwt_grant(&sandbox, &jwt).await, invalid_assertion());
}

#[tokio::test]
async fn a_self_authorize_app_refuses_a_user_who_never_approved_it() {
    let sandbox = spawn_sandbox().await;
    sandbox
        .patch_app(json!({"certificate": keys().certificate_pem}))
        .await;
    let jwt = mint(&sandbox, DEFAULT_CLIENT_ID, DEFAULT_USERNAME, LOGIN, 60);
    assert_eq!(jwt_grant(&sandbox, &jwt).await, not_approved());
    let tokens = sandbox.connect().await;
    sandbox.app_action("revoke", None).await;
    assert_eq!(
        sandbox.refresh(&tokens.refresh).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        jwt_grant(&sandbox, &jwt).await.0,
        StatusCode::OK,
        "a user who had approved stays pre-authorized"
    );
}

#[tokio::test]
async fn an_admin_approved_app_admits_exactly_its_approved_users() {
    let sandbox = spawn_sandbox().await;
    sandbox
        .patch_app(json!({"certificate": keys().certificate_pem, "permitted_users": "admin_approved", "approved_users": []}))
        .await;
    let jwt = mint(&sandbox, DEFAULT_CLIENT_ID, DEFAULT_USERNAME, LOGIN, 60);
    assert_eq!(jwt_grant(&sandbox, &jwt).await, not_approved());
    sandbox.admin_approve(&[DEFAULT_USERNAME]).await;
    assert_eq!(jwt_grant(&sandbox, &jwt).await.0, StatusCode::OK);
}

#[tokio::test]
async fn inactive_users_and_ip_restrictions_are_refused_even_under_relax() {
    let sandbox = jwt_sandbox().await;
    let jwt = mint(&sandbox, DEFAULT_CLIENT_ID, DEFAULT_USERNAME, LOGIN, 60);
    sandbox.patch_app(json!({"ip_relaxation": "relax"})).await;
    sandbox.set_login_ip_ranges(&["10.0.0.0/8"]).await;
    assert_eq!(jwt_grant(&sandbox, &jwt).await, ip_restricted());
    sandbox.set_user_active(false).await;
    assert_eq!(jwt_grant(&sandbox, &jwt).await, inactive_user());
}

#[tokio::test]
async fn jwt_sessions_die_with_revoke_and_block_and_time_out() {
    let sandbox = jwt_sandbox().await;
    let jwt = mint(&sandbox, DEFAULT_CLIENT_ID, DEFAULT_USERNAME, LOGIN, 60);
    let first = jwt_grant(&sandbox, &jwt).await.1["access_token"].clone();
    let first = first.as_str().unwrap();
    let response = sandbox.revoke(first).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(sandbox.limits(first).await.2, session_expired(), "revoked");
    let second = jwt_grant(&sandbox, &jwt).await.1["access_token"].clone();
    let second = second.as_str().unwrap();
    sandbox.advance(7200).await;
    assert_eq!(
        sandbox.limits(second).await.2,
        session_expired(),
        "timed out"
    );
    let jwt = mint(&sandbox, DEFAULT_CLIENT_ID, DEFAULT_USERNAME, LOGIN, 60);
    let third = jwt_grant(&sandbox, &jwt).await.1["access_token"].clone();
    sandbox.app_action("block", None).await;
    assert_eq!(
        sandbox.limits(third.as_str().unwrap()).await.2,
        session_not_valid()
    );
}

#[tokio::test]
async fn every_jwt_call_writes_a_login_history_row_and_is_counted() {
    let sandbox = jwt_sandbox().await;
    let good = mint(&sandbox, DEFAULT_CLIENT_ID, DEFAULT_USERNAME, LOGIN, 60);
    jwt_grant(&sandbox, &good).await;
    let stale = mint(&sandbox, DEFAULT_CLIENT_ID, DEFAULT_USERNAME, LOGIN, -5);
    jwt_grant(&sandbox, &stale).await;
    let rows = sandbox.login_history().await;
    let columns = ["status", "username", "application"];
    let jwt_rows: Vec<Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["grant_type"] == JWT_BEARER)
        .map(|r| row_fields(r, &columns))
        .collect();
    assert_eq!(
        jwt_rows,
        [
            json!(["Success", DEFAULT_USERNAME, "Sandbox Connected App"]),
            json!([
                "Failed: invalid_grant (expired authorization code)",
                DEFAULT_USERNAME,
                "Sandbox Connected App"
            ]),
        ]
    );
    let stats = sandbox.stats().await;
    assert_eq!(
        stats["token_calls"][JWT_BEARER],
        json!({"success": 1, "invalid_grant": 1})
    );
}

#[tokio::test]
async fn a_certificate_is_validated_shown_and_removable() {
    let sandbox = spawn_sandbox().await;
    let path = format!("/_sandbox/apps/{DEFAULT_CLIENT_ID}");
    let (status, body) = sandbox
        .control(
            Method::PATCH,
            &path,
            Some(json!({"certificate": "not a certificate"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("invalid request body: certificate is not a PEM X.509 certificate"),
        "{message}"
    );
    sandbox
        .patch_app(json!({"certificate": keys().certificate_pem}))
        .await;
    let (_, app) = sandbox.control(Method::GET, &path, None).await;
    assert_eq!(app["certificate"], keys().certificate_pem.as_str());
    sandbox.patch_app(json!({"certificate": null})).await;
    let (_, app) = sandbox.control(Method::GET, &path, None).await;
    assert_eq!(app["certificate"], Value::Null);
}

#[tokio::test]
async fn signed_accepts_an_audience_list() {
    let sandbox = jwt_sandbox().await;
    let claims = json!({"iss": DEFAULT_CLIENT_ID, "sub": DEFAULT_USERNAME, "aud": ["https://other.example", LOGIN], "exp": exp_in(&sandbox, 60)});
    let jwt = signed(&keys().private_key_pem, &claims).unwrap();
    assert_eq!(jwt_grant(&sandbox, &jwt).await.0, StatusCode::OK);
}
