//! `spawn_sandbox()` and one typed helper per call the tests make: each test gets its own
//! sandbox on port 0 with its own virtual clock, and a client that keeps cookies and never
//! follows redirects (the tests read `Location` themselves).

use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::header::LOCATION;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use tether_core::clock::VirtualClock;
use tether_sandbox::jwt::{TestKeys, test_keys};
use tether_sandbox::{
    DEFAULT_CALLBACK_URLS, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_USERNAME, Sandbox,
    SpawnedSandbox,
};
use url::Url;

pub const CALLBACK: &str = DEFAULT_CALLBACK_URLS[0];

/// An OAuth error body.
pub fn oauth_error(error: &str, description: &str) -> Value {
    json!({"error": error, "error_description": description})
}

/// What a token call refused with `error` answers: 400 and its OAuth error body.
pub fn refused(error: &str, description: &str) -> (StatusCode, Value) {
    (StatusCode::BAD_REQUEST, oauth_error(error, description))
}

/// The body every "refresh token is dead" answer carries.
pub fn expired_token() -> Value {
    oauth_error("invalid_grant", "expired access/refresh token")
}

/// What a refresh with a dead refresh token answers.
pub fn expired_refresh() -> (StatusCode, Value) {
    (StatusCode::BAD_REQUEST, expired_token())
}

/// The answer to a used, timed-out or foreign authorization code.
pub fn expired_code() -> (StatusCode, Value) {
    refused("invalid_grant", "expired authorization code")
}

/// The answer to a grant from outside the user's login IP ranges.
pub fn ip_restricted() -> (StatusCode, Value) {
    refused("invalid_grant", "IP restricted or invalid login hours")
}

/// The answer to a grant for an inactive user.
pub fn inactive_user() -> (StatusCode, Value) {
    refused("inactive_user", "user is inactive")
}

/// The answer to a grant for a user an admin-approved app does not list.
pub fn not_admin_approved() -> (StatusCode, Value) {
    refused(
        "invalid_app_access",
        "user is not admin approved to access this app",
    )
}

/// What the identity URL and userinfo answer for a dead or unknown token.
pub fn bad_oauth_token() -> (StatusCode, String) {
    (StatusCode::FORBIDDEN, "Bad_OAuth_Token".to_owned())
}

/// The sorted keys of a signed token answer that carries no refresh token.
pub const SIGNED_ANSWER_KEYS: [&str; 7] = [
    "access_token",
    "id",
    "instance_url",
    "issued_at",
    "scope",
    "signature",
    "token_type",
];

/// Asserts a token answer is a success when `refusal` is `None`, else exactly `refusal`; `case`
/// names the assertion.
pub fn assert_token_answer(
    answer: (StatusCode, Value),
    refusal: Option<(StatusCode, Value)>,
    case: &str,
) {
    match refusal {
        None => assert_eq!(answer.0, StatusCode::OK, "{case}: {}", answer.1),
        Some(refusal) => assert_eq!(answer, refusal, "{case}"),
    }
}

