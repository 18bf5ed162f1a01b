//! The store's contract, one narrow trait per aggregate. [`SqlStore`](crate::SqlStore)
//! implements each in the module that owns its tables; callers hold an `Arc<dyn Store>`, the
//! sum of them all.
//!
//! Every method is atomic on its own. Every method that touches a connection takes its
//! workspace and filters by it in SQL, so tenant isolation never rests on the caller having
//! checked first. Events that describe a state change are written in the same transaction as
//! the change.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tether_core::diagnosis::{Diagnosis, PolicyEvidence};
use tether_core::ids::{
    ApiKeyId, ConnectSessionId, ConnectionId, ConnectorName, WebhookId, WorkspaceId, WorkspaceName,
};
use tether_core::secret::{RefreshToken, SigningSecret, WebhookSecret};
use tether_core::status::ConnectionStatus;

use crate::crypto::{KeyId, KeyIds, Keys};
use crate::keys::{KeyCheck, MasterKeyRecord, ReencryptBatch, SealedCount, SealedCursor};
use crate::{
    ApiKeyRecord, AttemptStart, Claim, ConnectSession, Connection, ConnectionCount,
    ConnectionCursor, ConnectionFilter, ConnectionPage, Connector, ConnectorInput, ConsumeOutcome,
    CurrentToken, Event, EventPage, JwtKeyPair, Landing, NewConnection, NewEvent, PageRequest,
    PageSession, Reconnect, RefreshContext, SeqCursor, StoreResult, TokenSet, Workspace,
};
use crate::{Attempt, AttemptRecorded, DeliveryPage, DueDelivery, NewWebhook, Webhook};

/// Running the database itself.
#[async_trait]
pub trait Admin: Send + Sync {
    /// Applies pending schema migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Answers when the database does (readiness).
    async fn ping(&self) -> StoreResult<()>;
    /// Closes the database connections once those in use are returned (SQLite then
    /// checkpoints its write-ahead log into the database file). Later calls fail.
    async fn close(&self);
}

/// The master keys the database is sealed under (`crate::keys`): which it records, whether
/// the keyring holds them, and the steps of a rotation that running processes survive (add
/// a key, make it primary, re-encrypt in batches, retire the old one).
#[async_trait]
pub trait MasterKeys: Send + Sync {
    /// Compares the keyring with the master keys the database records: every key values may
    /// be sealed under (the primary and previous ones) must be held and open its canary; a
    /// key not held is looked for once more in the keyring's source. A database written before
    /// keys were recorded first has the keys its values name recorded (the keyring's primary
    /// as primary), if the keyring holds them all. New values are then sealed under the
    /// database's primary. Otherwise writes nothing: cheap enough for a readiness probe.
    async fn check_master_keys(&self) -> StoreResult<KeyCheck>;
    /// Records the keyring's primary, with its canary, as the primary of a database that
    /// records none (nothing when another process recorded one first), then checks.
    async fn init_master_key(&self) -> StoreResult<KeyCheck>;
    /// Reads the keyring's source again (SIGHUP), adding the keys it holds; the ids held
    /// afterwards, or why it could not be read (a keyring without a source cannot change).
    fn reload_keyring(&self) -> Result<KeyIds, String>;
    /// Replaces the keyring and its source (after a command wrote a new keyring).
    fn use_keys(&self, keys: Keys);
    /// The ids of the keys held, the one that seals first.
    fn held_keys(&self) -> KeyIds;
    /// Every master key the database records, oldest change first.
    async fn master_keys(&self) -> StoreResult<Vec<MasterKeyRecord>>;
    /// How many values are sealed under each key id, over every sealed column.
    async fn sealed_counts(&self) -> StoreResult<Vec<SealedCount>>;
    /// Records a held key as pending, with its canary (nothing if it is recorded already).
    async fn add_master_key(&self, id: KeyId) -> StoreResult<()>;
    /// Makes a held, recorded key the primary; the primary before it becomes previous. Every
    /// process follows within its next check.
    async fn promote_master_key(&self, id: KeyId) -> StoreResult<()>;
    /// Re-seals under the primary up to `limit` values from `from` on, in one short
    /// transaction of its own.
    async fn reencrypt_batch(&self, from: &SealedCursor, limit: u32)
    -> StoreResult<ReencryptBatch>;
    /// Marks a key retired (erasing its canary) once nothing is sealed under it and, for a
    /// former primary, once the primary has been primary for `settle`.
    async fn retire_master_key(&self, id: KeyId, settle: Duration) -> StoreResult<()>;

