//! Every error tether answers on its own routes is a problem document, whatever produced it:
//! a handler, axum's routing, a path or body axum could not read.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::spawn_app;

struct Case {
    method: Method,
    path: &'static str,
    body: Option<Vec<u8>>,
    content_type: &'static str,
    status: StatusCode,
    problem: &'static str,
}

fn case(method: Method, path: &'static str, status: StatusCode, problem: &'static str) -> Case {
    Case {
        method,
        path,
        body: None,
        content_type: "application/json",
        status,
        problem,
    }
}

#[tokio::test]
async fn routing_and_parsing_errors_answer_problem_documents() {
    let app = spawn_app().await;
    let oversized = format!(r#"{{"provider": "{}"}}"#, "x".repeat(3 * 1024 * 1024));
    let cases = [
        case(
            Method::GET,
            "/v1/nothing-here",
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        case(
            Method::GET,
            "/no/such/page",
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        case(
            Method::DELETE,
            "/healthz",
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
        ),
        case(
            Method::PATCH,
            "/v1/connections",
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
        ),
        case(
            Method::GET,
            "/v1/connections/%FF",
            StatusCode::NOT_FOUND,
            "not-found",
        ),
        Case {
            body: Some(br#"{"provider": "salesforce"}"#.to_vec()),
            content_type: "text/plain",
            ..case(
                Method::PUT,
                "/v1/connectors/salesforce",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
            )
        },
        Case {
            body: Some(oversized.into_bytes()),
            ..case(
                Method::PUT,
                "/v1/connectors/salesforce",
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
            )
        },
    ];
    for case in cases {
        let mut request = app.api(case.method.clone(), case.path);
        if let Some(body) = case.body {
            request = request.header("content-type", case.content_type).body(body);
        }
        let r = request.send().await.unwrap();
        let what = format!("{} {}", case.method, case.path);
        assert_eq!(r.status(), case.status, "{what}");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{what}"
        );
        if case.status == StatusCode::METHOD_NOT_ALLOWED {
            assert!(r.headers().contains_key("allow"), "{what}: Allow is kept");
        }
        let problem: Value = r.json().await.unwrap();
        assert_eq!(
            problem["type"],
            format!("https://tether.dev/problems/{}", case.problem),
            "{what}"
        );
        assert_eq!(problem["status"], case.status.as_u16(), "{what}");
        assert!(
            problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{what}"
        );
    }
}

#[tokio::test]
async fn tethers_own_pages_and_answers_forbid_scripts_framing_and_sniffing() {
    let app = spawn_app().await;
    for path in ["/login", "/healthz", "/v1/connections", "/nowhere"] {
        let r = app.api(Method::GET, path).send().await.unwrap();
        let headers = r.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("script-src"), "{path}: no script is allowed");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
    }
}

#[tokio::test]
async fn a_page_form_tether_cannot_read_answers_a_page_not_json() {
    let app = spawn_app().await;
    // The sign-in form without its fields.
    let r = app
        .http
        .post(format!("{}/login", app.tether.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("nonsense=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let kind = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("tether could not read this request")
    );
}

#[tokio::test]
async fn a_path_no_route_has_says_so_and_where_the_routes_are_listed() {
    let app = spawn_app().await;
    for path in ["/v2/connections", "/v1/connections/a/b/c"] {
        let problem = app.api_json(Method::GET, path, StatusCode::NOT_FOUND).await;
        assert_eq!(
            problem["detail"],
            "no route has this path: the API's paths start with /v1 (docs/api.md lists them)",
            "{path}"
        );
    }
}
