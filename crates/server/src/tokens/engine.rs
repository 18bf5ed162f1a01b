//! The token service: serve, or refresh once and serve, and classify what went wrong.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tether_core::clock::SharedClock;
use tether_core::expiry::{DEFAULT_SESSION_TIMEOUT, TokenExpiry};
use tether_core::ids::{ConnectionId, WorkspaceId, random_base62};
use tether_core::refresh::{Verdict, classify};
use tether_core::secret::AccessToken;
use tether_core::status::ConnectionStatus;
use tether_oauth::{OAuthClient, OAuthError, ProviderApp};
use tether_store::{Connection, Connector, CurrentToken, FailureUpdate, Store, TokenSet};

use super::cache::TokenCache;
use super::{SingleFlight, UsageTracker};
use crate::diagnosis;
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

type RefreshResult = Result<CurrentToken, TokenError>;

/// Serves and refreshes tokens; one per process, shared through `AppState`.
#[derive(Debug)]
pub struct TokenService {
    store: Arc<dyn Store>,
    oauth: OAuthClient,
    clock: SharedClock,
    events: EventLog,
    usage: Arc<UsageTracker>,
    /// This process's lease owner name.
    owner: String,
    lease: Duration,
    flights: SingleFlight<ConnectionId, RefreshResult>,
    /// Recently read current tokens, so the fast path skips the database.
    cache: TokenCache,
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
        let token = self
            .store
            .current_token(ws, id)
            .await?
            .ok_or(TokenError::NotFound)?;
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
        let current = self
            .store
            .current_token(ws, id)
            .await?
            .ok_or(TokenError::NotFound)?;
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

