//! One test per cause of diagnosis.md that the sandbox can produce: the org is driven into the
//! state (policies, clock, revoke, IP ranges, approvals, installation, secrets, API access,
//! token endpoint faults) and the test reads what a user reads: the diagnosis's cause, its
//! confidence, and a step naming the Salesforce setting to change.
//!
//! Covered elsewhere, with the same [`assert_diagnosis`]: the refresh-token policies, revoke,
//! Block and an inactive user in `policies.rs`; the blocked REST session in `proxy.rs`.
//! Not producible through the sandbox, so tested on the engine's rules in
//! `tether_core::diagnosis::engine`: `org_inactive` (the sandbox has no way to lock its org)
//! and `refresh_token_reused` (tether would have to lose a rotated token it was sent).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{AppOptions, TestApp, spawn_app, spawn_app_with};
use crate::probes::{
    Answer, assert_expired_problem, assert_provider_error, expired_token_error, provider_error,
};
use crate::recovery::{admin_relaxes_ip_ranges, admin_restricts_ip_ranges};
use crate::support::{LIMITS, app_with_policy, app_with_session_timeout, connected_app};

const HOUR: i64 = 3600;
const ADMIN: &str = "admin@sandbox.example";

/// Asserts a diagnosis's cause and confidence, and that one of its steps names `setting`.
pub fn assert_diagnosis(diagnosis: &Value, cause: &str, confidence: &str, setting: &str) {
    assert_eq!(diagnosis["cause"], cause, "{diagnosis:#}");
    assert_eq!(diagnosis["confidence"], confidence, "{diagnosis:#}");
    let steps = diagnosis["steps"].as_array().cloned().unwrap_or_default();
    assert!(
        steps
            .iter()
            .any(|s| s["detail"].as_str().is_some_and(|d| d.contains(setting))),
        "no step names {setting:?}: {diagnosis:#}"
    );
}

