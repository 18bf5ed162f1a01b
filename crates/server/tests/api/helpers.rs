//! The API tests' harness is the workspace's test app (`tether-testkit`): `spawn_app()` gives
//! a fresh tether (temp SQLite file, port 0) and a fresh sandbox (port 0, auto approve)
//! sharing one `VirtualClock`, with a workspace, an API key, a sandbox Connected App whose
//! callback is this tether, and a `salesforce` connector for it; one typed helper per
//! endpoint. Here it is wrapped in a type of this crate, so the test modules can add helpers
//! of their own (`impl TestApp` in `probes`, `keyless`).

#![allow(dead_code, unused_imports)] // each test binary and module uses a different subset

use std::ops::Deref;

pub use tether_testkit::{
    AppOptions, CLIENT_ID, CLIENT_SECRET, DEFAULT_PROVIDER_TIMEOUT, Tether, location,
    postgres_database, sandbox_host, start_tether, start_tether_with,
};

/// The test app; every field and helper of [`tether_testkit::TestApp`] through `Deref`.
#[derive(Debug)]
pub struct TestApp(pub tether_testkit::TestApp);

impl Deref for TestApp {
    type Target = tether_testkit::TestApp;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl TestApp {
    /// Stops every tether of this app that the test holds, then drops its PostgreSQL
    /// database (a SQLite file goes with the temp dir).
    pub async fn drop_postgres_database(self) {
        self.0.drop_postgres_database().await;
    }
}

pub async fn spawn_app() -> TestApp {
    TestApp(tether_testkit::spawn_app().await)
}

pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    TestApp(tether_testkit::spawn_app_with(options).await)
}
