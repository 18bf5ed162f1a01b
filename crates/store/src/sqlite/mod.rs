//! The SQLite backend of [`Store`](crate::Store).
//!
//! One database file in WAL mode (readers never wait for the writer), `synchronous=FULL` (a
//! committed write, such as a rotated refresh token, survives a power loss, not only a crash
//! of the process; BENCHMARKS.md measures the cost),
//! a 5 second busy timeout so concurrent writers queue instead of failing, foreign keys on,
//! and `secure_delete` so erased (sealed) secrets are zeroed, not left in free pages.
//! Migrations are embedded from `migrations/sqlite`. The queries are the shared ones of
//! [`SqlStore`]; this module holds only what is SQLite's own: connecting, migrating, closing
//! with a checkpoint, and `BEGIN IMMEDIATE` for the transactions whose reads decide their writes (a batch of the
//! master key rotation's re-encryption).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use crate::connect::{migrating, open_pool, unreachable};
use crate::sql::{Backend, run_methods};
use crate::sql_store::SqlStore;
use crate::{DatabaseOptions, StoreResult};

/// The schema, compiled into the binary.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`Store`](crate::Store) on one SQLite database.
pub type SqliteStore = SqlStore<Sqlite>;

impl Backend for Sqlite {
    const NUMBERED_PLACEHOLDERS: bool = false;

    /// Opens `sqlite://PATH` (creating the file and its directory if missing) or
    /// `sqlite::memory:` (one connection, so every caller sees the same database). A file
    /// database keeps at most `pool_size` connections (readers run beside the one writer),
    /// and connecting is bounded by `connect_timeout`. SQLite has no statement timeout;
    /// `statement_timeout` does not apply.
    async fn connect(url: &str, options: &DatabaseOptions) -> StoreResult<SqlitePool> {
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| unreachable(url, e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .pragma("secure_delete", "ON");
        let timeout = options.connect_timeout;
        let pool = if is_in_memory(url) {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            create_parent_dir(connect.get_filename())
                .map_err(|e| unreachable(url, format!("cannot create its directory: {e}")))?;
            SqlitePoolOptions::new().max_connections(options.pool_size)
        };
        open_pool(url, timeout, pool, connect).await
    }

    async fn migrate(pool: &SqlitePool) -> StoreResult<()> {
        migrating(&MIGRATOR, MIGRATOR.run(pool)).await
    }

    /// Moves the write-ahead log into the database file, then closes every connection.
    /// (SQLite checkpoints when its last connection closes, but connections closing together
    /// can each leave that to another; the explicit checkpoint does not depend on it.)
    async fn close(pool: &SqlitePool) {
        let checkpoint = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await;
        if let Err(err) = checkpoint {
            tracing::warn!(error = %err, "sqlite checkpoint before close failed");
        }
        pool.close().await;
    }

    /// Takes the database's write lock at BEGIN, so no other writer interleaves.
    async fn begin_rewrite(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    run_methods!();
}

/// Whether the URL names an in-memory database.
fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Creates the directory of a database file if it does not exist.
fn create_parent_dir(file: &Path) -> std::io::Result<()> {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir),
        _ => Ok(()),
    }
}
