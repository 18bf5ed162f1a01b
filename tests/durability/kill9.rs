//! `kill -9` in the middle of refresh storms, 100 times over, then what each
//! connection's user sees (`storm::run`).

use crate::harness::{Scenario, exclusive};
use crate::storm::{self, CrashLoop, Outcome};

/// Kills without rotation: the old refresh token always stays valid, so nothing may be lost.
const KILLS_WITHOUT_ROTATION: usize = 100;
/// Kills with rotation: a kill between Salesforce's rotation and tether's save can lose one.
const KILLS_WITH_ROTATION: usize = 100;
/// With rotation, at most one connection lost per this many kills.
const KILLS_PER_ALLOWED_LOSS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_refresh_storms_without_rotation_leaves_every_connection_active_with_a_working_token()
 {
    let _turn = exclusive().await;
    let (_scenario, outcome) = crash_loop(KILLS_WITHOUT_ROTATION, false).await;
    assert!(
        outcome.losses().is_empty(),
        "every connection ends active with a working token (report above)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_rotating_refresh_storms_loses_at_most_one_connection_per_50_kills_and_calls_it_refresh_token_reused()
 {
    let _turn = exclusive().await;
    let (_scenario, outcome) = crash_loop(KILLS_WITH_ROTATION, true).await;
    for lost in outcome.losses() {
        assert!(
            lost.status == "expired"
                && lost.status_reason.as_deref() == Some("refresh_token_reused"),
            "a connection lost to a crash is expired with status_reason refresh_token_reused, \
             never a customer cause: {lost}"
        );
    }
    assert!(
        outcome.losses().len() * KILLS_PER_ALLOWED_LOSS <= outcome.plan.kills,
        "at most one loss per {KILLS_PER_ALLOWED_LOSS} kills: {} in {}",
        outcome.losses().len(),
        outcome.plan.kills
    );
}

/// Runs a crash loop of `default_kills` kills (see [`kills_from_env`]) with rotation on or off
/// and prints its report; the scenario lives on while the caller asserts.
async fn crash_loop(default_kills: usize, rotation: bool) -> (Scenario, Outcome) {
    let plan = CrashLoop::new(kills_from_env(default_kills), rotation);
    let (scenario, outcome) = storm::run(&plan).await;
    println!("{}", outcome.report());
    (scenario, outcome)
}

/// The kill count: `DURABILITY_KILLS` when set (a quick local run), else `default`.
fn kills_from_env(default: usize) -> usize {
    std::env::var("DURABILITY_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(default)
}
