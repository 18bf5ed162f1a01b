//! `spawn_sandbox()` and one typed helper per call the tests make: each test gets its own
//! sandbox on port 0 with its own virtual clock, and a client that keeps cookies and never
//! follows redirects (the tests read `Location` themselves).

use std::sync::{Arc, OnceLock};

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};
use tether_core::clock::VirtualClock;
use tether_sandbox::jwt::{TestKeys, test_keys};
use tether_sandbox::{
    DEFAULT_CALLBACK_URLS, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox, SpawnedSandbox,
};
use url::Url;

pub const CALLBACK: &str = DEFAULT_CALLBACK_URLS[0];

/// The body every "refresh token is dead" answer carries.
pub fn expired_token() -> Value {
    json!({"error": "invalid_grant", "error_description": "expired access/refresh token"})
}

/// One RSA key pair and self-signed certificate shared by every test of the binary.
pub fn keys() -> &'static TestKeys {
    static KEYS: OnceLock<TestKeys> = OnceLock::new();
    KEYS.get_or_init(|| test_keys().expect("test keys"))
}

/// A running sandbox and a client for it.
pub struct TestSandbox {
    pub spawned: SpawnedSandbox,
    pub base: String,
    pub client: reqwest::Client,
    pub clock: Arc<VirtualClock>,
}

/// Tokens from one completed connection.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub body: Value,
}

/// A sandbox in auto-approve mode.
pub async fn spawn_sandbox() -> TestSandbox {
    spawn(true).await
}

/// A sandbox that shows the login and Allow pages.
pub async fn spawn_interactive_sandbox() -> TestSandbox {
    spawn(false).await
}

async fn spawn(auto_approve: bool) -> TestSandbox {
    let clock = Arc::new(VirtualClock::new());
    let spawned = Sandbox::spawn_local(auto_approve, clock.clone())
        .await
        .expect("spawn sandbox");
    let base = spawned.base_url.as_str().trim_end_matches('/').to_owned();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client");
    TestSandbox {
        spawned,
        base,
        client,
        clock,
    }
}

/// Asserts a 302 back to the callback carrying exactly `error`, `error_description` and, when
/// given, `state`, in that order.
pub fn assert_redirected_with_error(
    response: &reqwest::Response,
    error: &str,
    description: &str,
    state: Option<&str>,
) {
    assert_eq!(response.status(), StatusCode::FOUND);
    let mut expected = vec![
        ("error".to_owned(), error.to_owned()),
        ("error_description".to_owned(), description.to_owned()),
    ];
    if let Some(state) = state {
        expected.push(("state".to_owned(), state.to_owned()));
    }
    assert_eq!(location_params(response), expected);
}

/// The query parameters of a redirect's `Location`.
pub fn location_params(response: &reqwest::Response) -> Vec<(String, String)> {
    let location = response
        .headers()
        .get(LOCATION)
        .expect("Location header")
        .to_str()
        .expect("ascii");
    let url = Url::parse(location).expect("absolute Location");
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// One parameter of a redirect's `Location`.
pub fn location_param(response: &reqwest::Response, name: &str) -> Option<String> {
    location_params(response)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

impl TestSandbox {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /services/oauth2/authorize` for the default app with `extra` parameters on top.
    pub async fn authorize(&self, extra: &[(&str, &str)]) -> reqwest::Response {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("redirect_uri", CALLBACK),
            ("scope", "api refresh_token"),
        ];
        for (key, value) in extra {
            params.retain(|(k, _)| k != key);
            params.push((key, value));
        }
        let url = self.url("/services/oauth2/authorize");
        self.client
            .get(url)
            .query(&params)
            .send()
            .await
            .expect("authorize")
    }

    /// An authorization code for the default user (auto-approve mode).
    pub async fn authorize_code(&self) -> String {
        self.authorize_code_with(&[]).await
    }

    pub async fn authorize_code_with(&self, extra: &[(&str, &str)]) -> String {
        let response = self.authorize(extra).await;
        assert_eq!(response.status(), StatusCode::FOUND);
        location_param(&response, "code").expect("code in Location")
    }

    /// `POST /services/oauth2/token` with a form.
    pub async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url("/services/oauth2/token"))
            .form(form)
            .send()
            .await
            .expect("token");
        let status = response.status();
        (status, response.json().await.expect("token body is JSON"))
    }

    /// Exchanges a code with the default app's credentials.
    pub async fn exchange_code(&self, code: &str) -> (StatusCode, Value) {
        self.exchange_code_with(code, &[]).await
    }

    pub async fn exchange_code_with(
        &self,
        code: &str,
        extra: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("redirect_uri", CALLBACK),
        ];
        form.extend_from_slice(extra);
        self.token(&form).await
    }

    /// Authorizes and exchanges the code; panics unless both succeed.
    pub async fn connect(&self) -> Tokens {
        self.connect_with(&[]).await
    }

    pub async fn connect_with(&self, authorize_extra: &[(&str, &str)]) -> Tokens {
        let code = self.authorize_code_with(authorize_extra).await;
        let (status, body) = self.exchange_code(&code).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Tokens {
            access: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            refresh: body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned(),
            body,
        }
    }

    /// A refresh with the default app's credentials.
    pub async fn refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
        ])
        .await
    }

    /// Moves the sandbox clock forward through the control API.
    pub async fn advance(&self, seconds: u64) {
        let (status, _) = self
            .control(
                reqwest::Method::POST,
                "/_sandbox/clock/advance",
                Some(json!({"seconds": seconds})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }

    /// Changes the default app's policies.
    pub async fn patch_app(&self, patch: Value) {
        let path = format!("/_sandbox/apps/{DEFAULT_CLIENT_ID}");
        let (status, body) = self
            .control(reqwest::Method::PATCH, &path, Some(patch))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Changes a user.
    pub async fn patch_user(&self, username: &str, patch: Value) {
        let path = format!("/_sandbox/users/{username}");
        let (status, body) = self
            .control(reqwest::Method::PATCH, &path, Some(patch))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Sets the IP the org sees.
    pub async fn set_client_ip(&self, ip: &str) {
        let body = json!({"client_ip": ip});
        let (status, _) = self
            .control(reqwest::Method::PUT, "/_sandbox/network", Some(body))
            .await;
        assert_eq!(status, StatusCode::OK);
    }

    /// Any control call; the body is `Null` when the answer is not JSON.
    pub async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("control call");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A REST call with a bearer token.
    pub async fn rest_get(&self, access_token: &str, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("rest call")
    }

    /// `GET /services/oauth2/userinfo` with a bearer token: status and body text.
    pub async fn userinfo(&self, access_token: &str) -> (StatusCode, String) {
        let response = self
            .rest_get(access_token, "/services/oauth2/userinfo")
            .await;
        let status = response.status();
        (status, response.text().await.expect("userinfo body"))
    }

    /// `GET .../limits` and its status, `Sforce-Limit-Info` and JSON body.
    pub async fn limits(&self, access_token: &str) -> (StatusCode, Option<String>, Value) {
        let response = self
            .rest_get(access_token, "/services/data/v62.0/limits")
            .await;
        let status = response.status();
        let info = response
            .headers()
            .get("sforce-limit-info")
            .map(|v| v.to_str().expect("ascii").to_owned());
        (
            status,
            info,
            response.json().await.expect("limits body is JSON"),
        )
    }
}

/// The REST body for an expired or revoked session.
pub fn session_expired() -> Value {
    json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
}

/// The REST body for a session a policy refuses.
pub fn session_not_valid() -> Value {
    json!([{"message": "This session is not valid for use with the REST API", "errorCode": "INVALID_SESSION_ID"}])
}
