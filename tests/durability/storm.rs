//! The crash loop of the kill -9 tests and the crash soak: connections refreshed by a storm of
//! forced refreshes while tether is killed with SIGKILL at random moments and started again
//! on the same port and database. A connection the storm finds expired is a loss: its fate is
//! recorded after the restart and a newly connected user takes its place, so a long soak
//! never runs out of connections to lose. After the last kill, every remaining connection is
//! audited for what its user sees.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use reqwest::StatusCode;
use tokio::task::JoinHandle;

use crate::harness::{Answer, Api, Options, Scenario};

/// How long a storm client waits for one answer before it moves on (its refresh, already
/// handed to tether, carries on without it).
const CLIENT_PATIENCE: Duration = Duration::from_secs(2);
/// The longest pause a storm client takes between two requests (milliseconds).
const MAX_PAUSE_MS: u64 = 40;
/// When the kill comes after the storm starts (milliseconds, uniform).
const KILL_AFTER_MS: std::ops::RangeInclusive<u64> = 300..=1_500;

/// One crash loop's plan.
#[derive(Debug, Clone)]
pub struct CrashLoop {
    pub kills: usize,
    /// The sandbox Connected App rotates refresh tokens.
    pub rotation: bool,
    /// Connections in use at once, one sandbox user each (a lost one is replaced).
    pub connections: usize,
    /// Concurrent storm clients.
    pub clients: usize,
    /// Seeds which connection each request names, the pauses and the kill moments.
    pub seed: u64,
    /// Print a progress line every this many kills.
    pub progress_every: Option<usize>,
}

impl CrashLoop {
    /// 8 connections, 4 clients, the seed from `DURABILITY_SEED` or a random one.
    pub fn new(kills: usize, rotation: bool) -> CrashLoop {
        let seed = std::env::var("DURABILITY_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(rand::random);
        CrashLoop {
            kills,
            rotation,
            connections: 8,
            clients: 4,
            seed,
            progress_every: None,
        }
    }
}

/// What one connection's user sees after the last restart.
#[derive(Debug, Clone)]
pub struct Fate {
    pub id: String,
    /// The answer that showed its fate: the storm's 409, or the audit's forced refresh (after
    /// any lease of a killed process lapsed).
    pub answer: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub cause: Option<String>,
    pub confidence: Option<String>,
    /// The token tether handed out works on the sandbox's REST API.
    pub token_works: bool,
}

impl Fate {
    /// Active, with a token that works.
    pub fn is_alive(&self) -> bool {
        self.status == "active" && self.token_works
    }
}

impl std::fmt::Display for Fate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let none = || "-".to_owned();
        write!(
            f,
            "{}: status {}, status_reason {}, diagnosis {} ({}), token works: {}, answer: {}",
            self.id,
            self.status,
            self.status_reason.clone().unwrap_or_else(none),
            self.cause.clone().unwrap_or_else(none),
            self.confidence.clone().unwrap_or_else(none),
            self.token_works,
            self.answer
        )
    }
}

/// The result of a crash loop.
#[derive(Debug)]
pub struct Outcome {
    pub plan: CrashLoop,
    pub fates: Vec<Fate>,
    /// Refreshes the sandbox granted, and refused, over the whole run.
    pub granted: usize,
    pub refused: usize,
    pub elapsed: Duration,
}

impl Outcome {
    /// Connections a user would have to reconnect.
    pub fn losses(&self) -> Vec<&Fate> {
        self.fates.iter().filter(|f| !f.is_alive()).collect()
    }

    /// Kills, losses, the rate, every loss's diagnosis and the wall time, one per line.
    pub fn report(&self) -> String {
        let losses = self.losses();
        let per_1000 = losses.len() as f64 * 1000.0 / self.plan.kills.max(1) as f64;
        let mut lines = vec![
            format!(
                "rotation {}, seed {}, {} connections, {} storm clients",
                if self.plan.rotation { "on" } else { "off" },
                self.plan.seed,
                self.plan.connections,
                self.plan.clients
            ),
            format!("kills: {}", self.plan.kills),
            format!(
                "refreshes granted by the sandbox: {} (refused: {})",
                self.granted, self.refused
            ),
            format!(
                "losses: {} ({per_1000:.1} per 1,000 kills), {} connections in all",
                losses.len(),
                self.fates.len()
            ),
        ];
        lines.extend(losses.iter().map(|f| format!("  lost {f}")));
        lines.push(format!("wall time: {:.1?}", self.elapsed));
        lines.join("\n")
    }
}

