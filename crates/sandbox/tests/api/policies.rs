//! Connected App policies evaluated at refresh time on the virtual clock: refresh-token
//! policies, the 30-day idle limit, rotation with reuse detection, the 5-approvals limit,
//! revocation, Block, inactive users, IP restrictions and Permitted Users.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tether_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_USERNAME};

use crate::helpers::{expired_token, session_expired, session_not_valid, spawn_sandbox};

const DAY: u64 = 24 * 60 * 60;

fn ip_restricted() -> serde_json::Value {
    json!({"error": "invalid_grant", "error_description": "IP restricted or invalid login hours"})
}

#[tokio::test]
async fn until_revoked_refresh_token_still_works_after_a_year() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    sandbox.advance(365 * DAY).await;
    let (status, _) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn immediately_expire_policy_fails_the_first_refresh() {
    let sandbox = spawn_sandbox().await;
    sandbox
        .patch_app(json!({"refresh_token_policy": {"kind": "immediately"}}))
        .await;
    let tokens = sandbox.connect().await;
    let (status, body) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, expired_token());
}

#[tokio::test]
async fn refresh_after_idle_policy_passes_gets_invalid_grant() {
    let sandbox = spawn_sandbox().await;
    sandbox
        .patch_app(json!({"refresh_token_policy": {"kind": "idle", "seconds": 3600}}))
        .await;
    let tokens = sandbox.connect().await;
    sandbox.advance(3000).await;
    let (status, _) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(status, StatusCode::OK, "used within the idle window");
    sandbox.advance(3000).await;
    let (status, _) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the idle window slides from the last use"
    );
    sandbox.advance(3601).await;
    let (status, body) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, expired_token());
}

#[tokio::test]
async fn refresh_after_lifetime_policy_passes_gets_invalid_grant_even_when_used() {
    let sandbox = spawn_sandbox().await;
    sandbox
        .patch_app(json!({"refresh_token_policy": {"kind": "lifetime", "seconds": 3600}}))
        .await;
    let tokens = sandbox.connect().await;
    sandbox.advance(3000).await;
    let (status, _) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(status, StatusCode::OK);
    sandbox.advance(601).await;
    let (status, body) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, expired_token());
}

#[tokio::test]
async fn idle_ttl_30d_expires_a_refresh_token_unused_for_30_days() {
    let sandbox = spawn_sandbox().await;
    sandbox.patch_app(json!({"idle_ttl_30d": true})).await;
    let tokens = sandbox.connect().await;
    sandbox.advance(29 * DAY).await;
    let (status, _) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(status, StatusCode::OK);
    sandbox.advance(30 * DAY).await;
    let (status, body) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, expired_token());
}

#[tokio::test]
async fn a_one_second_idle_policy_expires_one_second_later() {
    let sandbox = spawn_sandbox().await;
    sandbox
        .patch_app(json!({"refresh_token_policy": {"kind": "idle", "seconds": 1}}))
        .await;
    let tokens = sandbox.connect().await;
    sandbox.advance(1).await;
    let (status, body) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, expired_token()));
}

#[tokio::test]
async fn rotation_returns_a_new_refresh_token_and_reuse_revokes_the_whole_chain() {
    let sandbox = spawn_sandbox().await;
    sandbox.patch_app(json!({"rotation": true})).await;
    let tokens = sandbox.connect().await;
    let (status, body) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(status, StatusCode::OK);
    let newer = body["refresh_token"]
        .as_str()
        .expect("rotation returns a refresh token")
        .to_owned();
    assert_ne!(newer, tokens.refresh);
    let (status, body) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, expired_token()),
        "reuse of the rotated token"
    );
    let (status, body) = sandbox.refresh(&newer).await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, expired_token()),
        "the newest token died with the chain"
    );
}

#[tokio::test]
async fn the_sixth_approval_revokes_the_oldest_refresh_token() {
    let sandbox = spawn_sandbox().await;
    let mut approvals = Vec::new();
    for _ in 0..6 {
        approvals.push(sandbox.connect().await);
    }
    let (status, body) = sandbox.refresh(&approvals[0].refresh).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, expired_token()));
    for tokens in &approvals[1..] {
        let (status, _) = sandbox.refresh(&tokens.refresh).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn revoke_endpoint_kills_the_refresh_token_and_its_access_tokens() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    let response = sandbox
        .client
        .post(sandbox.url("/services/oauth2/revoke"))
        .form(&[("token", tokens.refresh.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "");
    let (status, body) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, expired_token()));
    let (status, _, body) = sandbox.limits(&tokens.access).await;
    assert_eq!(
        (status, body),
        (StatusCode::UNAUTHORIZED, session_expired())
    );
}

#[tokio::test]
async fn revoke_endpoint_by_get_and_unknown_token() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    let url = sandbox.url("/services/oauth2/revoke");
    let response = sandbox
        .client
        .get(&url)
        .query(&[("token", tokens.access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = sandbox
        .client
        .post(&url)
        .form(&[("token", "unknown")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "invalid_token", "error_description": "invalid token"})
    );
    let response = sandbox
        .client
        .post(&url)
        .form(&[("other", "x")])
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "unsupported_token_type", "error_description": "missing token"})
    );
}

