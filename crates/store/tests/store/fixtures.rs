//! Shared test data: a fixed clock origin, builders for every record the store keeps, and the
//! few protocol steps tests use to put a connection in a given state.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use tether_core::cause::Cause;
use tether_core::diagnosis::{Confidence, Diagnosis, Step};
use tether_core::event::{EventKind, Outcome};
use tether_core::ids::{
    ConnectSessionId, ConnectionId, ConnectorName, EndUserId, WorkspaceId, WorkspaceName,
};
use tether_core::instance::InstanceUrl;
use tether_core::refresh::{Grant, ProviderError};
use tether_core::secret::{AccessToken, ClientSecret, PkceVerifier, RefreshToken};
use tether_core::status::ConnectionStatus;
use tether_store::{
    Account, AttemptStart, ConnectSession, Connection, ConnectorInput, ConsumeOutcome,
    CurrentToken, Event, FailureUpdate, Landing, NewConnection, NewEvent, PageRequest,
    RefreshOutcome, Store, TokenSet,
};

/// Opens (and migrates) the same database each time, under the keys (`K`) given: how the
/// claims that span reopenings reach the backend under test (`|keys| db.open(keys)`).
pub trait Open<K> {
    fn open(&self, keys: K) -> impl Future<Output = Arc<dyn Store>>;
}

impl<K, F, Fut> Open<K> for F
where
    F: Fn(K) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    fn open(&self, keys: K) -> impl Future<Output = Arc<dyn Store>> {
        self(keys)
    }
}

/// A fixed instant with millisecond precision (what the store keeps).
pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_700_000_000_123).unwrap()
}

/// `t0` plus `seconds`.
pub fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

pub async fn workspace(store: &Arc<dyn Store>, name: &str) -> WorkspaceId {
    let name = WorkspaceName::parse(name).unwrap();
    store.ensure_workspace(&name, t0()).await.unwrap().id
}

pub fn connector_name(name: &str) -> ConnectorName {
    ConnectorName::parse(name).unwrap()
}

pub fn end_user(id: &str) -> EndUserId {
    EndUserId::parse(id).unwrap()
}

pub fn connector_input(secret: &str) -> ConnectorInput {
    ConnectorInput {
        provider: "salesforce".to_owned(),
        grant: Grant::AuthorizationCode,
        client_id: "3MVG9-client".to_owned(),
        client_secret: Some(ClientSecret::new(secret)),
        allowed_usernames: None,
        login_url: "https://login.salesforce.com".to_owned(),
        scopes: vec!["api".to_owned(), "refresh_token".to_owned()],
        session_timeout_seconds: Some(7200),
        refresh_token_policy: Some(serde_json::json!({"kind": "valid_until_revoked"})),
    }
}

pub fn instance_url(raw: &str) -> InstanceUrl {
    InstanceUrl::parse(raw).unwrap()
}

pub fn account() -> Account {
    Account {
        instance_url: instance_url("https://na1.example.my.salesforce.com"),
        org_id: "00D000000000001".to_owned(),
        user_id: "005000000000001".to_owned(),
        username: "ada@example.com".to_owned(),
    }
}

/// Tokens issued at `issued`, valid two hours, refreshed after 100 minutes, naming the
/// account's instance.
pub fn tokens(access: &str, refresh: Option<&str>, issued: DateTime<Utc>) -> TokenSet {
    TokenSet {
        access_token: AccessToken::new(access),
        refresh_token: refresh.map(RefreshToken::new),
        issued_at: issued,
        expires_at: issued + Duration::hours(2),
        refresh_at: issued + Duration::minutes(100),
        instance_url: Some(account().instance_url),
    }
}

pub fn new_connection(workspace: &WorkspaceId, connector: &str, user: &str) -> NewConnection {
    NewConnection {
        id: ConnectionId::generate(),
        workspace_id: workspace.clone(),
        connector: connector_name(connector),
        provider: "salesforce".to_owned(),
        end_user_id: end_user(user),
        account: account(),
        scopes: vec!["api".to_owned(), "refresh_token".to_owned()],
        tokens: tokens("access-1", Some("refresh-1"), t0()),
        created_at: t0(),
    }
}

