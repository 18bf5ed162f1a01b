//! What a connection's history records: the kinds of events and their outcomes, as types
//! with the wire names the API has always used.

use serde::{Deserialize, Serialize};

use crate::wire::wire_enum;

wire_enum! {
    /// The kind of an entry in a connection's history.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(rename_all = "snake_case")]
    pub enum EventKind {
        /// A connect flow created the connection.
        Connected => "connected",
        /// A reconnect replaced the connection's tokens.
        Reconnected => "reconnected",
        /// A refresh obtained a new access token.
        Refreshed => "refreshed",
        /// A refresh failed (the outcome says how).
        RefreshFailed => "refresh_failed",
        /// The status moved (`active -> expired`, ...).
        StatusChanged => "status_changed",
        /// A check asked the provider whether the connection is live.
        Checked => "checked",
        /// tether revoked a refresh token at the provider.
        Revoked => "revoked",
        /// The provider answered a proxied call 401 (its token or session refused).
        #[serde(rename = "proxied_401")]
        Proxied401 => "proxied_401",
        /// The provider answered a proxied call 403 for a reason tether notes (API disabled).
        #[serde(rename = "proxied_403")]
        Proxied403 => "proxied_403",
        /// The keep-alive used an idle refresh token.
        KeptAlive => "kept_alive",
        /// A lifetime policy will end the connection soon.
        LifetimeWarning => "lifetime_warning",
        /// A refresh attempt was found interrupted (a crash, or an answer that never came) after
        /// it may have reached the provider.
        RefreshInterrupted => "refresh_interrupted",
        /// A reconnect or another refresh landed first; this refresh's outcome was discarded.
        RefreshSuperseded => "refresh_superseded",
        /// Older databases only: a rotated refresh token could not be saved.
        RefreshUnsaved => "refresh_unsaved",
        /// An expired or degraded connection works again without a reconnect.
        Recovered => "recovered",
    }
    unknown: UnknownEventName::kind
}

impl EventKind {
    /// Whether the event starts a new approval (a new refresh token chain).
    pub fn starts_approval(self) -> bool {
        matches!(self, EventKind::Connected | EventKind::Reconnected)
    }
}

wire_enum! {
    /// How an event ended.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(rename_all = "snake_case")]
    pub enum Outcome {
        Success => "success",
        Failure => "failure",
        Warning => "warning",
    }
    unknown: UnknownEventName::outcome
}

impl Outcome {
    /// A success or a failure.
    pub fn of(ok: bool) -> Self {
        if ok {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }
}

/// A stored name that is not a known kind or outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event {what} {name:?}")]
pub struct UnknownEventName {
    what: &'static str,
    name: String,
}

impl UnknownEventName {
    fn kind(name: String) -> Self {
        Self { what: "kind", name }
    }

    fn outcome(name: String) -> Self {
        Self {
            what: "outcome",
            name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_kinds_are_refused_and_outcomes_parse_from_their_names() {
        assert!("exploded".parse::<EventKind>().is_err());
        assert_eq!("warning".parse::<Outcome>(), Ok(Outcome::Warning));
    }
}