    /// Re-seals every value not under the primary, batch after batch; how many.
    async fn reencrypt_all(&self) -> StoreResult<u64> {
        let mut cursor = SealedCursor::default();
        let mut resealed = 0;
        loop {
            let batch = self.reencrypt_batch(&cursor, 200).await?;
            resealed += batch.resealed;
            match batch.next {
                Some(next) => cursor = next,
                None => return Ok(resealed),
            }
        }
    }
}

/// Secrets that sign what tether hands to browsers, shared by every process on the database.
#[async_trait]
pub trait SigningKeys: Send + Sync {
    /// The signing secret named `name`, made (32 random bytes) the first time any process
    /// asks, and the same for every process after that.
    async fn signing_key(&self, name: &str) -> StoreResult<SigningSecret>;
}

/// Tenants and their API keys.
#[async_trait]
pub trait Workspaces: Send + Sync {
    /// The workspace of this name, created if missing.
    async fn ensure_workspace(
        &self,
        name: &WorkspaceName,
        now: DateTime<Utc>,
    ) -> StoreResult<Workspace>;
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()>;
    async fn find_api_key(&self, id: &ApiKeyId) -> StoreResult<Option<ApiKeyRecord>>;
}

/// What deleting a connector did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorDeletion {
    Deleted,
    NotFound,
    /// Refused: this many connections that are not disconnected still use it.
    InUse(i64),
}

/// The app credentials a workspace registers with a provider.
#[async_trait]
pub trait Connectors: Send + Sync {
    /// Creates or replaces a connector; bumps its generation. A connector that is and stays a
    /// JWT bearer connector keeps its keys; one that becomes one takes `new_key` as its
    /// signing key (a connector of another grant keeps no key).
    async fn put_connector(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
        input: &ConnectorInput,
        new_key: Option<&JwtKeyPair>,
        now: DateTime<Utc>,
    ) -> StoreResult<Connector>;
    /// [`Connectors::put_connector`] without a new key.
    async fn upsert_connector(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
        input: &ConnectorInput,
        now: DateTime<Utc>,
    ) -> StoreResult<Connector> {
        self.put_connector(workspace, name, input, None, now).await
    }
    /// Stores `key` as the pending key of a JWT bearer connector (replacing an earlier
    /// pending one); `None` when there is no such JWT bearer connector.
    async fn set_pending_jwt_key(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
        key: &JwtKeyPair,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Connector>>;
    /// Makes the pending key of a JWT bearer connector its signing key (the old one is
    /// erased) and bumps its generation; `None` when there is no such connector or it has no
    /// pending key.
    async fn activate_pending_jwt_key(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Connector>>;
    async fn get_connector(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
    ) -> StoreResult<Option<Connector>>;
    async fn list_connectors(&self, workspace: &WorkspaceId) -> StoreResult<Vec<Connector>>;
    /// What tether has learned about the connector's refresh-token policy (empty when
    /// nothing yet; reset when the connector's declared policy changes).
    async fn connector_evidence(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
    ) -> StoreResult<PolicyEvidence>;
    /// Deletes a connector no live connection uses, in one statement.
    async fn delete_connector(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
    ) -> StoreResult<ConnectorDeletion>;
}

/// Pending connect and reconnect flows.
#[async_trait]
pub trait ConnectSessions: Send + Sync {
    async fn insert_connect_session(&self, session: &ConnectSession) -> StoreResult<()>;
    async fn get_connect_session(
        &self,
        id: &ConnectSessionId,
    ) -> StoreResult<Option<ConnectSession>>;
    /// Marks the session with this state used, exactly once, if it has not expired at `now`.
    async fn consume_connect_session(
        &self,
        state_sha256: &[u8; 32],
        now: DateTime<Utc>,
    ) -> StoreResult<ConsumeOutcome>;
    /// Deletes at most `limit` connect sessions that expired before `before`; how many.
    async fn purge_connect_sessions(&self, before: DateTime<Utc>, limit: i64) -> StoreResult<u64>;
}

/// A connector whose known idle limit asks for keep-alives more often than the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorKeepalive {
    pub workspace: WorkspaceId,
    pub connector: ConnectorName,
    /// How often its idle refresh tokens are used (`tether_core::keepalive::interval`).
    pub every: Duration,
}

/// When background jobs fall due, so the scheduler sleeps until the earliest instead of
/// ticking; and the keep-alive of connectors with an idle limit of their own. Every query
/// reads an index; none costs what is stored.
#[async_trait]
pub trait DueJobs: Send + Sync {
    /// Connectors whose keep-alive interval is shorter than `default`.
    async fn short_keepalive_connectors(
        &self,
        default: Duration,
    ) -> StoreResult<Vec<ConnectorKeepalive>>;
    /// Claims, for `claim`, at most `limit` active connections of `connector` whose refresh
    /// token was last used before `before` (oldest first).
    async fn idle_connections_of(
        &self,
        connector: &ConnectorKeepalive,
        before: DateTime<Utc>,
        claim: &Claim,
        limit: i64,
    ) -> StoreResult<Vec<(WorkspaceId, ConnectionId)>>;
    /// The earliest time an unclaimed job falls due: a keep-alive (after `default`, or the
    /// connector's own interval), a retry or a recheck, or a webhook delivery; `None` when
    /// nothing is scheduled.
    async fn earliest_due(&self, default: Duration) -> StoreResult<Option<DateTime<Utc>>>;
    /// When the oldest event still waiting in the webhooks' outbox happened; `None` when
    /// nothing is pending.
    async fn oldest_pending_delivery(&self) -> StoreResult<Option<DateTime<Utc>>>;
}

/// What one [`Events::cap_events`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCap {
    /// Events deleted.
    pub deleted: u64,
    /// Every connection with events since the given time was capped (none left for later).
    pub complete: bool,
}

