//! The REST data routers served on a real port without the session gate: versions, resource
//! map, SOQL queries and paging, sObject CRUD, limits, and Salesforce's error bodies.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::DateTime;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tether_core::clock::{FixedClock, SharedClock};
use tether_sandbox::rest::{ApiUsage, Records, api_routes, public_routes};

const V: &str = "/services/data/v64.0";

struct TestOrg {
    base: String,
    http: Client,
}

impl TestOrg {
    async fn start() -> TestOrg {
        Self::start_with(None).await
    }

    /// Serves the routers on 127.0.0.1:0; `usage` stands in for what the session gate attaches.
    async fn start_with(usage: Option<ApiUsage>) -> TestOrg {
        let clock: SharedClock = Arc::new(FixedClock::at(
            DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default(),
        ));
        let mut router = public_routes().merge(api_routes(Records::seeded(clock)));
        if let Some(usage) = usage {
            router = router.layer(axum::Extension(usage));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        TestOrg {
            base,
            http: Client::new(),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, String) {
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    /// Status and body; a body that is not JSON comes back as a JSON string.
    async fn send_json(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let (status, text) = self.send(request).await;
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send_json(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn query(&self, soql: &str, batch: Option<u32>) -> (StatusCode, Value) {
        let mut request = self
            .http
            .get(format!("{}{V}/query", self.base))
            .query(&[("q", soql)]);
        if let Some(n) = batch {
            request = request.header("Sforce-Query-Options", format!("batchSize={n}"));
        }
        let (status, text) = self.send(request).await;
        (status, serde_json::from_str(&text).unwrap())
    }

    fn write(&self, method: reqwest::Method, path: &str, body: &Value) -> reqwest::RequestBuilder {
        let url = format!("{}{path}", self.base);
        self.http.request(method, url).json(body)
    }

    /// A write and its JSON answer.
    async fn write_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        self.send_json(self.write(method, path, &body)).await
    }

    /// `POST .../sobjects/{sobject}` with `fields`: a record created, and its JSON answer.
    async fn create(&self, sobject: &str, fields: Value) -> (StatusCode, Value) {
        let path = format!("{V}/sobjects/{sobject}");
        self.write_json(reqwest::Method::POST, &path, fields).await
    }
}

/// Salesforce's error body: one `{message, errorCode}` in a list.
fn sf_error(code: &str, message: &str) -> Value {
    json!([{"message": message, "errorCode": code}])
}

fn not_found() -> Value {
    sf_error("NOT_FOUND", "The requested resource does not exist")
}

fn account_url(n: u32) -> String {
    format!("{V}/sobjects/Account/0015g000000000{n}AAA")
}

#[tokio::test]
async fn versions_list_runs_from_summer_14_to_summer_25_with_relative_urls() {
    let org = TestOrg::start().await;
    let (status, body) = org.get("/services/data/").await;
    assert_eq!(status, StatusCode::OK);
    let list = body.as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 34);
    assert_eq!(
        list[0],
        json!({"label": "Summer '14", "url": "/services/data/v31.0", "version": "31.0"})
    );
    assert_eq!(
        list[33],
        json!({"label": "Summer '25", "url": "/services/data/v64.0", "version": "64.0"})
    );
}

#[tokio::test]
async fn resource_map_gives_relative_urls_for_the_requested_version() {
    let org = TestOrg::start().await;
    let (status, body) = org.get("/services/data/v60.0/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "sobjects": "/services/data/v60.0/sobjects",
            "query": "/services/data/v60.0/query",
            "limits": "/services/data/v60.0/limits",
        })
    );
}

#[tokio::test]
async fn unknown_version_or_path_gets_the_not_found_body() {
    let org = TestOrg::start().await;
    for path in [
        "/services/data/v99.0/",
        "/services/data/v64.0/nope",
        "/services/data/latest/query",
    ] {
        assert_eq!(
            org.get(path).await,
            (StatusCode::NOT_FOUND, not_found()),
            "{path}"
        );
    }
}

#[tokio::test]
async fn query_with_where_order_by_and_limit_returns_the_matching_rows() {
    let org = TestOrg::start().await;
    let soql = "SELECT Name, Industry FROM Account WHERE Industry = 'Technology' ORDER BY Name DESC LIMIT 1";
    let (status, body) = org.query(soql, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "totalSize": 1,
            "done": true,
            "records": [{
                "attributes": {"type": "Account", "url": account_url(3)},
                "Name": "Initech",
                "Industry": "Technology",
            }],
        })
    );
}

#[tokio::test]
async fn count_query_answers_total_size_without_records() {
    let org = TestOrg::start().await;
    let (status, body) = org.query("select count() from contact", None).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"totalSize": 8, "done": true, "records": []})
        )
    );
}

#[tokio::test]
async fn paging_follows_next_records_url_to_the_end_in_query_order() {
    let org = TestOrg::start().await;
    let soql = "SELECT Id FROM Contact ORDER BY LastName";
    let (_, whole) = org.query(soql, None).await;
    let (status, mut page) = org.query(soql, Some(3)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        page["nextRecordsUrl"],
        json!(format!("{V}/query/01g5g0000000001AAA-3"))
    );
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    loop {
        assert_eq!(page["totalSize"], json!(8));
        let records = page["records"].as_array().cloned().unwrap_or_default();
        sizes.push(records.len());
        seen.extend(records);
        let Some(next) = page["nextRecordsUrl"].as_str().map(str::to_owned) else {
            break;
        };
        assert_eq!(page["done"], json!(false));
        let (status, body) = org.get(&next).await;
        assert_eq!(status, StatusCode::OK);
        page = body;
    }
    assert_eq!(page["done"], json!(true));
    assert_eq!(sizes, vec![3, 3, 2]);
    assert_eq!(Value::Array(seen), whole["records"]);
}

