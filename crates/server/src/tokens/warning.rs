//! Warning before a lifetime policy ends a connection.
//!
//! When the connector's admin said (or tether has inferred from other connections) that the
//! Connected App has "Expire refresh token after N", a connection whose refresh token has
//! lived four fifths of N gets one `lifetime_warning` event after a refresh, saying how long
//! is left and what to do, so the user reconnects before Salesforce says `invalid_grant`.

use chrono::{DateTime, Duration, Utc};
use tether_core::diagnosis::PolicyHint;
use tether_core::diagnosis::engine::human;
use tether_core::diagnosis::inference::InferredPolicy;
use tether_core::expiry::lifetime_warning;
use tether_store::{Connection, Connector};

use super::engine::TokenService;
use crate::diagnosis::inferred_policy;

/// The event kind of the warning.
pub const LIFETIME_WARNING: &str = "lifetime_warning";

impl TokenService {
    /// Records the warning once per approval when the token is in the last fifth of a known
    /// lifetime policy.
    pub(super) async fn warn_before_lifetime(
        &self,
        connection: &Connection,
        connector: &Connector,
        now: DateTime<Utc>,
    ) {
        let Some(lifetime) = self.known_lifetime(connector).await else {
            return;
        };
        let approved = connection
            .refresh_token_issued_at
            .unwrap_or(connection.created_at);
        let Some(left) = lifetime_warning(now - approved, lifetime) else {
            return;
        };
        if self.already_warned(connection).await {
            return;
        }
        let detail = format!(
            "Salesforce will expire this connection's refresh token in about {} (\"Expire refresh token after {}\"): reconnect it before then, or set the Connected App's Refresh Token Policy to \"Refresh token is valid until revoked\"",
            human(left.num_seconds()),
            human(lifetime.num_seconds())
        );
        self.events
            .record(connection, now, LIFETIME_WARNING, "warning", &detail, None)
            .await;
    }

    /// The lifetime policy the admin declared, else the one inferred (its lower bound, so the
    /// warning comes early rather than late).
    async fn known_lifetime(&self, connector: &Connector) -> Option<Duration> {
        let hint = connector.input.refresh_token_policy.as_ref();
        if let Some(PolicyHint::Lifetime { seconds }) = hint.and_then(PolicyHint::from_json) {
            return Some(Duration::seconds(seconds));
        }
        match inferred_policy(self.store.as_ref(), connector).await {
            Ok(Some(InferredPolicy::Lifetime {
                at_least_seconds, ..
            })) => Some(Duration::seconds(at_least_seconds)),
            _ => None,
        }
    }

    /// Whether this approval (since the last connect or reconnect) was already warned about.
    async fn already_warned(&self, connection: &Connection) -> bool {
        let recent = self
            .store
            .list_events(&connection.workspace_id, &connection.id, None, 50)
            .await
            .unwrap_or_default();
        recent
            .iter()
            .take_while(|e| e.event.kind != "reconnected" && e.event.kind != "connected")
            .any(|e| e.event.kind == LIFETIME_WARNING)
    }
}
