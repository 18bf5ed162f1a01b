//! The records the store keeps, as plain Rust values with secrets already decrypted.
//!
//! Secrets appear here only as `tether_core::secret` types; they are encrypted on the way into
//! the database and decrypted on the way out, inside the backend.

use chrono::{DateTime, Utc};
use tether_core::cause::Cause;
use tether_core::diagnosis::{Diagnosis, Observation, PolicyEvidence};
use tether_core::event::{EventKind, Outcome};
use tether_core::ids::{
    ApiKeyId, ConnectSessionId, ConnectionId, ConnectorName, EndUserId, EventId, WorkspaceId,
    WorkspaceName,
};
use tether_core::instance::InstanceUrl;
use tether_core::refresh::{Grant, ProviderError};
use tether_core::secret::{AccessToken, ClientSecret, PkceVerifier, PrivateKeyPem, RefreshToken};
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
    /// How the connector's connections get their access tokens.
    pub grant: Grant,
    pub client_id: String,
    /// Required except for the JWT bearer grant.
    pub client_secret: Option<ClientSecret>,
    /// JWT bearer only: the Salesforce usernames a connection may be made for (`None`:
    /// anyone the Connected App pre-authorizes).
    pub allowed_usernames: Option<Vec<String>>,
    pub login_url: String,
    pub scopes: Vec<String>,
    /// The admin's hint of the Connected App's session timeout.
    pub session_timeout_seconds: Option<i64>,
    /// The admin's hint of the refresh-token policy, in the sandbox's JSON shape.
    pub refresh_token_policy: Option<serde_json::Value>,
}

/// A key pair that signs a connector's JWT bearer assertions: the RSA private key (sealed in
/// the database) and the self-signed certificate of its public key, which the Connected App
/// holds ("Use digital signatures").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtKeyPair {
    pub private_key: PrivateKeyPem,
    pub certificate_pem: String,
}

/// A JWT bearer connector's keys: the one that signs, and the one a rotation made and the
/// admin has yet to upload (a Connected App holds one certificate at a time).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwtKeys {
    pub active: Option<JwtKeyPair>,
    pub pending: Option<JwtKeyPair>,
}

/// A stored connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connector {
    pub workspace_id: WorkspaceId,
    pub name: ConnectorName,
    pub input: ConnectorInput,
    /// Set for a JWT bearer connector; kept across every change that keeps that grant.
    pub keys: JwtKeys,
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

/// A sign-in to the connectors page, known by the SHA-256 of its cookie's nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSession {
    pub nonce_sha256: [u8; 32],
    pub workspace_id: WorkspaceId,
    pub created_at: DateTime<Utc>,
    /// When the sign-in stops being valid.
    pub expires_at: DateTime<Utc>,
}

/// The provider account behind a connection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Account {
    pub instance_url: InstanceUrl,
    pub org_id: String,
    pub user_id: String,
    pub username: String,
}

/// Tokens obtained from the provider. Every time here is on tether's clock except
/// `issued_at`, which is the provider's and kept as evidence only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSet {
    pub access_token: AccessToken,
    /// `None` on a refresh without rotation: the stored refresh token is kept.
    pub refresh_token: Option<RefreshToken>,
    /// The provider's `issued_at` (its clock), or tether's when it sent none.
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When tether stops serving the access token and refreshes (before `expires_at`).
    pub refresh_at: DateTime<Utc>,
    /// The instance URL the provider named in this answer (it can move); `None` keeps the
    /// stored one (an answer whose `instance_url` was unusable).
    pub instance_url: Option<InstanceUrl>,
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

/// A stored connection, without its secrets. (Serializable: the webhooks' outbox keeps it as
/// it was when an event was raised.)
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Connection {
    pub id: ConnectionId,
    pub workspace_id: WorkspaceId,
    pub connector: ConnectorName,
    pub provider: String,
    pub end_user_id: EndUserId,
    pub status: ConnectionStatus,
    /// Why the connection is not active (or, on an active one, why its API calls fail).
    pub status_reason: Option<Cause>,
    pub diagnosis: Option<Diagnosis>,
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
    /// When the last refresh attempt that may have reached the provider ended without an
    /// answer tether could use (a crash, or a timeout after sending); cleared by the next
    /// refresh that works.
    pub unanswered_attempt_at: Option<DateTime<Utc>>,
    /// The provider has rotated this connection's refresh token at least once.
    pub rotation_seen: bool,
    /// When the lifetime warning of the current approval was recorded.
    pub lifetime_warned_at: Option<DateTime<Utc>>,
}

