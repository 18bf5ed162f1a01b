//! Bulk API 1.0 query jobs under `/services/async/{version}/`: XML jobs with CSV results, JSON
//! jobs, the `X-SFDC-Session` header as the only authentication, and simple-salesforce's bulk
//! query run against the sandbox directly.

use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tether_sandbox::rest::record_id;

use crate::helpers::{TestSandbox, spawn_connected};

const NS: &str = "http://www.force.com/2009/06/asyncapi/dataload";
const BULK: &str = "/services/async/64.0";
const SOQL: &str = "SELECT Id, Name FROM Account ORDER BY Name LIMIT 2";

/// Bulk calls made with one session (or none) in one request format.
struct Bulk<'a> {
    sandbox: &'a TestSandbox,
    session: Option<&'a str>,
    content_type: &'a str,
}

impl<'a> Bulk<'a> {
    fn new(sandbox: &'a TestSandbox, session: Option<&'a str>, content_type: &'a str) -> Self {
        Self {
            sandbox,
            session,
            content_type,
        }
    }

    /// One call: status, `Content-Type` and body text.
    async fn call(&self, method: Method, path: &str, body: &str) -> (StatusCode, String, String) {
        let mut request = self
            .sandbox
            .client
            .request(method, self.sandbox.url(&format!("{BULK}{path}")))
            .header("content-type", self.content_type)
            .body(body.to_owned());
        if let Some(session) = self.session {
            request = request.header("x-sfdc-session", session);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let kind = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        (status, kind, response.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> (StatusCode, String, String) {
        self.call(Method::GET, path, "").await
    }

    async fn post(&self, path: &str, body: &str) -> (StatusCode, String, String) {
        self.call(Method::POST, path, body).await
    }

    /// A call answered in JSON: status and the parsed body.
    async fn json(&self, method: Method, path: &str, body: &str) -> (StatusCode, Value) {
        let (status, _, text) = self.call(method, path, body).await;
        (status, serde_json::from_str(&text).unwrap())
    }
}

/// The text of `<name>` in an XML answer (dates change from run to run).
fn xml_field(xml: &str, name: &str) -> String {
    let start = xml.find(&format!("<{name}>")).unwrap() + name.len() + 2;
    let end = start + xml[start..].find('<').unwrap();
    xml[start..end].to_owned()
}

/// The records REST answers for `soql`, without `attributes`.
async fn rest_rows(sandbox: &TestSandbox, access: &str, soql: &str) -> Vec<Value> {
    let path = format!("/services/data/v64.0/query?q={}", soql.replace(' ', "+"));
    let body: Value = sandbox.rest_get(access, &path).await.json().await.unwrap();
    body["records"].as_array().unwrap().clone()
}

fn xml_job(id: &str, created: &str, state: &str, batches: (u32, u32)) -> String {
    let (completed, processed) = batches;
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><jobInfo xmlns=\"{NS}\"><id>{id}</id><operation>query</operation><object>Account</object><createdById>005000000000001AAA</createdById><createdDate>{created}</createdDate><systemModstamp>{created}</systemModstamp><state>{state}</state><concurrencyMode>Parallel</concurrencyMode><contentType>CSV</contentType><numberBatchesQueued>0</numberBatchesQueued><numberBatchesInProgress>0</numberBatchesInProgress><numberBatchesCompleted>{completed}</numberBatchesCompleted><numberBatchesFailed>0</numberBatchesFailed><numberBatchesTotal>{completed}</numberBatchesTotal><numberRecordsProcessed>{processed}</numberRecordsProcessed><numberRetries>0</numberRetries><apiVersion>64.0</apiVersion><numberRecordsFailed>0</numberRecordsFailed><totalProcessingTime>0</totalProcessingTime><apiActiveProcessingTime>0</apiActiveProcessingTime><apexProcessingTime>0</apexProcessingTime></jobInfo>"
    )
}

fn xml_batch(id: &str, job: &str, state: &str, created: &str, processed: u32) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><batchInfo xmlns=\"{NS}\"><id>{id}</id><jobId>{job}</jobId><state>{state}</state><createdDate>{created}</createdDate><systemModstamp>{created}</systemModstamp><numberRecordsProcessed>{processed}</numberRecordsProcessed><numberRecordsFailed>0</numberRecordsFailed><totalProcessingTime>0</totalProcessingTime><apiActiveProcessingTime>0</apiActiveProcessingTime><apexProcessingTime>0</apexProcessingTime></batchInfo>"
    )
}

const CREATE_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><jobInfo xmlns=\"http://www.force.com/2009/06/asyncapi/dataload\"><operation>query</operation><object>Account</object><contentType>CSV</contentType></jobInfo>";

