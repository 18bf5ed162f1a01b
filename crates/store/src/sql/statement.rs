//! Running a query on whichever backend: [`Param`]s collected by a [`Statement`] without
//! naming the database, bound by the backend's own sqlx types when the statement runs on an
//! [`Exec`] (the pool or a transaction's connection).

use std::borrow::Cow;
use std::marker::PhantomData;

use sqlx::query::Query;
use sqlx::{Database, Encode, Pool, Transaction, Type};
use tether_core::ids::WorkspaceId;

use super::{Backend, Sql};

/// One bind value, in the Rust types every backend encodes alike.
#[derive(Debug)]
pub enum Param<'a> {
    Text(Option<Cow<'a, str>>),
    Int(Option<i64>),
    Int32(i32),
    Flag(bool),
    Bytes(Option<Cow<'a, [u8]>>),
}

/// Where a statement runs: on the pool (a connection of its own) or on a connection already
/// held, typically a transaction's.
pub enum Exec<'e, DB: Database> {
    Pool(&'e Pool<DB>),
    Conn(&'e mut DB::Connection),
}

impl<DB: Database> std::fmt::Debug for Exec<'_, DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pool(_) => "Exec::Pool",
            Self::Conn(_) => "Exec::Conn",
        })
    }
}

impl<'e, DB: Database> Exec<'e, DB> {
    /// The connection of a transaction.
    pub(crate) fn tx(tx: &'e mut Transaction<'_, DB>) -> Self {
        Self::Conn(&mut **tx)
    }

    /// The same place, borrowed for one statement, so several can run on it in turn.
    pub(crate) fn reborrow(&mut self) -> Exec<'_, DB> {
        match self {
            Self::Pool(pool) => Exec::Pool(pool),
            Self::Conn(conn) => Exec::Conn(&mut **conn),
        }
    }
}

/// A query and its bind values, ready to run on `DB`.
pub(crate) struct Statement<'a, DB> {
    text: &'a str,
    params: Vec<Param<'a>>,
    db: PhantomData<fn() -> DB>,
}

impl<'a, DB: Backend> Statement<'a, DB> {
    /// A query written once with `?` placeholders, in `DB`'s dialect.
    pub(crate) fn new(sql: &'static Sql) -> Self {
        Self::raw(sql.text(DB::NUMBERED_PLACEHOLDERS))
    }

    /// Text already in `DB`'s placeholder dialect (see [`Backend::placeholders`]).
    pub(crate) fn raw(text: &'a str) -> Self {
        Self {
            text,
            params: Vec::new(),
            db: PhantomData,
        }
    }

    /// Adds the value of the next placeholder.
    pub(crate) fn bind(mut self, value: impl Into<Param<'a>>) -> Self {
        self.params.push(value.into());
        self
    }

    /// Adds the key of one workspace's record to the next two placeholders: its id (`id = ?`,
    /// or `connection_id = ?` / `webhook_id = ?` for what belongs to it), then its workspace
    /// (`workspace_id = ?`). The order is written once: both are text, so a swap would
    /// compile and match nothing.
    pub(crate) fn bind_record(self, workspace: &'a WorkspaceId, id: &'a str) -> Self {
        self.bind(id).bind(workspace.as_str())
    }

    /// Adds the same value for the next `times` placeholders.
    pub(crate) fn bind_n<V: Into<Param<'a>> + Clone>(mut self, value: V, times: usize) -> Self {
        for _ in 0..times {
            self.params.push(value.clone().into());
        }
        self
    }

    /// Runs the statement; the number of rows it changed.
    pub(crate) async fn execute(self, exec: Exec<'_, DB>) -> Result<u64, sqlx::Error> {
        DB::execute(exec, self.text, &self.params).await
    }

    /// The one row the statement returns ([`sqlx::Error::RowNotFound`] if none).
    pub(crate) async fn fetch_one(self, exec: Exec<'_, DB>) -> Result<DB::Row, sqlx::Error> {
        self.fetch_optional(exec)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// The first row the statement returns, if any.
    pub(crate) async fn fetch_optional(
        self,
        exec: Exec<'_, DB>,
    ) -> Result<Option<DB::Row>, sqlx::Error> {
        DB::fetch_optional(exec, self.text, &self.params).await
    }

    /// Every row the statement returns.
    pub(crate) async fn fetch_all(self, exec: Exec<'_, DB>) -> Result<Vec<DB::Row>, sqlx::Error> {
        DB::fetch_all(exec, self.text, &self.params).await
    }
}

