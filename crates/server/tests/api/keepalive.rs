//! The keep-alive: an idle refresh token is used before an idle policy can expire it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{AppOptions, spawn_app_with};
use crate::support::app_with_policy;

#[tokio::test]
async fn the_keepalive_uses_an_idle_token_so_the_30_day_idle_limit_never_expires_it() {
    let app = app_with_policy(json!({"idle_ttl_30d": true})).await;
    let id = app.connect().await;
    // Nobody asks for a token for 60 days; the scheduler runs once a simulated day.
    for _ in 0..60 {
        app.advance_and_tick(24 * 3600).await;
    }
    let answer = app.token(&id).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let connection = app.connection(&id).await;
    assert_eq!(connection["status"], "active");
    let kept = app.events_of(&id, "kept_alive").await;
    // Default interval 7 days: 60 days of idleness are 8 keep-alive refreshes.
    assert_eq!(kept.len(), 8, "{kept:#?}");
    assert_eq!(
        kept[0]["detail"],
        "used the idle refresh token so an idle policy cannot expire it"
    );
}

#[tokio::test]
async fn a_connector_that_declares_a_one_hour_idle_limit_is_kept_alive_through_an_idle_day() {
    let one_hour = json!({"kind": "idle", "seconds": 3600});
    let app = app_with_policy(json!({ "refresh_token_policy": one_hour })).await;
    let hint = json!({ "refresh_token_policy": one_hour });
    assert_eq!(
        app.put_connector_with("salesforce", hint).await.status,
        StatusCode::OK
    );
    let id = app.connect().await;
    let calls = app.refresh_calls().await;
    let state = &app.tether.state;
    assert_eq!(
        tether_server::scheduler::next_look(state).await,
        state.settings.scheduler_max_sleep,
        "nothing is due for half an hour: the scheduler sleeps as long as it may"
    );

    // Nobody asks for a token for a day (the keep-alive default is 7 days); the scheduler
    // looks every 10 simulated minutes.
    for _ in 0..6 * 24 {
        app.advance(600).await;
        tether_server::scheduler::tick(state).await;
    }
    // Due half an hour after each use and seen at the next 10-minute look: every 30 minutes
    // (the simulated clock also runs in real time, so the look half an hour later usually
    // finds it due) or every 40 (when that look comes a hair early): never idle for 1 hour.
    let kept = app.refresh_calls().await - calls;
    assert!((36..=48).contains(&kept), "{kept} keep-alives in the day");
    assert_eq!(app.token(&id).await.status(), StatusCode::OK);
    assert_eq!(app.connection(&id).await["status"], "active");
    let events = app.events(&id).await;
    assert_eq!(events[0]["kind"], "kept_alive", "{events:#?}");

    app.advance(31 * 60).await;
    assert!(
        tether_server::scheduler::next_look(state).await < state.settings.scheduler_max_sleep,
        "a keep-alive is due: the scheduler does not sleep it away"
    );
}

#[tokio::test]
async fn a_connection_in_the_last_fifth_of_a_declared_lifetime_is_warned_once() {
    let app = spawn_app_with(AppOptions::default()).await;
    let hint = json!({"refresh_token_policy": {"kind": "lifetime", "seconds": 10 * 24 * 3600}});
    let answer = app.put_connector_with("salesforce", hint).await;
    assert_eq!(answer.status, StatusCode::OK);
    let id = app.connect().await;

    // Day 7: refreshed, no warning yet. Day 9: the warning. Day 9 + 3 h: no second one.
    for days in [7, 2] {
        app.advance(days * 24 * 3600).await;
        assert_eq!(app.token(&id).await.status(), StatusCode::OK);
    }
    app.advance(3 * 3600).await;
    assert_eq!(app.token(&id).await.status(), StatusCode::OK);

    let warnings = app.events_of(&id, "lifetime_warning").await;
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert_eq!(warnings[0]["outcome"], "warning");
    assert_eq!(
        warnings[0]["detail"],
        "Salesforce will expire this connection's refresh token in about 23 hours (\"Expire refresh token after 10 days\"): reconnect it before then, or set the Connected App's Refresh Token Policy to \"Refresh token is valid until revoked\""
    );
}

