//! The REST session gate: an axum middleware in front of every `/services/data/vNN.N/...`
//! route. It applies an injected `rest_api` fault, checks the bearer token (see
//! [`crate::session`]), refuses when the app has API access off or the org's daily limit is
//! used up, counts the call, inserts [`ApiUsage`] for the handlers, and stamps every answer for a
//! token it can attribute to an app with `Sforce-Limit-Info: api-usage=USED/LIMIT`.

use std::time::Duration as StdDuration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use crate::rest::{ApiUsage, RestError};
use crate::session::{authenticate, bearer};
use crate::shared::Shared;
use crate::state::{DailyUsage, Faults, State as Org};

/// The header Salesforce puts on API responses.
pub const LIMIT_INFO: &str = "sforce-limit-info";

/// The middleware.
pub async fn gate(State(shared): State<Shared>, mut request: Request, next: Next) -> Response {
    if let Some(response) = injected_fault(&shared).await {
        return response;
    }
    let token = bearer(request.headers());
    let now = shared.now();
    let verdict = admit(&mut shared.state.lock(), token.as_deref(), now);
    match verdict {
        Ok(usage) => {
            request.extensions_mut().insert(usage);
            with_usage(next.run(request).await, Some(usage))
        }
        Err((error, usage)) => with_usage(error.into_response(), usage),
    }
}

async fn injected_fault(shared: &Shared) -> Option<Response> {
    let fault = Faults::take(&mut shared.state.lock().faults.rest_api, None)?;
    if fault.delay_ms > 0 {
        tokio::time::sleep(StdDuration::from_millis(fault.delay_ms)).await;
    }
    let status = StatusCode::from_u16(fault.status?).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    shared.state.lock().counters.rest_rejected += 1;
    let message = format!("sandbox fault: status {}", status.as_u16());
    Some(RestError::with_status(status, "SERVER_UNAVAILABLE", message).into_response())
}

/// Decides one call under the lock. The daily counter is org-wide (as in Salesforce) and is
/// measured against the calling app's `daily_api_limit`.
fn admit(
    st: &mut Org,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ApiUsage, (RestError, Option<ApiUsage>)> {
    let session = match authenticate(st, token, now, false) {
        Ok(session) => session,
        Err(error) => {
            st.counters.rest_rejected += 1;
            return Err((error, known_app_usage(st, token)));
        }
    };
    let (api_enabled, max) = st
        .apps
        .get(&session.holder.client_id)
        .map_or((false, 0), |app| (app.api_enabled, app.daily_api_limit));
    roll_day(&mut st.usage, now);
    let usage = ApiUsage {
        used: st.usage.used,
        max,
    };
    if !api_enabled {
        st.counters.rest_rejected += 1;
        return Err((RestError::api_disabled(), Some(usage)));
    }
    if st.usage.used >= max {
        st.counters.rest_rejected += 1;
        return Err((RestError::request_limit_exceeded(), Some(usage)));
    }
    // Touch only once the call is let through, so refused calls do not keep a session alive.
    authenticate(st, token, now, true).map_err(|error| (error, None))?;
    st.usage.used += 1;
    st.counters.rest_allowed += 1;
    Ok(ApiUsage {
        used: st.usage.used,
        max,
    })
}

/// The usage to report for a refused token that still names an app (no app, no header).
fn known_app_usage(st: &Org, token: Option<&str>) -> Option<ApiUsage> {
    let record = st.access_tokens.get(token?)?;
    let app = st.apps.get(&record.holder.client_id)?;
    Some(ApiUsage {
        used: st.usage.used,
        max: app.daily_api_limit,
    })
}

/// Starts a new count when the virtual clock has moved to another (UTC) day.
fn roll_day(usage: &mut DailyUsage, now: DateTime<Utc>) {
    let today = now.date_naive();
    if usage.day != today {
        *usage = DailyUsage {
            day: today,
            used: 0,
        };
    }
}

fn with_usage(mut response: Response, usage: Option<ApiUsage>) -> Response {
    if let Some(usage) = usage {
        let value = format!("api-usage={}/{}", usage.used, usage.max);
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(LIMIT_INFO, value);
        }
    }
    response
}
