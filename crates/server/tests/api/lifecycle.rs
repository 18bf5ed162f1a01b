//! A connection's life after connecting: deleting it (revoked at Salesforce, `disconnected`,
//! no more tokens) and its history (newest first, every kind, paged).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{AppOptions, spawn_app, spawn_app_with};
use crate::probes::assert_problem;

#[tokio::test]
async fn delete_revokes_at_salesforce_disconnects_and_the_token_endpoint_answers_409_conflict() {
    let app = spawn_app().await;
    let id = app.connect().await;
    let token = app.access_token(&id).await;
    assert_eq!(app.live_refresh_tokens().await, 1);

    let deleted = app
        .call(Method::DELETE, &format!("/v1/connections/{id}"))
        .await;

    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(deleted.text, "");
    assert_eq!(app.live_refresh_tokens().await, 0);
    assert_eq!(
        app.sandbox_query(&token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let connection = app.connection(&id).await;
    assert_eq!(connection["status"], "disconnected");
    assert_problem(
        &app.token_answer(&id).await,
        StatusCode::CONFLICT,
        "conflict",
        "Conflict",
        "the connection was disconnected; create a new one",
    );
    let events = app.events(&id).await;
    assert_eq!(events[0]["kind"], "status_changed");
    assert_eq!(
        events[0]["detail"],
        "active -> disconnected: removed through tether"
    );
    assert_eq!(events[1]["kind"], "revoked");
    assert_eq!(events[1]["outcome"], "success");
    assert_eq!(
        events[1]["detail"],
        "revoked the refresh token at the provider"
    );
}

#[tokio::test]
async fn deleting_twice_answers_204_both_times_and_revokes_once() {
    let app = spawn_app().await;
    let id = app.connect().await;
    let path = format!("/v1/connections/{id}");

    assert_eq!(
        app.call(Method::DELETE, &path).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.call(Method::DELETE, &path).await.status,
        StatusCode::NO_CONTENT
    );

    let revoked = app
        .event_kinds(&id)
        .await
        .iter()
        .filter(|k| *k == "revoked")
        .count();
    assert_eq!(revoked, 1);
}

#[tokio::test]
async fn events_are_newest_first_with_every_kind_and_the_provider_error_of_failures() {
    let app = spawn_app_with(AppOptions {
        session_timeout_seconds: Some(600),
        ..AppOptions::default()
    })
    .await;
    let id = app.connect().await;
    app.advance(601).await;
    app.access_token(&id).await;
    app.fail_token_endpoint(503, 0, 1).await;
    app.advance(601).await;
    assert_eq!(
        app.token(&id).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    app.advance(11 * 60).await;
    app.access_token(&id).await;

    let events = app.events(&id).await;

    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "status_changed",
            "refreshed",
            "status_changed",
            "refresh_failed",
            "refreshed",
            "connected"
        ]
    );
    let failed = &events[3];
    assert_eq!(failed["outcome"], "failure");
    assert_eq!(
        failed["provider_error"],
        json!({"error": "temporarily_unavailable", "error_description": "sandbox fault: status 503"})
    );
    assert_eq!(
        events[2]["detail"],
        "active -> degraded: provider_unavailable"
    );
    assert_eq!(
        events[0]["detail"],
        "degraded -> active: the provider accepted the refresh"
    );
    assert_eq!(events[4]["provider_error"], Value::Null);
    let times: Vec<&str> = events.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
}

#[tokio::test]
async fn events_page_with_limit_and_next_cursor_until_the_last_page() {
    let app = spawn_app().await;
    let id = app.connect().await;
    for _ in 0..5 {
        app.advance(2 * 3600).await;
        app.access_token(&id).await;
    }
    let all = app.events(&id).await;
    assert_eq!(all.len(), 6);

    let first = app.events_page(&id, "limit=2").await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .events_page(&id, &format!("limit=2&cursor={cursor}"))
        .await;
    let cursor = second["next_cursor"].as_str().unwrap();
    let third = app
        .events_page(&id, &format!("limit=2&cursor={cursor}"))
        .await;

    let ids = |page: &Value| -> Vec<Value> {
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].clone())
            .collect()
    };
    let paged: Vec<Value> = [&first, &second, &third]
        .iter()
        .flat_map(|p| ids(p))
        .collect();
    let expected: Vec<Value> = all.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(paged, expected);
    assert_eq!(
        third["next_cursor"],
        Value::Null,
        "a full last page says it is the last"
    );
    assert_eq!(third["events"][1]["kind"], "connected");
}

#[tokio::test]
async fn an_events_cursor_of_another_connection_answers_400() {
    let app = spawn_app().await;
    let one = app.connect_as("u-1", None).await;
    let two = app.connect_as("u-2", None).await;
    app.advance(2 * 3600).await;
    app.access_token(&one).await;
    let first = app.events_page(&one, "limit=1").await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let answer = app
        .call(
            Method::GET,
            &format!("/v1/connections/{two}/events?cursor={cursor}"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text);
    assert!(
        answer.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("cursor is not one tether handed out")
    );
}

#[tokio::test]
async fn an_events_limit_out_of_range_answers_400_invalid_request() {
    let app = spawn_app().await;
    let id = app.connect().await;
    let answer = app
        .call(Method::GET, &format!("/v1/connections/{id}/events?limit=0"))
        .await;

    assert_problem(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid-request",
        "Invalid request",
        "limit must be between 1 and 500",
    );
}
