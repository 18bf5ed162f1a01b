//! `POST /v1/connections/import`: a refresh token obtained elsewhere becomes a connection once
//! one refresh at Salesforce proves it; refusals store nothing and say why.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use crate::probes::{
    Answer, INVALID_REQUEST, assert_problem, assert_problem_saying, expired_token_error,
};
use crate::support::Says;

/// The import of `approval` for `u-ada` on `salesforce`, with `changes` merged in.
fn import_of(approval: &Value, changes: Value) -> Value {
    let mut body = json!({
        "connector": "salesforce",
        "end_user_id": "u-ada",
        "refresh_token": approval["refresh_token"],
        "instance_url": approval["instance_url"],
    });
    if let (Some(body), Some(changes)) = (body.as_object_mut(), changes.as_object()) {
        body.extend(changes.clone());
    }
    body
}

/// `POST /v1/connections/import` with `body`, read whole.
async fn import(app: &TestApp, body: Value) -> Answer {
    Answer::of(app.import(body).await).await
}

#[tokio::test]
async fn an_imported_refresh_token_becomes_an_active_connection_whose_token_works() {
    let app = spawn_app().await;
    let approval = &app.approvals(&["ada@sandbox.example"]).await[0];
    let given = approval["refresh_token"].as_str().unwrap();

    let answer = Answer::of(app.import_approval(approval, "u-ada").await).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    assert!(
        !answer.text.contains(given),
        "the refresh token is not echoed"
    );
    let created = answer.json();
    assert_eq!(created["status"], "active");
    assert_eq!(created["connector"], "salesforce");
    assert_eq!(created["end_user_id"], "u-ada");
    assert_eq!(created["account"]["username"], "ada@sandbox.example");
    assert_eq!(created["account"]["user_id"], approval["user_id"]);
    assert_eq!(created["account"]["org_id"], approval["org_id"]);
    assert_eq!(created["account"]["instance_url"], approval["instance_url"]);
    assert_eq!(app.refresh_calls().await, 1, "one refresh proved the token");

    let id = created["id"].as_str().unwrap();
    assert_eq!(app.connection(id).await, created);
    let token = app.access_token(id).await;
    assert!(!token.is_empty());
    assert_eq!(
        app.refresh_calls().await,
        1,
        "the import's access token is served"
    );
    let events = app.events(id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["kind"], "connected");
    assert_eq!(
        events[0]["detail"],
        format!(
            "imported a refresh token of ada@sandbox.example in org {}",
            approval["org_id"].as_str().unwrap()
        )
    );

    app.advance(2 * 3600).await;
    let renewed = app.access_token(id).await;
    assert_ne!(renewed, token, "the kept refresh token refreshes later too");
}

#[tokio::test]
async fn a_refresh_token_salesforce_refuses_is_a_422_with_the_diagnosis_and_nothing_is_stored() {
    let app = spawn_app().await;
    let approval = &app.approvals(&["ada@sandbox.example"]).await[0];
    let unknown = json!({"refresh_token": "5Aep861-not-a-token-salesforce-issued"});
    let answer = import(&app, import_of(approval, unknown)).await;
    assert_problem(
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "provider-refused",
        "Refused by the provider",
        "Salesforce refused the refresh token (invalid_grant: expired access/refresh token), so \
         nothing was imported; likely cause: Salesforce revoked the refresh token",
    );
    let body = answer.json();
    assert!(!answer.text.contains("5Aep861-not-a-token"));
    assert_eq!(body["status_reason"], "refresh_token_revoked");
    assert_eq!(body["diagnosis"]["cause"], "refresh_token_revoked");
    assert_eq!(body["diagnosis"]["provider_error"], expired_token_error());
    assert!(!body["diagnosis"]["steps"].as_array().unwrap().is_empty());
    assert_eq!(app.connection_count().await, 0, "nothing stored");
}

#[tokio::test]
async fn a_second_import_for_the_same_end_user_on_the_connector_is_a_409() {
    let app = spawn_app().await;
    let approvals = app
        .approvals(&["ada@sandbox.example", "ada@sandbox.example"])
        .await;
    let first = app.import_approval(&approvals[0], "u-ada").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let id = first["id"].as_str().unwrap();

    let again = Answer::of(app.import_approval(&approvals[1], "u-ada").await).await;
    assert_problem(
        &again,
        StatusCode::CONFLICT,
        "conflict",
        "Conflict",
        &format!(
            "end user \"u-ada\" already has connection {id} on connector \"salesforce\"; \
             reconnect or delete it instead"
        ),
    );
    assert_eq!(
        app.refresh_calls().await,
        1,
        "the refused import asked nothing"
    );
    assert_eq!(app.connection_count().await, 1);

    app.delete_connection(id).await;
    let after_delete = app.import_approval(&approvals[1], "u-ada").await;
    assert_eq!(
        after_delete.status(),
        StatusCode::CREATED,
        "a disconnected connection does not block a new import"
    );
}

/// The status, code and title of a 404 `not-found` problem.
const NOT_FOUND: (StatusCode, &str, &str) = (StatusCode::NOT_FOUND, "not-found", "Not found");

#[tokio::test]
async fn malformed_imports_and_instance_urls_on_hosts_not_allowed_are_refused_before_salesforce_is_called()
 {
    let app = spawn_app().await;
    let approval = &app.approvals(&["ada@sandbox.example"]).await[0];
    let mut missing = import_of(approval, json!({}));
    missing.as_object_mut().unwrap().remove("refresh_token");
    // (case, the body, the problem refusing it, its detail)
    let cases = [
        ("no refresh_token", missing, INVALID_REQUEST, Says::Anything),
        (
            "an empty end_user_id",
            import_of(approval, json!({"end_user_id": ""})),
            INVALID_REQUEST,
            Says::Anything,
        ),
        (
            "an instance_url that is not a URL",
            import_of(approval, json!({"instance_url": "not a url"})),
            INVALID_REQUEST,
            Says::Anything,
        ),
        (
            "an instance_url with a path",
            import_of(
                approval,
                json!({"instance_url": "https://na1.salesforce.com/services"}),
            ),
            INVALID_REQUEST,
            Says::Anything,
        ),
        (
            "an instance_url on a host that is not allowed",
            import_of(approval, json!({"instance_url": "https://evil.example"})),
            INVALID_REQUEST,
            Says::Exactly(
                "instance_url \"https://evil.example\" is not an allowed provider host: tether \
                 talks only to Salesforce's hosts and those in extra_provider_hosts",
            ),
        ),
        (
            "an unknown field",
            import_of(approval, json!({"extra": 1})),
            INVALID_REQUEST,
            Says::Anything,
        ),
        (
            "an unknown connector",
            import_of(approval, json!({"connector": "nope"})),
            NOT_FOUND,
            Says::Anything,
        ),
    ];
    for (case, body, problem, says) in cases {
        let answer = import(&app, body).await;
        assert_problem_saying(case, &answer, problem, &says);
        assert!(
            !answer
                .text
                .contains(approval["refresh_token"].as_str().unwrap()),
            "{case}: {}",
            answer.text
        );
    }
    assert_eq!(app.refresh_calls().await, 0);
    assert_eq!(app.connection_count().await, 0);
}
