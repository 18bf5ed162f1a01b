//! Conversions between Rust values and database columns, shared by every backend, and the
//! one place database errors become domain errors.
//!
//! Times are stored as 64-bit integer milliseconds since the epoch, lists and JSON documents
//! as text, identifiers as text parsed back through their `tether_core` types. Rows are read
//! through [`Columns`], which each backend's row type implements, so decoding is written once.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use tether_core::status::ConnectionStatus;

use crate::{StoreError, StoreResult};

/// A time as stored.
pub(crate) fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// A length of time as stored: whole milliseconds, saturating (settings bound every length
/// far below).
pub(crate) fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}

/// An optional time as stored.
pub(crate) fn opt_ms(at: Option<DateTime<Utc>>) -> Option<i64> {
    at.map(ms)
}

/// `at` as it reads back from a column (whole milliseconds).
pub(crate) fn at_stored_precision(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms(at)).unwrap_or(at)
}

/// The time in `column`.
pub(crate) fn time(row: &impl Columns, column: &str) -> StoreResult<DateTime<Utc>> {
    let raw = row.int(column)?;
    from_ms(raw, column)
}

/// The optional time in `column`.
pub(crate) fn opt_time(row: &impl Columns, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
    let raw = row.opt_int(column)?;
    raw.map(|raw| from_ms(raw, column)).transpose()
}

fn from_ms(raw: i64, column: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(raw)
        .ok_or_else(|| StoreError::Corrupt(format!("{column} {raw} is out of range")))
}

/// An identifier or name in `column`, parsed through its type.
pub(crate) fn id<T>(row: &impl Columns, column: &str) -> StoreResult<T>
where
    T: TryFrom<String>,
    T::Error: std::fmt::Display,
{
    let raw = row.text(column)?;
    T::try_from(raw).map_err(|err| StoreError::Corrupt(format!("{column}: {err}")))
}

/// An optional identifier in `column`.
pub(crate) fn opt_id<T>(row: &impl Columns, column: &str) -> StoreResult<Option<T>>
where
    T: TryFrom<String>,
    T::Error: std::fmt::Display,
{
    let raw = row.opt_text(column)?;
    raw.map(|raw| T::try_from(raw).map_err(|err| StoreError::Corrupt(format!("{column}: {err}"))))
        .transpose()
}

/// The connection status in `column`.
pub(crate) fn status(row: &impl Columns, column: &str) -> StoreResult<ConnectionStatus> {
    let raw = row.text(column)?;
    raw.parse()
        .map_err(|err| StoreError::Corrupt(format!("{column}: {err}")))
}

/// A list of strings as stored (a JSON array).
pub(crate) fn list_text(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

/// The list of strings in `column`.
pub(crate) fn list(row: &impl Columns, column: &str) -> StoreResult<Vec<String>> {
    let raw = row.text(column)?;
    serde_json::from_str(&raw).map_err(|err| StoreError::Corrupt(format!("{column}: {err}")))
}

/// An optional record as stored: its JSON document.
pub(crate) fn json_text<T: Serialize>(value: Option<&T>) -> StoreResult<Option<String>> {
    value
        .map(|value| {
            serde_json::to_string(value).map_err(|err| StoreError::Corrupt(err.to_string()))
        })
        .transpose()
}

/// The optional record whose JSON document is in `column`.
pub(crate) fn opt_json<T: DeserializeOwned>(
    row: &impl Columns,
    column: &str,
) -> StoreResult<Option<T>> {
    let raw = row.opt_text(column)?;
    raw.map(|raw| {
        serde_json::from_str(&raw).map_err(|err| StoreError::Corrupt(format!("{column}: {err}")))
    })
    .transpose()
}

/// The value in `column`, parsed through its type's `FromStr` (wire names of enums, URLs).
pub(crate) fn parsed<T>(row: &impl Columns, column: &str) -> StoreResult<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let raw = row.text(column)?;
    raw.parse()
        .map_err(|err| StoreError::Corrupt(format!("{column}: {err}")))
}

/// The optional value in `column`, parsed through its type's `FromStr`.
pub(crate) fn opt_parsed<T>(row: &impl Columns, column: &str) -> StoreResult<Option<T>>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let raw = row.opt_text(column)?;
    raw.map(|raw| {
        raw.parse()
            .map_err(|err| StoreError::Corrupt(format!("{column}: {err}")))
    })
    .transpose()
}

/// The 32-byte digest in `column`.
pub(crate) fn digest(row: &impl Columns, column: &str) -> StoreResult<[u8; 32]> {
    let raw = row.bytes(column)?;
    raw.try_into()
        .map_err(|_| StoreError::Corrupt(format!("{column} is not 32 bytes")))
}

/// Maps a uniqueness violation to [`StoreError::Conflict`] naming `what`; any other error
/// stays a database error. The only place constraint errors are interpreted.
pub(crate) fn conflict(what: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |err| match err.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::Conflict {
            what: what.to_owned(),
        },
        _ => StoreError::Database(err),
    }
}

/// Reads the columns of a joined row that were selected as `{prefix}{column}` (see
/// [`qualified`]), so one decoder serves plain and joined selects.
pub(crate) struct Prefixed<'r, R> {
    pub row: &'r R,
    pub prefix: &'static str,
}

impl<R: Columns> Prefixed<'_, R> {
    fn name(&self, column: &str) -> String {
        format!("{}{column}", self.prefix)
    }
}

impl<R: Columns> Columns for Prefixed<'_, R> {
    fn text(&self, column: &str) -> Result<String, sqlx::Error> {
        self.row.text(&self.name(column))
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        self.row.opt_text(&self.name(column))
    }
    fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
        self.row.int(&self.name(column))
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
        self.row.opt_int(&self.name(column))
    }
    fn int32(&self, column: &str) -> Result<i32, sqlx::Error> {
        self.row.int32(&self.name(column))
    }
    fn flag(&self, column: &str) -> Result<bool, sqlx::Error> {
        self.row.flag(&self.name(column))
    }
    fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error> {
        self.row.bytes(&self.name(column))
    }
    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
        self.row.opt_bytes(&self.name(column))
    }
}

/// A column list (`a, b, c IS NOT NULL AS d`) with each item read from table `alias` and, with
/// a `prefix`, renamed `{prefix}{column}` (for [`Prefixed`]).
pub(crate) fn qualified(columns: &str, alias: &str, prefix: Option<&str>) -> String {
    columns
        .split(',')
        .map(str::trim)
        .map(|item| {
            let name = item.rsplit(' ').next().unwrap_or(item);
            match prefix {
                Some(prefix) => format!("{alias}.{item} AS {prefix}{name}"),
                None => format!("{alias}.{item}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Typed reads of named columns, whatever the backend.
pub trait Columns {
    fn text(&self, column: &str) -> Result<String, sqlx::Error>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    fn int(&self, column: &str) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
    fn int32(&self, column: &str) -> Result<i32, sqlx::Error>;
    fn flag(&self, column: &str) -> Result<bool, sqlx::Error>;
    fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error>;
    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error>;
}

macro_rules! columns_for {
    ($row:ty) => {
        impl Columns for $row {
            fn text(&self, column: &str) -> Result<String, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
                self.try_get(column)
            }
            fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(column)
            }
            fn int32(&self, column: &str) -> Result<i32, sqlx::Error> {
                self.try_get(column)
            }
            fn flag(&self, column: &str) -> Result<bool, sqlx::Error> {
                self.try_get(column)
            }
            fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
                self.try_get(column)
            }
        }
    };
}

columns_for!(SqliteRow);
columns_for!(PgRow);
