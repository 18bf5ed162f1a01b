//! The Bulk API 1.0 handlers. Each one checks the `X-SFDC-Session` session first, then the API
//! version in its path, then does its job; errors answer in the request's format, successes in
//! the job's.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};

use super::BulkState;
use super::jobs::{BulkError, Jobs};
use super::wire::{self, Wire};
use crate::rest::ApiVersion;
use crate::session::{Session, authenticate};

/// The header Bulk API 1.0 authenticates with (never `Authorization`).
const SESSION_HEADER: &str = "x-sfdc-session";

/// What each handler does once the session and version are checked.
type Outcome = Result<Response, BulkError>;

/// Runs `work` for a live session on a served version; any failure answers in `wire`.
fn guarded(
    state: &BulkState,
    headers: &HeaderMap,
    version: &str,
    work: impl FnOnce(Session, String) -> Outcome,
) -> Response {
    let wire = Wire::of(headers);
    let checked = session(state, headers).and_then(|s| Ok((s, api_version(version)?)));
    match checked.and_then(|(session, version)| work(session, version)) {
        Ok(response) => response,
        Err(error) => wire::error(wire, &error),
    }
}

/// Expired, revoked, Blocked, IP-refused, unknown or missing: all `InvalidSessionId`.
fn session(state: &BulkState, headers: &HeaderMap) -> Result<Session, BulkError> {
    let token = headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let now = state.shared.now();
    let mut st = state.shared.state.lock();
    authenticate(&mut st, token, now, true).map_err(|_| BulkError::invalid_session())
}

/// `64.0` for a served version.
fn api_version(segment: &str) -> Result<String, BulkError> {
    ApiVersion::parse(&format!("v{segment}"))
        .map(ApiVersion::number)
        // [I] text.
        .ok_or_else(|| BulkError::new("InvalidVersion", format!("Invalid API version: {segment}")))
}

/// Runs `read` over the jobs, under their lock, for a live session on a served version.
fn reading(
    state: &BulkState,
    headers: &HeaderMap,
    version: &str,
    read: impl FnOnce(&Jobs) -> Outcome,
) -> Response {
    guarded(state, headers, version, |_, _| read(&state.jobs.lock()))
}

/// Runs `write` over the jobs, under their lock, at the org's now, for a live session on a
/// served version.
fn writing(
    state: &BulkState,
    headers: &HeaderMap,
    version: &str,
    write: impl FnOnce(&mut Jobs, DateTime<Utc>, Session, String) -> Outcome,
) -> Response {
    guarded(state, headers, version, |session, version| {
        let now = state.shared.now();
        write(&mut state.jobs.lock(), now, session, version)
    })
}

/// `POST .../job`: 201 with the new job's info.
pub async fn create_job(
    State(state): State<BulkState>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    writing(&state, &headers, &version, |jobs, now, session, version| {
        let request = wire::job_request(Wire::of(&headers), &body)?;
        let job = jobs.create(request, &session.holder.user_id, &version, now)?;
        Ok(wire::job_info(&job, StatusCode::CREATED))
    })
}

/// `GET .../job/{job}`.
pub async fn job_info(
    State(state): State<BulkState>,
    Path((version, job)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    reading(&state, &headers, &version, |jobs| {
        Ok(wire::job_info(jobs.job(&job)?, StatusCode::OK))
    })
}

/// `POST .../job/{job}` with state `Closed` (or `Aborted`).
pub async fn close_job(
    State(state): State<BulkState>,
    Path((version, job)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    writing(&state, &headers, &version, |jobs, now, _, _| {
        let wanted = wire::state_request(Wire::of(&headers), &body)
            .ok_or_else(|| BulkError::new("InvalidJob", "Unable to parse job"))?;
        let job = jobs.set_state(&job, &wanted, now)?;
        Ok(wire::job_info(&job, StatusCode::OK))
    })
}

/// `POST .../job/{job}/batch` with a SOQL body: 201, state `Queued` (it has already run).
pub async fn add_batch(
    State(state): State<BulkState>,
    Path((version, job)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    writing(&state, &headers, &version, |jobs, now, _, _| {
        let (job, batch) = jobs.add_batch(&job, &body, &state.records, now)?;
        Ok(wire::batch_info(
            &job,
            &batch,
            "Queued",
            StatusCode::CREATED,
        ))
    })
}

/// `GET .../job/{job}/batch`.
pub async fn list_batches(
    State(state): State<BulkState>,
    Path((version, job)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    reading(&state, &headers, &version, |jobs| {
        Ok(wire::batch_list(jobs.job(&job)?))
    })
}

/// `GET .../job/{job}/batch/{batch}`.
pub async fn batch_info(
    State(state): State<BulkState>,
    Path((version, job, batch)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    reading(&state, &headers, &version, |jobs| {
        let (job, batch) = jobs.batch(&job, &batch)?;
        Ok(wire::batch_info(job, batch, batch.state, StatusCode::OK))
    })
}

/// `GET .../job/{job}/batch/{batch}/result`: the ids of its result sets.
pub async fn result_list(
    State(state): State<BulkState>,
    Path((version, job, batch)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    reading(&state, &headers, &version, |jobs| {
        let (job, batch) = jobs.batch(&job, &batch)?;
        Ok(wire::result_list(job, batch))
    })
}

/// `GET .../job/{job}/batch/{batch}/result/{result}`: the rows, in the job's content type.
pub async fn result(
    State(state): State<BulkState>,
    Path((version, job, batch, result)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Response {
    reading(&state, &headers, &version, |jobs| {
        let (job, batch) = jobs.batch(&job, &batch)?;
        if batch.result_id.as_deref() != Some(result.as_str()) {
            // [I] text.
            let message = format!("Invalid result id: {result}");
            return Err(BulkError::new("InvalidBatch", message));
        }
        Ok(wire::result(job, &batch.rows))
    })
}
