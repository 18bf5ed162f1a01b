//! `GET /v1/connections` in pages: `limit` (1 to 1,000, default 100), an opaque `cursor`,
//! newest first, `next_cursor` null on the last page, filters kept across pages.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};
use crate::probes::assert_invalid_request_of;

/// Connects one end user per name, oldest first; their ids in that order.
async fn connect_all(app: &TestApp, users: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for user in users {
        ids.push(app.connect_as(user, None).await);
        app.advance(1).await;
    }
    ids
}

/// The page at `/v1/connections?{query}`, which must answer 200.
async fn page(app: &TestApp, query: &str) -> Value {
    let answer = app
        .call(Method::GET, &format!("/v1/connections?{query}"))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json()
}

fn ids(page: &Value) -> Vec<String> {
    page["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every page of `query` (without paging parameters) at `limit`, following `next_cursor`.
async fn every_page(app: &TestApp, query: &str, limit: u32) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut full = format!("{query}&limit={limit}");
        if let Some(cursor) = &cursor {
            full.push_str(&format!("&cursor={cursor}"));
        }
        let body = page(app, &full).await;
        pages.push(ids(&body));
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return pages,
        }
    }
}

#[tokio::test]
async fn connections_come_in_pages_newest_first_until_next_cursor_is_null() {
    let app = spawn_app().await;
    let mut made = connect_all(&app, &["u-1", "u-2", "u-3", "u-4", "u-5"]).await;
    made.reverse();

    let whole = page(&app, "").await;
    assert_eq!(ids(&whole), made, "the default page of 100 holds all five");
    assert_eq!(whole["next_cursor"], Value::Null);

    let pages = every_page(&app, "", 2).await;
    assert_eq!(pages.len(), 3);
    assert_eq!(pages.concat(), made, "each connection once, newest first");
    assert_eq!(pages[2].len(), 1);

    let exact = every_page(&app, "", 5).await;
    assert_eq!(
        exact,
        [made.clone()],
        "a full last page says it is the last"
    );
}

#[tokio::test]
async fn a_connection_made_while_paging_does_not_shift_the_pages() {
    let app = spawn_app().await;
    let mut made = connect_all(&app, &["u-1", "u-2", "u-3", "u-4"]).await;
    made.reverse();
    let first = page(&app, "limit=2").await;
    app.connect_as("u-late", None).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = page(&app, &format!("limit=2&cursor={cursor}")).await;
    assert_eq!([ids(&first), ids(&second)].concat(), made);
    assert_eq!(second["next_cursor"], Value::Null);
}

#[tokio::test]
async fn filters_keep_working_across_pages() {
    let app = spawn_app().await;
    let made = connect_all(&app, &["u-1", "u-2", "u-1", "u-3", "u-1"]).await;
    app.delete_connection(&made[2]).await;
    let pages = every_page(&app, "end_user_id=u-1", 1).await;
    assert_eq!(
        pages.concat(),
        [made[4].clone(), made[2].clone(), made[0].clone()]
    );
    let pages = every_page(&app, "end_user_id=u-1&status=active", 1).await;
    assert_eq!(pages.concat(), [made[4].clone(), made[0].clone()]);
    let pages = every_page(&app, "connector=salesforce&status=disconnected", 1).await;
    assert_eq!(pages.concat(), [made[2].clone()]);
}

#[tokio::test]
async fn a_limit_outside_1_to_1000_answers_400_naming_the_range() {
    let app = spawn_app().await;
    for limit in ["0", "1001", "-5"] {
        let answer = app
            .call(Method::GET, &format!("/v1/connections?limit={limit}"))
            .await;
        let case = format!("limit={limit}");
        assert_invalid_request_of(&case, &answer, "limit must be between 1 and 1000");
    }
    assert_eq!(page(&app, "limit=1000").await["next_cursor"], Value::Null);
}

#[tokio::test]
async fn an_altered_or_made_up_cursor_answers_400() {
    let app = spawn_app().await;
    let made = connect_all(&app, &["u-1", "u-2"]).await;
    let first = page(&app, "limit=1").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let mut altered = cursor.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    let events_cursor = app.events_page(&made[0], "limit=1").await["next_cursor"].clone();
    let mut bad = vec![altered, "bm90LWEtY3Vyc29y".to_owned(), "%%%".to_owned()];
    bad.extend(events_cursor.as_str().map(str::to_owned));
    for cursor in bad {
        let answer = app
            .call(Method::GET, &format!("/v1/connections?cursor={cursor}"))
            .await;
        assert_invalid_request_of(
            &format!("cursor={cursor}"),
            &answer,
            "cursor is not one tether handed out (malformed or altered): pass the next_cursor \
             of the previous page unchanged, or leave cursor out to start from the first page",
        );
    }
}

#[tokio::test]
async fn a_cursor_works_on_another_instance_sharing_the_master_key() {
    let app = spawn_app().await;
    let mut made = connect_all(&app, &["u-1", "u-2", "u-3"]).await;
    made.reverse();
    let first = page(&app, "limit=2").await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app.second_tether().await;
    let path = format!("/v1/connections?limit=2&cursor={cursor}");
    let answer = app.api_on(&second.base, Method::GET, &path).send();
    let answer = answer.await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.unwrap();
    assert_eq!([ids(&first), ids(&body)].concat(), made);
}
