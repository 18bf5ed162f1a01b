//! Persistence for tether: narrow traits per aggregate ([`traits`]) whose sum is [`Store`],
//! implemented once ([`SqlStore`]) for every database; `sqlite` and `postgres` hold only
//! what their dialects do differently.
//!
//! Callers hold an `Arc<dyn Store>` chosen once from the database URL ([`open`]). Every
//! method is atomic on its own. Secrets are encrypted inside the backend with the
//! [`crypto::Keyring`] it was opened with; callers only ever see plaintext newtypes. The
//! database records which master keys it is sealed under ([`keys`], [`MasterKeys`]), so a
//! process can refuse a keyring that does not fit before it writes anything.

mod codec;
mod connect;
pub mod crypto;
pub mod keys;
pub mod model;
pub mod postgres;
mod rows;
mod sealed;
mod sql;
mod sql_store;
pub mod sqlite;
pub mod traits;
mod vault;
mod webhook_model;

use std::sync::Arc;

pub use connect::{DatabaseOptions, redacted};
pub use model::*;
pub use sql_store::SqlStore;
pub use traits::{
    Admin, ConnectSessions, Connections, ConnectorDeletion, ConnectorKeepalive, Connectors,
    DueJobs, EventCap, Events, LastUse, MasterKeys, PageSessions, Refreshes, SigningKeys, Store,
    Webhooks, Workspaces,
};
pub use webhook_model::*;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A schema migration failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The keyring does not fit the database, or a master key operation is refused.
    #[error(transparent)]
    MasterKey(#[from] keys::KeyError),
    /// A secret could not be decrypted (wrong or missing master key, or tampering).
    #[error("cannot decrypt {field} of {record}: {reason}")]
    Decrypt {
        record: String,
        field: &'static str,
        reason: String,
    },
    /// A stored value does not parse (a bug or a hand-edited database).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A uniqueness rule was broken (`what` names it for the caller's message).
    #[error("conflict: {what}")]
    Conflict { what: String },
    /// tether could not connect to the database (`url` is shown without its password).
    #[error("cannot connect to the database at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// The database holds a migration this binary does not know: a newer tether migrated it.
    #[error(
        "the database schema is newer than this tether: it has migration {applied}, and this \
         tether knows migrations up to {known}; run the tether version that migrated it, or a newer one"
    )]
    SchemaNewer { applied: i64, known: i64 },
    /// The database URL names no supported backend.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
}

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Opens the store a database URL names (`sqlite://PATH`, `sqlite::memory:`,
/// `postgres://...`), creating the database (file) if needed, with secrets sealed by the
/// keyring of `keys` (a [`crypto::Keyring`], or [`crypto::Keys`] with the source it can be
/// read again from), with the default [`DatabaseOptions`]. Neither migrates nor checks the
/// keyring (see [`MasterKeys::check_master_keys`]).
pub async fn open(url: &str, keys: impl Into<crypto::Keys>) -> StoreResult<Arc<dyn Store>> {
    open_with(url, keys, &DatabaseOptions::default()).await
}

/// [`open`] with the pool settings of `options`.
pub async fn open_with(
    url: &str,
    keys: impl Into<crypto::Keys>,
    options: &DatabaseOptions,
) -> StoreResult<Arc<dyn Store>> {
    let keys = keys.into();
    if url.starts_with("sqlite:") {
        let store = sqlite::SqliteStore::connect_with(url, keys, options).await?;
        Ok(Arc::new(store))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = postgres::PgStore::connect_with(url, keys, options).await?;
        Ok(Arc::new(store))
    } else {
        Err(StoreError::UnsupportedUrl(redacted(url)))
    }
}
