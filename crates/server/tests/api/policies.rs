//! Every way Salesforce ends a refresh token (each refresh-token policy, revoke, Block, an
//! inactive user) seen through tether: the connection ends `expired` with the cause as
//! `status_reason`, the token endpoint answers 409 `connection-expired` with the diagnosis,
//! and policies that allow it keep the connection `active`. Rotation never breaks it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::diagnosis::{assert_diagnosis, step_titles};
use crate::helpers::{CLIENT_ID, TestApp};
use crate::probes::{assert_expired_problem, expired_token_error, provider_error};
use crate::support::{app_with_policy, connected_app};

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

/// An app with the refresh token `policy`, whose connector tells tether about it.
async fn app_told_the_policy(policy: Value) -> TestApp {
    let app = app_with_policy(json!({ "refresh_token_policy": policy })).await;
    let hinted = app
        .put_connector_with("salesforce", json!({ "refresh_token_policy": policy }))
        .await;
    assert_eq!(hinted.status, StatusCode::OK, "{}", hinted.text);
    app
}

/// Asserts the token endpoint's 409 and the connection's `expired` status for `reason`.
async fn assert_expired(app: &TestApp, id: &str, reason: &str, provider_error: &Value) {
    let answer = app.token_answer(id).await;
    assert_expired_problem(&answer, reason, provider_error);
    let connection = app.connection(id).await;
    assert_eq!(connection["status"], "expired");
    assert_eq!(connection["status_reason"], reason);
    assert_eq!(connection["diagnosis"]["cause"], reason);
    // Asking again answers the same from the stored status, without calling Salesforce.
    let calls = app.refresh_calls().await;
    assert_expired_problem(&app.token_answer(id).await, reason, provider_error);
    assert_eq!(app.refresh_calls().await, calls);
}

/// [`assert_expired`] for Salesforce's `invalid_grant`, and the diagnosis's cause `reason`,
/// its `confidence` and a step naming `setting`; the diagnosis.
async fn assert_expired_diagnosed(
    app: &TestApp,
    id: &str,
    reason: &str,
    confidence: &str,
    setting: &str,
) -> Value {
    assert_expired(app, id, reason, &expired_token_error()).await;
    let diagnosis = app.connection(id).await["diagnosis"].clone();
    assert_diagnosis(&diagnosis, reason, confidence, setting);
    diagnosis
}

/// Refreshes the connection once (the clock passes the 2-hour session) and asserts it works.
async fn refresh_succeeds(app: &TestApp, id: &str) -> String {
    app.advance(2 * HOUR).await;
    let token = app.working_token(id).await;
    assert_eq!(app.connection(id).await["status"], "active");
    token
}

/// A policy that ends a refresh token after a time, the connection left unused that long, and
/// the diagnosis tether must then give.
struct Unused {
    claim: &'static str,
    /// The sandbox Connected App's policy.
    app_policy: Value,
    /// Whether the connector tells tether the app's refresh token policy.
    told: bool,
    unused_for: i64,
    cause: &'static str,
    confidence: &'static str,
    /// What a step of the diagnosis names: the setting to change.
    setting: &'static str,
    /// The second line of the evidence: what points to the cause.
    pointer: &'static str,
}

fn left_unused() -> [Unused; 3] {
    let idle = json!({"kind": "idle", "seconds": 3 * HOUR});
    [
        Unused {
            // Alone, a first-use refusal could also be a revoke: tether says so.
            claim: "the immediate policy expires a connection at its first refresh, possibly",
            app_policy: json!({"refresh_token_policy": {"kind": "immediately"}}),
            told: false,
            unused_for: 2 * HOUR,
            cause: "refresh_token_policy_immediate",
            confidence: "possible",
            setting: "Refresh Token Policy. Choose \"Refresh token is valid until revoked\"",
            pointer: "Salesforce refused the refresh token the first time tether used it, 2 hours after connecting",
        },
        Unused {
            claim: "an idle policy the admin told tether about expires as refresh_token_idle",
            app_policy: json!({"refresh_token_policy": idle}),
            told: true,
            unused_for: 4 * HOUR,
            cause: "refresh_token_idle",
            confidence: "likely",
            setting: "\"Expire refresh token if not used for\" is not selected",
            pointer: "The connector says refresh tokens expire when not used for 3 hours",
        },
        Unused {
            claim: "the 30-day idle limit expires a token unused for 31 days as refresh_token_idle",
            app_policy: json!({"idle_ttl_30d": true}),
            told: false,
            unused_for: 31 * DAY,
            cause: "refresh_token_idle",
            confidence: "likely",
            setting: "\"Limit Idle Refresh Token TTL to 30 days\"",
            pointer: "The refresh token was last used 31 days ago",
        },
    ]
}

