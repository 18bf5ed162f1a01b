//! What a failed refresh writes: the classification (`tether_core::refresh::classify`), the
//! probe of the access token after an `invalid_grant`, the diagnosis, the new status and
//! backoff, the events and the connector's policy evidence, all landed together.

use chrono::{DateTime, Utc};
use tether_core::backoff::{recheck_delay, retry_delay};
use tether_core::cause::Cause;
use tether_core::diagnosis::{AccessProbe, Diagnosis};
use tether_core::event::{EventKind, Outcome};
use tether_core::refresh::{Grant, ProviderError, Verdict, classify};
use tether_core::status::ConnectionStatus;
use tether_oauth::OAuthError;
use tether_store::{
    Connection, Connector, EvidenceChange, FailureUpdate, NewEvent, RefreshContext, Store,
};

use super::service::TokenError;
use crate::service::diagnosis::{self, FailedRefresh, OwnFault};

/// The longest a provider's `Retry-After` is honoured.
const MAX_RETRY_AFTER_SECONDS: u64 = 3600;

/// A failed refresh, ready to land.
#[derive(Debug)]
pub(super) struct Failure {
    pub update: FailureUpdate,
    /// What the refusal teaches about the connector's refresh-token policy.
    pub evidence: Option<EvidenceChange>,
    provider_error: Option<ProviderError>,
    previous: ConnectionStatus,
}

impl Failure {
    /// Classifies `err` and diagnoses it with `probe` (asked only after `invalid_grant`) and
    /// what tether knows of its own part.
    pub async fn of(
        store: &dyn Store,
        ctx: &RefreshContext,
        err: &OAuthError,
        own: OwnFault,
        probe: Option<AccessProbe>,
        now: DateTime<Utc>,
    ) -> Result<Self, TokenError> {
        let grant = ctx.connector.input.grant;
        let verdict = classify(&err.as_refresh_failure(), grant);
        let provider_error = err.provider_error().cloned();
        let failed = FailedRefresh {
            ctx,
            provider_error: provider_error.as_ref(),
            own,
            probe,
            now,
        };
        let found = diagnosis::for_refresh_failure(store, &failed, verdict).await?;
        Ok(Self {
            evidence: diagnosis::death(&found),
            update: update(verdict, found, &ctx.connection, &ctx.connector, err, now),
            provider_error,
            previous: ctx.connection.status,
        })
    }

    /// Whether the refusal is the provider saying the refresh token is dead for no reason it
    /// named (`invalid_grant` / `expired access/refresh token`): only then does the access
    /// token's fate tell the causes apart.
    pub fn wants_probe(err: &OAuthError, grant: Grant) -> bool {
        let verdict = classify(&err.as_refresh_failure(), grant);
        verdict == Verdict::Expired(Cause::RefreshTokenRevoked)
    }

    /// The `refresh_failed` event, and `status_changed` when the status moves.
    pub fn events(
        &self,
        connection: &Connection,
        err: &OAuthError,
        now: DateTime<Utc>,
    ) -> Vec<NewEvent> {
        let event = |kind, detail: String| {
            NewEvent::of(connection, now, kind, Outcome::Failure, detail)
                .with_provider_error(self.provider_error.clone())
        };
        let mut events = vec![event(
            EventKind::RefreshFailed,
            format!("refresh failed: {err}"),
        )];
        if self.previous != self.update.status {
            let detail = format!(
                "{} -> {}: {}",
                self.previous, self.update.status, self.update.cause
            );
            events.push(event(EventKind::StatusChanged, detail));
        }
        events
    }

    /// What the caller is told.
    pub fn into_error(self, err: &OAuthError, now: DateTime<Utc>) -> TokenError {
        let update = self.update;
        let diagnosis = update.diagnosis.map(Box::new);
        match update.status {
            ConnectionStatus::Expired => TokenError::Expired {
                cause: update.cause,
                diagnosis,
            },
            _ => {
                let wait = update.next_retry_at.map_or(60, |at| {
                    u64::try_from((at - now).num_seconds().max(1)).unwrap_or(1)
                });
                TokenError::Unavailable {
                    detail: format!("refreshing failed: {err}"),
                    retry_after_seconds: wait,
                    cause: Some(update.cause),
                    diagnosis,
                }
            }
        }
    }
}

/// Expired (rechecked when the refusal left the credential alive), degraded by the connector
/// (tried again when the connector changes, or rechecked like a recoverable expiry, since
/// the fix may be made in Salesforce), or degraded with the next retry after a jittered
/// backoff (never sooner than the provider's `Retry-After`, capped at an hour).
fn update(
    verdict: Verdict,
    found: Diagnosis,
    connection: &Connection,
    connector: &Connector,
    err: &OAuthError,
    now: DateTime<Utc>,
) -> FailureUpdate {
    let failures = connection.refresh_failures.saturating_add(1);
    let (status, next_retry_at, generation) = match verdict {
        // Salesforce left the refresh token alive: rechecked until a person fixes the setting.
        Verdict::Expired(cause) if cause.is_recoverable() => (
            ConnectionStatus::Expired,
            now.checked_add_signed(recheck_delay(failures.unsigned_abs())),
            None,
        ),
        Verdict::Expired(_) => (ConnectionStatus::Expired, None, None),
        Verdict::ConnectorProblem(_) => (
            ConnectionStatus::Degraded,
            now.checked_add_signed(recheck_delay(failures.unsigned_abs())),
            Some(connector.generation),
        ),
        Verdict::Transient(_) => {
            let delay = retry_delay(failures.unsigned_abs(), rand::random::<f64>());
            let asked = err
                .retry_after_seconds()
                .map(|secs| secs.min(MAX_RETRY_AFTER_SECONDS))
                .and_then(|secs| chrono::Duration::try_seconds(i64::try_from(secs).ok()?));
            let wait = asked.map_or(delay, |asked| delay.max(asked));
            (
                ConnectionStatus::Degraded,
                now.checked_add_signed(wait),
                None,
            )
        }
    };
    FailureUpdate {
        status,
        cause: found.cause,
        diagnosis: Some(found),
        refresh_failures: failures,
        next_retry_at,
        failed_connector_generation: generation,
        // Only a refresh token can be rotated away by an answer that never came.
        unanswered: connector.input.grant.uses_refresh_tokens() && err.answer_may_be_lost(),
        salvaged_refresh_token: err.salvaged_refresh_token().cloned(),
    }
}
