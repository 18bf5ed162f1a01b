//! The refresh itself, run by the one task that holds a connection's lease: read the
//! connection at one token version, call the provider, and land the outcome fenced by that
//! version, so a reconnect or another refresh that landed first always wins, and record
//! what happened.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tether_core::backoff::retry_delay;
use tether_core::diagnosis::Diagnosis;
use tether_core::ids::{ConnectionId, WorkspaceId};
use tether_core::refresh::{ProviderError, Verdict, classify};
use tether_core::secret::RefreshToken;
use tether_core::status::ConnectionStatus;
use tether_oauth::OAuthError;
use tether_store::{Connection, Connector, CurrentToken, FailureUpdate, TokenSet};

use super::engine::{RefreshResult, TokenError, TokenService, unavailable};
use super::provider::{provider_app, token_set};
use crate::diagnosis;

impl TokenService {
    /// The refresh run by the lease holder: read the connection at one version, call the
    /// provider, land the outcome fenced by that version.
    pub(super) async fn refresh_once(
        &self,
        ws: &WorkspaceId,
        id: &ConnectionId,
        seen_version: i64,
    ) -> RefreshResult {
        let (current, refresh_token) = self.read_consistent(ws, id).await?;
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
        let base = current.token_version;
        let app = provider_app(&connector)?;
        match self.oauth.refresh(&app, &refresh_token).await {
            Ok(response) => {
                self.on_success(ws, &connection, &connector, base, response)
                    .await
            }
            Err(err) => {
                self.on_failure(ws, &connection, &connector, base, &err)
                    .await
            }
        }
    }

    /// The current token and the refresh token as of one token version (a reconnect between
    /// the two reads would pair an old version with a new refresh token).
    async fn read_consistent(
        &self,
        ws: &WorkspaceId,
        id: &ConnectionId,
    ) -> Result<(CurrentToken, RefreshToken), TokenError> {
        for _ in 0..3 {
            let before = self.read_current(ws, id).await?;
            self.refuse_unusable(ws, &before).await?;
            let refresh = self
                .store
                .refresh_token(id)
                .await?
                .ok_or(TokenError::Disconnected)?;
            let after = self.read_current(ws, id).await?;
            if after.token_version == before.token_version {
                return Ok((after, refresh));
            }
        }
        Err(unavailable(
            "the connection kept changing during the refresh",
            1,
            None,
        ))
    }

    /// The connection's current token, read from the database.
    pub(super) async fn read_current(
        &self,
        ws: &WorkspaceId,
        id: &ConnectionId,
    ) -> Result<CurrentToken, TokenError> {
        self.store
            .current_token(ws, id)
            .await?
            .ok_or(TokenError::NotFound)
    }