/// Runs the crash loop; the scenario is returned so its processes (and, on a failed
/// assertion, its logs) live until the caller is done.
pub async fn run(plan: &CrashLoop) -> (Scenario, Outcome) {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let mut scenario = Scenario::start(Options::rotation(plan.rotation)).await;
    let pool = Arc::new(Pool::default());
    let mut users = 0;
    for _ in 0..plan.connections {
        let id = connect_next_user(&scenario, &mut users).await;
        pool.ids.lock().expect("pool").push(id);
    }
    let mut fates = Vec::new();
    for kill in 1..=plan.kills {
        let storm = Storm::start(&pool, &scenario.api, plan.clients, rng.next_u64());
        // The random moment of the crash: the experiment itself, not a wait for something.
        tokio::time::sleep(Duration::from_millis(rng.gen_range(KILL_AFTER_MS))).await;
        scenario.tether.kill9();
        drop(storm);
        scenario.tether.start().await;
        fates.extend(replace_lost(&scenario, &pool, &mut users).await);
        if plan.progress_every.is_some_and(|every| kill % every == 0) {
            println!(
                "{kill} kills, {:.0?}, {} refreshes granted, {} lost",
                started.elapsed(),
                scenario.org.refreshes_granted().await,
                fates.len()
            );
        }
    }
    let ids = pool.ids.lock().expect("pool").clone();
    fates.extend(audit(&scenario, &ids).await);
    let outcome = Outcome {
        plan: plan.clone(),
        fates,
        granted: scenario.org.refreshes_granted().await,
        refused: scenario.org.refreshes_refused().await.len(),
        elapsed: started.elapsed(),
    };
    (scenario, outcome)
}

/// The connections the storm uses, and those it found expired (409) since the last look.
#[derive(Debug, Default)]
struct Pool {
    ids: Mutex<Vec<String>>,
    expired: Mutex<Vec<(String, Answer)>>,
}

/// Connects a new sandbox user (`crash-{n}`).
async fn connect_next_user(scenario: &Scenario, users: &mut usize) -> String {
    *users += 1;
    scenario.connect_new_user(&format!("crash-{users}")).await
}

/// Records the fate of each connection the storm found expired and puts a newly connected
/// one in its place (what its user would do), so losses never run out of connections.
async fn replace_lost(scenario: &Scenario, pool: &Pool, users: &mut usize) -> Vec<Fate> {
    let expired = std::mem::take(&mut *pool.expired.lock().expect("pool"));
    let mut fates: Vec<Fate> = Vec::new();
    for (id, answer) in expired {
        if fates.iter().any(|f| f.id == id) {
            continue;
        }
        fates.push(describe(scenario, &id, &answer).await);
        let replacement = connect_next_user(scenario, users).await;
        let mut ids = pool.ids.lock().expect("pool");
        if let Some(slot) = ids.iter_mut().find(|slot| **slot == id) {
            *slot = replacement;
        }
    }
    fates
}

/// Storm clients, each forcing refreshes of random connections with small random pauses;
/// stopped when dropped.
struct Storm(Vec<JoinHandle<()>>);

impl Storm {
    fn start(pool: &Arc<Pool>, api: &Api, clients: usize, seed: u64) -> Storm {
        let tasks = (0..clients as u64).map(|client| {
            let (pool, api) = (Arc::clone(pool), api.clone());
            let mut rng = StdRng::seed_from_u64(seed ^ client);
            tokio::spawn(async move {
                loop {
                    let id = {
                        let ids = pool.ids.lock().expect("pool");
                        ids[rng.gen_range(0..ids.len())].clone()
                    };
                    let answer = api.try_token(&id, true, CLIENT_PATIENCE).await;
                    if let Ok(answer) = answer
                        && answer.status == StatusCode::CONFLICT
                    {
                        pool.expired.lock().expect("pool").push((id, answer));
                    }
                    let pause = rng.gen_range(0..=MAX_PAUSE_MS);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
            })
        });
        Storm(tasks.collect())
    }
}

impl Drop for Storm {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Every connection's fate, audited concurrently.
async fn audit(scenario: &Scenario, ids: &[String]) -> Vec<Fate> {
    // A refresh that a killed process left holding its lease waits (or answers 503) until
    // the lease lapses; past twice the lease and a margin, a 503 is the user's answer.
    let patience = Duration::from_secs(scenario.tether.timing.lease_seconds * 2 + 30);
    let fates = ids.iter().map(|id| fate(scenario, id, patience));
    futures::future::join_all(fates).await
}

/// One forced refresh, retried while it answers 503, and what the user then sees.
async fn fate(scenario: &Scenario, id: &str, patience: Duration) -> Fate {
    let deadline = Instant::now() + patience;
    let answer = loop {
        let answer = scenario.api.token(id, true).await;
        if answer.status != StatusCode::SERVICE_UNAVAILABLE || Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    describe(scenario, id, &answer).await
}

/// The connection as its user sees it after `answer`: status, reason, diagnosis, and whether
/// the token handed out (if any) works on the REST API.
async fn describe(scenario: &Scenario, id: &str, answer: &Answer) -> Fate {
    let token_works = match answer.access_token() {
        Some(token) => scenario.org.query(token).await == StatusCode::OK,
        None => false,
    };
    let connection = scenario.api.connection(id).await;
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    Fate {
        id: id.to_owned(),
        answer: answer.to_string(),
        status: text(&connection["status"]).unwrap_or_default(),
        status_reason: text(&connection["status_reason"]),
        cause: text(&connection["diagnosis"]["cause"]),
        confidence: text(&connection["diagnosis"]["confidence"]),
        token_works,
    }
}