/// `text` with `params` bound in order, for a database that encodes every [`Param`] type.
pub(crate) fn bind<'q, DB>(
    text: &'q str,
    params: &'q [Param<'_>],
) -> Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    i32: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
    Option<&'q [u8]>: Encode<'q, DB> + Type<DB>,
{
    params
        .iter()
        .fold(sqlx::query(text), |query, param| match param {
            Param::Text(value) => query.bind(value.as_deref()),
            Param::Int(value) => query.bind(*value),
            Param::Int32(value) => query.bind(*value),
            Param::Flag(value) => query.bind(*value),
            Param::Bytes(value) => query.bind(value.as_deref()),
        })
}

/// The [`Backend`] methods that run a bound query, written once and expanded inside each
/// backend's `impl Backend`, where the sqlx types are concrete.
macro_rules! run_methods {
    () => {
        async fn execute(
            exec: $crate::sql::Exec<'_, Self>,
            text: &str,
            params: &[$crate::sql::Param<'_>],
        ) -> Result<u64, sqlx::Error> {
            let query = $crate::sql::bind::<Self>(text, params);
            let done = match exec {
                $crate::sql::Exec::Pool(pool) => query.execute(pool).await?,
                $crate::sql::Exec::Conn(conn) => query.execute(conn).await?,
            };
            Ok(done.rows_affected())
        }

        $crate::sql::run_methods!(fetch_optional -> Option<Self::Row>);
        $crate::sql::run_methods!(fetch_all -> Vec<Self::Row>);
    };
    // A method that runs the query by sqlx's method of the same name.
    ($fetch:ident -> $rows:ty) => {
        async fn $fetch(
            exec: $crate::sql::Exec<'_, Self>,
            text: &str,
            params: &[$crate::sql::Param<'_>],
        ) -> Result<$rows, sqlx::Error> {
            let query = $crate::sql::bind::<Self>(text, params);
            match exec {
                $crate::sql::Exec::Pool(pool) => query.$fetch(pool).await,
                $crate::sql::Exec::Conn(conn) => query.$fetch(conn).await,
            }
        }
    };
}
pub(crate) use run_methods;

impl<'a> From<&'a str> for Param<'a> {
    fn from(value: &'a str) -> Self {
        Param::Text(Some(Cow::Borrowed(value)))
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(value: &'a String) -> Self {
        Param::Text(Some(Cow::Borrowed(value)))
    }
}

impl From<String> for Param<'_> {
    fn from(value: String) -> Self {
        Param::Text(Some(Cow::Owned(value)))
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(value: Option<&'a str>) -> Self {
        Param::Text(value.map(Cow::Borrowed))
    }
}

impl From<Option<String>> for Param<'_> {
    fn from(value: Option<String>) -> Self {
        Param::Text(value.map(Cow::Owned))
    }
}

impl From<i64> for Param<'_> {
    fn from(value: i64) -> Self {
        Param::Int(Some(value))
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(value: Option<i64>) -> Self {
        Param::Int(value)
    }
}

impl From<i32> for Param<'_> {
    fn from(value: i32) -> Self {
        Param::Int32(value)
    }
}

impl From<bool> for Param<'_> {
    fn from(value: bool) -> Self {
        Param::Flag(value)
    }
}

impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(value: &'a [u8]) -> Self {
        Param::Bytes(Some(Cow::Borrowed(value)))
    }
}

impl From<Vec<u8>> for Param<'_> {
    fn from(value: Vec<u8>) -> Self {
        Param::Bytes(Some(Cow::Owned(value)))
    }
}

impl From<Option<Vec<u8>>> for Param<'_> {
    fn from(value: Option<Vec<u8>>) -> Self {
        Param::Bytes(value.map(Cow::Owned))
    }
}
