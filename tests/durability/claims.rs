//! Background jobs survive the death of the instance that claimed them: a `tether serve`
//! claims every due keep-alive, is killed with SIGKILL while working through them, and a
//! second instance on the same database does the rest once the claims lapse — each
//! connection's refresh token used exactly once, as the org's login history shows.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Options, Scenario, eventually_every, exclusive};

/// Connections due at once.
const CONNECTIONS: usize = 20;
/// `keepalive_seconds`: the shortest the setting allows.
const KEEPALIVE_SECONDS: u64 = 60;

/// Successful refreshes per user in the org's login history.
async fn refreshes_by_user(s: &Scenario) -> HashMap<String, usize> {
    let mut by_user = HashMap::new();
    for row in s.org.refresh_rows().await {
        if row["status"] == "Success" {
            let user = row["username"].as_str().unwrap_or_default().to_owned();
            *by_user.entry(user).or_insert(0) += 1;
        }
    }
    by_user
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_claimed_by_an_instance_killed_with_sigkill_are_done_once_by_another_after_the_claims_lapse()
 {
    let _turn = exclusive().await;
    let options = Options {
        env: vec![
            ("TETHER_KEEPALIVE_SECONDS", KEEPALIVE_SECONDS.to_string()),
            // One call a second to the org: the claimer works slowly through its claim.
            ("TETHER_PROVIDER_CALLS_PER_ORG_PER_SECOND", "1".to_owned()),
        ],
        ..Options::rotation(true)
    };
    let mut s = Scenario::start(options).await;
    let mut ids = Vec::new();
    for n in 0..CONNECTIONS {
        ids.push(s.connect_new_user(&format!("due{n}")).await);
    }
    let before = refreshes_by_user(&s).await;
    assert!(
        before.is_empty(),
        "connecting refreshes nothing: {before:?}"
    );

    // Stopped while the keep-alives fall due, so that its first pass claims them all; then
    // it starts one a second.
    s.tether.stop(Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(KEEPALIVE_SECONDS + 2)).await;
    s.tether.start().await;
    eventually_every(
        "the first instance starts the keep-alives",
        Duration::from_secs(30),
        Duration::from_millis(20),
        async || {
            let done = refreshes_by_user(&s).await.len();
            if done >= 2 {
                Ok(())
            } else {
                Err(format!("{done} refreshed"))
            }
        },
    )
    .await;
    // Between two calls (a second apart): nothing is in flight at the org.
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.tether.kill9();
    let killed_at = Instant::now();
    let done_by_first = refreshes_by_user(&s).await.len();
    assert!(
        done_by_first < CONNECTIONS,
        "the first instance was killed before it finished: {done_by_first}"
    );

    // A second instance on the same database, at the org's normal pace.
    let mut second = s.tether.sibling("tether-2");
    second.set_env("TETHER_PROVIDER_CALLS_PER_ORG_PER_SECOND", "5");
    second.start().await;
    let lapse = Duration::from_secs(2 * s.tether.timing.lease_seconds);
    eventually_every(
        "the second instance does the rest",
        lapse + Duration::from_secs(60),
        Duration::from_millis(200),
        async || {
            let done = refreshes_by_user(&s).await;
            if done.len() == CONNECTIONS {
                Ok(())
            } else {
                Err(format!("{} of {CONNECTIONS} refreshed", done.len()))
            }
        },
    )
    .await;
    let took = killed_at.elapsed();
    println!(
        "the first instance did {done_by_first}; the second finished the other {} \
         {took:?} after the kill (claims last {lapse:?})",
        CONNECTIONS - done_by_first
    );

    // Each refresh token was used exactly once, and every connection works.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let done = refreshes_by_user(&s).await;
    let twice: Vec<_> = done.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "refreshed more than once: {twice:?}");
    let api = s.api.at(&second.base);
    for id in &ids {
        let connection: Value = api.connection(id).await;
        assert_eq!(connection["status"], "active", "{connection}");
    }
}
