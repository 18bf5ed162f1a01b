//! Hostile input against a running tether: random methods, paths (odd bytes, traversal,
//! unknown ids), query strings, headers and bodies (broken JSON, wrong types, huge values) on
//! every route of tether's own. Never a 5xx, never a dropped connection, and every error of
//! the `/v1` API and the operations endpoints is a problem document. A bounded run is part of
//! the test command; `FUZZ_REQUESTS=20000 FUZZ_SEED=7 cargo test -p tether-server --test api
//! fuzz` runs longer.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};

use crate::helpers::spawn_app;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

/// A path segment: sometimes sensible, often not.
fn segment(rng: &mut StdRng, real_id: &str) -> String {
    let odd = [
        "%FF",
        "%00",
        "..",
        "%2e%2e",
        "conn_",
        "conn_ZZZZZZZZZZZZZZZZZZZZ",
        "salesforce",
        "%E2%82%AC",
        "a%2Fb",
        "ä",
        "'--",
        "%",
        "%%",
        "null",
        "-1",
        "0",
    ];
    match rng.gen_range(0..4) {
        0 => real_id.to_owned(),
        1 => (*pick(rng, &odd)).to_owned(),
        2 => "x".repeat(rng.gen_range(1..300)),
        _ => format!("{}{}", pick(rng, &odd), rng.r#gen::<u32>()),
    }
}

fn path(rng: &mut StdRng, real_id: &str) -> String {
    let templates = [
        "/v1/connections",
        "/v1/connections/{}",
        "/v1/connections/{}/token",
        "/v1/connections/{}/check",
        "/v1/connections/{}/events",
        "/v1/connections/{}/reconnect",
        "/v1/connections/import",
        "/v1/connectors",
        "/v1/connectors/{}",
        "/v1/connect-sessions",
        "/v1/{}",
        "/healthz",
        "/readyz",
        "/metrics",
        "/{}",
    ];
    let mut path = pick(rng, &templates).replace("{}", &segment(rng, real_id));
    if rng.gen_bool(0.3) {
        let queries = [
            "limit=0",
            "limit=-5",
            "limit=99999999999999999999",
            "cursor=%FF",
            "cursor=abc",
            "status=weird",
            "force_refresh=maybe",
            "force_refresh=true",
            "connector=%00",
            "a=1&a=2",
            "=",
            "&&&",
        ];
        path = format!("{path}?{}", pick(rng, &queries));
    }
    path
}

fn body(rng: &mut StdRng) -> Vec<u8> {
    let bodies: [&str; 14] = [
        "",
        "{",
        "null",
        "[]",
        "\"text\"",
        "{\"connector\": 5}",
        "{\"connector\": \"salesforce\", \"end_user_id\": null}",
        "{\"connector\": \"salesforce\", \"end_user_id\": \"u\", \"redirect_to\": \"javascript:alert(1)\"}",
        "{\"provider\": \"salesforce\", \"client_id\": \"x\", \"client_secret\": \"y\", \"login_url\": \"http://169.254.169.254\"}",
        "{\"provider\": \"salesforce\", \"session_timeout_seconds\": 1e308}",
        "{\"refresh_token_policy\": {\"kind\": \"lifetime\", \"seconds\": 9000000000000000000}}",
        "{\"rejected_token\": 12}",
        "{\"connector\": \"salesforce\", \"end_user_id\": \"u\", \"refresh_token\": \"r\", \"instance_url\": \"https://evil.example\"}",
        "\u{0000}\u{FFFF}",
    ];
    match rng.gen_range(0..5) {
        0 => (0..rng.gen_range(0..64))
            .map(|_| rng.r#gen::<u8>())
            .collect(),
        1 => format!(
            "{{\"end_user_id\": \"{}\"}}",
            "y".repeat(rng.gen_range(0..5000))
        )
        .into_bytes(),
        _ => pick(rng, &bodies).as_bytes().to_vec(),
    }
}

#[tokio::test]
async fn random_requests_never_get_a_5xx_and_every_api_error_is_a_problem_document() {
    let requests = setting("FUZZ_REQUESTS", 1000);
    let seed = setting("FUZZ_SEED", 20261203);
    let mut rng = StdRng::seed_from_u64(seed);
    let app = spawn_app().await;
    let real_id = app.connect().await;
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
    ];
    let content_types = [
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin1",
        "",
    ];
    for n in 0..requests {
        let method = pick(&mut rng, &methods).clone();
        let path = path(&mut rng, &real_id);
        let url = format!("{}{path}", app.tether.base);
        let mut request = app.http.request(method.clone(), &url);
        match rng.gen_range(0..4) {
            0 => {}
            1 => request = request.bearer_auth("tk_not_a_key"),
            2 => request = request.header("authorization", "Basic Zm9vOmJhcg=="),
            _ => request = request.bearer_auth(&app.api_key),
        }
        let content_type = pick(&mut rng, &content_types);
        if !content_type.is_empty() {
            request = request.header("content-type", *content_type);
        }
        let response = request
            .body(body(&mut rng))
            .send()
            .await
            .unwrap_or_else(|e| panic!("request {n} ({method} {path}, seed {seed}): {e}"));
        let status = response.status();
        assert!(
            !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
            "request {n} ({method} {path}, seed {seed}) answered {status}"
        );
        let own_api = path.starts_with("/v1/") || path.starts_with("/readyz");
        if own_api && status.is_client_error() && method != Method::HEAD {
            let kind = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            assert_eq!(
                kind, "application/problem+json",
                "request {n} ({method} {path}, seed {seed}) answered {status}"
            );
        }
    }
    // tether still serves, and the connection is whole: active with its token served, unless
    // the storm sent it a valid DELETE.
    let health = app.http.get(format!("{}/healthz", app.tether.base)).send();
    assert_eq!(health.await.unwrap().status(), StatusCode::OK);
    let connection = app.connection(&real_id).await;
    match connection["status"].as_str() {
        Some("active") => assert_eq!(app.token(&real_id).await.status(), StatusCode::OK),
        Some("disconnected") => {}
        other => panic!("the connection ended {other:?} (seed {seed}): {connection}"),
    }
}
