//! The Bulk API 1.0 handlers. Each one checks the `X-SFDC-Session` session first, then the API
//! version in its path, then does its job; errors answer in the request's format, successes in
//! the job's.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::BulkState;
use super::jobs::{BulkError, Jobs};
use super::wire::{self, Wire};
use crate::rest::ApiVersion;
use crate::session::{Session, authenticate};

/// The header Bulk API 1.0 authenticates with (never `Authorization`).
const SESSION_HEADER: &str = "x-sfdc-session";

/// What each handler does once the session and version are checked.
type Outcome = Result<Response, BulkError>;

/// One Bulk request as every handler takes it: the shared state, the headers (session and
/// format) and the `{version}` of its path, not yet checked.
pub struct BulkCall {
    state: BulkState,
    headers: HeaderMap,
    version: String,
}

/// The `{version}` segment every Bulk route has.
#[derive(Deserialize)]
struct VersionPath {
    version: String,
}

impl FromRequestParts<BulkState> for BulkCall {
    type Rejection = PathRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &BulkState,
    ) -> Result<Self, Self::Rejection> {
        let Path(VersionPath { version }) = Path::from_request_parts(parts, state).await?;
        Ok(Self {
            state: state.clone(),
            headers: parts.headers.clone(),
            version,
        })
    }
}

impl BulkCall {
    /// The request's format, which errors answer in.
    fn wire(&self) -> Wire {
        Wire::of(&self.headers)
    }

    /// Runs `work` for a live session on a served version; any failure answers in the
    /// request's format.
    fn guarded(&self, work: impl FnOnce(Session, String) -> Outcome) -> Response {
        let checked =
            session(&self.state, &self.headers).and_then(|s| Ok((s, api_version(&self.version)?)));
        match checked.and_then(|(session, version)| work(session, version)) {
            Ok(response) => response,
            Err(error) => wire::error(self.wire(), &error),
        }
    }

    /// Runs `read` over the jobs, under their lock, for a live session on a served version.
    fn reading(&self, read: impl FnOnce(&Jobs) -> Outcome) -> Response {
        self.guarded(|_, _| read(&self.state.jobs.lock()))
    }

    /// Runs `write` over the jobs, under their lock, at the org's now, for a live session on a
    /// served version.
    fn writing(
        &self,
        write: impl FnOnce(&mut Jobs, DateTime<Utc>, Session, String) -> Outcome,
    ) -> Response {
        self.guarded(|session, version| {
            let now = self.state.shared.now();
            write(&mut self.state.jobs.lock(), now, session, version)
        })
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

/// The `{job}` of a job's path.
#[derive(Deserialize)]
pub struct JobPath {
    job: String,
}

/// The `{job}` and `{batch}` of a batch's path.
#[derive(Deserialize)]
pub struct BatchPath {
    job: String,
    batch: String,
}

/// The `{job}`, `{batch}` and `{result}` of a result set's path.
#[derive(Deserialize)]
pub struct ResultPath {
    job: String,
    batch: String,
    result: String,
}

/// `POST .../job`: 201 with the new job's info.
pub async fn create_job(call: BulkCall, body: String) -> Response {
    call.writing(|jobs, now, session, version| {
        let request = wire::job_request(call.wire(), &body)?;
        let job = jobs.create(request, &session.holder.user_id, &version, now)?;
        Ok(wire::job_info(&job, StatusCode::CREATED))
    })
}

/// `GET .../job/{job}`.
pub async fn job_info(call: BulkCall, Path(path): Path<JobPath>) -> Response {
    call.reading(|jobs| Ok(wire::job_info(jobs.job(&path.job)?, StatusCode::OK)))
}

/// `POST .../job/{job}` with state `Closed` (or `Aborted`).
pub async fn close_job(call: BulkCall, Path(path): Path<JobPath>, body: String) -> Response {
    call.writing(|jobs, now, _, _| {
        let wanted = wire::state_request(call.wire(), &body)
            .ok_or_else(|| BulkError::new("InvalidJob", "Unable to parse job"))?;
        let job = jobs.set_state(&path.job, &wanted, now)?;
        Ok(wire::job_info(&job, StatusCode::OK))
    })
}

/// `POST .../job/{job}/batch` with a SOQL body: 201, state `Queued` (it has already run).
pub async fn add_batch(call: BulkCall, Path(path): Path<JobPath>, body: String) -> Response {
    call.writing(|jobs, now, _, _| {
        let (job, batch) = jobs.add_batch(&path.job, &body, &call.state.records, now)?;
        Ok(wire::batch_info(
            &job,
            &batch,
            "Queued",
            StatusCode::CREATED,
        ))
    })
}

/// `GET .../job/{job}/batch`.
pub async fn list_batches(call: BulkCall, Path(path): Path<JobPath>) -> Response {
    call.reading(|jobs| Ok(wire::batch_list(jobs.job(&path.job)?)))
}

/// `GET .../job/{job}/batch/{batch}`.
pub async fn batch_info(call: BulkCall, Path(path): Path<BatchPath>) -> Response {
    call.reading(|jobs| {
        let (job, batch) = jobs.batch(&path.job, &path.batch)?;
        Ok(wire::batch_info(job, batch, batch.state, StatusCode::OK))
    })
}

/// `GET .../job/{job}/batch/{batch}/result`: the ids of its result sets.
pub async fn result_list(call: BulkCall, Path(path): Path<BatchPath>) -> Response {
    call.reading(|jobs| {
        let (job, batch) = jobs.batch(&path.job, &path.batch)?;
        Ok(wire::result_list(job, batch))
    })
}

/// `GET .../job/{job}/batch/{batch}/result/{result}`: the rows, in the job's content type.
pub async fn result(call: BulkCall, Path(path): Path<ResultPath>) -> Response {
    call.reading(|jobs| {
        let (job, batch) = jobs.batch(&path.job, &path.batch)?;
        if batch.result_id.as_deref() != Some(path.result.as_str()) {
            // [I] text.
            let message = format!("Invalid result id: {}", path.result);
            return Err(BulkError::new("InvalidBatch", message));
        }
        Ok(wire::result(job, &batch.rows))
    })
}
