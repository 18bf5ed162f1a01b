//! `POST /v1/connections/{id}/check`: tether proves the connection live now (refreshing first
//! if needed, then asking Salesforce who the token belongs to), records a `checked` event with
//! the outcome in the connection's history, and answers with the connection.

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::support::connected_app;

const HOUR: i64 = 3600;

/// Checks the connection, then asserts the `checked` event that recorded it: its `outcome`
/// and `detail`. The connection the check answered.
async fn check_recorded(app: &TestApp, id: &str, outcome: &str, detail: &str) -> Value {
    let body = app.check(id).await;
    app.assert_newest_event(id, "checked", outcome, detail)
        .await;
    body
}

#[tokio::test]
async fn checking_a_live_connection_records_a_successful_checked_event_and_returns_it_active() {
    let (app, id) = connected_app().await;

    let confirmed = "the provider confirmed the session of admin@sandbox.example";
    let body = check_recorded(&app, &id, "success", confirmed).await;

    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["status"], "active");
    assert_eq!(body["account"]["username"], "admin@sandbox.example");
}

#[tokio::test]
async fn checking_past_the_session_refreshes_first_and_then_succeeds() {
    let (app, id) = connected_app().await;
    app.advance(2 * HOUR).await;

    app.check(&id).await;

    assert_eq!(app.refresh_calls().await, 1);
    let kinds = app.event_kinds(&id).await;
    assert_eq!(kinds, ["checked", "refreshed", "connected"]);
    assert_eq!(app.events(&id).await[0]["outcome"], "success");
}

#[tokio::test]
async fn checking_a_revoked_connection_records_a_failed_check_and_returns_it_expired() {
    let (app, id) = connected_app().await;
    app.revoke_after_one_refresh(&id).await;

    let failed = "check failed: the connection has expired: refresh_token_revoked; reconnect it";
    let body = check_recorded(&app, &id, "failure", failed).await;

    assert_eq!(body["status"], "expired");
    assert_eq!(body["status_reason"], "refresh_token_revoked");
    assert_eq!(body["diagnosis"]["cause"], "refresh_token_revoked");
}

#[tokio::test]
async fn checking_an_expired_connection_again_does_not_call_salesforce() {
    let (app, id) = connected_app().await;
    app.revoke_after_one_refresh(&id).await;
    app.check(&id).await;
    let calls = app.login_history().await.len();

    let again = app.check(&id).await;

    assert_eq!(again["status"], "expired");
    assert_eq!(app.login_history().await.len(), calls);
    let checked: Vec<_> = app.events_of(&id, "checked").await;
    let checked: Vec<_> = checked.iter().map(|e| e["outcome"].clone()).collect();
    assert_eq!(checked, [json!("failure"), json!("failure")]);
}
