//! How the store connects: the pool settings an operator chooses ([`DatabaseOptions`]), the
//! database URL as it may be shown (without its password), and the two startup failures an
//! operator must be able to read: a database tether cannot connect to, and a schema that a
//! newer tether migrated.

use std::future::Future;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::pool::PoolOptions;
use sqlx::{Database, Pool};

use crate::{StoreError, StoreResult};

/// Connection pool settings (`database_*` in tether's settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseOptions {
    /// Connections the process keeps at most (a file SQLite database; an in-memory one always
    /// has one).
    pub pool_size: u32,
    /// PostgreSQL cancels a statement that runs longer (`statement_timeout`); migrations are
    /// exempt. SQLite has no such limit.
    pub statement_timeout: Duration,
    /// How long connecting, or waiting for a free connection of the pool, may take.
    pub connect_timeout: Duration,
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        Self {
            pool_size: 10,
            statement_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// `url` with its password, if any, replaced by `***`, fit for messages and logs.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Only URLs that cannot have a password refuse one, and this one has one.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "(a database URL that does not parse)".to_owned(),
    }
}

/// Runs a step of connecting to `url`, bounded by `timeout`; a failure names the URL
/// (redacted) and what went wrong.
pub(crate) async fn connecting<T>(
    url: &str,
    timeout: Duration,
    step: impl Future<Output = Result<T, sqlx::Error>>,
) -> StoreResult<T> {
    match tokio::time::timeout(timeout, step).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(err)) => Err(unreachable(url, err.to_string())),
        Err(_) => Err(unreachable(
            url,
            format!(
                "no answer within {} seconds (database_connect_timeout_seconds)",
                timeout.as_secs()
            ),
        )),
    }
}

/// Opens the pool `pool` describes, each connection made with `connect`; reaching the
/// database, and later waiting for a free connection, bounded by `timeout`.
pub(crate) async fn open_pool<DB: Database>(
    url: &str,
    timeout: Duration,
    pool: PoolOptions<DB>,
    connect: <DB::Connection as sqlx::Connection>::Options,
) -> StoreResult<Pool<DB>> {
    let opening = pool.acquire_timeout(timeout).connect_with(connect);
    connecting(url, timeout, opening).await
}

/// Why the database at `url` (named without its password) cannot be used.
pub(crate) fn unreachable(url: &str, reason: String) -> StoreError {
    StoreError::Unreachable {
        url: redacted(url),
        reason,
    }
}

/// Applies `migrator` with `run`, turning an applied migration the binary does not know into
/// [`StoreError::SchemaNewer`].
pub(crate) async fn migrating<F>(migrator: &Migrator, run: F) -> StoreResult<()>
where
    F: Future<Output = Result<(), MigrateError>>,
{
    match run.await {
        Ok(()) => Ok(()),
        Err(MigrateError::VersionMissing(applied)) => Err(StoreError::SchemaNewer {
            applied,
            known: migrator.iter().map(|m| m.version).max().unwrap_or(0),
        }),
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_never_shown() {
        assert_eq!(
            redacted("postgres://tether:s3cret@db.internal:5432/tether"),
            "postgres://tether:***@db.internal:5432/tether"
        );
        assert_eq!(
            redacted("postgres://tether@db.internal/tether"),
            "postgres://tether@db.internal/tether"
        );
        assert_eq!(
            redacted("sqlite://tether-data/tether.db"),
            "sqlite://tether-data/tether.db"
        );
        assert!(!redacted("postgres://u:pa ss@[::1/x").contains("pa ss"));
    }
}
