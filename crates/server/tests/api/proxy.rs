//! The proxy through the sandbox: CRUD and paging as a Salesforce client sees them, the 401
//! heal with one refresh, the blocked session diagnosed by one refresh, limits passed through,
//! expired connections answered without calling Salesforce, and every path-escape trick refused.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::TestApp;
use crate::probes::assert_provider_error;
use crate::support::{ACCOUNTS_QUERY, LIMITS, REST as V, connected_app};

fn proxy(app: &TestApp, method: Method, id: &str, tail: &str) -> reqwest::RequestBuilder {
    app.api(method, &format!("/v1/proxy/{id}/{tail}"))
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

async fn rest_calls(app: &TestApp) -> (u64, u64) {
    let stats = app.sandbox_stats().await;
    let calls = &stats["rest_calls"];
    (
        calls["allowed"].as_u64().unwrap(),
        calls["rejected"].as_u64().unwrap(),
    )
}

/// Creates an Account named `name` through the proxy, which must answer 201; the record's
/// path (below the proxy's `/v1/proxy/{id}/`) and Salesforce's answer.
async fn create_account(app: &TestApp, id: &str, name: &str) -> (String, Value) {
    let created = proxy(app, Method::POST, id, &format!("{V}/sobjects/Account"))
        .json(&json!({ "Name": name }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created = json_of(created).await;
    let record = format!("{V}/sobjects/Account/{}", created["id"].as_str().unwrap());
    (record, created)
}

/// The org times sessions out after 60 s (tether was told nothing and assumes 2 h), and 120 s
/// pass: the access token tether holds is refused.
async fn outlive_a_60_second_session(app: &TestApp) {
    app.patch_app(json!({"session_timeout_seconds": 60})).await;
    app.advance(120).await;
}

/// The connection's `proxied_401` event.
async fn proxied_401(app: &TestApp, id: &str) -> Value {
    let events = app.events_of(id, "proxied_401").await;
    events.into_iter().next().expect("a proxied_401 event")
}

/// Sends raw bytes to tether (no client-side URL normalisation) and returns status and body.
async fn raw(app: &TestApp, request_line: &str, host: Option<&str>) -> (u16, Value) {
    raw_with(app, request_line, host, "").await
}

async fn raw_with(
    app: &TestApp,
    request_line: &str,
    host: Option<&str>,
    extra: &str,
) -> (u16, Value) {
    let addr = app.tether.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let host = host.unwrap_or(&addr);
    let request = format!(
        "{request_line} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n{extra}Connection: close\r\n\r\n",
        app.api_key
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_query_through_the_proxy_answers_what_salesforce_answers() {
    let (app, id) = connected_app().await;
    let direct = app.sandbox_query(&app.access_token(&id).await).await;
    let direct_body = json_of(direct).await;
    let r = app.proxy_get(&id, ACCOUNTS_QUERY).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert!(r.headers().contains_key("sforce-limit-info"));
    let body = json_of(r).await;
    assert_eq!(body, direct_body);
    assert_eq!(body["done"], true);
    assert!(body["totalSize"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn records_are_created_updated_and_deleted_through_the_proxy() {
    let (app, id) = connected_app().await;
    let (record, created) = create_account(&app, &id, "Proxy Corp").await;
    assert_eq!(created["success"], true);
    assert_eq!(created["errors"], json!([]));

    let patched = proxy(&app, Method::PATCH, &id, &record)
        .json(&json!({"Name": "Proxy Corp Renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::NO_CONTENT);
    assert_eq!(patched.text().await.unwrap(), "");
    let read = app.proxy_get(&id, &record).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(json_of(read).await["Name"], "Proxy Corp Renamed");

    let deleted = proxy(&app, Method::DELETE, &id, &record)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = app.proxy_get(&id, &record).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        json_of(gone).await,
        json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
    );
}

#[tokio::test]
async fn next_records_urls_page_through_the_proxy_when_prefixed_with_its_instance_url() {
    let (app, id) = connected_app().await;
    let first = proxy(
        &app,
        Method::GET,
        &id,
        &format!("{V}/query?q=SELECT+Id+FROM+Account"),
    )
    .header("Sforce-Query-Options", "batchSize=1")
    .send()
    .await
    .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let mut page = json_of(first).await;
    let total = page["totalSize"].as_u64().unwrap();
    assert!(total >= 2, "the seed has at least two accounts");
    let mut seen = page["records"].as_array().unwrap().len() as u64;
    while let Some(next) = page["nextRecordsUrl"].as_str() {
        assert!(next.starts_with("/services/data/"), "relative: {next}");
        let r = app
            .send(Method::GET, &format!("/v1/proxy/{id}{next}"))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        page = json_of(r).await;
        seen += page["records"].as_array().unwrap().len() as u64;
    }
    assert_eq!(seen, total);
    assert_eq!(page["done"], true);
}

#[tokio::test]
async fn a_401_after_the_access_token_expired_is_healed_with_one_refresh() {
    let (app, id) = connected_app().await;
    // The org times sessions out after 60 s; tether was told nothing and assumes 2 h.
    outlive_a_60_second_session(&app).await;
    let refreshes = app.refresh_calls().await;
    let r = app.proxy_get(&id, ACCOUNTS_QUERY).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(json_of(r).await["totalSize"].as_u64().unwrap() >= 1);
    assert_eq!(app.refresh_calls().await, refreshes + 1);
    let healed = proxied_401(&app, &id).await;
    assert_eq!(healed["outcome"], "success");
    assert_eq!(
        healed["detail"],
        "Salesforce refused the access token (Session expired or invalid); tether refreshed it and retried: 200 OK"
    );
    assert_provider_error(&healed, "INVALID_SESSION_ID", "Session expired or invalid");
}

#[tokio::test]
async fn a_healed_write_is_replayed_with_its_body() {
    let (app, id) = connected_app().await;
    outlive_a_60_second_session(&app).await;
    let (record, _) = create_account(&app, &id, "Replayed Inc").await;
    let read = app.proxy_get(&id, &record).await;
    assert_eq!(json_of(read).await["Name"], "Replayed Inc");
}

#[tokio::test]
async fn a_blocked_session_is_refreshed_once_to_diagnose_it_and_expires_as_session_blocked() {
    let (app, id) = connected_app().await;
    let refreshes = app.refresh_calls().await;
    app.block_app().await;
    let (_, rejected_before) = rest_calls(&app).await;
    let r = app.proxy_get(&id, ACCOUNTS_QUERY).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body = json_of(r).await;
    assert_eq!(body["type"], "https://tether.dev/problems/session-refused");
    assert_eq!(body["status"], 401);
    assert_eq!(
        body["detail"],
        "Salesforce refuses this session for the REST API (\"This session is not valid for use with the REST API\"); tether refreshed the token once to find out why, Salesforce refused the refresh too, and the connection expired: session_blocked"
    );
    // The refresh was refused and the session probe answered "not valid for the REST API":
    // a Block, not a policy.
    assert_eq!(body["status_reason"], "session_blocked");
    assert_eq!(body["diagnosis"]["cause"], "session_blocked");
    assert_eq!(body["diagnosis"]["confidence"], "likely");
    assert_eq!(body["diagnosis"]["steps"][0]["title"], "Unblock the app");
    assert_eq!(
        body["provider_errors"],
        json!([{"message": "This session is not valid for use with the REST API", "errorCode": "INVALID_SESSION_ID"}])
    );
    assert_eq!(
        app.refresh_calls().await,
        refreshes + 1,
        "one diagnostic refresh"
    );
    assert_eq!(
        rest_calls(&app).await.1,
        rejected_before + 2,
        "the request, and the probe of the old session after the refused refresh; no retry"
    );
    let connection = app.connection(&id).await;
    assert_eq!(connection["status"], "expired");
    assert_eq!(connection["status_reason"], "session_blocked");
    let event = proxied_401(&app, &id).await;
    assert_eq!(event["outcome"], "failure");
    assert_eq!(
        event["detail"],
        "Salesforce refused the session for the REST API (This session is not valid for use with the REST API); tether refreshed once to find out why, and the refresh was refused: session_blocked"
    );

    // Expired now: the next call is answered 409 without a refresh or a call to Salesforce.
    let calls = rest_calls(&app).await;
    let again = app.proxy_get(&id, ACCOUNTS_QUERY).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(
        app.refresh_calls().await,
        refreshes + 1,
        "never a second refresh"
    );
    assert_eq!(rest_calls(&app).await, calls);
}

#[tokio::test]
async fn an_expired_connection_answers_409_with_its_diagnosis_without_calling_salesforce() {
    let (app, id) = connected_app().await;
    // One refresh that works first, so the revoke is not mistaken for an Immediately policy.
    app.advance(2 * 3600).await;
    app.access_token(&id).await;
    app.revoke_app().await;
    // A forced refresh within seconds of the last one is served that one's token.
    app.advance(10).await;
    let forced = app.force_refresh(&id).await;
    assert_eq!(forced.status(), StatusCode::CONFLICT);
    let calls = rest_calls(&app).await;
    let r = app.proxy_get(&id, LIMITS).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body = json_of(r).await;
    assert_eq!(
        body["type"],
        "https://tether.dev/problems/connection-expired"
    );
    assert_eq!(body["title"], "Connection Expired");
    assert_eq!(body["status_reason"], "refresh_token_revoked");
    assert_eq!(body["diagnosis"]["cause"], "refresh_token_revoked");
    assert_eq!(rest_calls(&app).await, calls, "Salesforce was not called");
}

#[tokio::test]
async fn request_limit_exceeded_passes_through_with_its_headers_and_expires_nothing() {
    let (app, id) = connected_app().await;
    app.patch_app(json!({"daily_api_limit": 0})).await;
    let r = app.proxy_get(&id, LIMITS).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.headers()["sforce-limit-info"], "api-usage=0/0");
    assert_eq!(
        json_of(r).await,
        json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    );
    assert_eq!(app.connection(&id).await["status"], "active");
}

#[tokio::test]
async fn a_429_passes_through_and_expires_nothing() {
    let (app, id) = connected_app().await;
    app.sandbox_put(
        "/_sandbox/faults",
        json!({"rest_api": {"status": 429, "delay_ms": 0, "count": 1}}),
    )
    .await;
    let r = app.proxy_get(&id, LIMITS).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        json_of(r).await,
        json!([{"message": "sandbox fault: status 429", "errorCode": "SERVER_UNAVAILABLE"}])
    );
    assert_eq!(app.connection(&id).await["status"], "active");
    let again = app.proxy_get(&id, LIMITS).await;
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_proxy_needs_an_api_key_of_the_connections_workspace() {
    let (app, id) = connected_app().await;
    let other = app.api_key_of_workspace("other").await;
    // (case, the bearer key, the status, a field of the problem and its value)
    let cases = [
        (
            "another workspace's key",
            other.as_str(),
            StatusCode::NOT_FOUND,
            "detail",
            "connection not found",
        ),
        (
            "not a tether API key",
            "not-a-key",
            StatusCode::UNAUTHORIZED,
            "type",
            "https://tether.dev/problems/unauthorized",
        ),
    ];
    let url = format!("{}/v1/proxy/{id}/{LIMITS}", app.tether.base);
    for (case, key, status, field, value) in cases {
        let r = app.http.get(&url).bearer_auth(key).send().await.unwrap();
        assert_eq!(r.status(), status, "{case}");
        assert_eq!(json_of(r).await[field], value, "{case}");
    }
}

#[tokio::test]
async fn every_path_escape_trick_is_refused_with_what_it_tried() {
    let (app, id) = connected_app().await;
    let dots = "the proxied path may not contain '.' or '..' segments";
    // (case, the path after `/v1/proxy/{id}/`, the Host header, the problem's detail)
    let cases = [
        (
            "a dot-dot path",
            "services/../../_sandbox/stats",
            None,
            dots,
        ),
        (
            "an encoded dot-dot path",
            "services/%2e%2e/_sandbox/stats",
            None,
            dots,
        ),
        (
            "an encoded slash",
            "services%2f..%2f_sandbox/stats",
            None,
            "the proxied path may not contain encoded slashes or backslashes",
        ),
        (
            "an absolute URL",
            "http://evil.example/services/data",
            None,
            "the proxied path may not be an absolute URL",
        ),
        (
            "an at sign",
            "user@evil.example/services/data",
            None,
            "the proxied path may not contain '@'",
        ),
        (
            "a foreign Host header",
            LIMITS,
            Some("evil.example"),
            "the Host header \"evil.example\" does not name tether; the proxy only answers for its own host",
        ),
    ];
    for (case, tail, host, detail) in cases {
        let line = format!("GET /v1/proxy/{id}/{tail}");
        let (status, body) = raw(&app, &line, host).await;
        assert_eq!(status, 400, "{case}: {line}: {body}");
        assert_eq!(
            body["type"], "https://tether.dev/problems/invalid-request",
            "{case}"
        );
        assert_eq!(body["detail"], detail, "{case}: {line}");
    }
}

#[tokio::test]
async fn a_request_body_declared_above_the_limit_is_refused_with_413() {
    let (app, id) = connected_app().await;
    let limit = app.tether.state.proxy.limits().max_request_bytes;
    let line = format!("POST /v1/proxy/{id}/{V}/sobjects/Account");
    let (status, body) = raw_with(
        &app,
        &line,
        None,
        &format!("Content-Length: {}\r\n", limit + 1),
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(
        body["type"],
        "https://tether.dev/problems/request-too-large"
    );
    assert_eq!(
        body["detail"],
        format!(
            "the request body is larger than the proxy allows ({limit} bytes; setting proxy_max_request_bytes)"
        )
    );
}

/// `POST /v1/proxy/{id}/services/async/64.0/job` (a Bulk API 1.0 query job) with the tether
/// API key (or `session`) as `X-SFDC-Session` only, as Bulk clients send it.
async fn create_bulk_job(app: &TestApp, id: &str, session: &str) -> reqwest::Response {
    let create = json!({"operation": "query", "object": "Account", "contentType": "JSON"});
    app.http
        .post(format!(
            "{}/v1/proxy/{id}/services/async/64.0/job",
            app.tether.base
        ))
        .header("x-sfdc-session", session)
        .header("content-type", "application/json")
        .body(create.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_bulk_job_authenticated_by_x_sfdc_session_runs_through_the_proxy_with_the_access_token() {
    let (app, id) = connected_app().await;
    // The sandbox, like Salesforce, refuses anything but a live session in X-SFDC-Session.
    let r = create_bulk_job(&app, &id, &app.api_key).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let job = json_of(r).await;
    assert_eq!(job["object"], "Account");
    assert_eq!(job["state"], "Open");

    let wrong = create_bulk_job(&app, &id, "tk_not_a_key").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_bulk_invalid_session_after_the_access_token_expired_is_healed_with_one_refresh() {
    let (app, id) = connected_app().await;
    outlive_a_60_second_session(&app).await;
    let refreshes = app.refresh_calls().await;
    let r = create_bulk_job(&app, &id, &app.api_key).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(app.refresh_calls().await, refreshes + 1);
    let healed = proxied_401(&app, &id).await;
    assert_eq!(healed["outcome"], "success");
}

#[tokio::test]
async fn a_soap_login_through_the_proxy_is_refused_with_what_to_do_instead() {
    let (app, id) = connected_app().await;
    let r = proxy(&app, Method::POST, &id, "services/Soap/u/64.0")
        .header("soapaction", "login")
        .header("content-type", "text/xml")
        .body("<Envelope/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let problem = json_of(r).await;
    assert_eq!(
        problem["detail"],
        "tether holds this connection's session: do not log in through the proxy (SOAP login); give the client the tether API key as its session id"
    );
}

#[tokio::test]
async fn after_one_healed_401_tether_refreshes_the_next_token_before_the_age_it_died_at() {
    let (app, id) = connected_app().await;
    // The org times sessions out after 60 s; tether assumes 2 h until a 401 says otherwise.
    app.patch_app(json!({"session_timeout_seconds": 60})).await;
    app.advance(61).await;
    let r = app.proxy_get(&id, ACCOUNTS_QUERY).await;
    assert_eq!(r.status(), StatusCode::OK);
    let refreshes = app.refresh_calls().await;

    // The healed token is 61 s old at the next call: tether refreshes it first.
    app.advance(61).await;
    let r = app.proxy_get(&id, ACCOUNTS_QUERY).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.refresh_calls().await, refreshes + 1, "refreshed ahead");
    let refusals = app.events_of(&id, "proxied_401").await;
    assert_eq!(refusals.len(), 1, "no second 401: {refusals:#?}");
}
