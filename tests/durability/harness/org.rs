//! The sandbox org through its control API (apps, users, faults, clock, login history) and
//! as a REST client with an access token.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{CLIENT_ID, CLIENT_SECRET, PASSWORD, STARTUP, eventually, http_client};

/// The sandbox org as an admin and a REST client see it (cheap to clone into tasks).
#[derive(Debug, Clone)]
pub struct Org {
    pub base: String,
    http: reqwest::Client,
}

impl Org {
    pub(super) fn new(base: String) -> Org {
        Org {
            base,
            http: http_client(),
        }
    }

    /// Waits until `/_sandbox/health` answers.
    pub(super) async fn until_healthy(&self) {
        let health = format!("{}/_sandbox/health", self.base);
        eventually("the sandbox answers health", STARTUP, async || {
            match self.http.get(&health).send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(r.status().to_string()),
                Err(e) => Err(e.to_string()),
            }
        })
        .await;
    }

    async fn control(&self, method: Method, path: &str, body: &Value) -> Value {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .request(method.clone(), url)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "sandbox {method} {path} {body}: {status} {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Creates the Connected App with `policy` fields (`rotation`, `session_timeout_seconds`..).
    pub async fn create_app(&self, callback_url: &str, policy: &Value) {
        let mut body = json!({
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "callback_urls": [callback_url],
        });
        if let (Some(app), Some(extra)) = (body.as_object_mut(), policy.as_object()) {
            app.extend(extra.clone());
        }
        self.control(Method::POST, "/_sandbox/apps", &body).await;
    }

    pub async fn create_user(&self, username: &str) {
        let body = json!({"username": username, "password": PASSWORD, "active": true});
        self.control(Method::POST, "/_sandbox/users", &body).await;
    }

    /// `PUT /_sandbox/faults`.
    pub async fn put_faults(&self, faults: Value) {
        self.control(Method::PUT, "/_sandbox/faults", &faults).await;
    }

    /// `PUT /_sandbox/clock`: the org's clock runs `seconds` ahead of real time (behind if
    /// negative).
    pub async fn set_clock_offset(&self, seconds: i64) {
        let body = json!({ "offset_seconds": seconds });
        self.control(Method::PUT, "/_sandbox/clock", &body).await;
    }

    /// Setup > Login History, oldest first.
    pub async fn login_history(&self) -> Vec<Value> {
        let rows = self
            .control(Method::GET, "/_sandbox/login-history", &Value::Null)
            .await;
        rows.as_array().cloned().unwrap_or_default()
    }

    /// Login-history rows of refresh-token grants.
    pub async fn refresh_rows(&self) -> Vec<Value> {
        let mut rows = self.login_history().await;
        rows.retain(|r| r["grant_type"] == "refresh_token");
        rows
    }

    /// Refreshes the org granted.
    pub async fn refreshes_granted(&self) -> usize {
        let rows = self.refresh_rows().await;
        rows.iter().filter(|r| r["status"] == "Success").count()
    }

    /// Waits until the org has granted `count` refreshes (the moment a rotated token exists
    /// at Salesforce but not yet at tether, when the answer is held back).
    pub async fn until_refreshes_granted(&self, count: usize) {
        let within = Duration::from_secs(10);
        eventually("the sandbox grants the refresh", within, async || {
            let granted = self.refreshes_granted().await;
            if granted >= count {
                Ok(())
            } else {
                Err(format!("{granted} granted"))
            }
        })
        .await;
    }

    /// Refreshes the org refused, as `username: status` lines.
    pub async fn refreshes_refused(&self) -> Vec<String> {
        let rows = self.refresh_rows().await;
        rows.iter()
            .filter(|r| r["status"] != "Success")
            .map(|r| format!("{}: {}", r["username"], r["status"]))
            .collect()
    }

    /// A REST query with an access token: 200 when the token works, 401 when it does not.
    pub async fn query(&self, access_token: &str) -> StatusCode {
        let url = format!(
            "{}/services/data/v64.0/query?q=SELECT+Name+FROM+Account",
            self.base
        );
        let response = self.http.get(url).bearer_auth(access_token).send().await;
        response.expect("REST query").status()
    }

    /// What the org says about a token without using it (a REST call would restart the
    /// session's idle timer): `{"active": false}` once it has expired.
    pub async fn introspect(&self, token: &str) -> Value {
        let url = format!("{}/services/oauth2/introspect", self.base);
        let response = self
            .http
            .post(url)
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .expect("introspect");
        response.json().await.expect("introspection JSON")
    }
}
