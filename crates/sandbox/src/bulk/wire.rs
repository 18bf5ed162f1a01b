//! The Bulk API 1.0 wire: which format a request speaks, reading job and state requests in
//! XML or JSON, and writing job info, batch info, result lists, results (CSV, XML, JSON) and
//! errors the way Salesforce writes them.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::jobs::{Batch, BulkError, ContentType, Job, JobRequest};
use crate::rest::{Row, RowJson};

/// The namespace of every Bulk API 1.0 XML document.
pub const NAMESPACE: &str = "http://www.force.com/2009/06/asyncapi/dataload";

/// The format of a request or an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Xml,
    Json,
}

impl Wire {
    /// JSON when the request says `application/json`, XML otherwise.
    pub fn of(headers: &HeaderMap) -> Self {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"));
        if json { Self::Json } else { Self::Xml }
    }

    /// Answers about a job speak its content type: JSON for JSON jobs, XML otherwise.
    pub fn of_job(job: &Job) -> Self {
        if job.content_type == ContentType::Json {
            Self::Json
        } else {
            Self::Xml
        }
    }
}

/// The error document, HTTP 400.
pub fn error(wire: Wire, error: &BulkError) -> Response {
    match wire {
        Wire::Json => (
            StatusCode::BAD_REQUEST,
            Json(json!({"exceptionCode": error.code, "exceptionMessage": error.message})),
        )
            .into_response(),
        Wire::Xml => {
            let body = format!(
                "<error xmlns=\"{NAMESPACE}\"><exceptionCode>{}</exceptionCode><exceptionMessage>{}</exceptionMessage></error>",
                escape(error.code),
                escape(&error.message)
            );
            xml(StatusCode::BAD_REQUEST, &body)
        }
    }
}

fn xml(status: StatusCode, body: &str) -> Response {
    let document = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{body}");
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        )],
        document,
    )
        .into_response()
}

/// Reads a create-job request.
pub fn job_request(wire: Wire, body: &str) -> Result<JobRequest, BulkError> {
    // [I] text for an unreadable request.
    let unreadable = || BulkError::new("InvalidJob", "Unable to parse job");
    let (operation, object, content_type, concurrency) = match wire {
        Wire::Json => {
            let doc: Map<String, Value> = serde_json::from_str(body).map_err(|_| unreadable())?;
            let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
            // simple-salesforce sends concurrencyMode as 0 (parallel) or 1 (serial).
            let serial = match doc.get("concurrencyMode") {
                Some(Value::String(s)) => s == "Serial",
                Some(Value::Number(n)) => n.as_u64() == Some(1),
                _ => false,
            };
            let content_type = text("contentType").unwrap_or_else(|| "JSON".to_owned());
            (text("operation"), text("object"), content_type, serial)
        }
        Wire::Xml => {
            let content_type = element(body, "contentType").unwrap_or_else(|| "XML".to_owned());
            let serial = element(body, "concurrencyMode").as_deref() == Some("Serial");
            (
                element(body, "operation"),
                element(body, "object"),
                content_type,
                serial,
            )
        }
    };
    let content_type = ContentType::parse(&content_type).ok_or_else(|| {
        // [I] text.
        BulkError::new(
            "InvalidJob",
            format!("Invalid content type: {content_type}"),
        )
    })?;
    Ok(JobRequest {
        operation: operation.ok_or_else(unreadable)?,
        object: object.ok_or_else(unreadable)?,
        content_type,
        serial: concurrency,
    })
}

/// Reads the `state` of a job-state request (`Closed`, `Aborted`).
pub fn state_request(wire: Wire, body: &str) -> Option<String> {
    match wire {
        Wire::Json => serde_json::from_str::<Value>(body)
            .ok()?
            .get("state")?
            .as_str()
            .map(str::to_owned),
        Wire::Xml => element(body, "state"),
    }
}

/// The text of the first `<name>...</name>` (namespace prefixes on the element allowed).
fn element(document: &str, name: &str) -> Option<String> {
    let open = document
        .find(&format!("<{name}>"))
        .map(|i| (i, name.len() + 2));
    let open = open.or_else(|| {
        let i = document.find(&format!(":{name}>"))?;
        let start = document[..i].rfind('<')?;
        Some((start, i - start + name.len() + 2))
    })?;
    let rest = &document[open.0 + open.1..];
    let end = rest.find("</")?;
    Some(unescape(rest[..end].trim()))
}

