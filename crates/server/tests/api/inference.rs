//! Policy inference end to end: under a Connected App's "Expire refresh token after 5 days"
//! that nobody told tether about, three connections made a day apart and kept in use die one
//! after the other at the same age; by the third, tether names the policy it read off them.
//! The same in seconds for an idle limit: refreshed every second, then left alone 6 s.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::diagnosis::{assert_diagnosis, create_user};
use crate::helpers::TestApp;
use crate::support::app_with_policy;

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;
const LIFETIME: i64 = 5 * DAY;

/// Advances the clock an hour at a time for `hours`, asking for a token of every live
/// connection after each step (as an app in use does); records when each one dies.
async fn keep_in_use(
    app: &TestApp,
    live: &mut Vec<String>,
    died: &mut HashMap<String, i64>,
    hours: i64,
    start: i64,
) {
    for hour in 1..=hours {
        app.advance(HOUR).await;
        let mut still = Vec::new();
        for id in live.drain(..) {
            match app.token(&id).await.status() {
                StatusCode::OK => still.push(id),
                StatusCode::CONFLICT => {
                    died.insert(id, start + hour);
                }
                other => panic!("token of {id}: {other}"),
            }
        }
        *live = still;
    }
}

#[tokio::test]
async fn three_connections_dying_at_the_same_age_reveal_the_lifetime_policy_tether_was_not_told() {
    let app =
        app_with_policy(json!({"refresh_token_policy": {"kind": "lifetime", "seconds": LIFETIME}}))
            .await;
    let mut ids = Vec::new();
    let mut live = Vec::new();
    let mut died = HashMap::new();
    for n in 0..3 {
        let username = format!("user{n}@sandbox.example");
        create_user(&app, &username).await;
        let id = app.connect_as(&format!("u-{n}"), Some(&username)).await;
        ids.push(id.clone());
        live.push(id);
        if n < 2 {
            keep_in_use(&app, &mut live, &mut died, 24, n * 24).await;
        }
    }
    keep_in_use(&app, &mut live, &mut died, LIFETIME / HOUR + 2, 48).await;

    // Each died at the first refresh past its age of 5 days (refreshes come every 2 hours).
    assert!(live.is_empty(), "still live: {live:?}");
    for (n, id) in ids.iter().enumerate() {
        let connected_at = 24 * n as i64;
        assert_eq!(died[id] - connected_at, LIFETIME / HOUR, "connection {n}");
    }
    // The first two alone explain nothing.
    let first = app.connection(&ids[0]).await["diagnosis"].clone();
    assert_diagnosis(
        &first,
        "refresh_token_revoked",
        "possible",
        "Connected Apps OAuth Usage",
    );
    let third = app.connection(&ids[2]).await;
    assert_eq!(third["status"], "expired");
    assert_eq!(third["status_reason"], "refresh_token_policy_lifetime");
    let diagnosis = &third["diagnosis"];
    assert_diagnosis(
        diagnosis,
        "refresh_token_policy_lifetime",
        "likely",
        "\"Expire refresh token after\" is not selected",
    );
    assert_eq!(
        diagnosis["evidence"][1],
        "Refresh tokens of this connector kept working after up to 2 hours unused and up to 4 days old, and 3 were refused after 2 hours or more unused, at 5 days old or more: the Connected App likely has \"Expire refresh token after 5 days\" (more than 4 days and at most 5 days)"
    );
    assert_eq!(
        diagnosis["evidence"][2],
        "This refresh token was 5 days old and unused for 2 hours"
    );

    let connector = app.call(Method::GET, "/v1/connectors/salesforce").await;
    assert_eq!(connector.status, StatusCode::OK, "{}", connector.text);
    let inferred = &connector.json()["inferred_policy"];
    assert_eq!(inferred["kind"], "lifetime", "{inferred}");
    assert_eq!(inferred["confidence"], "likely", "{inferred}");
    assert!(
        inferred["observations"].as_u64().unwrap_or_default() > 3,
        "{inferred}"
    );
    assert_eq!(inferred["description"], "Expire refresh token after 5 days");
    let at_most = inferred["at_most_seconds"].as_i64().unwrap_or_default();
    let at_least = inferred["at_least_seconds"].as_i64().unwrap_or_default();
    assert!(at_least < LIFETIME && LIFETIME <= at_most, "{inferred}");
}

/// Connects `user`, refreshes its token every second for `used_for` seconds, leaves it alone
/// `left` seconds and asks again: the status of that last answer. Every refresh is forced
/// by reporting the current access token as rejected while it is still within its life.
pub async fn used_then_left(
    app: &TestApp,
    n: usize,
    used_for: i64,
    left: i64,
) -> (String, StatusCode) {
    let username = format!("idle{n}@sandbox.example");
    create_user(app, &username).await;
    let id = app.connect_as(&format!("idle-{n}"), Some(&username)).await;
    for _ in 0..used_for {
        app.advance(1).await;
        let used = app.access_token(&id).await;
        let fresh = app.token_rejecting(&id, &used).await;
        assert_eq!(fresh.status(), StatusCode::OK, "refresh of {id}");
    }
    app.advance(left).await;
    let used = app.access_token(&id).await;
    let status = app.token_rejecting(&id, &used).await.status();
    (id, status)
}

#[tokio::test]
async fn tokens_refused_after_six_seconds_unused_while_one_second_gaps_survived_reveal_an_idle_limit()
 {
    let app =
        app_with_policy(json!({"refresh_token_policy": {"kind": "idle", "seconds": 5}})).await;
    let mut last = String::new();
    for (n, used_for) in [3, 9, 15].into_iter().enumerate() {
        let (id, status) = used_then_left(&app, n, used_for, 6).await;
        assert_eq!(status, StatusCode::CONFLICT, "connection {n} died");
        last = id;
    }

    // A token still worked at 15 s old while another died at 9 s: no lifetime fits. Gaps of
    // 1 s survived and gaps of 6 s killed: an idle limit between the two.
    let diagnosis = app.connection(&last).await["diagnosis"].clone();
    assert_diagnosis(
        &diagnosis,
        "refresh_token_idle",
        "likely",
        "\"Expire refresh token if not used for\" is not selected",
    );
    let connector = app.call(Method::GET, "/v1/connectors/salesforce").await;
    assert_eq!(connector.status, StatusCode::OK, "{}", connector.text);
    let inferred = &connector.json()["inferred_policy"];
    assert_eq!(inferred["kind"], "idle", "{inferred}");
    assert_eq!(inferred["confidence"], "likely", "{inferred}");
    assert_eq!(inferred["at_least_seconds"], 1, "{inferred}");
    assert_eq!(inferred["at_most_seconds"], 6, "{inferred}");
    assert!(inferred.get("alternative").is_none(), "{inferred}");
    assert_eq!(
        inferred["description"],
        "Expire refresh token if not used for 5 seconds"
    );
}
