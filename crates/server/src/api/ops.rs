//! Operations endpoints: liveness, readiness, metrics.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tether_store::StoreError;

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /healthz`: the process serves.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the database answers, and the keyring fits its master keys (each key
/// values may be sealed under is held and opens its canary); a 503 problem otherwise, whose
/// detail names the key the database expects.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let checked = match state.store.ping().await {
        Ok(()) => state.store.check_master_keys().await.map(|_| ()),
        Err(err) => Err(err),
    };
    match checked {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(StoreError::MasterKey(err)) => {
            tracing::warn!(error = %err, "readiness check failed");
            ApiError::NotReady(err.to_string()).into_response()
        }
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            ApiError::NotReady("database unavailable".into()).into_response()
        }
    }
}

/// `GET /metrics`: Prometheus text; the database-read gauges are at most 15 seconds old.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state
        .metrics
        .sample(state.store.as_ref(), state.clock.now())
        .await;
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics.render(),
    )
}