#[tokio::test]
async fn an_xml_query_job_runs_end_to_end_with_csv_results() {
    let (sandbox, tokens) = spawn_connected().await;
    let xml = "application/xml";
    let bulk = Bulk::new(&sandbox, Some(&tokens.access), xml);
    let (status, kind, body) = bulk.post("/job", CREATE_XML).await;
    let job = record_id("750", 1);
    let created = xml_field(&body, "createdDate");
    assert!(
        created.ends_with(".000Z") || created.ends_with('Z'),
        "{created}"
    );
    assert_eq!(
        (status, kind.as_str(), body),
        (
            StatusCode::CREATED,
            xml,
            xml_job(&job, &created, "Open", (0, 0))
        )
    );
    let csv_batch = Bulk::new(&sandbox, Some(&tokens.access), "text/csv");
    let (status, _, body) = csv_batch.post(&format!("/job/{job}/batch"), SOQL).await;
    let batch = record_id("751", 2);
    let batch_created = xml_field(&body, "createdDate");
    assert_eq!(
        (status, body),
        (
            StatusCode::CREATED,
            xml_batch(&batch, &job, "Queued", &batch_created, 0)
        )
    );
    let path = format!("/job/{job}/batch/{batch}");
    let (status, _, body) = bulk.get(&path).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            xml_batch(&batch, &job, "Completed", &batch_created, 2)
        )
    );
    let result = record_id("752", 3);
    let (status, _, body) = bulk.get(&format!("{path}/result")).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><result-list xmlns=\"{NS}\"><result>{result}</result></result-list>"
            )
        )
    );
    let rows = rest_rows(&sandbox, &tokens.access, SOQL).await;
    let expected_csv = format!(
        "\"Id\",\"Name\"\n\"{}\",\"{}\"\n\"{}\",\"{}\"\n",
        rows[0]["Id"].as_str().unwrap(),
        rows[0]["Name"].as_str().unwrap(),
        rows[1]["Id"].as_str().unwrap(),
        rows[1]["Name"].as_str().unwrap()
    );
    let (status, kind, body) = bulk.get(&format!("{path}/result/{result}")).await;
    assert_eq!(
        (status, kind.as_str(), body),
        (StatusCode::OK, "text/csv", expected_csv)
    );
    let close = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><jobInfo xmlns=\"http://www.force.com/2009/06/asyncapi/dataload\"><state>Closed</state></jobInfo>";
    let (status, _, body) = bulk.post(&format!("/job/{job}"), close).await;
    let modified = xml_field(&body, "systemModstamp");
    let expected = xml_job(&job, &created, "Closed", (1, 2)).replacen(
        &format!("<systemModstamp>{created}"),
        &format!("<systemModstamp>{modified}"),
        1,
    );
    assert_eq!((status, body.clone()), (StatusCode::OK, expected));
    let (status, _, info) = bulk.get(&format!("/job/{job}")).await;
    assert_eq!((status, info), (StatusCode::OK, body));
}

#[tokio::test]
async fn a_json_query_job_answers_json_and_its_records_match_rest() {
    let (sandbox, tokens) = spawn_connected().await;
    let json_type = "application/json";
    let bulk = Bulk::new(&sandbox, Some(&tokens.access), json_type);
    let create = json!({"operation": "query", "object": "Account", "concurrencyMode": 0, "contentType": "JSON"});
    let (status, kind, body) = bulk.post("/job", &create.to_string()).await;
    assert_eq!((status, kind.as_str()), (StatusCode::CREATED, json_type));
    let job: Value = serde_json::from_str(&body).unwrap();
    let created = job["createdDate"].as_str().unwrap();
    assert!(created.ends_with("+0000"), "{created}");
    assert_eq!(
        job,
        json!({
            "apexProcessingTime": 0, "apiActiveProcessingTime": 0, "apiVersion": 64.0,
            "assignmentRuleId": null, "concurrencyMode": "Parallel", "contentType": "JSON",
            "createdById": "005000000000001AAA", "createdDate": created,
            "externalIdFieldName": null, "fastPathEnabled": false, "id": record_id("750", 1),
            "numberBatchesCompleted": 0, "numberBatchesFailed": 0, "numberBatchesInProgress": 0,
            "numberBatchesQueued": 0, "numberBatchesTotal": 0, "numberRecordsFailed": 0,
            "numberRecordsProcessed": 0, "numberRetries": 0, "object": "Account",
            "operation": "query", "state": "Open", "systemModstamp": created,
            "totalProcessingTime": 0,
        })
    );
    let job_id = record_id("750", 1);
    let batch_path = format!("/job/{job_id}/batch");
    let (status, batch) = bulk.json(Method::POST, &batch_path, SOQL).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(batch["state"], "Queued");
    let path = format!("{batch_path}/{}/result", batch["id"].as_str().unwrap());
    let (_, list) = bulk.json(Method::GET, &path, "").await;
    let result = record_id("752", 3);
    assert_eq!(list, json!([result]));
    let (status, records) = bulk
        .json(Method::GET, &format!("{path}/{result}"), "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        records,
        Value::Array(rest_rows(&sandbox, &tokens.access, SOQL).await)
    );
}

