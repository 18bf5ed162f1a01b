//! The one implementation of [`Store`](crate::Store): [`SqlStore`], generic over the
//! [`Backend`](crate::sql::Backend) it runs on. Each submodule implements one of the narrow
//! traits of [`crate::traits`] with the plain SQL of its tables, written once with `?`
//! placeholders; rows are decoded by the shared `rows` module
//! and secrets sealed and opened by the shared `vault`. What differs between databases
//! (connecting, migrations, locking, placeholders) lives in `crate::sqlite` and
//! `crate::postgres`.

mod admin;
mod claims;
mod connection_pages;
mod connections;
mod connectors;
mod due_jobs;
mod events;
mod master_keys;
mod outbox;
mod page_sessions;
mod reencrypt;
mod refresh;
mod sessions;
mod signing;
mod webhooks;
mod workspaces;

use chrono::{DateTime, Utc};
use sqlx::{Database, Pool};
use tether_core::ids::WorkspaceId;

use crate::codec::{conflict, ms};
use crate::crypto::Keys;
use crate::sql::{Backend, Exec, Sql, Statement};
use crate::vault::Vault;
use crate::{DatabaseOptions, PageRequest, SeqCursor, StoreResult};

/// A [`Store`](crate::Store) on one database of type `DB` (see
/// [`SqliteStore`](crate::sqlite::SqliteStore) and [`PgStore`](crate::postgres::PgStore)).
pub struct SqlStore<DB: Database> {
    pool: Pool<DB>,
    vault: Vault,
}

impl<DB: Database> SqlStore<DB> {
    /// A store on `pool`, sealing secrets with the keyring of `keys`.
    pub(crate) fn new(pool: Pool<DB>, keys: Keys) -> Self {
        Self {
            pool,
            vault: Vault::new(keys),
        }
    }

    /// The connection pool, for tools and tests that need raw SQL.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// Runs a statement on a connection of the pool.
    fn db(&self) -> Exec<'_, DB> {
        Exec::Pool(&self.pool)
    }
}

impl<DB: Backend> SqlStore<DB> {
    /// Connects to `url` with the default [`DatabaseOptions`] (see
    /// [`SqlStore::connect_with`]).
    pub async fn connect(url: &str, keys: impl Into<Keys>) -> StoreResult<Self> {
        Self::connect_with(url, keys, &DatabaseOptions::default()).await
    }

    /// Connects to `url` with `options`, sealing secrets with the keyring of `keys`: for
    /// [`SqliteStore`](crate::sqlite::SqliteStore), `sqlite://PATH` (the file and its
    /// directory created if missing) or `sqlite::memory:`; for
    /// [`PgStore`](crate::postgres::PgStore), `postgres://...` (the database created if it
    /// does not exist). A database that cannot be reached fails here, naming the URL without
    /// its password.
    pub async fn connect_with(
        url: &str,
        keys: impl Into<Keys>,
        options: &DatabaseOptions,
    ) -> StoreResult<Self> {
        let pool = DB::connect(url, options).await?;
        Ok(Self::new(pool, keys.into()))
    }

    /// Runs a retention DELETE whose placeholders are the cutoff time, then the most rows it
    /// may delete; how many it deleted.
    async fn purge(
        &self,
        sql: &'static Sql,
        before: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<u64> {
        Ok(Statement::new(sql)
            .bind(ms(before))
            .bind(limit)
            .execute(self.db())
            .await?)
    }

    /// Runs the INSERT of a new record; when its key is taken already, a conflict naming
    /// `taken` ("... already exists").
    async fn insert_new(&self, insert: Statement<'_, DB>, taken: &str) -> StoreResult<()> {
        insert.execute(self.db()).await.map_err(conflict(taken))?;
        Ok(())
    }

    /// The row of a record outside any workspace that `sql` selects by its one placeholder,
    /// the record's key.
    async fn row_by_key(&self, sql: &'static Sql, key: &str) -> StoreResult<Option<DB::Row>> {
        Ok(Statement::new(sql)
            .bind(key)
            .fetch_optional(self.db())
            .await?)
    }

    /// One page of a history listed newest first by `seq` (a connection's events, a webhook's
    /// deliveries), with where the next page starts; `sql` is a [`history_listing`] and `id`
    /// the record whose history it is.
    async fn history_page<T>(
        &self,
        sql: &'static Sql,
        workspace: &WorkspaceId,
        id: &str,
        request: &PageRequest<SeqCursor>,
        decode: impl Fn(&DB::Row) -> StoreResult<T>,
        seq: impl Fn(&T) -> i64,
    ) -> StoreResult<(Vec<T>, Option<SeqCursor>)> {
        let after = request.after.map(|a| a.seq);
        let rows = Statement::new(sql)
            .bind_record(workspace, id)
            .bind(after)
            .bind(after)
            .bind(request.rows_to_read())
            .fetch_all(self.db())
            .await?;
        let items = rows.iter().map(decode).collect::<StoreResult<Vec<_>>>()?;
        Ok(request.split(items, |item| SeqCursor { seq: seq(item) }))
    }

    /// The row of one workspace's record that `sql` selects by its two placeholders, the
    /// record's `id` then its `workspace_id`: a record is only ever read inside its workspace.
    async fn workspace_row(
        &self,
        sql: &'static Sql,
        workspace: &WorkspaceId,
        id: &str,
    ) -> StoreResult<Option<DB::Row>> {
        Ok(Statement::new(sql)
            .bind_record(workspace, id)
            .fetch_optional(self.db())
            .await?)
    }
}

/// The SELECT of [`SqlStore::history_page`]: `columns` of the rows of `table` that belong to
/// the record `owner` names (then its workspace), before a `seq` (none: from the newest),
/// newest first, at most `?` of them.
fn history_listing(columns: &str, table: &str, owner: &str) -> String {
    format!(
        "SELECT {columns} FROM {table}
         WHERE {owner} = ? AND workspace_id = ? AND (? IS NULL OR seq < ?)
         ORDER BY seq DESC LIMIT ?"
    )
}

/// A retention DELETE of the rows of `table` matching `expired` (whose one placeholder is the
/// cutoff), oldest by `order` first, at most `?` of them; rows are picked by their `key`.
fn purging(table: &str, key: &str, expired: &str, order: &str) -> String {
    format!(
        "DELETE FROM {table} WHERE {key} IN (
             SELECT {key} FROM {table} WHERE {expired} ORDER BY {order} LIMIT ?)"
    )
}

impl<DB: Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            vault: self.vault.clone(),
        }
    }
}

impl<DB: Database> std::fmt::Debug for SqlStore<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &DB::NAME)
            .field("pool", &self.pool)
            .field("vault", &self.vault)
            .finish()
    }
}
