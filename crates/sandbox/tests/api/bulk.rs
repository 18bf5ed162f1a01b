//! Bulk API 1.0 query jobs under `/services/async/{version}/`: XML jobs with CSV results, JSON
//! jobs, the `X-SFDC-Session` header as the only authentication, and simple-salesforce's bulk
//! query run against the sandbox directly.

use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tether_sandbox::rest::record_id;

use crate::helpers::{TestSandbox, spawn_sandbox};

const NS: &str = "http://www.force.com/2009/06/asyncapi/dataload";
const BULK: &str = "/services/async/64.0";
const SOQL: &str = "SELECT Id, Name FROM Account ORDER BY Name LIMIT 2";

/// One Bulk call: status, `Content-Type` and body text.
async fn bulk(
    sandbox: &TestSandbox,
    method: Method,
    path: &str,
    session: Option<&str>,
    content_type: &str,
    body: &str,
) -> (StatusCode, String, String) {
    let mut request = sandbox
        .client
        .request(method, sandbox.url(&format!("{BULK}{path}")))
        .header("content-type", content_type)
        .body(body.to_owned());
    if let Some(session) = session {
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
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    let session = Some(tokens.access.as_str());
    let xml = "application/xml";
    let (status, kind, body) = bulk(&sandbox, Method::POST, "/job", session, xml, CREATE_XML).await;
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
    let path = format!("/job/{job}/batch");
    let (status, _, body) = bulk(&sandbox, Method::POST, &path, session, "text/csv", SOQL).await;
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
    let (status, _, body) = bulk(&sandbox, Method::GET, &path, session, xml, "").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            xml_batch(&batch, &job, "Completed", &batch_created, 2)
        )
    );
    let result = record_id("752", 3);
    let (status, _, body) = bulk(
        &sandbox,
        Method::GET,
        &format!("{path}/result"),
        session,
        xml,
        "",
    )
    .await;
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
    let one = format!("{path}/result/{result}");
    let (status, kind, body) = bulk(&sandbox, Method::GET, &one, session, xml, "").await;
    assert_eq!(
        (status, kind.as_str(), body),
        (StatusCode::OK, "text/csv", expected_csv)
    );
    let close = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><jobInfo xmlns=\"http://www.force.com/2009/06/asyncapi/dataload\"><state>Closed</state></jobInfo>";
    let (status, _, body) = bulk(
        &sandbox,
        Method::POST,
        &format!("/job/{job}"),
        session,
        xml,
        close,
    )
    .await;
    let modified = xml_field(&body, "systemModstamp");
    let expected = xml_job(&job, &created, "Closed", (1, 2)).replacen(
        &format!("<systemModstamp>{created}"),
        &format!("<systemModstamp>{modified}"),
        1,
    );
    assert_eq!((status, body.clone()), (StatusCode::OK, expected));
    let (status, _, info) = bulk(
        &sandbox,
        Method::GET,
        &format!("/job/{job}"),
        session,
        xml,
        "",
    )
    .await;
    assert_eq!((status, info), (StatusCode::OK, body));
}