#[tokio::test]
async fn finished_or_unknown_locator_is_invalid_query_locator() {
    let org = TestOrg::start().await;
    let answer = org.get(&format!("{V}/query/01g5g0000000009AAA-2")).await;
    let invalid = sf_error("INVALID_QUERY_LOCATOR", "invalid query locator");
    assert_eq!(answer, (StatusCode::BAD_REQUEST, invalid));
}

#[tokio::test]
async fn create_read_update_delete_round_trip() {
    let org = TestOrg::start().await;
    let post = org
        .create("Account", json!({"Name": "Hooli", "NumberOfEmployees": 40}))
        .await;
    let created = json!({"id": "0015g0000000005AAA", "success": true, "errors": []});
    assert_eq!(post, (StatusCode::CREATED, created));

    let url = account_url(5);
    let website = json!({"Website": "https://hooli.example"});
    let patch = org
        .send(org.write(reqwest::Method::PATCH, &url, &website))
        .await;
    assert_eq!(patch, (StatusCode::NO_CONTENT, String::new()));

    let (status, body) = org
        .get(&format!("{url}?fields=Name,Website,NumberOfEmployees"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "attributes": {"type": "Account", "url": url},
            "Name": "Hooli", "Website": "https://hooli.example", "NumberOfEmployees": 40,
        })
    );

    let (status, full) = org.get(&url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(full["CreatedDate"], json!("2025-06-15T15:06:40.000+0000"));
    assert_eq!(full["Phone"], Value::Null);
    assert_eq!(full["Id"], json!("0015g0000000005AAA"));

    let delete = org
        .send(org.http.delete(format!("{}{url}", org.base)))
        .await;
    assert_eq!(delete, (StatusCode::NO_CONTENT, String::new()));
    assert_eq!(org.get(&url).await, (StatusCode::NOT_FOUND, not_found()));
}

#[tokio::test]
async fn writing_an_unknown_field_is_invalid_field() {
    let org = TestOrg::start().await;
    let answer = org.create("Account", json!({"Name": "X", "Nope": 1})).await;
    assert_eq!(
        answer,
        (
            StatusCode::BAD_REQUEST,
            sf_error(
                "INVALID_FIELD",
                "No such column 'Nope' on sobject of type Account"
            )
        )
    );
}

#[tokio::test]
async fn unknown_sobject_type_is_not_found_for_records_and_invalid_type_for_queries() {
    let org = TestOrg::start().await;
    let answer = org.create("Nope", json!({"Name": "X"})).await;
    assert_eq!(answer, (StatusCode::NOT_FOUND, not_found()));
    let (status, body) = org.query("SELECT Id FROM Nope", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = "\nSELECT Id FROM Nope\n               ^\nERROR at Row:1:Column:16\nsObject type 'Nope' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.";
    assert_eq!(body, sf_error("INVALID_TYPE", message));
}

#[tokio::test]
async fn unknown_columns_and_syntax_errors_in_soql_carry_salesforce_text() {
    let org = TestOrg::start().await;
    let cases = [
        (
            "unknown column",
            "SELECT Nope FROM Account",
            "INVALID_FIELD",
            "\nSELECT Nope FROM Account\n       ^\nERROR at Row:1:Column:8\nNo such column 'Nope' on entity 'Account'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
        ),
        (
            "syntax error",
            "SELECT Id FORM Account",
            "MALFORMED_QUERY",
            "\nSELECT Id FORM Account\n          ^\nERROR at Row:1:Column:11\nunexpected token: 'FORM'",
        ),
    ];
    for (name, soql, code, message) in cases {
        assert_eq!(
            org.query(soql, None).await,
            (StatusCode::BAD_REQUEST, sf_error(code, message)),
            "{name}"
        );
    }
}

#[tokio::test]
async fn missing_record_is_not_found() {
    let org = TestOrg::start().await;
    assert_eq!(
        org.get(&account_url(9)).await,
        (StatusCode::NOT_FOUND, not_found())
    );
    assert_eq!(
        org.get(&format!("{V}/sobjects/Account/garbage")).await,
        (StatusCode::NOT_FOUND, not_found())
    );
}

#[tokio::test]
async fn unsupported_method_is_method_not_allowed() {
    let org = TestOrg::start().await;
    let answer = org
        .write_json(reqwest::Method::PUT, &account_url(1), json!({}))
        .await;
    assert_eq!(
        answer,
        (
            StatusCode::METHOD_NOT_ALLOWED,
            sf_error(
                "METHOD_NOT_ALLOWED",
                "HTTP Method 'PUT' not allowed. Allowed are GET,PATCH,DELETE,HEAD"
            )
        )
    );
}

#[tokio::test]
async fn limits_report_daily_api_requests_from_the_gate_usage() {
    let org = TestOrg::start_with(Some(ApiUsage {
        used: 7,
        max: 15_000,
    }))
    .await;
    let (status, body) = org.get(&format!("{V}/limits")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["DailyApiRequests"],
        json!({"Max": 15_000, "Remaining": 14_993})
    );
}

#[tokio::test]
async fn limits_without_gate_usage_is_a_wiring_error() {
    let org = TestOrg::start().await;
    let wiring_bug = sf_error(
        "UNKNOWN_EXCEPTION",
        "sandbox wiring bug: the session gate did not attach ApiUsage to this request",
    );
    assert_eq!(
        org.get(&format!("{V}/limits")).await,
        (StatusCode::INTERNAL_SERVER_ERROR, wiring_bug)
    );
}
