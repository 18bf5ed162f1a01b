//! Set-up steps, plain requests and checks that several test modules repeat, built on
//! `helpers`: an app already connected or with a sandbox policy, the sandbox admin revoking or
//! blocking the test app, a forced refresh, a proxied REST call, API calls read as JSON, a
//! connection's events, and [`Says`] for the refusal tables. It uses `helpers` alone, so
//! `logs.rs` includes it as well; helpers that read whole answers live in `probes.rs`.

#![allow(dead_code)] // each test module uses a different subset

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{AppOptions, CLIENT_ID, TestApp, spawn_app, spawn_app_with};

/// The REST API path of the sandbox's Salesforce version.
pub const REST: &str = "services/data/v64.0";

/// The org's limits, below the proxy's `/v1/proxy/{id}/`.
pub const LIMITS: &str = "services/data/v64.0/limits";

/// A SOQL query of the seeded accounts, below the proxy's `/v1/proxy/{id}/`.
pub const ACCOUNTS_QUERY: &str = "services/data/v64.0/query?q=SELECT+Name+FROM+Account";

/// A fresh app with one connection of `u-42`; the app and the connection id.
pub async fn connected_app() -> (TestApp, String) {
    let app = spawn_app().await;
    let id = app.connect().await;
    (app, id)
}

/// A fresh app whose sandbox Connected App has `policy` (refresh token policy, rotation, ...).
pub async fn app_with_policy(policy: Value) -> TestApp {
    spawn_app_with(AppOptions {
        app_policy: Some(policy),
        ..AppOptions::default()
    })
    .await
}

/// A fresh app whose connector announces sessions of `seconds`.
pub async fn app_with_session_timeout(seconds: i64) -> TestApp {
    spawn_app_with(AppOptions {
        session_timeout_seconds: Some(seconds),
        ..AppOptions::default()
    })
    .await
}

/// What a refusal's `detail` must say, in a table of refusals.
pub enum Says<'a> {
    Exactly(&'a str),
    Containing(&'a str),
    StartingWith(&'a str),
    /// Any detail: the case asserts only the status and problem type.
    Anything,
}

impl Says<'_> {
    /// Asserts `detail` says it; a failure names `case`.
    pub fn assert(&self, case: &str, detail: &str) {
        let said = match self {
            Says::Exactly(whole) => detail == *whole,
            Says::Containing(part) => detail.contains(part),
            Says::StartingWith(start) => detail.starts_with(start),
            Says::Anything => true,
        };
        assert!(said, "{case}: the detail {detail:?} does not say {self:?}");
    }
}

impl std::fmt::Debug for Says<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Says::Exactly(whole) => write!(f, "exactly {whole:?}"),
            Says::Containing(part) => write!(f, "something containing {part:?}"),
            Says::StartingWith(start) => write!(f, "something starting {start:?}"),
            Says::Anything => write!(f, "anything"),
        }
    }
}

/// Asserts the four newest of `events` are an outage and its end: a refresh failed and
/// degraded the connection (`provider_unavailable`), then a refresh worked and made it active.
pub fn assert_outage_then_recovery(events: &[Value]) {
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds[..4],
        [
            "status_changed",
            "refreshed",
            "status_changed",
            "refresh_failed"
        ],
        "{kinds:?}"
    );
    assert_eq!(
        events[0]["detail"],
        "degraded -> active: the provider accepted the refresh"
    );
    assert_eq!(
        events[2]["detail"],
        "active -> degraded: provider_unavailable"
    );
}

/// Asserts an event's `kind` and `detail`.
pub fn assert_event(event: &Value, kind: &str, detail: &str) {
    assert_eq!(event["kind"], kind, "{event}");
    assert_eq!(event["detail"], detail, "{event}");
}

impl TestApp {
    /// `method path` on this tether with this workspace's key, sent.
    pub async fn send(&self, method: Method, path: &str) -> reqwest::Response {
        self.api(method, path).send().await.unwrap()
    }

    /// `method path`, which must answer `status`; its JSON body.
    pub async fn api_json(&self, method: Method, path: &str, status: StatusCode) -> Value {
        let r = self.send(method, path).await;
        assert_eq!(r.status(), status, "{path}");
        r.json().await.unwrap()
    }

