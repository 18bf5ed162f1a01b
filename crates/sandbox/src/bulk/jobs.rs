//! Bulk jobs and their batches, in memory: creation, synchronous query batches over the
//! records, closing. Errors carry Bulk API 1.0 exception codes (`InvalidJob`,
//! `InvalidBatch`, `InvalidJobState`); the texts not seen from Salesforce are marked [I].

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::rest::{Records, Row, record_id};

/// A Bulk API exception: code and message, answered with HTTP 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct BulkError {
    pub code: &'static str,
    pub message: String,
}

impl BulkError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Every session problem, as Salesforce answers it on Bulk 1.0.
    pub fn invalid_session() -> Self {
        Self::new("InvalidSessionId", "Invalid session id")
    }
}

/// A job's content type: how batches and results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    Csv,
    Xml,
    Json,
}

impl ContentType {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "CSV" => Some(Self::Csv),
            "XML" => Some(Self::Xml),
            "JSON" => Some(Self::Json),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Csv => "CSV",
            Self::Xml => "XML",
            Self::Json => "JSON",
        }
    }
}

/// What a create-job request asks for.
#[derive(Debug, Clone)]
pub struct JobRequest {
    pub operation: String,
    pub object: String,
    pub content_type: ContentType,
    pub serial: bool,
}

/// One job.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub operation: String,
    pub object: &'static str,
    pub content_type: ContentType,
    pub serial: bool,
    /// `Open`, `Closed` or `Aborted`.
    pub state: &'static str,
    pub created_by: String,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    /// `64.0`.
    pub api_version: String,
    pub batches: Vec<Batch>,
}

/// One batch: a SOQL query, already run.
#[derive(Debug, Clone)]
pub struct Batch {
    pub id: String,
    pub job_id: String,
    /// `Completed` or `Failed` (a batch answers `Queued` only when it is added).
    pub state: &'static str,
    pub state_message: Option<String>,
    pub created: DateTime<Utc>,
    pub rows: Vec<Row>,
    /// The id of its one result set (`None` when it failed).
    pub result_id: Option<String>,
}

/// Every job of the org.
#[derive(Debug, Default)]
pub struct Jobs {
    serial: u64,
    jobs: HashMap<String, Job>,
}

impl Jobs {
    fn next_id(&mut self, prefix: &str) -> String {
        self.serial += 1;
        record_id(prefix, self.serial)
    }

    /// Creates an open job for `request` by `user_id`.
    pub fn create(
        &mut self,
        request: JobRequest,
        user_id: &str,
        api_version: &str,
        now: DateTime<Utc>,
    ) -> Result<Job, BulkError> {
        if request.operation != "query" && request.operation != "queryAll" {
            // [I] the sandbox's own text: Salesforce supports the other operations.
            return Err(BulkError::new(
                "InvalidJob",
                format!(
                    "the sandbox's Bulk API runs query and queryAll jobs only, not {}",
                    request.operation
                ),
            ));
        }
        let object = crate::rest::sobject_name(&request.object).ok_or_else(|| {
            BulkError::new(
                "InvalidJob",
                format!("Unable to find object: {}", request.object),
            )
        })?;
        let job = Job {
            id: self.next_id("750"),
            operation: request.operation,
            object,
            content_type: request.content_type,
            serial: request.serial,
            state: "Open",
            created_by: user_id.to_owned(),
            created: now,
            modified: now,
            api_version: api_version.to_owned(),
            batches: Vec::new(),
        };
        self.jobs.insert(job.id.clone(), job.clone());
        Ok(job)
    }

    pub fn job(&self, id: &str) -> Result<&Job, BulkError> {
        // [I] text.
        self.jobs
            .get(id)
            .ok_or_else(|| BulkError::new("InvalidJob", format!("Invalid job id: {id}")))
    }

    fn job_mut(&mut self, id: &str) -> Result<&mut Job, BulkError> {
        self.jobs
            .get_mut(id)
            .ok_or_else(|| BulkError::new("InvalidJob", format!("Invalid job id: {id}")))
    }

    pub fn batch(&self, job_id: &str, batch_id: &str) -> Result<(&Job, &Batch), BulkError> {
        let job = self.job(job_id)?;
        let batch = job.batches.iter().find(|b| b.id == batch_id);
        let batch = batch.ok_or_else(|| {
            BulkError::new("InvalidBatch", format!("Invalid batch id: {batch_id}"))
        })?;
        Ok((job, batch))
    }

    /// Adds a batch and runs its query at once; a failed query fails the batch, not the call.
    pub fn add_batch(
        &mut self,
        job_id: &str,
        soql: &str,
        records: &Records,
        now: DateTime<Utc>,
    ) -> Result<(Job, Batch), BulkError> {
        let batch_id = self.next_id("751");
        let result_id = self.next_id("752");
        let job = self.job_mut(job_id)?;
        if job.state != "Open" {
            // [I] text.
            return Err(BulkError::new(
                "InvalidJobState",
                format!("Job {job_id} is not open: {}", job.state),
            ));
        }
        let (state, state_message, rows) = match run(job.object, soql, records) {
            Ok(rows) => ("Completed", None, rows),
            Err(message) => ("Failed", Some(message), Vec::new()),
        };
        let batch = Batch {
            id: batch_id,
            job_id: job.id.clone(),
            state,
            created: now,
            result_id: state_message.is_none().then_some(result_id),
            state_message,
            rows,
        };
        job.batches.push(batch.clone());
        job.modified = now;
        Ok((job.clone(), batch))
    }

    /// `Closed` or `Aborted`.
    pub fn set_state(
        &mut self,
        job_id: &str,
        state: &str,
        now: DateTime<Utc>,
    ) -> Result<Job, BulkError> {
        let state = match state {
            "Closed" => "Closed",
            "Aborted" => "Aborted",
            // [I] text.
            other => {
                return Err(BulkError::new(
                    "InvalidJobState",
                    format!("Invalid state: {other}"),
                ));
            }
        };
        let job = self.job_mut(job_id)?;
        job.state = state;
        job.modified = now;
        Ok(job.clone())
    }
}

/// Runs a batch's SOQL; the error is the batch's `stateMessage`.
fn run(object: &str, soql: &str, records: &Records) -> Result<Vec<Row>, String> {
    let failed = |detail: String| format!("InvalidBatch : Failed to process query: {detail}");
    let (queried, rows) = records
        .query_rows(soql.trim())
        .map_err(|e| failed(format!("{}: {e}", e.error_code())))?;
    if queried != object {
        // [I] text.
        return Err(failed(format!(
            "the query is on {queried} but the job is on {object}"
        )));
    }
    // [S] Bulk queries do not support aggregate functions such as COUNT().
    rows.ok_or_else(|| failed("COUNT() is not supported by Bulk API queries".to_owned()))
}
