//! The records the store keeps, as plain Rust values with secrets already decrypted.
//!
//! Secrets appear here only as `tether_core::secret` types; they are encrypted on the way into
//! the database and decrypted on the way out, inside the backend.

use chrono::{DateTime, Utc};
use tether_core::ids::{
    ApiKeyId, ConnectSessionId, ConnectionId, ConnectorName, EndUserId, EventId, WorkspaceId,
    WorkspaceName,
};
use tether_core::secret::{AccessToken, ClientSecret, PkceVerifier, RefreshToken};
use tether_core::status::ConnectionStatus;

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: WorkspaceName,
    pub created_at: DateTime<Utc>,
}

/// What the store keeps of an API key: its id and the SHA-256 of its secret half.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub workspace_id: WorkspaceId,
    pub secret_sha256: [u8; 32],
    pub created_at: DateTime<Utc>,
}

/// A connector as written by `PUT /v1/connectors/{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorInput {
    pub provider: String,
    pub client_id: String,
    pub client_secret: ClientSecret,
    pub login_url: String,
    pub scopes: Vec<String>,
    /// The admin's hint of the Connected App's session timeout.
    pub session_timeout_seconds: Option<i64>,
    /// The admin's hint of the refresh-token policy, in the sandbox's JSON shape.
    pub refresh_token_policy: Option<serde_json::Value>,
}

/// A stored connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connector {
    pub workspace_id: WorkspaceId,
    pub name: ConnectorName,
    pub input: ConnectorInput,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Increases on every change; a connection degraded by a connector problem remembers
    /// the generation it failed at and is retried once the connector has changed.
    pub generation: i64,
}

/// A pending connect (or reconnect) flow, keyed by the SHA-256 of its `state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectSession {
    pub id: ConnectSessionId,
    pub workspace_id: WorkspaceId,
    pub connector: ConnectorName,
    pub end_user_id: EndUserId,
    pub redirect_to: Option<String>,
    pub state_sha256: [u8; 32],
    pub pkce_verifier: PkceVerifier,
    /// Set for a reconnect: the connection whose tokens the flow replaces.
    pub reconnect_of: Option<ConnectionId>,
    /// A reconnect may land on a different Salesforce user or org only when asked.
    pub allow_different_account: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What happened when a callback presented a state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // returned once per callback; boxing buys nothing
pub enum ConsumeOutcome {
    /// First use within its lifetime: the session, now marked used.
    Consumed(ConnectSession),
    /// The state was already used once.
    AlreadyUsed,
    /// The state is older than its lifetime.
    Expired,
    /// No session has this state.
    Unknown,
}

/// The provider account behind a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub instance_url: String,
    pub org_id: String,
    pub user_id: String,
    pub username: String,
}

/// Tokens obtained from the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSet {
    pub access_token: AccessToken,
    /// `None` on a refresh without rotation: the stored refresh token is kept.
    pub refresh_token: Option<RefreshToken>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When tether stops serving the access token and refreshes (before `expires_at`).
    pub refresh_at: DateTime<Utc>,
    /// The instance URL the provider named in this answer (it can move).
    pub instance_url: String,
}

/// A connection being created by a finished connect flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConnection {
    pub id: ConnectionId,
    pub workspace_id: WorkspaceId,
    pub connector: ConnectorName,
    pub provider: String,
    pub end_user_id: EndUserId,
    pub account: Account,
    pub scopes: Vec<String>,
    pub tokens: TokenSet,
    pub created_at: DateTime<Utc>,
}

/// A stored connection, without its secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub id: ConnectionId,
    pub workspace_id: WorkspaceId,
    pub connector: ConnectorName,
    pub provider: String,
    pub end_user_id: EndUserId,
    pub status: ConnectionStatus,
    pub status_reason: Option<String>,
    pub diagnosis: Option<serde_json::Value>,
    pub account: Account,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_refreshed_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// When the refresh token was obtained (connect or reconnect, or the last rotation).
    pub refresh_token_issued_at: Option<DateTime<Utc>>,
    pub access_token_expires_at: Option<DateTime<Utc>>,
    /// Consecutive failed refresh attempts.
    pub refresh_failures: i32,
    pub next_retry_at: Option<DateTime<Utc>>,
    /// The connector generation a connector-level failure was seen at.
    pub failed_connector_generation: Option<i64>,
}

/// The one-read answer of the token fast path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentToken {
    pub connection_id: ConnectionId,
    pub status: ConnectionStatus,
    /// `None` once disconnected.
    pub access_token: Option<AccessToken>,
    pub instance_url: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub refresh_at: DateTime<Utc>,
    /// Increases with every new access token; lets a waiter see that a refresh landed.
    pub token_version: i64,
    pub next_retry_at: Option<DateTime<Utc>>,
    pub failed_connector_generation: Option<i64>,
}

/// Filters of `GET /v1/connections`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionFilter {
    pub status: Option<ConnectionStatus>,
    pub connector: Option<ConnectorName>,
    pub end_user_id: Option<EndUserId>,
}

/// The outcome of a failed refresh, to be written together.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureUpdate {
    pub status: ConnectionStatus,
    pub status_reason: String,
    pub diagnosis: Option<serde_json::Value>,
    pub refresh_failures: i32,
    pub next_retry_at: Option<DateTime<Utc>>,
    pub failed_connector_generation: Option<i64>,
}

/// An entry of a connection's history, as appended.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub connection_id: ConnectionId,
    pub workspace_id: WorkspaceId,
    pub at: DateTime<Utc>,
    /// `connected`, `refreshed`, `refresh_failed`, `status_changed`, `reconnected`, `checked`,
    /// `revoked`, `proxy_unauthorized`.
    pub kind: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// Human-readable, never a secret.
    pub detail: String,
    pub provider_error: Option<serde_json::Value>,
}

/// A stored history entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub seq: i64,
    pub event: NewEvent,
}
