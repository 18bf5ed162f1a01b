//! The token endpoint: serving, refreshing exactly once, and telling expiry from outage.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{app_with_policy, connected_app};

#[tokio::test]
async fn five_hundred_concurrent_callers_cause_one_refresh_and_share_the_new_token() {
    let (app, id) = connected_app().await;
    let first = app.access_token(&id).await;
    app.advance(2 * 3600).await;

    let calls = (0..500).map(|_| app.token(&id));
    let answers = futures::future::join_all(calls).await;
    let mut tokens = std::collections::HashSet::new();
    for answer in answers {
        assert_eq!(answer.status(), StatusCode::OK);
        let body: Value = answer.json().await.unwrap();
        tokens.insert(body["access_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(tokens.len(), 1);
    assert!(!tokens.contains(&first));
    assert_eq!(app.refresh_calls().await, 1);
}

#[tokio::test]
async fn a_revoked_refresh_token_expires_the_connection_with_a_reason() {
    let (app, id) = connected_app().await;
    app.revoke_after_one_refresh(&id).await;

    let answer = app.token(&id).await;
    assert_eq!(answer.status(), StatusCode::CONFLICT);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(
        body["type"],
        "https://tether.dev/problems/connection-expired"
    );
    assert_eq!(body["status_reason"], "refresh_token_revoked");
    assert_eq!(
        body["diagnosis"]["provider_error"]["error"],
        "invalid_grant"
    );
    let connection = app.connection(&id).await;
    assert_eq!(connection["status"], "expired");
}

#[tokio::test]
async fn without_a_hint_tether_learns_the_session_timeout_from_introspection() {
    let app = app_with_policy(serde_json::json!({"session_timeout_seconds": 900})).await;
    let id = app.connect().await;
    let connection = app.connection(&id).await;
    let created =
        chrono::DateTime::parse_from_rfc3339(connection["created_at"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(
        connection["access_token_expires_at"].as_str().unwrap(),
    )
    .unwrap();
    let lifetime = (expires - created).num_seconds();
    assert!(
        (895..=905).contains(&lifetime),
        "learned lifetime {lifetime} s, not the app's 900 s"
    );

    // 14 minutes later tether refreshes on its own (the margin is 90 s), before Salesforce
    // would refuse the token.
    let first = app.access_token(&id).await;
    app.advance(14 * 60).await;
    let second = app.access_token(&id).await;
    assert_ne!(first, second);
    assert_eq!(app.sandbox_query(&second).await.status(), StatusCode::OK);
}