/// The one-read answer of the token fast path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentToken {
    pub connection_id: ConnectionId,
    pub status: ConnectionStatus,
    /// Why the connection is not active, if it is not.
    pub status_reason: Option<Cause>,
    /// `None` once disconnected.
    pub access_token: Option<AccessToken>,
    pub instance_url: InstanceUrl,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub refresh_at: DateTime<Utc>,
    /// Increases with every new access token; lets a waiter see that a refresh landed.
    pub token_version: i64,
    /// When tether last refreshed the token (its own clock).
    pub refreshed_at: Option<DateTime<Utc>>,
    pub next_retry_at: Option<DateTime<Utc>>,
    pub failed_connector_generation: Option<i64>,
}

/// A scheduler instance's claim on due background jobs: who, and for how long (by the
/// database's clock). The owner should be unique per process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub owner: String,
    pub length: std::time::Duration,
}

/// Filters of `GET /v1/connections`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionFilter {
    pub status: Option<ConnectionStatus>,
    pub connector: Option<ConnectorName>,
    pub end_user_id: Option<EndUserId>,
}

/// A place in the listing order of connections (newest first: `created_at` descending, then
/// `id` descending): the last connection of a page. The next page starts after it, so rows
/// inserted or changed meanwhile never shift what comes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionCursor {
    pub created_at: DateTime<Utc>,
    pub id: ConnectionId,
}

impl ConnectionCursor {
    /// The place of `connection`.
    pub fn of(connection: &Connection) -> Self {
        Self {
            created_at: connection.created_at,
            id: connection.id.clone(),
        }
    }
}

/// Which page of a listing to read: the one after `after` (from the first when `None`), of
/// at most `limit` items. A page's `next` is the `after` of the page that follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<C> {
    pub after: Option<C>,
    pub limit: i64,
}

impl<C> PageRequest<C> {
    /// The first page, of at most `limit` items.
    pub fn first(limit: i64) -> Self {
        Self { after: None, limit }
    }

    /// How many rows to read: one more than the page holds, to learn whether a next page
    /// exists without counting.
    pub fn rows_to_read(&self) -> i64 {
        self.limit.saturating_add(1)
    }

    /// The page made of `rows` (read with [`PageRequest::rows_to_read`]), and where the next
    /// one starts (`place` of the page's last item) when more rows were found than it holds.
    pub fn split<T>(&self, mut rows: Vec<T>, place: impl Fn(&T) -> C) -> (Vec<T>, Option<C>) {
        let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > self.limit;
        rows.truncate(usize::try_from(self.limit).unwrap_or(0));
        let next = more.then(|| rows.last().map(place)).flatten();
        (rows, next)
    }
}

/// One page of connections, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionPage {
    pub connections: Vec<Connection>,
    /// Where the next page starts; `None` when this page is the last.
    pub next: Option<ConnectionCursor>,
}

/// How many connections of a workspace use `connector` and are in `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionCount {
    pub connector: ConnectorName,
    pub status: ConnectionStatus,
    pub count: i64,
}

/// The outcome of a failed refresh, to be written together.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureUpdate {
    pub status: ConnectionStatus,
    pub cause: Cause,
    pub diagnosis: Option<Diagnosis>,
    pub refresh_failures: i32,
    pub next_retry_at: Option<DateTime<Utc>>,
    pub failed_connector_generation: Option<i64>,
    /// The attempt may have reached the provider and no usable answer came back (a timeout
    /// after sending): remembered, since under rotation it may have carried the only valid
    /// refresh token.
    pub unanswered: bool,
    /// A new refresh token carried by an answer that was otherwise unusable: saved, since the
    /// provider may already have retired the old one.
    pub salvaged_refresh_token: Option<RefreshToken>,
}

/// What a refresh attempt lands.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshOutcome {
    /// New tokens: active again, failures cleared, `token_version` bumped.
    Refreshed {
        tokens: TokenSet,
        now: DateTime<Utc>,
    },
    /// The refresh failed.
    Failed(FailureUpdate),
}