/// The keys of a JSON object, sorted.
pub fn sorted_keys(body: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// The `signature` of a token answer: HMAC-SHA256 of `id` and `issued_at` with the default
/// app's secret, in Base64.
pub fn expected_signature(body: &Value) -> String {
    let id = body["id"].as_str().expect("id");
    let issued_at = body["issued_at"].as_str().expect("issued_at");
    let mut mac = Hmac::<Sha256>::new_from_slice(DEFAULT_CLIENT_SECRET.as_bytes()).expect("key");
    mac.update(format!("{id}{issued_at}").as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
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

/// A sandbox in auto-approve mode and the tokens of one connection of the default user.
pub async fn spawn_connected() -> (TestSandbox, Tokens) {
    let sandbox = spawn_sandbox().await;
    let tokens = sandbox.connect().await;
    (sandbox, tokens)
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
        let defaults = [
            ("response_type", "code"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("redirect_uri", CALLBACK),
            ("scope", "api refresh_token"),
        ];
        let params = overridden(&defaults, extra);
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

    /// `POST` a form to `path`.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let request = self.client.post(self.url(path)).form(form);
        request.send().await.expect(path)
    }

    /// `POST /services/oauth2/token` with a form.
    pub async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        json_answer(self.post_form("/services/oauth2/token", form).await).await
    }

    /// Exchanges a code with the default app's credentials; `extra` parameters add to the form
    /// or replace its defaults.
    pub async fn exchange_code(&self, code: &str) -> (StatusCode, Value) {
        self.exchange_code_with(code, &[]).await
    }

    /// Exchanges `code`, which must succeed (200); the token answer.
    pub async fn exchange_ok(&self, code: &str) -> Value {
        let (status, body) = self.exchange_code(code).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub async fn exchange_code_with(
        &self,
        code: &str,
        extra: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let defaults = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("redirect_uri", CALLBACK),
        ];
        self.token(&overridden(&defaults, extra)).await
    }

    /// Authorizes and exchanges the code; panics unless both succeed.
    pub async fn connect(&self) -> Tokens {
        self.connect_with(&[]).await
    }

    pub async fn connect_with(&self, authorize_extra: &[(&str, &str)]) -> Tokens {
        let code = self.authorize_code_with(authorize_extra).await;
        let body = self.exchange_ok(&code).await;
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

    /// `POST /services/oauth2/token` with the default app's credentials in HTTP Basic.
    pub async fn token_with_basic_auth(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url("/services/oauth2/token"))
            .basic_auth(DEFAULT_CLIENT_ID, Some(DEFAULT_CLIENT_SECRET))
            .form(form)
            .send()
            .await
            .expect("token")
    }

    /// `POST /services/oauth2/revoke` for a token.
    pub async fn revoke(&self, token: &str) -> reqwest::Response {
        self.post_form("/services/oauth2/revoke", &[("token", token)])
            .await
    }

    /// `POST /services/oauth2/introspect` with the default app's credentials.
    pub async fn introspect(&self, token: &str) -> (StatusCode, Value) {
        let form = [
            ("token", token),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
        ];
        json_answer(self.post_form("/services/oauth2/introspect", &form).await).await
    }

    /// The interactive login form's submission (after an authorize call).
    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        let form = [("username", username), ("password", password)];
        self.post_form("/services/oauth2/authorize/login", &form)
            .await
    }

    /// The Allow / Deny form's submission: `decision` is `allow` or `deny`.
    pub async fn consent(&self, decision: &str) -> reqwest::Response {
        let form = [("decision", decision)];
        self.post_form("/services/oauth2/authorize/consent", &form)
            .await
    }

    /// Moves the sandbox clock forward through the control API.
    pub async fn advance(&self, seconds: u64) {
        let body = json!({"seconds": seconds});
        self.control_ok(Method::POST, "/_sandbox/clock/advance", Some(body))
            .await;
    }

    /// Changes the default app's policies.
    pub async fn patch_app(&self, patch: Value) {
        let path = format!("/_sandbox/apps/{DEFAULT_CLIENT_ID}");
        self.control_ok(Method::PATCH, &path, Some(patch)).await;
    }

    /// Changes a user.
    pub async fn patch_user(&self, username: &str, patch: Value) {
        let path = format!("/_sandbox/users/{username}");
        self.control_ok(Method::PATCH, &path, Some(patch)).await;
    }

    /// Sets the default user's Login IP Ranges.
    pub async fn set_login_ip_ranges(&self, ranges: &[&str]) {
        let patch = json!({"login_ip_ranges": ranges});
        self.patch_user(DEFAULT_USERNAME, patch).await;
    }

    /// Activates or deactivates the default user.
    pub async fn set_user_active(&self, active: bool) {
        let patch = json!({"active": active});
        self.patch_user(DEFAULT_USERNAME, patch).await;
    }

    /// Switches the default app to admin-approved users, approving exactly `usernames`.
    pub async fn admin_approve(&self, usernames: &[&str]) {
        let patch = json!({"permitted_users": "admin_approved", "approved_users": usernames});
        self.patch_app(patch).await;
    }

    /// Sets the IP the org sees.
    pub async fn set_client_ip(&self, ip: &str) {
        let body = json!({"client_ip": ip});
        self.control_ok(Method::PUT, "/_sandbox/network", Some(body))
            .await;
    }

    /// `POST /_sandbox/apps/{default app}/{action}` (`block`, `unblock`, `revoke`).
    pub async fn app_action(&self, action: &str, body: Option<Value>) -> (StatusCode, Value) {
        let path = format!("/_sandbox/apps/{DEFAULT_CLIENT_ID}/{action}");
        self.control(Method::POST, &path, body).await
    }

    /// Arms faults (`PUT /_sandbox/faults`).
    pub async fn set_faults(&self, faults: Value) -> (StatusCode, Value) {
        self.control(Method::PUT, "/_sandbox/faults", Some(faults))
            .await
    }

    /// The login history rows, oldest first.
    pub async fn login_history(&self) -> Value {
        self.control_ok(Method::GET, "/_sandbox/login-history", None)
            .await
    }

    /// The counters of `GET /_sandbox/stats`.
    pub async fn stats(&self) -> Value {
        self.control_ok(Method::GET, "/_sandbox/stats", None).await
    }

    /// Any control call; the body is `Null` when the answer is not JSON.
    pub async fn control(
        &self,
        method: Method,
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

    /// A control call that must answer 200; its JSON body.
    pub async fn control_ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.control(method, path, body).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        answer
    }

    /// The REST API refuses `access_token` with 401 "Session expired or invalid".
    pub async fn assert_session_expired(&self, access_token: &str) {
        assert_eq!(
            self.rest(access_token).await,
            unauthorized(session_expired())
        );
    }

    /// `GET` a path without a token.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect(path)
    }

    /// A REST call with a bearer token.
    pub async fn rest_get(&self, access_token: &str, path: &str) -> reqwest::Response {
        self.get_with_token(&self.url(path), access_token).await
    }

    /// `GET` an absolute URL (the identity URL of a token answer) with a bearer token.
    pub async fn get_with_token(&self, url: &str, access_token: &str) -> reqwest::Response {
        self.client
            .get(url)
            .bearer_auth(access_token)
            .send()
            .await
            .expect("call with a bearer token")
    }

    /// `GET /services/oauth2/userinfo` with a bearer token: status and body text.
    pub async fn userinfo(&self, access_token: &str) -> (StatusCode, String) {
        let response = self
            .rest_get(access_token, "/services/oauth2/userinfo")
            .await;
        let status = response.status();
        (status, response.text().await.expect("userinfo body"))
    }

    /// `GET .../limits` with a bearer token: what the REST session gate answers.
    pub async fn rest(&self, access_token: &str) -> (StatusCode, Value) {
        let (status, _, body) = self.limits(access_token).await;
        (status, body)
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

/// `defaults` with each of `extra` added, or replacing the default of the same name.
fn overridden<'a>(
    defaults: &[(&'a str, &'a str)],
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut params = defaults.to_vec();
    for &(key, value) in extra {
        params.retain(|(k, _)| *k != key);
        params.push((key, value));
    }
    params
}

/// The status and JSON body of an answer.
async fn json_answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

/// A login history row as the JSON array of its `fields`: the columns a test pins.
pub fn row_fields(row: &Value, fields: &[&str]) -> Value {
    fields.iter().map(|field| row[*field].clone()).collect()
}

/// What the REST session gate answers a refused session: 401 and `body`.
pub fn unauthorized(body: Value) -> (StatusCode, Value) {
    (StatusCode::UNAUTHORIZED, body)
}

/// The REST body for an expired or revoked session.
pub fn session_expired() -> Value {
    json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
}

/// The REST body for a session a policy refuses.
pub fn session_not_valid() -> Value {
    json!([{"message": "This session is not valid for use with the REST API", "errorCode": "INVALID_SESSION_ID"}])
}
