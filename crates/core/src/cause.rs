//! Why a connection stopped working: the causes of diagnosis.md, as one enum.
//!
//! The wire name of a cause (`refresh_token_idle`, ...) is what `status_reason` carries.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A cause from diagnosis.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    RefreshTokenPolicyImmediate,
    RefreshTokenPolicyLifetime,
    RefreshTokenIdle,
    ApprovalLimit,
    RefreshTokenReused,
    RefreshTokenRevoked,
    IpRestricted,
    SessionBlocked,
    UserNotApproved,
    AppNotInstalled,
    ClientCredentialsInvalid,
    /// JWT bearer: the certificate of the Connected App does not match tether's key.
    JwtCertificateMismatch,
    /// JWT bearer: the assertion's audience or expiry was refused.
    JwtRejected,
    /// Client credentials: the Connected App has no Run As user (or the flow is off).
    ClientCredentialsDisabled,
    /// Client credentials: the Run As user is inactive or frozen.
    RunAsUserInactive,
    UserInactive,
    OrgInactive,
    ApiDisabled,
    RateLimited,
    ProviderUnavailable,
    /// The provider refused with an error tether does not know; shown with the raw error.
    UnrecognizedProviderError,
}

impl Cause {
    /// Every cause, in the order of diagnosis.md.
    pub const ALL: [Cause; 21] = [
        Cause::RefreshTokenPolicyImmediate,
        Cause::RefreshTokenPolicyLifetime,
        Cause::RefreshTokenIdle,
        Cause::ApprovalLimit,
        Cause::RefreshTokenReused,
        Cause::RefreshTokenRevoked,
        Cause::IpRestricted,
        Cause::SessionBlocked,
        Cause::UserNotApproved,
        Cause::AppNotInstalled,
        Cause::ClientCredentialsInvalid,
        Cause::JwtCertificateMismatch,
        Cause::JwtRejected,
        Cause::ClientCredentialsDisabled,
        Cause::RunAsUserInactive,
        Cause::UserInactive,
        Cause::OrgInactive,
        Cause::ApiDisabled,
        Cause::RateLimited,
        Cause::ProviderUnavailable,
        Cause::UnrecognizedProviderError,
    ];

    /// The wire name (`status_reason`).
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::RefreshTokenPolicyImmediate => "refresh_token_policy_immediate",
            Cause::RefreshTokenPolicyLifetime => "refresh_token_policy_lifetime",
            Cause::RefreshTokenIdle => "refresh_token_idle",
            Cause::ApprovalLimit => "approval_limit",
            Cause::RefreshTokenReused => "refresh_token_reused",
            Cause::RefreshTokenRevoked => "refresh_token_revoked",
            Cause::IpRestricted => "ip_restricted",
            Cause::SessionBlocked => "session_blocked",
            Cause::UserNotApproved => "user_not_approved",
            Cause::AppNotInstalled => "app_not_installed",
            Cause::ClientCredentialsInvalid => "client_credentials_invalid",
            Cause::JwtCertificateMismatch => "jwt_certificate_mismatch",
            Cause::JwtRejected => "jwt_rejected",
            Cause::ClientCredentialsDisabled => "client_credentials_disabled",
            Cause::RunAsUserInactive => "run_as_user_inactive",
            Cause::UserInactive => "user_inactive",
            Cause::OrgInactive => "org_inactive",
            Cause::ApiDisabled => "api_disabled",
            Cause::RateLimited => "rate_limited",
            Cause::ProviderUnavailable => "provider_unavailable",
            Cause::UnrecognizedProviderError => "unrecognized_provider_error",
        }
    }

    /// What brings a connection refused for this cause back.
    pub fn recovery(self) -> Recovery {
        match self {
            Cause::RefreshTokenPolicyImmediate
            | Cause::RefreshTokenPolicyLifetime
            | Cause::RefreshTokenIdle
            | Cause::ApprovalLimit
            | Cause::RefreshTokenReused
            | Cause::RefreshTokenRevoked
            | Cause::SessionBlocked => Recovery::Reconnect,
            Cause::IpRestricted
            | Cause::UserNotApproved
            | Cause::AppNotInstalled
            | Cause::ClientCredentialsInvalid
            | Cause::JwtCertificateMismatch
            | Cause::JwtRejected
            | Cause::ClientCredentialsDisabled
            | Cause::RunAsUserInactive
            | Cause::UserInactive
            | Cause::OrgInactive
            | Cause::ApiDisabled => Recovery::FixSetting,
            Cause::RateLimited | Cause::ProviderUnavailable | Cause::UnrecognizedProviderError => {
                Recovery::Wait
            }
        }
    }

    /// Whether the credential tether holds survives this refusal, so that once a person fixes
    /// the setting the same connection works again without a reconnect (tether re-checks in
    /// the background and on "Check now").
    pub fn is_recoverable(self) -> bool {
        self.recovery() == Recovery::FixSetting
    }
}

/// What brings a connection back after a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recovery {
    /// The refresh token is dead: a person reconnects (after changing a policy, if one
    /// caused it).
    Reconnect,
    /// Salesforce refused but left tether's credential alive: once a person fixes the
    /// setting (in Salesforce, or the connector), the same connection works again.
    FixSetting,
    /// It passes by itself; tether retries with backoff.
    Wait,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status reason that names no known cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown cause {0:?}")]
pub struct UnknownCause(pub String);

impl FromStr for Cause {
    type Err = UnknownCause;
    fn from_str(s: &str) -> Result<Self, UnknownCause> {
        Cause::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCause(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_that_leaves_the_refresh_token_alive_is_recoverable() {
        for cause in [
            Cause::IpRestricted,
            Cause::UserInactive,
            Cause::UserNotApproved,
            Cause::OrgInactive,
        ] {
            assert!(cause.is_recoverable(), "{cause}");
        }
        for cause in [
            Cause::RefreshTokenIdle,
            Cause::RefreshTokenRevoked,
            Cause::SessionBlocked,
            Cause::RateLimited,
        ] {
            assert!(!cause.is_recoverable(), "{cause}");
        }
    }

    #[test]
    fn every_cause_round_trips_through_its_wire_name() {
        for cause in Cause::ALL {
            assert_eq!(cause.as_str().parse::<Cause>(), Ok(cause));
            let json = serde_json::to_string(&cause).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", cause.as_str()));
        }
    }
}