    async fn on_success(
        &self,
        ws: &WorkspaceId,
        connection: &Connection,
        connector: &Connector,
        base: i64,
        response: tether_oauth::salesforce::TokenResponse,
    ) -> RefreshResult {
        let now = self.clock.now();
        let tokens = token_set(&self.oauth, connector, response).await;
        let rotated = tokens.refresh_token.is_some();
        let landed = match self
            .persist_success(&connection.id, base, &tokens, now)
            .await
        {
            Ok(landed) => landed,
            Err(err) => {
                if rotated {
                    // The provider has already killed the old refresh token; record it so the
                    // diagnosis of the coming failure can say what happened.
                    let detail = "the provider rotated the refresh token and tether could not save the new one";
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
        };
        if !landed {
            return self.superseded(ws, connection, now).await;
        }
        let detail = if rotated {
            "refreshed the access token; the provider rotated the refresh token"
        } else {
            "refreshed the access token"
        };
        self.events
            .record(connection, now, "refreshed", "success", detail, None)
            .await;
        self.warn_before_lifetime(connection, connector, now).await;
        if connection.status != ConnectionStatus::Active {
            let detail = format!(
                "{} -> active: the provider accepted the refresh",
                connection.status
            );
            self.events
                .record(connection, now, "status_changed", "success", &detail, None)
                .await;
        }
        let fresh = self.read_current(ws, &connection.id).await?;
        self.cache.put(ws, &fresh);
        Ok(fresh)
    }

    /// A reconnect or another refresh landed while this one ran: its outcome is discarded
    /// and the connection's state as it now stands is the answer.
    async fn superseded(
        &self,
        ws: &WorkspaceId,
        connection: &Connection,
        now: DateTime<Utc>,
    ) -> RefreshResult {
        tracing::warn!(connection = %connection.id, "a refresh was superseded by a newer change");
        let detail =
            "a reconnect or another refresh landed first; this refresh's outcome was discarded";
        self.events
            .record(
                connection,
                now,
                "refresh_superseded",
                "failure",
                detail,
                None,
            )
            .await;
        self.cache.forget(&connection.id);
        let current = self.read_current(ws, &connection.id).await?;
        self.refuse_unusable(ws, &current).await?;
        Ok(current)
    }

    /// Persists a refreshed token set before anyone is answered; retried because a rotated
    /// refresh token that is not saved is lost for good.
    async fn persist_success(
        &self,
        id: &ConnectionId,
        base: i64,
        tokens: &TokenSet,
        now: DateTime<Utc>,
    ) -> Result<bool, TokenError> {
        // A rotated refresh token that is not saved is lost for good: keep trying for as long
        // as the lease lets us, backing off from 50 ms to 1 s.
        let deadline = Instant::now() + self.lease / 2;
        let mut pause = Duration::from_millis(50);
        loop {
            match self
                .store
                .record_refresh_success(id, &self.owner, Some(base), tokens, now)
                .await
            {
                Ok(landed) => return Ok(landed),
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
        ws: &WorkspaceId,
        connection: &Connection,
        connector: &Connector,
        base: i64,
        err: &OAuthError,
    ) -> RefreshResult {
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
        let update = failure_update(verdict, &found, connection, connector, err, now);
        let landed = self
            .store
            .record_refresh_failure(&connection.id, &self.owner, Some(base), &update)
            .await?;
        if !landed {
            return self.superseded(ws, connection, now).await;
        }
        self.cache.forget(&connection.id);
        self.record_failure(connection, &update, err, provider_error.as_ref(), now)
            .await;
        Err(match update.status {
            ConnectionStatus::Expired => TokenError::Expired {
                status_reason: update.status_reason,
                diagnosis: update.diagnosis,
            },
            _ => {
                let wait = update
                    .next_retry_at
                    .map_or(60, |at| (at - now).num_seconds().max(1).unsigned_abs());
                let why = Some((update.status_reason, update.diagnosis));
                unavailable(&format!("refreshing failed: {err}"), wait, why)
            }
        })
    }

    /// The `refresh_failed` event, and `status_changed` when the status moved.
    async fn record_failure(
        &self,
        connection: &Connection,
        update: &FailureUpdate,
        err: &OAuthError,
        provider_error: Option<&ProviderError>,
        now: DateTime<Utc>,
    ) {
        let provider_json = provider_error.and_then(|e| serde_json::to_value(e).ok());
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
        if connection.status != update.status {
            let detail = format!(
                "{} -> {}: {}",
                connection.status, update.status, update.status_reason
            );
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
    }
}

/// What a failed refresh writes: expired, degraded until the connector changes, or degraded
/// with the next retry after a jittered backoff (never sooner than the provider's
/// `Retry-After`, capped at an hour).
fn failure_update(
    verdict: Verdict,
    found: &Diagnosis,
    connection: &Connection,
    connector: &Connector,
    err: &OAuthError,
    now: DateTime<Utc>,
) -> FailureUpdate {
    let failures = connection.refresh_failures + 1;
    let (status, next_retry_at, generation) = match verdict {
        Verdict::Expired(_) => (ConnectionStatus::Expired, None, None),
        Verdict::ConnectorProblem(_) => {
            (ConnectionStatus::Degraded, None, Some(connector.generation))
        }
        Verdict::Transient(_) => {
            let delay = retry_delay(failures.unsigned_abs(), rand::random::<f64>());
            let asked = err
                .retry_after_seconds()
                .map(|secs| chrono::Duration::seconds(secs.min(3600) as i64));
            let wait = asked.map_or(delay, |asked| delay.max(asked));
            (ConnectionStatus::Degraded, Some(now + wait), None)
        }
    };
    FailureUpdate {
        status,
        status_reason: found.cause.as_str().to_owned(),
        diagnosis: serde_json::to_value(found).ok(),
        refresh_failures: failures,
        next_retry_at,
        failed_connector_generation: generation,
    }
}
