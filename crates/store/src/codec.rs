//! Conversions between Rust values and database columns, shared by every backend, and the
//! one place database errors become domain errors.
//!
//! Times are stored as 64-bit integer milliseconds since the epoch, lists and JSON documents
//! as text, identifiers as text parsed back through their `tether_core` types. Rows are read
//! through [`Columns`], which each backend's row type implements, so decoding is written once.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use tether_core::status::ConnectionStatus;

use crate::{StoreError, StoreResult};

/// A time as stored.
pub(crate) fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
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

/// An optional JSON document as stored.
pub(crate) fn json_text(value: Option<&serde_json::Value>) -> Option<String> {
    value.map(serde_json::Value::to_string)
}

/// The optional JSON document in `column`.
pub(crate) fn opt_json(row: &impl Columns, column: &str) -> StoreResult<Option<serde_json::Value>> {
    let raw = row.opt_text(column)?;
    raw.map(|raw| {
        serde_json::from_str(&raw).map_err(|err| StoreError::Corrupt(format!("{column}: {err}")))
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
