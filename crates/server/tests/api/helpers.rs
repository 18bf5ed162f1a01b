//! `spawn_app()`: a fresh tether (temp SQLite file, port 0) and a fresh sandbox (port 0, auto
//! approve) sharing one `VirtualClock`, with a workspace, an API key, a sandbox Connected App
//! whose callback is this tether, and a `salesforce` connector for it. One typed helper per
//! endpoint.

#![allow(dead_code)] // each test binary module uses a different subset of the helpers

use std::path::PathBuf;
use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};
use tether_core::clock::{Clock, VirtualClock};
use tether_core::ids::WorkspaceName;
use tether_sandbox::{Sandbox, SpawnedSandbox};
use tether_server::AppState;
use tether_server::auth::new_api_key;
use tether_server::bootstrap::build_state;
use tether_server::settings::ServeConfig;
use tether_store::crypto::{Keyring, MasterKey};
use tokio_util::sync::CancellationToken;

pub const CLIENT_ID: &str = "tether-test-app";
pub const CLIENT_SECRET: &str = "tether-test-secret";

/// tether's provider timeout in tests unless a test asks for another.
pub const DEFAULT_PROVIDER_TIMEOUT: u64 = 8;

/// One tether server (several may share a database).
pub struct Tether {
    pub base: String,
    pub state: AppState,
    shutdown: CancellationToken,
}

impl Drop for Tether {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A running tether + sandbox pair with typed helpers.
pub struct TestApp {
    pub tether: Tether,
    pub sandbox: SpawnedSandbox,
    pub sandbox_base: String,
    pub clock: Arc<VirtualClock>,
    pub api_key: String,
    /// The workspace of `api_key`.
    pub workspace: tether_core::ids::WorkspaceId,
    /// A client that never follows redirects (tests read `Location` themselves).
    pub http: reqwest::Client,
    pub db_path: PathBuf,
    /// The database URL (the SQLite file at `db_path`, or a PostgreSQL database of its own).
    pub database: String,
    pub keyring_b64: String,
    /// The settings every tether of this app starts with (`second_tether` too).
    pub config: ServeConfig,
    _dir: tempfile::TempDir,
}

/// Options of [`spawn_app_with`].
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// The sandbox app's policy fields (merged into the create call).
    pub app_policy: Option<Value>,
    /// The connector's `session_timeout_seconds` hint.
    pub session_timeout_seconds: Option<i64>,
    /// tether's provider timeout (seconds); default 8 (lease 11), generous so a loaded test
    /// machine never turns a slow answer into a spurious outage.
    pub provider_timeout_seconds: Option<u64>,
    /// A PostgreSQL database of its own on the server `TETHER_TEST_POSTGRES_URL` names,
    /// instead of a SQLite file.
    pub postgres: Option<String>,
    /// `provider_calls_per_org_per_second` (default 5).
    pub provider_calls_per_org_per_second: Option<u64>,
    /// `webhook_allow_private`: webhooks may go to receivers on loopback over http.
    pub webhook_allow_private: bool,
}

/// A fresh PostgreSQL database URL on the server `TETHER_TEST_POSTGRES_URL` names (created by
/// tether on first use); `None`, said on stderr, when the variable is not set.
pub fn postgres_database() -> Option<String> {
    let Ok(base) = std::env::var("TETHER_TEST_POSTGRES_URL") else {
        eprintln!("TETHER_TEST_POSTGRES_URL is not set: PostgreSQL test skipped");
        return None;
    };
    let mut url = url::Url::parse(&base).unwrap();
    url.set_path(&format!(
        "tether_api_{}",
        tether_core::ids::random_base62(12).to_lowercase()
    ));
    Some(url.to_string())
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    let clock = Arc::new(VirtualClock::new());
    let sandbox = Sandbox::spawn_local(true, clock.clone())
        .await
        .expect("sandbox");
    let sandbox_base = sandbox.base_url.as_str().trim_end_matches('/').to_owned();
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("tether.db");
    let keyring_b64 = MasterKey::generate().to_base64();
    let timeout = options
        .provider_timeout_seconds
        .unwrap_or(DEFAULT_PROVIDER_TIMEOUT);
    let database = options
        .postgres
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", db_path.display()));
    let config = ServeConfig {
        database: database.clone(),
        lease_seconds: timeout * 2 + 5,
        provider_timeout_seconds: timeout,
        extra_provider_hosts: vec![sandbox_host(&sandbox_base)],
        provider_calls_per_org_per_second: options
            .provider_calls_per_org_per_second
            .unwrap_or(ServeConfig::default().provider_calls_per_org_per_second),
        webhook_allow_private: options.webhook_allow_private,
        ..ServeConfig::default()
    };
    let tether = start_tether_with(config.clone(), &keyring_b64, clock.clone()).await;
    // Keeps cookies like a browser: the connect link's cookie binds the callback to it.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let (workspace, api_key) = create_api_key(&tether.state, &clock).await;
    let app = TestApp {
        tether,
        sandbox,
        sandbox_base,
        clock,
        api_key,
        workspace,
        http,
        db_path,
        database,
        keyring_b64,
        config,
        _dir: dir,
    };
    app.create_sandbox_app(options.app_policy.unwrap_or_else(|| json!({})))
        .await;
    app.put_connector("salesforce", options.session_timeout_seconds, CLIENT_SECRET)
        .await;
    app
}

