//! `tether sandbox` under a refresh storm: 2,000 distinct refresh tokens refreshed at once.
//!
//! Starts the release binary (`cargo bench --bench sandbox_refresh`), creates 2,000 users with
//! one approval each (the 5-approvals limit is per user), then fires every refresh
//! concurrently, three rounds, and prints throughput and latency percentiles. Any non-200
//! answer fails the run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

const TOKENS: usize = 2_000;
const ROUNDS: usize = 3;
const CALLBACK: &str = "http://127.0.0.1:7878/oauth/callback";

struct Running(Child);
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sandbox() -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(["sandbox", "--listen", "127.0.0.1:0", "--auto-approve"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn tether sandbox");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("listening line");
    let url = line
        .trim()
        .strip_prefix("sandbox listening on ")
        .expect("listening line")
        .to_owned();
    (Running(child), url)
}

async fn refresh_token_for(client: &reqwest::Client, base: &str, user: &str) -> String {
    let created = client
        .post(format!("{base}/_sandbox/users"))
        .json(&json!({"username": user, "password": "pw", "active": true}))
        .send()
        .await
        .expect("create user");
    assert!(
        created.status().is_success(),
        "create user: {}",
        created.status()
    );
    let authorize = client
        .get(format!("{base}/services/oauth2/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", "sandbox-client-id"),
            ("redirect_uri", CALLBACK),
            ("scope", "api refresh_token"),
            ("login_hint", user),
        ])
        .send()
        .await
        .expect("authorize");
    let location = authorize.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let code = url::Url::parse(&location)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let tokens: Value = client
        .post(format!("{base}/services/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "sandbox-client-id"),
            ("client_secret", "sandbox-client-secret"),
            ("redirect_uri", CALLBACK),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    tokens["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned()
}

async fn refresh(client: &reqwest::Client, base: &str, token: &str) -> (u16, Duration) {
    let started = Instant::now();
    let status = client
        .post(format!("{base}/services/oauth2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", "sandbox-client-id"),
            ("client_secret", "sandbox-client-secret"),
        ])
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    (status, started.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let (_sandbox, base) = start_sandbox();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(TOKENS)
        .build()
        .expect("client");
    let setup = Instant::now();
    let tokens: Vec<String> =
        futures::stream::iter(0..TOKENS)
            .map(|i| {
                let (client, base) = (client.clone(), base.clone());
                async move {
                    refresh_token_for(&client, &base, &format!("bench{i}@sandbox.example")).await
                }
            })
            .buffer_unordered(64)
            .collect()
            .await;
    println!(
        "set-up: {TOKENS} users and refresh tokens in {:.1?}",
        setup.elapsed()
    );
    println!("| round | concurrent refreshes | errors | wall time | refreshes/s | p50 | p99 |");
    println!("|---|---|---|---|---|---|---|");
    for round in 1..=ROUNDS {
        let started = Instant::now();
        let results =
            futures::future::join_all(tokens.iter().map(|t| refresh(&client, &base, t))).await;
        let wall = started.elapsed();
        let errors = results.iter().filter(|(s, _)| *s != 200).count();
        let mut latencies: Vec<Duration> = results.iter().map(|(_, d)| *d).collect();
        latencies.sort();
        println!(
            "| {round} | {TOKENS} | {errors} | {wall:.1?} | {:.0} | {:.1?} | {:.1?} |",
            TOKENS as f64 / wall.as_secs_f64(),
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99)
        );
        assert_eq!(errors, 0, "refreshes failed in round {round}");
    }
}