#[tokio::test]
async fn each_policy_expires_a_connection_left_unused_with_a_diagnosis_naming_its_setting() {
    for case in left_unused() {
        // Shown with a failure inside the shared assertions below, which do not know the case.
        println!("case: {}", case.claim);
        let app = if case.told {
            app_told_the_policy(case.app_policy["refresh_token_policy"].clone()).await
        } else {
            app_with_policy(case.app_policy).await
        };
        let id = app.connect().await;
        app.advance(case.unused_for).await;

        let diagnosis =
            assert_expired_diagnosed(&app, &id, case.cause, case.confidence, case.setting).await;
        assert_eq!(diagnosis["evidence"][1], case.pointer, "{}", case.claim);
    }
}

#[tokio::test]
async fn idle_policy_keeps_a_connection_used_within_the_window_active() {
    let app =
        app_with_policy(json!({"refresh_token_policy": {"kind": "idle", "seconds": 3 * HOUR}}))
            .await;
    let id = app.connect().await;
    for _ in 0..3 {
        refresh_succeeds(&app, &id).await;
    }
    let connection = app.connection(&id).await;
    assert_eq!(connection["status_reason"], Value::Null);
    assert_eq!(app.refresh_calls().await, 3);
}

#[tokio::test]
async fn idle_policy_unused_past_its_window_expires_as_revoked_when_tether_was_not_told_the_policy()
{
    let app =
        app_with_policy(json!({"refresh_token_policy": {"kind": "idle", "seconds": 3 * HOUR}}))
            .await;
    let id = app.connect().await;
    refresh_succeeds(&app, &id).await;
    app.advance(4 * HOUR).await;

    assert_expired(&app, &id, "refresh_token_revoked", &expired_token_error()).await;
    let diagnosis = app.connection(&id).await["diagnosis"].clone();
    assert_eq!(diagnosis["confidence"], "possible");
    assert_eq!(diagnosis["title"], "Salesforce revoked the refresh token");
}

#[tokio::test]
async fn lifetime_policy_the_admin_told_tether_about_expires_a_used_token_as_refresh_token_policy_lifetime()
 {
    let app = app_told_the_policy(json!({"kind": "lifetime", "seconds": 5 * HOUR})).await;
    let id = app.connect().await;
    refresh_succeeds(&app, &id).await;
    refresh_succeeds(&app, &id).await;
    app.advance(2 * HOUR).await;

    let diagnosis = assert_expired_diagnosed(
        &app,
        &id,
        "refresh_token_policy_lifetime",
        "likely",
        "\"Expire refresh token after\" is not selected",
    )
    .await;
    assert_eq!(
        diagnosis["evidence"],
        json!([
            "Salesforce answered invalid_grant: expired access/refresh token",
            "The connector says the policy is \"Expire refresh token after 5 hours\"",
            "The refresh token was 6 hours old"
        ])
    );
    // The way out for good: a connection without a refresh token no such policy can expire.
    let titles = step_titles(&diagnosis);
    assert_eq!(
        titles[titles.len() - 3..],
        [
            "To stop this for good, switch the connector to the JWT bearer flow",
            "Check the other refresh token options",
            "Review Login History"
        ]
    );
    let jwt = &diagnosis["steps"][titles.len() - 3]["detail"];
    for part in [
        "\"Use digital signatures\"",
        "PUT /v1/connectors/{name} with \"grant\": \"jwt_bearer\"",
        "POST /v1/connections",
    ] {
        assert!(jwt.as_str().unwrap().contains(part), "{part}: {jwt}");
    }
}

