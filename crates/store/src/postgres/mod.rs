//! The PostgreSQL backend of [`Store`](crate::Store).
//!
//! The same schema as SQLite, column for column (`migrations/postgres`), so the queries of
//! [`SqlStore`] run here unchanged but for numbered placeholders (rewritten once per query)
//! and `FOR UPDATE` in transactions whose reads decide their writes; this module holds those
//! and connecting. Under READ
//! COMMITTED the lease's conditional UPDATE re-checks its condition after waiting on a
//! concurrent writer of the row, so exactly one contender takes it.

use std::time::Duration;

use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use crate::StoreResult;
use crate::crypto::Keys;
use crate::sql::{Backend, run_methods};
use crate::sql_store::SqlStore;

/// The schema, compiled into the binary.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per process.
const POOL_SIZE: u32 = 10;
/// How long a caller waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`Store`](crate::Store) on one PostgreSQL database.
pub type PgStore = SqlStore<Postgres>;

impl PgStore {
    /// Connects to `postgres://...`, creating the database if it does not exist.
    pub async fn connect(url: &str, keys: impl Into<Keys>) -> StoreResult<Self> {
        if !sqlx::Postgres::database_exists(url).await? {
            sqlx::Postgres::create_database(url).await?;
        }
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        Ok(Self::new(pool, keys.into()))
    }
}

impl Backend for Postgres {
    const NUMBERED_PLACEHOLDERS: bool = true;

    async fn migrate(pool: &PgPool) -> StoreResult<()> {
        MIGRATOR.run(pool).await?;
        Ok(())
    }

    async fn close(pool: &PgPool) {
        pool.close().await;
    }

    /// A plain transaction: the rows it rewrites are locked as it reads them.
    async fn begin_rewrite(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        pool.begin().await
    }

    run_methods!();
}
