//! The conformance suite and the rotation claims on PostgreSQL, each test in a database of its
//! own (created by the store, dropped afterwards), when `TETHER_TEST_POSTGRES_URL` names a
//! server (`postgres://postgres@127.0.0.1:5432`). Without it these tests pass without running,
//! saying so on stderr.

use std::sync::Arc;

use tether_core::ids::random_base62;
use tether_store::crypto::{Keyring, Keys, MasterKey};
use tether_store::postgres::PgStore;
use tether_store::{Admin, DatabaseOptions, Store};

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

/// Runs `test` on a PostgreSQL store of a fresh database, opened with `options` and
/// migrated; then closes it and drops the database.
async fn on_pg_store(options: &DatabaseOptions, test: impl AsyncFnOnce(&PgStore)) {
    let Some(db) = TestDb::new() else { return };
    let keyring = Keyring::new(MasterKey::generate(), Vec::new());
    let store = PgStore::connect_with(&db.url, keyring, options)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    test(&store).await;
    store.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn the_pool_size_and_statement_timeout_settings_apply_to_every_connection() {
    let options = DatabaseOptions {
        pool_size: 3,
        statement_timeout: std::time::Duration::from_secs(7),
        connect_timeout: std::time::Duration::from_secs(4),
    };
    on_pg_store(&options, async |store| {
        assert_eq!(store.pool().options().get_max_connections(), 3);
        assert_eq!(
            store.pool().options().get_acquire_timeout(),
            std::time::Duration::from_secs(4)
        );
        for _ in 0..3 {
            let shown: (String,) = sqlx::query_as("SHOW statement_timeout")
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(shown.0, "7s");
        }
        let slow = sqlx::query("SELECT pg_sleep(8)")
            .execute(store.pool())
            .await;
        let err = slow.unwrap_err().to_string();
        assert!(
            err.contains("canceling statement due to statement timeout"),
            "{err}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_tether_is_refused_naming_the_migrations() {
    on_pg_store(&DatabaseOptions::default(), async |store| {
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (9999, 'from a newer tether', TRUE, '\\x00'::bytea, 0)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let err = store.migrate().await.unwrap_err().to_string();
        assert!(
            err.starts_with("the database schema is newer than this tether: it has migration 9999"),
            "{err}"
        );
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_server_is_refused_naming_the_url_without_its_password() {
    let url = "postgres://tether:s3cret-pass@127.0.0.1:1/tether";
    let err = tether_store::open(url, Keyring::new(MasterKey::generate(), Vec::new()))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "cannot connect to the database at postgres://tether:***@127.0.0.1:1/tether: "
        ),
        "{err}"
    );
    assert!(!err.contains("s3cret-pass"), "{err}");
}
