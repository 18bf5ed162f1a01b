//! The token service: decide what a request for a token needs (`tether_core::decide`), and
//! carry it out: serve, join the one refresh in flight, or answer why not.

use std::sync::Arc;

use std::time::Duration;
use tokio::sync::Notify;

use chrono::{DateTime, Utc};
use tether_core::cause::Cause;
use tether_core::clock::SharedClock;
use tether_core::decide::{Decision, TokenState, Want, decide, serve_through_outage};
use tether_core::diagnosis::Diagnosis;
use tether_core::ids::{ConnectionId, WorkspaceId, random_base62};
use tether_core::instance::InstanceUrl;
use tether_core::secret::AccessToken;
use tether_core::status::ConnectionStatus;
use tether_oauth::OAuthClient;
use tether_store::{CurrentToken, Store, StoreError};
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::UsageTracker;
use super::answer::Lifetimes;
use super::cache::TokenCache;
use super::flight::SingleFlight;
use crate::metrics::Metrics;

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

/// Why a refresh is made when nobody asked for a token (its history says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshReason {
    /// A caller asked (the token endpoint, the proxy, a check).
    Caller,
    /// The keep-alive used an idle refresh token.
    KeepAlive,
    /// The scheduler retried a degraded connection.
    Retry,
    /// "Check now" or the scheduler asked whether an expired connection whose cause left the
    /// refresh token alive works again.
    Recheck,
}

/// A token handed to a caller.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub access_token: AccessToken,
    pub instance_url: InstanceUrl,
    pub expires_at: DateTime<Utc>,
}