/// Everything a refresh needs, read at once: the connection, its current token and refresh
/// token (as of one `token_version`), its connector and what tether has learned about the
/// connector's refresh-token policy.
#[derive(Debug, Clone)]
pub struct RefreshContext {
    pub connection: Connection,
    pub token: CurrentToken,
    /// `None` once disconnected.
    pub refresh_token: Option<RefreshToken>,
    pub connector: Connector,
    pub evidence: PolicyEvidence,
}

/// How a refresh's outcome changes the connector's policy evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceChange {
    /// A refresh token unused for `gap_seconds`, aged `age_seconds`, was accepted.
    Survived { gap_seconds: i64, age_seconds: i64 },
    /// A refresh token died with no named cause.
    Died(Observation),
}

impl EvidenceChange {
    /// Applies the change.
    pub fn apply(self, evidence: &mut PolicyEvidence) {
        match self {
            EvidenceChange::Survived {
                gap_seconds,
                age_seconds,
            } => evidence.survived(gap_seconds, age_seconds),
            EvidenceChange::Died(observation) => evidence.died(&observation),
        }
    }
}

/// Everything one reconnect writes, in one transaction: the account and scopes the user
/// approved, the tokens they brought, when, and the events that say so.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconnect {
    pub account: Account,
    pub scopes: Vec<String>,
    pub tokens: TokenSet,
    pub now: DateTime<Utc>,
    pub events: Vec<NewEvent>,
}

/// Everything one refresh attempt lands, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Landing {
    pub outcome: RefreshOutcome,
    pub events: Vec<NewEvent>,
    /// The change to the evidence of the connection's connector (named here).
    pub evidence: Option<(ConnectorName, EvidenceChange)>,
}

/// What taking a refresh lease found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptStart {
    /// The lease is this process's and the attempt is recorded. `unanswered_since` is when an
    /// earlier attempt on this refresh token started that may have reached the provider and
    /// never landed (its process died or stalled past its lease, or its answer never came):
    /// under rotation that attempt may have carried the only valid refresh token.
    Started {
        unanswered_since: Option<DateTime<Utc>>,
    },
    /// Another process holds a live lease.
    Held,
    /// The token moved on (another refresh or a reconnect landed), or the connection no
    /// longer takes refreshes.
    Moved,
}

/// An entry of a connection's history, as appended.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub connection_id: ConnectionId,
    pub workspace_id: WorkspaceId,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    pub outcome: Outcome,
    /// Human-readable, never a secret.
    pub detail: String,
    pub provider_error: Option<ProviderError>,
}

impl NewEvent {
    /// An event of `connection`.
    pub fn of(
        connection: &Connection,
        at: DateTime<Utc>,
        kind: EventKind,
        outcome: Outcome,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            connection_id: connection.id.clone(),
            workspace_id: connection.workspace_id.clone(),
            at,
            kind,
            outcome,
            detail: detail.into(),
            provider_error: None,
        }
    }

    /// The same event, carrying the provider's error.
    pub fn with_provider_error(mut self, error: Option<ProviderError>) -> Self {
        self.provider_error = error;
        self
    }
}

/// A stored history entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub seq: i64,
    pub event: NewEvent,
}

/// A place in a history listed newest first, the reverse of the order it was written in (a
/// connection's events, a webhook's deliveries): the `seq` of the last item of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqCursor {
    pub seq: i64,
}

/// One page of a connection's history, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// Where the next page starts; `None` when this page is the last.
    pub next: Option<SeqCursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_has_a_next_only_when_more_rows_were_read_than_it_holds() {
        let request = PageRequest::<i32>::first(3);
        assert_eq!(request.rows_to_read(), 4);
        assert_eq!(
            request.split(vec![9, 8, 7, 6], |n| *n),
            (vec![9, 8, 7], Some(7))
        );
        assert_eq!(request.split(vec![9, 8, 7], |n| *n), (vec![9, 8, 7], None));
        assert_eq!(request.split(vec![9], |n| *n), (vec![9], None));
        assert_eq!(request.split(Vec::new(), |n: &i32| *n), (Vec::new(), None));
    }
}
