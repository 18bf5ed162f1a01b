//! Classifying a failed refresh: expired for good, a connector problem, or transient.
//!
//! The rule tether lives by: an outage is never called "expired". Only a definitive refusal of
//! the refresh token by the provider expires a connection; a refusal of the connector's own
//! credentials degrades every connection of that connector until the connector changes;
//! anything that may pass (timeouts, connection errors, 5xx, 429, garbage) degrades and is
//! retried with backoff.

use serde::{Deserialize, Serialize};

use crate::cause::Cause;
use crate::wire::wire_enum;

/// An OAuth error body (`{"error", "error_description"}`) as the provider sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

// The default first in `Grant::ALL`.
wire_enum! {
    /// How a connector gets its access tokens.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Grant {
        /// A person approves in the browser; tether keeps the refresh token and refreshes it.
        #[default]
        AuthorizationCode => "authorization_code",
        /// tether signs a JWT assertion for a pre-authorized user; no refresh token exists.
        JwtBearer => "jwt_bearer",
        /// The Connected App's Run As user; no refresh token exists.
        ClientCredentials => "client_credentials",
    }
    unknown: UnknownGrant
}

impl Grant {
    /// Whether connections of this grant hold a refresh token (and so can die of a
    /// refresh-token policy, the 5-approvals limit or a lost rotation). The other grants mint
    /// each access token anew.
    pub fn uses_refresh_tokens(self) -> bool {
        self == Grant::AuthorizationCode
    }
}

/// A grant name that is not one of the three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown grant {0:?}: expected authorization_code, jwt_bearer or client_credentials")]
pub struct UnknownGrant(pub String);

/// Classifies a failed refresh (or, for grants without refresh tokens, a failed token
/// request). The expired causes here are the first reading; the diagnosis engine refines
/// `refresh_token_revoked` with evidence (token age, idle time, approvals, the probe).
pub fn classify(failure: &RefreshFailure, grant: Grant) -> Verdict {
    match failure {
        RefreshFailure::Provider { http_status, error } => {
            classify_provider(*http_status, error, grant)
        }
        RefreshFailure::HttpStatus { http_status: 429 } => Verdict::Transient(Cause::RateLimited),
        RefreshFailure::HttpStatus { .. }
        | RefreshFailure::Timeout
        | RefreshFailure::Network
        | RefreshFailure::InvalidResponse => Verdict::Transient(Cause::ProviderUnavailable),
    }
}

fn classify_provider(http_status: u16, error: &ProviderError, grant: Grant) -> Verdict {
    if http_status == 429 || error.error == "rate_limit_exceeded" {
        return Verdict::Transient(Cause::RateLimited);
    }
    if http_status >= 500 {
        return Verdict::Transient(Cause::ProviderUnavailable);
    }
    let description = error.description().to_ascii_lowercase();
    let code = error.error.as_str();
    let specific = match grant {
        Grant::AuthorizationCode => None,
        Grant::JwtBearer => jwt_answer(code, &description),
        Grant::ClientCredentials => client_credentials_answer(code, &description),
    };
    let refresh_token = || match grant {
        Grant::AuthorizationCode => refresh_token_answer(code, &description),
        Grant::JwtBearer | Grant::ClientCredentials => None,
    };
    // An error tether does not know is not proof the token is dead (a proxy, a WAF or a
    // new Salesforce code may answer it): degrade and retry rather than expire.
    specific
        .or_else(|| any_grant_answer(code, &description))
        .or_else(refresh_token)
        .unwrap_or(Verdict::Transient(Cause::UnrecognizedProviderError))
}

/// Answers that mean the same on every grant.
fn any_grant_answer(code: &str, description: &str) -> Option<Verdict> {
    Some(match code {
        "invalid_grant" if description.contains("ip restricted") => {
            Verdict::Expired(Cause::IpRestricted)
        }
        "invalid_grant" if description.contains("hasn't approved") => {
            Verdict::Expired(Cause::UserNotApproved)
        }
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
        _ => return None,
    })
}

/// The refresh-token grant, once the specific answers are ruled out: any other
/// `invalid_grant` is a dead refresh token.
fn refresh_token_answer(code: &str, description: &str) -> Option<Verdict> {
    match code {
        "invalid_grant" if description.contains("token validity expired") => {
            Some(Verdict::Expired(Cause::RefreshTokenPolicyLifetime))
        }
        "invalid_grant" => Some(Verdict::Expired(Cause::RefreshTokenRevoked)),
        _ => None,
    }
}

/// The JWT bearer grant has no refresh token to die: its refusals are about the assertion
/// (the certificate, the audience, the expiry) or the user.
fn jwt_answer(code: &str, description: &str) -> Option<Verdict> {
    match code {
        "invalid_grant" if description.contains("invalid assertion") => {
            Some(Verdict::ConnectorProblem(Cause::JwtCertificateMismatch))
        }
        // `expired authorization code` on a JWT grant is the assertion's `exp`: a clock
        // problem, not a code.
        "invalid_grant"
            if description.contains("audience is invalid")
                || description.contains("expired authorization code") =>
        {
            Some(Verdict::ConnectorProblem(Cause::JwtRejected))
        }
        _ => None,
    }
}

