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
