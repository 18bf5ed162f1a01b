//! The token service: serve, or refresh once and serve, and classify what went wrong.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tether_core::clock::SharedClock;
use tether_core::ids::{ConnectionId, WorkspaceId, random_base62};
use tether_core::secret::AccessToken;
use tether_core::status::ConnectionStatus;
use tether_oauth::OAuthClient;
use tether_store::{CurrentToken, Store};

use super::cache::TokenCache;
use super::{SingleFlight, UsageTracker};
use crate::events::EventLog;

/// How often a caller waiting on another process's refresh looks again.
const LEASE_POLL: Duration = Duration::from_millis(25);

/// What the caller of the token endpoint asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    /// A token tether believes valid.
    Current,
    /// The caller's token was refused by the provider; refresh unless it is already replaced.
    Rejected(AccessToken),
    /// Refresh now (joining a refresh in flight).
    Force,
}

/// A token handed to a caller.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub access_token: AccessToken,
    pub instance_url: String,
    pub expires_at: DateTime<Utc>,
}

/// Why no token could be handed out.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenError {
    NotFound,
    Expired {
        status_reason: String,
        diagnosis: Option<Value>,
    },
    Disconnected,
    Unavailable {
        detail: String,
        retry_after_seconds: u64,
        status_reason: Option<String>,
        diagnosis: Option<Value>,
    },
    Internal(String),
}

impl From<tether_store::StoreError> for TokenError {
    fn from(err: tether_store::StoreError) -> Self {
        TokenError::Internal(err.to_string())
    }
}

pub(super) type RefreshResult = Result<CurrentToken, TokenError>;

/// Serves and refreshes tokens; one per process, shared through `AppState`.
#[derive(Debug)]
pub struct TokenService {
    pub(super) store: Arc<dyn Store>,
    pub(super) oauth: OAuthClient,
    pub(super) clock: SharedClock,
    pub(super) events: EventLog,
    usage: Arc<UsageTracker>,
    /// This process's lease owner name.
    pub(super) owner: String,
    pub(super) lease: Duration,
    flights: SingleFlight<ConnectionId, RefreshResult>,
    /// Recently read current tokens, so the fast path skips the database.
    pub(super) cache: TokenCache,
}

impl TokenService {
    /// A service whose refreshes hold the lease at most `lease`.
    pub fn new(
        store: Arc<dyn Store>,
        oauth: OAuthClient,
        clock: SharedClock,
        usage: Arc<UsageTracker>,
        lease: Duration,
    ) -> Self {
        let owner = format!("{}-{}", std::process::id(), random_base62(12));
        let events = EventLog::new(store.clone());
        Self {
            store,
            oauth,
            clock,
            events,
            usage,
            owner,
            lease,
            flights: SingleFlight::default(),
            cache: TokenCache::default(),
        }
    }

    /// A token for the connection, refreshed first when needed.
    pub async fn token(
        self: &Arc<Self>,
        ws: &WorkspaceId,
        id: &ConnectionId,
        request: TokenRequest,
    ) -> Result<IssuedToken, TokenError> {
        let now = self.clock.now();
        let current = self.current(ws, id).await?;
        self.refuse_unusable(ws, &current).await?;
        if !needs_refresh(&current, &request, now) {
            return self.issue(&current, now);
        }
        if let Some(wait) = self.backing_off(ws, &current, now).await? {
            return self
                .serve_while_degraded(ws, &current, &request, now, wait)
                .await;
        }
        let fresh = self.refresh(ws, id, current.token_version).await;
        match fresh {
            Ok(token) => {
                self.cache.put(ws, &token);
                self.issue(&token, self.clock.now())
            }
            Err(TokenError::Unavailable { .. })
                if request == TokenRequest::Current && current.expires_at > self.clock.now() =>
            {
                // The provider is down but our token still works: keep serving it.
                self.issue(&current, self.clock.now())
            }
            Err(err) => Err(err),
        }
    }

    /// The connection's current token: from the cache when it is fresh, else one read.
    async fn current(
        &self,
        ws: &WorkspaceId,
        id: &ConnectionId,
    ) -> Result<CurrentToken, TokenError> {
        if let Some(token) = self.cache.get(ws, id) {
            return Ok(token);
        }
        let token = self.read_current(ws, id).await?;
        self.cache.put(ws, &token);
        Ok(token)
    }

    /// Forgets what this process cached of a connection whose tokens changed outside the
    /// token service (disconnect, reconnect).
    pub fn forget(&self, id: &ConnectionId) {
        self.cache.forget(id);
    }

    /// Refreshes now whatever the current token (the scheduler's retries and `check`).
    pub async fn refresh_now(
        self: &Arc<Self>,
        ws: &WorkspaceId,
        id: &ConnectionId,
    ) -> Result<IssuedToken, TokenError> {
        let current = self.read_current(ws, id).await?;
        self.refuse_unusable(ws, &current).await?;
        let fresh = self.refresh(ws, id, current.token_version).await?;
        self.issue(&fresh, self.clock.now())
    }

    fn issue(&self, token: &CurrentToken, now: DateTime<Utc>) -> Result<IssuedToken, TokenError> {
        let access_token = token.access_token.clone().ok_or(TokenError::Disconnected)?;
        self.usage.touch(&token.connection_id, now);
        Ok(IssuedToken {
            access_token,
            instance_url: token.instance_url.clone(),
            expires_at: token.expires_at,
        })
    }

