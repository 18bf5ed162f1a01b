//! Connection statuses, as the API defines them (api.md, Connections).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Usable.
    Active,
    /// The last refresh failed for a reason that may pass; the current access token is still
    /// served while valid and tether retries with backoff.
    Degraded,
    /// The provider refused the refresh token for good; only a reconnect fixes it.
    Expired,
    /// Removed through tether.
    Disconnected,
}

impl ConnectionStatus {
    /// Every status, in the order the API lists them.
    pub const ALL: [Self; 4] = [
        Self::Active,
        Self::Degraded,
        Self::Expired,
        Self::Disconnected,
    ];

    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Degraded => "degraded",
            Self::Expired => "expired",
            Self::Disconnected => "disconnected",
        }
    }

    /// What a person sees on the connectors page.
    pub fn label(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Degraded => "Degraded",
            Self::Expired => "Connection Expired",
            Self::Disconnected => "Disconnected",
        }
    }

    /// Whether tether may still hand out (and refresh) tokens for the connection.
    pub fn serves_tokens(self) -> bool {
        matches!(self, Self::Active | Self::Degraded)
    }
}

impl fmt::Display for ConnectionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {0:?}: expected active, degraded, expired or disconnected")]
pub struct UnknownStatus(pub String);

impl FromStr for ConnectionStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, UnknownStatus> {
        match s {
            "active" => Ok(Self::Active),
            "degraded" => Ok(Self::Degraded),
            "expired" => Ok(Self::Expired),
            "disconnected" => Ok(Self::Disconnected),
            other => Err(UnknownStatus(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in [
            ConnectionStatus::Active,
            ConnectionStatus::Degraded,
            ConnectionStatus::Expired,
            ConnectionStatus::Disconnected,
        ] {
            assert_eq!(s.as_str().parse::<ConnectionStatus>(), Ok(s));
        }
        assert!("Expired".parse::<ConnectionStatus>().is_err());
    }

    #[test]
    fn expired_is_shown_as_connection_expired() {
        assert_eq!(ConnectionStatus::Expired.label(), "Connection Expired");
    }
}
