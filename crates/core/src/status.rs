//! Connection statuses, as the API defines them (api.md, Connections).

use serde::{Deserialize, Serialize};

use crate::wire::wire_enum;

// Declared in the order the API lists them, which `ConnectionStatus::ALL` keeps.
wire_enum! {
    /// Where a connection stands.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(rename_all = "snake_case")]
    pub enum ConnectionStatus {
        /// Usable.
        Active => "active",
        /// The last refresh failed for a reason that may pass; the current access token is still
        /// served while valid and tether retries with backoff.
        Degraded => "degraded",
        /// The provider refused the refresh token for good; only a reconnect fixes it.
        Expired => "expired",
        /// Removed through tether.
        Disconnected => "disconnected",
    }
    unknown: UnknownStatus
}

impl ConnectionStatus {
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

/// A status name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {0:?}: expected active, degraded, expired or disconnected")]
pub struct UnknownStatus(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_name_is_case_sensitive() {
        assert!("Expired".parse::<ConnectionStatus>().is_err());
    }

    #[test]
    fn expired_is_shown_as_connection_expired() {
        assert_eq!(ConnectionStatus::Expired.label(), "Connection Expired");
    }
}
