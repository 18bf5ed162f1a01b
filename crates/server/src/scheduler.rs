//! Background work: retrying degraded connections when their backoff is due, keeping idle
//! refresh tokens alive before an idle policy can expire them, writing batched
//! `last_used_at` times, and sending the webhooks' due deliveries. A loop sleeps until the
//! earliest due job (or a local write, or shutdown) around [`tick`], which tests call
//! directly. The loop is supervised: a pass that panics is logged and the next one runs.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt};
use tether_core::clock::{Clock, SystemClock};
use tether_core::ids::{ConnectionId, WorkspaceId};
use tether_store::{Claim, StoreResult};
use tokio_util::sync::CancellationToken;

use crate::state::AppState;
use crate::tokens::RefreshReason;

/// The shortest sleep between two passes that found work they could not finish (a job due
/// but failing at once), so such a job is not retried in a tight loop.
const MIN_SLEEP: Duration = Duration::from_secs(1);

/// Runs until `shutdown` is cancelled, then flushes once more. Between passes it sleeps
/// until the earliest due job the database knows (at most `scheduler_max_sleep`, so other
/// instances' writes are seen), or until a local write wakes it. A pass in progress stops
/// between two connections when shutdown comes (a refresh already started completes).
pub async fn run(state: AppState, shutdown: CancellationToken) {
    let mut retention = tokio::time::interval(RETENTION_EVERY);
    let mut capped_since = state.clock.now() - CAP_LOOKBACK;
    let mut sleep = Duration::ZERO;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = state.tokens.scheduler_woken() => {}
            () = tokio::time::sleep(sleep) => {}
            _ = retention.tick() => {
                capped_since = purge(&state, capped_since).await;
                continue;
            }
        }
        let full = supervised(&state, &shutdown).await;
        sleep = if full {
            Duration::ZERO
        } else {
            until_due(&state).await
        };
    }
    flush_usage(&state).await;
}

/// How long to sleep until the earliest due job: between [`MIN_SLEEP`] and
/// `scheduler_max_sleep`.
async fn until_due(state: &AppState) -> Duration {
    let max = state.settings.scheduler_max_sleep;
    let earliest = state.store.earliest_due(state.settings.keepalive).await;
    match or_logged(earliest, "read when the next job is due").flatten() {
        Some(at) => (at - state.clock.now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .clamp(MIN_SLEEP.min(max), max),
        None => max,
    }
}

/// The answer of a background store call, or `None` once its failure is logged as "could
/// not `failed_to`": a pass that cannot read or claim its work does without it, and the next
/// pass tries again.
pub(crate) fn or_logged<T>(result: StoreResult<T>, failed_to: &str) -> Option<T> {
    result
        .inspect_err(|err| tracing::warn!(error = %err, "could not {failed_to}"))
        .ok()
}

/// How often old events and long-expired connect sessions are deleted.
const RETENTION_EVERY: Duration = Duration::from_secs(60);
/// Rows deleted per statement, so no purge holds SQLite's write lock for long.
const PURGE_BATCH: i64 = 1_000;
/// Batches per purge; what is left waits for the next one.
const PURGE_BATCHES: usize = 20;
/// Connections whose events are capped per purge; the rest wait for the next one.
const CAP_CONNECTIONS: i64 = 10_000;
/// How far back the first purge of a process looks for connections with new events.
const CAP_LOOKBACK: chrono::Duration = chrono::Duration::days(1);
/// Connect sessions are kept this long after they expire (a late callback still finds its
/// session and is told it expired).
const SESSION_GRACE: chrono::Duration = chrono::Duration::days(1);

/// Deletes events older than `events_retention_days`, connect sessions expired for more
/// than a day and page sign-ins that expired, in batches; caps the history of connections
/// that recorded events since `since` at `events_max_per_connection`. Idempotent: several
/// instances purging at once only share the work. Answers the time to give the next call.
pub async fn purge(state: &AppState, since: DateTime<Utc>) -> DateTime<Utc> {
    let now = state.clock.now();
    let keep = chrono::Duration::from_std(state.settings.events_retention)
        .unwrap_or(chrono::Duration::days(3650));
    if let Some(cutoff) = now.checked_sub_signed(keep) {
        in_batches("old events", || {
            state.store.purge_events(cutoff, PURGE_BATCH)
        })
        .await;
    }
    if let Some(cutoff) = now.checked_sub_signed(SESSION_GRACE) {
        in_batches("expired connect sessions", || {
            state.store.purge_connect_sessions(cutoff, PURGE_BATCH)
        })
        .await;
    }
    // Page sign-ins follow the wall clock, not the demo's simulated time.
    let wall = SystemClock.now();
    in_batches("expired page sign-ins", || {
        state.store.purge_page_sessions(wall, PURGE_BATCH)
    })
    .await;
    cap_events(state, since, now).await
}

/// Keeps the newest `events_max_per_connection` events of each connection that recorded one
/// since `since`; answers where the next call starts (`now`, or `since` again when some
/// connections were left for it).
async fn cap_events(state: &AppState, since: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    let keep = state.settings.events_max_per_connection;
    let capped = state.store.cap_events(since, keep, CAP_CONNECTIONS).await;
    match or_logged(capped, "cap the events of busy connections") {
        Some(capped) if capped.complete => now,
        _ => since,
    }
}

/// Runs `purge` until it deletes less than a batch, at most `PURGE_BATCHES` times.
async fn in_batches<F, Fut>(what: &str, purge: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = tether_store::StoreResult<u64>>,
{
    for _ in 0..PURGE_BATCHES {
        match purge().await {
            Ok(n) if n == PURGE_BATCH.unsigned_abs() => {}
            Ok(_) => break,
            Err(err) => {
                tracing::warn!(error = %err, "could not delete {what}");
                break;
            }
        }
    }
}

/// One pass; a panic inside it is logged, and the loop goes on. `true` when a claim came
/// back full (more is due at once).
async fn supervised(state: &AppState, shutdown: &CancellationToken) -> bool {
    let pass = AssertUnwindSafe(pass(state, shutdown)).catch_unwind();
    match pass.await {
        Ok(full) => full,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %what, "a scheduler pass panicked; the next pass runs as usual");
            false
        }
    }
}

