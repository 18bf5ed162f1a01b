//! What the shared queries need from a database, and nothing more: the [`Backend`] trait
//! (implemented by `sqlx::Sqlite` in `crate::sqlite` and `sqlx::Postgres` in
//! `crate::postgres`, each the one place its dialect lives), query text written once
//! ([`Sql`]) and statements that run on either ([`Statement`]).

mod statement;
mod text;

use std::future::Future;

use sqlx::{Database, Pool, Transaction};

use crate::codec::Columns;
use crate::{DatabaseOptions, StoreResult};

pub(crate) use statement::{Exec, Param, Statement, bind, run_methods};
pub(crate) use text::{FOR_UPDATE, SKIP_LOCKED, Sql, in_dialect};

/// A database the store runs on: its dialect's differences and the few operations that need
/// its concrete sqlx types. Queries themselves are written once, generic over this trait.
/// Nominally `pub` (in a private module, so sealed) only because [`SqlStore`]'s impls name it.
///
/// [`SqlStore`]: crate::SqlStore
pub trait Backend: Database<Row: Columns> {
    /// Whether placeholders are numbered (`$1..$n`) rather than `?`.
    const NUMBERED_PLACEHOLDERS: bool;

    /// A pool of connections to `url` with `options`. A database that cannot be reached fails
    /// here, naming the URL without its password.
    fn connect(
        url: &str,
        options: &DatabaseOptions,
    ) -> impl Future<Output = StoreResult<Pool<Self>>> + Send;

    /// Applies the embedded migrations.
    fn migrate(pool: &Pool<Self>) -> impl Future<Output = StoreResult<()>> + Send;

    /// Closes the pool once its connections are returned.
    fn close(pool: &Pool<Self>) -> impl Future<Output = ()> + Send;

    /// A transaction whose reads decide its writes, which no other writer may interleave with
    /// (SQLite takes the write lock at BEGIN; PostgreSQL's SELECTs lock with `FOR UPDATE`).
    fn begin_rewrite(
        pool: &Pool<Self>,
    ) -> impl Future<Output = Result<Transaction<'static, Self>, sqlx::Error>> + Send;

    /// Runs `text` with `params`; the number of rows changed.
    fn execute(
        exec: Exec<'_, Self>,
        text: &str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;

    /// The first row `text` returns, if any.
    fn fetch_optional(
        exec: Exec<'_, Self>,
        text: &str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<Option<Self::Row>, sqlx::Error>> + Send;

    /// Every row `text` returns.
    fn fetch_all(
        exec: Exec<'_, Self>,
        text: &str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<Vec<Self::Row>, sqlx::Error>> + Send;

    /// Query text built at run time (e.g. per table) in this dialect (see [`in_dialect`]).
    fn dialect(text: &str) -> String {
        in_dialect(text, Self::NUMBERED_PLACEHOLDERS)
    }
}