    pub(super) async fn refuse_unusable(
        &self,
        ws: &WorkspaceId,
        token: &CurrentToken,
    ) -> Result<(), TokenError> {
        match token.status {
            ConnectionStatus::Expired => Err(self.expired_error(ws, &token.connection_id).await),
            ConnectionStatus::Disconnected => Err(TokenError::Disconnected),
            ConnectionStatus::Active | ConnectionStatus::Degraded => Ok(()),
        }
    }

    async fn expired_error(&self, ws: &WorkspaceId, id: &ConnectionId) -> TokenError {
        match self.store.get_connection(ws, id).await {
            Ok(Some(c)) => TokenError::Expired {
                status_reason: c.status_reason.unwrap_or_else(|| "unknown".to_owned()),
                diagnosis: c.diagnosis,
            },
            Ok(None) => TokenError::NotFound,
            Err(e) => e.into(),
        }
    }

    /// `Some(seconds to wait)` when a degraded connection must not be retried yet.
    pub(super) async fn backing_off(
        &self,
        ws: &WorkspaceId,
        token: &CurrentToken,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, TokenError> {
        if token.status != ConnectionStatus::Degraded {
            return Ok(None);
        }
        if let Some(failed_at) = token.failed_connector_generation {
            // A connector problem: wait until the connector changes, however long.
            let connection = self.store.get_connection(ws, &token.connection_id).await?;
            let connector = match &connection {
                Some(c) => self.store.get_connector(ws, &c.connector).await?,
                None => None,
            };
            let changed = connector.is_some_and(|c| c.generation != failed_at);
            return Ok((!changed).then_some(60));
        }
        Ok(token
            .next_retry_at
            .filter(|at| *at > now)
            .map(|at| (at - now).num_seconds().max(1).unsigned_abs()))
    }

    async fn serve_while_degraded(
        &self,
        ws: &WorkspaceId,
        token: &CurrentToken,
        request: &TokenRequest,
        now: DateTime<Utc>,
        wait: u64,
    ) -> Result<IssuedToken, TokenError> {
        if *request == TokenRequest::Current && token.expires_at > now {
            return self.issue(token, now);
        }
        let connection = self.store.get_connection(ws, &token.connection_id).await?;
        let (status_reason, diagnosis) = connection
            .map(|c| (c.status_reason, c.diagnosis))
            .unwrap_or_default();
        Err(TokenError::Unavailable {
            detail: "the provider refused or failed the last refresh; tether retries with backoff"
                .to_owned(),
            retry_after_seconds: wait,
            status_reason,
            diagnosis,
        })
    }

    async fn refresh(
        self: &Arc<Self>,
        ws: &WorkspaceId,
        id: &ConnectionId,
        seen_version: i64,
    ) -> RefreshResult {
        let this = Arc::clone(self);
        let (ws, key) = (ws.clone(), id.clone());
        let job = async move { this.refresh_with_lease(&ws, &key, seen_version).await };
        let on_panic = Err(TokenError::Internal("the refresh task failed".to_owned()));
        self.flights.run(id.clone(), job, on_panic).await
    }

    /// Takes the database lease (or waits for its holder's result) and refreshes.
    async fn refresh_with_lease(
        &self,
        ws: &WorkspaceId,
        id: &ConnectionId,
        seen_version: i64,
    ) -> RefreshResult {
        let started = Instant::now();
        loop {
            let now = self.clock.now();
            let until = now + chrono::Duration::from_std(self.lease).unwrap_or_default();
            if self.store.try_lease(id, &self.owner, now, until).await? {
                return self.refresh_holding_lease(ws, id, seen_version).await;
            }
            tokio::time::sleep(LEASE_POLL).await;
            let current = self.read_current(ws, id).await?;
            if current.token_version > seen_version || !current.status.serves_tokens() {
                self.refuse_unusable(ws, &current).await?;
                return Ok(current);
            }
            if started.elapsed() > self.lease * 2 {
                return Err(unavailable(
                    "another tether instance holds the refresh",
                    1,
                    None,
                ));
            }
        }
    }

    async fn refresh_holding_lease(
        &self,
        ws: &WorkspaceId,
        id: &ConnectionId,
        seen_version: i64,
    ) -> RefreshResult {
        let result = self.refresh_once(ws, id, seen_version).await;
        if result.is_err() {
            // Success and failure records release the lease themselves; this covers the
            // paths that end before either is written.
            self.store.release_lease(id, &self.owner).await?;
        }
        result
    }
}

pub(super) fn unavailable(
    detail: &str,
    wait: u64,
    why: Option<(String, Option<Value>)>,
) -> TokenError {
    let (status_reason, diagnosis) = why.map_or((None, None), |(r, d)| (Some(r), d));
    TokenError::Unavailable {
        detail: detail.to_owned(),
        retry_after_seconds: wait,
        status_reason,
        diagnosis,
    }
}

fn needs_refresh(token: &CurrentToken, request: &TokenRequest, now: DateTime<Utc>) -> bool {
    let stale = token.access_token.is_none() || now >= token.refresh_at;
    match request {
        TokenRequest::Current => stale,
        TokenRequest::Force => true,
        TokenRequest::Rejected(rejected) => stale || token.access_token.as_ref() == Some(rejected),
    }
}
