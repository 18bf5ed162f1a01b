//! Background work: retrying degraded connections when their backoff is due, and writing
//! batched `last_used_at` times. A loop sleeps until the next tick or shutdown around
//! [`tick`], which tests call directly.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// How often the scheduler looks for due work.
pub const TICK: Duration = Duration::from_secs(1);

/// Runs until `shutdown` is cancelled, then flushes once more.
pub async fn run(state: AppState, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(TICK) => tick(&state).await,
        }
    }
    flush_usage(&state).await;
}

/// One pass: flush usage, retry due connections.
pub async fn tick(state: &AppState) {
    flush_usage(state).await;
    let now = state.clock.now();
    let due = match state.store.due_for_retry(now, 100).await {
        Ok(due) => due,
        Err(err) => {
            tracing::warn!(error = %err, "could not list connections due for retry");
            return;
        }
    };
    for (ws, id) in due {
        if let Err(err) = state.tokens.refresh_now(&ws, &id).await {
            tracing::debug!(connection = %id, error = ?err, "scheduled retry did not succeed");
        }
    }
}

async fn flush_usage(state: &AppState) {
    let uses = state.usage.drain();
    if uses.is_empty() {
        return;
    }
    if let Err(err) = state.store.touch_last_used(&uses).await {
        tracing::warn!(error = %err, count = uses.len(), "could not record last use");
    }
}
