//! The clock levers: moving the shared virtual clock forward, and the sandbox's own offset
//! from it (clock skew between Salesforce and its caller).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, SecondsFormat};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ControlError, parse};
use crate::clock::MAX_OFFSET_SECONDS;
use crate::shared::{Inner, Shared};

/// The body of `POST /_sandbox/clock/advance`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvanceBody {
    seconds: u64,
}

/// `POST /_sandbox/clock/advance`: moves the shared virtual clock forward.
pub async fn advance_clock(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let AdvanceBody { seconds } = parse(&body)?;
    let seconds = i64::try_from(seconds).map_err(|e| ControlError::BadBody(e.to_string()))?;
    let by = Duration::try_seconds(seconds)
        .ok_or_else(|| ControlError::BadBody("seconds out of range".into()))?;
    shared.clock.shared().advance(by);
    Ok(Json(json!({"now": shared.now()})).into_response())
}

/// The body of `PUT /_sandbox/clock`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffsetBody {
    offset_seconds: i64,
}

/// `GET /_sandbox/clock`: the sandbox's now and its offset from the shared clock.
pub async fn get_clock(State(shared): State<Shared>) -> Json<Value> {
    Json(clock_document(&shared))
}

/// `PUT /_sandbox/clock`: sets the sandbox's offset from the shared clock (negative allowed);
/// the shared clock does not move.
pub async fn set_clock(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let OffsetBody { offset_seconds } = parse(&body)?;
    shared
        .clock
        .set_offset_seconds(offset_seconds)
        .ok_or_else(|| {
            ControlError::BadBody(format!(
                "offset_seconds must be between -{MAX_OFFSET_SECONDS} and {MAX_OFFSET_SECONDS}"
            ))
        })?;
    Ok(Json(clock_document(&shared)).into_response())
}

fn clock_document(shared: &Inner) -> Value {
    let now = shared.now();
    json!({
        "now": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        "now_ms": now.timestamp_millis(),
        "offset_seconds": shared.clock.offset_seconds(),
    })
}
