//! One refresh, run by the task that holds the connection's lease (ARCHITECTURE.md,
//! "Durability"):
//!
//! 1. read everything at once (`refresh_context`);
//! 2. take the lease together with the attempt's write-ahead record (`begin_attempt`); a
//!    record left by an attempt that never landed is the evidence that a rotated refresh
//!    token may have been lost;
//! 3. call the provider while a heartbeat keeps the lease alive;
//! 4. land the outcome and its events in one transaction, fenced by the token version the
//!    attempt started from, retried for as long as the process lives: the answer is kept in
//!    memory until it is durable, and no other attempt of this process starts meanwhile (the
//!    flight holds the connection).
//!
//! Introspection, which only refines the access token's expiry, runs after the landing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tether_core::decide::{Decision, Want, decide};
use tether_core::event::{EventKind, Outcome};
use tether_core::ids::{ConnectionId, WorkspaceId};
use tether_core::refresh::Grant;
use tether_core::status::ConnectionStatus;
use tether_oauth::OAuthError;
use tether_oauth::salesforce::TokenResponse;
use tether_store::{
    AttemptStart, CurrentToken, Landing, NewEvent, RefreshContext, RefreshOutcome, Store, TokenSet,
};
use tokio::task::JoinHandle;

use super::answer::{provider_app, token_set};
use super::failure::Failure;
use super::grant::TokenCall;
use super::service::{Landed, RefreshReason, RefreshResult, TokenError, TokenService};
use super::warning::lifetime_warning;
use crate::service::diagnosis::{OwnFault, survival};
use tether_core::diagnosis::AccessProbe;
use tether_oauth::SessionProbe;

/// How often a caller waiting on another process's refresh looks at the token again.
const HOLDER_POLL: Duration = Duration::from_millis(25);
/// How many polls before trying the lease again (the holder may have died).
const POLLS_PER_TRY: u32 = 20;
/// The longest pause between two tries to save an outcome.
const MAX_SAVE_PAUSE: Duration = Duration::from_secs(2);

/// An attempt's result with its `tether_refreshes_total` outcome and cause labels.
type Counted = (RefreshResult, &'static str, &'static str);
/// The outcome label of an attempt whose result was discarded for a newer change.
const SUPERSEDED: &str = "superseded";
/// The cause label of an attempt that did not fail.
const NO_CAUSE: &str = "none";

impl TokenService {
    /// The job of a refresh flight: take the lease with the attempt record and run the
    /// attempt, or wait for the process that holds it to land its own.
    pub(super) async fn refresh_flight(
        &self,
        ws: &WorkspaceId,
        id: &ConnectionId,
        seen_version: i64,
        reason: RefreshReason,
    ) -> RefreshResult {
        let started = Instant::now();
        let mut waited = false;
        loop {
            let ctx = self
                .store
                .refresh_context(ws, id)
                .await?
                .ok_or(TokenError::NotFound)?;
            if let Some(settled) = self.settled(ws, &ctx, seen_version, waited, reason).await {
                return settled;
            }
            let version = ctx.token.token_version;
            match self
                .store
                .begin_attempt(ws, id, &self.owner, version, self.lease)
                .await?
            {
                AttemptStart::Started { unanswered_since } => {
                    let attempt = Attempt {
                        service: self,
                        ws,
                        ctx,
                        reason,
                        unanswered_since,
                    };
                    return attempt.run().await;
                }
                AttemptStart::Moved => {}
                AttemptStart::Held => {
                    if !waited {
                        self.metrics.lease_waits.inc();
                    }
                    waited = true;
                    if let Some(landed) = self.wait_for_holder(ws, id, version).await? {
                        return self.answer_of(ws, landed).await;
                    }
                    if started.elapsed() > self.lease * 2 {
                        return Err(TokenError::unavailable(
                            "another tether instance holds the refresh",
                            1,
                        ));
                    }
                }
            }
        }
    }

    /// The answer when no attempt is needed: the connection moved on since the caller read
    /// it, or no longer takes refreshes, or (after waiting on another process) that
    /// process's failure set a backoff that holds for us too.
    async fn settled(
        &self,
        ws: &WorkspaceId,
        ctx: &RefreshContext,
        seen_version: i64,
        waited: bool,
        reason: RefreshReason,
    ) -> Option<RefreshResult> {
        let token = &ctx.token;
        if token.status == ConnectionStatus::Disconnected {
            return Some(Err(TokenError::Disconnected));
        }
        if token.token_version > seen_version || !self.takes_refreshes(token, reason) {
            return Some(self.answer_of(ws, token.clone()).await);
        }
        if !waited || token.status != ConnectionStatus::Degraded {
            return None;
        }
        let changed = token
            .failed_connector_generation
            .map(|at| ctx.connector.generation != at);
        let state = super::service::token_state(token, changed);
        match decide(&state, Want::Renew, self.clock.now()) {
            Decision::Wait {
                retry_after_seconds,
            } => Some(Err(self
                .waiting(ws, &token.connection_id, retry_after_seconds)
                .await)),
            _ => None,
        }
    }

