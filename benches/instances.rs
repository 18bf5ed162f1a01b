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
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use serde_json::{Value, json};
use tether_core::clock::{Clock, VirtualClock};
use tether_core::ids::{WorkspaceName, random_base62};
use tether_sandbox::Sandbox;
use tether_server::auth::new_api_key;
use tether_server::bootstrap::build_state;
use tether_server::settings::ServeConfig;
use tether_store::crypto::{Keyring, MasterKey};
use tokio_util::sync::{CancellationToken, DropGuard};

const CLIENT_ID: &str = "bench-app";
const CLIENT_SECRET: &str = "bench-secret";
const HOT: usize = 1_000;
const WRK_CONNECTIONS: usize = 32;

/// One tether server in this process.
struct Instance {
    base: String,
    _shutdown: DropGuard,
}

/// A database with its instances, one API key and the sandbox they call.
struct Deployment {
    instances: Vec<Instance>,
    key: String,
    sandbox: String,
    http: reqwest::Client,
    config: ServeConfig,
    keyring: Keyring,
    clock: Arc<VirtualClock>,
}

impl Deployment {
    /// One instance on `database`, with an API key and the `salesforce` connector.
    async fn new(database: &str, sandbox: &str, clock: Arc<VirtualClock>) -> Deployment {
        let host = url::Url::parse(sandbox).unwrap();
        let config = ServeConfig {
            database: database.to_owned(),
            extra_provider_hosts: vec![format!(
                "{}:{}",
                host.host_str().unwrap(),
                host.port().unwrap()
            )],
            database_pool_size: 20,
            // Imports call the one sandbox org as fast as the bench can.
            provider_calls_per_org_per_second: 1_000,
            ..ServeConfig::default()
        };
        let mut deployment = Deployment {
            instances: Vec::new(),
            key: String::new(),
            sandbox: sandbox.to_owned(),
            http: reqwest::Client::new(),
            config,
            keyring: Keyring::new(MasterKey::generate(), vec![]),
            clock,
        };
        let state = deployment.add_instance().await;
        let now = deployment.clock.now();
        let ws = state
            .store
            .ensure_workspace(&WorkspaceName::parse("bench").unwrap(), now)
            .await
            .unwrap();
        let made = new_api_key(&ws.id, now);
        state.store.insert_api_key(&made.record).await.unwrap();
        deployment.key = made.key.expose().to_owned();
        let connector = json!({"provider": "salesforce", "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "login_url": sandbox});
        let r = deployment
            .http
            .put(format!(
                "{}/v1/connectors/salesforce",
                deployment.instances[0].base
            ))
            .bearer_auth(&deployment.key)
            .json(&connector)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        deployment
    }

    /// Starts one more instance on the same database.
    async fn add_instance(&mut self) -> tether_server::AppState {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = ServeConfig {
            public_url: base.clone(),
            ..self.config.clone()
        };
        let state = build_state(&config, self.keyring.clone(), self.clock.clone())
            .await
            .unwrap();
        let shutdown = CancellationToken::new();
        tokio::spawn(tether_server::serve(
            listener,
            state.clone(),
            shutdown.clone(),
        ));
        self.instances.push(Instance {
            base,
            _shutdown: shutdown.drop_guard(),
        });
        state
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
            let approvals: Value = self
                .http
                .post(format!("{}/_sandbox/approvals", self.sandbox))
                .json(&json!({"client_id": CLIENT_ID, "usernames": usernames}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let approvals = approvals["approvals"].as_array().unwrap().clone();
            let base = &self.instances[0].base;
            let made: Vec<String> = futures::stream::iter(approvals.iter().enumerate())
                .map(|(n, approval)| async move {
                    let body = json!({
                        "connector": "salesforce",
                        "end_user_id": format!("{prefix}-{}-{n}", ids_len_marker(approval)),
                        "refresh_token": approval["refresh_token"],
                        "instance_url": approval["instance_url"],
                    });
                    let r = self
                        .http
                        .post(format!("{base}/v1/connections/import"))
                        .bearer_auth(&self.key)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
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

/// (requests/s, p50 ms, p99 ms) of one wrk run.
struct Load {
    rps: f64,
    p50: f64,
    p99: f64,
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

fn wrk(url: &str, script: Option<&Path>, connections: usize) -> Load {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", &format!("-c{connections}"), "-d10s", "--latency"]);
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    let out = cmd
        .arg(url)
        .output()
        .expect("wrk is installed (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!text.contains("Non-2xx"), "errors under load:\n{text}");
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no {prefix} in:\n{text}"))
    };
    Load {
        rps: field("Requests/sec:").parse().unwrap(),
        p50: ms(&field("50%")),
        p99: ms(&field("99%")),
    }
}

fn ms(value: &str) -> f64 {
    let (number, factor) = if let Some(v) = value.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = value.strip_suffix("ms") {
        (v, 1.0)
    } else {
        (value.trim_end_matches('s'), 1000.0)
    };
    number.parse::<f64>().unwrap() * factor
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
    let spawned = Sandbox::spawn_local(true, clock.clone()).await.unwrap();
    let sandbox = spawned.base_url.as_str().trim_end_matches('/').to_owned();
    let app = json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "callback_urls": ["http://127.0.0.1/oauth/callback"]});
    let r = reqwest::Client::new()
        .post(format!("{sandbox}/_sandbox/apps"))
        .json(&app)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
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
    let sqlite_url = format!("sqlite://{}/bench.db", dir.path().display());
    let sqlite = Deployment::new(&sqlite_url, &sandbox, clock.clone()).await;
    let hot = sqlite.import("hot-sqlite", HOT).await;
    let script = token_script(dir.path(), "hot-sqlite", &sqlite.key, &hot);
    let bases: Vec<String> = sqlite.instances.iter().map(|i| i.base.clone()).collect();
    row(
        "SQLite, 1 instance: GET /healthz",
        &wrk_all(&bases, "/healthz", None).await,
    );
    row(
        "SQLite, 1 instance: token, 1,000 connections",
        &wrk_all(&bases, "/", Some(&script)).await,
    );

    let mut pg = Deployment::new(&pg_url, &sandbox, clock.clone()).await;
    let hot = pg.import("hot-pg", HOT).await;
    let script = token_script(dir.path(), "hot-pg", &pg.key, &hot);
    for n in 1..=3 {
        while pg.instances.len() < n {
            pg.add_instance().await;
        }
        let bases: Vec<String> = pg.instances.iter().map(|i| i.base.clone()).collect();
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
    let script = token_script(dir.path(), "cold", &sqlite.key, &cold);
    let bases: Vec<String> = sqlite.instances.iter().map(|i| i.base.clone()).collect();
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

    drop(pg);
    drop(sqlite);
    use sqlx::migrate::MigrateDatabase;
    let _ = sqlx::Postgres::force_drop_database(&pg_url).await;
}
