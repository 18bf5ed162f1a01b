//! `POST /v1/connections/{id}/check`: tether proves the connection live now (refreshing first
//! if needed, then asking Salesforce who the token belongs to), records a `checked` event with
//! the outcome in the connection's history, and answers with the connection.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{CLIENT_ID, TestApp, spawn_app};
use crate::probes::Answer;

const HOUR: i64 = 3600;

async fn check(app: &TestApp, id: &str) -> Answer {
    app.call(Method::POST, &format!("/v1/connections/{id}/check"))
        .await
}

#[tokio::test]
async fn checking_a_live_connection_records_a_successful_checked_event_and_returns_it_active() {
    let app = spawn_app().await;
    let id = app.connect().await;

    let answer = check(&app, &id).await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["status"], "active");
    assert_eq!(body["account"]["username"], "admin@sandbox.example");
    let events = app.events(&id).await;
    assert_eq!(events[0]["kind"], "checked");
    assert_eq!(events[0]["outcome"], "success");
    assert_eq!(
        events[0]["detail"],
        "the provider confirmed the session of admin@sandbox.example"
    );
}

#[tokio::test]
async fn checking_past_the_session_refreshes_first_and_then_succeeds() {
    let app = spawn_app().await;
    let id = app.connect().await;
    app.advance(2 * HOUR).await;

    let answer = check(&app, &id).await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(app.refresh_calls().await, 1);
    let kinds = app.event_kinds(&id).await;
    assert_eq!(kinds, ["checked", "refreshed", "connected"]);
    assert_eq!(app.events(&id).await[0]["outcome"], "success");
}

#[tokio::test]
async fn checking_a_revoked_connection_records_a_failed_check_and_returns_it_expired() {
    let app = spawn_app().await;
    let id = app.connect().await;
    app.advance(2 * HOUR).await;
    app.access_token(&id).await;
    let r = app
        .sandbox_post(&format!("/_sandbox/apps/{CLIENT_ID}/revoke"), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.advance(2 * HOUR).await;

    let answer = check(&app, &id).await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["status"], "expired");
    assert_eq!(body["status_reason"], "refresh_token_revoked");
    assert_eq!(body["diagnosis"]["cause"], "refresh_token_revoked");
    let events = app.events(&id).await;
    assert_eq!(events[0]["kind"], "checked");
    assert_eq!(events[0]["outcome"], "failure");
    assert_eq!(
        events[0]["detail"],
        "check failed: the connection has expired: refresh_token_revoked; reconnect it"
    );
}

#[tokio::test]
async fn checking_an_expired_connection_again_does_not_call_salesforce() {
    let app = spawn_app().await;
    let id = app.connect().await;
    app.advance(2 * HOUR).await;
    app.access_token(&id).await;
    let r = app
        .sandbox_post(&format!("/_sandbox/apps/{CLIENT_ID}/revoke"), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.advance(2 * HOUR).await;
    assert_eq!(check(&app, &id).await.status, StatusCode::OK);
    let calls = app.login_history().await.len();

    let answer = check(&app, &id).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["status"], "expired");
    assert_eq!(app.login_history().await.len(), calls);
    let checked: Vec<_> = app
        .events(&id)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "checked")
        .map(|e| e["outcome"].clone())
        .collect();
    assert_eq!(checked, [json!("failure"), json!("failure")]);
}