/// Sign-ins to the connectors page, each known by the SHA-256 of its cookie's nonce: a
/// session is valid only while its row exists, so signing out ends it on every instance.
#[async_trait]
pub trait PageSessions: Send + Sync {
    /// Records a new sign-in (valid until its `expires_at`).
    async fn insert_page_session(&self, session: &PageSession) -> StoreResult<()>;
    /// Whether the sign-in is recorded for `workspace` and has not expired at `now`.
    async fn page_session_live(
        &self,
        nonce_sha256: &[u8; 32],
        workspace: &WorkspaceId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Ends the sign-in (sign-out); the workspace's other sessions go on.
    async fn end_page_session(&self, nonce_sha256: &[u8; 32]) -> StoreResult<()>;
    /// Deletes at most `limit` sessions that expired before `before`; how many.
    async fn purge_page_sessions(&self, before: DateTime<Utc>, limit: i64) -> StoreResult<u64>;
}

/// One use of a connection's token, for the batched `last_used_at` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastUse {
    pub workspace: WorkspaceId,
    pub id: ConnectionId,
    pub at: DateTime<Utc>,
}

/// Connections: an end user's link to a provider account and its current tokens.
#[async_trait]
pub trait Connections: Send + Sync {
    /// Stores a new connection and its `connected` event.
    async fn insert_connection(
        &self,
        connection: &NewConnection,
        event: &NewEvent,
    ) -> StoreResult<Connection>;
    async fn get_connection(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
    ) -> StoreResult<Option<Connection>>;
    /// The requested page of connections matching `filter`, newest first (`created_at`, then
    /// `id`, both descending).
    /// Following `next` visits every connection that existed when the listing began exactly
    /// once, whatever is inserted meanwhile.
    async fn list_connections(
        &self,
        workspace: &WorkspaceId,
        filter: &ConnectionFilter,
        request: &PageRequest<ConnectionCursor>,
    ) -> StoreResult<ConnectionPage>;
    /// How many connections the workspace has, per connector and status (pairs with none are
    /// left out).
    async fn count_connections(&self, workspace: &WorkspaceId)
    -> StoreResult<Vec<ConnectionCount>>;
    /// How many connections the whole database has per status (statuses with none are left
    /// out), across workspaces: one indexed count, for the `tether_connections` gauge.
    async fn count_by_status(&self) -> StoreResult<Vec<(ConnectionStatus, i64)>>;
    /// How many other connections of `connection`'s connector for the same provider account
    /// (`org_id`, `user_id`) were approved after `after`: each is one more approval of the
    /// same user for the same app (Salesforce keeps five).
    async fn count_approvals_after(
        &self,
        connection: &Connection,
        after: DateTime<Utc>,
    ) -> StoreResult<i64>;
    /// The token fast path: one indexed read of the current access token and its expiry.
    async fn current_token(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
    ) -> StoreResult<Option<CurrentToken>>;
    /// The refresh token of a connection (`None` once disconnected), for revoking it.
    async fn refresh_token(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
    ) -> StoreResult<Option<RefreshToken>>;
    /// Replaces the tokens and account of a connection after a reconnect (active again,
    /// failures and any interrupted attempt cleared, a new approval), with its events, unless
    /// it was disconnected meanwhile; `true` when replaced.
    async fn replace_tokens(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        reconnect: &Reconnect,
    ) -> StoreResult<bool>;
    /// Notes on an active connection why its API calls fail although its tokens are fine
    /// (e.g. `api_disabled`): the diagnosis, and its cause as the status reason; the status
    /// stays `active`, and the next successful refresh clears the note. Does nothing to a
    /// connection that is not active.
    async fn annotate_connection(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        diagnosis: &Diagnosis,
    ) -> StoreResult<()>;
    /// Records when connections were last used (batched by the caller), never moving a time
    /// backwards.
    async fn touch_last_used(&self, uses: &[LastUse]) -> StoreResult<()>;
    /// Status `disconnected`, both tokens erased, with `event`; `false` when it already was.
    async fn disconnect(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        event: &NewEvent,
    ) -> StoreResult<bool>;
    /// Claims, for `claim`, at most `limit` connections (with their workspace) whose retry is
    /// due at `now` (degraded), whose recheck is due (expired for a recoverable cause: see
    /// `Cause::is_recoverable`), or that failed on a connector that has changed since; earliest
    /// due first. A connection another claim holds is skipped until that claim lapses.
    async fn due_for_retry(
        &self,
        now: DateTime<Utc>,
        claim: &Claim,
        limit: i64,
    ) -> StoreResult<Vec<(WorkspaceId, ConnectionId)>>;
    /// Claims, for `claim`, at most `limit` active connections whose refresh token has not
    /// been used since `before` (last refresh, else the approval), oldest first: the
    /// keep-alive's work. Served by an index on exactly that expression.
    async fn idle_connections(
        &self,
        before: DateTime<Utc>,
        claim: &Claim,
        limit: i64,
    ) -> StoreResult<Vec<(WorkspaceId, ConnectionId)>>;
    /// Ends `owner`'s claim on a connection once its job is done (a claim held by someone
    /// else is left alone). What was done is no longer due, so nobody claims it again.
    async fn release_claim(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        owner: &str,
    ) -> StoreResult<()>;
}

