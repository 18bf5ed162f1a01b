//! An offline Salesforce org: OAuth endpoints (authorization code, refresh token, JWT bearer,
//! client credentials), Connected App policies, a REST subset, Bulk API 1.0 query jobs, login
//! history and a control API, all in memory. `docs/sandbox.md` describes every call.
//!
//! [`Sandbox`] owns the org; [`Sandbox::router`] is its whole HTTP surface, so tests run it
//! in-process on port 0 ([`Sandbox::spawn_local`]) and `tether sandbox` serves it on a port.
//! All expiry follows the sandbox's now: the [`VirtualClock`] it was given (shared with
//! tether) plus an offset of its own (`PUT /_sandbox/clock`). [`jwt`] helps tests make keys
//! and mint JWT bearer assertions.

mod bulk;
mod clock;
mod control;
mod gate;
pub mod jwt;
mod oauth;
pub mod rest;
mod session;
mod shared;
mod state;
mod wiring;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use axum::Router;
use parking_lot::Mutex;
use serde::Deserialize;
use tether_core::clock::{Clock, VirtualClock};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

pub use oauth::{CLIENT_CREDENTIALS, JWT_BEARER, OAuthError, sign};
pub use state::{
    AppPatch, AppSpec, ConnectedApp, IpRelaxation, PermittedUsers, RefreshTokenPolicy, User,
    UserPatch, UserSpec,
};

use clock::SandboxClock;
use shared::{Inner, Shared};
use state::State;

/// The org every sandbox starts with.
pub const DEFAULT_ORG_ID: &str = "00D000000000001AAA";
/// The seeded Connected App's consumer key.
pub const DEFAULT_CLIENT_ID: &str = "sandbox-client-id";
/// The seeded Connected App's consumer secret.
pub const DEFAULT_CLIENT_SECRET: &str = "sandbox-client-secret";
/// The seeded Connected App's callback URLs.
pub const DEFAULT_CALLBACK_URLS: [&str; 2] = [
    "http://127.0.0.1:7878/oauth/callback",
    "http://localhost:7878/oauth/callback",
];
/// The seeded active user.
pub const DEFAULT_USERNAME: &str = "admin@sandbox.example";
/// The seeded user's password.
pub const DEFAULT_PASSWORD: &str = "sandbox";
/// Where `tether sandbox` listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7879";
/// The display name of the seeded Connected App (the `application` of login-history rows).
pub const DEFAULT_APP_NAME: &str = "Sandbox Connected App";

/// Extra org content from the `--seed` JSON file:
/// `{"users": [UserSpec...], "apps": [AppSpec...], "records": {"Account": [{...}], ...}}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub users: Vec<UserSpec>,
    #[serde(default)]
    pub apps: Vec<AppSpec>,
    /// sObject type -> records; replaces the default Accounts and Contacts when present.
    #[serde(default)]
    pub records: Option<wiring::RecordSeed>,
}

impl Seed {
    /// Parses a seed file's contents.
    pub fn from_json(text: &str) -> Result<Self, SandboxError> {
        serde_json::from_str(text).map_err(SandboxError::SeedFormat)
    }
}

/// Why a sandbox could not be built from its options.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("seed file is not valid: {0}")]
    SeedFormat(#[source] serde_json::Error),
    #[error("seed names user {0} twice (or the default user)")]
    DuplicateUser(String),
    #[error("seed names app {0} twice (or the default app)")]
    DuplicateApp(String),
    #[error("seed records are not valid: {0}")]
    Records(String),
}

/// How to build a [`Sandbox`].
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// The address it is reached at; `instance_url` and identity URLs use it.
    pub base_url: Url,
    /// Redirect a valid authorize request at once instead of showing the login pages.
    pub auto_approve: bool,
    /// The clock all expiry follows; `POST /_sandbox/clock/advance` moves it.
    pub clock: Arc<VirtualClock>,
    pub seed: Option<Seed>,
}

/// The org and its HTTP surface. Cloning shares the same org.
#[derive(Debug, Clone)]
pub struct Sandbox {
    shared: Shared,
    records: wiring::RecordStore,
}

