//! `kill -9` in the middle of re-encryption: the database it leaves holds values under both
//! keys, every one readable, and the next run finishes the work, after which the old key is
//! retired and every secret (client secret, tokens, pending connect flows) still works.

use std::time::Duration;

use crate::harness::{Options, Scenario, eventually_contains, exclusive};
use crate::{added_key_id, first_key_id, values_under};

/// Pending connect flows, one sealed PKCE verifier each.
const PENDING_FLOWS: usize = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reencryption_killed_half_way_is_finished_by_the_next_run() {
    let _turn = exclusive().await;
    let s = Scenario::start(Options::rotation(true).with_key_file()).await;
    let kept = s.connect_new_user("kept").await;
    let username = "waiting@durability.example";
    s.org.create_user(username).await;
    let mut pending = Vec::new();
    for n in 0..PENDING_FLOWS {
        pending.push(s.api.start_connect(&format!("u-{n}"), username).await);
    }

    let old = first_key_id();
    let new = added_key_id(&s.tether.run(&["keys", "add-master"]));
    s.tether.run(&["keys", "promote-master", &new]);
    let mut killed = s.spawn_helper(
        "reencrypt",
        s.tether
            .command(&["keys", "reencrypt", "--batch-size", "5", "--pause-ms", "20"]),
    );
    eventually_contains(
        "re-encryption makes progress",
        Duration::from_secs(30),
        "(connect_sessions.pkce_verifier)",
        || killed.output(),
    )
    .await;
    killed.kill9();
    let output = killed.output();
    let finished = output
        .lines()
        .any(|l| l.starts_with("re-encrypted ") && l.contains(" values under master key"));
    assert!(!finished, "killed before the end: {output}");

    let status = s.tether.run(&["keys", "status"]);
    let (left, done) = (values_under(&status, &old), values_under(&status, &new));
    assert!(left > 0 && done > 0, "cut half-way: {status}");

    let resumed = s.tether.run(&["keys", "reencrypt"]);
    assert!(
        resumed.contains(&format!(
            "re-encrypting {left} values under master key {new}"
        )),
        "{resumed}"
    );
    assert!(
        resumed.contains(&format!(
            "re-encrypted {left} values under master key {new}"
        )),
        "{resumed}"
    );
    let status = s.tether.run(&["keys", "status"]);
    assert_eq!(values_under(&status, &old), 0, "{status}");
    s.tether.run(&["keys", "retire-master", &old]);

    // Every kind of secret opens under the new key alone.
    let refreshed = s.api.token(&kept, true).await;
    assert_eq!(refreshed.status, 200, "{refreshed}");
    let connected = s.api.finish_connect(&pending[PENDING_FLOWS - 1]).await;
    assert_eq!(s.api.token(&connected, false).await.status, 200);
}