/// The durable refresh protocol on a connection row (ARCHITECTURE.md, "Durability"): read
/// everything at once, take the lease together with a write-ahead record of the attempt,
/// keep the lease alive while working, and land the outcome with its events, fenced by the
/// token version the attempt started from, in one transaction.
#[async_trait]
pub trait Refreshes: Send + Sync {
    /// The connection, its tokens and its connector, in one read.
    async fn refresh_context(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
    ) -> StoreResult<Option<RefreshContext>>;
    /// Takes the connection's lease for `owner` until the database's now + `lease`, and
    /// records the attempt, if the token is still at `version` and no live lease is held.
    async fn begin_attempt(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        owner: &str,
        version: i64,
        lease: Duration,
    ) -> StoreResult<AttemptStart>;
    /// Extends `owner`'s lease to the database's now + `lease`; `false` when `owner` no
    /// longer holds it.
    async fn renew_lease(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        owner: &str,
        lease: Duration,
    ) -> StoreResult<bool>;
    /// Lands an attempt's outcome, its events and its change to the connector's policy
    /// evidence, clears the attempt record and releases `owner`'s lease, in one transaction.
    /// The landing happens only if the token is still at `version` and the connection is not
    /// disconnected (`true`); otherwise only the lease is released and nothing else is
    /// written (`false`).
    async fn land_refresh(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        owner: &str,
        version: i64,
        landing: &Landing,
    ) -> StoreResult<bool>;
    /// Corrects the expiry of the token at `version` (learned after it landed, e.g. by
    /// introspection); `false` when the token has moved on.
    async fn adjust_expiry(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        version: i64,
        tokens: &TokenSet,
    ) -> StoreResult<bool>;
    /// Releases `owner`'s lease and clears its attempt record: the attempt ended before
    /// anything was sent to the provider.
    async fn abandon_attempt(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        owner: &str,
    ) -> StoreResult<()>;
}

