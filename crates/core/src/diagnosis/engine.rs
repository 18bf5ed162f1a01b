//! The diagnosis engine: from the provider's answer and tether's own records to one cause,
//! with an honest confidence and the evidence behind it.
//!
//! Salesforce answers most deaths with the same `invalid_grant / expired access/refresh token`.
//! The [`RULES`] table tries each explanation in order of how specific its evidence is; the
//! first that fits wins: what the provider named, then tether's own mishaps, then what the
//! probe of the access token showed, then what the admin declared, then what the
//! connector's policy evidence shows (the timing rules). Nothing here performs I/O: the
//! server gathers [`Facts`].

use super::facts::{AccessProbe, Facts, PolicyHint};
use super::inference::InferredPolicy;
use super::playbook::{diagnose, recommend_keyless_flow};
use super::timing::{
    inferred_from_evidence, no_policy_fits, refused_at_first_use, session_outlived_token,
};
use super::{Confidence, Diagnosis};
use crate::cause::Cause;
use crate::refresh::Grant;

pub use super::words::human;

/// Salesforce's "Limit Idle Refresh Token TTL to 30 days".
pub const IDLE_TTL_30D_SECONDS: i64 = 30 * 86_400;

/// A rule's conclusion.
pub(super) struct Finding {
    pub cause: Cause,
    pub confidence: Confidence,
    pub evidence: Vec<String>,
    pub inferred: Option<InferredPolicy>,
}

impl Finding {
    pub fn new(cause: Cause, confidence: Confidence, evidence: Vec<String>) -> Self {
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
    interrupted_attempt,
    rotation_not_saved,
    approval_limit,
    session_revoked,
    session_blocked,
    hinted_immediate,
    hinted_lifetime,
    hinted_idle,
    thirty_day_idle,
    session_outlived_token,
    inferred_from_evidence,
    refused_at_first_use,
];

/// The diagnosis of a refused refresh token.
pub fn diagnose_expiry(facts: &Facts) -> Diagnosis {
    let finding = RULES
        .iter()
        .find_map(|rule| rule(facts))
        .unwrap_or_else(|| no_policy_fits(facts));
    let mut evidence = finding.evidence;
    if let Some(probe) = facts.probe {
        evidence.insert(0, probe_evidence(probe).to_owned());
    }
    let mut diagnosis = diagnose(
        finding.cause,
        finding.confidence,
        evidence,
        facts.provider_error.clone(),
    );
    diagnosis.observation = Some(facts.observation);
    diagnosis.inferred_policy = finding.inferred;
    if facts.grant.uses_refresh_tokens() && policy_no_keyless_flow_can_meet(diagnosis.cause) {
        recommend_keyless_flow(&mut diagnosis);
    }
    diagnosis
}

/// The deaths a connection without a refresh token cannot die: an idle or a lifetime limit
/// of the Refresh Token Policy (declared or inferred), which keep coming back however often
/// the user reconnects. Those diagnoses recommend the JWT bearer (or client credentials)
/// flow.
fn policy_no_keyless_flow_can_meet(cause: Cause) -> bool {
    matches!(
        cause,
        Cause::RefreshTokenIdle | Cause::RefreshTokenPolicyLifetime
    )
}

/// What the probe of the access token showed, in an admin's words.
fn probe_evidence(probe: AccessProbe) -> &'static str {
    match probe {
        AccessProbe::Alive => {
            "tether then checked this connection's current access token with Salesforce: it still works, so Salesforce ended the refresh token but not the session"
        }
        AccessProbe::Revoked => {
            "tether then checked this connection's current access token with Salesforce: it was refused as invalid or expired although it had time left, so the session ended together with the refresh token"
        }
        AccessProbe::Blocked => {
            "tether then checked this connection's current access token with Salesforce: it was refused as \"not valid for use with the REST API\""
        }
    }
}

