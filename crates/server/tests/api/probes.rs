//! Helpers beyond one-per-endpoint: whole answers (status, headers, body) and the problem
//! bodies tests assert, sandbox faults and stats, history pages, and the steps of a connect
//! flow taken one at a time so tests can tamper with or delay them.

#![allow(dead_code)] // each test module uses a different subset

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{CLIENT_ID, CLIENT_SECRET, TestApp, location};
use crate::support::Says;

/// A response read whole: status, headers and body text.
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    pub async fn of(response: reqwest::Response) -> Answer {
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            text: response.text().await.unwrap(),
        }
    }

    /// The body as JSON (panics with the text when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

/// The problem `type` URI of a code.
pub fn problem_type(code: &str) -> String {
    format!("https://tether.dev/problems/{code}")
}

/// Asserts a problem document: status, content type, `type`, `title`, `status`, `detail`.
pub fn assert_problem(answer: &Answer, status: StatusCode, code: &str, title: &str, detail: &str) {
    assert_problem_of("the answer", answer, status, code, title, detail);
}

/// [`assert_problem`] for one case of a table, which every failure names.
pub fn assert_problem_of(
    case: &str,
    answer: &Answer,
    status: StatusCode,
    code: &str,
    title: &str,
    detail: &str,
) {
    assert_problem_saying(case, answer, (status, code, title), &Says::Exactly(detail));
}

/// The status, code and title of a 400 `invalid-request` problem.
pub const INVALID_REQUEST: (StatusCode, &str, &str) = (
    StatusCode::BAD_REQUEST,
    "invalid-request",
    "Invalid request",
);

/// [`assert_problem_of`] with a `detail` as `says` describes it, for the problem's
/// `(status, code, title)`.
pub fn assert_problem_saying(
    case: &str,
    answer: &Answer,
    (status, code, title): (StatusCode, &str, &str),
    says: &Says,
) {
    assert_eq!(answer.status, status, "{case}: {}", answer.text);
    assert_eq!(
        answer.header("content-type").as_deref(),
        Some("application/problem+json"),
        "{case}"
    );
    let body = answer.json();
    assert_eq!(body["type"], problem_type(code), "{case}: {body}");
    assert_eq!(body["title"], title, "{case}: {body}");
    assert_eq!(body["status"], status.as_u16(), "{case}: {body}");
    says.assert(case, body["detail"].as_str().unwrap_or_default());
}

/// Asserts a 400 `invalid-request` problem with `detail`.
pub fn assert_invalid_request(answer: &Answer, detail: &str) {
    assert_invalid_request_of("the answer", answer, detail);
}

/// [`assert_invalid_request`] for one case of a table, which every failure names.
pub fn assert_invalid_request_of(case: &str, answer: &Answer, detail: &str) {
    assert_problem_saying(case, answer, INVALID_REQUEST, &Says::Exactly(detail));
}

/// The 409 `connection-expired` problem tether answers for `status_reason`.
pub fn assert_expired_problem(answer: &Answer, status_reason: &str, provider_error: &Value) {
    let detail = format!("the connection has expired: {status_reason}; reconnect it");
    assert_problem(
        answer,
        StatusCode::CONFLICT,
        "connection-expired",
        "Connection Expired",
        &detail,
    );
    let body = answer.json();
    assert_eq!(body["status_reason"], status_reason, "{body}");
    assert_eq!(body["diagnosis"]["cause"], status_reason, "{body}");
    assert_eq!(
        &body["diagnosis"]["provider_error"], provider_error,
        "{body}"
    );
}

/// Salesforce's error answer `{error, error_description}`, as tether reports it.
pub fn provider_error(error: &str, description: &str) -> Value {
    json!({"error": error, "error_description": description})
}

/// Salesforce's answer to a dead refresh token.
pub fn expired_token_error() -> Value {
    provider_error("invalid_grant", "expired access/refresh token")
}

/// Asserts that the `provider_error` of `reported` (a diagnosis, an event) is Salesforce's
/// `error` with `description`.
pub fn assert_provider_error(reported: &Value, error: &str, description: &str) {
    let expected = provider_error(error, description);
    assert_eq!(reported["provider_error"], expected, "{reported}");
}

/// The query parameters of a URL.
pub fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

