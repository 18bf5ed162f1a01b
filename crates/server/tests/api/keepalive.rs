//! The keep-alive: an idle refresh token is used before an idle policy can expire it.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{AppOptions, spawn_app_with};

#[tokio::test]
async fn the_keepalive_uses_an_idle_token_so_the_30_day_idle_limit_never_expires_it() {
    let app = spawn_app_with(AppOptions {
        app_policy: Some(json!({"idle_ttl_30d": true})),
        ..AppOptions::default()
    })
    .await;
    let id = app.connect().await;
    // Nobody asks for a token for 60 days; the scheduler runs once a simulated day.
    for _ in 0..60 {
        app.advance(24 * 3600).await;
        tether_server::scheduler::tick(&app.tether.state).await;
    }
    let answer = app.token(&id).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let connection = app.connection(&id).await;
    assert_eq!(connection["status"], "active");
    let events = app.events(&id).await;
    let kept: Vec<_> = events
        .iter()
        .filter(|e| e["kind"] == "kept_alive")
        .collect();
    // Default interval 7 days: 60 days of idleness are 8 keep-alive refreshes.
    assert_eq!(kept.len(), 8, "{events:#?}");
    assert_eq!(
        kept[0]["detail"],
        "used the idle refresh token so an idle policy cannot expire it"
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

    let events = app.events(&id).await;
    let warnings: Vec<_> = events
        .iter()
        .filter(|e| e["kind"] == "lifetime_warning")
        .collect();
    assert_eq!(warnings.len(), 1, "{events:#?}");
    assert_eq!(warnings[0]["outcome"], "warning");
    assert_eq!(
        warnings[0]["detail"],
        "Salesforce will expire this connection's refresh token in about 23 hours (\"Expire refresh token after 10 days\"): reconnect it before then, or set the Connected App's Refresh Token Policy to \"Refresh token is valid until revoked\""
    );
}

#[tokio::test]
async fn three_instances_keep_thirty_due_connections_alive_each_exactly_once() {
    const CONNECTIONS: usize = 30;
    let app = spawn_app_with(AppOptions::default()).await;
    let mut ids = Vec::new();
    for n in 0..CONNECTIONS {
        let user = format!("user{n}@sandbox.example");
        crate::diagnosis::create_user(&app, &user).await;
        ids.push(app.connect_as(&format!("u-{n}"), Some(&user)).await);
    }
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
    let calls = app.refresh_calls().await;

    // Eight idle days: every connection is due for its keep-alive at once, and the three
    // schedulers run a pass at the same moment (their own loops keep running too).
    app.advance(8 * 24 * 3600).await;
    tokio::join!(
        tether_server::scheduler::tick(&app.tether.state),
        tether_server::scheduler::tick(&second.state),
        tether_server::scheduler::tick(&third.state),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while app.refresh_calls().await < calls + CONNECTIONS {
        assert!(
            std::time::Instant::now() < deadline,
            "the keep-alives did not all run"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Let every loop run a few more passes: nothing is due any more.
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert_eq!(
        app.refresh_calls().await,
        calls + CONNECTIONS,
        "one refresh per connection"
    );
    assert_eq!(
        jobs() - jobs_before,
        CONNECTIONS as u64,
        "each due job was claimed by one instance: none ran twice"
    );
    for id in &ids {
        let kept = app
            .events(id)
            .await
            .iter()
            .filter(|e| e["kind"] == "kept_alive")
            .count();
        assert_eq!(kept, 1, "{id}");
    }
}
