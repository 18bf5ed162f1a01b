//! Conversions between Rust values and SQLite columns, and the one place database errors
//! become domain errors.
//!
//! Times are stored as INTEGER milliseconds since the epoch, lists and JSON documents as
//! TEXT, identifiers as TEXT parsed back through their `tether_core` types.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use tether_core::status::ConnectionStatus;

use crate::{StoreError, StoreResult};

/// A time as stored.
pub(super) fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// An optional time as stored.
pub(super) fn opt_ms(at: Option<DateTime<Utc>>) -> Option<i64> {
    at.map(ms)
}

/// `at` as it reads back from a column (whole milliseconds).
pub(super) fn at_stored_precision(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms(at)).unwrap_or(at)
}

/// The time in `column`.
pub(super) fn time(row: &SqliteRow, column: &str) -> StoreResult<DateTime<Utc>> {
    let raw: i64 = row.try_get(column)?;
    from_ms(raw, column)
}

/// The optional time in `column`.
pub(super) fn opt_time(row: &SqliteRow, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
    let raw: Option<i64> = row.try_get(column)?;
    raw.map(|raw| from_ms(raw, column)).transpose()
}

fn from_ms(raw: i64, column: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(raw)
        .ok_or_else(|| StoreError::Corrupt(format!("{column} {raw} is out of range")))
}

/// An identifier or name in `column`, parsed through its type.
pub(super) fn id<T>(row: &SqliteRow, column: &str) -> StoreResult<T>
where
    T: TryFrom<String>,
    T::Error: std::fmt::Display,
{
    let raw: String = row.try_get(column)?;
    T::try_from(raw).map_err(|err| StoreError::Corrupt(format!("{column}: {err}")))
}

/// An optional identifier in `column`.
pub(super) fn opt_id<T>(row: &SqliteRow, column: &str) -> StoreResult<Option<T>>
where
    T: TryFrom<String>,
    T::Error: std::fmt::Display,
{
    let raw: Option<String> = row.try_get(column)?;
    raw.map(|raw| T::try_from(raw).map_err(|err| StoreError::Corrupt(format!("{column}: {err}"))))
        .transpose()
}

/// The connection status in `column`.
pub(super) fn status(row: &SqliteRow, column: &str) -> StoreResult<ConnectionStatus> {
    let raw: String = row.try_get(column)?;
    raw.parse()
        .map_err(|err| StoreError::Corrupt(format!("{column}: {err}")))
}

/// A list of strings as stored (a JSON array).
pub(super) fn list_text(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

/// The list of strings in `column`.
pub(super) fn list(row: &SqliteRow, column: &str) -> StoreResult<Vec<String>> {
    let raw: String = row.try_get(column)?;
    serde_json::from_str(&raw).map_err(|err| StoreError::Corrupt(format!("{column}: {err}")))
}

/// An optional JSON document as stored.
pub(super) fn json_text(value: Option<&serde_json::Value>) -> Option<String> {
    value.map(serde_json::Value::to_string)
}

/// The optional JSON document in `column`.
pub(super) fn opt_json(row: &SqliteRow, column: &str) -> StoreResult<Option<serde_json::Value>> {
    let raw: Option<String> = row.try_get(column)?;
    raw.map(|raw| {
        serde_json::from_str(&raw).map_err(|err| StoreError::Corrupt(format!("{column}: {err}")))
    })
    .transpose()
}

/// The 32-byte digest in `column`.
pub(super) fn digest(row: &SqliteRow, column: &str) -> StoreResult<[u8; 32]> {
    let raw: Vec<u8> = row.try_get(column)?;
    raw.try_into()
        .map_err(|_| StoreError::Corrupt(format!("{column} is not 32 bytes")))
}

/// Maps a uniqueness violation to [`StoreError::Conflict`] naming `what`; any other error
/// stays a database error. The only place constraint errors are interpreted.
pub(super) fn conflict(what: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |err| match err.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::Conflict {
            what: what.to_owned(),
        },
        _ => StoreError::Database(err),
    }
}
