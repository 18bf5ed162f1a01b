//! The database locked by another process for 25 s while a rotated refresh comes back: the
//! new refresh token exists only in tether's memory until the lock is released, and must be
//! saved then, not dropped.

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Options, Scenario, Timing, eventually, exclusive};

/// How long the other process holds the database.
const LOCK_SECONDS: u64 = 25;

/// Takes SQLite's write lock on the file (argv 1), says so, holds it (argv 2 seconds), commits.
const LOCKER: &str = r#"
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
print("released", flush=True)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_refresh_that_comes_back_while_another_process_locks_the_database_for_25_s_is_saved_once_the_lock_is_released()
 {
    let _turn = exclusive().await;
    let options = Options {
        // Room for the 1.5 s delay on a busy machine.
        timing: Timing {
            provider_timeout_seconds: 4,
            lease_seconds: 13,
        },
        ..Options::rotation(true)
    };
    let mut s = Scenario::start(options).await;
    let id = s.connect_new_user("locked").await;
    s.org
        .put_faults(json!({"token_endpoint": {
            "after_grant": "delay", "delay_ms": 1500, "count": 1, "grant_type": "refresh_token"
        }}))
        .await;

    let api = s.api.clone();
    let caller = tokio::spawn({
        let id = id.clone();
        async move { api.token(&id, true).await }
    });
    s.org.until_refreshes_granted(1).await;
    let mut locker = Command::new("python3");
    locker.args(["-c", LOCKER]);
    locker.arg(&s.tether.db_path).arg(LOCK_SECONDS.to_string());
    let mut locker = s.spawn_helper("sqlite-locker", locker);
    let soon = Duration::from_secs(10);
    eventually("the other process holds the lock", soon, async || {
        let said = locker.output();
        if said.contains("locked") {
            Ok(())
        } else {
            Err(said)
        }
    })
    .await;
    let events = s.api.events(&id).await;
    assert!(
        !events.iter().any(|e| e["kind"] == "refreshed"),
        "the lock came before tether saved the rotated token: {events:?}"
    );

    let released = locker
        .exit_within(Duration::from_secs(LOCK_SECONDS + 15))
        .await;
    assert!(
        released.is_some_and(|s| s.success()),
        "the lock is released: {}",
        locker.output()
    );
    let answer = caller.await.expect("the waiting caller");
    println!("the caller that forced the refresh got: {answer}");
    eventually("the rotated token is saved", soon, async || {
        let events = s.api.events(&id).await;
        if events.iter().any(|e| e["kind"] == "refreshed") {
            Ok(())
        } else {
            Err(format!("{events:?}"))
        }
    })
    .await;
    assert_eq!(s.api.connection(&id).await["status"], "active");
    let current = s.api.token(&id, false).await;
    let token = current.access_token().expect("a token after the lock");
    assert_eq!(s.org.query(token).await, StatusCode::OK, "the token works");

    // On disk, not only in memory: a restarted process presents the rotated token.
    s.tether.kill9();
    s.tether.start().await;
    let forced = s.api.token(&id, true).await;
    assert_eq!(
        forced.status,
        StatusCode::OK,
        "a forced refresh presents the rotated token: {forced}"
    );
    let token = forced.access_token().expect("a token");
    assert_eq!(s.org.query(token).await, StatusCode::OK);
    let connection = s.api.connection(&id).await;
    assert_eq!(connection["status"], "active", "{connection}");
    assert_eq!(
        s.org.refreshes_refused().await,
        Vec::<String>::new(),
        "Salesforce refused no refresh"
    );
}
