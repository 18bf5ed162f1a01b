//! The conformance suite and the rotation claims on PostgreSQL, each test in a database of its
//! own (created by the store, dropped afterwards), when `TETHER_TEST_POSTGRES_URL` names a
//! server (`postgres://postgres@127.0.0.1:5432`). Without it these tests pass without running,
//! saying so on stderr.

use std::sync::Arc;

use tether_core::ids::random_base62;
use tether_store::Store;
use tether_store::crypto::{Keyring, Keys, MasterKey};

use crate::secrets;

/// A uniquely named database on the server under test.
pub struct TestDb {
    url: String,
}

impl TestDb {
    /// `None` when no server is configured.
    pub fn new() -> Option<Self> {
        let Ok(base) = std::env::var("TETHER_TEST_POSTGRES_URL") else {
            eprintln!("TETHER_TEST_POSTGRES_URL is not set: PostgreSQL test skipped");
            return None;
        };
        let mut url = url::Url::parse(&base).unwrap();
        url.set_path(&format!("tether_test_{}", random_base62(12).to_lowercase()));
        Some(Self {
            url: url.to_string(),
        })
    }

    /// Opens (creating on first use) and migrates the database under `keys`.
    pub async fn open(&self, keys: impl Into<Keys>) -> Arc<dyn Store> {
        let store = tether_store::open(&self.url, keys).await.unwrap();
        store.migrate().await.unwrap();
        store
    }

    /// Drops the database once its stores are closed.
    pub async fn drop_database(self) {
        use sqlx::migrate::MigrateDatabase;
        sqlx::Postgres::force_drop_database(&self.url)
            .await
            .unwrap();
    }
}

macro_rules! postgres_test {
    ($module:ident, $name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let Some(db) = TestDb::new() else { return };
            let store = db
                .open(Keyring::new(MasterKey::generate(), Vec::new()))
                .await;
            crate::conformance::$module::$name(store.clone()).await;
            store.close().await;
            db.drop_database().await;
        }
    };
}

crate::conformance::conformance_suite!(postgres_test);

macro_rules! postgres_key_test {
    ($name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let Some(db) = TestDb::new() else { return };
            crate::master_keys::$name(|keys| db.open(keys)).await;
            db.drop_database().await;
        }
    };
}

crate::master_keys::master_key_suite!(postgres_key_test);

#[tokio::test]
async fn rotated_keyring_reads_old_secrets_and_reencrypt_all_rewrites_them() {
    let Some(db) = TestDb::new() else { return };
    secrets::rotation_reads_old_secrets_and_reencrypt_all_rewrites_them(|ring| db.open(ring)).await;
    db.drop_database().await;
}

#[tokio::test]
async fn secrets_under_a_key_missing_from_the_keyring_fail_with_the_key_id() {
    let Some(db) = TestDb::new() else { return };
    secrets::secrets_under_a_missing_key_fail_with_the_key_id(|ring| db.open(ring)).await;
    db.drop_database().await;
}
