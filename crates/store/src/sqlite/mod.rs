//! The SQLite backend of [`Store`](crate::Store).
//!
//! One database file in WAL mode (readers never wait for the writer), `synchronous=NORMAL`,
//! a 5 second busy timeout so concurrent writers queue instead of failing, foreign keys on,
//! and `secure_delete` so erased (sealed) secrets are zeroed, not left in free pages. Migrations are embedded from `migrations/sqlite`. Each submodule holds the plain SQL of
//! one group of tables; secrets are sealed here with the store's [`Keyring`] before they reach
//! a statement and opened after they leave one.

mod codec;
mod connections;
mod connectors;
mod events;
mod refresh;
mod rekey;
mod sessions;
mod store_impl;
mod workspaces;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::crypto::Keyring;
use crate::{StoreError, StoreResult};

/// The schema, compiled into the binary.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections of a file database: enough for readers to run beside the one writer.
const POOL_SIZE: u32 = 8;

/// A [`Store`](crate::Store) on one SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    keyring: Arc<Keyring>,
}

impl SqliteStore {
    /// Opens `sqlite://PATH` (creating the file and its directory if missing) or
    /// `sqlite::memory:` (one connection, so every caller sees the same database).
    pub async fn connect(url: &str, keyring: Keyring) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .pragma("secure_delete", "ON");
        let pool = if is_in_memory(url) {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?
        } else {
            create_parent_dir(options.get_filename())?;
            SqlitePoolOptions::new()
                .max_connections(POOL_SIZE)
                .connect_with(options)
                .await?
        };
        Ok(Self {
            pool,
            keyring: Arc::new(keyring),
        })
    }

    /// The connection pool, for tools and tests that need raw SQL.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Seals a secret for `field` of the row `record`.
    fn seal(&self, value: &str, record: &str, field: &'static str) -> StoreResult<Vec<u8>> {
        self.keyring
            .seal(value.as_bytes(), record, field)
            .map_err(|err| {
                StoreError::Corrupt(format!("cannot encrypt {field} of {record}: {err}"))
            })
    }

    /// Opens a secret sealed for `field` of the row `record`.
    fn open(&self, sealed: &[u8], record: &str, field: &'static str) -> StoreResult<String> {
        let decrypt_error = |reason: String| StoreError::Decrypt {
            record: record.to_owned(),
            field,
            reason,
        };
        let plain = self
            .keyring
            .open(sealed, record, field)
            .map_err(|err| decrypt_error(err.to_string()))?;
        String::from_utf8(plain).map_err(|_| decrypt_error("plaintext is not UTF-8".to_owned()))
    }

    /// Opens an optional sealed secret.
    fn open_opt(
        &self,
        sealed: Option<&[u8]>,
        record: &str,
        field: &'static str,
    ) -> StoreResult<Option<String>> {
        sealed
            .map(|sealed| self.open(sealed, record, field))
            .transpose()
    }
}

/// Whether the URL names an in-memory database.
fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Creates the directory of a database file if it does not exist.
fn create_parent_dir(file: &Path) -> StoreResult<()> {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|err| StoreError::Database(sqlx::Error::Io(err)))
        }
        _ => Ok(()),
    }
}
