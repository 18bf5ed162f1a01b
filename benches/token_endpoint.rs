//! The token endpoint under load, against `GET /healthz` of the same server, in one run.
//!
//! `cargo bench --bench token_endpoint` (needs `wrk`: `apt-get install wrk`). Starts tether
//! (release build, SQLite in a temp dir) and the sandbox in this process, connects one account
//! over HTTP, then runs wrk (32 connections, 2 threads) against `/healthz` and against
//! `POST /v1/connections/{id}/token` for a valid token, and prints both with their ratio.
//! Then it connects 1,000 accounts, moves the shared clock past their tokens' lifetime and
//! times 1,000 concurrent token requests that each need a refresh.

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is the failure report

use std::time::Instant;

use futures::StreamExt;
use reqwest::Method;
use tether_server::settings::ServeConfig;
use tether_testkit::{AppOptions, TestApp, spawn_app_with};

#[path = "support/wrk.rs"]
mod support_wrk;
use support_wrk::wrk;

const STORM: usize = 1_000;

/// The test app with tether's default provider timeout and lease, as `tether serve` runs.
async fn start() -> TestApp {
    spawn_app_with(AppOptions {
        settings: Some(|config| {
            let defaults = ServeConfig::default();
            config.provider_timeout_seconds = defaults.provider_timeout_seconds;
            config.lease_seconds = defaults.lease_seconds;
        }),
        ..AppOptions::default()
    })
    .await
}

/// Connects `username` (created in the sandbox first) through the whole HTTP flow.
async fn connect(app: &TestApp, username: &str) -> String {
    app.create_sandbox_user(username).await;
    app.connect_as(username, Some(username)).await
}

/// The status of a token request, 0 when it got no answer.
async fn token_status(app: &TestApp, id: &str) -> u16 {
    app.api(Method::POST, &format!("/v1/connections/{id}/token"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let app = start().await;
    let id = connect(&app, "bench0@sandbox.example").await;
    assert_eq!(token_status(&app, &id).await, 200);

    let script_dir = tempfile::tempdir().unwrap();
    let script = script_dir.path().join("token.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Authorization\"] = \"Bearer {}\"\n",
            app.api_key
        ),
    )
    .unwrap();
    let token_url = app.url(&format!("/v1/connections/{id}/token"));
    let health = tokio::task::spawn_blocking({
        let url = app.url("/healthz");
        move || wrk(&url, None, 32)
    })
    .await
    .unwrap();
    let token = tokio::task::spawn_blocking(move || wrk(&token_url, Some(&script), 32))
        .await
        .unwrap();
    println!("| endpoint | requests/s | p50 | p99 |");
    println!("|---|---|---|---|");
    println!(
        "| GET /healthz | {:.0} | {:.2} ms | {:.2} ms |",
        health.rps, health.p50, health.p99
    );
    println!(
        "| POST /v1/connections/{{id}}/token (valid token) | {:.0} | {:.2} ms | {:.2} ms |",
        token.rps, token.p50, token.p99
    );
    println!(
        "token/healthz throughput ratio: {:.2}",
        token.rps / health.rps
    );

    let setup = Instant::now();
    let ids: Vec<String> = futures::stream::iter(0..STORM)
        .map(|i| {
            let app = &app;
            async move { connect(app, &format!("storm{i}@sandbox.example")).await }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    println!("connected {STORM} accounts in {:.1?}", setup.elapsed());
    app.clock.advance(chrono::Duration::hours(2));
    let started = Instant::now();
    let statuses = futures::future::join_all(ids.iter().map(|id| token_status(&app, id))).await;
    let wall = started.elapsed();
    let failed = statuses.iter().filter(|s| **s != 200).count();
    println!(
        "{STORM} connections needing a refresh at once: {wall:.1?} wall, {failed} failed, {:.0} refreshes/s",
        STORM as f64 / wall.as_secs_f64()
    );
    assert_eq!(failed, 0);
}
