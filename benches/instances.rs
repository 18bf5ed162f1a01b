//! Token-endpoint throughput with one, two and three instances on PostgreSQL next to one on
//! SQLite, and the token endpoint cache-cold, in one run.
//!
//! `cargo bench --bench instances` (needs `wrk`: `apt-get install wrk`; PostgreSQL at
//! `TETHER_BENCH_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`, where
//! it creates and drops a database of its own). `INSTANCES_COLD_CONNECTIONS` sets the size of
//! the cache-cold run (default 100,000).
//!
//! Every instance is a tether server in this process on its own port (as `tether serve`
//! builds it); the sandbox runs here too. wrk runs as separate processes: for N instances, N
//! wrk processes at once, one per instance, 32 connections in all, so requests are spread
//! evenly; throughput is their sum. On 2 shared cores more instances cannot add CPU: this is
//! a regression figure, not a scaling proof.
//!
//! Hot: 1,000 imported connections requested in turn (each served from the per-process
//! token cache after its first read). Cold: `INSTANCES_COLD_CONNECTIONS` imported
//! connections requested in turn, so nearly every request misses the cache (entries live
//! 1 s) and reads the store; reported as a ratio to `GET /healthz` of the same server.

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: a panic is the failure report

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use serde_json::Value;
use tether_core::clock::VirtualClock;
use tether_core::ids::random_base62;
use tether_server::settings::ServeConfig;
use tether_testkit::{AppOptions, TestApp, Tether, spawn_app_with};

#[path = "support/wrk.rs"]
mod support_wrk;
use support_wrk::{Load, wrk};

const HOT: usize = 1_000;
const WRK_CONNECTIONS: usize = 32;

/// A database with its instances, one API key and the `salesforce` connector of the sandbox
/// they call.
struct Deployment {
    /// The first instance, the sandbox and the key.
    app: TestApp,
    /// The instances added on the same database.
    more: Vec<Tether>,
}

/// The settings of every instance: tether's defaults but for the bench's pool and rate.
fn bench_settings(config: &mut ServeConfig) {
    let defaults = ServeConfig::default();
    config.provider_timeout_seconds = defaults.provider_timeout_seconds;
    config.lease_seconds = defaults.lease_seconds;
    config.database_pool_size = 20;
    // Imports call the one sandbox org as fast as the bench can.
    config.provider_calls_per_org_per_second = 1_000;
}

