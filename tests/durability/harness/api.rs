//! tether's HTTP API as a client of the service sees it: the token endpoint's [`Answer`],
//! connections, events, the connector and the connect flow followed by hand.

use std::time::Duration;

use reqwest::header::LOCATION;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{CLIENT_ID, CLIENT_SECRET, http_client};

/// A token-endpoint answer: its status and JSON body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    pub fn access_token(&self) -> Option<&str> {
        self.body["access_token"].as_str()
    }

    /// `status_reason` of a refusal (409 connection-expired, 503 provider-unavailable).
    pub fn status_reason(&self) -> Option<&str> {
        self.body["status_reason"].as_str()
    }
}

/// The status and what a reader needs of the body: a token's presence, or a problem's title,
/// `status_reason` and detail.
impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.status.as_u16();
        if self.access_token().is_some() {
            return write!(f, "{status} with a token");
        }
        let field = |name: &str| self.body[name].as_str().unwrap_or("-").to_owned();
        match self.body.get("title") {
            Some(_) => write!(
                f,
                "{status} {}, status_reason {}: {}",
                field("title"),
                field("status_reason"),
                field("detail")
            ),
            None => write!(f, "{status} {}", self.body),
        }
    }
}

/// tether's HTTP API with the scenario's API key (cheap to clone into tasks). The base URL
/// stays the same across restarts.
#[derive(Debug, Clone)]
pub struct Api {
    pub base: String,
    key: String,
    http: reqwest::Client,
}

impl Api {
    pub(super) fn new(base: &str, key: &str) -> Api {
        Api {
            base: base.to_owned(),
            key: key.to_owned(),
            http: http_client(),
        }
    }

    /// The same API key against another server (a sibling on the same database).
    pub fn at(&self, base: &str) -> Api {
        Api {
            base: base.to_owned(),
            key: self.key.clone(),
            http: self.http.clone(),
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
    }

    /// Any API call with an optional JSON body: its status and JSON answer (`null` when none).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.request(method.clone(), path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        Answer { status, body }
    }

    /// [`Api::call`] that must answer 200: its JSON answer.
    async fn call_ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let answer = self.call(method.clone(), path, body).await;
        assert_eq!(answer.status, StatusCode::OK, "{method} {path}: {answer}");
        answer.body
    }

    /// `POST /v1/connections/{id}/token[?force_refresh=true]`, giving up after `patience`.
    pub async fn try_token(
        &self,
        id: &str,
        force: bool,
        patience: Duration,
    ) -> reqwest::Result<Answer> {
        let query = if force { "?force_refresh=true" } else { "" };
        let path = format!("/v1/connections/{id}/token{query}");
        let response = self
            .request(Method::POST, &path)
            .timeout(patience)
            .send()
            .await?;
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        Ok(Answer { status, body })
    }

    /// The token endpoint, which must answer within the client's 90 s.
    pub async fn token(&self, id: &str, force: bool) -> Answer {
        self.try_token(id, force, Duration::from_secs(90))
            .await
            .unwrap_or_else(|e| panic!("POST /v1/connections/{id}/token: {e}"))
    }

    /// `GET /v1/connections/{id}`.
    pub async fn connection(&self, id: &str) -> Value {
        self.call_ok(Method::GET, &format!("/v1/connections/{id}"), None)
            .await
    }

    /// `GET /v1/connections/{id}/events`, newest first.
    pub async fn events(&self, id: &str) -> Vec<Value> {
        let path = format!("/v1/connections/{id}/events");
        let body = self.call_ok(Method::GET, &path, None).await;
        body["events"].as_array().cloned().unwrap_or_default()
    }

    /// `PUT /v1/connectors/salesforce` pointing at the sandbox.
    pub async fn put_connector(&self, login_url: &str, session_timeout_hint: Option<u64>) {
        let mut body = json!({
            "provider": "salesforce",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "login_url": login_url,
            "scopes": ["api", "refresh_token"],
        });
        if let Some(seconds) = session_timeout_hint {
            body["session_timeout_seconds"] = json!(seconds);
        }
        self.call_ok(Method::PUT, "/v1/connectors/salesforce", Some(body))
            .await;
    }

    /// Connects `end_user` as the sandbox user `username`: a connect session, then its
    /// `connect_url` -> the sandbox's authorize (auto-approve) -> tether's callback, reading
    /// each `Location` by hand; the connection id comes from the final redirect.
    pub async fn connect(&self, end_user: &str, username: &str) -> String {
        let connect_url = self.start_connect(end_user, username).await;
        self.finish_connect(&connect_url).await
    }

    /// A connect session for `end_user` as the sandbox user `username`: its `connect_url`.
    pub async fn start_connect(&self, end_user: &str, username: &str) -> String {
        let body = json!({
            "connector": "salesforce",
            "end_user_id": end_user,
            "redirect_to": "https://app.example/done",
            "login_hint": username,
        });
        let created = self
            .call(Method::POST, "/v1/connect-sessions", Some(body))
            .await;
        assert!(created.status.is_success(), "connect session: {created}");
        created.body["connect_url"]
            .as_str()
            .expect("connect_url")
            .to_owned()
    }

    /// Follows a `connect_url` to its end; the connection id.
    pub async fn finish_connect(&self, connect_url: &str) -> String {
        let authorize = self.redirect(connect_url).await;
        let callback = self.redirect(&authorize).await;
        let landing = url::Url::parse(&self.redirect(&callback).await).expect("landing URL");
        let query: std::collections::HashMap<_, _> = landing.query_pairs().into_owned().collect();
        assert_eq!(
            query.get("status").map(String::as_str),
            Some("active"),
            "landing {landing}"
        );
        query["connection_id"].clone()
    }

    async fn redirect(&self, url: &str) -> String {
        let response = self.http.get(url).send().await.expect("GET");
        assert!(
            response.status().is_redirection(),
            "GET {url}: {}",
            response.status()
        );
        let location = response.headers().get(LOCATION).expect("Location");
        location.to_str().expect("ASCII Location").to_owned()
    }
}
