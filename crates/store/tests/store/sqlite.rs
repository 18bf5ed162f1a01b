//! The conformance suite on SQLite, one fresh database file per test, and the SQLite-only
//! claims: no secret in the file's bytes, master key rotation across reopenings, secrets bound
//! to their row, and the database URL forms.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tempfile::TempDir;
use tether_store::crypto::{Keyring, Keys, MasterKey};
use tether_store::sqlite::SqliteStore;
use tether_store::{ConsumeOutcome, DatabaseOptions, Store};

use crate::fixtures::{consume, insert, new_connection, pending_session, workspace};
use crate::secrets::{self, ACCESS_TOKEN, CLIENT_SECRET, PKCE_VERIFIER, REFRESH_TOKEN};

/// A temporary directory holding one database file.
pub struct TestDb {
    _dir: TempDir,
    path: PathBuf,
}

impl TestDb {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("tether.db");
        Self { _dir: dir, path }
    }

    /// Opens (creating on first use) and migrates the database under `keys`.
    pub async fn open(&self, keys: impl Into<Keys>) -> Arc<dyn Store> {
        let url = format!("sqlite://{}", self.path.display());
        let store = tether_store::open(&url, keys).await.unwrap();
        store.migrate().await.unwrap();
        store
    }

    /// The bytes of the database file and of its WAL and shared-memory files, if present
    /// (a closing connection may delete the latter two at any moment).
    fn bytes(&self) -> Vec<(PathBuf, Vec<u8>)> {
        ["", "-wal", "-shm"]
            .iter()
            .map(|suffix| PathBuf::from(format!("{}{suffix}", self.path.display())))
            .filter_map(|path| std::fs::read(&path).ok().map(|bytes| (path, bytes)))
            .collect()
    }
}

fn keyring(primary: &MasterKey, previous: &[MasterKey]) -> Keyring {
    Keyring::new(primary.clone(), previous.to_vec())
}

macro_rules! sqlite_test {
    ($module:ident, $name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let db = TestDb::new();
            let store = db.open(keyring(&MasterKey::generate(), &[])).await;
            crate::conformance::$module::$name(store).await;
        }
    };
}

crate::conformance::conformance_suite!(sqlite_test);

macro_rules! sqlite_key_test {
    ($name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let db = TestDb::new();
            crate::master_keys::$name(|keys| db.open(keys)).await;
        }
    };
}

crate::master_keys::master_key_suite!(sqlite_key_test);

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

