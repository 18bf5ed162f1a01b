//! When Salesforce fails (5xx, stalls past the provider timeout) or refuses the connector's own
//! credentials, tether degrades, never expires: it keeps serving a still-valid token, answers
//! 503 with `Retry-After` once none is left, and recovers to `active` without a reconnect.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{AppOptions, TestApp, spawn_app_with};
use crate::probes::{Answer, assert_problem, assert_provider_error};
use crate::support::{
    app_with_session_timeout, assert_event, assert_outage_then_recovery, connected_app,
};

/// Session timeout the connector announces: tokens live 600 s and are refreshed 60 s early.
const SESSION: i64 = 600;

/// An app whose connector announces sessions of [`SESSION`], with one connection.
async fn connected_with_short_sessions() -> (TestApp, String) {
    let app = app_with_session_timeout(SESSION).await;
    let id = app.connect().await;
    (app, id)
}

/// The next `count` token calls at Salesforce answer `status`, and the clock passes the
/// access token's expiry: the next token request must refresh, and fails.
async fn refresh_fails_past_expiry(app: &TestApp, status: u16, count: u64) {
    app.fail_token_endpoint(status, 0, count).await;
    app.advance(SESSION + 1).await;
}

/// Asserts a 503 `provider-unavailable` with a `Retry-After` and the reason tether knows.
fn assert_unavailable(answer: &Answer, reason: &str) -> Value {
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.text
    );
    let retry_after: u64 = answer.header("retry-after").unwrap().parse().unwrap();
    assert!(retry_after >= 1, "Retry-After {retry_after}");
    let body = answer.json();
    assert_eq!(
        body["type"],
        crate::probes::problem_type("provider-unavailable")
    );
    assert_eq!(body["title"], "Provider unavailable");
    assert_eq!(body["status"], 503);
    assert_eq!(body["status_reason"], reason, "{body}");
    assert_eq!(body["diagnosis"]["cause"], reason, "{body}");
    body
}

async fn assert_degraded(app: &TestApp, id: &str, reason: &str) {
    let connection = app.connection(id).await;
    assert_eq!(connection["status"], "degraded", "{connection}");
    assert_eq!(connection["status_reason"], reason);
    assert_eq!(connection["diagnosis"]["cause"], reason);
}

/// Moves the clock past the connection's retry time and runs one scheduler pass.
async fn retry_in_background(app: &TestApp) {
    app.advance_and_tick(11 * 60).await;
}

#[tokio::test]
async fn a_503_inside_the_refresh_margin_degrades_and_keeps_serving_the_still_valid_token() {
    let (app, id) = connected_with_short_sessions().await;
    let current = app.access_token(&id).await;
    app.fail_token_endpoint(503, 0, 10).await;
    app.advance(SESSION - 30).await;

    for _ in 0..3 {
        let answer = app.token_answer(&id).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(answer.json()["access_token"], current.as_str());
    }
    assert_degraded(&app, &id, "provider_unavailable").await;
    let diagnosis = app.connection(&id).await["diagnosis"].clone();
    assert_provider_error(
        &diagnosis,
        "temporarily_unavailable",
        "sandbox fault: status 503",
    );
}

#[tokio::test]
async fn a_503_once_the_token_is_past_expiry_answers_503_with_retry_after_never_expired() {
    let (app, id) = connected_with_short_sessions().await;
    refresh_fails_past_expiry(&app, 503, 10).await;

    let body = assert_unavailable(&app.token_answer(&id).await, "provider_unavailable");
    assert_eq!(
        body["diagnosis"]["title"],
        "Salesforce did not answer properly (timeout, connection error or server error)"
    );
    assert_unavailable(&app.token_answer(&id).await, "provider_unavailable");
    assert_degraded(&app, &id, "provider_unavailable").await;
}

#[tokio::test]
async fn a_token_endpoint_stalling_past_the_provider_timeout_degrades_as_provider_unavailable() {
    let app = spawn_app_with(AppOptions {
        session_timeout_seconds: Some(SESSION),
        provider_timeout_seconds: Some(2),
        ..AppOptions::default()
    })
    .await;
    let id = app.connect().await;
    let current = app.access_token(&id).await;
    app.fail_token_endpoint(503, 2_600, 1).await;
    app.advance(SESSION - 30).await;

    let answer = app.token_answer(&id).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json()["access_token"], current.as_str());
    assert_degraded(&app, &id, "provider_unavailable").await;
    // Oldest first; a background retry may only add newer events.
    let mut events = app.events(&id).await;
    events.reverse();
    assert_eq!(events[0]["kind"], "connected");
    let timed_out = "refresh failed: provider did not answer in time";
    assert_event(&events[1], "refresh_failed", timed_out);
    assert_eq!(events[1]["outcome"], "failure");
    let degraded = "active -> degraded: provider_unavailable";
    assert_event(&events[2], "status_changed", degraded);
}