    /// `GET path` on this tether without a key, as a browser or a probe sends it.
    pub async fn get_without_key(&self, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.tether.base);
        self.http.get(url).send().await.unwrap()
    }

    /// `method path` on the tether at `base` (another instance) with this workspace's key.
    pub fn api_on(&self, base: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{base}{path}"))
            .bearer_auth(&self.api_key)
    }

    /// `POST /v1/connections/{id}/token?force_refresh=true`.
    pub async fn force_refresh(&self, id: &str) -> reqwest::Response {
        let path = format!("/v1/connections/{id}/token?force_refresh=true");
        self.send(Method::POST, &path).await
    }

    /// `GET /v1/proxy/{id}/{tail}`.
    pub async fn proxy_get(&self, id: &str, tail: &str) -> reqwest::Response {
        self.send(Method::GET, &format!("/v1/proxy/{id}/{tail}"))
            .await
    }

    /// An access token of `id` from tether, proved by a query at Salesforce.
    pub async fn working_token(&self, id: &str) -> String {
        let token = self.access_token(id).await;
        let query = self.sandbox_query(&token).await;
        assert_eq!(query.status(), StatusCode::OK, "the token of {id} works");
        token
    }

    /// The connection's status once it is `status` (within 10 s), or the status at the
    /// deadline: a refresh the instance's background loop claimed lands a moment after
    /// Salesforce counted it.
    pub async fn status_reaching(&self, id: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let now = self.connection(id).await["status"].clone();
            if now == status || tokio::time::Instant::now() >= deadline {
                return now;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// `DELETE /v1/connections/{id}`, which must answer 204.
    pub async fn delete_connection(&self, id: &str) {
        let r = self
            .send(Method::DELETE, &format!("/v1/connections/{id}"))
            .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "delete {id}");
    }

    /// The connection's events of `kind`, newest first.
    pub async fn events_of(&self, id: &str, kind: &str) -> Vec<Value> {
        let events = self.events(id).await;
        events.into_iter().filter(|e| e["kind"] == kind).collect()
    }

    /// Asserts the connection's newest event: its `kind`, `outcome` and `detail`.
    pub async fn assert_newest_event(&self, id: &str, kind: &str, outcome: &str, detail: &str) {
        let events = self.events(id).await;
        assert_event(&events[0], kind, detail);
        assert_eq!(events[0]["outcome"], outcome, "{}", events[0]);
    }

    /// The refresh token tether holds for a connection, read from its store (no endpoint
    /// returns it; tests use it to prove that).
    pub async fn stored_refresh_token(&self, id: &str) -> String {
        let id = tether_core::ids::ConnectionId::parse(id).unwrap();
        let store = &self.tether.state.store;
        let token = store.refresh_token(&self.workspace, &id).await.unwrap();
        token.unwrap().expose().to_owned()
    }

    /// Moves the shared clock by `seconds`, then runs one scheduler pass.
    pub async fn advance_and_tick(&self, seconds: i64) {
        self.advance(seconds).await;
        tether_server::scheduler::tick(&self.tether.state).await;
    }

    /// The sandbox's counters (`rest_calls`, `live_refresh_tokens`, ...).
    pub async fn sandbox_stats(&self) -> Value {
        let url = format!("{}/_sandbox/stats", self.sandbox_base);
        let r = self.http.get(url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "sandbox stats");
        r.json().await.unwrap()
    }

    /// The admin revokes every refresh token of the test app at Salesforce.
    pub async fn revoke_app(&self) {
        self.admin_acts_on_app("revoke").await;
    }

    /// The admin blocks the test app: its sessions end and refreshes are refused.
    pub async fn block_app(&self) {
        self.admin_acts_on_app("block").await;
    }

    async fn admin_acts_on_app(&self, action: &str) {
        let path = format!("/_sandbox/apps/{CLIENT_ID}/{action}");
        let r = self.sandbox_post(&path, json!({})).await;
        assert_eq!(r.status(), StatusCode::OK, "{action} the app");
    }

    /// Refreshes `id` once (so the revoke is not its token's first use), then revokes the
    /// app's tokens and lets the access token lapse: the next refresh is refused.
    pub async fn revoke_after_one_refresh(&self, id: &str) {
        self.advance(2 * 3600).await;
        self.access_token(id).await;
        self.revoke_app().await;
        self.advance(2 * 3600).await;
    }
}
