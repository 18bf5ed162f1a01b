//! The axum handlers of the REST subset. Each one checks the API version in its path, calls
//! the record store and turns the outcome into Salesforce's status and body.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::ApiUsage;
use super::body::{QueryBody, RowJson, record_url};
use super::error::RestError;
use super::record_error::RecordError;
use super::records::Records;
use super::schema::{self, SObjectType};
use super::versions::{self, ApiVersion};

/// Default and largest query batch (Salesforce's default and maximum).
const MAX_BATCH: usize = 2000;
/// Smallest batch honoured. Salesforce's minimum is 200; the sandbox allows 1 so tests can
/// page through a handful of records.
const MIN_BATCH: usize = 1;

type Reply = Result<Response, RestError>;

fn version(segment: &str) -> Result<ApiVersion, RestError> {
    ApiVersion::parse(segment).ok_or_else(RestError::not_found)
}

/// `GET /services/data/`: every served version.
pub async fn list_versions() -> Response {
    Json(versions::all()).into_response()
}

/// `GET /services/data/vNN.N/`: the resources this version serves.
pub async fn resources(Path(segment): Path<String>) -> Reply {
    let base = version(&segment)?.base();
    let body = json!({
        "limits": format!("{base}/limits"),
        "query": format!("{base}/query"),
        "sobjects": format!("{base}/sobjects"),
    });
    Ok(Json(body).into_response())
}

/// `GET .../query?q=SOQL`, batch size from `Sforce-Query-Options: batchSize=N`.
pub async fn query(
    State(records): State<Records>,
    Path(segment): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Reply {
    let base = version(&segment)?.base();
    let soql = params.get("q").map(|q| q.trim()).filter(|q| !q.is_empty());
    let soql = soql.ok_or_else(|| {
        RestError::bad_request("MALFORMED_QUERY", "A query string has to be specified")
    })?;
    let page = records.query(soql, batch_size(&headers))?;
    Ok(Json(QueryBody::new(&base, &page)).into_response())
}

/// `GET .../query/{locator}-{offset}`: the next page of an earlier query.
pub async fn query_more(
    State(records): State<Records>,
    Path((segment, token)): Path<(String, String)>,
) -> Reply {
    let base = version(&segment)?.base();
    let page = records.query_more(&token)?;
    Ok(Json(QueryBody::new(&base, &page)).into_response())
}

/// The batch size asked for in `Sforce-Query-Options` (`batchSize=N`, other options
/// ignored), clamped to what the sandbox allows; the default when absent or unreadable.
fn batch_size(headers: &HeaderMap) -> usize {
    let options = headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok());
    let requested = options.and_then(|text| {
        text.split(',')
            .filter_map(|option| option.split_once('='))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case("batchSize"))
            .and_then(|(_, value)| value.trim().parse::<usize>().ok())
    });
    requested.map_or(MAX_BATCH, |n| n.clamp(MIN_BATCH, MAX_BATCH))
}

/// `GET .../sobjects/`: describeGlobal.
pub async fn describe_global(Path(segment): Path<String>) -> Reply {
    let base = version(&segment)?.base();
    let sobjects: Vec<Value> = schema::TYPES
        .iter()
        .map(|t| sobject_summary(&base, t))
        .collect();
    let body = json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects});
    Ok(Json(body).into_response())
}

fn sobject_summary(base: &str, sobject: &SObjectType) -> Value {
    let url = format!("{base}/sobjects/{}", sobject.name);
    json!({
        "name": sobject.name,
        "label": sobject.label,
        "labelPlural": sobject.label_plural,
        "keyPrefix": sobject.key_prefix,
        "custom": false,
        "createable": true,
        "deletable": true,
        "queryable": true,
        "retrieveable": true,
        "searchable": true,
        "updateable": true,
        "urls": {
            "sobject": url,
            "describe": format!("{url}/describe"),
            "rowTemplate": format!("{url}/{{ID}}"),
        },
    })
}

/// `GET .../sobjects/{Type}`: basic information and recently created records.
pub async fn sobject_info(
    State(records): State<Records>,
    Path((segment, name)): Path<(String, String)>,
) -> Reply {
    let base = version(&segment)?.base();
    let sobject = schema::find(&name).ok_or_else(RestError::not_found)?;
    let recent: Vec<Value> = records
        .recent(sobject.name)?
        .into_iter()
        .map(|id| {
            let url = record_url(&base, sobject.name, &id);
            json!({"attributes": {"type": sobject.name, "url": url}, "Id": id})
        })
        .collect();
    let body = json!({"objectDescribe": sobject_summary(&base, sobject), "recentItems": recent});
    Ok(Json(body).into_response())
}