/// The `host:port` of a sandbox base URL, for `extra_provider_hosts`.
pub fn sandbox_host(sandbox_base: &str) -> String {
    let url = url::Url::parse(sandbox_base).unwrap();
    format!("{}:{}", url.host_str().unwrap(), url.port().unwrap())
}

/// Starts a tether server on port 0 over the database at `db_path`, allowing the provider
/// hosts `extra_provider_hosts` besides Salesforce's.
pub async fn start_tether(
    db_path: &std::path::Path,
    key_b64: &str,
    clock: Arc<VirtualClock>,
    provider_timeout_seconds: u64,
    extra_provider_hosts: &[String],
) -> Tether {
    let config = ServeConfig {
        database: format!("sqlite://{}", db_path.display()),
        lease_seconds: provider_timeout_seconds * 2 + 5,
        provider_timeout_seconds,
        extra_provider_hosts: extra_provider_hosts.to_vec(),
        ..ServeConfig::default()
    };
    start_tether_with(config, key_b64, clock).await
}

/// Starts a tether server on port 0 with `config` (its `public_url` set to that port).
pub async fn start_tether_with(
    mut config: ServeConfig,
    key_b64: &str,
    clock: Arc<VirtualClock>,
) -> Tether {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    config.public_url = base.clone();
    let keyring = Keyring::new(MasterKey::from_base64(key_b64).unwrap(), vec![]);
    let state = build_state(&config, keyring, clock)
        .await
        .expect("tether state");
    let shutdown = CancellationToken::new();
    tokio::spawn(tether_server::serve(
        listener,
        state.clone(),
        shutdown.clone(),
    ));
    Tether {
        base,
        state,
        shutdown,
    }
}

async fn create_api_key(
    state: &AppState,
    clock: &Arc<VirtualClock>,
) -> (tether_core::ids::WorkspaceId, String) {
    let now = clock.now();
    let ws = state
        .store
        .ensure_workspace(&WorkspaceName::parse("test").unwrap(), now)
        .await
        .unwrap();
    let made = new_api_key(&ws.id, now);
    state.store.insert_api_key(&made.record).await.unwrap();
    (ws.id, made.key.expose().to_owned())
}

impl TestApp {
    /// A second tether server on the same database file and master key.
    pub async fn second_tether(&self) -> Tether {
        start_tether_with(self.config.clone(), &self.keyring_b64, self.clock.clone()).await
    }

    /// A second tether server on the same database that allows only `extra_provider_hosts`
    /// besides Salesforce's hosts.
    pub async fn second_tether_allowing(&self, extra_provider_hosts: &[String]) -> Tether {
        let config = ServeConfig {
            extra_provider_hosts: extra_provider_hosts.to_vec(),
            ..self.config.clone()
        };
        start_tether_with(config, &self.keyring_b64, self.clock.clone()).await
    }

    /// Stops every tether of this app that the test holds, then drops its PostgreSQL
    /// database (a SQLite file goes with the temp dir).
    pub async fn drop_postgres_database(self) {
        use sqlx::migrate::MigrateDatabase;
        if !self.database.starts_with("postgres") {
            return;
        }
        self.tether.shutdown.cancel();
        self.tether.state.store.close().await;
        let _ = sqlx::Postgres::force_drop_database(&self.database).await;
    }

