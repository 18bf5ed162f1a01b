//! Bulk API 1.0, query jobs only, as Salesforce serves it under `/services/async/{version}/`:
//! create a job, add a SOQL batch, read batch and job status, list and fetch results, close the
//! job. XML (`application/xml`, namespace
//! `http://www.force.com/2009/06/asyncapi/dataload`) and JSON requests; job content types
//! `CSV`, `XML` and `JSON` decide the result format.
//!
//! Authentication is only the `X-SFDC-Session` header (an `Authorization` header is ignored, as
//! in Salesforce); a missing, expired, revoked or refused session answers 400 `InvalidSessionId`.
//! Batches run synchronously over the REST API's records: a new batch answers `Queued`, every
//! later read `Completed` (or `Failed`).

mod handlers;
mod jobs;
mod wire;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use parking_lot::Mutex;

use crate::rest::Records;
use crate::shared::Shared;

/// What the Bulk handlers share: the org (sessions), the records and the jobs.
#[derive(Debug, Clone)]
pub struct BulkState {
    shared: Shared,
    records: Records,
    jobs: Arc<Mutex<jobs::Jobs>>,
}

/// Every Bulk API 1.0 route.
pub fn routes(shared: Shared, records: Records) -> Router {
    const J: &str = "/services/async/{version}/job";
    let state = BulkState {
        shared,
        records,
        jobs: Arc::default(),
    };
    Router::new()
        .route(J, post(handlers::create_job))
        .route(
            &format!("{J}/{{job}}"),
            get(handlers::job_info).post(handlers::close_job),
        )
        .route(
            &format!("{J}/{{job}}/batch"),
            post(handlers::add_batch).get(handlers::list_batches),
        )
        .route(
            &format!("{J}/{{job}}/batch/{{batch}}"),
            get(handlers::batch_info),
        )
        .route(
            &format!("{J}/{{job}}/batch/{{batch}}/result"),
            get(handlers::result_list),
        )
        .route(
            &format!("{J}/{{job}}/batch/{{batch}}/result/{{result}}"),
            get(handlers::result),
        )
        .with_state(state)
}
