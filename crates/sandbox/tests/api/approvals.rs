//! `POST /_sandbox/approvals`: thousands of connections seeded without a browser flow, each
//! one what a completed authorization-code flow would leave behind.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tether_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_ORG_ID, DEFAULT_USERNAME};

use crate::helpers::{TestSandbox, expired_refresh, spawn_sandbox};

async fn approve(sandbox: &TestSandbox, body: Value) -> (StatusCode, Value) {
    sandbox
        .control(Method::POST, "/_sandbox/approvals", Some(body))
        .await
}

fn names(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("seeded{i}@sandbox.example"))
        .collect()
}

#[tokio::test]
async fn approvals_create_missing_users_and_answer_working_tokens() {
    let sandbox = spawn_sandbox().await;
    let body = json!({"client_id": DEFAULT_CLIENT_ID, "usernames": [DEFAULT_USERNAME, "new@sandbox.example"]});
    let (status, body) = approve(&sandbox, body).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let approvals = body["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 2);
    let second = &approvals[1];
    let access = second["access_token"].as_str().unwrap();
    let refresh = second["refresh_token"].as_str().unwrap();
    let user_id = "005000000000002AAA";
    assert_eq!(
        second,
        &json!({
            "username": "new@sandbox.example", "user_id": user_id, "org_id": DEFAULT_ORG_ID,
            "access_token": access, "refresh_token": refresh, "instance_url": sandbox.base,
            "id": format!("{}/id/{DEFAULT_ORG_ID}/{user_id}", sandbox.base),
        })
    );
    assert_eq!(approvals[0]["user_id"], "005000000000001AAA");
    assert_eq!(sandbox.limits(access).await.0, StatusCode::OK);
    let (status, refreshed) = sandbox.refresh(refresh).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(refreshed["id"], second["id"]);
    let (status, user) = sandbox
        .control(Method::GET, "/_sandbox/users/new@sandbox.example", None)
        .await;
    assert_eq!(
        (status, user),
        (
            StatusCode::OK,
            json!({"id": user_id, "username": "new@sandbox.example", "active": true, "login_ip_ranges": []})
        )
    );
}

#[tokio::test]
async fn approvals_write_no_login_history_and_count_no_token_calls() {
    let sandbox = spawn_sandbox().await;
    let body = json!({"client_id": DEFAULT_CLIENT_ID, "usernames": names(3)});
    assert_eq!(approve(&sandbox, body).await.0, StatusCode::CREATED);
    assert_eq!(sandbox.login_history().await, json!([]));
    let stats = sandbox.stats().await;
    assert_eq!(stats["token_calls"], json!({}));
    assert_eq!(
        stats["live_refresh_tokens"][DEFAULT_CLIENT_ID]["seeded1@sandbox.example"],
        1
    );
}

#[tokio::test]
async fn a_sixth_approval_of_one_user_revokes_the_oldest_refresh_token() {
    let sandbox = spawn_sandbox().await;
    let usernames = vec![DEFAULT_USERNAME; 6];
    let body = json!({"client_id": DEFAULT_CLIENT_ID, "usernames": usernames});
    let (status, body) = approve(&sandbox, body).await;
    assert_eq!(status, StatusCode::CREATED);
    let oldest = body["approvals"][0]["refresh_token"].as_str().unwrap();
    let newest = body["approvals"][5]["refresh_token"].as_str().unwrap();
    assert_eq!(sandbox.refresh(oldest).await, expired_refresh());
    assert_eq!(sandbox.refresh(newest).await.0, StatusCode::OK);
}

#[tokio::test]
async fn ten_thousand_approvals_come_back_in_one_call() {
    let sandbox = spawn_sandbox().await;
    let body = json!({"client_id": DEFAULT_CLIENT_ID, "usernames": names(10_000)});
    let started = Instant::now();
    let (status, body) = approve(&sandbox, body).await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::CREATED);
    let approvals = body["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 10_000);
    assert_eq!(approvals[9_999]["username"], "seeded9999@sandbox.example");
    // A generous guard for an unoptimized build on a shared machine; release is far faster.
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let last = approvals[9_999]["refresh_token"].as_str().unwrap();
    assert_eq!(sandbox.refresh(last).await.0, StatusCode::OK);
}

#[tokio::test]
async fn approvals_refuse_bad_bodies_unknown_apps_and_blocked_apps() {
    let sandbox = spawn_sandbox().await;
    let cases = [
        (
            json!({"client_id": "nope", "usernames": ["a"]}),
            StatusCode::NOT_FOUND,
            json!({"error": "not_found", "message": "app nope not found"}),
        ),
        (
            json!({"client_id": DEFAULT_CLIENT_ID, "usernames": []}),
            StatusCode::BAD_REQUEST,
            json!({"error": "bad_request", "message": "invalid request body: usernames must not be empty"}),
        ),
        (
            json!({"client_id": DEFAULT_CLIENT_ID, "usernames": names(10_001)}),
            StatusCode::BAD_REQUEST,
            json!({"error": "bad_request", "message": "invalid request body: usernames takes at most 10000 names per call"}),
        ),
        (
            json!({"client_id": DEFAULT_CLIENT_ID, "usernames": ["a"], "scopes": ["api"]}),
            StatusCode::BAD_REQUEST,
            json!({"error": "bad_request", "message": "invalid request body: scopes must include refresh_token or offline_access (an approval is a refresh token)"}),
        ),
    ];
    for (body, status, answer) in cases {
        assert_eq!(approve(&sandbox, body).await, (status, answer));
    }
    sandbox.app_action("block", None).await;
    let body = json!({"client_id": DEFAULT_CLIENT_ID, "usernames": ["a"]});
    assert_eq!(
        approve(&sandbox, body).await,
        (
            StatusCode::CONFLICT,
            json!({"error": "conflict", "message": format!("app {DEFAULT_CLIENT_ID} is blocked")})
        )
    );
}