/// `GET .../sobjects/{Type}/describe`: the fields of a type.
fn describe(base: &str, sobject: &SObjectType) -> Response {
    let fields: Vec<Value> = sobject
        .fields
        .iter()
        .map(|f| {
            json!({
                "name": f.name, "label": f.label, "type": f.describe_type,
                "createable": f.writable, "updateable": f.writable,
                "nillable": !f.required && f.writable,
            })
        })
        .collect();
    let mut body = sobject_summary(base, sobject);
    if let Some(object) = body.as_object_mut() {
        object.insert("fields".to_owned(), Value::Array(fields));
    }
    Json(body).into_response()
}

/// `POST .../sobjects/{Type}`: 201 `{"id", "success": true, "errors": []}`.
pub async fn create(
    State(records): State<Records>,
    Path((segment, name)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    version(&segment)?;
    let sobject = schema::find(&name).ok_or_else(RestError::not_found)?;
    let fields = json_object(&body)?;
    let id = records.create(sobject.name, &fields)?;
    let reply = json!({"id": id, "success": true, "errors": []});
    Ok((StatusCode::CREATED, Json(reply)).into_response())
}

/// `GET .../sobjects/{Type}/{Id}[?fields=A,B]` (and `.../describe`).
pub async fn get_record(
    State(records): State<Records>,
    Path((segment, name, id)): Path<(String, String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Reply {
    let base = version(&segment)?.base();
    let sobject = schema::find(&name).ok_or_else(RestError::not_found)?;
    if id == "describe" {
        return Ok(describe(&base, sobject));
    }
    let row = records.get(sobject.name, &id, params.get("fields").map(String::as_str))?;
    Ok(Json(RowJson {
        base: &base,
        row: &row,
    })
    .into_response())
}

/// `PATCH .../sobjects/{Type}/{Id}`: 204.
pub async fn update_record(
    State(records): State<Records>,
    Path((segment, name, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Reply {
    version(&segment)?;
    let fields = json_object(&body)?;
    records.update(&name, &id, &fields)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE .../sobjects/{Type}/{Id}`: 204.
pub async fn delete_record(
    State(records): State<Records>,
    Path((segment, name, id)): Path<(String, String, String)>,
) -> Reply {
    version(&segment)?;
    records.delete(&name, &id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, RecordError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(other) => Err(RecordError::BadJson(format!(
            "Json Deserialization failed on token '{}' and has left off in the middle of \
             parsing a row. Will go to end of row to begin parsing the next row",
            json_token(&other)
        ))),
        Err(err) => Err(RecordError::BadJson(format!("Unexpected character: {err}"))),
    }
}

fn json_token(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "START_ARRAY",
        Value::String(_) => "VALUE_STRING",
        Value::Number(_) => "VALUE_NUMBER_INT",
        Value::Bool(_) => "VALUE_TRUE",
        Value::Null | Value::Object(_) => "null",
    }
}

/// `GET .../limits`. The session gate must have attached [`ApiUsage`]; without it this is a
/// wiring bug in the sandbox, answered 500 rather than with made-up numbers.
pub async fn limits(
    Path(segment): Path<String>,
    usage: Option<axum::Extension<ApiUsage>>,
) -> Reply {
    version(&segment)?;
    let Some(axum::Extension(usage)) = usage else {
        tracing::error!("limits requested without an ApiUsage extension: the gate is not wired");
        return Err(RestError::with_status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN_EXCEPTION",
            "sandbox wiring bug: the session gate did not attach ApiUsage to this request",
        ));
    };
    let fixed = |max: u64| json!({"Max": max, "Remaining": max});
    let body = json!({
        "ConcurrentAsyncGetReportInstances": fixed(200),
        "DailyApiRequests": {"Max": usage.max, "Remaining": usage.max.saturating_sub(usage.used)},
        "DailyAsyncApexExecutions": fixed(250_000),
        "DailyBulkApiBatches": fixed(15_000),
        "DataStorageMB": fixed(5),
        "FileStorageMB": fixed(20),
    });
    Ok(Json(body).into_response())
}

/// Any other path under `/services/data/`: Salesforce's 404 body.
pub async fn not_found() -> RestError {
    RestError::not_found()
}

/// 405 with Salesforce's text, for a known path and an unsupported method.
pub fn method_not_allowed(method: &Method, allowed: &str) -> RestError {
    RestError::with_status(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("HTTP Method '{method}' not allowed. Allowed are {allowed}"),
    )
}
