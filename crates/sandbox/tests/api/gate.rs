//! The REST session gate: session expiry by idle timeout, API access, the daily limit, the
//! `Sforce-Limit-Info` header, missing tokens and injected REST faults.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{session_expired, spawn_connected, spawn_sandbox, unauthorized};

#[tokio::test]
async fn access_token_expires_after_the_session_timeout_counted_from_last_use() {
    let sandbox = spawn_sandbox().await;
    sandbox
        .patch_app(json!({"session_timeout_seconds": 900}))
        .await;
    let tokens = sandbox.connect().await;
    sandbox.advance(800).await;
    assert_eq!(sandbox.limits(&tokens.access).await.0, StatusCode::OK);
    sandbox.advance(800).await;
    assert_eq!(
        sandbox.limits(&tokens.access).await.0,
        StatusCode::OK,
        "each use restarts the timeout"
    );
    sandbox.advance(901).await;
    let (status, info, body) = sandbox.limits(&tokens.access).await;
    assert_eq!((status, body), unauthorized(session_expired()));
    assert_eq!(
        info,
        Some("api-usage=2/100000".to_owned()),
        "usage is still reported for a known app"
    );
}

#[tokio::test]
async fn default_session_timeout_is_two_hours() {
    let (sandbox, tokens) = spawn_connected().await;
    sandbox.advance(2 * 60 * 60).await;
    sandbox.assert_session_expired(&tokens.access).await;
}

#[tokio::test]
async fn missing_or_unknown_bearer_token_gets_session_expired() {
    let sandbox = spawn_sandbox().await;
    let response = sandbox.get("/services/data/v62.0/limits").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        session_expired()
    );
    sandbox
        .assert_session_expired("00D000000000001!AQnope")
        .await;
}

#[tokio::test]
async fn every_api_response_carries_sforce_limit_info_with_the_usage() {
    let (sandbox, tokens) = spawn_connected().await;
    sandbox.patch_app(json!({"daily_api_limit": 50})).await;
    let (status, info, body) = sandbox.limits(&tokens.access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info.as_deref(), Some("api-usage=1/50"));
    assert_eq!(
        body["DailyApiRequests"],
        json!({"Max": 50, "Remaining": 49})
    );
    let (_, info, _) = sandbox.limits(&tokens.access).await;
    assert_eq!(info.as_deref(), Some("api-usage=2/50"));
}

#[tokio::test]
async fn daily_limit_used_up_gets_request_limit_exceeded_until_the_next_day() {
    let (sandbox, tokens) = spawn_connected().await;
    sandbox
        .patch_app(json!({"daily_api_limit": 2, "session_timeout_seconds": 172800}))
        .await;
    assert_eq!(sandbox.limits(&tokens.access).await.0, StatusCode::OK);
    assert_eq!(sandbox.limits(&tokens.access).await.0, StatusCode::OK);
    let (status, info, body) = sandbox.limits(&tokens.access).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    );
    assert_eq!(info.as_deref(), Some("api-usage=2/2"));
    sandbox.advance(24 * 60 * 60).await;
    let (status, info, _) = sandbox.limits(&tokens.access).await;
    assert_eq!(
        (status, info.as_deref()),
        (StatusCode::OK, Some("api-usage=1/2"))
    );
}

#[tokio::test]
async fn api_disabled_app_gets_api_disabled_for_org() {
    let (sandbox, tokens) = spawn_connected().await;
    sandbox.patch_app(json!({"api_enabled": false})).await;
    assert_eq!(
        sandbox.rest(&tokens.access).await,
        (
            StatusCode::FORBIDDEN,
            json!([{"message": "The REST API is not enabled for this Organization.", "errorCode": "API_DISABLED_FOR_ORG"}])
        )
    );
}

#[tokio::test]
async fn rest_fault_fails_the_next_calls_then_clears() {
    let (sandbox, tokens) = spawn_connected().await;
    let faults = json!({"rest_api": {"status": 503, "count": 2}});
    assert_eq!(sandbox.set_faults(faults).await.0, StatusCode::OK);
    let unavailable =
        json!([{"message": "sandbox fault: status 503", "errorCode": "SERVER_UNAVAILABLE"}]);
    for call in 0..2 {
        assert_eq!(
            sandbox.rest(&tokens.access).await,
            (StatusCode::SERVICE_UNAVAILABLE, unavailable.clone()),
            "call {call}"
        );
    }
    assert_eq!(sandbox.limits(&tokens.access).await.0, StatusCode::OK);
}