#[tokio::test]
async fn bulk_refuses_a_missing_revoked_or_bearer_only_session_with_invalid_session_id() {
    let (sandbox, tokens) = spawn_connected().await;
    let xml_error = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><error xmlns=\"{NS}\"><exceptionCode>InvalidSessionId</exceptionCode><exceptionMessage>Invalid session id</exceptionMessage></error>"
    );
    let refused = (
        StatusCode::BAD_REQUEST,
        "application/xml".to_owned(),
        xml_error,
    );
    let missing = Bulk::new(&sandbox, None, "application/xml");
    assert_eq!(missing.post("/job", CREATE_XML).await, refused);
    let bearer_only = sandbox
        .client
        .post(sandbox.url(&format!("{BULK}/job")))
        .bearer_auth(&tokens.access)
        .header("content-type", "application/json")
        .body(json!({"operation": "query", "object": "Account", "contentType": "JSON"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(bearer_only.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        bearer_only.json::<Value>().await.unwrap(),
        json!({"exceptionCode": "InvalidSessionId", "exceptionMessage": "Invalid session id"})
    );
    sandbox.revoke(&tokens.refresh).await;
    let revoked = Bulk::new(&sandbox, Some(&tokens.access), "application/xml");
    assert_eq!(revoked.post("/job", CREATE_XML).await, refused);
}

#[tokio::test]
async fn a_batch_with_a_bad_query_fails_with_the_soql_error() {
    let (sandbox, tokens) = spawn_connected().await;
    let bulk = Bulk::new(&sandbox, Some(&tokens.access), "application/json");
    let create =
        json!({"operation": "query", "object": "Account", "contentType": "JSON"}).to_string();
    bulk.post("/job", &create).await;
    let job = record_id("750", 1);
    let soql = "SELECT Id, Nme FROM Account";
    let (_, batch) = bulk
        .json(Method::POST, &format!("/job/{job}/batch"), soql)
        .await;
    let path = format!("/job/{job}/batch/{}", batch["id"].as_str().unwrap());
    let (status, info) = bulk.json(Method::GET, &path, "").await;
    assert_eq!((status, &info["state"]), (StatusCode::OK, &json!("Failed")));
    assert_eq!(
        info["stateMessage"],
        "InvalidBatch : Failed to process query: INVALID_FIELD: \nSELECT Id, Nme FROM Account\n           ^\nERROR at Row:1:Column:12\nNo such column 'Nme' on entity 'Account'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
    );
}

#[tokio::test]
async fn only_query_jobs_on_known_objects_are_accepted_and_closed_jobs_take_no_batches() {
    let (sandbox, tokens) = spawn_connected().await;
    let bulk = Bulk::new(&sandbox, Some(&tokens.access), "application/json");
    let error =
        |code: &str, message: &str| json!({"exceptionCode": code, "exceptionMessage": message});
    let cases = [
        (
            json!({"operation": "insert", "object": "Account", "contentType": "JSON"}),
            error(
                "InvalidJob",
                "the sandbox's Bulk API runs query and queryAll jobs only, not insert",
            ),
        ),
        (
            json!({"operation": "query", "object": "Widget", "contentType": "JSON"}),
            error("InvalidJob", "Unable to find object: Widget"),
        ),
    ];
    for (create, expected) in cases {
        assert_eq!(
            bulk.json(Method::POST, "/job", &create.to_string()).await,
            (StatusCode::BAD_REQUEST, expected),
            "{create}"
        );
    }
    let create =
        json!({"operation": "query", "object": "Account", "contentType": "JSON"}).to_string();
    let (_, job) = bulk.json(Method::POST, "/job", &create).await;
    let job = job["id"].as_str().unwrap();
    let close = json!({"state": "Closed"}).to_string();
    bulk.post(&format!("/job/{job}"), &close).await;
    assert_eq!(
        bulk.json(Method::POST, &format!("/job/{job}/batch"), SOQL)
            .await,
        (
            StatusCode::BAD_REQUEST,
            error("InvalidJobState", &format!("Job {job} is not open: Closed"))
        )
    );
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/bulk_query.py")
}

#[tokio::test]
async fn simple_salesforce_bulk_query_reads_the_same_records_as_rest() {
    let installed = tokio::process::Command::new("python3")
        .args(["-c", "import simple_salesforce"])
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    assert!(
        installed,
        "python3 cannot import simple_salesforce: run python3 -m pip install -r scripts/requirements-test.txt"
    );
    let (sandbox, tokens) = spawn_connected().await;
    let output = tokio::process::Command::new("python3")
        .arg(script())
        .env("SANDBOX_URL", &sandbox.base)
        .env("SANDBOX_SESSION", &tokens.access)
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "script failed: {stderr}");
    let records: Value = serde_json::from_slice(&output.stdout).unwrap();
    let soql = "SELECT Id, Name FROM Account ORDER BY Name";
    let expected = Value::Array(rest_rows(&sandbox, &tokens.access, soql).await);
    assert!(expected.as_array().is_some_and(|r| !r.is_empty()));
    assert_eq!(records, expected);
}
