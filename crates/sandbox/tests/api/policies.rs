//! Connected App policies evaluated at refresh time on the virtual clock: refresh-token
//! policies, the 30-day idle limit, rotation with reuse detection, the 5-approvals limit,
//! revocation, Block, inactive users, IP restrictions and Permitted Users.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tether_sandbox::DEFAULT_USERNAME;

use crate::helpers::{
    assert_token_answer, expired_refresh, inactive_user, ip_restricted, not_admin_approved,
    refused, session_not_valid, spawn_connected, spawn_sandbox, unauthorized,
};

const DAY: u64 = 24 * 60 * 60;

/// One refresh-token policy on the virtual clock: the app patch it takes (none for the
/// default), then each wait before a refresh and whether that refresh works.
struct PolicyCase {
    name: &'static str,
    patch: Option<Value>,
    refreshes: &'static [(u64, bool)],
}

#[tokio::test]
async fn refresh_token_policies_refuse_the_refresh_with_invalid_grant_once_they_pass() {
    let cases = [
        PolicyCase {
            name: "until revoked still works after a year",
            patch: None,
            refreshes: &[(365 * DAY, true)],
        },
        PolicyCase {
            name: "immediately expire fails the first refresh",
            patch: Some(json!({"refresh_token_policy": {"kind": "immediately"}})),
            refreshes: &[(0, false)],
        },
        PolicyCase {
            name: "idle: the window slides from the last use",
            patch: Some(json!({"refresh_token_policy": {"kind": "idle", "seconds": 3600}})),
            refreshes: &[(3000, true), (3000, true), (3601, false)],
        },
        PolicyCase {
            name: "lifetime passes even when used",
            patch: Some(json!({"refresh_token_policy": {"kind": "lifetime", "seconds": 3600}})),
            refreshes: &[(3000, true), (601, false)],
        },
        PolicyCase {
            name: "idle_ttl_30d expires a token unused for 30 days",
            patch: Some(json!({"idle_ttl_30d": true})),
            refreshes: &[(29 * DAY, true), (30 * DAY, false)],
        },
        PolicyCase {
            name: "a one-second idle policy expires one second later",
            patch: Some(json!({"refresh_token_policy": {"kind": "idle", "seconds": 1}})),
            refreshes: &[(1, false)],
        },
    ];
    for case in cases {
        let name = case.name;
        let sandbox = spawn_sandbox().await;
        if let Some(patch) = case.patch {
            sandbox.patch_app(patch).await;
        }
        let tokens = sandbox.connect().await;
        for (step, &(wait, works)) in case.refreshes.iter().enumerate() {
            if wait > 0 {
                sandbox.advance(wait).await;
            }
            let answer = sandbox.refresh(&tokens.refresh).await;
            let refusal = (!works).then(expired_refresh);
            assert_token_answer(answer, refusal, &format!("{name}, refresh {step}"));
        }
    }
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
    assert_eq!(
        sandbox.refresh(&tokens.refresh).await,
        expired_refresh(),
        "reuse of the rotated token"
    );
    assert_eq!(
        sandbox.refresh(&newer).await,
        expired_refresh(),
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
    assert_eq!(
        sandbox.refresh(&approvals[0].refresh).await,
        expired_refresh()
    );
    for tokens in &approvals[1..] {
        let (status, _) = sandbox.refresh(&tokens.refresh).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn revoke_endpoint_kills_the_refresh_token_and_its_access_tokens() {
    let (sandbox, tokens) = spawn_connected().await;
    let response = sandbox.revoke(&tokens.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "");
    assert_eq!(sandbox.refresh(&tokens.refresh).await, expired_refresh());
    sandbox.assert_session_expired(&tokens.access).await;
}

#[tokio::test]
async fn revoke_endpoint_by_get_and_unknown_token() {
    let (sandbox, tokens) = spawn_connected().await;
    let url = sandbox.url("/services/oauth2/revoke");
    let response = sandbox
        .client
        .get(&url)
        .query(&[("token", tokens.access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = sandbox.revoke("unknown").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, refused("invalid_token", "invalid token").1);
    let response = sandbox
        .client
        .post(&url)
        .form(&[("other", "x")])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, refused("unsupported_token_type", "missing token").1);
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
    let one_user = Some(json!({"username": DEFAULT_USERNAME}));
    assert_eq!(
        sandbox.app_action("revoke", one_user).await,
        (StatusCode::OK, json!({"revoked": 1}))
    );
    assert_eq!(sandbox.refresh(&admin.refresh).await, expired_refresh());
    assert_eq!(sandbox.refresh(&other.refresh).await.0, StatusCode::OK);
    assert_eq!(
        sandbox.app_action("revoke", None).await,
        (StatusCode::OK, json!({"revoked": 1}))
    );
    assert_eq!(sandbox.refresh(&other.refresh).await, expired_refresh());
}

#[tokio::test]
async fn inactive_user_gets_inactive_user_on_refresh() {
    let (sandbox, tokens) = spawn_connected().await;
    sandbox.set_user_active(false).await;
    assert_eq!(sandbox.refresh(&tokens.refresh).await, inactive_user());
    sandbox.assert_session_expired(&tokens.access).await;
}

#[tokio::test]
async fn enforce_ip_restrictions_refuses_refresh_and_rest_from_outside_the_ranges() {
    let sandbox = spawn_sandbox().await;
    sandbox.set_login_ip_ranges(&["10.0.0.0/8"]).await;
    sandbox.set_client_ip("10.1.2.3").await;
    let tokens = sandbox.connect().await;
    sandbox.set_client_ip("203.0.113.9").await;
    assert_eq!(sandbox.refresh(&tokens.refresh).await, ip_restricted());
    assert_eq!(
        sandbox.rest(&tokens.access).await,
        unauthorized(session_not_valid())
    );
    let code = sandbox.authorize_code().await;
    assert_eq!(sandbox.exchange_code(&code).await, ip_restricted());
}

#[tokio::test]
async fn relax_for_refresh_allows_refresh_but_not_a_new_login_from_outside() {
    let sandbox = spawn_sandbox().await;
    sandbox
        .patch_app(json!({"ip_relaxation": "relax_for_refresh"}))
        .await;
    sandbox.set_login_ip_ranges(&["10.0.0.0/8"]).await;
    sandbox.set_client_ip("10.1.2.3").await;
    let tokens = sandbox.connect().await;
    sandbox.set_client_ip("203.0.113.9").await;
    assert_eq!(
        sandbox.rest(&tokens.access).await,
        unauthorized(session_not_valid()),
        "login session stays bound"
    );
    let (status, body) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refreshed = body["access_token"].as_str().unwrap();
    assert_eq!(sandbox.limits(refreshed).await.0, StatusCode::OK);
    let code = sandbox.authorize_code().await;
    assert_eq!(sandbox.exchange_code(&code).await, ip_restricted());
}

#[tokio::test]
async fn relax_ip_restrictions_allows_everything_from_outside() {
    let sandbox = spawn_sandbox().await;
    sandbox.patch_app(json!({"ip_relaxation": "relax"})).await;
    sandbox.set_login_ip_ranges(&["10.0.0.0/8"]).await;
    sandbox.set_client_ip("203.0.113.9").await;
    let tokens = sandbox.connect().await;
    assert_eq!(sandbox.refresh(&tokens.refresh).await.0, StatusCode::OK);
    assert_eq!(sandbox.limits(&tokens.access).await.0, StatusCode::OK);
}

#[tokio::test]
async fn admin_approved_app_refuses_users_not_approved() {
    let (sandbox, tokens) = spawn_connected().await;
    sandbox.admin_approve(&[]).await;
    assert_eq!(sandbox.refresh(&tokens.refresh).await, not_admin_approved());
    let code = sandbox.authorize_code().await;
    assert_eq!(sandbox.exchange_code(&code).await, not_admin_approved());
    sandbox.admin_approve(&[DEFAULT_USERNAME]).await;
    assert_eq!(sandbox.refresh(&tokens.refresh).await.0, StatusCode::OK);
}