#[tokio::test]
async fn after_an_outage_the_scheduled_retry_returns_the_connection_to_active() {
    let (app, id) = connected_with_short_sessions().await;
    refresh_fails_past_expiry(&app, 503, 1).await;
    assert_unavailable(&app.token_answer(&id).await, "provider_unavailable");

    retry_in_background(&app).await;

    app.status_reaching(&id, "active").await;
    let connection = app.connection(&id).await;
    assert_eq!(connection["status"], "active", "{connection}");
    assert_eq!(connection["status_reason"], Value::Null);
    app.working_token(&id).await;
    let events = app.events(&id).await;
    assert_outage_then_recovery(&events);
    assert_eq!(events.len(), 5, "{events:#?}");
    assert_eq!(events[4]["kind"], "connected");
}

#[tokio::test]
async fn after_an_outage_the_next_token_call_past_the_retry_time_recovers_to_active() {
    let (app, id) = connected_with_short_sessions().await;
    refresh_fails_past_expiry(&app, 503, 1).await;
    assert_unavailable(&app.token_answer(&id).await, "provider_unavailable");

    app.advance(11 * 60).await;
    let answer = app.token_answer(&id).await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let token = answer.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.sandbox_query(&token).await.status(), StatusCode::OK);
    assert_eq!(app.connection(&id).await["status"], "active");
}

#[tokio::test]
async fn a_wrong_client_secret_degrades_as_client_credentials_invalid_and_fixing_the_connector_recovers()
 {
    let (app, id) = connected_app().await;
    app.put_wrong_client_secret().await;
    app.advance(2 * 3600).await;

    let body = assert_unavailable(&app.token_answer(&id).await, "client_credentials_invalid");
    assert_provider_error(
        &body["diagnosis"],
        "invalid_client",
        "invalid client credentials",
    );
    assert_eq!(
        body["diagnosis"]["title"],
        "Salesforce refused the connector's consumer key or secret"
    );
    assert_degraded(&app, &id, "client_credentials_invalid").await;
    // No retry while the connector is unchanged until its recheck is due (an hour after the
    // refusal: a fix may also be made in Salesforce, or a new app finish propagating); then
    // one call, and the next recheck waits twice as long.
    let calls = app.refresh_calls().await;
    app.advance_and_tick(3000).await;
    assert_unavailable(&app.token_answer(&id).await, "client_credentials_invalid");
    assert_eq!(app.refresh_calls().await, calls);
    app.advance_and_tick(600).await;
    assert_eq!(
        app.refresh_calls_reaching(calls + 1).await,
        calls + 1,
        "the recheck"
    );
    app.advance_and_tick(3600).await;
    assert_unavailable(&app.token_answer(&id).await, "client_credentials_invalid");
    assert_eq!(
        app.refresh_calls().await,
        calls + 1,
        "the next is 2 hours on"
    );

    let fixed = app.put_connector_with("salesforce", json!({})).await;
    assert_eq!(fixed.status, StatusCode::OK);
    app.working_token(&id).await;
    let connection = app.connection(&id).await;
    assert_eq!(connection["status"], "active");
    assert_eq!(connection["status_reason"], Value::Null);
}

#[tokio::test]
async fn a_500_from_salesforce_answers_503_whose_detail_quotes_the_provider() {
    let (app, id) = connected_with_short_sessions().await;
    refresh_fails_past_expiry(&app, 500, 10).await;

    let answer = app.token_answer(&id).await;

    assert_unavailable(&answer, "provider_unavailable");
    assert_problem(
        &answer,
        StatusCode::SERVICE_UNAVAILABLE,
        "provider-unavailable",
        "Provider unavailable",
        "refreshing failed: provider refused (500): temporarily_unavailable: sandbox fault: status 500",
    );
    assert_degraded(&app, &id, "provider_unavailable").await;
}
