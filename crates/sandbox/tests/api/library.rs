//! The library API tether's tests and demo call: the shared virtual clock, seeds, shutdown.

use std::sync::Arc;

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;
use tether_core::clock::VirtualClock;
use tether_sandbox::{Sandbox, SandboxError, SandboxOptions, Seed};
use url::Url;

use crate::helpers::spawn_sandbox;

#[tokio::test]
async fn advancing_the_shared_clock_outside_the_sandbox_moves_its_expiry() {
    let sandbox = spawn_sandbox().await;
    let code = sandbox.authorize_code().await;
    sandbox.clock.advance(Duration::minutes(16));
    let (status, body) = sandbox.exchange_code(&code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "expired authorization code"})
    );
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let sandbox = spawn_sandbox().await;
    let health = sandbox.url("/_sandbox/health");
    sandbox.spawned.shutdown().await.unwrap();
    assert!(sandbox.client.get(health).send().await.is_err());
}

fn options(seed: Seed) -> SandboxOptions {
    SandboxOptions {
        base_url: Url::parse("http://127.0.0.1:7879").unwrap(),
        auto_approve: true,
        clock: Arc::new(VirtualClock::new()),
        seed: Some(seed),
    }
}

#[tokio::test]
async fn seed_file_adds_users_and_apps_and_refuses_duplicates() {
    let seed = Seed::from_json(
        r#"{"users": [{"username": "ops@sandbox.example", "password": "pw", "login_ip_ranges": ["10.0.0.0/8"]}],
            "apps": [{"client_id": "seeded", "client_secret": "s", "callback_urls": ["http://x/cb"], "rotation": true}]}"#,
    )
    .unwrap();
    assert_eq!(seed.users.len(), 1);
    assert!(Sandbox::new(options(seed)).is_ok());
    let duplicate =
        Seed::from_json(r#"{"users": [{"username": "admin@sandbox.example", "password": "x"}]}"#)
            .unwrap();
    let error = Sandbox::new(options(duplicate)).unwrap_err();
    assert!(
        matches!(error, SandboxError::DuplicateUser(ref name) if name == "admin@sandbox.example"),
        "{error}"
    );
    let error = Seed::from_json(r#"{"apps": [{"client_id": "a", "client_secret": "s", "callback_urls": [], "rotaton": true}]}"#).unwrap_err();
    assert!(
        error.to_string().contains("unknown field `rotaton`"),
        "{error}"
    );
}
