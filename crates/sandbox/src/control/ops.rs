//! Test levers and read-outs of the control API: health, the caller IP the org sees, injected
//! faults, settings, login history and stats.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ControlError, parse};
use crate::shared::Shared;
use crate::state::{Faults, State as Org, chain_expired};

/// `GET /_sandbox/health`.
pub async fn health() -> Json<Value> {
    Json(json!({"ok": true}))
}

/// The body of `PUT /_sandbox/network`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkBody {
    client_ip: IpAddr,
}

/// `PUT /_sandbox/network`: the IP the org sees for every caller.
pub async fn network(State(shared): State<Shared>, body: Bytes) -> Result<Response, ControlError> {
    let NetworkBody { client_ip } = parse(&body)?;
    shared.state.lock().client_ip = client_ip;
    Ok(Json(json!({"client_ip": client_ip})).into_response())
}

/// `PUT /_sandbox/faults`: replaces the armed faults (absent surface = none).
pub async fn faults(State(shared): State<Shared>, body: Bytes) -> Result<Response, ControlError> {
    let faults: Faults = parse(&body)?;
    faults.validate().map_err(ControlError::BadBody)?;
    shared.state.lock().faults = faults.clone();
    Ok(Json(faults).into_response())
}

/// The body of `PUT /_sandbox/settings`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    auto_approve: bool,
}

/// `PUT /_sandbox/settings`.
pub async fn settings(State(shared): State<Shared>, body: Bytes) -> Result<Response, ControlError> {
    let SettingsBody { auto_approve } = parse(&body)?;
    shared.state.lock().auto_approve = auto_approve;
    Ok(Json(json!({"auto_approve": auto_approve})).into_response())
}

/// `GET /_sandbox/login-history`: oldest first.
pub async fn login_history(State(shared): State<Shared>) -> Response {
    let rows: Vec<_> = shared.state.lock().history.iter().cloned().collect();
    Json(rows).into_response()
}

/// `GET /_sandbox/stats`.
pub async fn stats(State(shared): State<Shared>) -> Json<Value> {
    let now = shared.now();
    let st = shared.state.lock();
    Json(json!({
        "token_calls": st.counters.token_calls,
        "rest_calls": {"allowed": st.counters.rest_allowed, "rejected": st.counters.rest_rejected},
        "api_usage": {"day": st.usage.day, "used": st.usage.used},
        "live_refresh_tokens": live_refresh_tokens(&st, now),
        "token_answers_held": shared.held_answers.load(Ordering::SeqCst),
    }))
}

/// client_id -> username -> approvals neither revoked nor past their policy.
fn live_refresh_tokens(
    st: &Org,
    now: chrono::DateTime<chrono::Utc>,
) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut live: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for chain in st.chains.values().filter(|c| !c.revoked) {
        let Some(app) = st.apps.get(&chain.holder.client_id) else {
            continue;
        };
        if app.blocked || chain_expired(app, chain, now) {
            continue;
        }
        let username = st
            .user_by_id(&chain.holder.user_id)
            .map_or_else(|| chain.holder.user_id.clone(), |u| u.username.clone());
        *live
            .entry(chain.holder.client_id.clone())
            .or_default()
            .entry(username)
            .or_default() += 1;
    }
    live
}
