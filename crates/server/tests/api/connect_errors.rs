//! What a caller or a browser sees when a connect flow goes wrong: a problem body for a bad
//! request, a page for a tampered or expired state (nothing stored), and the provider's error
//! passed to `redirect_to` when the user says no.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{location, spawn_app};
use crate::probes::{Answer, assert_problem_of, query_of};

#[tokio::test]
async fn a_connect_session_with_an_unknown_connector_or_a_bad_redirect_to_answers_a_problem() {
    let app = spawn_app().await;
    let salesforce_to =
        |to: &str| json!({"connector": "salesforce", "end_user_id": "u-1", "redirect_to": to});
    // (case, the body, the status, the problem's code and title, its detail)
    let cases = [
        (
            "an unknown connector",
            json!({"connector": "nope", "end_user_id": "u-1"}),
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "connector \"nope\" not found",
        ),
        (
            "a redirect_to that is not an absolute URL",
            salesforce_to("/done"),
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "Invalid request",
            "redirect_to \"/done\" is not an absolute URL",
        ),
        (
            "a redirect_to with a javascript scheme",
            salesforce_to("javascript:alert(1)"),
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "Invalid request",
            "redirect_to must be an http or https URL",
        ),
    ];
    for (case, body, status, code, title, detail) in cases {
        let answer = Answer::of(app.create_connect_session(body).await).await;
        assert_problem_of(case, &answer, status, code, title, detail);
    }
}

#[tokio::test]
async fn malformed_json_answers_400_invalid_request_saying_the_body_is_invalid() {
    let app = spawn_app().await;
    let r = app
        .api(Method::POST, "/v1/connect-sessions")
        .header("content-type", "application/json")
        .body("{\"connector\": ")
        .send()
        .await
        .unwrap();
    let answer = Answer::of(r).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let body = answer.json();
    assert_eq!(body["type"], "https://tether.dev/problems/invalid-request");
    assert_eq!(body["title"], "Invalid request");
    assert_eq!(body["status"], 400);
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.starts_with("the JSON body is invalid: "), "{detail}");
}

#[tokio::test]
async fn a_tampered_state_gets_a_400_page_saying_it_was_altered_and_nothing_is_stored() {
    let app = spawn_app().await;
    let callback = app.callback_url(Some("https://app.example/done")).await;
    let state = query_of(&callback)["state"].clone();
    // `{id}.{HMAC}.{browser binding}`: alter the HMAC.
    let (signed, binding) = state.rsplit_once('.').unwrap();
    let flipped = if signed.ends_with('A') { "B" } else { "A" };
    let tampered_state = format!("{}{flipped}.{binding}", &signed[..signed.len() - 1]);
    let tampered = callback.replace(&state, &tampered_state);
    assert_ne!(tampered, callback);

    let answer = Answer::of(app.http.get(&tampered).send().await.unwrap()).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.text.contains("This sign-in cannot be completed"),
        "{}",
        answer.text
    );
    assert!(
        answer.text.contains("was altered or is not tether"),
        "{}",
        answer.text
    );
    assert_eq!(app.connection_count().await, 0);
}

#[tokio::test]
async fn a_state_older_than_15_minutes_gets_a_page_saying_it_expired_and_nothing_is_stored() {
    let app = spawn_app().await;
    let callback = app.callback_url(Some("https://app.example/done")).await;
    app.advance(16 * 60).await;

    let answer = Answer::of(app.http.get(&callback).send().await.unwrap()).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer
            .text
            .contains("This sign-in took longer than 15 minutes and expired"),
        "{}",
        answer.text
    );
    assert_eq!(app.connection_count().await, 0);
    assert_eq!(app.refresh_calls().await, 0);
}

#[tokio::test]
async fn access_denied_by_the_user_redirects_to_redirect_to_with_error_and_description() {
    let app = spawn_app().await;
    let authorize = app
        .authorize_url(Some("https://app.example/done?x=1"))
        .await;
    let state = query_of(&authorize)["state"].clone();
    let callback = url::Url::parse_with_params(
        &format!("{}/oauth/callback", app.tether.base),
        [
            ("error", "access_denied"),
            ("error_description", "end-user denied authorization"),
            ("state", state.as_str()),
        ],
    )
    .unwrap();

    let answer = app.http.get(callback.as_str()).send().await.unwrap();

    assert!(answer.status().is_redirection(), "{}", answer.status());
    let landing = location(&answer);
    assert!(
        landing.starts_with("https://app.example/done?"),
        "{landing}"
    );
    let params = query_of(&landing);
    assert_eq!(params["x"], "1");
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["error_description"], "end-user denied authorization");
    assert!(!params.contains_key("connection_id"));
    assert_eq!(app.connection_count().await, 0);
}

#[tokio::test]
async fn denying_on_the_sandbox_consent_page_reaches_redirect_to_with_access_denied() {
    let app = spawn_app().await;
    app.sandbox_put("/_sandbox/settings", json!({"auto_approve": false}))
        .await;
    let authorize = app.authorize_url(Some("https://app.example/done")).await;
    let jar = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let deny = crate::consent::deny(&jar, &authorize).await;

    let answer = app.http.get(&deny).send().await.unwrap();

    let params = query_of(&location(&answer));
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["error_description"], "end-user denied authorization");
    assert_eq!(app.connection_count().await, 0);
}
