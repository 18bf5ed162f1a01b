//! SIGTERM (a deploy, a scale-down) while a slow rotated refresh is in flight: Salesforce has
//! already rotated the refresh token, so tether must wait for the answer and save it before
//! it exits, whether or not the caller that asked is still waiting.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::task::JoinHandle;

use crate::harness::{Answer, Options, Scenario, Timing, exclusive};

/// How long the sandbox holds the refresh's answer after granting it.
const ANSWER_DELAY_MS: u64 = 3_000;
/// How long tether may take to exit after SIGTERM: the rest of the delay, the save, margin.
const EXIT_BOUND: Duration = Duration::from_secs(20);

/// A scenario whose next refresh is granted at once and answered 3 s later.
async fn slow_rotated_refresh() -> (Scenario, String) {
    let options = Options {
        // The provider timeout leaves room for the 3 s answer on a busy machine.
        timing: Timing {
            provider_timeout_seconds: 6,
            lease_seconds: 17,
        },
        ..Options::rotation(true)
    };
    let s = Scenario::start(options).await;
    let id = s.connect_new_user("terminated").await;
    s.org
        .put_faults(json!({"token_endpoint": {
            "after_grant": "delay", "delay_ms": ANSWER_DELAY_MS, "count": 1,
            "grant_type": "refresh_token"
        }}))
        .await;
    (s, id)
}

/// [`slow_rotated_refresh`], with a caller waiting for a forced refresh that Salesforce has
/// granted but not yet answered.
async fn slow_rotated_refresh_in_flight() -> (Scenario, String, JoinHandle<Answer>) {
    let (s, id) = slow_rotated_refresh().await;
    let api = s.api.clone();
    let caller = tokio::spawn({
        let id = id.clone();
        async move { api.token(&id, true).await }
    });
    s.org.until_refreshes_granted(1).await;
    (s, id, caller)
}

/// SIGTERM, then tether exits 0 within the bound.
async fn terminate_and_expect_a_clean_exit(s: &mut Scenario) {
    let status = s.tether.stop(EXIT_BOUND).await;
    assert!(
        status.success(),
        "tether exits 0 within {EXIT_BOUND:?} of SIGTERM: {status:?}"
    );
}

/// After a restart, the rotated token is the one on disk: a forced refresh presents it and
/// Salesforce accepts it.
async fn assert_the_rotated_token_was_saved(s: &mut Scenario, id: &str) {
    s.tether.start().await;
    let forced = s.api.token(id, true).await;
    assert_eq!(
        forced.status,
        StatusCode::OK,
        "a forced refresh after the restart presents the rotated token: {forced}"
    );
    let token = forced.access_token().expect("a token");
    assert_eq!(s.org.query(token).await, StatusCode::OK, "the token works");
    let connection = s.api.connection(id).await;
    assert_eq!(connection["status"], "active", "{connection}");
    assert_eq!(
        s.org.refreshes_refused().await,
        Vec::<String>::new(),
        "Salesforce refused no refresh"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_slow_rotated_refresh_waits_for_the_answer_and_saves_it_for_the_caller_still_waiting()
 {
    let _turn = exclusive().await;
    let (mut s, id, caller) = slow_rotated_refresh_in_flight().await;
    terminate_and_expect_a_clean_exit(&mut s).await;
    let answer = caller.await.expect("the waiting caller");
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "the caller gets its token: {answer}"
    );
    assert_the_rotated_token_was_saved(&mut s, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_slow_rotated_refresh_waits_for_the_answer_and_saves_it_after_the_caller_gave_up()
 {
    let _turn = exclusive().await;
    let (mut s, id, caller) = slow_rotated_refresh_in_flight().await;
    // The caller hangs up (its own timeout, a cancelled job) before tether is told to stop.
    caller.abort();
    assert!(caller.await.is_err_and(|e| e.is_cancelled()));
    terminate_and_expect_a_clean_exit(&mut s).await;
    assert_the_rotated_token_was_saved(&mut s, &id).await;
}
