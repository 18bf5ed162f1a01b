//! A connection's life after connecting: deleting it (revoked at Salesforce, `disconnected`,
//! no more tokens) and its history (newest first, every kind, paged).

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::spawn_app;
use crate::probes::{
    INVALID_REQUEST, assert_problem, assert_problem_saying, assert_provider_error,
};
use crate::support::{
    Says, app_with_session_timeout, assert_event, assert_outage_then_recovery, connected_app,
};

#[tokio::test]
async fn delete_revokes_at_salesforce_disconnects_and_the_token_endpoint_answers_409_conflict() {
    let (app, id) = connected_app().await;
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
    let removed = "active -> disconnected: removed through tether";
    assert_event(&events[0], "status_changed", removed);
    assert_event(
        &events[1],
        "revoked",
        "revoked the refresh token at the provider",
    );
    assert_eq!(events[1]["outcome"], "success");
}

#[tokio::test]
async fn deleting_twice_answers_204_both_times_and_revokes_once() {
    let (app, id) = connected_app().await;
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
    let app = app_with_session_timeout(600).await;
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

    assert_outage_then_recovery(&events);
    let before: Vec<&str> = events[4..]
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(before, ["refreshed", "connected"]);
    let failed = &events[3];
    assert_eq!(failed["outcome"], "failure");
    assert_provider_error(
        failed,
        "temporarily_unavailable",
        "sandbox fault: status 503",
    );
    assert_eq!(events[4]["provider_error"], Value::Null);
    let times: Vec<&str> = events.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
}

#[tokio::test]
async fn events_page_with_limit_and_next_cursor_until_the_last_page() {
    let (app, id) = connected_app().await;
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
async fn an_events_cursor_of_another_connection_or_a_limit_out_of_range_answers_400() {
    let app = spawn_app().await;
    let one = app.connect_as("u-1", None).await;
    let two = app.connect_as("u-2", None).await;
    app.advance(2 * 3600).await;
    app.access_token(&one).await;
    let first = app.events_page(&one, "limit=1").await;
    let cursor = first["next_cursor"].as_str().unwrap();
    // (case, the events page asked for, what the 400 `invalid-request` says)
    let cases = [
        (
            "a cursor of another connection",
            format!("/v1/connections/{two}/events?cursor={cursor}"),
            Says::StartingWith("cursor is not one tether handed out"),
        ),
        (
            "a limit of 0",
            format!("/v1/connections/{one}/events?limit=0"),
            Says::Exactly("limit must be between 1 and 500"),
        ),
    ];
    for (case, path, says) in cases {
        let answer = app.call(Method::GET, &path).await;
        assert_problem_saying(case, &answer, INVALID_REQUEST, &says);
    }
}
