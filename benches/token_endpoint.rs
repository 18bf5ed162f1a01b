//! The token endpoint under load, against `GET /healthz` of the same server, in one run.
//!
//! `cargo bench --bench token_endpoint` (needs `wrk`: `apt-get install wrk`). Starts tether
//! (release build, SQLite in a temp dir) and the sandbox in this process, connects one account
//! over HTTP, then runs wrk (32 connections, 2 threads) against `/healthz` and against
//! `POST /v1/connections/{id}/token` for a valid token, and prints both with their ratio.
//! Then it connects 1,000 accounts, moves the shared clock past their tokens' lifetime and
//! times 1,000 concurrent token requests that each need a refresh.

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is the failure report

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use serde_json::{Value, json};
use tether_core::clock::{Clock, VirtualClock};
use tether_core::ids::WorkspaceName;
use tether_sandbox::Sandbox;
use tether_server::auth::new_api_key;
use tether_server::bootstrap::build_state;
use tether_server::settings::ServeConfig;
use tether_store::crypto::{Keyring, MasterKey};
use tokio_util::sync::CancellationToken;

#[path = "support/wrk.rs"]
mod support_wrk;
use support_wrk::wrk;

const CLIENT_ID: &str = "bench-app";
const CLIENT_SECRET: &str = "bench-secret";
const STORM: usize = 1_000;

struct Stack {
    tether: String,
    sandbox: String,
    key: String,
    http: reqwest::Client,
    clock: Arc<VirtualClock>,
    _dir: tempfile::TempDir,
    _shutdown: tokio_util::sync::DropGuard,
    _sandbox: tether_sandbox::SpawnedSandbox,
}

async fn start() -> Stack {
    let clock = Arc::new(VirtualClock::new());
    let spawned = Sandbox::spawn_local(true, clock.clone()).await.unwrap();
    let sandbox = spawned.base_url.as_str().trim_end_matches('/').to_owned();
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tether = format!("http://{}", listener.local_addr().unwrap());
    let config = ServeConfig {
        database: format!("sqlite://{}/bench.db", dir.path().display()),
        public_url: tether.clone(),
        extra_provider_hosts: vec![format!(
            "{}:{}",
            spawned.base_url.host_str().unwrap(),
            spawned.base_url.port().unwrap()
        )],
        ..ServeConfig::default()
    };
    let keyring = Keyring::new(MasterKey::generate(), vec![]);
    let state = build_state(&config, keyring, clock.clone()).await.unwrap();
    let now = clock.now();
    let ws = state
        .store
        .ensure_workspace(&WorkspaceName::parse("bench").unwrap(), now)
        .await
        .unwrap();
    let made = new_api_key(&ws.id, now);
    state.store.insert_api_key(&made.record).await.unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(tether_server::serve(listener, state, shutdown.clone()));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let stack = Stack {
        tether,
        sandbox,
        key: made.key.expose().to_owned(),
        http,
        clock,
        _dir: dir,
        _shutdown: shutdown.drop_guard(),
        _sandbox: spawned,
    };
    stack.setup().await;
    stack
}

impl Stack {
    async fn setup(&self) {
        let app = json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "callback_urls": [format!("{}/oauth/callback", self.tether)]});
        let r = self
            .http
            .post(format!("{}/_sandbox/apps", self.sandbox))
            .json(&app)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let connector = json!({"provider": "salesforce", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "login_url": self.sandbox});
        let r = self
            .http
            .put(format!("{}/v1/connectors/salesforce", self.tether))
            .bearer_auth(&self.key)
            .json(&connector)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    async fn follow(&self, url: &str) -> String {
        let r = self.http.get(url).send().await.unwrap();
        r.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Connects `username` (created in the sandbox first) through the whole HTTP flow.
    async fn connect(&self, username: &str) -> String {
        let user = json!({"username": username, "password": "pw", "active": true});
        self.http
            .post(format!("{}/_sandbox/users", self.sandbox))
            .json(&user)
            .send()
            .await
            .unwrap();
        let session: Value = self
            .http
            .post(format!("{}/v1/connect-sessions", self.tether))
            .bearer_auth(&self.key)
            .json(
                &json!({"connector": "salesforce", "end_user_id": username, "login_hint": username,
                "redirect_to": "https://app.example/done"}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let authorize = self.follow(session["connect_url"].as_str().unwrap()).await;
        let callback = self.follow(&authorize).await;
        let done = self.follow(&callback).await;
        let url = url::Url::parse(&done).unwrap();
        url.query_pairs()
            .find(|(k, _)| k == "connection_id")
            .map(|(_, v)| v.into_owned())
            .unwrap()
    }

    async fn token_status(&self, id: &str) -> u16 {
        self.http
            .post(format!("{}/v1/connections/{id}/token", self.tether))
            .bearer_auth(&self.key)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }
}

#[tokio::main]
async fn main() {
    let stack = start().await;
    let id = stack.connect("bench0@sandbox.example").await;
    assert_eq!(stack.token_status(&id).await, 200);

    let script_dir = tempfile::tempdir().unwrap();
    let script = script_dir.path().join("token.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Authorization\"] = \"Bearer {}\"\n",
            stack.key
        ),
    )
    .unwrap();
    let token_url = format!("{}/v1/connections/{id}/token", stack.tether);
    let health = tokio::task::spawn_blocking({
        let url = format!("{}/healthz", stack.tether);
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
            let stack = &stack;
            async move { stack.connect(&format!("storm{i}@sandbox.example")).await }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    println!("connected {STORM} accounts in {:.1?}", setup.elapsed());
    stack.clock.advance(chrono::Duration::hours(2));
    let started = Instant::now();
    let statuses = futures::future::join_all(ids.iter().map(|id| stack.token_status(id))).await;
    let wall = started.elapsed();
    let failed = statuses.iter().filter(|s| **s != 200).count();
    println!(
        "{STORM} connections needing a refresh at once: {wall:.1?} wall, {failed} failed, {:.0} refreshes/s",
        STORM as f64 / wall.as_secs_f64()
    );
    assert_eq!(failed, 0);
}
