//! The SQLite backend of [`Store`](crate::Store).
//!
//! One database file in WAL mode (readers never wait for the writer), `synchronous=NORMAL`,
//! a 5 second busy timeout so concurrent writers queue instead of failing, foreign keys on,
//! and `secure_delete` so erased (sealed) secrets are zeroed, not left in free pages.
//! Migrations are embedded from `migrations/sqlite`. Each submodule holds the plain SQL of one
//! group of tables; rows are decoded by the shared `rows` module and secrets sealed and
//! opened by the shared `vault`.

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
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::crypto::Keyring;
use crate::vault::Vault;
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
    vault: Vault,
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
            vault: Vault::new(keyring),
        })
    }

    /// Moves the write-ahead log into the database file, then closes every connection.
    /// (SQLite checkpoints when its last connection closes, but connections closing together
    /// can each leave that to another; the explicit checkpoint does not depend on it.)
    async fn close_pool(&self) {
        let checkpoint = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await;
        if let Err(err) = checkpoint {
            tracing::warn!(error = %err, "sqlite checkpoint before close failed");
        }
        self.pool.close().await;
    }

    /// The connection pool, for tools and tests that need raw SQL.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
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
