//! Guards around a connection's life: a check notices a connection revoked at Salesforce
//! without waiting for its access token to expire, and a connector cannot be deleted while
//! connections still use it.

use reqwest::{Method, StatusCode};

use crate::helpers::spawn_app;
use crate::probes::{assert_problem, expired_token_error};
use crate::support::connected_app;

#[tokio::test]
async fn checking_a_connection_revoked_at_salesforce_marks_it_expired_without_the_clock_moving() {
    let (app, id) = connected_app().await;
    app.revoke_app().await;

    let body = app.check(&id).await;

    // Refused at its first use, 0 s after connecting, and the session ended with it: the
    // probe of the access token tells the revoke from an "immediately" refresh token policy.
    let reason = "refresh_token_revoked";
    assert_eq!(body["status"], "expired", "{body}");
    assert_eq!(body["status_reason"], reason, "{body}");
    assert_eq!(body["diagnosis"]["cause"], reason, "{body}");
    assert_eq!(body["diagnosis"]["confidence"], "likely", "{body}");
    assert_eq!(body["diagnosis"]["provider_error"], expired_token_error());
    let detail = format!("check failed: the connection has expired: {reason}; reconnect it");
    app.assert_newest_event(&id, "checked", "failure", &detail)
        .await;
}

#[tokio::test]
async fn deleting_a_connector_with_live_connections_answers_409_and_keeps_it() {
    let app = spawn_app().await;
    app.connect().await;
    app.connect_as("second-user", None).await;

    let answer = app.call(Method::DELETE, "/v1/connectors/salesforce").await;

    assert_problem(
        &answer,
        StatusCode::CONFLICT,
        "conflict",
        "Conflict",
        "connector salesforce still has 2 connections; delete or disconnect them first",
    );
    let kept = app.call(Method::GET, "/v1/connectors/salesforce").await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.text);
}

#[tokio::test]
async fn a_connector_whose_connections_are_all_disconnected_can_be_deleted() {
    let (app, id) = connected_app().await;
    app.delete_connection(&id).await;

    let answer = app.call(Method::DELETE, "/v1/connectors/salesforce").await;

    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert_eq!(answer.text, "");
    let after = app.call(Method::GET, "/v1/connectors/salesforce").await;
    assert_eq!(after.status, StatusCode::NOT_FOUND, "{}", after.text);
}
