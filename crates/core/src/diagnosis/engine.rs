//! The diagnosis engine: from the provider's answer and tether's own records to one cause,
//! with an honest confidence and the evidence behind it.
//!
//! Salesforce answers most deaths with the same `invalid_grant / expired access/refresh token`.
//! The [`RULES`] table tries each explanation in order of how specific its evidence is; the
//! first that fits wins. Nothing here performs I/O: the server gathers [`Facts`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::inference::{InferredPolicy, infer};
use super::playbook::diagnose;
use super::{Confidence, Diagnosis};
use crate::cause::Cause;
use crate::refresh::ProviderError;

/// Salesforce's "Limit Idle Refresh Token TTL to 30 days".
pub const IDLE_TTL_30D_SECONDS: i64 = 30 * 86_400;

/// What tether measured about a refresh token when the provider refused it. Stored with the
/// diagnosis so later inference can read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Reads `{"kind": "idle", "seconds": N}` and its siblings; `None` for anything else.
    pub fn from_json(value: &Value) -> Option<Self> {
        let seconds = || {
            value
                .get("seconds")
                .and_then(Value::as_i64)
                .filter(|s| *s > 0)
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

/// Everything tether knows when a refresh token is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// The classifier's first reading of the provider's answer.
    pub classified: Cause,
    pub provider_error: Option<ProviderError>,
    /// This token's ages.
    pub observation: Observation,
    /// Whether the refresh token was ever used successfully.
    pub never_refreshed: bool,
    /// The access-token lifetime tether assumes (how long after connecting the first refresh
    /// comes when the connection is in use).
    pub session_lifetime_seconds: i64,
    pub policy_hint: Option<PolicyHint>,
    /// The admin said "Limit Idle Refresh Token TTL to 30 days" is on.
    pub idle_ttl_30d_hint: bool,
    /// Approvals of the same provider user through the same connector after this token's.
    pub approvals_after: i64,
    /// tether got a rotated refresh token it could not save.
    pub unsaved_rotation: bool,
    /// Observations of the connector's other expired connections.
    pub peers: Vec<Observation>,
}

/// A rule's conclusion.
struct Finding {
    cause: Cause,
    confidence: Confidence,
    evidence: Vec<String>,
    inferred: Option<InferredPolicy>,
}

impl Finding {
    fn new(cause: Cause, confidence: Confidence, evidence: Vec<String>) -> Self {
        Self {
            cause,
            confidence,
            evidence,
            inferred: None,
        }
    }
}

type Rule = fn(&Facts) -> Option<Finding>;

/// The explanations, most specific evidence first.
const RULES: &[Rule] = &[
    provider_named_it,
    rotation_not_saved,
    approval_limit,
    hinted_immediate,
    hinted_lifetime,
    hinted_idle,
    thirty_day_idle,
    inferred_from_other_connections,
    refused_at_first_use,
];

/// The diagnosis of a refused refresh token.
pub fn diagnose_expiry(facts: &Facts) -> Diagnosis {
    let finding = RULES
        .iter()
        .find_map(|rule| rule(facts))
        .unwrap_or_else(|| no_policy_fits(facts));
    let mut diagnosis = diagnose(
        finding.cause,
        finding.confidence,
        finding.evidence,
        facts.provider_error.clone(),
    );
    diagnosis.observation = Some(facts.observation);
    diagnosis.inferred_policy = finding.inferred;
    diagnosis
}

fn provider_named_it(f: &Facts) -> Option<Finding> {
    (f.classified != Cause::RefreshTokenRevoked)
        .then(|| Finding::new(f.classified, Confidence::Certain, vec![]))
}

fn rotation_not_saved(f: &Facts) -> Option<Finding> {
    f.unsaved_rotation.then(|| {
        Finding::new(
            Cause::RefreshTokenReused,
            Confidence::Likely,
            vec!["Salesforce rotated the refresh token on an earlier refresh and tether could not save the new one, so the old one was used again".into()],
        )
    })
}

fn approval_limit(f: &Facts) -> Option<Finding> {
    (f.approvals_after >= 5).then(|| {
        Finding::new(
            Cause::ApprovalLimit,
            Confidence::Likely,
            vec![format!(
                "The same Salesforce user authorized this connector {} more times after this connection was made; Salesforce keeps 5 approvals per user per app and revokes the oldest",
                f.approvals_after
            )],
        )
    })
}

fn hinted_immediate(f: &Facts) -> Option<Finding> {
    (f.policy_hint == Some(PolicyHint::Immediately)).then(|| {
        Finding::new(
            Cause::RefreshTokenPolicyImmediate,
            Confidence::Likely,
            vec!["The connector says the Connected App's Refresh Token Policy is \"Immediately expire refresh token\"".into()],
        )
    })
}

fn hinted_lifetime(f: &Facts) -> Option<Finding> {
    let Some(PolicyHint::Lifetime { seconds }) = f.policy_hint else {
        return None;
    };
    (f.observation.age_seconds >= seconds).then(|| {
        Finding::new(
            Cause::RefreshTokenPolicyLifetime,
            Confidence::Likely,
            vec![
                format!(
                    "The connector says the policy is \"Expire refresh token after {}\"",
                    human(seconds)
                ),
                format!(
                    "The refresh token was {} old",
                    human(f.observation.age_seconds)
                ),
            ],
        )
    })
}

fn hinted_idle(f: &Facts) -> Option<Finding> {
    let limit = match f.policy_hint {
        Some(PolicyHint::Idle { seconds }) => seconds,
        _ if f.idle_ttl_30d_hint => IDLE_TTL_30D_SECONDS,
        _ => return None,
    };
    (f.observation.idle_seconds >= limit).then(|| {
        Finding::new(
            Cause::RefreshTokenIdle,
            Confidence::Likely,
            vec![
                format!(
                    "The connector says refresh tokens expire when not used for {}",
                    human(limit)
                ),
                last_used(f),
            ],
        )
    })
}

fn thirty_day_idle(f: &Facts) -> Option<Finding> {
    (f.observation.idle_seconds >= IDLE_TTL_30D_SECONDS).then(|| {
        Finding::new(
            Cause::RefreshTokenIdle,
            Confidence::Likely,
            vec![
                last_used(f),
                "Salesforce's \"Limit Idle Refresh Token TTL to 30 days\" expires tokens unused that long (required since May 2026 for apps used in several orgs)".into(),
            ],
        )
    })
}

fn inferred_from_other_connections(f: &Facts) -> Option<Finding> {
    let mut all = f.peers.clone();
    all.push(f.observation);
    let inferred = infer(&all, f.session_lifetime_seconds)?;
    let cause = match inferred {
        InferredPolicy::Lifetime { .. } => Cause::RefreshTokenPolicyLifetime,
        InferredPolicy::Idle { .. } => Cause::RefreshTokenIdle,
    };
    let evidence = vec![
        format!(
            "{} connections of this connector expired the same way; the Connected App likely has \"{}\"",
            inferred.from_connections(),
            inferred.describe()
        ),
        format!(
            "This refresh token was {} old and unused for {}",
            human(f.observation.age_seconds),
            human(f.observation.idle_seconds)
        ),
    ];
    Some(Finding {
        cause,
        confidence: Confidence::Likely,
        evidence,
        inferred: Some(inferred),
    })
}

fn refused_at_first_use(f: &Facts) -> Option<Finding> {
    if !f.never_refreshed {
        return None;
    }
    let mut evidence = vec![format!(
        "Salesforce refused the refresh token the first time tether used it, {} after connecting",
        human(f.observation.age_seconds)
    )];
    // Other connections of the connector that also died at their first use make the
    // Immediately policy likely; alone, a revoke or a short idle or lifetime limit fits too.
    let also_at_first_use = f
        .peers
        .iter()
        .filter(|p| p.last_success_age_seconds == 0)
        .count();
    let confidence = if also_at_first_use >= 2 {
        evidence.push(format!(
            "{also_at_first_use} other connections of this connector were also refused at their first refresh"
        ));
        Confidence::Likely
    } else {
        // Minutes after connecting, no idle or lifetime limit is plausible; later, one is.
        evidence.push(if f.observation.age_seconds < 15 * 60 {
            "A revoke since connecting would also explain it".to_owned()
        } else {
            format!(
                "A revoke, or an idle or lifetime limit of {} or less, would also explain it",
                human(f.observation.age_seconds)
            )
        });
        Confidence::Possible
    };
    Some(Finding::new(
        Cause::RefreshTokenPolicyImmediate,
        confidence,
        evidence,
    ))
}

fn no_policy_fits(f: &Facts) -> Finding {
    Finding::new(
        Cause::RefreshTokenRevoked,
        Confidence::Possible,
        vec![
            format!(
                "No policy tether knows of explains it: the refresh token was {} old, unused for {}, and worked {} after it was issued",
                human(f.observation.age_seconds),
                human(f.observation.idle_seconds),
                human(f.observation.last_success_age_seconds)
            ),
            "Possible causes: a user or admin revoked access, the app was blocked or uninstalled, or a refresh token policy tether was not told about".into(),
        ],
    )
}

fn last_used(f: &Facts) -> String {
    format!(
        "The refresh token was last used {} ago",
        human(f.observation.idle_seconds)
    )
}

/// "31 days", "4 hours", "12 minutes", "40 seconds".
pub fn human(seconds: i64) -> String {
    let (n, unit) = match seconds {
        s if s >= 2 * 86_400 => (s / 86_400, "day"),
        s if s >= 2 * 3_600 => (s / 3_600, "hour"),
        s if s >= 2 * 60 => (s / 60, "minute"),
        s => (s.max(0), "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