/// XML's predefined entities, `&` first: escaping replaces in this order, unescaping in the
/// reverse one, so `&amp;` is read last and never makes a new entity.
const ENTITIES: [(&str, &str); 5] = [
    ("&", "&amp;"),
    ("<", "&lt;"),
    (">", "&gt;"),
    ("\"", "&quot;"),
    ("'", "&apos;"),
];

fn unescape(text: &str) -> String {
    ENTITIES
        .iter()
        .rev()
        .fold(text.to_owned(), |text, (plain, entity)| {
            text.replace(entity, plain)
        })
}

fn escape(text: &str) -> String {
    ENTITIES
        .iter()
        .fold(text.to_owned(), |text, (plain, entity)| {
            text.replace(plain, entity)
        })
}

/// `2015-12-15T21:41:45.000Z` in XML, `2015-12-15T21:41:45.000+0000` in JSON.
fn date(wire: Wire, at: DateTime<Utc>) -> String {
    let text = at.to_rfc3339_opts(SecondsFormat::Millis, true);
    match wire {
        Wire::Xml => text,
        Wire::Json => text.replace('Z', "+0000"),
    }
}

/// The counters the sandbox never moves, last in job and batch info.
const IDLE_COUNTERS: [&str; 4] = [
    "numberRecordsFailed",
    "totalProcessingTime",
    "apiActiveProcessingTime",
    "apexProcessingTime",
];

/// `fields` followed by the [`IDLE_COUNTERS`], all zero.
fn with_idle_counters(mut fields: Vec<(&'static str, Value)>) -> Vec<(&'static str, Value)> {
    fields.extend(IDLE_COUNTERS.map(|name| (name, json!(0))));
    fields
}

/// One info document: a JSON object of `fields`, or `<element>` in the namespace with one child
/// element a field.
fn document(wire: Wire, status: StatusCode, element: &str, fields: Vec<(&str, Value)>) -> Response {
    match wire {
        Wire::Json => {
            let doc: Map<String, Value> =
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            (status, Json(Value::Object(doc))).into_response()
        }
        Wire::Xml => xml(
            status,
            &format!(
                "<{element} xmlns=\"{NAMESPACE}\">{}</{element}>",
                xml_fields(&fields)
            ),
        ),
    }
}

/// Job info in the job's wire, in Salesforce's element order (XML) or its alphabetical JSON keys.
pub fn job_info(job: &Job, status: StatusCode) -> Response {
    let wire = Wire::of_job(job);
    let count = |state: &str| job.batches.iter().filter(|b| b.state == state).count();
    let processed: usize = job.batches.iter().map(|b| b.rows.len()).sum();
    // JSON answers the version as a number, XML as written.
    let version = match wire {
        Wire::Json => json!(job.api_version.parse::<f64>().unwrap_or_default()),
        Wire::Xml => json!(job.api_version),
    };
    let mode = if job.serial { "Serial" } else { "Parallel" };
    let mut fields = with_idle_counters(vec![
        ("id", json!(job.id)),
        ("operation", json!(job.operation)),
        ("object", json!(job.object)),
        ("createdById", json!(job.created_by)),
        ("createdDate", json!(date(wire, job.created))),
        ("systemModstamp", json!(date(wire, job.modified))),
        ("state", json!(job.state)),
        ("concurrencyMode", json!(mode)),
        ("contentType", json!(job.content_type.name())),
        ("numberBatchesQueued", json!(0)),
        ("numberBatchesInProgress", json!(0)),
        ("numberBatchesCompleted", json!(count("Completed"))),
        ("numberBatchesFailed", json!(count("Failed"))),
        ("numberBatchesTotal", json!(job.batches.len())),
        ("numberRecordsProcessed", json!(processed)),
        ("numberRetries", json!(0)),
        ("apiVersion", version),
    ]);
    if wire == Wire::Json {
        fields.extend([
            ("assignmentRuleId", Value::Null),
            ("externalIdFieldName", Value::Null),
            ("fastPathEnabled", json!(false)),
        ]);
    }
    document(wire, status, "jobInfo", fields)
}

/// A batch's own fields in Salesforce's order, `state` overriding the batch's (a new batch
/// answers `Queued`, with nothing processed yet).
fn batch_fields(
    wire: Wire,
    batch: &Batch,
    state: &str,
    message: Option<&str>,
) -> Vec<(&'static str, Value)> {
    let processed = if state == "Queued" {
        0
    } else {
        batch.rows.len()
    };
    let mut fields = vec![
        ("id", json!(batch.id)),
        ("jobId", json!(batch.job_id)),
        ("state", json!(state)),
    ];
    fields.extend(message.map(|message| ("stateMessage", json!(message))));
    fields.extend([
        ("createdDate", json!(date(wire, batch.created))),
        ("systemModstamp", json!(date(wire, batch.created))),
        ("numberRecordsProcessed", json!(processed)),
    ]);
    fields
}

/// Batch info in the job's wire; `state` overrides the batch's own (a new batch answers
/// `Queued`, without its `stateMessage`).
pub fn batch_info(job: &Job, batch: &Batch, state: &str, status: StatusCode) -> Response {
    let wire = Wire::of_job(job);
    let message = batch.state_message.as_deref().filter(|_| state != "Queued");
    let fields = with_idle_counters(batch_fields(wire, batch, state, message));
    document(wire, status, "batchInfo", fields)
}

fn xml_fields(fields: &[(&str, Value)]) -> String {
    fields
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("<{k}>{}</{k}>", escape(s)),
            other => format!("<{k}>{other}</{k}>"),
        })
        .collect()
}