impl Sandbox {
    /// The default org (one user, one app, a few records) plus the seed.
    pub fn new(options: SandboxOptions) -> Result<Self, SandboxError> {
        let SandboxOptions {
            base_url,
            auto_approve,
            clock,
            seed,
        } = options;
        let seed = seed.unwrap_or_default();
        let clock = Arc::new(SandboxClock::new(clock));
        let mut st = State::empty(DEFAULT_ORG_ID, auto_approve, clock.now().date_naive());
        add_defaults(&mut st);
        for user in seed.users {
            let name = user.username.clone();
            st.add_user(user).ok_or(SandboxError::DuplicateUser(name))?;
        }
        for app in seed.apps {
            let id = app.client_id.clone();
            st.add_app(app.into_app())
                .ok_or(SandboxError::DuplicateApp(id))?;
        }
        let records = wiring::records(clock.clone(), seed.records)?;
        let shared = Arc::new(Inner {
            state: Mutex::new(st),
            clock,
            base_url,
            org_id: DEFAULT_ORG_ID.to_owned(),
            held_answers: AtomicU64::new(0),
        });
        Ok(Self { shared, records })
    }

    /// Every route: OAuth, REST (behind the session gate) and the control API.
    pub fn router(&self) -> Router {
        let own = Router::new()
            .merge(oauth::routes())
            .merge(control::routes());
        own.with_state(self.shared.clone())
            .merge(wiring::rest(&self.shared, &self.records))
    }

    /// The shared virtual clock the sandbox runs on (without the sandbox's own offset).
    pub fn clock(&self) -> &Arc<VirtualClock> {
        self.shared.clock.shared()
    }

    /// The address the sandbox advertises.
    pub fn base_url(&self) -> &Url {
        &self.shared.base_url
    }

    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Binds 127.0.0.1 on a free port and serves there on a task; for tests and the demo.
    pub async fn spawn_local(
        auto_approve: bool,
        clock: Arc<VirtualClock>,
    ) -> std::io::Result<SpawnedSandbox> {
        Self::spawn_local_seeded(auto_approve, clock, None).await
    }

    /// [`Sandbox::spawn_local`] with extra seed content.
    pub async fn spawn_local_seeded(
        auto_approve: bool,
        clock: Arc<VirtualClock>,
        seed: Option<Seed>,
    ) -> std::io::Result<SpawnedSandbox> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let base_url = Url::parse(&format!("http://{addr}")).map_err(std::io::Error::other)?;
        let options = SandboxOptions {
            base_url: base_url.clone(),
            auto_approve,
            clock,
            seed,
        };
        let sandbox = Self::new(options).map_err(std::io::Error::other)?;
        let (tx, rx) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = rx.await;
        };
        // Build the router here, not on the task, so a bad route fails the caller loudly.
        let router = sandbox.router();
        let serve = async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
        };
        let task = tokio::spawn(serve);
        Ok(SpawnedSandbox {
            sandbox,
            base_url,
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}

fn add_defaults(st: &mut State) {
    let admin = UserSpec {
        username: DEFAULT_USERNAME.to_owned(),
        password: DEFAULT_PASSWORD.to_owned(),
        active: true,
        login_ip_ranges: Vec::new(),
    };
    st.add_user(admin);
    let callbacks = DEFAULT_CALLBACK_URLS
        .iter()
        .map(|u| (*u).to_owned())
        .collect();
    let mut app = ConnectedApp::with_defaults(
        DEFAULT_CLIENT_ID.to_owned(),
        DEFAULT_CLIENT_SECRET.to_owned(),
        callbacks,
    );
    app.name = DEFAULT_APP_NAME.to_owned();
    st.add_app(app);
}

/// A sandbox serving on a local port; stops when dropped or on [`SpawnedSandbox::shutdown`].
#[derive(Debug)]
pub struct SpawnedSandbox {
    pub sandbox: Sandbox,
    /// `http://127.0.0.1:PORT`.
    pub base_url: Url,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl SpawnedSandbox {
    /// Stops accepting, drains open requests and waits for the server task.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for SpawnedSandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