/// One pass: flush usage, retry due connections, keep idle ones alive.
pub async fn tick(state: &AppState) {
    pass(state, &CancellationToken::new()).await;
}

/// When the scheduler of this instance would look next, from now: tests read it.
pub async fn next_look(state: &AppState) -> Duration {
    until_due(state).await
}

async fn pass(state: &AppState, shutdown: &CancellationToken) -> bool {
    flush_usage(state).await;
    let orgs = OrgLimiter::new(state.settings.provider_calls_per_org_per_second);
    let refreshes = async {
        let retried = retry_due(state, shutdown, &orgs).await;
        let kept = keep_alive(state, shutdown, &orgs).await;
        retried || kept
    };
    // Webhooks do not wait behind a wave of keep-alives.
    let (full, ()) = tokio::join!(refreshes, crate::webhooks::deliver_due(state, shutdown));
    full
}

/// Spaces background provider calls to one Salesforce org: at most `per_second` start each
/// second from this instance, so a keep-alive wave never floods an org (whose API and login
/// limits are the customer's). Orgs do not wait for each other.
#[derive(Debug)]
pub struct OrgLimiter {
    gap: Duration,
    next: parking_lot::Mutex<HashMap<String, tokio::time::Instant>>,
}

impl OrgLimiter {
    pub fn new(per_second: u32) -> Self {
        Self {
            gap: Duration::from_secs(1) / per_second.max(1),
            next: parking_lot::Mutex::default(),
        }
    }

