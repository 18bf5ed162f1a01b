//! Exactly one refresh, however many callers: 500 concurrent callers reporting the same dead
//! token, with rotation on, and split across two tether servers sharing one database file.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use crate::support::app_with_policy;

const CALLERS: usize = 500;

/// Awaits every answer; asserts each is a 200 and returns the distinct tokens handed out.
async fn distinct_tokens(answers: Vec<reqwest::Response>) -> HashSet<String> {
    let mut tokens = HashSet::new();
    for answer in answers {
        let status = answer.status();
        let text = answer.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        tokens.insert(body["access_token"].as_str().unwrap().to_owned());
    }
    tokens
}

/// Asserts one new token, different from `old`, that the sandbox accepts.
async fn assert_one_working_token(app: &TestApp, tokens: &HashSet<String>, old: &str) {
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    let token = tokens.iter().next().unwrap();
    assert_ne!(token, old);
    assert_eq!(app.sandbox_query(token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn five_hundred_callers_rejecting_the_same_current_token_cause_one_refresh() {
    let app = spawn_app().await;
    let id = app.connect().await;
    let current = app.access_token(&id).await;

    let calls = (0..CALLERS).map(|_| app.token_rejecting(&id, &current));
    let tokens = distinct_tokens(futures::future::join_all(calls).await).await;

    assert_one_working_token(&app, &tokens, &current).await;
    assert_eq!(app.refresh_calls().await, 1);
}

#[tokio::test]
async fn a_late_caller_rejecting_an_already_replaced_token_gets_the_new_one_without_a_refresh() {
    let app = spawn_app().await;
    let id = app.connect().await;
    let old = app.access_token(&id).await;
    let new = {
        let r = app.token_rejecting(&id, &old).await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json::<Value>().await.unwrap()["access_token"].clone()
    };

    let late = app.token_rejecting(&id, &old).await;

    assert_eq!(late.status(), StatusCode::OK);
    assert_eq!(late.json::<Value>().await.unwrap()["access_token"], new);
    assert_eq!(app.refresh_calls().await, 1);
}

#[tokio::test]
async fn five_hundred_concurrent_callers_with_rotation_cause_one_refresh_and_the_next_one_works() {
    let app = app_with_policy(json!({"rotation": true})).await;
    let id = app.connect().await;
    let first = app.access_token(&id).await;
    app.advance(2 * 3600).await;

    let calls = (0..CALLERS).map(|_| app.token(&id));
    let tokens = distinct_tokens(futures::future::join_all(calls).await).await;

    assert_one_working_token(&app, &tokens, &first).await;
    assert_eq!(app.refresh_calls().await, 1);
    // The rotated refresh token was stored: the next refresh is accepted, not seen as reuse.
    let second = tokens.into_iter().next().unwrap();
    let calls = (0..CALLERS).map(|_| app.token_rejecting(&id, &second));
    let tokens = distinct_tokens(futures::future::join_all(calls).await).await;
    assert_one_working_token(&app, &tokens, &second).await;
    assert_eq!(app.refresh_calls().await, 2);
    assert_eq!(app.connection(&id).await["status"], "active");
}

#[tokio::test]
async fn five_hundred_callers_split_across_two_tether_servers_on_one_database_cause_one_refresh() {
    let app = app_with_policy(json!({"rotation": true})).await;
    let other = app.second_tether().await;
    let id = app.connect().await;
    let first = app.access_token(&id).await;
    app.advance(2 * 3600).await;

    let calls = (0..CALLERS).map(|i| {
        let base = if i % 2 == 0 {
            &app.tether.base
        } else {
            &other.base
        };
        app.api_on(base, Method::POST, &format!("/v1/connections/{id}/token"))
            .send()
    });
    let answers = futures::future::join_all(calls).await;
    let answers = answers.into_iter().map(Result::unwrap).collect();
    let tokens = distinct_tokens(answers).await;

    assert_one_working_token(&app, &tokens, &first).await;
    assert_eq!(app.refresh_calls().await, 1);
    assert_eq!(app.connection(&id).await["status"], "active");
}
