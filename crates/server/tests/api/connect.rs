//! Connecting an account through the sandbox, HTTP only.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;
use crate::support::connected_app;

/// Asserts a page's status and that it says `says`.
async fn assert_page(page: reqwest::Response, status: StatusCode, says: &str) {
    assert_eq!(page.status(), status, "{says}");
    let text = page.text().await.unwrap();
    assert!(text.contains(says), "{says}: {text}");
}

#[tokio::test]
async fn connect_then_token_then_refresh_after_the_session_timeout_gives_a_working_token() {
    let (app, id) = connected_app().await;

    let connection = app.connection(&id).await;
    assert_eq!(connection["status"], "active");
    assert_eq!(connection["end_user_id"], "u-42");
    assert_eq!(connection["account"]["username"], "admin@sandbox.example");
    assert_eq!(connection["account"]["org_id"], "00D000000000001AAA");
    assert_eq!(connection["account"]["instance_url"], app.sandbox_base);

    let first = app.working_token(&id).await;

    app.advance(2 * 3600 + 60).await;
    assert_eq!(
        app.sandbox_query(&first).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let second = app.access_token(&id).await;
    assert_ne!(first, second);
    let query = app.sandbox_query(&second).await;
    assert_eq!(query.status(), StatusCode::OK);
    assert_eq!(app.refresh_calls().await, 1);
}

#[tokio::test]
async fn a_replayed_state_is_refused_with_a_page_and_nothing_is_stored() {
    let app = spawn_app().await;
    let callback = app.callback_url(None).await;
    let first = app.http.get(&callback).send().await.unwrap();
    assert_page(first, StatusCode::OK, "Connected").await;

    let replay = app.http.get(&callback).send().await.unwrap();
    assert_page(
        replay,
        StatusCode::BAD_REQUEST,
        "This sign-in was already completed",
    )
    .await;
    assert_eq!(app.connection_count().await, 1);
}

#[tokio::test]
async fn a_callback_url_opened_in_another_browser_is_refused_and_connects_nothing() {
    let app = spawn_app().await;
    let (created, to_provider) = app
        .open_connect_session(json!({"connector": "salesforce", "end_user_id": "u-1"}))
        .await;
    let set_cookie = to_provider
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set_cookie.contains("Path=/oauth/callback"), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(set_cookie.contains("Max-Age=900"), "{set_cookie}");
    let to_callback = app
        .http
        .get(crate::helpers::location(&to_provider))
        .send()
        .await
        .unwrap();
    let callback = crate::helpers::location(&to_callback);

    // Someone else's browser (no cookie of the connect link) opens the forwarded callback URL.
    let other = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let refused = other.get(&callback).send().await.unwrap();
    assert_page(
        refused,
        StatusCode::BAD_REQUEST,
        "This sign-in was started in another browser.",
    )
    .await;
    // The same URL with a made-up cookie is refused too.
    let forged = other
        .get(&callback)
        .header(
            "cookie",
            format!("tether_connect_{}=guess", created["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.connection_count().await, 0);

    // The browser that opened the link still completes it: the code was not used up.
    let done = app.http.get(&callback).send().await.unwrap();
    assert_page(done, StatusCode::OK, "Connected").await;
}
