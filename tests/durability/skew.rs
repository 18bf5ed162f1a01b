//! Salesforce's clock 3 hours off tether's: `issued_at` in its answers is hours in the future
//! or the past. With 4-second sessions, tether must still notice the real expiry and refresh
//! exactly once for 300 concurrent callers, all of whom get the same working token.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Options, Scenario, Timing, eventually, exclusive};

const THREE_HOURS: i64 = 3 * 60 * 60;
const SESSION_TIMEOUT_SECONDS: u64 = 4;
const CALLERS: usize = 300;

async fn one_refresh_for_300_callers_once_the_token_expires(clock_offset_seconds: i64) {
    let _turn = exclusive().await;
    let options = Options {
        app_policy: json!({"session_timeout_seconds": SESSION_TIMEOUT_SECONDS}),
        session_timeout_hint: Some(SESSION_TIMEOUT_SECONDS),
        // 300 callers on a debug build: room for the one refresh to answer.
        timing: Timing {
            provider_timeout_seconds: 5,
            lease_seconds: 15,
        },
        key_file: false,
        env: Vec::new(),
    };
    let s = Scenario::start(options).await;
    s.org.set_clock_offset(clock_offset_seconds).await;
    let id = s.connect_new_user("skewed").await;

    let first = s.api.token(&id, false).await;
    let old = first.access_token().expect("a token after connecting");
    assert_eq!(
        s.org.refresh_rows().await.len(),
        0,
        "a token just issued is served as it is, whatever Salesforce's clock says"
    );
    // In real time: the org's own view, read without using the token (a REST call would
    // restart its idle timer).
    let expiry = Duration::from_secs(SESSION_TIMEOUT_SECONDS + 20);
    eventually("Salesforce expires the access token", expiry, async || {
        let seen = s.org.introspect(old).await;
        match seen["active"].as_bool() {
            Some(false) => Ok(()),
            _ => Err(seen.to_string()),
        }
    })
    .await;
    assert_eq!(s.org.query(old).await, StatusCode::UNAUTHORIZED);

    let before = s.org.refresh_rows().await.len();
    let calls = (0..CALLERS).map(|_| s.api.token(&id, false));
    let answers = futures::future::join_all(calls).await;
    let after = s.org.refresh_rows().await.len();
    assert_eq!(after - before, 1, "exactly one refresh reaches Salesforce");
    let refused: Vec<String> = answers
        .iter()
        .filter(|a| a.status != StatusCode::OK)
        .map(ToString::to_string)
        .collect();
    assert!(refused.is_empty(), "every caller gets a token: {refused:?}");
    let tokens: BTreeSet<&str> = answers.iter().filter_map(|a| a.access_token()).collect();
    assert_eq!(tokens.len(), 1, "every caller gets the same token");
    let new = tokens.into_iter().next().expect("one token");
    assert_ne!(new, old, "a new token");
    assert_eq!(
        s.org.query(new).await,
        StatusCode::OK,
        "the new token works"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_salesforce_3_hours_ahead_an_expired_token_is_refreshed_once_for_300_callers() {
    one_refresh_for_300_callers_once_the_token_expires(THREE_HOURS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_salesforce_3_hours_behind_an_expired_token_is_refreshed_once_for_300_callers() {
    one_refresh_for_300_callers_once_the_token_expires(-THREE_HOURS).await;
}