/// The client credentials grant acts as the app's Run As user, so a refused user is the
/// connector's problem.
fn client_credentials_answer(code: &str, description: &str) -> Option<Verdict> {
    match code {
        "invalid_grant" if description.contains("no client credentials user enabled") => {
            Some(Verdict::ConnectorProblem(Cause::ClientCredentialsDisabled))
        }
        "inactive_user" => Some(Verdict::ConnectorProblem(Cause::RunAsUserInactive)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH_CODE: Grant = Grant::AuthorizationCode;

    fn provider(error: &str, description: &str) -> RefreshFailure {
        RefreshFailure::Provider {
            http_status: 400,
            error: ProviderError::new(error, description),
        }
    }

    /// The verdict on a 400 answer `{error, error_description}` to a token request of `grant`.
    fn classified(grant: Grant, error: &str, description: &str) -> Verdict {
        classify(&provider(error, description), grant)
    }

    #[test]
    fn invalid_grant_expires_the_connection() {
        assert_eq!(
            classified(AUTH_CODE, "invalid_grant", "expired access/refresh token"),
            Verdict::Expired(Cause::RefreshTokenRevoked)
        );
        assert_eq!(
            classified(
                AUTH_CODE,
                "invalid_grant",
                "IP restricted or invalid login hours"
            ),
            Verdict::Expired(Cause::IpRestricted)
        );
    }

    #[test]
    fn a_wrong_client_secret_is_a_connector_problem_not_an_expiry() {
        for grant in [AUTH_CODE, Grant::JwtBearer, Grant::ClientCredentials] {
            assert_eq!(
                classified(grant, "invalid_client", "invalid client credentials"),
                Verdict::ConnectorProblem(Cause::ClientCredentialsInvalid)
            );
            assert_eq!(
                classified(grant, "invalid_client", "app must be installed into org"),
                Verdict::ConnectorProblem(Cause::AppNotInstalled)
            );
        }
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
                classify(&failure, AUTH_CODE),
                Verdict::Transient(Cause::ProviderUnavailable)
            );
        }
        assert_eq!(
            classify(&RefreshFailure::HttpStatus { http_status: 429 }, AUTH_CODE),
            Verdict::Transient(Cause::RateLimited)
        );
        for code in ["server_error", "temporarily_unavailable", "something_new"] {
            assert_eq!(
                classified(AUTH_CODE, code, "try later"),
                Verdict::Transient(Cause::UnrecognizedProviderError),
                "{code}"
            );
        }
    }

    #[test]
    fn a_jwt_assertion_refused_for_its_signature_is_a_certificate_mismatch_of_the_connector() {
        assert_eq!(
            classified(Grant::JwtBearer, "invalid_grant", "invalid assertion"),
            Verdict::ConnectorProblem(Cause::JwtCertificateMismatch)
        );
    }

    #[test]
    fn a_jwt_audience_or_expiry_refusal_is_jwt_rejected_but_an_expired_code_elsewhere_is_not() {
        for description in ["audience is invalid", "expired authorization code"] {
            assert_eq!(
                classified(Grant::JwtBearer, "invalid_grant", description),
                Verdict::ConnectorProblem(Cause::JwtRejected),
                "{description}"
            );
        }
        assert_eq!(
            classified(AUTH_CODE, "invalid_grant", "expired authorization code"),
            Verdict::Expired(Cause::RefreshTokenRevoked)
        );
    }

    #[test]
    fn a_jwt_user_who_is_not_pre_authorized_is_user_not_approved() {
        assert_eq!(
            classified(
                Grant::JwtBearer,
                "invalid_grant",
                "user hasn't approved this consumer"
            ),
            Verdict::Expired(Cause::UserNotApproved)
        );
    }

    #[test]
    fn grants_without_refresh_tokens_never_call_an_unknown_invalid_grant_a_dead_token() {
        for grant in [Grant::JwtBearer, Grant::ClientCredentials] {
            assert_eq!(
                classified(grant, "invalid_grant", "expired access/refresh token"),
                Verdict::Transient(Cause::UnrecognizedProviderError)
            );
        }
    }

    #[test]
    fn client_credentials_without_a_run_as_user_is_disabled_not_invalid() {
        assert_eq!(
            classified(
                Grant::ClientCredentials,
                "invalid_grant",
                "no client credentials user enabled"
            ),
            Verdict::ConnectorProblem(Cause::ClientCredentialsDisabled)
        );
    }

    #[test]
    fn an_inactive_user_is_the_run_as_user_on_client_credentials_and_the_user_elsewhere() {
        let inactive = provider("inactive_user", "user is inactive");
        assert_eq!(
            classify(&inactive, Grant::ClientCredentials),
            Verdict::ConnectorProblem(Cause::RunAsUserInactive)
        );
        for grant in [AUTH_CODE, Grant::JwtBearer] {
            assert_eq!(
                classify(&inactive, grant),
                Verdict::Expired(Cause::UserInactive)
            );
        }
    }

    #[test]
    fn only_the_three_grants_parse_and_only_the_authorization_code_uses_refresh_tokens() {
        assert!("password".parse::<Grant>().is_err());
        assert!(AUTH_CODE.uses_refresh_tokens());
        assert!(!Grant::JwtBearer.uses_refresh_tokens());
        assert!(!Grant::ClientCredentials.uses_refresh_tokens());
    }

    #[test]
    fn grants_serialize_as_snake_case() {
        let names: Vec<_> = [AUTH_CODE, Grant::JwtBearer, Grant::ClientCredentials]
            .iter()
            .map(|g| serde_json::to_string(g).unwrap_or_default())
            .collect();
        assert_eq!(
            names,
            [
                "\"authorization_code\"",
                "\"jwt_bearer\"",
                "\"client_credentials\""
            ]
        );
    }
}