    /// Waits for `org`'s next slot.
    pub async fn wait(&self, org: &str) {
        let slot = {
            let mut next = self.next.lock();
            let now = tokio::time::Instant::now();
            let slot = next.get(org).copied().unwrap_or(now).max(now);
            next.insert(org.to_owned(), slot + self.gap);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// How many due jobs one pass claims of each kind.
const BATCH: i64 = 100;

/// Retries degraded connections whose backoff has passed, and rechecks expired ones whose
/// cause left the refresh token alive.
async fn retry_due(state: &AppState, shutdown: &CancellationToken, orgs: &OrgLimiter) -> bool {
    let claim = claim_of(state);
    let due = state
        .store
        .due_for_retry(state.clock.now(), &claim, BATCH)
        .await;
    let Some(due) = or_logged(due, "claim connections due for retry") else {
        return false;
    };
    run_jobs(state, shutdown, orgs, due, RefreshReason::Retry).await
}

/// Uses the refresh token of every active connection idle for `settings.keepalive`, or for
/// the shorter interval of a connector whose idle limit is known.
async fn keep_alive(state: &AppState, shutdown: &CancellationToken, orgs: &OrgLimiter) -> bool {
    let now = state.clock.now();
    let claim = claim_of(state);
    let mut full = false;
    let short = state
        .store
        .short_keepalive_connectors(state.settings.keepalive)
        .await;
    let short = or_logged(short, "read connectors' keep-alive intervals").unwrap_or_default();
    for connector in short {
        let Some(cutoff) = now.checked_sub_signed(chrono_of(connector.every)) else {
            continue;
        };
        match state
            .store
            .idle_connections_of(&connector, cutoff, &claim, BATCH)
            .await
        {
            Ok(idle) => {
                full |= run_jobs(state, shutdown, orgs, idle, RefreshReason::KeepAlive).await;
            }
            Err(err) => {
                tracing::warn!(error = %err, connector = %connector.connector, "could not claim idle connections")
            }
        }
    }
    let Some(cutoff) = now.checked_sub_signed(chrono_of(state.settings.keepalive)) else {
        return full;
    };
    let idle = state.store.idle_connections(cutoff, &claim, BATCH).await;
    match or_logged(idle, "claim idle connections") {
        Some(idle) => full | run_jobs(state, shutdown, orgs, idle, RefreshReason::KeepAlive).await,
        None => full,
    }
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(366))
}

/// This instance's claim: as long as two leases, so a job whose refresh waits out another
/// holder's lease is still ours when it lands; an instance that dies loses its claims then.
fn claim_of(state: &AppState) -> Claim {
    Claim {
        owner: state.tokens.owner().to_owned(),
        length: state.settings.lease.saturating_mul(2),
    }
}

/// Runs claimed jobs, `settings.scheduler_concurrency` at a time; stops starting new ones at
/// shutdown (a refresh already started completes; unstarted claims lapse for another
/// instance). `true` when the claim was a full batch (more may be due).
async fn run_jobs(
    state: &AppState,
    shutdown: &CancellationToken,
    orgs: &OrgLimiter,
    jobs: Vec<(WorkspaceId, ConnectionId)>,
    reason: RefreshReason,
) -> bool {
    let full = i64::try_from(jobs.len()).unwrap_or(i64::MAX) >= BATCH;
    futures::stream::iter(jobs)
        .for_each_concurrent(state.settings.scheduler_concurrency, |(ws, id)| async move {
            if shutdown.is_cancelled() {
                return;
            }
            match state.store.get_connection(&ws, &id).await {
                Ok(Some(connection)) => {
                    orgs.wait(&connection.account.org_id).await;
                    let keepalive = chrono::Duration::from_std(state.settings.keepalive).ok();
                    if let Some(late) = lateness(&connection, reason, keepalive, state.clock.now()) {
                        state.metrics.scheduler_lag.observe(late.as_secs_f64());
                    }
                }
                Ok(None) => return,
                Err(err) => tracing::debug!(connection = %id, error = %err, "org unknown"),
            }
            state.metrics.scheduler_jobs.inc();
            if let Err(err) = state.tokens.refresh_now(&ws, &id, reason).await {
                tracing::debug!(connection = %id, error = ?err, ?reason, "background refresh did not succeed");
            }
            let owner = state.tokens.owner();
            if let Err(err) = state.store.release_claim(&ws, &id, owner).await {
                tracing::debug!(connection = %id, error = %err, "claim left to lapse");
            }
        })
        .await;
    full
}

/// How late a job of `reason` on `connection` starts at `now`: its retry or recheck time, or
/// for a keep-alive, `keepalive` after the refresh token's last use (the expression the
/// claim orders by). `None` when the job has no due time (a connector that changed).
fn lateness(
    connection: &tether_store::Connection,
    reason: RefreshReason,
    keepalive: Option<chrono::Duration>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let due = match reason {
        RefreshReason::KeepAlive => connection
            .last_refreshed_at
            .or(connection.refresh_token_issued_at)
            .unwrap_or(connection.created_at)
            .checked_add_signed(keepalive?)?,
        _ => connection.next_retry_at?,
    };
    Some(now.signed_duration_since(due).to_std().unwrap_or_default())
}

async fn flush_usage(state: &AppState) {
    let uses = state.usage.drain();
    if uses.is_empty() {
        return;
    }
    if let Err(err) = state.store.touch_last_used(&uses).await {
        tracing::warn!(error = %err, count = uses.len(), "could not record last use; keeping it for the next pass");
        for used in uses {
            state.usage.touch(&used.workspace, &used.id, used.at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_org_gets_its_calls_spaced_and_other_orgs_do_not_wait_for_it() {
        let limiter = std::sync::Arc::new(OrgLimiter::new(5));
        let started = tokio::time::Instant::now();
        let busy = {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                for _ in 0..10 {
                    limiter.wait("00D-busy").await;
                }
                started.elapsed()
            })
        };
        limiter.wait("00D-quiet").await;
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "another org starts at once"
        );
        let busy = busy.await.unwrap_or_default();
        // Ten calls at five a second: the tenth starts 1.8 s after the first.
        assert_eq!(busy, Duration::from_millis(1_800));
    }
}
