//! Starting the sandbox and tether, and the settings they start with.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;
use tether_core::clock::VirtualClock;
use tether_core::ids::{WorkspaceId, WorkspaceName};
use tether_demo::DemoControls;
use tether_sandbox::{Sandbox, SpawnedSandbox};
use tether_server::AppState;
use tether_server::auth::new_api_key;
use tether_server::bootstrap::build_state;
use tether_server::settings::ServeConfig;
use tether_store::crypto::{Keyring, MasterKey};
use tokio_util::sync::CancellationToken;

/// The sandbox Connected App's client id (and the connectors' that use it).
pub const CLIENT_ID: &str = "tether-test-app";
pub const CLIENT_SECRET: &str = "tether-test-secret";

/// tether's provider timeout in tests unless a test asks for another.
pub const DEFAULT_PROVIDER_TIMEOUT: u64 = 8;

/// One tether server (several may share a database); stops when dropped.
#[derive(Debug)]
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
#[derive(Debug)]
pub struct TestApp {
    pub tether: Tether,
    pub sandbox: SpawnedSandbox,
    pub sandbox_base: String,
    pub clock: Arc<VirtualClock>,
    pub api_key: String,
    /// The workspace of `api_key`.
    pub workspace: WorkspaceId,
    /// A client that never follows redirects (tests read `Location` themselves) and keeps
    /// cookies like a browser: the connect link's cookie binds the callback to it.
    pub http: reqwest::Client,
    pub db_path: PathBuf,
    /// The database URL (the SQLite file at `db_path`, or a PostgreSQL database of its own).
    pub database: String,
    pub keyring_b64: String,
    /// The settings every tether of this app starts with (`second_tether` too).
    pub config: ServeConfig,
    /// The demo's controls, routed as `tether demo` routes them ([`AppOptions::demo`]).
    pub demo: Option<Arc<DemoControls>>,
    _dir: tempfile::TempDir,
}

/// Options of [`spawn_app_with`].
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// The sandbox app's policy fields (merged into the create call).
    pub app_policy: Option<serde_json::Value>,
    /// The connector's `session_timeout_seconds` hint.
    pub session_timeout_seconds: Option<i64>,
    /// tether's provider timeout (seconds); default 8 (lease 21), generous so a loaded test
    /// machine never turns a slow answer into a spurious outage.
    pub provider_timeout_seconds: Option<u64>,
    /// A PostgreSQL database of its own on the server `TETHER_TEST_POSTGRES_URL` names
    /// ([`postgres_database`]), instead of a SQLite file.
    pub postgres: Option<String>,
    /// `provider_calls_per_org_per_second` (default 5).
    pub provider_calls_per_org_per_second: Option<u64>,
    /// `webhook_allow_private`: webhooks may go to receivers on loopback over http.
    pub webhook_allow_private: bool,
    /// Any other settings, changed last.
    pub settings: Option<fn(&mut ServeConfig)>,
    /// The clock tether and the sandbox share (a new one by default).
    pub clock: Option<Arc<VirtualClock>>,
    /// The sandbox shows its login and Allow pages (for a browser) instead of approving at
    /// once.
    pub sandbox_pages: bool,
    /// tether serves the demo's controls too, as `tether demo` does.
    pub demo: bool,
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

/// A client that never follows redirects; with `keep_cookies`, it keeps them like a browser.
pub fn http_client(keep_cookies: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(keep_cookies)
        .build()
        .unwrap()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    let clock = options.clock.clone().unwrap_or_default();
    let sandbox = Sandbox::spawn_local(!options.sandbox_pages, clock.clone())
        .await
        .expect("sandbox");
    let sandbox_base = sandbox.base_url.as_str().trim_end_matches('/').to_owned();
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("tether.db");
    let keyring_b64 = MasterKey::generate().to_base64();
    let config = settings(&options, &sandbox_base, &db_path);
    let demo = options.demo.then(|| {
        Arc::new(DemoControls::new(
            clock.clone(),
            sandbox.base_url.clone(),
            CLIENT_ID,
        ))
    });
    let tether = start(config.clone(), &keyring_b64, clock.clone(), demo.clone()).await;
    let (workspace, api_key) = new_api_key_of(&tether.state, "test").await;
    let app = TestApp {
        tether,
        sandbox,
        sandbox_base,
        clock,
        api_key,
        workspace,
        http: http_client(true),
        db_path,
        database: config.database.clone(),
        keyring_b64,
        config,
        demo,
        _dir: dir,
    };
    app.create_sandbox_app(options.app_policy.unwrap_or_else(|| json!({})))
        .await;
    app.put_connector("salesforce", options.session_timeout_seconds, CLIENT_SECRET)
        .await;
    app
}