/// Connection history.
#[async_trait]
pub trait Events: Send + Sync {
    /// Appends an event that describes no state change of its own (a check, a proxied 401).
    async fn append_event(&self, event: &NewEvent) -> StoreResult<Event>;
    /// Deletes at most `limit` events recorded before `before`, oldest first; how many.
    async fn purge_events(&self, before: DateTime<Utc>, limit: i64) -> StoreResult<u64>;
    /// Keeps only the newest `keep` events of each connection that recorded an event at or
    /// after `since` (at most `connections` of them, found by time, so the cost follows what
    /// happened, not what is stored); how many events were deleted and whether every such
    /// connection was looked at.
    async fn cap_events(
        &self,
        since: DateTime<Utc>,
        keep: i64,
        connections: i64,
    ) -> StoreResult<EventCap>;
    /// The requested page of a connection's history, newest first.
    async fn list_events(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        request: &PageRequest<SeqCursor>,
    ) -> StoreResult<EventPage>;
}

/// Webhooks and their durable outbox. A delivery is written for every enabled webhook that
/// wants an event, in the transaction of the change that raised it (`events::insert`), so
/// none is lost or invented by a crash; instances claim due deliveries so that each is sent
/// by one of them at a time.
#[async_trait]
pub trait Webhooks: Send + Sync {
    async fn insert_webhook(&self, webhook: &NewWebhook) -> StoreResult<Webhook>;
    /// Deletes at most `limit` finished deliveries (delivered or failed) of events that
    /// happened before `before`; how many. Pending ones stay whatever their age.
    async fn purge_deliveries(&self, before: DateTime<Utc>, limit: i64) -> StoreResult<u64>;
    /// The workspace's webhooks, oldest first.
    async fn list_webhooks(&self, workspace: &WorkspaceId) -> StoreResult<Vec<Webhook>>;
    async fn get_webhook(
        &self,
        workspace: &WorkspaceId,
        id: &WebhookId,
    ) -> StoreResult<Option<Webhook>>;
    /// Deletes a webhook and its deliveries; `false` when there was none.
    async fn delete_webhook(&self, workspace: &WorkspaceId, id: &WebhookId) -> StoreResult<bool>;
    /// Makes `secret` the current secret; the one it replaces still signs until
    /// `previous_until`. `false` when there is no such webhook.
    async fn rotate_webhook_secret(
        &self,
        workspace: &WorkspaceId,
        id: &WebhookId,
        secret: &WebhookSecret,
        previous_until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Enables a webhook again (its failure streak forgotten); `false` when there is none.
    async fn enable_webhook(&self, workspace: &WorkspaceId, id: &WebhookId) -> StoreResult<bool>;
    /// The requested page of a webhook's deliveries, newest first.
    async fn list_deliveries(
        &self,
        workspace: &WorkspaceId,
        webhook: &WebhookId,
        request: &PageRequest<SeqCursor>,
    ) -> StoreResult<DeliveryPage>;
    /// Claims, for `claim`, at most `limit` pending deliveries due at `now` (tether's clock)
    /// to enabled webhooks (a `webhook.disabled` event also goes to the webhook it disabled),
    /// earliest due first. A delivery another live claim holds is skipped.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        claim: &Claim,
        limit: i64,
    ) -> StoreResult<Vec<DueDelivery>>;
    /// Records an attempt of a delivery its owner still claims, and releases the claim; a
    /// failure also extends its webhook's failure streak, and disables the webhook when the
    /// streak reached [`DISABLE_AFTER`](tether_core::webhook::DISABLE_AFTER), writing a
    /// `webhook.disabled` event to the outbox in the same transaction.
    async fn record_attempt(&self, attempt: &Attempt) -> StoreResult<AttemptRecorded>;
}

/// Everything tether persists: the sum of the narrow traits.
pub trait Store:
    Admin
    + MasterKeys
    + SigningKeys
    + Workspaces
    + Connectors
    + ConnectSessions
    + PageSessions
    + DueJobs
    + Connections
    + Refreshes
    + Events
    + Webhooks
    + std::fmt::Debug
{
}

impl<T> Store for T where
    T: Admin
        + MasterKeys
        + SigningKeys
        + Workspaces
        + Connectors
        + ConnectSessions
        + PageSessions
        + DueJobs
        + Connections
        + Refreshes
        + Events
        + Webhooks
        + std::fmt::Debug
{
}
