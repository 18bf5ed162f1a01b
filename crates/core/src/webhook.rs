//! Webhooks, as rules: the event types tether tells an app about, which change of a
//! connection raises which, how a delivery stands, and when a failed delivery is tried again.
//! Sending, signing and storing them live in the server and the store.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::EventKind;
use crate::status::ConnectionStatus;
use crate::wire::wire_enum;

// Declared in the order the documentation lists them, which `WebhookEventType::ALL` keeps.
wire_enum! {
    /// What a webhook tells an app.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum WebhookEventType {
        /// A connect flow created a connection.
        ConnectionCreated => "connection.created",
        /// A reconnect replaced a connection's tokens.
        ConnectionReconnected => "connection.reconnected",
        /// A refresh failed (the connection may still be active or degraded).
        ConnectionRefreshFailed => "connection.refresh_failed",
        /// The connection became degraded (a failure that may pass; tether retries).
        ConnectionDegraded => "connection.degraded",
        /// A degraded or expired connection is active again without a reconnect.
        ConnectionRecovered => "connection.recovered",
        /// The provider refused the connection for good: only a reconnect (or an admin's fix of a
        /// recoverable cause) brings it back.
        ConnectionExpired => "connection.expired",
        /// A lifetime policy will end the connection soon.
        ConnectionExpiringSoon => "connection.expiring_soon",
        /// The connection was removed (status `disconnected`).
        ConnectionDeleted => "connection.deleted",
        /// tether stopped delivering to a webhook whose every attempt failed for 3 days.
        WebhookDisabled => "webhook.disabled",
    }
    unknown: UnknownEventType
}

impl WebhookEventType {
    /// The webhook event a history entry of `kind` raises, given the connection's status
    /// once the change it records is written; `None` for entries an app is not told about
    /// (a routine refresh, a check, a keep-alive, ...).
    ///
    /// A status change names where the connection went; a recovery from `expired` records
    /// both a status change to `active` and a `recovered` entry, and is told once.
    pub fn raised_by(kind: EventKind, status_after: ConnectionStatus) -> Option<Self> {
        match kind {
            EventKind::Connected => Some(Self::ConnectionCreated),
            EventKind::Reconnected => Some(Self::ConnectionReconnected),
            EventKind::RefreshFailed => Some(Self::ConnectionRefreshFailed),
            EventKind::LifetimeWarning => Some(Self::ConnectionExpiringSoon),
            EventKind::StatusChanged => Some(match status_after {
                ConnectionStatus::Active => Self::ConnectionRecovered,
                ConnectionStatus::Degraded => Self::ConnectionDegraded,
                ConnectionStatus::Expired => Self::ConnectionExpired,
                ConnectionStatus::Disconnected => Self::ConnectionDeleted,
            }),
            _ => None,
        }
    }

    /// Whether some history entry can raise the type (everything but `webhook.disabled`):
    /// only entries of these kinds make the store look for webhooks to tell.
    pub fn may_be_raised_by(kind: EventKind) -> bool {
        Self::raised_by(kind, ConnectionStatus::Active).is_some()
    }
}

/// A name that is not a webhook event type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown webhook event type {0:?}: expected one of {names}", names = type_names())]
pub struct UnknownEventType(pub String);

/// Every type's name, comma-separated.
fn type_names() -> String {
    WebhookEventType::ALL
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Serialize for WebhookEventType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for WebhookEventType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

wire_enum! {
    /// How one event's delivery to one webhook stands.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum DeliveryStatus {
        /// Not yet answered 2xx; another attempt is scheduled.
        Pending => "pending",
        /// Answered 2xx once; never sent again.
        Delivered => "delivered",
        /// Every attempt of the retry schedule failed.
        Failed => "failed",
    }
    unknown: UnknownEventType
}

/// The default retry schedule: the waits after the 1st, 2nd, ... failed attempt (5 s, 5 min,
/// 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts over about 27.5 hours).
pub const DEFAULT_RETRY_SECONDS: [u64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];

/// A webhook whose every attempt failed for this long is disabled.
pub const DISABLE_AFTER: chrono::Duration = chrono::Duration::days(3);

/// How long a rotated-out secret still signs, next to the new one.
pub const PREVIOUS_SECRET_SIGNS_FOR: chrono::Duration = chrono::Duration::hours(24);

/// The wait before the next attempt of a delivery that has now failed `failed_attempts`
/// times (1 after its first attempt), or `None` when the schedule is used up and the delivery
/// has failed.
pub fn retry_after(schedule: &[Duration], failed_attempts: u32) -> Option<Duration> {
    let index = usize::try_from(failed_attempts).ok()?.checked_sub(1)?;
    schedule.get(index).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_type_is_refused_naming_every_known_one() {
        let refused = "connection.exploded".parse::<WebhookEventType>();
        assert_eq!(
            refused.err().map(|e| e.to_string()).unwrap_or_default(),
            "unknown webhook event type \"connection.exploded\": expected one of \
             connection.created, connection.reconnected, connection.refresh_failed, \
             connection.degraded, connection.recovered, connection.expired, \
             connection.expiring_soon, connection.deleted, webhook.disabled"
        );
    }

    #[test]
    fn a_status_change_is_told_by_where_the_connection_went() {
        use ConnectionStatus::*;
        let told = |status| WebhookEventType::raised_by(EventKind::StatusChanged, status);
        assert_eq!(told(Degraded), Some(WebhookEventType::ConnectionDegraded));
        assert_eq!(told(Expired), Some(WebhookEventType::ConnectionExpired));
        assert_eq!(told(Active), Some(WebhookEventType::ConnectionRecovered));
        assert_eq!(
            told(Disconnected),
            Some(WebhookEventType::ConnectionDeleted)
        );
    }

    #[test]
    fn routine_entries_and_the_second_record_of_a_recovery_raise_nothing() {
        for kind in [
            EventKind::Refreshed,
            EventKind::Checked,
            EventKind::KeptAlive,
            EventKind::Revoked,
            EventKind::Proxied401,
            EventKind::Recovered,
            EventKind::RefreshSuperseded,
        ] {
            assert!(!WebhookEventType::may_be_raised_by(kind), "{kind}");
        }
        assert_eq!(
            WebhookEventType::raised_by(EventKind::LifetimeWarning, ConnectionStatus::Active),
            Some(WebhookEventType::ConnectionExpiringSoon)
        );
    }

    #[test]
    fn the_schedule_gives_one_wait_per_failure_then_none() {
        let schedule: Vec<Duration> = DEFAULT_RETRY_SECONDS
            .iter()
            .map(|s| Duration::from_secs(*s))
            .collect();
        assert_eq!(retry_after(&schedule, 0), None);
        assert_eq!(retry_after(&schedule, 1), Some(Duration::from_secs(5)));
        assert_eq!(retry_after(&schedule, 7), Some(Duration::from_secs(36_000)));
        assert_eq!(retry_after(&schedule, 8), None, "eight attempts in all");
        assert_eq!(retry_after(&schedule, u32::MAX), None);
        let total: u64 = DEFAULT_RETRY_SECONDS.iter().sum();
        assert_eq!(total, 99_305, "about 27.5 hours");
    }
}
