//! Persistence for tether: one [`Store`] trait, implemented once ([`SqlStore`]) for every
//! database; `sqlite` and `postgres` hold only what their dialects do differently.
//!
//! Callers hold an `Arc<dyn Store>` chosen once from the database URL ([`open`]). Every
//! method is atomic on its own. Secrets are encrypted inside the backend with the
//! [`crypto::Keyring`] it was opened with; callers only ever see plaintext newtypes.

mod codec;
pub mod crypto;
pub mod model;
pub mod postgres;
mod rows;
mod sql;
mod sql_store;
pub mod sqlite;
mod vault;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tether_core::ids::{ApiKeyId, ConnectionId, ConnectorName, WorkspaceId, WorkspaceName};

pub use model::*;
pub use sql_store::SqlStore;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A schema migration failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
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
    /// The database URL names no supported backend.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
}

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// tether's persistence. See the module doc for the contract.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Applies pending schema migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Answers when the database does (readiness).
    async fn ping(&self) -> StoreResult<()>;
    /// Closes the database connections once those in use are returned (SQLite then
    /// checkpoints its write-ahead log into the database file). Later calls fail.
    async fn close(&self);

    // Workspaces and API keys.
    /// The workspace of this name, created if missing.
    async fn ensure_workspace(
        &self,
        name: &WorkspaceName,
        now: DateTime<Utc>,
    ) -> StoreResult<Workspace>;
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()>;
    async fn find_api_key(&self, id: &ApiKeyId) -> StoreResult<Option<ApiKeyRecord>>;

    // Connectors.
    /// Creates or replaces a connector; bumps its generation.
    async fn upsert_connector(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
        input: &ConnectorInput,
        now: DateTime<Utc>,
    ) -> StoreResult<Connector>;
    async fn get_connector(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
    ) -> StoreResult<Option<Connector>>;
    async fn list_connectors(&self, workspace: &WorkspaceId) -> StoreResult<Vec<Connector>>;
    /// `true` when a connector was deleted.
    async fn delete_connector(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
    ) -> StoreResult<bool>;

    // Connect sessions.
    async fn insert_connect_session(&self, session: &ConnectSession) -> StoreResult<()>;
    async fn get_connect_session(
        &self,
        id: &tether_core::ids::ConnectSessionId,
    ) -> StoreResult<Option<ConnectSession>>;
    /// Marks the session with this state used, exactly once, if it has not expired at `now`.
    async fn consume_connect_session(
        &self,
        state_sha256: &[u8; 32],
        now: DateTime<Utc>,
    ) -> StoreResult<ConsumeOutcome>;

    // Connections.
    async fn insert_connection(&self, connection: &NewConnection) -> StoreResult<Connection>;
    async fn get_connection(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
    ) -> StoreResult<Option<Connection>>;
    async fn list_connections(
        &self,
        workspace: &WorkspaceId,
        filter: &ConnectionFilter,
    ) -> StoreResult<Vec<Connection>>;
    /// How many connections of `connector` for the same provider account (`org_id`,
    /// `user_id`), other than `except`, got their refresh token after `after`: each is one
    /// more approval of the same user for the same app (Salesforce keeps five).
    async fn count_approvals_after(
        &self,
        workspace: &WorkspaceId,
        connector: &ConnectorName,
        account: &Account,
        except: &ConnectionId,
        after: DateTime<Utc>,
    ) -> StoreResult<i64>;
    /// The token fast path: one indexed read of the current access token and its expiry.
    async fn current_token(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
    ) -> StoreResult<Option<CurrentToken>>;
    /// The refresh token of a connection (`None` once disconnected).
    async fn refresh_token(
        &self,
        id: &ConnectionId,
    ) -> StoreResult<Option<tether_core::secret::RefreshToken>>;

    /// Takes the refresh lease of a connection for `owner` until `until`, if nobody else
    /// holds an unexpired one. `true` when taken.
    async fn try_lease(
        &self,
        id: &ConnectionId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Gives the lease back if `owner` still holds it.
    async fn release_lease(&self, id: &ConnectionId, owner: &str) -> StoreResult<()>;

    /// Stores the tokens of a successful refresh (keeping the old refresh token when the new
    /// set has none), marks the connection active, clears failures, bumps `token_version`,
    /// sets `last_refreshed_at = now` and releases `owner`'s lease, in one transaction.
    /// With `expected_version`, the write lands only if the connection's `token_version` is
    /// still that (a reconnect or another refresh in between wins); `true` when it landed.
    async fn record_refresh_success(
        &self,
        id: &ConnectionId,
        owner: &str,
        expected_version: Option<i64>,
        tokens: &TokenSet,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Stores the outcome of a failed refresh and releases `owner`'s lease.
    /// Releases `owner`'s lease; `expected_version` fences the write as for success.
    async fn record_refresh_failure(
        &self,
        id: &ConnectionId,
        owner: &str,
        expected_version: Option<i64>,
        update: &FailureUpdate,
    ) -> StoreResult<bool>;
    /// Replaces the tokens and account of an existing connection after a reconnect; active
    /// again, failures cleared, `refresh_token_issued_at = now`.
    async fn replace_connection_tokens(
        &self,
        id: &ConnectionId,
        account: &Account,
        scopes: &[String],
        tokens: &TokenSet,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Notes on an active connection why its API calls fail although its tokens are fine
    /// (e.g. `api_disabled`); the status stays `active`, and the next successful refresh
    /// clears the note. Does nothing to a connection that is not active.
    async fn annotate_connection(
        &self,
        id: &ConnectionId,
        status_reason: &str,
        diagnosis: &serde_json::Value,
    ) -> StoreResult<()>;
    /// Records when connections were last used (batched by the caller).
    async fn touch_last_used(&self, uses: &[(ConnectionId, DateTime<Utc>)]) -> StoreResult<()>;
    /// Status `disconnected`; the access and refresh tokens are erased.
    async fn disconnect(&self, id: &ConnectionId, now: DateTime<Utc>) -> StoreResult<()>;
    /// Degraded connections whose retry is due at `now`, or that failed on a connector that
    /// has changed since (with their workspace), at most `limit`.
    async fn due_for_retry(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<(WorkspaceId, ConnectionId)>>;

    /// Active connections whose refresh token has not been used since `before` (last
    /// refresh, else the approval), oldest first, at most `limit`: the keep-alive's work.
    async fn idle_connections(
        &self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<(WorkspaceId, ConnectionId)>>;

    // Events.
    async fn append_event(&self, event: &NewEvent) -> StoreResult<Event>;
    /// Newest first; `before_seq` pages backwards.
    async fn list_events(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        before_seq: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Event>>;

    /// Re-encrypts every stored secret under the keyring's primary key; returns how many
    /// values were rewritten.
    async fn reencrypt_all(&self) -> StoreResult<u64>;
}

/// Opens the store a database URL names (`sqlite://PATH`, `sqlite::memory:`,
/// `postgres://...`), creating the database (file) if needed, with secrets sealed by
/// `keyring`. Does not migrate.
pub async fn open(url: &str, keyring: crypto::Keyring) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url, keyring).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url, keyring).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}
