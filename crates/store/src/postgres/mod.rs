//! The PostgreSQL backend of [`Store`](crate::Store).
//!
//! The same schema as SQLite, column for column (`migrations/postgres`), so the queries of
//! [`SqlStore`] run here unchanged but for numbered placeholders (rewritten once per query)
//! and `FOR UPDATE` in transactions whose reads decide their writes; this module holds those
//! and connecting. Under READ
//! COMMITTED the lease's conditional UPDATE re-checks its condition after waiting on a
//! concurrent writer of the row, so exactly one contender takes it.

use std::str::FromStr;

use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use crate::connect::{connecting, migrating, open_pool, unreachable};
use crate::sql::{Backend, run_methods};
use crate::sql_store::SqlStore;
use crate::{DatabaseOptions, StoreResult};

/// The schema, compiled into the binary.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// A [`Store`](crate::Store) on one PostgreSQL database.
pub type PgStore = SqlStore<Postgres>;

impl Backend for Postgres {
    const NUMBERED_PLACEHOLDERS: bool = true;

    /// Connects to `postgres://...`, creating the database if it does not exist: at most
    /// `pool_size` connections, each with the `statement_timeout`; connecting and waiting for
    /// a free connection bounded by `connect_timeout`.
    async fn connect(url: &str, options: &DatabaseOptions) -> StoreResult<PgPool> {
        let timeout = options.connect_timeout;
        if !connecting(url, timeout, sqlx::Postgres::database_exists(url)).await? {
            connecting(url, timeout, sqlx::Postgres::create_database(url)).await?;
        }
        let statement_timeout = options.statement_timeout.as_millis().to_string();
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| unreachable(url, e.to_string()))?
            .options([("statement_timeout", statement_timeout.as_str())]);
        let pool = PgPoolOptions::new().max_connections(options.pool_size);
        open_pool(url, timeout, pool, connect).await
    }

    /// Runs on a connection of its own whose `statement_timeout` is lifted (an index built on
    /// a large table may take longer), closed afterwards so the pool never hands it out.
    async fn migrate(pool: &PgPool) -> StoreResult<()> {
        let mut conn = pool.acquire().await?.detach();
        sqlx::query("SET statement_timeout = 0")
            .execute(&mut conn)
            .await?;
        let migrated = migrating(&MIGRATOR, MIGRATOR.run_direct(&mut conn)).await;
        if let Err(err) = sqlx::Connection::close(conn).await {
            tracing::debug!(error = %err, "closing the migration's connection failed");
        }
        migrated
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