/// The step titles of a diagnosis, in order.
pub fn step_titles(diagnosis: &Value) -> Vec<String> {
    diagnosis["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .map(|s| s["title"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Creates an active sandbox user (password `sandbox`).
pub async fn create_user(app: &TestApp, username: &str) {
    let body = json!({"username": username, "password": "sandbox", "active": true});
    let r = app.sandbox_post("/_sandbox/users", body).await;
    assert!(r.status().is_success(), "create user {username}");
}

/// The 503 `provider-unavailable` answer's diagnosis, after checking status and reason and
/// the diagnosis as [`assert_diagnosis`] does.
fn unavailable_diagnosis(answer: &Answer, reason: &str, confidence: &str, setting: &str) -> Value {
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.text
    );
    let body = answer.json();
    assert_eq!(body["status_reason"], reason, "{body}");
    let diagnosis = body["diagnosis"].clone();
    assert_diagnosis(&diagnosis, reason, confidence, setting);
    diagnosis
}

/// The diagnosis of a connection whose token request now answers the 409 for `reason` with
/// `provider_error`, after checking it as [`assert_diagnosis`] does.
async fn expired_diagnosis(
    app: &TestApp,
    id: &str,
    reason: &str,
    provider_error: &Value,
    confidence: &str,
    setting: &str,
) -> Value {
    assert_expired_problem(&app.token_answer(id).await, reason, provider_error);
    let diagnosis = app.connection(id).await["diagnosis"].clone();
    assert_diagnosis(&diagnosis, reason, confidence, setting);
    diagnosis
}

#[tokio::test]
async fn a_refused_ip_expires_as_ip_restricted_certain_and_points_to_ip_relaxation() {
    let (app, id) = connected_app().await;
    admin_restricts_ip_ranges(&app).await;
    app.advance(2 * HOUR).await;

    let refusal = provider_error("invalid_grant", "IP restricted or invalid login hours");
    let diagnosis = expired_diagnosis(
        &app,
        &id,
        "ip_restricted",
        &refusal,
        "certain",
        "IP Relaxation",
    )
    .await;
    assert_diagnosis(&diagnosis, "ip_restricted", "certain", "Login IP Ranges");
    assert_eq!(
        diagnosis["title"],
        "Salesforce refused tether's IP address (Login IP Ranges or Login Hours)"
    );
    assert_eq!(
        diagnosis["evidence"],
        json!(["Salesforce answered invalid_grant: IP restricted or invalid login hours"])
    );
}

#[tokio::test]
async fn the_sixth_approval_of_the_same_user_expires_the_first_connection_as_approval_limit() {
    let app = spawn_app().await;
    let first = app.connect_as("u-1", Some(ADMIN)).await;
    for n in 2..=6 {
        app.connect_as(&format!("u-{n}"), Some(ADMIN)).await;
    }
    app.advance(2 * HOUR).await;

    let diagnosis = expired_diagnosis(
        &app,
        &first,
        "approval_limit",
        &expired_token_error(),
        "likely",
        "at most 5 refresh tokens per user per Connected App",
    )
    .await;
    assert_eq!(
        diagnosis["evidence"][1],
        "The same Salesforce user authorized this connector 5 more times after this connection was made; Salesforce keeps 5 approvals per user per app and revokes the oldest"
    );
    assert_eq!(
        step_titles(&diagnosis)[..3],
        [
            "Know the 5-approvals limit",
            "Reconnect",
            "Remove duplicate connections"
        ]
    );
}

#[tokio::test]
async fn a_user_removed_from_an_admin_approved_app_expires_as_user_not_approved_naming_permitted_users()
 {
    let (app, id) = connected_app().await;
    app.patch_app(json!({"permitted_users": "admin_approved", "approved_users": []}))
        .await;
    app.advance(2 * HOUR).await;

    let refusal = provider_error(
        "invalid_app_access",
        "user is not admin approved to access this app",
    );
    let diagnosis = expired_diagnosis(
        &app,
        &id,
        "user_not_approved",
        &refusal,
        "certain",
        "Permitted Users",
    )
    .await;
    assert_eq!(
        diagnosis["title"],
        "The Salesforce user is not allowed to use this Connected App"
    );
}

#[tokio::test]
async fn an_uninstalled_app_degrades_as_app_not_installed_certain_and_says_how_to_install_it() {
    let (app, id) = connected_app().await;
    app.patch_app(json!({"installed": false})).await;
    app.advance(2 * HOUR).await;

    let diagnosis = unavailable_diagnosis(
        &app.token_answer(&id).await,
        "app_not_installed",
        "certain",
        "Connected Apps OAuth Usage > (your app) > Install",
    );
    assert_provider_error(
        &diagnosis,
        "invalid_client",
        "app must be installed into org",
    );
    // The user's token is not at fault: no reconnect is asked for.
    assert!(!step_titles(&diagnosis).contains(&"Reconnect".to_owned()));
    let connection = app.connection(&id).await;
    assert_eq!(connection["status"], "degraded");
    assert_eq!(connection["status_reason"], "app_not_installed");
}

#[tokio::test]
async fn a_wrong_client_secret_is_diagnosed_certain_with_the_consumer_secret_step_and_no_reconnect()
{
    let (app, id) = connected_app().await;
    app.put_wrong_client_secret().await;
    app.advance(2 * HOUR).await;

    let diagnosis = unavailable_diagnosis(
        &app.token_answer(&id).await,
        "client_credentials_invalid",
        "certain",
        "Consumer Secret",
    );
    assert_eq!(
        diagnosis["evidence"],
        json!([
            "Salesforce answered invalid_client: invalid client credentials",
            "Salesforce refused the connector's own credentials, not the user's token"
        ])
    );
    assert_eq!(
        step_titles(&diagnosis),
        ["Fix the connector", "No reconnect needed"]
    );
}

#[tokio::test]
async fn api_access_turned_off_is_diagnosed_as_api_disabled_after_the_proxy_passes_the_403_through()
{
    let (app, id) = connected_app().await;
    app.patch_app(json!({"api_enabled": false})).await;

    let answer = Answer::of(app.proxy_get(&id, LIMITS).await).await;

    // The proxy returns Salesforce's answer unchanged...
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);
    assert_eq!(answer.json()[0]["errorCode"], "API_DISABLED_FOR_ORG");
    // ...and the connection explains it to whoever looks at it.
    let diagnosis = app.connection(&id).await["diagnosis"].clone();
    assert_diagnosis(&diagnosis, "api_disabled", "certain", "API Enabled");
}

#[tokio::test]
async fn a_429_from_the_token_endpoint_degrades_as_rate_limited_certain_and_says_to_wait() {
    let app = app_with_session_timeout(600).await;
    let id = app.connect().await;
    app.fail_token_endpoint(429, 0, 10).await;
    app.advance(601).await;

    let diagnosis = unavailable_diagnosis(
        &app.token_answer(&id).await,
        "rate_limited",
        "certain",
        "API Requests, Last 24 Hours",
    );
    assert_eq!(
        diagnosis["title"],
        "Salesforce is limiting requests for now"
    );
    assert_eq!(step_titles(&diagnosis), ["Wait"]);
    assert_eq!(app.connection(&id).await["status"], "degraded");
}

