//! Reconnecting: `POST /v1/connections/{id}/reconnect` gives a connect URL; finishing it puts
//! new tokens on the same connection (id, end user and history kept, a `reconnected` event),
//! revokes the replaced refresh token at Salesforce, and refuses another Salesforce user unless
//! the reconnect allowed it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::diagnosis::create_user;
use crate::helpers::{CLIENT_ID, TestApp, location, spawn_app};
use crate::probes::{Answer, expired_token_error, query_of};
use crate::support::{assert_event, connected_app};

const ADMIN: &str = "admin@sandbox.example";
const OTHER: &str = "other@sandbox.example";

/// Starts a reconnect of `id` with `body`; returns the connect URL.
async fn reconnect_url(app: &TestApp, id: &str, body: Value) -> String {
    let path = format!("/v1/connections/{id}/reconnect");
    let answer = Answer::of(app.post_json(&path, &body).await).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let created = answer.json();
    assert!(created["id"].as_str().is_some(), "{created}");
    assert!(created["expires_at"].as_str().is_some(), "{created}");
    created["connect_url"].as_str().unwrap().to_owned()
}

/// Reconnects `id` with `body`, signing in as `username`; returns the query of the landing URL.
async fn reconnect_as(
    app: &TestApp,
    id: &str,
    body: Value,
    username: &str,
) -> std::collections::HashMap<String, String> {
    let mut url = url::Url::parse(&reconnect_url(app, id, body).await).unwrap();
    url.query_pairs_mut().append_pair("login_hint", username);
    let done = app.follow_connect_url(url.as_str()).await;
    assert!(done.status().is_redirection(), "{}", done.status());
    query_of(&location(&done))
}

/// The reconnect body that sends the user back to the app.
fn back_to_the_app() -> Value {
    json!({"redirect_to": "https://app.example/back"})
}

/// Live refresh tokens the sandbox holds for the test app and `username`.
async fn live_tokens_of(app: &TestApp, username: &str) -> u64 {
    let stats = app.sandbox_get("/_sandbox/stats").await;
    stats["live_refresh_tokens"][CLIENT_ID][username]
        .as_u64()
        .unwrap_or(0)
}

/// A connection that worked once and was then revoked at Salesforce: `expired`.
async fn expired_connection(app: &TestApp) -> String {
    let id = app.connect().await;
    app.revoke_after_one_refresh(&id).await;
    assert_eq!(app.token(&id).await.status(), StatusCode::CONFLICT);
    id
}

#[tokio::test]
async fn reconnecting_an_expired_connection_keeps_its_id_end_user_and_history_and_makes_it_active()
{
    let app = spawn_app().await;
    let id = expired_connection(&app).await;
    let before = app.events(&id).await;
    let created_at = app.connection(&id).await["created_at"].clone();

    let landing = reconnect_as(&app, &id, back_to_the_app(), ADMIN).await;

    assert_eq!(landing["connection_id"], id);
    assert_eq!(landing["status"], "active");
    let connection = app.connection(&id).await;
    assert_eq!(connection["id"], id.as_str());
    assert_eq!(connection["end_user_id"], "u-42");
    assert_eq!(connection["created_at"], created_at);
    assert_eq!(connection["status"], "active");
    assert_eq!(connection["status_reason"], Value::Null);
    assert_eq!(connection["diagnosis"], Value::Null);
    assert_eq!(connection["account"]["username"], ADMIN);
    assert_eq!(app.connection_count().await, 1);
    let after = app.events(&id).await;
    let reconnected = after.iter().find(|e| e["kind"] == "reconnected").unwrap();
    assert_eq!(reconnected["outcome"], "success");
    assert_eq!(
        reconnected["detail"],
        "reconnected admin@sandbox.example in org 00D000000000001AAA (was expired)"
    );
    // Every earlier event is still there, below the new ones.
    assert_eq!(after[after.len() - before.len()..], before[..]);
    app.working_token(&id).await;
}

#[tokio::test]
async fn reconnecting_revokes_the_replaced_refresh_token_so_salesforce_holds_one() {
    let (app, id) = connected_app().await;
    let old = app.stored_refresh_token(&id).await;
    assert_eq!(app.live_refresh_tokens().await, 1);

    let url = reconnect_url(&app, &id, json!({})).await;
    let done = app.follow_connect_url(&url).await;

    assert_eq!(
        done.status(),
        StatusCode::OK,
        "no redirect_to: tether's page"
    );
    assert_ne!(app.stored_refresh_token(&id).await, old);
    assert_eq!(app.live_refresh_tokens().await, 1);
    let events = app.events(&id).await;
    assert_event(&events[0], "revoked", "revoked the replaced refresh token");
    assert_eq!(events[0]["outcome"], "success");
    assert_event(
        &events[1],
        "reconnected",
        "reconnected admin@sandbox.example in org 00D000000000001AAA (was active)",
    );
    // The old token is dead at Salesforce: a refresh with it is refused.
    let refused = app
        .http
        .post(format!("{}/services/oauth2/token", app.sandbox_base))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", old.as_str()),
            ("client_id", CLIENT_ID),
            ("client_secret", crate::helpers::CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.json::<Value>().await.unwrap(),
        expired_token_error()
    );
}

#[tokio::test]
async fn reconnecting_as_another_salesforce_user_is_refused_with_account_mismatch_and_changes_nothing()
 {
    let app = spawn_app().await;
    create_user(&app, OTHER).await;
    let id = expired_connection(&app).await;
    let before = app.connection(&id).await;

    let landing = reconnect_as(&app, &id, back_to_the_app(), OTHER).await;

    assert_eq!(landing["error"], "account_mismatch");
    assert_eq!(
        landing["error_description"],
        "you signed in as other@sandbox.example (org 00D000000000001AAA), but this connection belongs to admin@sandbox.example (org 00D000000000001AAA); sign in as that user, or reconnect with allow_different_account"
    );
    assert!(!landing.contains_key("connection_id"));
    let after = app.connection(&id).await;
    assert_eq!(after["account"], before["account"]);
    assert_eq!(after["status"], "expired");
    assert_eq!(app.connection_count().await, 1);
    // The token Salesforce issued for the other user is not kept alive anywhere.
    assert_eq!(live_tokens_of(&app, OTHER).await, 0);
}

#[tokio::test]
async fn reconnecting_as_another_salesforce_user_is_accepted_when_the_reconnect_allows_it() {
    let app = spawn_app().await;
    create_user(&app, OTHER).await;
    let id = app.connect().await;

    let body = json!({"redirect_to": "https://app.example/back", "allow_different_account": true});
    let landing = reconnect_as(&app, &id, body, OTHER).await;

    assert_eq!(landing["connection_id"], id);
    assert_eq!(landing["status"], "active");
    let connection = app.connection(&id).await;
    assert_eq!(connection["account"]["username"], OTHER);
    assert_eq!(connection["end_user_id"], "u-42");
    assert_eq!(live_tokens_of(&app, OTHER).await, 1);
    assert_eq!(live_tokens_of(&app, ADMIN).await, 0);
    app.working_token(&id).await;
}

#[tokio::test]
async fn reconnecting_an_unknown_connection_answers_404_not_found() {
    let app = spawn_app().await;
    let answer = app
        .call(
            Method::POST,
            "/v1/connections/conn_00000000000000000000000000/reconnect",
        )
        .await;

    crate::probes::assert_problem(
        &answer,
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "connection not found",
    );
}
