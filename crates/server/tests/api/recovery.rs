//! A connection Salesforce refused for a setting that left its refresh token alive (here the
//! user's Login IP Ranges) comes back by itself once the admin fixes the setting: on "Check
//! now", or at the scheduler's next recheck, with a `recovered` event; a cause that killed
//! the refresh token is never retried.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};
use crate::support::connected_app;

const ADMIN: &str = "admin@sandbox.example";

/// Connects, then restricts the user to IPs tether is not on, and lets the access token lapse:
/// the next refresh expires the connection as `ip_restricted`.
async fn connected_then_ip_restricted(app: &TestApp) -> String {
    let id = app.connect().await;
    admin_restricts_ip_ranges(app).await;
    app.advance(2 * 3600).await;
    assert_eq!(app.token(&id).await.status(), StatusCode::CONFLICT);
    let connection = app.connection(&id).await;
    assert_eq!(connection["status"], "expired");
    assert_eq!(connection["status_reason"], "ip_restricted");
    id
}

/// The admin restricts the default user to IPs tether is not on: every login from tether,
/// a refresh included, is refused from now on.
pub async fn admin_restricts_ip_ranges(app: &TestApp) {
    app.sandbox_patch(
        &format!("/_sandbox/users/{ADMIN}"),
        json!({"login_ip_ranges": ["10.0.0.0/8"]}),
    )
    .await;
    app.sandbox_put("/_sandbox/network", json!({"client_ip": "203.0.113.9"}))
        .await;
}

/// The admin lifts the default user's Login IP Ranges again.
pub async fn admin_relaxes_ip_ranges(app: &TestApp) {
    app.sandbox_patch(
        &format!("/_sandbox/users/{ADMIN}"),
        json!({"login_ip_ranges": []}),
    )
    .await;
}

#[tokio::test]
async fn check_now_brings_back_a_connection_whose_ip_restriction_the_admin_lifted() {
    let app = spawn_app().await;
    let id = connected_then_ip_restricted(&app).await;

    let still = app.check(&id).await;
    assert_eq!(still["status"], "expired", "nothing fixed yet: {still}");

    admin_relaxes_ip_ranges(&app).await;
    let back = app.check(&id).await;
    assert_eq!(back["status"], "active", "{back}");
    assert_eq!(back["status_reason"], serde_json::Value::Null);
    app.working_token(&id).await;
    let events = app.events(&id).await;
    let recovered = events
        .iter()
        .find(|e| e["kind"] == "recovered")
        .expect("a recovered event");
    assert_eq!(
        recovered["detail"],
        "recovered without a reconnect: the provider accepts the refresh token again, so ip_restricted was fixed"
    );
}

#[tokio::test]
async fn the_scheduler_rechecks_a_recoverable_connection_when_due_and_callers_get_tokens_again() {
    let app = spawn_app().await;
    let id = connected_then_ip_restricted(&app).await;
    admin_relaxes_ip_ranges(&app).await;
    let calls = app.refresh_calls().await;

    // Before the first recheck is due (an hour), nothing asks Salesforce.
    app.advance_and_tick(50 * 60).await;
    assert_eq!(app.refresh_calls().await, calls);
    assert_eq!(app.token(&id).await.status(), StatusCode::CONFLICT);

    app.advance_and_tick(10 * 60).await;
    assert_eq!(
        app.refresh_calls_reaching(calls + 1).await,
        calls + 1,
        "one recheck"
    );
    assert_eq!(app.status_reaching(&id, "active").await, "active");
    assert_eq!(app.token(&id).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_revoked_connection_is_never_rechecked() {
    let (app, id) = connected_app().await;
    app.revoke_after_one_refresh(&id).await;
    assert_eq!(app.token(&id).await.status(), StatusCode::CONFLICT);
    let calls = app.refresh_calls().await;

    app.advance_and_tick(24 * 3600).await;
    app.check(&id).await;
    assert_eq!(
        app.refresh_calls().await,
        calls,
        "a dead refresh token is not presented again"
    );
    assert_eq!(app.connection(&id).await["status"], "expired");
}

/// The admin's change that makes Salesforce refuse the refresh token, and the one that fixes it.
struct AdminFix {
    cause: &'static str,
    breaks: serde_json::Value,
    fixes: serde_json::Value,
    /// Where the change is made: the default user, or the Connected App.
    on_user: bool,
}

/// The admin makes `change` on the default user (`on_user`) or on the Connected App.
pub async fn admin_changes(app: &TestApp, on_user: bool, change: serde_json::Value) {
    if on_user {
        app.sandbox_patch(&format!("/_sandbox/users/{ADMIN}"), change)
            .await;
    } else {
        app.patch_app(change).await;
    }
}

#[tokio::test]
async fn check_now_brings_back_a_connection_whose_deactivated_user_or_missing_admin_approval_the_admin_fixed()
 {
    let fixes = [
        AdminFix {
            cause: "user_inactive",
            breaks: json!({"active": false}),
            fixes: json!({"active": true}),
            on_user: true,
        },
        AdminFix {
            cause: "user_not_approved",
            breaks: json!({"permitted_users": "admin_approved", "approved_users": []}),
            fixes: json!({"approved_users": [ADMIN]}),
            on_user: false,
        },
    ];
    for fix in fixes {
        let (app, id) = connected_app().await;
        admin_changes(&app, fix.on_user, fix.breaks).await;
        app.advance(2 * 3600).await;
        assert_eq!(app.token(&id).await.status(), StatusCode::CONFLICT);
        let refused = app.connection(&id).await;
        assert_eq!(refused["status"], "expired", "{refused}");
        assert_eq!(refused["status_reason"], fix.cause, "{refused}");

        admin_changes(&app, fix.on_user, fix.fixes).await;
        let back = app.check(&id).await;
        assert_eq!(back["status"], "active", "{}: {back}", fix.cause);
        app.working_token(&id).await;
        let events = app.events(&id).await;
        assert!(
            events.iter().any(|e| e["kind"] == "recovered"),
            "{}: {events:#?}",
            fix.cause
        );
    }
}
