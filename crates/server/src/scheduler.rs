//! Background work: retrying degraded connections when their backoff is due, keeping idle
//! refresh tokens alive before an idle policy can expire them, and writing batched
//! `last_used_at` times. A loop sleeps until the next tick or shutdown around
//! [`tick`], which tests call directly. The loop is supervised: a pass that panics is logged
//! and the next one runs.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use tether_core::ids::{ConnectionId, WorkspaceId};
use tether_store::Claim;
use tokio_util::sync::CancellationToken;

use crate::state::AppState;
use crate::tokens::RefreshReason;

/// How often the scheduler looks for due work.
pub const TICK: Duration = Duration::from_secs(1);

/// Runs until `shutdown` is cancelled, then flushes once more. A pass in progress stops
/// between two connections when shutdown comes (a refresh already started completes).
pub async fn run(state: AppState, shutdown: CancellationToken) {
    let mut retention = tokio::time::interval(RETENTION_EVERY);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(TICK) => supervised(&state, &shutdown).await,
            _ = retention.tick() => purge(&state).await,
        }
    }
    flush_usage(&state).await;
}

/// How often old events and long-expired connect sessions are deleted.
const RETENTION_EVERY: Duration = Duration::from_secs(60);
/// Rows deleted per statement, so no purge holds SQLite's write lock for long.
const PURGE_BATCH: i64 = 1_000;
/// Batches per purge; what is left waits for the next one.
const PURGE_BATCHES: usize = 20;
/// Connect sessions are kept this long after they expire (a late callback still finds its
/// session and is told it expired).
const SESSION_GRACE: chrono::Duration = chrono::Duration::days(1);

/// Deletes events older than `events_retention_days` and connect sessions expired for more
/// than a day, in batches. Idempotent: several instances purging at once only share the work.
pub async fn purge(state: &AppState) {
    let now = state.clock.now();
    let keep = chrono::Duration::from_std(state.settings.events_retention)
        .unwrap_or(chrono::Duration::days(3650));
    if let Some(cutoff) = now.checked_sub_signed(keep) {
        for _ in 0..PURGE_BATCHES {
            match state.store.purge_events(cutoff, PURGE_BATCH).await {
                Ok(n) if n == PURGE_BATCH.unsigned_abs() => {}
                Ok(_) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "could not delete old events");
                    break;
                }
            }
        }
    }
    if let Some(cutoff) = now.checked_sub_signed(SESSION_GRACE) {
        for _ in 0..PURGE_BATCHES {
            match state
                .store
                .purge_connect_sessions(cutoff, PURGE_BATCH)
                .await
            {
                Ok(n) if n == PURGE_BATCH.unsigned_abs() => {}
                Ok(_) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "could not delete expired connect sessions");
                    break;
                }
            }
        }
    }
}

/// One pass; a panic inside it is logged, and the loop goes on.
async fn supervised(state: &AppState, shutdown: &CancellationToken) {
    let pass = AssertUnwindSafe(pass(state, shutdown)).catch_unwind();
    if let Err(panic) = pass.await {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(panic = %what, "a scheduler pass panicked; the next pass runs as usual");
    }
}

/// One pass: flush usage, retry due connections, keep idle ones alive.
pub async fn tick(state: &AppState) {
    pass(state, &CancellationToken::new()).await;
}

async fn pass(state: &AppState, shutdown: &CancellationToken) {
    flush_usage(state).await;
    let orgs = OrgLimiter::new(state.settings.provider_calls_per_org_per_second);
    retry_due(state, shutdown, &orgs).await;
    keep_alive(state, shutdown, &orgs).await;
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
async fn retry_due(state: &AppState, shutdown: &CancellationToken, orgs: &OrgLimiter) {
    let claim = claim_of(state);
    let due = match state
        .store
        .due_for_retry(state.clock.now(), &claim, BATCH)
        .await
    {
        Ok(due) => due,
        Err(err) => {
            tracing::warn!(error = %err, "could not claim connections due for retry");
            return;
        }
    };
    run_jobs(state, shutdown, orgs, due, RefreshReason::Retry).await;
}

/// Uses the refresh token of every active connection idle for `settings.keepalive`.
async fn keep_alive(state: &AppState, shutdown: &CancellationToken, orgs: &OrgLimiter) {
    let now = state.clock.now();
    let keepalive =
        chrono::Duration::from_std(state.settings.keepalive).unwrap_or(chrono::Duration::days(366));
    let Some(cutoff) = now.checked_sub_signed(keepalive) else {
        return;
    };
    let claim = claim_of(state);
    let idle = match state.store.idle_connections(cutoff, &claim, BATCH).await {
        Ok(idle) => idle,
        Err(err) => {
            tracing::warn!(error = %err, "could not claim idle connections");
            return;
        }
    };
    run_jobs(state, shutdown, orgs, idle, RefreshReason::KeepAlive).await;
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
/// instance).
async fn run_jobs(
    state: &AppState,
    shutdown: &CancellationToken,
    orgs: &OrgLimiter,
    jobs: Vec<(WorkspaceId, ConnectionId)>,
    reason: RefreshReason,
) {
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