fn assert_no_secret_in(files: &[(PathBuf, Vec<u8>)]) {
    assert!(!files.is_empty());
    for (path, bytes) in files {
        for secret in [CLIENT_SECRET, REFRESH_TOKEN, ACCESS_TOKEN, PKCE_VERIFIER] {
            assert!(
                !contains(bytes, secret),
                "{secret} found in {}",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn sqlite_files_contain_none_of_the_secrets() {
    let db = TestDb::new();
    let store = db.open(keyring(&MasterKey::generate(), &[])).await;
    let secrets = secrets::write_secrets(&store).await;
    secrets.assert_readable(&store).await;
    let open_files = db.bytes();
    assert!(
        open_files
            .iter()
            .any(|(path, _)| path.to_string_lossy().ends_with("-wal"))
    );
    assert_no_secret_in(&open_files);
    store.close().await;
    let closed_files = db.bytes();
    let (_, main_file) = &closed_files[0];
    assert!(
        contains(main_file, "ada@example.com"),
        "non-secret data is in the checkpointed file"
    );
    assert_no_secret_in(&closed_files);
}

#[tokio::test]
async fn rotated_keyring_reads_old_secrets_and_reencrypt_all_rewrites_them() {
    let db = TestDb::new();
    secrets::rotation_reads_old_secrets_and_reencrypt_all_rewrites_them(|ring| db.open(ring)).await;
}

#[tokio::test]
async fn secrets_under_a_key_missing_from_the_keyring_fail_with_the_key_id() {
    let db = TestDb::new();
    secrets::secrets_under_a_missing_key_fail_with_the_key_id(|ring| db.open(ring)).await;
}

#[tokio::test]
async fn secret_copied_into_another_row_fails_to_decrypt() {
    let db = TestDb::new();
    let sqlite = SqliteStore::connect(
        &format!("sqlite://{}", db.path.display()),
        keyring(&MasterKey::generate(), &[]),
    )
    .await
    .unwrap();
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    store.migrate().await.unwrap();
    let ws = workspace(&store, "acme").await;
    let victim = insert(&store, &new_connection(&ws, "salesforce", "u-1")).await;
    let thief = insert(&store, &new_connection(&ws, "salesforce", "u-2")).await;
    sqlx::query(
        "UPDATE connections SET access_token = (SELECT access_token FROM connections WHERE id = ?)
         WHERE id = ?",
    )
    .bind(victim.id.as_str())
    .bind(thief.id.as_str())
    .execute(sqlite.pool())
    .await
    .unwrap();
    let err = store.current_token(&ws, &thief.id).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot decrypt access_token of {}: authentication failed: the value was altered or \
             belongs to another record or field",
            thief.id
        )
    );
}

#[tokio::test]
async fn in_memory_url_keeps_one_database_across_calls() {
    let store = tether_store::open("sqlite::memory:", keyring(&MasterKey::generate(), &[]));
    let store = store.await.unwrap();
    store.migrate().await.unwrap();
    pending_session(&store, 8).await;
    let outcome = consume(&store, 8, 1).await;
    assert!(
        matches!(outcome, ConsumeOutcome::Consumed(_)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn connect_creates_the_database_directory() {
    let db = TestDb::new();
    assert!(!db.path.parent().is_some_and(Path::exists));
    let store = db.open(keyring(&MasterKey::generate(), &[])).await;
    store.ping().await.unwrap();
    assert!(db.path.exists());
}

#[tokio::test]
async fn unsupported_database_url_is_refused_with_the_accepted_forms() {
    let err = tether_store::open(
        "mysql://localhost/tether",
        keyring(&MasterKey::generate(), &[]),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported database URL \"mysql://localhost/tether\": use sqlite://PATH or postgres://..."
    );
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_tether_is_refused_naming_the_migrations() {
    let db = TestDb::new();
    let url = format!("sqlite://{}", db.path.display());
    let sqlite = SqliteStore::connect(&url, keyring(&MasterKey::generate(), &[]))
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    store.migrate().await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (9999, 'from a newer tether', 1, X'00', 0)",
    )
    .execute(sqlite.pool())
    .await
    .unwrap();
    let err = store.migrate().await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(
            "the database schema is newer than this tether: it has migration 9999, and this \
             tether knows migrations up to "
        ),
        "{text}"
    );
    assert!(
        text.ends_with("; run the tether version that migrated it, or a newer one"),
        "{text}"
    );
}

#[tokio::test]
async fn the_pool_size_setting_bounds_a_file_databases_connections() {
    let db = TestDb::new();
    let options = DatabaseOptions {
        pool_size: 3,
        ..DatabaseOptions::default()
    };
    let url = format!("sqlite://{}", db.path.display());
    let sqlite = SqliteStore::connect_with(&url, keyring(&MasterKey::generate(), &[]), &options)
        .await
        .unwrap();
    assert_eq!(sqlite.pool().options().get_max_connections(), 3);
    assert_eq!(
        sqlite.pool().options().get_acquire_timeout(),
        options.connect_timeout
    );
}

#[tokio::test]
async fn a_database_file_that_cannot_be_created_is_refused_naming_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let url = format!("sqlite://{}/tether.db", blocker.display());
    let err = tether_store::open(&url, keyring(&MasterKey::generate(), &[]))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("cannot connect to the database at {url}: ")),
        "{text}"
    );
}

#[tokio::test]
async fn a_key_whose_canary_does_not_open_is_refused_though_its_id_matches() {
    let db = TestDb::new();
    let key = MasterKey::generate();
    let store = db.open(keyring(&key, &[])).await;
    store.init_master_key().await.unwrap();
    secrets::write_secrets(&store).await;
    store.close().await;
    let sqlite = SqliteStore::connect(
        &format!("sqlite://{}", db.path.display()),
        keyring(&key, &[]),
    )
    .await
    .unwrap();
    // A value sealed under the same key, for another record and field: the id matches, the
    // canary does not open.
    sqlx::query("UPDATE master_keys SET canary = (SELECT client_secret FROM connectors)")
        .execute(sqlite.pool())
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(sqlite);
    let err = store.check_master_keys().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the keyring's master key {} does not open the database's canary for that key id: it \
             is another key with the same id, or the canary was altered",
            key.key_id()
        )
    );
}
