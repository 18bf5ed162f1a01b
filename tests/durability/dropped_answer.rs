//! A rotated refresh whose answer never arrives: Salesforce rotated the refresh token, tether
//! never heard the new one, and the old one is refused as reused. The user must read that
//! tether lost it, not that their admin's policy or a revocation ended the connection.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Options, Scenario, eventually_every, exclusive};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_refresh_answer_dropped_after_the_grant_expires_the_connection_as_refresh_token_reused()
 {
    let _turn = exclusive().await;
    let s = Scenario::start(Options::rotation(true)).await;
    let id = s.connect_new_user("dropped").await;
    s.org
        .put_faults(json!({"token_endpoint": {
            "after_grant": "drop", "count": 1, "grant_type": "refresh_token"
        }}))
        .await;

    let first = s.api.token(&id, true).await;
    assert_ne!(first.status, StatusCode::OK, "no answer, no token: {first}");
    assert_eq!(
        s.org.refreshes_granted().await,
        1,
        "the sandbox granted (and rotated) the refresh whose answer it dropped"
    );

    // The next refresh (a forced one, or the scheduler's retry once the backoff is over)
    // presents the old refresh token, which Salesforce refuses as reused.
    let (patience, every) = (Duration::from_secs(60), Duration::from_millis(250));
    let refused = eventually_every("a later refresh is refused", patience, every, async || {
        let answer = s.api.token(&id, true).await;
        match answer.status {
            StatusCode::CONFLICT => Ok(answer),
            _ => Err(answer.to_string()),
        }
    })
    .await;
    assert_eq!(
        refused.status_reason(),
        Some("refresh_token_reused"),
        "the 409 says tether lost the rotated token: {refused}"
    );
    let connection = s.api.connection(&id).await;
    assert_eq!(connection["status"], "expired", "{connection}");
    assert_eq!(
        connection["status_reason"], "refresh_token_reused",
        "{connection}"
    );
    assert_eq!(
        connection["diagnosis"]["cause"], "refresh_token_reused",
        "never a customer cause such as refresh_token_policy_immediate or refresh_token_revoked: {connection}"
    );
}
