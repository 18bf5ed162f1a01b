//! What a connection's history records: the kinds of events and their outcomes, as types
//! with the wire names the API has always used.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The kind of an entry in a connection's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A connect flow created the connection.
    Connected,
    /// A reconnect replaced the connection's tokens.
    Reconnected,
    /// A refresh obtained a new access token.
    Refreshed,
    /// A refresh failed (the outcome says how).
    RefreshFailed,
    /// The status moved (`active -> expired`, ...).
    StatusChanged,
    /// A check asked the provider whether the connection is live.
    Checked,
    /// tether revoked a refresh token at the provider.
    Revoked,
    /// The provider answered a proxied call 401 (its token or session refused).
    #[serde(rename = "proxied_401")]
    Proxied401,
    /// The provider answered a proxied call 403 for a reason tether notes (API disabled).
    #[serde(rename = "proxied_403")]
    Proxied403,
    /// The keep-alive used an idle refresh token.
    KeptAlive,
    /// A lifetime policy will end the connection soon.
    LifetimeWarning,
    /// A refresh attempt was found interrupted (a crash, or an answer that never came) after
    /// it may have reached the provider.
    RefreshInterrupted,
    /// A reconnect or another refresh landed first; this refresh's outcome was discarded.
    RefreshSuperseded,
    /// Older databases only: a rotated refresh token could not be saved.
    RefreshUnsaved,
    /// An expired or degraded connection works again without a reconnect.
    Recovered,
}

impl EventKind {
    /// Every kind, for parsing.
    pub const ALL: [EventKind; 15] = [
        EventKind::Connected,
        EventKind::Reconnected,
        EventKind::Refreshed,
        EventKind::RefreshFailed,
        EventKind::StatusChanged,
        EventKind::Checked,
        EventKind::Revoked,
        EventKind::Proxied401,
        EventKind::Proxied403,
        EventKind::KeptAlive,
        EventKind::LifetimeWarning,
        EventKind::RefreshInterrupted,
        EventKind::RefreshSuperseded,
        EventKind::RefreshUnsaved,
        EventKind::Recovered,
    ];

    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Connected => "connected",
            EventKind::Reconnected => "reconnected",
            EventKind::Refreshed => "refreshed",
            EventKind::RefreshFailed => "refresh_failed",
            EventKind::StatusChanged => "status_changed",
            EventKind::Checked => "checked",
            EventKind::Revoked => "revoked",
            EventKind::Proxied401 => "proxied_401",
            EventKind::Proxied403 => "proxied_403",
            EventKind::KeptAlive => "kept_alive",
            EventKind::LifetimeWarning => "lifetime_warning",
            EventKind::RefreshInterrupted => "refresh_interrupted",
            EventKind::RefreshSuperseded => "refresh_superseded",
            EventKind::RefreshUnsaved => "refresh_unsaved",
            EventKind::Recovered => "recovered",
        }
    }

    /// Whether the event starts a new approval (a new refresh token chain).
    pub fn starts_approval(self) -> bool {
        matches!(self, EventKind::Connected | EventKind::Reconnected)
    }
}

/// How an event ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    Warning,
}

impl Outcome {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Warning => "warning",
        }
    }

    /// A success or a failure.
    pub fn of(ok: bool) -> Self {
        if ok {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored name that is not a known kind or outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event {what} {name:?}")]
pub struct UnknownEventName {
    what: &'static str,
    name: String,
}

impl FromStr for EventKind {
    type Err = UnknownEventName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownEventName {
                what: "kind",
                name: s.to_owned(),
            })
    }
}

impl FromStr for Outcome {
    type Err = UnknownEventName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Outcome::Success, Outcome::Failure, Outcome::Warning]
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownEventName {
                what: "outcome",
                name: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_wire_name() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>(), Ok(kind));
            let json = serde_json::to_string(&kind).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert!("exploded".parse::<EventKind>().is_err());
        assert_eq!("warning".parse::<Outcome>(), Ok(Outcome::Warning));
    }
}
