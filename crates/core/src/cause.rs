//! Why a connection stopped working: the causes of diagnosis.md, as one enum.
//!
//! The wire name of a cause (`refresh_token_idle`, ...) is what `status_reason` carries.

use serde::{Deserialize, Serialize};

use crate::wire::wire_enum;

// Declared in the order of diagnosis.md, which `Cause::ALL` keeps.
wire_enum! {
    /// A cause from diagnosis.md.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(rename_all = "snake_case")]
    pub enum Cause {
        RefreshTokenPolicyImmediate => "refresh_token_policy_immediate",
        RefreshTokenPolicyLifetime => "refresh_token_policy_lifetime",
        RefreshTokenIdle => "refresh_token_idle",
        ApprovalLimit => "approval_limit",
        RefreshTokenReused => "refresh_token_reused",
        RefreshTokenRevoked => "refresh_token_revoked",
        IpRestricted => "ip_restricted",
        SessionBlocked => "session_blocked",
        UserNotApproved => "user_not_approved",
        AppNotInstalled => "app_not_installed",
        ClientCredentialsInvalid => "client_credentials_invalid",
        /// JWT bearer: the certificate of the Connected App does not match tether's key.
        JwtCertificateMismatch => "jwt_certificate_mismatch",
        /// JWT bearer: the assertion's audience or expiry was refused.
        JwtRejected => "jwt_rejected",
        /// Client credentials: the Connected App has no Run As user (or the flow is off).
        ClientCredentialsDisabled => "client_credentials_disabled",
        /// Client credentials: the Run As user is inactive or frozen.
        RunAsUserInactive => "run_as_user_inactive",
        UserInactive => "user_inactive",
        OrgInactive => "org_inactive",
        ApiDisabled => "api_disabled",
        RateLimited => "rate_limited",
        ProviderUnavailable => "provider_unavailable",
        /// The provider refused with an error tether does not know; shown with the raw error.
        UnrecognizedProviderError => "unrecognized_provider_error",
    }
    unknown: UnknownCause
}

impl Cause {
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

/// A status reason that names no known cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown cause {0:?}")]
pub struct UnknownCause(pub String);

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
}