    /// Whether `token` may be refreshed for `reason`: not when it expired, unless its cause
    /// left the refresh token alive and a recheck is asked for or due.
    fn takes_refreshes(&self, token: &CurrentToken, reason: RefreshReason) -> bool {
        if token.status != ConnectionStatus::Expired {
            return true;
        }
        let want = if reason == RefreshReason::Recheck {
            Want::Recheck
        } else {
            Want::Renew
        };
        let state = super::service::token_state(token, None);
        decide(&state, want, self.clock.now()) == Decision::Refresh
    }

    /// A landed token as an answer: served if the connection serves tokens.
    async fn answer_of(&self, ws: &WorkspaceId, token: CurrentToken) -> RefreshResult {
        match token.status {
            ConnectionStatus::Active | ConnectionStatus::Degraded => Ok(token),
            ConnectionStatus::Expired => Err(self.expired(ws, &token.connection_id).await),
            ConnectionStatus::Disconnected => Err(TokenError::Disconnected),
        }
    }

    /// Polls the token while another process holds the lease; `Some` once its outcome
    /// landed, `None` when it is time to try the lease again.
    async fn wait_for_holder(
        &self,
        ws: &WorkspaceId,
        id: &ConnectionId,
        version: i64,
    ) -> Result<Option<CurrentToken>, TokenError> {
        for _ in 0..POLLS_PER_TRY {
            tokio::time::sleep(HOLDER_POLL).await;
            let current = self.read_current(ws, id).await?;
            if current.token_version != version || !current.status.serves_tokens() {
                return Ok(Some(current));
            }
        }
        Ok(None)
    }
}

/// An attempt that holds the lease.
struct Attempt<'a> {
    service: &'a TokenService,
    ws: &'a WorkspaceId,
    ctx: RefreshContext,
    reason: RefreshReason,
    /// From `begin_attempt`: an earlier attempt on this refresh token may have been lost.
    unanswered_since: Option<DateTime<Utc>>,
}

