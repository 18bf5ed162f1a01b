//! The PostgreSQL backend of [`Store`](crate::Store).
//!
//! The same schema as SQLite, column for column (`migrations/postgres`), so rows decode through
//! the shared `rows` module and secrets are sealed by the shared `vault`; only the SQL differs
//! (numbered placeholders, `GREATEST`, `FOR UPDATE`). Under READ COMMITTED the lease's
//! conditional UPDATE re-checks its condition after waiting on a concurrent writer of the row,
//! so exactly one contender takes it.

mod connections;
mod connectors;
mod events;
mod refresh;
mod rekey;
mod sessions;
mod store_impl;
mod workspaces;

use std::time::Duration;

use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::StoreResult;
use crate::crypto::Keyring;
use crate::vault::Vault;

/// The schema, compiled into the binary.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per process.
const POOL_SIZE: u32 = 10;
/// How long a caller waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`Store`](crate::Store) on one PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    vault: Vault,
}

impl PgStore {
    /// Connects to `postgres://...`, creating the database if it does not exist.
    pub async fn connect(url: &str, keyring: Keyring) -> StoreResult<Self> {
        if !sqlx::Postgres::database_exists(url).await? {
            sqlx::Postgres::create_database(url).await?;
        }
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        Ok(Self {
            pool,
            vault: Vault::new(keyring),
        })
    }

    /// The connection pool, for tools and tests that need raw SQL.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn close_pool(&self) {
        self.pool.close().await;
    }
}
