//! Background work: retrying degraded connections when their backoff is due, keeping idle
//! refresh tokens alive before an idle policy can expire them, and writing batched
//! `last_used_at` times. A loop sleeps until the next tick or shutdown around
//! [`tick`], which tests call directly. The loop is supervised: a pass that panics is logged
//! and the next one runs.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use tokio_util::sync::CancellationToken;

use crate::state::AppState;
use crate::tokens::RefreshReason;

/// How often the scheduler looks for due work.
pub const TICK: Duration = Duration::from_secs(1);

/// Runs until `shutdown` is cancelled, then flushes once more. A pass in progress stops
/// between two connections when shutdown comes (a refresh already started completes).
pub async fn run(state: AppState, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(TICK) => supervised(&state, &shutdown).await,
        }
    }
    flush_usage(&state).await;
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
    retry_due(state, shutdown).await;
    keep_alive(state, shutdown).await;
}

/// Retries degraded connections whose backoff has passed.
async fn retry_due(state: &AppState, shutdown: &CancellationToken) {
    let due = match state.store.due_for_retry(state.clock.now(), 100).await {
        Ok(due) => due,
        Err(err) => {
            tracing::warn!(error = %err, "could not list connections due for retry");
            return;
        }
    };
    for (ws, id) in due {
        if shutdown.is_cancelled() {
            return;
        }
        if let Err(err) = state
            .tokens
            .refresh_now(&ws, &id, RefreshReason::Retry)
            .await
        {
            tracing::debug!(connection = %id, error = ?err, "scheduled retry did not succeed");
        }
    }
}

/// Uses the refresh token of every active connection idle for `settings.keepalive`.
async fn keep_alive(state: &AppState, shutdown: &CancellationToken) {
    let now = state.clock.now();
    let keepalive =
        chrono::Duration::from_std(state.settings.keepalive).unwrap_or(chrono::Duration::days(366));
    let Some(cutoff) = now.checked_sub_signed(keepalive) else {
        return;
    };
    let idle = match state.store.idle_connections(cutoff, 100).await {
        Ok(idle) => idle,
        Err(err) => {
            tracing::warn!(error = %err, "could not list idle connections");
            return;
        }
    };
    for (ws, id) in idle {
        if shutdown.is_cancelled() {
            return;
        }
        if let Err(err) = state
            .tokens
            .refresh_now(&ws, &id, RefreshReason::KeepAlive)
            .await
        {
            tracing::debug!(connection = %id, error = ?err, "keep-alive refresh did not succeed");
        }
    }
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