#[tokio::test]
async fn a_token_endpoint_that_never_answers_is_only_likely_provider_unavailable() {
    let app = spawn_app_with(AppOptions {
        session_timeout_seconds: Some(600),
        provider_timeout_seconds: Some(1),
        ..AppOptions::default()
    })
    .await;
    let id = app.connect().await;
    app.fail_token_endpoint(503, 1_600, 1).await;
    app.advance(601).await;

    // No answer, so no provider error to quote: tether does not claim certainty.
    let diagnosis = unavailable_diagnosis(
        &app.token_answer(&id).await,
        "provider_unavailable",
        "likely",
        "status.salesforce.com",
    );
    assert_eq!(diagnosis["provider_error"], Value::Null);
    assert_eq!(
        diagnosis["evidence"],
        json!(["The last refresh attempt failed for a reason that may pass"])
    );
}

#[tokio::test]
async fn a_rest_session_refused_for_the_ip_is_told_from_a_block_by_one_refresh_and_comes_back_when_the_admin_fixes_it()
 {
    let (app, id) = connected_app().await;
    admin_restricts_ip_ranges(&app).await;
    let refreshes = app.refresh_calls().await;

    let answer = Answer::of(app.proxy_get(&id, LIMITS).await).await;

    // Salesforce says the same for a Block and for a refused IP; the refresh tether made to
    // find out was refused with the IP named.
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text);
    assert_eq!(answer.json()["status_reason"], "ip_restricted");
    let diagnosis = answer.json()["diagnosis"].clone();
    assert_diagnosis(&diagnosis, "ip_restricted", "certain", "IP Relaxation");
    assert_eq!(app.refresh_calls().await, refreshes + 1);
    let connection = app.connection(&id).await;
    assert_eq!(connection["status"], "expired");
    assert_eq!(connection["status_reason"], "ip_restricted");

    // Not again while it is expired.
    let again = Answer::of(app.proxy_get(&id, LIMITS).await).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert_eq!(app.refresh_calls().await, refreshes + 1);

    // The admin clears the ranges; "Check now" brings the same connection back.
    admin_relaxes_ip_ranges(&app).await;
    let checked = app.check(&id).await;
    assert_eq!(checked["status"], "active", "{checked}");
    assert!(app.event_kinds(&id).await.contains(&"recovered".to_owned()));
    let back = Answer::of(app.proxy_get(&id, LIMITS).await).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.text);
}

#[tokio::test]
async fn the_immediate_policy_is_told_from_a_revoke_by_the_session_that_still_works() {
    let app = app_with_policy(json!({"refresh_token_policy": {"kind": "immediately"}})).await;
    let id = app.connect().await;
    // A forced refresh while the access token still has most of its life: Salesforce refuses
    // the refresh token, yet the session it issued keeps working.
    let forced = app.force_refresh(&id).await;
    assert_eq!(forced.status(), StatusCode::CONFLICT);

    let diagnosis = app.connection(&id).await["diagnosis"].clone();
    assert_diagnosis(
        &diagnosis,
        "refresh_token_policy_immediate",
        "likely",
        "Refresh Token Policy",
    );
    assert!(
        diagnosis["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().contains("it still works")),
        "{diagnosis:#}"
    );
}

#[tokio::test]
async fn three_connections_refused_at_their_first_refresh_after_their_sessions_ended_stay_possible()
{
    let app = app_with_policy(json!({"refresh_token_policy": {"kind": "immediately"}})).await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        let username = format!("user{n}@sandbox.example");
        create_user(&app, &username).await;
        ids.push(app.connect_as(&format!("u-{n}"), Some(&username)).await);
    }
    app.advance(2 * HOUR).await;
    for id in &ids {
        assert_eq!(app.token(id).await.status(), StatusCode::CONFLICT);
    }

    // With the sessions over there is nothing to probe: an admin's Block kills three
    // connections at their first refresh just the same, so tether does not claim to know.
    let last = app.connection(&ids[2]).await["diagnosis"].clone();
    assert_diagnosis(
        &last,
        "refresh_token_policy_immediate",
        "possible",
        "Refresh Token Policy",
    );
}
