//! The sandbox's own clock offset: everything of the sandbox follows the skewed now, the
//! shared virtual clock does not move.

use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tether_core::clock::Clock;

use crate::helpers::{TestSandbox, expired_refresh, spawn_connected, spawn_sandbox};

async fn set_offset(sandbox: &TestSandbox, seconds: i64) -> (StatusCode, Value) {
    let body = json!({"offset_seconds": seconds});
    sandbox
        .control(Method::PUT, "/_sandbox/clock", Some(body))
        .await
}

/// Asserts `at` is `expected` within two seconds (real time flows during a test).
fn assert_near(at: DateTime<Utc>, expected: DateTime<Utc>) {
    let gap = (at - expected).num_milliseconds().abs();
    assert!(gap < 2000, "{at} is {gap} ms from {expected}");
}

fn millis(value: &Value) -> DateTime<Utc> {
    let ms = match value {
        Value::String(s) => s.parse().unwrap(),
        other => other.as_i64().unwrap(),
    };
    DateTime::from_timestamp_millis(ms).unwrap()
}

#[tokio::test]
async fn get_clock_reports_now_and_a_zero_offset_by_default() {
    let sandbox = spawn_sandbox().await;
    let (status, body) = sandbox.control(Method::GET, "/_sandbox/clock", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["offset_seconds"], 0);
    let now: DateTime<Utc> = body["now"].as_str().unwrap().parse().unwrap();
    assert_eq!(now.timestamp_millis(), body["now_ms"].as_i64().unwrap());
    assert_near(now, sandbox.clock.now());
}

#[tokio::test]
async fn a_negative_offset_skews_issued_at_introspection_and_history_but_not_the_shared_clock() {
    let sandbox = spawn_sandbox().await;
    let (status, body) = set_offset(&sandbox, -3600).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["offset_seconds"], -3600);
    assert_near(
        millis(&body["now_ms"]),
        sandbox.clock.now() - Duration::hours(1),
    );
    assert_eq!(
        sandbox.clock.offset(),
        Duration::zero(),
        "shared clock unmoved"
    );
    let tokens = sandbox.connect().await;
    let skewed = sandbox.clock.now() - Duration::hours(1);
    assert_near(millis(&tokens.body["issued_at"]), skewed);
    let (_, doc) = sandbox.introspect(&tokens.access).await;
    let iat = doc["iat"].as_i64().unwrap();
    assert_near(DateTime::from_timestamp(iat, 0).unwrap(), skewed);
    assert_eq!(doc["exp"].as_i64().unwrap() - iat, 7200);
    let rows = sandbox.login_history().await;
    let login_time: DateTime<Utc> = rows[0]["login_time"].as_str().unwrap().parse().unwrap();
    assert_near(login_time, skewed);
}

#[tokio::test]
async fn a_forward_offset_past_the_session_timeout_expires_the_access_token() {
    let (sandbox, tokens) = spawn_connected().await;
    assert_eq!(set_offset(&sandbox, 2 * 3600).await.0, StatusCode::OK);
    sandbox.assert_session_expired(&tokens.access).await;
    assert_eq!(set_offset(&sandbox, 0).await.0, StatusCode::OK);
    assert_eq!(sandbox.limits(&tokens.access).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_forward_offset_passes_an_idle_refresh_token_policy() {
    let sandbox = spawn_sandbox().await;
    sandbox
        .patch_app(json!({"refresh_token_policy": {"kind": "idle", "seconds": 600}}))
        .await;
    let tokens = sandbox.connect().await;
    set_offset(&sandbox, 601).await;
    assert_eq!(sandbox.refresh(&tokens.refresh).await, expired_refresh());
}

#[tokio::test]
async fn an_offset_beyond_ten_years_is_refused() {
    let sandbox = spawn_sandbox().await;
    assert_eq!(
        set_offset(&sandbox, 400_000_000).await,
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "bad_request", "message": "invalid request body: offset_seconds must be between -316224000 and 316224000"})
        )
    );
}