/// Every batch of a job: `{"batchInfo": [...]}`, or `<batchInfoList>` with the counters left
/// out.
pub fn batch_list(job: &Job) -> Response {
    let wire = Wire::of_job(job);
    let fields = job
        .batches
        .iter()
        .map(|b| batch_fields(wire, b, b.state, None));
    match wire {
        Wire::Json => {
            let list: Vec<Value> = fields
                .map(|f| {
                    let doc = with_idle_counters(f)
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v));
                    Value::Object(doc.collect())
                })
                .collect();
            Json(json!({"batchInfo": list})).into_response()
        }
        Wire::Xml => {
            let items: String = fields
                .map(|f| format!("<batchInfo>{}</batchInfo>", xml_fields(&f)))
                .collect();
            xml(
                StatusCode::OK,
                &format!("<batchInfoList xmlns=\"{NAMESPACE}\">{items}</batchInfoList>"),
            )
        }
    }
}

/// The result ids of a batch, in the job's wire: `["752..."]` or `<result-list>`.
pub fn result_list(job: &Job, batch: &Batch) -> Response {
    let ids: Vec<&String> = batch.result_id.iter().collect();
    match Wire::of_job(job) {
        Wire::Json => Json(json!(ids)).into_response(),
        Wire::Xml => {
            let items: String = ids
                .iter()
                .map(|id| format!("<result>{id}</result>"))
                .collect();
            xml(
                StatusCode::OK,
                &format!("<result-list xmlns=\"{NAMESPACE}\">{items}</result-list>"),
            )
        }
    }
}

/// One result set in the job's content type.
pub fn result(job: &Job, rows: &[Row]) -> Response {
    match job.content_type {
        ContentType::Json => {
            let base = format!("/services/data/v{}", job.api_version);
            let records: Vec<RowJson<'_>> = rows
                .iter()
                .map(|row| RowJson { base: &base, row })
                .collect();
            Json(records).into_response()
        }
        ContentType::Csv => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"))],
            csv(rows),
        )
            .into_response(),
        ContentType::Xml => xml(StatusCode::OK, &query_result(rows)),
    }
}

/// Quoted CSV with a header row; Salesforce answers a query with no rows with a sentence [S].
fn csv(rows: &[Row]) -> String {
    let Some(first) = rows.first() else {
        return "Records not found for this query".to_owned();
    };
    let quote = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
    let header: Vec<String> = first.fields.iter().map(|(name, _)| quote(name)).collect();
    let mut out = header.join(",");
    out.push('\n');
    for row in rows {
        let cells: Vec<String> = row.fields.iter().map(|(_, v)| quote(&plain(v))).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// A value as text: strings unquoted, `null` empty.
fn plain(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `<queryResult>` with one `<records xsi:type="sObject">` per row; nulls are `xsi:nil`.
fn query_result(rows: &[Row]) -> String {
    let records: String = rows
        .iter()
        .map(|row| {
            let fields: String = row
                .fields
                .iter()
                .map(|(name, value)| match value {
                    Value::Null => format!("<{name} xsi:nil=\"true\"/>"),
                    other => format!("<{name}>{}</{name}>", escape(&plain(other))),
                })
                .collect();
            format!(
                "<records xsi:type=\"sObject\"><type>{}</type>{fields}</records>",
                row.sobject
            )
        })
        .collect();
    format!(
        "<queryResult xmlns=\"{NAMESPACE}\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">{records}</queryResult>"
    )
}
