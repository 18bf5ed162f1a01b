//! Classifying a failed refresh: expired for good, a connector problem, or transient.
//!
//! The rule tether lives by: an outage is never called "expired". Only a definitive refusal of
//! the refresh token by the provider expires a connection; a refusal of the connector's own
//! credentials degrades every connection of that connector until the connector changes;
//! anything that may pass (timeouts, connection errors, 5xx, 429, garbage) degrades and is
//! retried with backoff.

use serde::{Deserialize, Serialize};

use crate::cause::Cause;

/// An OAuth error body (`{"error", "error_description"}`) as the provider sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderError {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

impl ProviderError {
    /// An error with a description.
    pub fn new(error: &str, description: &str) -> Self {
        Self {
            error: error.to_owned(),
            error_description: Some(description.to_owned()),
        }
    }

    fn description(&self) -> &str {
        self.error_description.as_deref().unwrap_or("")
    }
}

/// How a refresh attempt failed, as seen from tether.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshFailure {
    /// The provider answered with an OAuth error body.
    Provider {
        http_status: u16,
        error: ProviderError,
    },
    /// The provider answered an HTTP status without a usable OAuth error body.
    HttpStatus { http_status: u16 },
    /// No answer in time.
    Timeout,
    /// The connection could not be made or broke.
    Network,
    /// A 2xx answer that is not a token response.
    InvalidResponse,
}

/// What a failure means for the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The refresh token is dead: status `expired`.
    Expired(Cause),
    /// The connector's credentials or installation are refused: status `degraded`, no retry
    /// until the connector changes.
    ConnectorProblem(Cause),
    /// May pass: status `degraded`, retry with backoff.
    Transient(Cause),
}

impl Verdict {
    /// The cause, whatever the verdict.
    pub fn cause(self) -> Cause {
        match self {
            Verdict::Expired(c) | Verdict::ConnectorProblem(c) | Verdict::Transient(c) => c,
        }
    }
}

/// Classifies a failed refresh. The expired causes here are the first reading; the diagnosis
/// engine refines `refresh_token_revoked` with evidence (token age, idle time, approvals).
pub fn classify(failure: &RefreshFailure) -> Verdict {
    match failure {
        RefreshFailure::Provider { http_status, error } => classify_provider(*http_status, error),
        RefreshFailure::HttpStatus { http_status: 429 } => Verdict::Transient(Cause::RateLimited),
        RefreshFailure::HttpStatus { .. }
        | RefreshFailure::Timeout
        | RefreshFailure::Network
        | RefreshFailure::InvalidResponse => Verdict::Transient(Cause::ProviderUnavailable),
    }
}

fn classify_provider(http_status: u16, error: &ProviderError) -> Verdict {
    if http_status == 429 || error.error == "rate_limit_exceeded" {
        return Verdict::Transient(Cause::RateLimited);
    }
    if http_status >= 500 {
        return Verdict::Transient(Cause::ProviderUnavailable);
    }
    let description = error.description().to_ascii_lowercase();
    match error.error.as_str() {
        "invalid_grant" if description.contains("ip restricted") => {
            Verdict::Expired(Cause::IpRestricted)
        }
        "invalid_grant" if description.contains("hasn't approved") => {
            Verdict::Expired(Cause::UserNotApproved)
        }
        "invalid_grant" if description.contains("token validity expired") => {
            Verdict::Expired(Cause::RefreshTokenPolicyLifetime)
        }
        "invalid_grant" => Verdict::Expired(Cause::RefreshTokenRevoked),
        "invalid_app_access" => Verdict::Expired(Cause::UserNotApproved),
        "inactive_user" => Verdict::Expired(Cause::UserInactive),
        "inactive_org" => Verdict::Expired(Cause::OrgInactive),
        "invalid_client" if description.contains("must be installed") => {
            Verdict::ConnectorProblem(Cause::AppNotInstalled)
        }
        "app_not_found" => Verdict::ConnectorProblem(Cause::AppNotInstalled),
        "invalid_client" | "invalid_client_id" | "unauthorized_client" => {
            Verdict::ConnectorProblem(Cause::ClientCredentialsInvalid)
        }
        // An error tether does not know is not proof the token is dead (a proxy, a WAF or a
        // new Salesforce code may answer it): degrade and retry rather than expire.
        _ => Verdict::Transient(Cause::UnrecognizedProviderError),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(error: &str, description: &str) -> RefreshFailure {
        RefreshFailure::Provider {
            http_status: 400,
            error: ProviderError::new(error, description),
        }
    }

    #[test]
    fn invalid_grant_expires_the_connection() {
        assert_eq!(
            classify(&provider("invalid_grant", "expired access/refresh token")),
            Verdict::Expired(Cause::RefreshTokenRevoked)
        );
        assert_eq!(
            classify(&provider(
                "invalid_grant",
                "IP restricted or invalid login hours"
            )),
            Verdict::Expired(Cause::IpRestricted)
        );
    }

    #[test]
    fn a_wrong_client_secret_is_a_connector_problem_not_an_expiry() {
        assert_eq!(
            classify(&provider("invalid_client", "invalid client credentials")),
            Verdict::ConnectorProblem(Cause::ClientCredentialsInvalid)
        );
        assert_eq!(
            classify(&provider(
                "invalid_client",
                "app must be installed into org"
            )),
            Verdict::ConnectorProblem(Cause::AppNotInstalled)
        );
    }

    #[test]
    fn outages_are_never_expiries() {
        for failure in [
            RefreshFailure::Timeout,
            RefreshFailure::Network,
            RefreshFailure::InvalidResponse,
            RefreshFailure::HttpStatus { http_status: 503 },
            RefreshFailure::Provider {
                http_status: 503,
                error: ProviderError::new("invalid_grant", "maintenance"),
            },
        ] {
            assert_eq!(
                classify(&failure),
                Verdict::Transient(Cause::ProviderUnavailable)
            );
        }
        assert_eq!(
            classify(&RefreshFailure::HttpStatus { http_status: 429 }),
            Verdict::Transient(Cause::RateLimited)
        );
        for code in ["server_error", "temporarily_unavailable", "something_new"] {
            assert_eq!(
                classify(&provider(code, "try later")),
                Verdict::Transient(Cause::UnrecognizedProviderError),
                "{code}"
            );
        }
    }
}