#[tokio::test]
async fn admin_revoke_for_one_user_leaves_other_users_connected() {
    let sandbox = spawn_sandbox().await;
    let user = json!({"username": "other@sandbox.example", "password": "pw"});
    sandbox
        .control(Method::POST, "/_sandbox/users", Some(user))
        .await;
    let admin = sandbox.connect().await;
    let other = sandbox
        .connect_with(&[("login_hint", "other@sandbox.example")])
        .await;
    let path = format!("/_sandbox/apps/{DEFAULT_CLIENT_ID}/revoke");
    let (status, body) = sandbox
        .control(
            Method::POST,
            &path,
            Some(json!({"username": DEFAULT_USERNAME})),
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"revoked": 1})));
    assert_eq!(
        sandbox.refresh(&admin.refresh).await,
        (StatusCode::BAD_REQUEST, expired_token())
    );
    assert_eq!(sandbox.refresh(&other.refresh).await.0, StatusCode::OK);
    let (status, body) = sandbox.control(Method::POST, &path, None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"revoked": 1})));
    assert_eq!(
        sandbox.refresh(&other.refresh).await,
        (StatusCode::BAD_REQUEST, expired_token())
    );
}

#[tokio::test]
async fn inactive_user_gets_inactive_user_on_refresh() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    sandbox
        .patch_user(DEFAULT_USERNAME, json!({"active": false}))
        .await;
    let (status, body) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "inactive_user", "error_description": "user is inactive"})
    );
    let (status, _, body) = sandbox.limits(&tokens.access).await;
    assert_eq!(
        (status, body),
        (StatusCode::UNAUTHORIZED, session_expired())
    );
}

#[tokio::test]
async fn enforce_ip_restrictions_refuses_refresh_and_rest_from_outside_the_ranges() {
    let sandbox = spawn_sandbox().await;
    sandbox
        .patch_user(DEFAULT_USERNAME, json!({"login_ip_ranges": ["10.0.0.0/8"]}))
        .await;
    sandbox.set_client_ip("10.1.2.3").await;
    let tokens = sandbox.connect().await;
    sandbox.set_client_ip("203.0.113.9").await;
    assert_eq!(
        sandbox.refresh(&tokens.refresh).await,
        (StatusCode::BAD_REQUEST, ip_restricted())
    );
    let (status, _, body) = sandbox.limits(&tokens.access).await;
    assert_eq!(
        (status, body),
        (StatusCode::UNAUTHORIZED, session_not_valid())
    );
    let code = sandbox.authorize_code().await;
    assert_eq!(
        sandbox.exchange_code(&code).await,
        (StatusCode::BAD_REQUEST, ip_restricted())
    );
}

#[tokio::test]
async fn relax_for_refresh_allows_refresh_but_not_a_new_login_from_outside() {
    let sandbox = spawn_sandbox().await;
    sandbox
        .patch_app(json!({"ip_relaxation": "relax_for_refresh"}))
        .await;
    sandbox
        .patch_user(DEFAULT_USERNAME, json!({"login_ip_ranges": ["10.0.0.0/8"]}))
        .await;
    sandbox.set_client_ip("10.1.2.3").await;
    let tokens = sandbox.connect().await;
    sandbox.set_client_ip("203.0.113.9").await;
    let (status, _, body) = sandbox.limits(&tokens.access).await;
    assert_eq!(
        (status, body),
        (StatusCode::UNAUTHORIZED, session_not_valid()),
        "login session stays bound"
    );
    let (status, body) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refreshed = body["access_token"].as_str().unwrap();
    assert_eq!(sandbox.limits(refreshed).await.0, StatusCode::OK);
    let code = sandbox.authorize_code().await;
    assert_eq!(
        sandbox.exchange_code(&code).await,
        (StatusCode::BAD_REQUEST, ip_restricted())
    );
}

#[tokio::test]
async fn relax_ip_restrictions_allows_everything_from_outside() {
    let sandbox = spawn_sandbox().await;
    sandbox.patch_app(json!({"ip_relaxation": "relax"})).await;
    sandbox
        .patch_user(DEFAULT_USERNAME, json!({"login_ip_ranges": ["10.0.0.0/8"]}))
        .await;
    sandbox.set_client_ip("203.0.113.9").await;
    let tokens = sandbox.connect().await;
    assert_eq!(sandbox.refresh(&tokens.refresh).await.0, StatusCode::OK);
    assert_eq!(sandbox.limits(&tokens.access).await.0, StatusCode::OK);
}

#[tokio::test]
async fn admin_approved_app_refuses_users_not_approved() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    sandbox
        .patch_app(json!({"permitted_users": "admin_approved", "approved_users": []}))
        .await;
    let expected = json!({"error": "invalid_app_access", "error_description": "user is not admin approved to access this app"});
    assert_eq!(
        sandbox.refresh(&tokens.refresh).await,
        (StatusCode::BAD_REQUEST, expected.clone())
    );
    let code = sandbox.authorize_code().await;
    assert_eq!(
        sandbox.exchange_code(&code).await,
        (StatusCode::BAD_REQUEST, expected)
    );
    sandbox
        .patch_app(json!({"approved_users": [DEFAULT_USERNAME]}))
        .await;
    assert_eq!(sandbox.refresh(&tokens.refresh).await.0, StatusCode::OK);
}
