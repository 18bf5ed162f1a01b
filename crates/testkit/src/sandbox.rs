//! The sandbox's control API (`/_sandbox/...`): its app, users, approvals, clock and history.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::app::{CLIENT_ID, CLIENT_SECRET, TestApp};

impl TestApp {
    /// Registers the sandbox Connected App whose callback is this tether, with `policy`'s
    /// fields.
    pub async fn create_sandbox_app(&self, policy: Value) {
        let mut body = json!({
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "callback_urls": [format!("{}/oauth/callback", self.tether.base)],
        });
        if let (Some(obj), Some(extra)) = (body.as_object_mut(), policy.as_object()) {
            obj.extend(extra.clone());
        }
        let r = self.sandbox_post("/_sandbox/apps", body).await;
        assert!(
            r.status().is_success(),
            "create app: {}",
            r.text().await.unwrap()
        );
    }

    /// Changes the sandbox app's policy fields.
    pub async fn patch_app(&self, patch: Value) {
        self.sandbox_patch(&format!("/_sandbox/apps/{CLIENT_ID}"), patch)
            .await;
    }

    pub async fn sandbox_post(&self, path: &str, body: Value) -> reqwest::Response {
        self.sandbox_request(Method::POST, path, body).await
    }

    /// A `PUT` to the sandbox that must succeed.
    pub async fn sandbox_put(&self, path: &str, body: Value) {
        self.sandbox_call(Method::PUT, path, body).await;
    }

    /// A `PATCH` to the sandbox that must succeed.
    pub async fn sandbox_patch(&self, path: &str, body: Value) {
        self.sandbox_call(Method::PATCH, path, body).await;
    }

    async fn sandbox_request(&self, method: Method, path: &str, body: Value) -> reqwest::Response {
        let url = format!("{}{path}", self.sandbox_base);
        self.http
            .request(method, url)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// A sandbox control call that must succeed.
    async fn sandbox_call(&self, method: Method, path: &str, body: Value) {
        let r = self.sandbox_request(method.clone(), path, body).await;
        assert!(
            r.status().is_success(),
            "{method} {path}: {}",
            r.text().await.unwrap()
        );
    }

    /// Makes the sandbox skip (or show) its login and Allow pages.
    pub async fn auto_approve(&self, on: bool) {
        self.sandbox_put("/_sandbox/settings", json!({ "auto_approve": on }))
            .await;
    }

    /// A sandbox user `username` (password `pw`), active.
    pub async fn create_sandbox_user(&self, username: &str) {
        let body = json!({"username": username, "password": "pw", "active": true});
        let r = self.sandbox_post("/_sandbox/users", body).await;
        assert!(
            r.status().is_success(),
            "create user {username}: {}",
            r.status()
        );
    }

    /// Moves the clock tether and the sandbox share.
    pub async fn advance(&self, seconds: i64) {
        let r = self
            .sandbox_post("/_sandbox/clock/advance", json!({ "seconds": seconds }))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    /// Seeds one approval of the test app per username at the sandbox (no browser flow);
    /// each as the sandbox answers it (`refresh_token`, `instance_url`, `user_id`, ...).
    pub async fn approvals(&self, usernames: &[&str]) -> Vec<Value> {
        let body = json!({"client_id": CLIENT_ID, "usernames": usernames});
        let r = self.sandbox_post("/_sandbox/approvals", body).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let answer: Value = r.json().await.unwrap();
        answer["approvals"].as_array().unwrap().clone()
    }

    pub async fn login_history(&self) -> Vec<Value> {
        let url = format!("{}/_sandbox/login-history", self.sandbox_base);
        let body: Value = self
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body.as_array()
            .cloned()
            .or_else(|| body["rows"].as_array().cloned())
            .unwrap_or_default()
    }

    /// Login-history rows of refresh-token grants.
    pub async fn refresh_calls(&self) -> usize {
        self.login_history()
            .await
            .iter()
            .filter(|r| r["grant_type"] == "refresh_token")
            .count()
    }

    /// The refresh calls the sandbox has seen, once they reach `expected` (within 10 s) or
    /// the count at the deadline: a job due in the test's own scheduler pass may have been
    /// claimed first by the instance's background loop, which finishes it a moment later.
    pub async fn refresh_calls_reaching(&self, expected: usize) -> usize {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let calls = self.refresh_calls().await;
            if calls >= expected || tokio::time::Instant::now() >= deadline {
                return calls;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// A REST query on the sandbox with an access token.
    pub async fn sandbox_query(&self, access_token: &str) -> reqwest::Response {
        let url = format!(
            "{}/services/data/v64.0/query?q=SELECT+Name+FROM+Account",
            self.sandbox_base
        );
        self.http
            .get(url)
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
    }
}