/// The settings of an app's tethers: its database, the sandbox as a provider host, and
/// `options` over the defaults.
fn settings(options: &AppOptions, sandbox_base: &str, db_path: &Path) -> ServeConfig {
    let timeout = options
        .provider_timeout_seconds
        .unwrap_or(DEFAULT_PROVIDER_TIMEOUT);
    let database = options
        .postgres
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", db_path.display()));
    let mut config = ServeConfig {
        database,
        lease_seconds: timeout * 2 + 5,
        provider_timeout_seconds: timeout,
        extra_provider_hosts: vec![sandbox_host(sandbox_base)],
        provider_calls_per_org_per_second: options
            .provider_calls_per_org_per_second
            .unwrap_or(ServeConfig::default().provider_calls_per_org_per_second),
        webhook_allow_private: options.webhook_allow_private,
        ..ServeConfig::default()
    };
    if let Some(change) = options.settings {
        change(&mut config);
    }
    config
}

/// The `host:port` of a sandbox base URL, for `extra_provider_hosts`.
pub fn sandbox_host(sandbox_base: &str) -> String {
    let url = url::Url::parse(sandbox_base).unwrap();
    format!("{}:{}", url.host_str().unwrap(), url.port().unwrap())
}

/// Starts a tether server on port 0 over the database at `db_path`, allowing the provider
/// hosts `extra_provider_hosts` besides Salesforce's.
pub async fn start_tether(
    db_path: &Path,
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
    config: ServeConfig,
    key_b64: &str,
    clock: Arc<VirtualClock>,
) -> Tether {
    start(config, key_b64, clock, None).await
}

/// [`start_tether_with`], serving the demo's controls too when `demo` is given.
async fn start(
    mut config: ServeConfig,
    key_b64: &str,
    clock: Arc<VirtualClock>,
    demo: Option<Arc<DemoControls>>,
) -> Tether {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    config.public_url = base.clone();
    let keyring = Keyring::new(MasterKey::from_base64(key_b64).unwrap(), vec![]);
    let state = build_state(&config, keyring, clock)
        .await
        .expect("tether state");
    let router = match demo {
        Some(demo) => tether_server::router_with(state.clone(), tether_demo::routes(demo.clone()))
            .layer(axum::Extension(tether_demo::layout_hook(demo))),
        None => tether_server::router(state.clone()),
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(tether_server::serve_router(
        listener,
        state.clone(),
        router,
        shutdown.clone(),
    ));
    Tether {
        base,
        state,
        shutdown,
    }
}

/// A new API key of the workspace `name` (created if needed): the workspace and the key.
async fn new_api_key_of(state: &AppState, name: &str) -> (WorkspaceId, String) {
    let now = state.clock.now();
    let ws = state
        .store
        .ensure_workspace(&WorkspaceName::parse(name).unwrap(), now)
        .await
        .unwrap();
    let made = new_api_key(&ws.id, now);
    state.store.insert_api_key(&made.record).await.unwrap();
    (ws.id, made.key.expose().to_owned())
}

impl TestApp {
    /// A second tether server on the same database and master key.
    pub async fn second_tether(&self) -> Tether {
        self.tether_with(self.config.clone()).await
    }

    /// A second tether server on the same database that allows only `extra_provider_hosts`
    /// besides Salesforce's hosts.
    pub async fn second_tether_allowing(&self, extra_provider_hosts: &[String]) -> Tether {
        self.tether_with(ServeConfig {
            extra_provider_hosts: extra_provider_hosts.to_vec(),
            ..self.config.clone()
        })
        .await
    }

    async fn tether_with(&self, config: ServeConfig) -> Tether {
        let demo = self.demo.clone();
        start(config, &self.keyring_b64, self.clock.clone(), demo).await
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

    /// A new API key of the workspace `name` (created if needed).
    pub async fn api_key_of_workspace(&self, name: &str) -> String {
        new_api_key_of(&self.tether.state, name).await.1
    }
}