    /// An API key of another workspace.
    pub async fn api_key_of_workspace(&self, name: &str) -> String {
        let now = self.clock.now();
        let store = &self.tether.state.store;
        let ws = store
            .ensure_workspace(&WorkspaceName::parse(name).unwrap(), now)
            .await
            .unwrap();
        let made = new_api_key(&ws.id, now);
        store.insert_api_key(&made.record).await.unwrap();
        made.key.expose().to_owned()
    }

    // ----- sandbox control -----

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

    pub async fn patch_app(&self, patch: Value) {
        let url = format!("{}/_sandbox/apps/{CLIENT_ID}", self.sandbox_base);
        let r = self.http.patch(url).json(&patch).send().await.unwrap();
        assert!(
            r.status().is_success(),
            "patch app: {}",
            r.text().await.unwrap()
        );
    }

    pub async fn sandbox_post(&self, path: &str, body: Value) -> reqwest::Response {
        let url = format!("{}{path}", self.sandbox_base);
        self.http.post(url).json(&body).send().await.unwrap()
    }

    pub async fn sandbox_put(&self, path: &str, body: Value) {
        let url = format!("{}{path}", self.sandbox_base);
        let r = self.http.put(url).json(&body).send().await.unwrap();
        assert!(
            r.status().is_success(),
            "PUT {path}: {}",
            r.text().await.unwrap()
        );
    }

    pub async fn sandbox_patch(&self, path: &str, body: Value) {
        let url = format!("{}{path}", self.sandbox_base);
        let r = self.http.patch(url).json(&body).send().await.unwrap();
        assert!(
            r.status().is_success(),
            "PATCH {path}: {}",
            r.text().await.unwrap()
        );
    }

    /// Moves the clock tether and the sandbox share.
    pub async fn advance(&self, seconds: i64) {
        let r = self
            .sandbox_post("/_sandbox/clock/advance", json!({ "seconds": seconds }))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
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

    // ----- tether API -----

    pub fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.tether.base))
            .bearer_auth(&self.api_key)
    }

    pub async fn put_connector(
        &self,
        name: &str,
        session_timeout: Option<i64>,
        secret: &str,
    ) -> reqwest::Response {
        let mut body = json!({
            "provider": "salesforce",
            "client_id": CLIENT_ID,
            "client_secret": secret,
            "login_url": self.sandbox_base,
            "scopes": ["api", "refresh_token"],
        });
        if let Some(secs) = session_timeout {
            body["session_timeout_seconds"] = json!(secs);
        }
        let r = self
            .api(reqwest::Method::PUT, &format!("/v1/connectors/{name}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r
    }

    pub async fn create_connect_session(&self, body: Value) -> reqwest::Response {
        self.api(reqwest::Method::POST, "/v1/connect-sessions")
            .json(&body)
            .send()
            .await
            .unwrap()
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
        let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
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

    pub async fn token(&self, id: &str) -> reqwest::Response {
        self.api(
            reqwest::Method::POST,
            &format!("/v1/connections/{id}/token"),
        )
        .send()
        .await
        .unwrap()
    }

    pub async fn token_rejecting(&self, id: &str, rejected: &str) -> reqwest::Response {
        self.api(
            reqwest::Method::POST,
            &format!("/v1/connections/{id}/token"),
        )
        .json(&json!({ "rejected_token": rejected }))
        .send()
        .await
        .unwrap()
    }

    pub async fn access_token(&self, id: &str) -> String {
        let r = self.token(id).await;
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn connection(&self, id: &str) -> Value {
        let r = self
            .api(reqwest::Method::GET, &format!("/v1/connections/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
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

    /// `POST /v1/connections/import` with `body`.
    pub async fn import(&self, body: Value) -> reqwest::Response {
        self.api(reqwest::Method::POST, "/v1/connections/import")
            .json(&body)
            .send()
            .await
            .unwrap()
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
            .api(
                reqwest::Method::GET,
                &format!("/v1/connections/{id}/events"),
            )
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        body["events"].as_array().cloned().unwrap_or_default()
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
