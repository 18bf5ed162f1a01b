//! The engine's rules that read timing: this token's ages against what the connector's other
//! refresh tokens survived and died of ([`PolicyEvidence`]).
//!
//! With a probe that found the session alive, a revoke is ruled out and one of the refresh
//! token policies did it: whichever the evidence leaves standing is likely. Without one, the
//! evidence must carry the inference alone ([`MIN_DEATHS`](super::inference::MIN_DEATHS)
//! refusals); a first-use refusal or a bare `invalid_grant` stays "possible", alternatives
//! listed.

use super::Confidence;
use super::engine::{Finding, human};
use super::evidence::PolicyEvidence;
use super::facts::{AccessProbe, Facts};
use super::inference::InferredPolicy;
use crate::cause::Cause;

/// Probe: the session outlived the refresh token, so a Refresh Token Policy ended it.
pub(super) fn session_outlived_token(f: &Facts) -> Option<Finding> {
    if f.probe != Some(AccessProbe::Alive) {
        return None;
    }
    // Under "Immediately expire" no refresh of the connector has ever worked.
    if f.never_refreshed && f.evidence.survivals == 0 {
        return Some(immediate(
            f,
            Confidence::Likely,
            "No refresh of this connector's tokens has ever worked, and a session that outlives its refresh token from the first refresh is what \"Immediately expire refresh token\" does",
        ));
    }
    let evidence = f.evidence.with_death(&f.observation);
    Some(match evidence.infer_needing(1) {
        Some(inferred) => policy_finding(f, &evidence, inferred),
        None if f.never_refreshed => immediate(
            f,
            Confidence::Likely,
            "Other refresh tokens of this connector kept working after longer gaps and at greater ages, so no idle or lifetime limit explains it; \"Immediately expire refresh token\" does",
        ),
        None => immediate(
            f,
            Confidence::Possible,
            "Other refresh tokens of this connector kept working after longer gaps and at greater ages, so the Refresh Token Policy was likely changed recently: to \"Immediately expire refresh token\", or to a shorter limit",
        ),
    })
}

/// No probe: a policy the evidence alone makes likely.
pub(super) fn inferred_from_evidence(f: &Facts) -> Option<Finding> {
    let evidence = f.evidence.with_death(&f.observation);
    let inferred = evidence.infer()?;
    (inferred.confidence == Confidence::Likely).then(|| policy_finding(f, &evidence, inferred))
}

/// No probe, first use: "Immediately expire" fits, and so does a revoke or a Block.
pub(super) fn refused_at_first_use(f: &Facts) -> Option<Finding> {
    if !f.never_refreshed {
        return None;
    }
    let mut evidence = vec![format!(
        "Salesforce refused the refresh token the first time tether used it, {} after connecting",
        human(f.observation.age_seconds)
    )];
    if f.evidence.first_use_deaths > 0 {
        evidence.push(format!(
            "{} other connections of this connector were also refused at their first refresh",
            f.evidence.first_use_deaths
        ));
    }
    evidence.push(format!(
        "A revoke or a Block of the app since connecting, or an idle or lifetime limit of {} or less, would also explain it; tether could not check whether the session still worked",
        human(f.observation.age_seconds)
    ));
    let mut finding = Finding::new(
        Cause::RefreshTokenPolicyImmediate,
        Confidence::Possible,
        evidence,
    );
    add_possible_policy(f, &mut finding);
    Some(finding)
}

/// Nothing explains it: a possible revoke, alternatives listed.
pub(super) fn no_policy_fits(f: &Facts) -> Finding {
    let o = &f.observation;
    let mut finding = Finding::new(
        Cause::RefreshTokenRevoked,
        Confidence::Possible,
        vec![
            format!(
                "No policy tether knows of explains it: the refresh token was {} old, unused for {}, and worked {} after it was issued",
                human(o.age_seconds),
                human(o.idle_seconds),
                human(o.last_success_age_seconds)
            ),
            "Possible causes: a user or admin revoked access, the app was blocked or uninstalled, or a refresh token policy tether was not told about".into(),
        ],
    );
    add_possible_policy(f, &mut finding);
    finding
}

/// Names a policy the evidence leaves possible, among the alternatives.
fn add_possible_policy(f: &Facts, finding: &mut Finding) {
    let evidence = f.evidence.with_death(&f.observation);
    if let Some(inferred) = evidence.infer() {
        finding.evidence.push(inference_line(&evidence, &inferred));
        finding.inferred = Some(inferred);
    }
}

fn immediate(f: &Facts, confidence: Confidence, why: &str) -> Finding {
    let refused = format!(
        "Salesforce refused the refresh token {} after connecting{}",
        human(f.observation.age_seconds),
        if f.never_refreshed {
            ", the first time tether used it"
        } else {
            ""
        }
    );
    Finding::new(
        Cause::RefreshTokenPolicyImmediate,
        confidence,
        vec![refused, why.to_owned()],
    )
}

/// The inferred policy as the cause, with how it was read.
fn policy_finding(f: &Facts, evidence: &PolicyEvidence, inferred: InferredPolicy) -> Finding {
    Finding {
        cause: inferred.policy.kind.cause(),
        confidence: inferred.confidence,
        evidence: vec![
            inference_line(evidence, &inferred),
            format!(
                "This refresh token was {} old and unused for {}",
                human(f.observation.age_seconds),
                human(f.observation.idle_seconds)
            ),
        ],
        inferred: Some(inferred),
    }
}

/// "Refresh tokens of this connector kept working after up to 1 second unused, and 3 were
/// refused after 6 seconds or more unused: the Connected App likely has ..."
fn inference_line(evidence: &PolicyEvidence, inferred: &InferredPolicy) -> String {
    let verb = match inferred.confidence {
        Confidence::Likely => "likely has",
        Confidence::Certain | Confidence::Possible => "may have",
    };
    let policies: Vec<String> = std::iter::once(&inferred.policy)
        .chain(&inferred.alternative)
        .map(|b| format!("\"{}\" ({})", b.describe(), b.range()))
        .collect();
    let gap = human(evidence.shortest_death_gap_seconds.unwrap_or_default());
    let age = human(evidence.youngest_death_age_seconds.unwrap_or_default());
    let refused = match evidence.deaths {
        1 => format!("1 was refused after {gap} unused, at {age} old"),
        n => format!("{n} were refused after {gap} or more unused, at {age} old or more"),
    };
    format!(
        "Refresh tokens of this connector kept working after up to {} unused and up to {} old, and {refused}: the Connected App {verb} {}",
        human(evidence.longest_survived_gap_seconds),
        human(evidence.oldest_survived_age_seconds),
        policies.join(" or ")
    )
}