    async fn refuse_unusable(
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
    async fn backing_off(
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
            let current = self
                .store
                .current_token(ws, id)
                .await?
                .ok_or(TokenError::NotFound)?;
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

    async fn refresh_once(
        &self,
        ws: &WorkspaceId,
        id: &ConnectionId,
        seen_version: i64,
    ) -> RefreshResult {
        let current = self
            .store
            .current_token(ws, id)
            .await?
            .ok_or(TokenError::NotFound)?;
        self.refuse_unusable(ws, &current).await?;
        if current.token_version > seen_version {
            self.store.release_lease(id, &self.owner).await?;
            return Ok(current);
        }
        // Another process may have failed this refresh while we waited for the lease: its
        // backoff holds for us too.
        if let Some(wait) = self.backing_off(ws, &current, self.clock.now()).await? {
            self.store.release_lease(id, &self.owner).await?;
            let connection = self.store.get_connection(ws, id).await?;
            let why = connection.and_then(|c| Some((c.status_reason?, c.diagnosis)));
            return Err(unavailable(
                "the last refresh failed; tether retries with backoff",
                wait,
                why,
            ));
        }
        let connection = self
            .store
            .get_connection(ws, id)
            .await?
            .ok_or(TokenError::NotFound)?;
        let connector = self
            .store
            .get_connector(ws, &connection.connector)
            .await?
            .ok_or_else(|| TokenError::Internal("the connection's connector is gone".into()))?;
        let refresh_token = self
            .store
            .refresh_token(id)
            .await?
            .ok_or(TokenError::Disconnected)?;
        let app = provider_app(&connector)?;
        match self.oauth.refresh(&app, &refresh_token).await {
            Ok(response) => self.on_success(ws, &connection, &connector, response).await,
            Err(err) => Err(self.on_failure(&connection, &connector, &err).await?),
        }
    }

    async fn on_success(
        &self,
        ws: &WorkspaceId,
        connection: &Connection,
        connector: &Connector,
        response: tether_oauth::salesforce::TokenResponse,
    ) -> RefreshResult {
        let now = self.clock.now();
        let tokens = token_set(&self.oauth, connector, response).await;
        let rotated = tokens.refresh_token.is_some();
        if let Err(err) = self.persist_success(&connection.id, &tokens, now).await {
            if rotated {
                // The provider has already killed the old refresh token; record it so the
                // diagnosis of the coming failure can say what happened.
                let detail =
                    "the provider rotated the refresh token and tether could not save the new one";
                self.events
                    .record(
                        connection,
                        now,
                        diagnosis::UNSAVED_ROTATION_EVENT,
                        "failure",
                        detail,
                        None,
                    )
                    .await;
            }
            return Err(err);
        }
        let detail = if rotated {
            "refreshed the access token; the provider rotated the refresh token"
        } else {
            "refreshed the access token"
        };
        self.events
            .record(connection, now, "refreshed", "success", detail, None)
            .await;
        if connection.status != ConnectionStatus::Active {
            let detail = format!(
                "{} -> active: the provider accepted the refresh",
                connection.status
            );
            self.events
                .record(connection, now, "status_changed", "success", &detail, None)
                .await;
        }
        let fresh = self
            .store
            .current_token(ws, &connection.id)
            .await?
            .ok_or(TokenError::NotFound)?;
        self.cache.put(ws, &fresh);
        Ok(fresh)
    }

    /// Persists a refreshed token set before anyone is answered; retried because a rotated
    /// refresh token that is not saved is lost for good.
    async fn persist_success(
        &self,
        id: &ConnectionId,
        tokens: &TokenSet,
        now: DateTime<Utc>,
    ) -> Result<(), TokenError> {
        // A rotated refresh token that is not saved is lost for good: keep trying for as long
        // as the lease lets us, backing off from 50 ms to 1 s.
        let deadline = Instant::now() + self.lease / 2;
        let mut pause = Duration::from_millis(50);
        loop {
            match self
                .store
                .record_refresh_success(id, &self.owner, tokens, now)
                .await
            {
                Ok(()) => return Ok(()),
                Err(err) if Instant::now() + pause < deadline => {
                    tracing::warn!(connection = %id, error = %err, "saving refreshed tokens failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    async fn on_failure(
        &self,
        connection: &Connection,
        connector: &Connector,
        err: &OAuthError,
    ) -> Result<TokenError, TokenError> {
        let now = self.clock.now();
        let verdict = classify(&err.as_refresh_failure());
        let provider_error = err.provider_error().cloned();
        let found = diagnosis::for_refresh_failure(
            self.store.as_ref(),
            connection,
            connector,
            verdict,
            provider_error.as_ref(),
            now,
        )
        .await?;
        let reason = found.cause.as_str().to_owned();
        let diagnosis = serde_json::to_value(&found).ok();
        let failures = connection.refresh_failures + 1;
        let (status, next_retry_at, generation) = match verdict {
            Verdict::Expired(_) => (ConnectionStatus::Expired, None, None),
            Verdict::ConnectorProblem(_) => {
                (ConnectionStatus::Degraded, None, Some(connector.generation))
            }
            Verdict::Transient(_) => {
                let jitter = rand::random::<f64>();
                let delay = tether_core::backoff::retry_delay(failures.unsigned_abs(), jitter);
                let at = now + delay;
                let at = match err.retry_after_seconds() {
                    Some(secs) => at.max(now + chrono::Duration::seconds(secs.min(3600) as i64)),
                    None => at,
                };
                (ConnectionStatus::Degraded, Some(at), None)
            }
        };
        let update = FailureUpdate {
            status,
            status_reason: reason.clone(),
            diagnosis: diagnosis.clone(),
            refresh_failures: failures,
            next_retry_at,
            failed_connector_generation: generation,
        };
        self.store
            .record_refresh_failure(&connection.id, &self.owner, &update)
            .await?;
        self.cache.forget(&connection.id);
        let provider_json = provider_error
            .as_ref()
            .and_then(|e| serde_json::to_value(e).ok());
        let detail = format!("refresh failed: {err}");
        self.events
            .record(
                connection,
                now,
                "refresh_failed",
                "failure",
                &detail,
                provider_json.clone(),
            )
            .await;
        if connection.status != status {
            let detail = format!("{} -> {status}: {reason}", connection.status);
            self.events
                .record(
                    connection,
                    now,
                    "status_changed",
                    "failure",
                    &detail,
                    provider_json,
                )
                .await;
        }
        Ok(match status {
            ConnectionStatus::Expired => TokenError::Expired {
                status_reason: reason,
                diagnosis,
            },
            _ => {
                let wait =
                    next_retry_at.map_or(60, |at| (at - now).num_seconds().max(1).unsigned_abs());
                unavailable(
                    &format!("refreshing failed: {err}"),
                    wait,
                    Some((reason, diagnosis)),
                )
            }
        })
    }
}

fn unavailable(detail: &str, wait: u64, why: Option<(String, Option<Value>)>) -> TokenError {
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

/// The provider credentials of a connector.
pub fn provider_app(connector: &Connector) -> Result<ProviderApp, TokenError> {
    let login_url = url::Url::parse(&connector.input.login_url)
        .map_err(|e| TokenError::Internal(format!("connector login_url is invalid: {e}")))?;
    Ok(ProviderApp {
        login_url,
        client_id: connector.input.client_id.clone(),
        client_secret: connector.input.client_secret.clone(),
        scopes: connector.input.scopes.clone(),
    })
}

/// The token set of a provider answer, with tether's expiry estimate.
pub async fn token_set(
    oauth: &OAuthClient,
    connector: &Connector,
    response: tether_oauth::salesforce::TokenResponse,
) -> TokenSet {
    let lifetime = access_token_lifetime(oauth, connector, &response).await;
    let expiry = TokenExpiry::estimate(response.issued_at, lifetime);
    TokenSet {
        access_token: response.access_token,
        refresh_token: response.refresh_token,
        issued_at: response.issued_at,
        expires_at: expiry.expires_at,
        refresh_at: expiry.refresh_at,
        instance_url: response
            .instance_url
            .as_str()
            .trim_end_matches('/')
            .to_owned(),
    }
}

/// How long a new access token lives: the connector's `session_timeout_seconds` hint when the
/// admin gave one; else what introspection says, where the Connected App allows it; else
/// Salesforce's default of 2 hours.
async fn access_token_lifetime(
    oauth: &OAuthClient,
    connector: &Connector,
    response: &tether_oauth::salesforce::TokenResponse,
) -> chrono::Duration {
    if let Some(secs) = connector.input.session_timeout_seconds.filter(|s| *s > 0) {
        return chrono::Duration::seconds(secs);
    }
    let Ok(app) = provider_app(connector) else {
        return DEFAULT_SESSION_TIMEOUT;
    };
    match oauth.introspect(&app, &response.access_token).await {
        Ok(answer) => answer.lifetime().unwrap_or(DEFAULT_SESSION_TIMEOUT),
        Err(err) => {
            tracing::debug!(error = %err, "introspection unavailable; assuming the default session timeout");
            DEFAULT_SESSION_TIMEOUT
        }
    }
}