#[tokio::test]
async fn idle_ttl_30d_keeps_a_connection_refreshed_every_29_days_active() {
    let app = app_with_policy(json!({"idle_ttl_30d": true})).await;
    let id = app.connect().await;
    for _ in 0..3 {
        app.advance(29 * DAY).await;
        app.working_token(&id).await;
    }
    assert_eq!(app.connection(&id).await["status"], "active");
    assert_eq!(app.refresh_calls().await, 3);
}

#[tokio::test]
async fn until_revoked_policy_keeps_a_connection_unused_for_90_days_active() {
    let (app, id) = connected_app().await;
    app.advance(90 * DAY).await;

    app.working_token(&id).await;
    let connection = app.connection(&id).await;
    assert_eq!(connection["status"], "active");
    assert_eq!(connection["status_reason"], Value::Null);
    assert_eq!(connection["diagnosis"], Value::Null);
}

#[tokio::test]
async fn revoking_one_users_tokens_expires_the_connection_as_refresh_token_revoked() {
    let (app, id) = connected_app().await;
    // After a refresh that worked, so the refusal is not the token's first use.
    refresh_succeeds(&app, &id).await;
    let revoke = app
        .sandbox_post(
            &format!("/_sandbox/apps/{CLIENT_ID}/revoke"),
            json!({"username": "admin@sandbox.example"}),
        )
        .await;
    assert_eq!(revoke.status(), StatusCode::OK);
    app.advance(2 * HOUR).await;

    let diagnosis = assert_expired_diagnosed(
        &app,
        &id,
        "refresh_token_revoked",
        "possible",
        "Connected Apps OAuth Usage",
    )
    .await;
    assert_eq!(
        diagnosis["evidence"][2],
        "Possible causes: a user or admin revoked access, the app was blocked or uninstalled, or a refresh token policy tether was not told about"
    );
}

#[tokio::test]
async fn blocking_the_app_expires_the_connection_as_session_blocked() {
    let (app, id) = connected_app().await;
    refresh_succeeds(&app, &id).await;
    app.block_app().await;
    // Blocking ends the session at once: the caller's 401 is reported with rejected_token.
    let current = app.access_token(&id).await;
    let answer = crate::probes::Answer::of(app.token_rejecting(&id, &current).await).await;

    // The probe after invalid_grant finds the session refused as "not valid for use with the
    // REST API": a Block, not a refresh token policy.
    assert_expired_problem(&answer, "session_blocked", &expired_token_error());
    let connection = app.connection(&id).await;
    assert_eq!(connection["status"], "expired");
    assert_diagnosis(
        &connection["diagnosis"],
        "session_blocked",
        "likely",
        "Unblock",
    );
}

#[tokio::test]
async fn an_inactive_user_expires_the_connection_as_user_inactive() {
    let (app, id) = connected_app().await;
    app.sandbox_patch(
        "/_sandbox/users/admin@sandbox.example",
        json!({"active": false}),
    )
    .await;
    app.advance(2 * HOUR).await;

    let refusal = provider_error("inactive_user", "user is inactive");
    assert_expired(&app, &id, "user_inactive", &refusal).await;
    let diagnosis = app.connection(&id).await["diagnosis"].clone();
    assert_diagnosis(
        &diagnosis,
        "user_inactive",
        "certain",
        "Setup > Users > Users > (the user) > Edit: tick Active",
    );
    assert_eq!(
        diagnosis["title"],
        "The Salesforce user is inactive or frozen"
    );
}

#[tokio::test]
async fn rotation_is_safe_tether_always_presents_the_latest_refresh_token() {
    let app = app_with_policy(json!({"rotation": true})).await;
    let id = app.connect().await;
    let first_refresh_token = app.stored_refresh_token(&id).await;

    let mut seen = vec![app.access_token(&id).await];
    for _ in 0..3 {
        seen.push(refresh_succeeds(&app, &id).await);
    }
    seen.dedup();
    assert_eq!(seen.len(), 4);
    assert_ne!(app.stored_refresh_token(&id).await, first_refresh_token);
    assert_eq!(app.refresh_calls().await, 3);
    let events = app.events(&id).await;
    assert_eq!(
        events[0]["detail"],
        "refreshed the access token; the provider rotated the refresh token"
    );
    // Reuse detection would have revoked the chain: the sandbox still holds one live token.
    assert_eq!(app.live_refresh_tokens().await, 1);
}
