//! `spawn_app()` for the browser tests: tether (temp SQLite, port 0) and the sandbox (port 0,
//! its real login and Allow pages) sharing one `VirtualClock`, a workspace with an API key, a
//! sandbox Connected App whose callback is this tether, and a `salesforce` connector for it.
//! With `demo: true` the router carries the demo controls as `tether demo` sets them.

use std::sync::Arc;

use serde_json::{Value, json};
use tether_core::clock::{Clock, VirtualClock};
use tether_core::ids::{ConnectorName, WorkspaceName};
use tether_core::secret::ClientSecret;
use tether_demo::DemoControls;
use tether_sandbox::{Sandbox, SpawnedSandbox};
use tether_server::AppState;
use tether_server::auth::new_api_key;
use tether_server::bootstrap::build_state;
use tether_server::settings::ServeConfig;
use tether_store::ConnectorInput;
use tether_store::crypto::{Keyring, MasterKey};
use tokio_util::sync::CancellationToken;

pub const CLIENT_ID: &str = "tether-page-app";
pub const CLIENT_SECRET: &str = "tether-page-secret";

/// A running tether + sandbox pair.
pub struct TestApp {
    pub base: String,
    pub state: AppState,
    /// Kept so the sandbox serves as long as the app lives.
    _sandbox: SpawnedSandbox,
    pub sandbox_base: String,
    pub clock: Arc<VirtualClock>,
    pub api_key: String,
    pub demo: Option<Arc<DemoControls>>,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn spawn_app(demo: bool) -> TestApp {
    let clock = Arc::new(VirtualClock::new());
    let sandbox = Sandbox::spawn_local(false, clock.clone())
        .await
        .expect("sandbox");
    let sandbox_base = sandbox.base_url.as_str().trim_end_matches('/').to_owned();
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = ServeConfig {
        database: format!("sqlite://{}", dir.path().join("tether.db").display()),
        public_url: base.clone(),
        extra_provider_hosts: vec![format!(
            "{}:{}",
            sandbox.base_url.host_str().unwrap(),
            sandbox.base_url.port().unwrap()
        )],
        ..ServeConfig::default()
    };
    let keyring = Keyring::new(MasterKey::generate(), vec![]);
    let state = build_state(&config, keyring, clock.clone())
        .await
        .expect("tether state");
    let controls = demo.then(|| {
        Arc::new(DemoControls::new(
            clock.clone(),
            sandbox.base_url.clone(),
            CLIENT_ID,
        ))
    });
    let app = match &controls {
        Some(demo) => tether_server::router_with(state.clone(), tether_demo::routes(demo.clone()))
            .layer(axum::Extension(tether_demo::layout_hook(demo.clone()))),
        None => tether_server::router(state.clone()),
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(tether_server::serve_router(
        listener,
        state.clone(),
        app,
        shutdown.clone(),
    ));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut app = TestApp {
        base,
        state,
        _sandbox: sandbox,
        sandbox_base,
        clock,
        api_key: String::new(),
        demo: controls,
        http,
        shutdown,
        _dir: dir,
    };
    app.api_key = app.api_key_of("test").await;
    app.create_sandbox_app().await;
    app.put_connector().await;
    app
}

impl TestApp {
    /// A new API key of workspace `name` (created if needed).
    pub async fn api_key_of(&self, name: &str) -> String {
        let now = self.clock.now();
        let store = &self.state.store;
        let ws = store
            .ensure_workspace(&WorkspaceName::parse(name).unwrap(), now)
            .await
            .unwrap();
        let made = new_api_key(&ws.id, now);
        store.insert_api_key(&made.record).await.unwrap();
        made.key.expose().to_owned()
    }

    async fn create_sandbox_app(&self) {
        let body = json!({
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "callback_urls": [format!("{}/oauth/callback", self.base)],
        });
        self.sandbox_call(reqwest::Method::POST, "/_sandbox/apps", body)
            .await;
    }

    async fn put_connector(&self) {
        let now = self.clock.now();
        let ws = self
            .state
            .store
            .ensure_workspace(&WorkspaceName::parse("test").unwrap(), now)
            .await
            .unwrap();
        let input = ConnectorInput {
            provider: "salesforce".into(),
            grant: Default::default(),
            client_id: CLIENT_ID.into(),
            client_secret: Some(ClientSecret::new(CLIENT_SECRET)),
            allowed_usernames: None,
            login_url: self.sandbox_base.clone(),
            scopes: vec!["api".into(), "refresh_token".into()],
            session_timeout_seconds: None,
            refresh_token_policy: None,
        };
        let name = ConnectorName::parse("salesforce").unwrap();
        self.state
            .store
            .upsert_connector(&ws.id, &name, &input, now)
            .await
            .unwrap();
    }

    /// A sandbox control call that must succeed.
    pub async fn sandbox_call(&self, method: reqwest::Method, path: &str, body: Value) {
        let url = format!("{}{path}", self.sandbox_base);
        let r = self
            .http
            .request(method, url)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        assert!(
            status.is_success(),
            "{path}: {status} {}",
            r.text().await.unwrap()
        );
    }

    /// Changes the sandbox app's policy fields.
    pub async fn patch_app(&self, patch: Value) {
        let path = format!("/_sandbox/apps/{CLIENT_ID}");
        self.sandbox_call(reqwest::Method::PATCH, &path, patch)
            .await;
    }

    /// Moves the clock tether and the sandbox share, through the sandbox's control API.
    pub async fn advance_clock(&self, seconds: i64) {
        let body = json!({ "seconds": seconds });
        self.sandbox_call(reqwest::Method::POST, "/_sandbox/clock/advance", body)
            .await;
    }

    /// Makes the sandbox skip (or show) its login and Allow pages.
    pub async fn auto_approve(&self, on: bool) {
        let body = json!({ "auto_approve": on });
        self.sandbox_call(reqwest::Method::PUT, "/_sandbox/settings", body)
            .await;
    }
}