/// Connections due at once in the three-instance tests.
const DUE_AT_ONCE: usize = 1_000;
/// How long three instances may take to keep them all alive (a debug build on 2 shared
/// cores; a release build takes a fraction of it).
const ALL_DONE_WITHIN: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_on_sqlite_keep_a_thousand_due_connections_alive_each_exactly_once() {
    three_instances_keep_due_connections_alive_each_exactly_once(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_on_postgres_keep_a_thousand_due_connections_alive_each_exactly_once() {
    let Some(database) = crate::helpers::postgres_database() else {
        return;
    };
    three_instances_keep_due_connections_alive_each_exactly_once(Some(database)).await;
}

/// Refreshes the org granted, per username, from its login history.
async fn refreshes_by_user(app: &crate::helpers::TestApp) -> HashMap<String, usize> {
    let mut by_user = HashMap::new();
    for row in app.login_history().await {
        if row["grant_type"] == "refresh_token" && row["status"] == "Success" {
            let user = row["username"].as_str().unwrap_or_default().to_owned();
            *by_user.entry(user).or_insert(0) += 1;
        }
    }
    by_user
}

async fn three_instances_keep_due_connections_alive_each_exactly_once(postgres: Option<String>) {
    let app = spawn_app_with(AppOptions {
        postgres,
        // Every connection is in the one sandbox org: let the instances call it freely.
        provider_calls_per_org_per_second: Some(1_000),
        ..AppOptions::default()
    })
    .await;
    let usernames: Vec<String> = (0..DUE_AT_ONCE)
        .map(|n| format!("due{n}@sandbox.example"))
        .collect();
    let names: Vec<&str> = usernames.iter().map(String::as_str).collect();
    let approvals = app.approvals(&names).await;
    let imported: Vec<StatusCode> = futures::stream::iter(approvals.iter().enumerate())
        .map(|(n, approval)| {
            let app = &app;
            async move {
                app.import_approval(approval, &format!("u-{n}"))
                    .await
                    .status()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(
        imported.iter().all(|s| *s == StatusCode::CREATED),
        "{imported:?}"
    );
    let imported = refreshes_by_user(&app).await;
    assert_eq!(imported.len(), DUE_AT_ONCE, "one refresh per import");

    // Three servers on one database, each with its own scheduler loop running.
    let second = app.second_tether().await;
    let third = app.second_tether().await;
    let jobs = || {
        [&app.tether, &second, &third]
            .iter()
            .map(|t| t.state.metrics.scheduler_jobs.get())
            .sum::<u64>()
    };
    let jobs_before = jobs();

    // Eight idle days: every connection is due for its keep-alive at once, and the three
    // schedulers run a pass at the same moment (their own loops keep running too).
    app.advance(8 * 24 * 3600).await;
    let started = Instant::now();
    tokio::join!(
        tether_server::scheduler::tick(&app.tether.state),
        tether_server::scheduler::tick(&second.state),
        tether_server::scheduler::tick(&third.state),
    );
    loop {
        let done = jobs() - jobs_before;
        if done >= DUE_AT_ONCE as u64 {
            break;
        }
        assert!(
            started.elapsed() < ALL_DONE_WITHIN,
            "{done} of {DUE_AT_ONCE} keep-alives ran within {ALL_DONE_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed();
    // Let every loop run a few more passes: nothing is due any more.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    println!("three instances kept {DUE_AT_ONCE} connections alive in {took:?}");

    assert_eq!(
        jobs() - jobs_before,
        DUE_AT_ONCE as u64,
        "each due job was claimed by one instance: none ran twice"
    );
    let refreshed = refreshes_by_user(&app).await;
    let wrong: Vec<_> = refreshed.iter().filter(|(_, n)| **n != 2).collect();
    assert!(
        wrong.is_empty(),
        "each connection refreshed once by its import and once by its keep-alive: {wrong:?}"
    );
    assert_eq!(refreshed.len(), DUE_AT_ONCE);
    drop((second, third));
    app.drop_postgres_database().await;
}
