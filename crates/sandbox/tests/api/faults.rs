//! Injected token-endpoint faults: before the grant (`status`, a stall) and after it
//! (`after_grant`: the grant is made, then the answer is late or never comes).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tether_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};

use crate::helpers::{TestSandbox, expired_refresh, oauth_error, spawn_sandbox};

async fn arm(sandbox: &TestSandbox, token_endpoint: Value) -> (StatusCode, Value) {
    let body = json!({"token_endpoint": token_endpoint});
    sandbox.set_faults(body).await
}

async fn held_answers(sandbox: &TestSandbox) -> u64 {
    sandbox.stats().await["token_answers_held"]
        .as_u64()
        .expect("token_answers_held")
}

/// Polls the stats until `held` answers are held (bounded: 10 s).
async fn wait_for_held(sandbox: &TestSandbox, held: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while held_answers(sandbox).await != held {
        assert!(Instant::now() < deadline, "never saw {held} held answers");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn last_history_status(sandbox: &TestSandbox) -> Value {
    let rows = sandbox.login_history().await;
    rows.as_array().and_then(|r| r.last()).expect("a row")["status"].clone()
}

#[tokio::test]
async fn after_grant_delay_rotates_first_then_answers_late() {
    let sandbox = spawn_sandbox().await;
    sandbox.patch_app(json!({"rotation": true})).await;
    let tokens = sandbox.connect().await;
    let fault = json!({"after_grant": "delay", "delay_ms": 300, "count": 1});
    let (status, body) = arm(&sandbox, fault).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"token_endpoint": {"delay_ms": 300, "count": 1, "after_grant": "delay"}, "rest_api": null})
        )
    );
    let started = Instant::now();
    let (status, body) = sandbox.refresh(&tokens.refresh).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_ne!(body["refresh_token"], json!(tokens.refresh));
    assert_eq!(last_history_status(&sandbox).await, "Success");
}

#[tokio::test]
async fn after_grant_drop_makes_the_grant_and_never_answers_until_the_client_gives_up() {
    let sandbox = spawn_sandbox().await;
    sandbox.patch_app(json!({"rotation": true})).await;
    let tokens = sandbox.connect().await;
    let fault = json!({"after_grant": "drop", "grant_type": "refresh_token"});
    assert_eq!(arm(&sandbox, fault).await.0, StatusCode::OK);
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens.refresh.as_str()),
        ("client_id", DEFAULT_CLIENT_ID),
        ("client_secret", DEFAULT_CLIENT_SECRET),
    ];
    let call = impatient
        .post(sandbox.url("/services/oauth2/token"))
        .form(&form)
        .send();
    let call = tokio::spawn(call);
    wait_for_held(&sandbox, 1).await;
    let error = call.await.unwrap().unwrap_err();
    assert!(error.is_timeout(), "{error}");
    wait_for_held(&sandbox, 0).await;
    assert_eq!(last_history_status(&sandbox).await, "Success");
    assert_eq!(
        sandbox.refresh(&tokens.refresh).await,
        expired_refresh(),
        "the dropped answer had already rotated the refresh token"
    );
}

#[tokio::test]
async fn a_status_fault_limited_to_refresh_lets_code_exchanges_through() {
    let sandbox = spawn_sandbox().await;
    let fault = json!({"status": 503, "grant_type": "refresh_token"});
    assert_eq!(arm(&sandbox, fault).await.0, StatusCode::OK);
    let tokens = sandbox.connect().await;
    assert_eq!(
        sandbox.refresh(&tokens.refresh).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            oauth_error("temporarily_unavailable", "sandbox fault: status 503")
        )
    );
    assert_eq!(sandbox.refresh(&tokens.refresh).await.0, StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_after_grant_value_is_refused_with_the_accepted_values() {
    let sandbox = spawn_sandbox().await;
    let (status, body) = arm(&sandbox, json!({"after_grant": "lose", "count": 1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "bad_request");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "invalid request body: unknown variant `lose`, expected `delay` or `drop`"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn after_grant_combined_with_status_or_without_its_delay_is_refused() {
    let sandbox = spawn_sandbox().await;
    let cases = [
        (
            json!({"after_grant": "drop", "status": 503}),
            "invalid request body: token_endpoint: after_grant cannot be combined with status (a status fault answers before the grant is made)",
        ),
        (
            json!({"after_grant": "delay"}),
            "invalid request body: token_endpoint: after_grant \"delay\" needs delay_ms > 0",
        ),
        (
            json!({"after_grant": "drop", "delay_ms": 10}),
            "invalid request body: token_endpoint: after_grant \"drop\" never answers, so delay_ms does not apply",
        ),
    ];
    for (fault, message) in cases {
        assert_eq!(
            arm(&sandbox, fault).await,
            (
                StatusCode::BAD_REQUEST,
                json!({"error": "bad_request", "message": message})
            )
        );
    }
}
