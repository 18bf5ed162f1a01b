//! Every error tether answers on its own routes is a problem document, whatever produced it:
//! a handler, axum's routing, a path or body axum could not read.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::spawn_app;

struct Case {
    method: Method,
    path: &'static str,
    body: Option<Vec<u8>>,
    status: StatusCode,
    problem: &'static str,
}

fn case(method: Method, path: &'static str, status: StatusCode, problem: &'static str) -> Case {
    Case {
        method,
        path,
        body: None,
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
            StatusCode::BAD_REQUEST,
            "invalid-request",
        ),
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
            request = request
                .header("content-type", "application/json")
                .body(body);
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