impl Attempt<'_> {
    async fn run(self) -> RefreshResult {
        let s = self.service;
        let id = &self.ctx.connection.id;
        let sent_at = s.clock.now();
        let ctx = &self.ctx;
        let prepared = TokenCall::of(
            &ctx.connector,
            &ctx.connection.account.username,
            ctx.refresh_token.clone(),
            sent_at,
        )
        .and_then(|call| Ok((call, provider_app(&ctx.connector)?)));
        let (call, app) = match prepared {
            Ok(prepared) => prepared,
            Err(err) => {
                s.store.abandon_attempt(self.ws, id, &s.owner).await?;
                return Err(err);
            }
        };
        let _heartbeat = Heartbeat::start(s, self.ws, id);
        let started = Instant::now();
        let (result, outcome, cause) = match call.send(&s.oauth, &app).await {
            Ok(answer) => self.refreshed(answer, sent_at).await,
            Err(err) => self.failed(&err).await,
        };
        s.metrics.refresh(outcome, cause, started.elapsed());
        result
    }

    /// The connector's grant: only the authorization code grant has a refresh token, and so
    /// rotations to lose, policy evidence to give and lifetime warnings to earn.
    fn grant(&self) -> Grant {
        self.ctx.connector.input.grant
    }

    /// Lands a token answer; the result, and the outcome and cause code `/metrics` counts.
    async fn refreshed(self, answer: TokenResponse, sent_at: DateTime<Utc>) -> Counted {
        let s = self.service;
        let lifetime = s.lifetimes.assumed(&self.ctx.connector);
        let tokens = token_set(&answer, sent_at, lifetime);
        let now = s.clock.now();
        let landing = Landing {
            events: self.success_events(&tokens, &answer, now),
            outcome: RefreshOutcome::Refreshed {
                tokens: tokens.clone(),
                now,
            },
            evidence: self.grant().uses_refresh_tokens().then(|| {
                (
                    self.ctx.connector.name.clone(),
                    survival(&self.ctx.connection, now),
                )
            }),
        };
        if !self.land(&landing).await {
            return (self.superseded(now).await, SUPERSEDED, NO_CAUSE);
        }
        let mut landed = self.landed_token(&tokens, now);
        let landing = Landed {
            ws: self.ws,
            id: &landed.connection_id,
            version: landed.token_version,
            tokens: &tokens,
            sent_at,
        };
        (landed.expires_at, landed.refresh_at) = s
            .learn_lifetime(&self.ctx.connector, &answer, landing)
            .await;
        s.cache.put(self.ws, &landed);
        (Ok(landed), "refreshed", NO_CAUSE)
    }

    /// Lands a failure; the result, and the outcome (the new status) and cause `/metrics`
    /// counts.
    async fn failed(self, err: &OAuthError) -> Counted {
        let s = self.service;
        let probe = match Failure::wants_probe(err, self.grant()) {
            true => self.probe().await,
            false => None,
        };
        let now = s.clock.now();
        let failure = match Failure::of(
            s.store.as_ref(),
            &self.ctx,
            err,
            self.own_fault(),
            probe,
            now,
        )
        .await
        {
            Ok(failure) => failure,
            Err(err) => return (Err(err), "error", NO_CAUSE),
        };
        let mut events = self.interrupted_event(now).into_iter().collect::<Vec<_>>();
        events.extend(failure.events(&self.ctx.connection, err, now));
        let landing = Landing {
            outcome: RefreshOutcome::Failed(failure.update.clone()),
            events,
            evidence: failure
                .evidence
                .map(|change| (self.ctx.connector.name.clone(), change)),
        };
        if !self.land(&landing).await {
            return (self.superseded(now).await, SUPERSEDED, NO_CAUSE);
        }
        s.cache.forget(&self.ctx.connection.id);
        let cause = failure.update.cause;
        if cause == tether_core::cause::Cause::RefreshTokenReused {
            s.metrics.refresh_token_reused.inc();
        }
        let outcome = failure.update.status.as_str();
        (Err(failure.into_error(err, now)), outcome, cause.as_str())
    }

    /// The events a successful refresh lands with.
    fn success_events(
        &self,
        tokens: &TokenSet,
        answer: &TokenResponse,
        now: DateTime<Utc>,
    ) -> Vec<NewEvent> {
        let connection = &self.ctx.connection;
        let mut events: Vec<NewEvent> = self.interrupted_event(now).into_iter().collect();
        let mut detail = match self.grant() {
            Grant::JwtBearer => "minted a new access token with a signed JWT assertion".to_owned(),
            Grant::ClientCredentials => {
                "minted a new access token with the client credentials".to_owned()
            }
            Grant::AuthorizationCode if tokens.refresh_token.is_some() => {
                "refreshed the access token; the provider rotated the refresh token".to_owned()
            }
            Grant::AuthorizationCode => "refreshed the access token".to_owned(),
        };
        if !answer.oddities.is_empty() {
            detail.push_str(&format!(
                " (the answer was odd: {}; its tokens were kept)",
                answer.oddities.join("; ")
            ));
        }
        let event =
            |kind, outcome, detail: String| NewEvent::of(connection, now, kind, outcome, detail);
        events.push(event(EventKind::Refreshed, Outcome::Success, detail));
        if connection.status != ConnectionStatus::Active {
            let detail = format!(
                "{} -> active: the provider accepted the refresh",
                connection.status
            );
            events.push(event(EventKind::StatusChanged, Outcome::Success, detail));
        }
        if connection.status == ConnectionStatus::Expired {
            let fixed = connection
                .status_reason
                .map_or_else(|| "the refusal".to_owned(), |cause| cause.to_string());
            let detail = format!(
                "recovered without a reconnect: the provider accepts the refresh token again, so {fixed} was fixed"
            );
            events.push(event(EventKind::Recovered, Outcome::Success, detail));
        }
        if !self.grant().uses_refresh_tokens() {
            return events;
        }
        if self.reason == RefreshReason::KeepAlive {
            let detail = "used the idle refresh token so an idle policy cannot expire it";
            events.push(event(
                EventKind::KeptAlive,
                Outcome::Success,
                detail.to_owned(),
            ));
        }
        events.extend(lifetime_warning(
            connection,
            &self.ctx.connector,
            &self.ctx.evidence,
            now,
        ));
        events
    }

    /// tether's own part in a refusal: an attempt on this refresh token found interrupted
    /// just now (a crash, or a stall past its lease), or one that earlier went unanswered.
    fn own_fault(&self) -> OwnFault {
        let before = self.ctx.connection.unanswered_attempt_at;
        let interrupted = self.unanswered_since.is_some() && self.unanswered_since != before;
        OwnFault {
            interrupted_attempt: interrupted,
            unanswered_attempt: before.is_some() && !interrupted,
        }
    }

    /// Asks the provider, once, whether the connection's current access token still works,
    /// when it should (it was within its expected life): the answer tells a refresh-token
    /// policy (the session lives) from a revoke or a Block (the session ended too).
    async fn probe(&self) -> Option<AccessProbe> {
        let token = &self.ctx.token;
        let access = token.access_token.as_ref()?;
        if self.service.clock.now() >= token.expires_at {
            return None;
        }
        let s = self.service;
        let answer = s.oauth.probe_session(&token.instance_url, access).await;
        let probe = match answer {
            SessionProbe::Works => AccessProbe::Alive,
            SessionProbe::Expired => AccessProbe::Revoked,
            SessionProbe::NotValidForApi => AccessProbe::Blocked,
            SessionProbe::Unknown => return None,
        };
        tracing::debug!(connection = %token.connection_id, ?probe, "probed the access token after invalid_grant");
        Some(probe)
    }

    /// The `refresh_interrupted` event, the first time this attempt's lease found an earlier
    /// attempt that never landed.
    fn interrupted_event(&self, now: DateTime<Utc>) -> Option<NewEvent> {
        let since = self
            .unanswered_since
            .filter(|_| self.grant().uses_refresh_tokens())?;
        if self.ctx.connection.unanswered_attempt_at == Some(since) {
            return None;
        }
        let detail = format!(
            "a refresh attempt started at {} never saved its outcome (tether stopped or lost its database while Salesforce was answering); under refresh token rotation that answer carried the only valid refresh token",
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        Some(NewEvent::of(
            &self.ctx.connection,
            now,
            EventKind::RefreshInterrupted,
            Outcome::Warning,
            detail,
        ))
    }

    /// Lands `outcome` with `events`, retrying for as long as the process lives: a rotated
    /// refresh token exists only in this memory until this succeeds. `false` when a
    /// reconnect or another refresh landed first (the outcome is discarded).
    async fn land(&self, landing: &Landing) -> bool {
        let s = self.service;
        let id = &self.ctx.connection.id;
        let version = self.ctx.token.token_version;
        let mut pause = Duration::from_millis(50);
        loop {
            match s
                .store
                .land_refresh(self.ws, id, &s.owner, version, landing)
                .await
            {
                Ok(landed) => {
                    // A failure may have scheduled a retry sooner than the scheduler's next
                    // look; a success only moves due times later.
                    if matches!(landing.outcome, RefreshOutcome::Failed(_)) {
                        s.wake_scheduler();
                    }
                    return landed;
                }
                Err(err) => {
                    tracing::warn!(connection = %id, error = %err, retry_in_ms = pause.as_millis() as u64, "could not save the refresh's outcome; keeping it in memory and retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_SAVE_PAUSE);
                }
            }
        }
    }

    /// A reconnect or another refresh landed while this one ran: its outcome is discarded
    /// and the connection as it now stands is the answer.
    async fn superseded(self, now: DateTime<Utc>) -> RefreshResult {
        let s = self.service;
        let connection = &self.ctx.connection;
        tracing::warn!(connection = %connection.id, "a refresh was superseded by a newer change");
        let detail =
            "a reconnect or another refresh landed first; this refresh's outcome was discarded";
        crate::service::events::record(
            s.store.as_ref(),
            NewEvent::of(
                connection,
                now,
                EventKind::RefreshSuperseded,
                Outcome::Failure,
                detail,
            ),
        )
        .await;
        s.cache.forget(&connection.id);
        let current = s.read_current(self.ws, &connection.id).await?;
        s.answer_of(self.ws, current).await
    }

    /// The current token as landed, without reading it back.
    fn landed_token(&self, tokens: &TokenSet, now: DateTime<Utc>) -> CurrentToken {
        let before = &self.ctx.token;
        CurrentToken {
            connection_id: before.connection_id.clone(),
            status: ConnectionStatus::Active,
            status_reason: None,
            access_token: Some(tokens.access_token.clone()),
            instance_url: tokens
                .instance_url
                .clone()
                .unwrap_or_else(|| before.instance_url.clone()),
            issued_at: tokens.issued_at,
            expires_at: tokens.expires_at,
            refresh_at: tokens.refresh_at,
            token_version: before.token_version + 1,
            refreshed_at: Some(now),
            next_retry_at: None,
            failed_connector_generation: None,
        }
    }
}

/// Keeps the lease alive while an attempt works: renews it every third of its length, and
/// stops when dropped.
struct Heartbeat(JoinHandle<()>);

impl Heartbeat {
    fn start(service: &TokenService, ws: &WorkspaceId, id: &ConnectionId) -> Self {
        let store: Arc<dyn Store> = service.store.clone();
        let (ws, id, owner, lease) = (ws.clone(), id.clone(), service.owner.clone(), service.lease);
        Self(tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                match store.renew_lease(&ws, &id, &owner, lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(connection = %id, "the refresh lease was taken over while this process still worked on it")
                    }
                    Err(err) => {
                        tracing::warn!(connection = %id, error = %err, "could not renew the refresh lease")
                    }
                }
            }
        }))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}