impl Deployment {
    /// One instance on a SQLite file, or on the PostgreSQL database `postgres`.
    async fn new(postgres: Option<String>, clock: Arc<VirtualClock>) -> Deployment {
        let app = spawn_app_with(AppOptions {
            postgres,
            clock: Some(clock),
            settings: Some(bench_settings),
            ..AppOptions::default()
        })
        .await;
        Deployment {
            app,
            more: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        1 + self.more.len()
    }

    /// Starts one more instance on the same database.
    async fn add_instance(&mut self) {
        self.more.push(self.app.second_tether().await);
    }

    /// The base URLs of the instances.
    fn bases(&self) -> Vec<String> {
        std::iter::once(&self.app.tether)
            .chain(&self.more)
            .map(|tether| tether.base.clone())
            .collect()
    }

    /// Imports `count` connections (sandbox approvals, then `POST /v1/connections/import`,
    /// one refresh each); their ids.
    async fn import(&self, prefix: &str, count: usize) -> Vec<String> {
        let mut ids = Vec::with_capacity(count);
        for chunk in (0..count).collect::<Vec<_>>().chunks(1_000) {
            let usernames: Vec<String> = chunk
                .iter()
                .map(|n| format!("{prefix}{n}@sandbox.example"))
                .collect();
            let usernames: Vec<&str> = usernames.iter().map(String::as_str).collect();
            let approvals = self.app.approvals(&usernames).await;
            let made: Vec<String> = futures::stream::iter(approvals.iter().enumerate())
                .map(|(n, approval)| async move {
                    let end_user = format!("{prefix}-{}-{n}", ids_len_marker(approval));
                    let r = self.app.import_approval(approval, &end_user).await;
                    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
                    let created: Value = r.json().await.unwrap();
                    created["id"].as_str().unwrap().to_owned()
                })
                .buffer_unordered(32)
                .collect()
                .await;
            ids.extend(made);
        }
        ids
    }
}

/// A value unique to the approval (its user id), so end-user ids never repeat.
fn ids_len_marker(approval: &Value) -> String {
    approval["user_id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| random_base62(8))
}

/// A wrk script that posts token requests for `ids` in turn, each thread from its own start.
fn token_script(dir: &Path, name: &str, key: &str, ids: &[String]) -> std::path::PathBuf {
    let list = dir.join(format!("{name}.ids"));
    std::fs::write(&list, ids.join("\n")).unwrap();
    let script = dir.join(format!("{name}.lua"));
    std::fs::write(
        &script,
        format!(
            r#"local ids = {{}}
for line in io.lines("{list}") do ids[#ids + 1] = line end
local i = 0
setup = function(thread) thread:set("offset", math.random(#ids)) end
init = function() i = tonumber(offset) or 0 end
request = function()
  i = i % #ids + 1
  return wrk.format("POST", "/v1/connections/" .. ids[i] .. "/token",
    {{["Authorization"] = "Bearer {key}"}})
end
"#,
            list = list.display()
        ),
    )
    .unwrap();
    script
}

/// Runs one wrk per base URL at once (`WRK_CONNECTIONS` split between them, 10 s); their
/// summed throughput and the worst percentiles.
async fn wrk_all(bases: &[String], path: &str, script: Option<&Path>) -> Load {
    let per = (WRK_CONNECTIONS / bases.len()).max(2);
    let runs: Vec<_> = bases
        .iter()
        .map(|base| {
            let url = format!("{base}{path}");
            let script = script.map(Path::to_path_buf);
            tokio::task::spawn_blocking(move || wrk(&url, script.as_deref(), per))
        })
        .collect();
    let mut total = Load {
        rps: 0.0,
        p50: 0.0,
        p99: 0.0,
    };
    for run in runs {
        let one = run.await.unwrap();
        total.rps += one.rps;
        total.p50 = total.p50.max(one.p50);
        total.p99 = total.p99.max(one.p99);
    }
    total
}

fn row(what: &str, load: &Load) {
    println!(
        "| {what} | {:.0} | {:.2} ms | {:.2} ms |",
        load.rps, load.p50, load.p99
    );
}

#[tokio::main]
async fn main() {
    let cold_size: usize = std::env::var("INSTANCES_COLD_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let clock = Arc::new(VirtualClock::new());
    let dir = tempfile::tempdir().unwrap();

    let pg_server = std::env::var("TETHER_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let mut pg_url = url::Url::parse(&pg_server).unwrap();
    pg_url.set_path(&format!(
        "tether_bench_{}",
        random_base62(10).to_lowercase()
    ));
    let pg_url = pg_url.to_string();

    println!("| setup | requests/s | p50 | p99 |");
    println!("|---|---|---|---|");
    let sqlite = Deployment::new(None, clock.clone()).await;
    let hot = sqlite.import("hot-sqlite", HOT).await;
    let script = token_script(dir.path(), "hot-sqlite", &sqlite.app.api_key, &hot);
    let bases = sqlite.bases();
    row(
        "SQLite, 1 instance: GET /healthz",
        &wrk_all(&bases, "/healthz", None).await,
    );
    row(
        "SQLite, 1 instance: token, 1,000 connections",
        &wrk_all(&bases, "/", Some(&script)).await,
    );

    let mut pg = Deployment::new(Some(pg_url), clock.clone()).await;
    let hot = pg.import("hot-pg", HOT).await;
    let script = token_script(dir.path(), "hot-pg", &pg.app.api_key, &hot);
    for n in 1..=3 {
        while pg.len() < n {
            pg.add_instance().await;
        }
        let bases = pg.bases();
        row(
            &format!("PostgreSQL, {n} instance(s): token, 1,000 connections"),
            &wrk_all(&bases, "/", Some(&script)).await,
        );
    }

    let started = Instant::now();
    let cold = sqlite.import("cold", cold_size).await;
    println!(
        "\nimported {cold_size} connections into SQLite in {:.1?}",
        started.elapsed()
    );
    let script = token_script(dir.path(), "cold", &sqlite.app.api_key, &cold);
    let bases = sqlite.bases();
    let health = wrk_all(&bases, "/healthz", None).await;
    let token = wrk_all(&bases, "/", Some(&script)).await;
    println!("| setup | requests/s | p50 | p99 |");
    println!("|---|---|---|---|");
    row("SQLite: GET /healthz", &health);
    row(
        &format!("SQLite: token, {cold_size} connections in turn (cache-cold)"),
        &token,
    );
    println!(
        "cache-cold token/healthz throughput ratio: {:.2}",
        token.rps / health.rps
    );

    drop(pg.more);
    drop(sqlite);
    pg.app.drop_postgres_database().await;
}