/// A cause the classifier read off the provider's words. Connections without a refresh
/// token (JWT bearer, client credentials) have nothing else to weigh.
fn provider_named_it(f: &Facts) -> Option<Finding> {
    (f.classified != Cause::RefreshTokenRevoked || f.grant != Grant::AuthorizationCode)
        .then(|| Finding::new(f.classified, Confidence::Certain, vec![]))
}

fn interrupted_attempt(f: &Facts) -> Option<Finding> {
    f.interrupted_attempt.then(|| {
        reused(
            f,
            "tether was stopped while Salesforce was answering a refresh; under refresh token rotation the answer carried the only valid refresh token, and the one tether kept was refused",
        )
    })
}

fn rotation_not_saved(f: &Facts) -> Option<Finding> {
    f.unsaved_rotation.then(|| {
        reused(
            f,
            "An earlier refresh reached Salesforce but its answer never reached tether (it timed out after the request was sent); under refresh token rotation that answer carried the only valid refresh token, and the one tether kept was refused",
        )
    })
}

/// `refresh_token_reused` for tether's lost answer described by `what`: likely, unless the
/// session still works (a reuse of a rotated token revokes the whole chain, sessions
/// included), which makes a Refresh Token Policy the other explanation.
fn reused(f: &Facts, what: &str) -> Finding {
    let mut evidence = vec![what.to_owned()];
    let confidence = if f.probe == Some(AccessProbe::Alive) {
        evidence.push("Yet the current session still works, which a reuse would have ended: if rotation is off, a Refresh Token Policy explains it instead".into());
        Confidence::Possible
    } else {
        Confidence::Likely
    };
    Finding::new(Cause::RefreshTokenReused, confidence, evidence)
}

/// Five later approvals push this one out; a revocation ends its sessions too, so a session
/// that still works points elsewhere.
fn approval_limit(f: &Facts) -> Option<Finding> {
    (f.approvals_after >= 5 && f.probe != Some(AccessProbe::Alive)).then(|| {
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

fn session_revoked(f: &Facts) -> Option<Finding> {
    probe_shows(
        f,
        AccessProbe::Revoked,
        Cause::RefreshTokenRevoked,
        "A Refresh Token Policy ends only the refresh token; ending the session as well is what a revoke does: by the user (Settings > Connected Apps), by an admin (Connected Apps OAuth Usage), or by uninstalling the app",
    )
}

fn session_blocked(f: &Facts) -> Option<Finding> {
    probe_shows(
        f,
        AccessProbe::Blocked,
        Cause::SessionBlocked,
        "Salesforce answers that way when the Connected App is blocked (Connected Apps OAuth Usage > Block) or a policy refuses the session; a Refresh Token Policy leaves the session working",
    )
}

/// `cause`, likely, when the probe answered `probe` (`why` says what that means): a probe
/// refused for a reason no Refresh Token Policy gives, so not one of them either, even at
/// the first refresh.
fn probe_shows(f: &Facts, probe: AccessProbe, cause: Cause, why: &str) -> Option<Finding> {
    if f.probe != Some(probe) {
        return None;
    }
    let mut evidence = vec![why.to_owned()];
    if f.never_refreshed {
        evidence.push(not_immediate().into());
    }
    Some(Finding::new(cause, Confidence::Likely, evidence))
}

fn not_immediate() -> &'static str {
    "So this is not \"Immediately expire refresh token\", even though it happened at the first refresh"
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

/// Unused for 30 days or more, unless another token of the connector survived as long.
fn thirty_day_idle(f: &Facts) -> Option<Finding> {
    let survived_as_long = f.evidence.longest_survived_gap_seconds >= IDLE_TTL_30D_SECONDS;
    (f.observation.idle_seconds >= IDLE_TTL_30D_SECONDS && !survived_as_long).then(|| {
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

fn last_used(f: &Facts) -> String {
    format!(
        "The refresh token was last used {} ago",
        human(f.observation.idle_seconds)
    )
}

#[cfg(test)]
mod tests;
