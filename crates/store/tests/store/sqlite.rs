//! The conformance suite on SQLite, one fresh database file per test, and the SQLite-only
//! claims: no secret in the file's bytes, master key rotation across reopenings, secrets bound
//! to their row, and the database URL forms.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tempfile::TempDir;
use tether_core::secret::{AccessToken, ClientSecret, PkceVerifier, RefreshToken};
use tether_store::crypto::{Keyring, MasterKey};
use tether_store::sqlite::SqliteStore;
use tether_store::{ConsumeOutcome, Store, StoreError};

use crate::fixtures::{
    at, connector_input, connector_name, new_connection, session, tokens, workspace,
};

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

    /// Opens (creating on first use) and migrates the database under `keyring`.
    pub async fn open(&self, keyring: Keyring) -> Arc<dyn Store> {
        let url = format!("sqlite://{}", self.path.display());
        let store = tether_store::open(&url, keyring).await.unwrap();
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

const CLIENT_SECRET: &str = "CLIENTSECRET-d41d8cd98f00b204";
const REFRESH_TOKEN: &str = "REFRESHTOKEN-5Aep861TSESvWeug";
const ACCESS_TOKEN: &str = "ACCESSTOKEN-00Dxx0000001gPL";
const PKCE_VERIFIER: &str = "PKCEVERIFIER-dBjftJeZ4CVPmB92K27";

/// Writes one of each secret; returns what reads them back.
async fn write_secrets(store: &Arc<dyn Store>) -> Secrets {
    let ws = workspace(store, "acme").await;
    let name = connector_name("salesforce");
    store
        .upsert_connector(&ws, &name, &connector_input(CLIENT_SECRET), at(0))
        .await
        .unwrap();
    let mut pending = session(&ws, 1, at(900));
    pending.pkce_verifier = PkceVerifier::new(PKCE_VERIFIER);
    store.insert_connect_session(&pending).await.unwrap();
    let mut new = new_connection(&ws, "salesforce", "u-1");
    new.tokens = tokens(ACCESS_TOKEN, Some(REFRESH_TOKEN), at(0));
    store.insert_connection(&new).await.unwrap();
    Secrets {
        ws,
        name,
        session: pending.id,
        connection: new.id,
    }
}

struct Secrets {
    ws: tether_core::ids::WorkspaceId,
    name: tether_core::ids::ConnectorName,
    session: tether_core::ids::ConnectSessionId,
    connection: tether_core::ids::ConnectionId,
}

impl Secrets {
    /// Asserts every secret reads back as written.
    async fn assert_readable(&self, store: &Arc<dyn Store>) {
        let connector = store
            .get_connector(&self.ws, &self.name)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            connector.input.client_secret,
            ClientSecret::new(CLIENT_SECRET)
        );
        let pending = store
            .get_connect_session(&self.session)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(pending.pkce_verifier, PkceVerifier::new(PKCE_VERIFIER));
        let current = store
            .current_token(&self.ws, &self.connection)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(current.access_token, Some(AccessToken::new(ACCESS_TOKEN)));
        let refresh = store.refresh_token(&self.connection).await.unwrap();
        assert_eq!(refresh, Some(RefreshToken::new(REFRESH_TOKEN)));
    }
}

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
    let secrets = write_secrets(&store).await;
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
    let (key_a, key_b) = (MasterKey::generate(), MasterKey::generate());
    let store = db.open(keyring(&key_a, &[])).await;
    let secrets = write_secrets(&store).await;
    store.close().await;

    let store = db.open(keyring(&key_a, &[]).rotated(key_b.clone())).await;
    secrets.assert_readable(&store).await;
    assert_eq!(store.reencrypt_all().await.unwrap(), 4);
    assert_eq!(
        store.reencrypt_all().await.unwrap(),
        0,
        "nothing left under the old key"
    );
    store.close().await;

    let store = db.open(keyring(&key_b, &[])).await;
    secrets.assert_readable(&store).await;
}

#[tokio::test]
async fn secrets_under_a_key_missing_from_the_keyring_fail_with_the_key_id() {
    let db = TestDb::new();
    let key_a = MasterKey::generate();
    let store = db.open(keyring(&key_a, &[])).await;
    let secrets = write_secrets(&store).await;
    store.close().await;

    let store = db.open(keyring(&MasterKey::generate(), &[])).await;
    let err = store.refresh_token(&secrets.connection).await.unwrap_err();
    let key_id: String = key_a.key_id().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot decrypt refresh_token of {}: sealed under master key {key_id}, which is not \
             in the keyring (add it as a previous key)",
            secrets.connection
        )
    );
    assert!(matches!(
        store.reencrypt_all().await,
        Err(StoreError::Decrypt { .. })
    ));
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
    let victim = store
        .insert_connection(&new_connection(&ws, "salesforce", "u-1"))
        .await;
    let victim = victim.unwrap();
    let thief = store
        .insert_connection(&new_connection(&ws, "salesforce", "u-2"))
        .await;
    let thief = thief.unwrap();
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
    let ws = workspace(&store, "acme").await;
    store
        .insert_connect_session(&session(&ws, 8, at(900)))
        .await
        .unwrap();
    let outcome = store
        .consume_connect_session(&[8; 32], at(1))
        .await
        .unwrap();
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
