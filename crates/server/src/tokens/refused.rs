//! A token the provider issued but its API refuses: the refresh worked, yet Salesforce
//! answers "This session is not valid for use with the REST API" to the new access token too.
//! The connection cannot be used and refreshing again cannot help, so it expires with the
//! proxy's diagnosis, landed like a failed refresh (same statement, same fence on the token
//! version) but without a lease or an attempt record: nothing is sent to the provider.

use tether_core::backoff::recheck_delay;
use tether_core::diagnosis::Diagnosis;
use tether_core::event::{EventKind, Outcome};
use tether_core::ids::{ConnectionId, WorkspaceId};
use tether_core::secret::AccessToken;
use tether_core::status::ConnectionStatus;
use tether_store::{FailureUpdate, Landing, NewEvent, RefreshOutcome};

use super::service::{TokenError, TokenService};

impl TokenService {
    /// Expires the connection with `diagnosis` if `refused` is still its current access
    /// token (a later refresh or a reconnect wins); `true` when it expired.
    pub async fn expire_refused(
        &self,
        ws: &WorkspaceId,
        id: &ConnectionId,
        refused: &AccessToken,
        diagnosis: Diagnosis,
    ) -> Result<bool, TokenError> {
        let current = self.read_current(ws, id).await?;
        let still_current = current.access_token.as_ref() == Some(refused);
        if !still_current || !current.status.serves_tokens() {
            return Ok(false);
        }
        let connection = self
            .store
            .get_connection(ws, id)
            .await?
            .ok_or(TokenError::NotFound)?;
        let now = self.clock.now();
        let cause = diagnosis.cause;
        let failures = connection.refresh_failures.saturating_add(1);
        let recheck = cause
            .is_recoverable()
            .then(|| now.checked_add_signed(recheck_delay(failures.unsigned_abs())))
            .flatten();
        let detail = format!(
            "{} -> expired: {cause} (the provider issued a new access token and its API refused that one too)",
            connection.status
        );
        let event = NewEvent::of(
            &connection,
            now,
            EventKind::StatusChanged,
            Outcome::Failure,
            detail,
        )
        .with_provider_error(diagnosis.provider_error.clone());
        let landing = Landing {
            outcome: RefreshOutcome::Failed(FailureUpdate {
                status: ConnectionStatus::Expired,
                cause,
                diagnosis: Some(diagnosis),
                refresh_failures: failures,
                next_retry_at: recheck,
                failed_connector_generation: None,
                unanswered: false,
                salvaged_refresh_token: None,
            }),
            events: vec![event],
            evidence: None,
        };
        let landed = self
            .store
            .land_refresh(ws, id, &self.owner, current.token_version, &landing)
            .await?;
        self.wake_scheduler();
        self.cache.forget(id);
        Ok(landed)
    }
}
