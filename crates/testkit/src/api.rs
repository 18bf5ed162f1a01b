//! tether's API with the app's key, and the connect flow over plain HTTP.

use std::collections::HashMap;

use reqwest::header::LOCATION;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::app::{CLIENT_ID, TestApp};

impl TestApp {
    /// tether's URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.tether.base)
    }

    /// A request to tether with the app's API key.
    pub fn api(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.api_key)
    }

    /// The body of `PUT /v1/connectors/{name}` for the sandbox app with the consumer secret
    /// `secret`.
    pub fn connector_body(&self, secret: &str) -> Value {
        json!({
            "provider": "salesforce",
            "client_id": CLIENT_ID,
            "client_secret": secret,
            "login_url": self.sandbox_base,
            "scopes": ["api", "refresh_token"],
        })
    }

    /// `PUT /v1/connectors/{name}` for the sandbox app, which must succeed.
    pub async fn put_connector(
        &self,
        name: &str,
        session_timeout: Option<i64>,
        secret: &str,
    ) -> reqwest::Response {
        let mut body = self.connector_body(secret);
        if let Some(secs) = session_timeout {
            body["session_timeout_seconds"] = json!(secs);
        }
        let r = self
            .api(Method::PUT, &format!("/v1/connectors/{name}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r
    }

    /// `POST path` with the JSON `body`.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.api(Method::POST, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn create_connect_session(&self, body: Value) -> reqwest::Response {
        self.post_json("/v1/connect-sessions", &body).await
    }

    /// Follows a connect URL through the sandbox (auto-approve) back to tether's callback;
    /// returns the callback's response.
    pub async fn follow_connect_url(&self, connect_url: &str) -> reqwest::Response {
        let to_provider = self.http.get(connect_url).send().await.unwrap();
        assert_eq!(to_provider.status(), StatusCode::SEE_OTHER, "connect url");
        let authorize = location(&to_provider);
        let to_callback = self.http.get(&authorize).send().await.unwrap();
        assert!(
            to_callback.status().is_redirection(),
            "authorize: {}",
            to_callback.status()
        );
        let callback = location(&to_callback);
        self.http.get(&callback).send().await.unwrap()
    }

    /// Connects `end_user` (as the sandbox's default user, or `login_hint`) over HTTP only;
    /// returns the connection id.
    pub async fn connect_as(&self, end_user: &str, login_hint: Option<&str>) -> String {
        let mut body = json!({"connector": "salesforce", "end_user_id": end_user, "redirect_to": "https://app.example/done"});
        if let Some(hint) = login_hint {
            body["login_hint"] = json!(hint);
        }
        let created: Value = self
            .create_connect_session(body)
            .await
            .json()
            .await
            .unwrap();
        let done = self
            .follow_connect_url(created["connect_url"].as_str().unwrap())
            .await;
        let landing = location(&done);
        let url = url::Url::parse(&landing).unwrap();
        let pairs: HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(
            pairs.get("status").map(String::as_str),
            Some("active"),
            "landing: {landing}"
        );
        pairs["connection_id"].clone()
    }

    pub async fn connect(&self) -> String {
        self.connect_as("u-42", None).await
    }

    /// `POST /v1/connections/{id}/token`.
    pub async fn token(&self, id: &str) -> reqwest::Response {
        self.token_request(id).send().await.unwrap()
    }

    /// `POST /v1/connections/{id}/token` saying the app's copy `rejected` was refused.
    pub async fn token_rejecting(&self, id: &str, rejected: &str) -> reqwest::Response {
        self.token_request(id)
            .json(&json!({ "rejected_token": rejected }))
            .send()
            .await
            .unwrap()
    }

    fn token_request(&self, id: &str) -> reqwest::RequestBuilder {
        self.api(Method::POST, &format!("/v1/connections/{id}/token"))
    }

    pub async fn access_token(&self, id: &str) -> String {
        let r = self.token(id).await;
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn connection(&self, id: &str) -> Value {
        let r = self
            .api(Method::GET, &format!("/v1/connections/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    /// `POST /v1/connections/import` with `body`.
    pub async fn import(&self, body: Value) -> reqwest::Response {
        self.post_json("/v1/connections/import", &body).await
    }

    /// Imports `approval` (as [`TestApp::approvals`] gives it) for `end_user` on the
    /// `salesforce` connector; the answer.
    pub async fn import_approval(&self, approval: &Value, end_user: &str) -> reqwest::Response {
        self.import(json!({
            "connector": "salesforce",
            "end_user_id": end_user,
            "refresh_token": approval["refresh_token"],
            "instance_url": approval["instance_url"],
        }))
        .await
    }

    pub async fn events(&self, id: &str) -> Vec<Value> {
        let r = self
            .api(Method::GET, &format!("/v1/connections/{id}/events"))
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        body["events"].as_array().cloned().unwrap_or_default()
    }
}

/// The absolute `Location` of a redirect.
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("no Location on {}", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}