#[tokio::test]
async fn a_json_query_job_answers_json_and_its_records_match_rest() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    let session = Some(tokens.access.as_str());
    let json_type = "application/json";
    let create = json!({"operation": "query", "object": "Account", "concurrencyMode": 0, "contentType": "JSON"});
    let (status, kind, body) = bulk(
        &sandbox,
        Method::POST,
        "/job",
        session,
        json_type,
        &create.to_string(),
    )
    .await;
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
    let (status, _, body) = bulk(
        &sandbox,
        Method::POST,
        &format!("/job/{job_id}/batch"),
        session,
        json_type,
        SOQL,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let batch: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(batch["state"], "Queued");
    let path = format!(
        "/job/{job_id}/batch/{}/result",
        batch["id"].as_str().unwrap()
    );
    let (_, _, list) = bulk(&sandbox, Method::GET, &path, session, json_type, "").await;
    let result = record_id("752", 3);
    assert_eq!(
        serde_json::from_str::<Value>(&list).unwrap(),
        json!([result])
    );
    let (status, _, records) = bulk(
        &sandbox,
        Method::GET,
        &format!("{path}/{result}"),
        session,
        json_type,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let records: Value = serde_json::from_str(&records).unwrap();
    assert_eq!(
        records,
        Value::Array(rest_rows(&sandbox, &tokens.access, SOQL).await)
    );
}

#[tokio::test]
async fn bulk_refuses_a_missing_revoked_or_bearer_only_session_with_invalid_session_id() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    let xml_error = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><error xmlns=\"{NS}\"><exceptionCode>InvalidSessionId</exceptionCode><exceptionMessage>Invalid session id</exceptionMessage></error>"
    );
    let missing = bulk(
        &sandbox,
        Method::POST,
        "/job",
        None,
        "application/xml",
        CREATE_XML,
    )
    .await;
    assert_eq!(
        missing,
        (
            StatusCode::BAD_REQUEST,
            "application/xml".to_owned(),
            xml_error.clone()
        )
    );
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
    sandbox
        .client
        .post(sandbox.url("/services/oauth2/revoke"))
        .form(&[("token", tokens.refresh.as_str())])
        .send()
        .await
        .unwrap();
    let revoked = bulk(
        &sandbox,
        Method::POST,
        "/job",
        Some(&tokens.access),
        "application/xml",
        CREATE_XML,
    )
    .await;
    assert_eq!(
        revoked,
        (
            StatusCode::BAD_REQUEST,
            "application/xml".to_owned(),
            xml_error
        )
    );
}

#[tokio::test]
async fn a_batch_with_a_bad_query_fails_with_the_soql_error() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    let session = Some(tokens.access.as_str());
    let json_type = "application/json";
    let create =
        json!({"operation": "query", "object": "Account", "contentType": "JSON"}).to_string();
    bulk(&sandbox, Method::POST, "/job", session, json_type, &create).await;
    let job = record_id("750", 1);
    let soql = "SELECT Id, Nme FROM Account";
    let (_, _, body) = bulk(
        &sandbox,
        Method::POST,
        &format!("/job/{job}/batch"),
        session,
        json_type,
        soql,
    )
    .await;
    let batch: Value = serde_json::from_str(&body).unwrap();
    let path = format!("/job/{job}/batch/{}", batch["id"].as_str().unwrap());
    let (status, _, body) = bulk(&sandbox, Method::GET, &path, session, json_type, "").await;
    let info: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((status, &info["state"]), (StatusCode::OK, &json!("Failed")));
    assert_eq!(
        info["stateMessage"],
        "InvalidBatch : Failed to process query: INVALID_FIELD: \nSELECT Id, Nme FROM Account\n           ^\nERROR at Row:1:Column:12\nNo such column 'Nme' on entity 'Account'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
    );
}

#[tokio::test]
async fn only_query_jobs_on_known_objects_are_accepted_and_closed_jobs_take_no_batches() {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    let session = Some(tokens.access.as_str());
    let json_type = "application/json";
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
        let (status, _, body) = bulk(
            &sandbox,
            Method::POST,
            "/job",
            session,
            json_type,
            &create.to_string(),
        )
        .await;
        assert_eq!(
            (status, serde_json::from_str::<Value>(&body).unwrap()),
            (StatusCode::BAD_REQUEST, expected)
        );
    }
    let create =
        json!({"operation": "query", "object": "Account", "contentType": "JSON"}).to_string();
    let (_, _, body) = bulk(&sandbox, Method::POST, "/job", session, json_type, &create).await;
    let job = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let close = json!({"state": "Closed"}).to_string();
    bulk(
        &sandbox,
        Method::POST,
        &format!("/job/{job}"),
        session,
        json_type,
        &close,
    )
    .await;
    let (status, _, body) = bulk(
        &sandbox,
        Method::POST,
        &format!("/job/{job}/batch"),
        session,
        json_type,
        SOQL,
    )
    .await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()),
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
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
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
