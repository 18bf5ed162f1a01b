//! What the server gathers before the engine weighs a refused refresh: the token's ages, the
//! admin's hints, tether's own mishaps, the probe of the access token, and the connector's
//! policy evidence.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::evidence::PolicyEvidence;
use crate::cause::Cause;
use crate::refresh::{Grant, ProviderError};

/// The longest refresh-token policy tether reasons about (100 years): longer hints are
/// refused, and every sum over policy values stays far inside `i64` and chrono's range.
/// The server can validate a connector's `refresh_token_policy.seconds` against it.
pub const MAX_POLICY_SECONDS: i64 = 100 * 365 * 86_400;

/// What tether measured about a refresh token when the provider refused it. Stored with the
/// diagnosis; fed to [`PolicyEvidence::died`] when the death is unexplained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Observation {
    /// The token's age (since the approval) when refused.
    pub age_seconds: i64,
    /// Its age at the last refresh that worked (0 when it never worked).
    pub last_success_age_seconds: i64,
    /// How long it had gone unused when refused.
    pub idle_seconds: i64,
}

/// The refresh-token policy the connector's admin told tether about (sandbox JSON shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyHint {
    UntilRevoked,
    Immediately,
    Idle { seconds: i64 },
    Lifetime { seconds: i64 },
}

impl PolicyHint {
    /// Reads `{"kind": "idle", "seconds": N}` and its siblings; `None` for anything else,
    /// including `seconds` outside `1..=`[`MAX_POLICY_SECONDS`].
    pub fn from_json(value: &Value) -> Option<Self> {
        let seconds = || {
            value
                .get("seconds")
                .and_then(Value::as_i64)
                .filter(|s| (1..=MAX_POLICY_SECONDS).contains(s))
        };
        match value.get("kind").and_then(Value::as_str)? {
            "until_revoked" => Some(Self::UntilRevoked),
            "immediately" => Some(Self::Immediately),
            "idle" => Some(Self::Idle {
                seconds: seconds()?,
            }),
            "lifetime" => Some(Self::Lifetime {
                seconds: seconds()?,
            }),
            _ => None,
        }
    }
}

/// What Salesforce said, after an `invalid_grant`, about the connection's current access
/// token (one userinfo call). Asked only while that token was still within its expected
/// life, so a refusal means something ended the session early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessProbe {
    /// The access token still works: the refresh token died while its session lives, which
    /// only a Refresh Token Policy does.
    Alive,
    /// Refused as invalid or expired (`Session expired or invalid`, `Bad_OAuth_Token`): the
    /// session ended with the refresh token, as a revoke does.
    Revoked,
    /// Refused as `This session is not valid for use with the REST API`: the app is blocked
    /// or a policy refuses the session.
    Blocked,
}

/// Everything tether knows when a refresh token is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// The classifier's first reading of the provider's answer.
    pub classified: Cause,
    pub provider_error: Option<ProviderError>,
    /// The connector's grant; only `AuthorizationCode` connections hold refresh tokens.
    pub grant: Grant,
    /// This token's ages.
    pub observation: Observation,
    /// Whether the refresh token was ever used successfully.
    pub never_refreshed: bool,
    pub policy_hint: Option<PolicyHint>,
    /// The admin said "Limit Idle Refresh Token TTL to 30 days" is on.
    pub idle_ttl_30d_hint: bool,
    /// Approvals of the same provider user through the same connector after this token's.
    pub approvals_after: i64,
    /// An earlier refresh may have reached the provider without its answer reaching tether's
    /// store (it timed out after the request was sent): under rotation a new refresh token
    /// was lost.
    pub unsaved_rotation: bool,
    /// tether found a refresh attempt interrupted (a crash) after it may have reached the
    /// provider, whose answer was never read.
    pub interrupted_attempt: bool,
    /// The probe of the current access token, when one was made.
    pub probe: Option<AccessProbe>,
    /// The connector's policy evidence as it was before this death.
    pub evidence: PolicyEvidence,
}