/// The `connected` event of a connection being created.
pub fn connected(new: &NewConnection) -> NewEvent {
    NewEvent {
        connection_id: new.id.clone(),
        workspace_id: new.workspace_id.clone(),
        at: new.created_at,
        kind: EventKind::Connected,
        outcome: Outcome::Success,
        detail: format!("connected {}", new.account.username),
        provider_error: None,
    }
}

/// Stores `new` with its `connected` event.
pub async fn insert(store: &Arc<dyn Store>, new: &NewConnection) -> Connection {
    store.insert_connection(new, &connected(new)).await.unwrap()
}

/// Inserts a fresh connection of `workspace` (connector `salesforce`, end user `u-1`).
pub async fn connection(store: &Arc<dyn Store>, workspace: &WorkspaceId) -> Connection {
    insert(store, &new_connection(workspace, "salesforce", "u-1")).await
}

/// A workspace `acme` with one fresh connection (see [`connection`]).
pub async fn acme_connection(store: &Arc<dyn Store>) -> (WorkspaceId, Connection) {
    let ws = workspace(store, "acme").await;
    let conn = connection(store, &ws).await;
    (ws, conn)
}

/// The current token of `connection`, which exists.
pub async fn current(store: &Arc<dyn Store>, connection: &Connection) -> CurrentToken {
    store
        .current_token(&connection.workspace_id, &connection.id)
        .await
        .unwrap()
        .unwrap()
}

/// The refresh token stored for `connection`.
pub async fn stored_refresh_token(
    store: &Arc<dyn Store>,
    connection: &Connection,
) -> Option<RefreshToken> {
    store
        .refresh_token(&connection.workspace_id, &connection.id)
        .await
        .unwrap()
}

/// An event of `connection` at `t0() + second`.
pub fn event(connection: &Connection, second: i64, kind: EventKind) -> NewEvent {
    let outcome = match kind {
        EventKind::RefreshFailed => Outcome::Failure,
        EventKind::LifetimeWarning => Outcome::Warning,
        _ => Outcome::Success,
    };
    let provider_error = (kind == EventKind::RefreshFailed)
        .then(|| ProviderError::new("invalid_grant", "expired access/refresh token"));
    NewEvent::of(
        connection,
        at(second),
        kind,
        outcome,
        format!("{kind} at {second}"),
    )
    .with_provider_error(provider_error)
}

/// Appends the event of `connection` at `t0() + second` (see [`event`]).
pub async fn append(
    store: &Arc<dyn Store>,
    connection: &Connection,
    second: i64,
    kind: EventKind,
) -> Event {
    store
        .append_event(&event(connection, second, kind))
        .await
        .unwrap()
}

/// The first 1,000 events of connection `id` as `workspace` sees it, newest first.
pub async fn events_of(
    store: &Arc<dyn Store>,
    workspace: &WorkspaceId,
    id: &ConnectionId,
) -> Vec<Event> {
    let page = store
        .list_events(workspace, id, &PageRequest::first(1_000))
        .await
        .unwrap();
    assert_eq!(page.next, None, "more than 1,000 events");
    page.events
}

/// Every event of `connection`, oldest first.
pub async fn history(store: &Arc<dyn Store>, connection: &Connection) -> Vec<NewEvent> {
    let mut events = events_of(store, &connection.workspace_id, &connection.id).await;
    events.reverse();
    events.into_iter().map(|e| e.event).collect()
}

