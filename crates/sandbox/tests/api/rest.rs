//! The REST data API behind the session gate: SOQL queries, paging and sObject CRUD made with
//! a real access token from the OAuth flow.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestSandbox, spawn_connected, spawn_sandbox};

const V: &str = "/services/data/v64.0";

/// One REST call with a bearer token; the body is `Null` when empty.
async fn call(
    sandbox: &TestSandbox,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = sandbox
        .client
        .request(method, sandbox.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("rest call");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn soql_path(soql: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect();
    format!("{V}/query?q={encoded}")
}

#[tokio::test]
async fn query_with_an_access_token_returns_the_seeded_accounts() {
    let (sandbox, tokens) = spawn_connected().await;
    let path = soql_path("SELECT Name FROM Account ORDER BY Name");
    let (status, body) = call(&sandbox, &tokens.access, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["totalSize"].clone(), body["done"].clone()),
        (json!(4), json!(true))
    );
    let names: Vec<Value> = body["records"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["Name"].clone())
        .collect();
    assert_eq!(
        names,
        vec![
            json!("Acme Corporation"),
            json!("Globex Inc."),
            json!("Initech"),
            json!("Umbrella Health")
        ]
    );
}

#[tokio::test]
async fn paging_through_the_gate_follows_next_records_url_to_the_last_contact() {
    let (sandbox, tokens) = spawn_connected().await;
    let response = sandbox
        .client
        .get(sandbox.url(&soql_path("SELECT Id FROM Contact")))
        .bearer_auth(&tokens.access)
        .header("Sforce-Query-Options", "batchSize=3")
        .send()
        .await
        .expect("query");
    assert_eq!(response.status(), StatusCode::OK);
    let mut page: Value = response.json().await.expect("query body");
    let mut sizes = Vec::new();
    loop {
        sizes.push(page["records"].as_array().map_or(0, Vec::len));
        let Some(next) = page["nextRecordsUrl"].as_str().map(str::to_owned) else {
            break;
        };
        let (status, body) = call(&sandbox, &tokens.access, Method::GET, &next, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        page = body;
    }
    assert_eq!((sizes, page["done"].clone()), (vec![3, 3, 2], json!(true)));
}

#[tokio::test]
async fn create_update_read_and_delete_a_contact_with_an_access_token() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.connect().await.access;
    let account = "0015g0000000001AAA";
    let new = json!({"FirstName": "Ada", "LastName": "Lovelace", "AccountId": account});
    let (status, body) = call(
        &sandbox,
        &token,
        Method::POST,
        &format!("{V}/sobjects/Contact"),
        Some(new),
    )
    .await;
    let id = "0035g0000000009AAA";
    assert_eq!(
        (status, body),
        (
            StatusCode::CREATED,
            json!({"id": id, "success": true, "errors": []})
        )
    );

    let url = format!("{V}/sobjects/Contact/{id}");
    let patch = Some(json!({"Email": "ada@example.com"}));
    let (status, body) = call(&sandbox, &token, Method::PATCH, &url, patch).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));

    let read = format!("{url}?fields=LastName,Email,AccountId");
    let (status, body) = call(&sandbox, &token, Method::GET, &read, None).await;
    let expected = json!({
        "attributes": {"type": "Contact", "url": url},
        "LastName": "Lovelace", "Email": "ada@example.com", "AccountId": account,
    });
    assert_eq!((status, body), (StatusCode::OK, expected));

    let (status, _) = call(&sandbox, &token, Method::DELETE, &url, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(&sandbox, &token, Method::GET, &url, None).await;
    let not_found =
        json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]);
    assert_eq!((status, body), (StatusCode::NOT_FOUND, not_found));
}