impl TestApp {
    /// PUTs a connector with `extra` fields (hints, another secret) merged into the usual body.
    pub async fn put_connector_with(&self, name: &str, extra: Value) -> Answer {
        let mut body = self.connector_body(CLIENT_SECRET);
        if let (Some(obj), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            obj.extend(extra.clone());
        }
        let path = format!("/v1/connectors/{name}");
        Answer::of(
            self.api(Method::PUT, &path)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The connector is edited to a consumer secret Salesforce does not know.
    pub async fn put_wrong_client_secret(&self) {
        let wrong = json!({"client_secret": "not-the-secret"});
        let put = self.put_connector_with("salesforce", wrong).await;
        assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    }

    /// Arms the sandbox token endpoint: the next `count` calls stall `delay_ms`, then answer
    /// `status`.
    pub async fn fail_token_endpoint(&self, status: u16, delay_ms: u64, count: u64) {
        let fault = json!({"status": status, "delay_ms": delay_ms, "count": count});
        self.sandbox_put("/_sandbox/faults", json!({ "token_endpoint": fault }))
            .await;
    }

    /// Disarms every sandbox fault.
    pub async fn clear_faults(&self) {
        self.sandbox_put("/_sandbox/faults", json!({})).await;
    }

    pub async fn sandbox_get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.sandbox_base);
        let r = self.http.get(url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.unwrap()
    }

    /// Live refresh tokens the sandbox holds for the test app and its default user.
    pub async fn live_refresh_tokens(&self) -> u64 {
        let stats = self.sandbox_get("/_sandbox/stats").await;
        stats["live_refresh_tokens"][CLIENT_ID]["admin@sandbox.example"]
            .as_u64()
            .unwrap_or(0)
    }

    /// Any API call with this workspace's key, read whole.
    pub async fn call(&self, method: Method, path: &str) -> Answer {
        Answer::of(self.api(method, path).send().await.unwrap()).await
    }

    /// "Check now" (`POST /v1/connections/{id}/check`), which must answer 200; the connection.
    pub async fn check(&self, id: &str) -> Value {
        let path = format!("/v1/connections/{id}/check");
        let answer = self.call(Method::POST, &path).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.json()
    }

    /// The token endpoint, read whole.
    pub async fn token_answer(&self, id: &str) -> Answer {
        Answer::of(self.token(id).await).await
    }

    /// The connection's `status` and `status_reason`.
    pub async fn status_of(&self, id: &str) -> (String, Value) {
        let c = self.connection(id).await;
        (
            c["status"].as_str().unwrap().to_owned(),
            c["status_reason"].clone(),
        )
    }

    /// One page of the history (`query` like `limit=2&before=7`).
    pub async fn events_page(&self, id: &str, query: &str) -> Value {
        let path = format!("/v1/connections/{id}/events?{query}");
        let answer = self.call(Method::GET, &path).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.json()
    }

    /// The event kinds of a connection, newest first.
    pub async fn event_kinds(&self, id: &str) -> Vec<String> {
        self.events(id)
            .await
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Starts a connect flow for `u-42`; returns the sandbox authorize URL tether redirected to.
    pub async fn authorize_url(&self, redirect_to: Option<&str>) -> String {
        let mut body = json!({"connector": "salesforce", "end_user_id": "u-42"});
        if let Some(to) = redirect_to {
            body["redirect_to"] = json!(to);
        }
        let (_, to_provider) = self.open_connect_session(body).await;
        location(&to_provider)
    }

    /// Creates a connect session with `body` and opens its connect URL in this app's browser;
    /// the session, and tether's redirect to the sandbox's authorize page.
    pub async fn open_connect_session(&self, body: Value) -> (Value, reqwest::Response) {
        let created = Answer::of(self.create_connect_session(body).await).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let session = created.json();
        let connect_url = session["connect_url"].as_str().unwrap();
        let to_provider = self.http.get(connect_url).send().await.unwrap();
        assert_eq!(to_provider.status(), StatusCode::SEE_OTHER, "connect url");
        (session, to_provider)
    }

    /// Starts a connect flow and lets the sandbox auto-approve it; returns tether's callback
    /// URL (with `code` and `state`), not yet opened.
    pub async fn callback_url(&self, redirect_to: Option<&str>) -> String {
        let authorize = self.authorize_url(redirect_to).await;
        let to_callback = self.http.get(&authorize).send().await.unwrap();
        assert!(to_callback.status().is_redirection());
        location(&to_callback)
    }

    /// How many connections the workspace has.
    pub async fn connection_count(&self) -> usize {
        let answer = self.call(Method::GET, "/v1/connections").await;
        answer.json()["connections"].as_array().unwrap().len()
    }
}