/// The kinds of `connection`'s events, oldest first.
pub async fn kinds(store: &Arc<dyn Store>, connection: &Connection) -> Vec<EventKind> {
    history(store, connection)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// A diagnosis of `cause`, as the engine would write it.
pub fn diagnosis(cause: Cause) -> Diagnosis {
    Diagnosis {
        cause,
        confidence: Confidence::Likely,
        title: format!("{cause} suspected"),
        evidence: vec!["the provider timed out twice".to_owned()],
        steps: vec![Step {
            title: "Wait".to_owned(),
            detail: "tether retries with backoff".to_owned(),
        }],
        provider_error: None,
        observation: None,
        inferred_policy: None,
    }
}

/// A failure outcome with the given status and retry time.
pub fn failure(status: ConnectionStatus, next_retry_at: Option<DateTime<Utc>>) -> FailureUpdate {
    FailureUpdate {
        status,
        cause: Cause::ProviderUnavailable,
        diagnosis: Some(diagnosis(Cause::ProviderUnavailable)),
        refresh_failures: 2,
        next_retry_at,
        failed_connector_generation: Some(3),
        unanswered: false,
        salvaged_refresh_token: None,
    }
}

/// A lease long enough never to lapse during a test.
pub const LONG_LEASE: StdDuration = StdDuration::from_secs(60);

/// The current token version of `connection`.
pub async fn version(store: &Arc<dyn Store>, connection: &Connection) -> i64 {
    current(store, connection).await.token_version
}

/// A landing of `outcome` with `events` and no evidence.
pub fn landing(outcome: RefreshOutcome, events: &[NewEvent]) -> Landing {
    Landing {
        outcome,
        events: events.to_vec(),
        evidence: None,
    }
}

/// Runs one whole attempt on `connection` through the protocol (lease and record taken at
/// the current version, outcome landed with `events`); asserts that it landed.
pub async fn land(
    store: &Arc<dyn Store>,
    connection: &Connection,
    outcome: RefreshOutcome,
    events: &[NewEvent],
) {
    let (ws, id) = (&connection.workspace_id, &connection.id);
    let version = version(store, connection).await;
    let start = store
        .begin_attempt(ws, id, "fixture", version, LONG_LEASE)
        .await
        .unwrap();
    assert!(matches!(start, AttemptStart::Started { .. }), "{start:?}");
    let landed = store
        .land_refresh(ws, id, "fixture", version, &landing(outcome, events))
        .await
        .unwrap();
    assert!(landed, "the fixture's attempt lands");
}

/// Lands `update` on `connection` through a whole attempt, without events.
pub async fn fail(store: &Arc<dyn Store>, connection: &Connection, update: FailureUpdate) {
    land(store, connection, RefreshOutcome::Failed(update), &[]).await;
}

/// Lands a successful refresh of `connection` (no rotation) at `now`, without events.
pub async fn refresh(store: &Arc<dyn Store>, connection: &Connection, now: DateTime<Utc>) {
    let outcome = RefreshOutcome::Refreshed {
        tokens: tokens("access-refreshed", None, now),
        now,
    };
    land(store, connection, outcome, &[]).await;
}

pub fn session(workspace: &WorkspaceId, state: u8, expires: DateTime<Utc>) -> ConnectSession {
    ConnectSession {
        id: ConnectSessionId::generate(),
        workspace_id: workspace.clone(),
        connector: connector_name("salesforce"),
        end_user_id: end_user("u-1"),
        redirect_to: Some("https://app.example/done".to_owned()),
        state_sha256: [state; 32],
        pkce_verifier: PkceVerifier::new(format!("verifier-{state}")),
        reconnect_of: None,
        allow_different_account: false,
        created_at: t0(),
        expires_at: expires,
    }
}

/// Stores, in a workspace `acme`, a connect session of `state` expiring at `at(900)`.
pub async fn pending_session(store: &Arc<dyn Store>, state: u8) -> ConnectSession {
    let ws = workspace(store, "acme").await;
    let pending = session(&ws, state, at(900));
    store.insert_connect_session(&pending).await.unwrap();
    pending
}

/// Consumes the connect session of `state` at `at(second)`.
pub async fn consume(store: &Arc<dyn Store>, state: u8, second: i64) -> ConsumeOutcome {
    store
        .consume_connect_session(&[state; 32], at(second))
        .await
        .unwrap()
}

/// A scheduler instance's claim on due jobs, held for an hour.
pub fn claim(owner: &str) -> tether_store::Claim {
    tether_store::Claim {
        owner: owner.to_owned(),
        length: std::time::Duration::from_secs(3_600),
    }
}