/// Why no token could be handed out.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    #[error("connection not found")]
    NotFound,
    /// The provider ended the connection; the diagnosis says why and what to do.
    #[error("the connection has expired: {cause}; reconnect it")]
    Expired {
        cause: Cause,
        diagnosis: Option<Box<Diagnosis>>,
    },
    #[error("the connection was disconnected")]
    Disconnected,
    /// The provider failed or refused for a reason that may pass; try again later.
    #[error("{detail}")]
    Unavailable {
        detail: String,
        retry_after_seconds: u64,
        cause: Option<Cause>,
        diagnosis: Option<Box<Diagnosis>>,
    },
    #[error("the store failed")]
    Store(#[source] Arc<StoreError>),
    #[error("the connector's login_url is not a URL")]
    ConnectorUrl(#[source] url::ParseError),
    #[error("the refresh task failed")]
    RefreshTaskFailed,
    /// The connector's JWT bearer key is missing or unreadable.
    #[error("could not sign the JWT bearer assertion")]
    Signing(#[source] tether_oauth::jwt::JwtError),
}

impl From<StoreError> for TokenError {
    fn from(err: StoreError) -> Self {
        TokenError::Store(Arc::new(err))
    }
}

impl TokenError {
    /// An `Unavailable` error with its detail and wait.
    pub(super) fn unavailable(detail: impl Into<String>, retry_after_seconds: u64) -> Self {
        TokenError::Unavailable {
            detail: detail.into(),
            retry_after_seconds,
            cause: None,
            diagnosis: None,
        }
    }
}

pub(super) type RefreshResult = Result<CurrentToken, TokenError>;

/// Serves and refreshes tokens; one per process, shared through `AppState`.
#[derive(Debug)]
pub struct TokenService {
    pub(super) store: Arc<dyn Store>,
    pub(super) oauth: OAuthClient,
    pub(super) clock: SharedClock,
    pub(super) metrics: Arc<Metrics>,
    usage: Arc<UsageTracker>,
    /// This process's lease owner name.
    pub(super) owner: String,
    pub(super) lease: Duration,
    flights: SingleFlight<ConnectionId, RefreshResult>,
    /// Every refresh task, so shutdown can wait for the ones still saving.
    tasks: TaskTracker,
    /// Recently read current tokens, so the fast path skips the database.
    pub(super) cache: TokenCache,
    /// Access-token lifetimes learned per connector.
    pub(super) lifetimes: Lifetimes,
    /// Wakes this process's scheduler when a landing changed when background jobs fall due.
    wakeups: Notify,
}

impl TokenService {
    /// A service whose refreshes hold the lease `lease` at a time (renewed while working).
    pub fn new(
        store: Arc<dyn Store>,
        oauth: OAuthClient,
        clock: SharedClock,
        usage: Arc<UsageTracker>,
        metrics: Arc<Metrics>,
        lease: Duration,
    ) -> Self {
        let owner = format!("{}-{}", std::process::id(), random_base62(12));
        Self {
            store,
            oauth,
            clock,
            metrics,
            usage,
            owner,
            lease,
            flights: SingleFlight::default(),
            tasks: TaskTracker::new(),
            cache: TokenCache::default(),
            lifetimes: Lifetimes::default(),
            wakeups: Notify::new(),
        }
    }

    /// Tells this process's scheduler that due times changed (a refresh landed, a connector
    /// changed), so it looks again now rather than at the end of its sleep.
    pub fn wake_scheduler(&self) {
        self.wakeups.notify_one();
    }

    /// Completes at the next [`TokenService::wake_scheduler`] (or at once, when one came
    /// since the last wait).
    pub async fn scheduler_woken(&self) {
        self.wakeups.notified().await;
    }

    /// A token for the connection, refreshed first when needed.
    pub async fn token(
        self: &Arc<Self>,
        ws: &WorkspaceId,
        id: &ConnectionId,
        request: TokenRequest,
    ) -> Result<IssuedToken, TokenError> {
        let current = self.current(ws, id).await?;
        let want = want_of(&request, &current);
        let state = self.state_of(ws, &current).await?;
        let now = self.clock.now();
        match decide(&state, want, now) {
            Decision::Serve => self.issue(ws, &current, now),
            Decision::Refresh => {
                let fresh = self
                    .refresh(ws, id, current.token_version, RefreshReason::Caller)
                    .await;
                self.after_refresh(ws, &current, &state, want, fresh)
            }
            Decision::Wait {
                retry_after_seconds,
            } => Err(self.waiting(ws, id, retry_after_seconds).await),
            Decision::Expired => Err(self.expired(ws, id).await),
            Decision::Disconnected => Err(TokenError::Disconnected),
        }
    }

    /// Refreshes now whatever the current token (the scheduler's retries and keep-alive),
    /// honouring a backoff or a connector problem.
    pub async fn refresh_now(
        self: &Arc<Self>,
        ws: &WorkspaceId,
        id: &ConnectionId,
        reason: RefreshReason,
    ) -> Result<IssuedToken, TokenError> {
        let current = self.read_current(ws, id).await?;
        let state = self.state_of(ws, &current).await?;
        let want = if reason == RefreshReason::Recheck {
            Want::Recheck
        } else {
            Want::Renew
        };
        match decide(&state, want, self.clock.now()) {
            Decision::Serve | Decision::Refresh => {}
            Decision::Wait {
                retry_after_seconds,
            } => return Err(self.waiting(ws, id, retry_after_seconds).await),
            Decision::Expired => return Err(self.expired(ws, id).await),
            Decision::Disconnected => return Err(TokenError::Disconnected),
        }
        let fresh = self.refresh(ws, id, current.token_version, reason).await?;
        self.cache.put(ws, &fresh);
        self.issue(ws, &fresh, self.clock.now())
    }

    /// This process's owner name for leases and claims.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The lifetime a new access token of `connector` is assumed to have (the connector's
    /// hint, else what this process learned, else the default).
    pub fn assumed_lifetime(&self, connector: &tether_store::Connector) -> chrono::Duration {
        self.lifetimes.assumed(connector)
    }

    /// After a token set of `connector` landed at `version` with the assumed lifetime, asks
    /// the provider how long the access token really lives (when nothing is known yet) and
    /// corrects the stored expiry; the expiry in force.
    pub async fn learn_lifetime(
        &self,
        connector: &tether_store::Connector,
        answer: &tether_oauth::salesforce::TokenResponse,
        landed: Landed<'_>,
    ) -> (DateTime<Utc>, DateTime<Utc>) {
        let Landed {
            ws,
            id,
            version,
            tokens,
            sent_at,
        } = landed;
        let unchanged = (tokens.expires_at, tokens.refresh_at);
        if !self.lifetimes.should_learn(connector) {
            return unchanged;
        }
        let assumed = self.lifetimes.assumed(connector);
        let Some(learned) = self.lifetimes.learn(&self.oauth, connector, answer).await else {
            return unchanged;
        };
        if learned == assumed {
            return unchanged;
        }
        let relearned = super::answer::token_set(answer, sent_at, learned);
        match self.store.adjust_expiry(ws, id, version, &relearned).await {
            Ok(true) => {
                self.cache.forget(id);
                (relearned.expires_at, relearned.refresh_at)
            }
            Ok(false) => unchanged,
            Err(err) => {
                tracing::warn!(connection = %id, error = %err, "could not record the learned token lifetime");
                unchanged
            }
        }
    }

    /// Forgets what this process cached of a connection whose tokens changed outside the
    /// token service (disconnect, reconnect).
    pub fn forget(&self, id: &ConnectionId) {
        self.cache.forget(id);
    }

    /// Waits until every refresh task has landed its outcome, at most `limit`; `false` when
    /// some were still running (their attempts stay recorded for the next process).
    pub async fn drain(&self, limit: Duration) -> bool {
        self.tasks.close();
        let drained = tokio::time::timeout(limit, self.tasks.wait()).await.is_ok();
        if !drained {
            tracing::error!(
                running = self.tasks.len(),
                "stopping with refreshes still in flight; the next start finds their attempts recorded"
            );
        }
        drained
    }

    /// The connection's current token: from the cache when it is fresh, else one read.
    async fn current(&self, ws: &WorkspaceId, id: &ConnectionId) -> RefreshResult {
        if let Some(token) = self.cache.get(ws, id) {
            return Ok(token);
        }
        let token = self.read_current(ws, id).await?;
        self.cache.put(ws, &token);
        Ok(token)
    }

    /// The connection's current token, read from the database.
    pub(super) async fn read_current(&self, ws: &WorkspaceId, id: &ConnectionId) -> RefreshResult {
        self.store
            .current_token(ws, id)
            .await?
            .ok_or(TokenError::NotFound)
    }

    /// What `decide` needs; a connector problem needs the connector's generation too.
    async fn state_of(
        &self,
        ws: &WorkspaceId,
        token: &CurrentToken,
    ) -> Result<TokenState, TokenError> {
        let connector_changed = match token.failed_connector_generation {
            Some(failed_at) if token.status == ConnectionStatus::Degraded => {
                let ctx = self.store.refresh_context(ws, &token.connection_id).await?;
                Some(ctx.is_none_or(|ctx| ctx.connector.generation != failed_at))
            }
            _ => None,
        };
        Ok(token_state(token, connector_changed))
    }

    fn after_refresh(
        &self,
        ws: &WorkspaceId,
        current: &CurrentToken,
        state: &TokenState,
        want: Want,
        fresh: RefreshResult,
    ) -> Result<IssuedToken, TokenError> {
        let now = self.clock.now();
        match fresh {
            Ok(token) => {
                self.cache.put(ws, &token);
                self.issue(ws, &token, now)
            }
            // The provider is down but our token still works: keep serving it.
            Err(TokenError::Unavailable { .. }) if serve_through_outage(state, want, now) => {
                self.issue(ws, current, now)
            }
            Err(err) => Err(err),
        }
    }

    fn issue(
        &self,
        ws: &WorkspaceId,
        token: &CurrentToken,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, TokenError> {
        let access_token = token.access_token.clone().ok_or(TokenError::Disconnected)?;
        self.usage.touch(ws, &token.connection_id, now);
        Ok(IssuedToken {
            access_token,
            instance_url: token.instance_url.clone(),
            expires_at: token.expires_at,
        })
    }

    /// The refusal of an expired connection, with its cause and diagnosis.
    pub(super) async fn expired(&self, ws: &WorkspaceId, id: &ConnectionId) -> TokenError {
        match self.store.get_connection(ws, id).await {
            Ok(Some(c)) => TokenError::Expired {
                cause: c.status_reason.unwrap_or(Cause::RefreshTokenRevoked),
                diagnosis: c.diagnosis.map(Box::new),
            },
            Ok(None) => TokenError::NotFound,
            Err(e) => e.into(),
        }
    }

    /// The answer while a degraded connection waits out its backoff.
    pub(super) async fn waiting(
        &self,
        ws: &WorkspaceId,
        id: &ConnectionId,
        wait: u64,
    ) -> TokenError {
        let connection = match self.store.get_connection(ws, id).await {
            Ok(found) => found,
            Err(e) => return e.into(),
        };
        let (cause, diagnosis) = connection
            .map(|c| (c.status_reason, c.diagnosis.map(Box::new)))
            .unwrap_or_default();
        TokenError::Unavailable {
            detail: "the provider refused or failed the last refresh; tether retries with backoff"
                .to_owned(),
            retry_after_seconds: wait,
            cause,
            diagnosis,
        }
    }

    /// Joins (or starts) the one refresh of this connection in this process. The refresh
    /// runs on its own task, tracked for shutdown, and completes even if every caller leaves.
    async fn refresh(
        self: &Arc<Self>,
        ws: &WorkspaceId,
        id: &ConnectionId,
        seen_version: i64,
        reason: RefreshReason,
    ) -> RefreshResult {
        let this = Arc::clone(self);
        let (ws, key) = (ws.clone(), id.clone());
        // The flight outlives its callers' requests: its lines carry the ids on its own span.
        let span = tracing::info_span!("refresh", workspace = %ws, connection = %key, ?reason);
        let job = async move { this.refresh_flight(&ws, &key, seen_version, reason).await }
            .instrument(span);
        let on_panic = Err(TokenError::RefreshTaskFailed);
        self.flights
            .run(id.clone(), job, on_panic, &self.tasks)
            .await
    }
}

/// A token set that just landed: where, at which version, asked for when.
#[derive(Debug, Clone, Copy)]
pub struct Landed<'a> {
    pub ws: &'a WorkspaceId,
    pub id: &'a ConnectionId,
    pub version: i64,
    pub tokens: &'a tether_store::TokenSet,
    pub sent_at: DateTime<Utc>,
}

/// The core's view of a current token.
pub(super) fn token_state(token: &CurrentToken, connector_changed: Option<bool>) -> TokenState {
    TokenState {
        status: token.status,
        has_access_token: token.access_token.is_some(),
        refresh_at: token.refresh_at,
        expires_at: token.expires_at,
        next_retry_at: token.next_retry_at,
        refreshed_at: token.refreshed_at,
        connector_changed,
        recoverable: token.status == ConnectionStatus::Expired
            && token.status_reason.is_some_and(Cause::is_recoverable),
    }
}

fn want_of(request: &TokenRequest, current: &CurrentToken) -> Want {
    match request {
        TokenRequest::Current => Want::Current,
        TokenRequest::Force => Want::Force,
        TokenRequest::Rejected(rejected) => Want::Rejected {
            is_current: current.access_token.as_ref() == Some(rejected),
        },
    }
}
