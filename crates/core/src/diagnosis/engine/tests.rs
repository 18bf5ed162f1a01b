//! The engine's rules, one claim per test, including the causes the sandbox cannot produce.

use serde_json::{Value, json};

use super::*;
use crate::diagnosis::{MAX_POLICY_SECONDS, Observation, PolicyEvidence};
use crate::refresh::ProviderError;

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

fn expired() -> ProviderError {
    ProviderError::new("invalid_grant", "expired access/refresh token")
}

fn facts(age: i64, last_success: i64, idle: i64) -> Facts {
    Facts {
        classified: Cause::RefreshTokenRevoked,
        provider_error: Some(expired()),
        grant: Grant::AuthorizationCode,
        observation: Observation {
            age_seconds: age,
            last_success_age_seconds: last_success,
            idle_seconds: idle,
        },
        never_refreshed: last_success == 0,
        policy_hint: None,
        idle_ttl_30d_hint: false,
        approvals_after: 0,
        unsaved_rotation: false,
        interrupted_attempt: false,
        probe: None,
        evidence: PolicyEvidence::default(),
    }
}

/// Tokens refreshed every `gap` until age `until`, as the keep-alive does.
fn kept_alive(evidence: &mut PolicyEvidence, gap: i64, until: i64) {
    let mut age = gap;
    while age <= until {
        evidence.survived(gap, age);
        age += gap;
    }
}

fn used_then_left(evidence: &mut PolicyEvidence, used_for: i64, left: i64) {
    kept_alive(evidence, 1, used_for);
    evidence.died(&Observation {
        age_seconds: used_for + left,
        last_success_age_seconds: used_for,
        idle_seconds: left,
    });
}

fn verdict(d: &Diagnosis) -> (Cause, Confidence) {
    (d.cause, d.confidence)
}

fn titles(d: &Diagnosis) -> Vec<&str> {
    d.steps.iter().map(|s| s.title.as_str()).collect()
}

#[test]
fn a_specific_provider_error_is_certain() {
    let mut f = facts(DAY, HOUR, HOUR);
    f.classified = Cause::IpRestricted;
    let d = diagnose_expiry(&f);
    assert_eq!(verdict(&d), (Cause::IpRestricted, Confidence::Certain));
}

#[test]
fn a_token_unused_for_31_days_is_likely_the_30_day_idle_limit() {
    let d = diagnose_expiry(&facts(40 * DAY, 9 * DAY, 31 * DAY));
    assert_eq!(verdict(&d), (Cause::RefreshTokenIdle, Confidence::Likely));
    assert_eq!(d.evidence[1], "The refresh token was last used 31 days ago");
}

#[test]
fn the_30_day_idle_limit_is_not_blamed_when_another_token_survived_40_days_unused() {
    let mut f = facts(60 * DAY, 29 * DAY, 31 * DAY);
    f.evidence.survived(40 * DAY, 50 * DAY);
    assert_ne!(diagnose_expiry(&f).cause, Cause::RefreshTokenIdle);
}

#[test]
fn five_later_approvals_of_the_same_user_point_to_the_approval_limit() {
    let mut f = facts(3 * DAY, 2 * DAY, HOUR);
    f.approvals_after = 5;
    assert_eq!(diagnose_expiry(&f).cause, Cause::ApprovalLimit);
}

#[test]
fn a_session_that_still_works_is_not_the_approval_limit_which_revokes_it() {
    let mut f = facts(2 * HOUR, 0, 2 * HOUR);
    f.approvals_after = 5;
    f.probe = Some(AccessProbe::Alive);
    assert_eq!(
        verdict(&diagnose_expiry(&f)),
        (Cause::RefreshTokenPolicyImmediate, Confidence::Likely)
    );
}

#[test]
fn refused_at_first_use_without_a_probe_is_only_possibly_the_immediate_policy() {
    let mut f = facts(2 * HOUR, 0, 2 * HOUR);
    let d = diagnose_expiry(&f);
    assert_eq!(
        verdict(&d),
        (Cause::RefreshTokenPolicyImmediate, Confidence::Possible)
    );
    assert!(
        d.evidence[2].contains("A revoke or a Block"),
        "{:?}",
        d.evidence
    );
    // Even when other connections died the same way: a Block kills them all alike.
    f.evidence.first_use_deaths = 3;
    let d = diagnose_expiry(&f);
    assert_eq!(d.confidence, Confidence::Possible);
    assert_eq!(
        d.evidence[2],
        "3 other connections of this connector were also refused at their first refresh"
    );
}

/// Three connections refused at their first refresh, two hours after connecting.
fn three_first_use_deaths() -> PolicyEvidence {
    let mut evidence = PolicyEvidence::default();
    for _ in 0..3 {
        evidence.died(&Observation {
            age_seconds: 2 * HOUR,
            last_success_age_seconds: 0,
            idle_seconds: 2 * HOUR,
        });
    }
    evidence
}

#[test]
fn a_block_before_the_first_refresh_is_session_blocked_not_the_immediate_policy() {
    let mut f = facts(2 * HOUR, 0, 2 * HOUR);
    f.evidence = three_first_use_deaths();
    f.probe = Some(AccessProbe::Blocked);
    let d = diagnose_expiry(&f);
    assert_eq!(verdict(&d), (Cause::SessionBlocked, Confidence::Likely));
    assert_eq!(
        d.evidence[1],
        "tether then checked this connection's current access token with Salesforce: it was refused as \"not valid for use with the REST API\""
    );
    assert!(d.evidence[3].contains("not \"Immediately expire refresh token\""));
}

#[test]
fn a_revoke_before_the_first_refresh_is_a_revoke_not_the_immediate_policy() {
    let mut f = facts(2 * HOUR, 0, 2 * HOUR);
    f.evidence = three_first_use_deaths();
    f.probe = Some(AccessProbe::Revoked);
    let d = diagnose_expiry(&f);
    assert_eq!(
        verdict(&d),
        (Cause::RefreshTokenRevoked, Confidence::Likely)
    );
    assert!(d.evidence[1].contains("the session ended together with the refresh token"));
    assert!(d.evidence[2].contains("Connected Apps OAuth Usage"));
    assert_eq!(d.policy_death(), None);
}

#[test]
fn the_immediate_policy_refuses_the_first_refresh_while_the_session_still_works() {
    let mut f = facts(2 * HOUR, 0, 2 * HOUR);
    f.probe = Some(AccessProbe::Alive);
    let d = diagnose_expiry(&f);
    assert_eq!(
        verdict(&d),
        (Cause::RefreshTokenPolicyImmediate, Confidence::Likely)
    );
    assert!(d.evidence[1].contains("it still works"));
    assert!(titles(&d).contains(&"Reconnect"));
}

#[test]
fn a_live_session_and_tokens_that_survived_longer_gaps_leave_only_the_immediate_policy_at_first_use()
 {
    let mut f = facts(2 * HOUR, 0, 2 * HOUR);
    kept_alive(&mut f.evidence, 3 * HOUR, 30 * DAY);
    f.probe = Some(AccessProbe::Alive);
    assert_eq!(
        verdict(&diagnose_expiry(&f)),
        (Cause::RefreshTokenPolicyImmediate, Confidence::Likely)
    );
}

#[test]
fn a_live_session_after_a_long_gap_that_nothing_survived_is_likely_an_idle_limit_from_one_death() {
    // Connections refreshed every 2 hours for days; this one was left unused for 3 days.
    let mut f = facts(20 * DAY, 17 * DAY, 3 * DAY);
    kept_alive(&mut f.evidence, 2 * HOUR, 30 * DAY);
    f.probe = Some(AccessProbe::Alive);
    let d = diagnose_expiry(&f);
    assert_eq!(verdict(&d), (Cause::RefreshTokenIdle, Confidence::Likely));
    let inferred = d.inferred_policy.expect("an inferred policy");
    assert_eq!(
        (
            inferred.policy.at_least_seconds,
            inferred.policy.at_most_seconds
        ),
        (2 * HOUR, 3 * DAY)
    );
}

#[test]
fn a_live_session_in_a_token_older_than_any_that_worked_is_likely_a_lifetime_from_one_death() {
    // Refreshed every 2 hours: refused at 5 days, when others worked up to 5 days less 2 hours.
    let mut f = facts(5 * DAY, 5 * DAY - 2 * HOUR, 2 * HOUR);
    kept_alive(&mut f.evidence, 2 * HOUR, 5 * DAY - 2 * HOUR);
    f.probe = Some(AccessProbe::Alive);
    let d = diagnose_expiry(&f);
    assert_eq!(
        verdict(&d),
        (Cause::RefreshTokenPolicyLifetime, Confidence::Likely)
    );
    assert!(
        d.evidence[2].contains("likely has \"Expire refresh token after 5 days\""),
        "{:?}",
        d.evidence
    );
}

#[test]
fn a_live_session_where_other_tokens_survived_longer_and_older_suggests_a_changed_policy() {
    let mut f = facts(2 * DAY, DAY, 2 * HOUR);
    kept_alive(&mut f.evidence, 4 * HOUR, 30 * DAY);
    f.probe = Some(AccessProbe::Alive);
    let d = diagnose_expiry(&f);
    assert_eq!(
        verdict(&d),
        (Cause::RefreshTokenPolicyImmediate, Confidence::Possible)
    );
    assert!(
        d.evidence[3].contains("changed recently"),
        "{:?}",
        d.evidence
    );
}

#[test]
fn the_third_token_refused_after_six_seconds_unused_names_the_inferred_idle_limit() {
    let mut f = facts(21, 15, 6);
    used_then_left(&mut f.evidence, 3, 6);
    used_then_left(&mut f.evidence, 9, 6);
    kept_alive(&mut f.evidence, 1, 15);
    let d = diagnose_expiry(&f);
    assert_eq!(verdict(&d), (Cause::RefreshTokenIdle, Confidence::Likely));
    assert_eq!(
        d.evidence[1],
        "Refresh tokens of this connector kept working after up to 1 second unused and up to 15 seconds old, and 3 were refused after 6 seconds or more unused, at 9 seconds old or more: the Connected App likely has \"Expire refresh token if not used for 5 seconds\" (more than 1 second and at most 6 seconds)"
    );
    assert_eq!(
        d.evidence[2],
        "This refresh token was 21 seconds old and unused for 6 seconds"
    );
    assert_eq!(d.policy_death(), Some(f.observation));
}

#[test]
fn the_third_connection_dying_at_the_same_age_names_the_inferred_lifetime() {
    let mut f = facts(5 * DAY + HOUR, 5 * DAY - HOUR, 2 * HOUR);
    for _ in 0..2 {
        kept_alive(&mut f.evidence, 2 * HOUR, 5 * DAY - HOUR);
        f.evidence.died(&Observation {
            age_seconds: 5 * DAY + HOUR,
            last_success_age_seconds: 5 * DAY - HOUR,
            idle_seconds: 2 * HOUR,
        });
    }
    let d = diagnose_expiry(&f);
    assert_eq!(
        verdict(&d),
        (Cause::RefreshTokenPolicyLifetime, Confidence::Likely)
    );
    assert!(
        d.evidence[1].contains("\"Expire refresh token after 5 days\""),
        "{:?}",
        d.evidence
    );
}

#[test]
fn a_possible_policy_is_listed_beside_a_revoke_when_the_evidence_is_thin() {
    let mut f = facts(3 * DAY, 3 * DAY - HOUR, HOUR);
    kept_alive(&mut f.evidence, HOUR, 2 * DAY);
    let d = diagnose_expiry(&f);
    assert_eq!(
        verdict(&d),
        (Cause::RefreshTokenRevoked, Confidence::Possible)
    );
    assert!(
        d.evidence[3].contains("may have \"Expire refresh token after 3 days\""),
        "{:?}",
        d.evidence
    );
    assert_eq!(d.policy_death(), Some(f.observation));
}

#[test]
fn a_death_by_a_lifetime_policy_names_the_policy_and_recommends_the_jwt_bearer_flow() {
    let mut f = facts(6 * HOUR, 5 * HOUR, HOUR);
    f.policy_hint = Some(PolicyHint::Lifetime { seconds: 5 * HOUR });
    let d = diagnose_expiry(&f);
    assert_eq!(
        verdict(&d),
        (Cause::RefreshTokenPolicyLifetime, Confidence::Likely)
    );
    assert_eq!(
        d.evidence[1],
        "The connector says the policy is \"Expire refresh token after 5 hours\""
    );
    let titles = titles(&d);
    let at = titles
        .iter()
        .position(|t| t.contains("switch the connector to the JWT bearer flow"))
        .expect("the JWT bearer recommendation");
    assert_eq!(
        titles[at + 1..],
        [
            "Check the other refresh token options",
            "Review Login History"
        ]
    );
    let detail = &d.steps[at].detail;
    for part in [
        "\"Use digital signatures\"",
        "\"Admin approved users are pre-authorized\"",
        "PUT /v1/connectors/{name} with \"grant\": \"jwt_bearer\"",
        "POST /v1/connections",
        "client credentials",
    ] {
        assert!(detail.contains(part), "{part} in {detail}");
    }
}

#[test]
fn an_idle_death_recommends_the_jwt_bearer_flow_but_a_revoke_or_an_immediate_policy_does_not() {
    let mut idle = facts(40 * DAY, 0, 40 * DAY);
    idle.policy_hint = Some(PolicyHint::Idle { seconds: 30 * DAY });
    let d = diagnose_expiry(&idle);
    assert_eq!(d.cause, Cause::RefreshTokenIdle);
    assert!(recommends_jwt(&d));
    let revoked = diagnose_expiry(&facts(3 * DAY, 3 * DAY - HOUR, HOUR));
    assert_eq!(revoked.cause, Cause::RefreshTokenRevoked);
    assert!(!recommends_jwt(&revoked));
    let mut immediate = facts(HOUR, 0, HOUR);
    immediate.policy_hint = Some(PolicyHint::Immediately);
    let d = diagnose_expiry(&immediate);
    assert_eq!(d.cause, Cause::RefreshTokenPolicyImmediate);
    assert!(!recommends_jwt(&d));
}

fn recommends_jwt(d: &Diagnosis) -> bool {
    d.steps.iter().any(|s| s.title.contains("JWT bearer flow"))
}

#[test]
fn nothing_known_is_a_possible_revoke_that_lists_the_alternatives() {
    let d = diagnose_expiry(&facts(3 * DAY, 3 * DAY - HOUR, HOUR));
    assert_eq!(
        verdict(&d),
        (Cause::RefreshTokenRevoked, Confidence::Possible)
    );
    assert!(d.evidence.iter().any(|e| e.contains("revoked access")));
}

// The sandbox cannot lock or close its org, so `inactive_org` is only seen here.
#[test]
fn an_inactive_org_is_certain_and_says_no_reconnect_is_needed_once_restored() {
    let mut f = facts(3 * DAY, 2 * DAY, HOUR);
    f.classified = Cause::OrgInactive;
    f.provider_error = Some(ProviderError::new("inactive_org", "inactive organization"));
    let d = diagnose_expiry(&f);
    assert_eq!(verdict(&d), (Cause::OrgInactive, Confidence::Certain));
    assert_eq!(
        d.evidence,
        ["Salesforce answered inactive_org: inactive organization"]
    );
    assert!(
        d.steps[0]
            .detail
            .contains("restore the org with Salesforce")
    );
    assert_eq!(titles(&d)[1], "No reconnect needed");
    assert_eq!(d.policy_death(), None);
}

#[test]
fn an_interrupted_refresh_is_tethers_own_reuse_even_when_a_lifetime_hint_fits() {
    let mut f = facts(3 * DAY, 2 * DAY, HOUR);
    f.interrupted_attempt = true;
    f.policy_hint = Some(PolicyHint::Lifetime { seconds: DAY });
    let d = diagnose_expiry(&f);
    assert_eq!(verdict(&d), (Cause::RefreshTokenReused, Confidence::Likely));
    assert!(
        d.evidence[1].starts_with(
            "tether was stopped while Salesforce was answering a refresh; under refresh token rotation the answer carried the only valid refresh token"
        ),
        "{:?}",
        d.evidence
    );
    assert!(d.steps[1].detail.contains("tether's fault"));
    assert_eq!(d.policy_death(), None);
}

#[test]
fn an_interrupted_refresh_with_a_live_session_is_only_possibly_reuse() {
    let mut f = facts(3 * DAY, 2 * DAY, HOUR);
    f.interrupted_attempt = true;
    f.probe = Some(AccessProbe::Alive);
    let d = diagnose_expiry(&f);
    assert_eq!(
        verdict(&d),
        (Cause::RefreshTokenReused, Confidence::Possible)
    );
}

// A refresh whose answer never came (a timeout after sending) may have carried the only
// valid rotated token; the next refusal is tether's fault, not a policy.
#[test]
fn an_unanswered_refresh_makes_the_next_refusal_likely_reuse_and_asks_for_a_bug_report() {
    let mut f = facts(3 * DAY, 2 * DAY, HOUR);
    f.unsaved_rotation = true;
    // Even with a lifetime hint that also fits, the lost token is the better explanation.
    f.policy_hint = Some(PolicyHint::Lifetime { seconds: DAY });
    let d = diagnose_expiry(&f);
    assert_eq!(verdict(&d), (Cause::RefreshTokenReused, Confidence::Likely));
    assert_eq!(
        d.evidence[1],
        "An earlier refresh reached Salesforce but its answer never reached tether (it timed out after the request was sent); under refresh token rotation that answer carried the only valid refresh token, and the one tether kept was refused"
    );
    assert_eq!(titles(&d)[..2], ["Reconnect", "Report it"]);
    assert!(d.steps[1].detail.contains("report this"));
}

#[test]
fn a_provider_named_cause_wins_over_tethers_own_mishaps() {
    let mut f = facts(3 * DAY, 2 * DAY, HOUR);
    f.unsaved_rotation = true;
    f.interrupted_attempt = true;
    f.classified = Cause::UserInactive;
    assert_eq!(diagnose_expiry(&f).cause, Cause::UserInactive);
}

#[test]
fn a_jwt_user_not_pre_authorized_is_certain_recoverable_and_recommends_nothing_else() {
    let mut f = facts(0, 0, 0);
    f.grant = Grant::JwtBearer;
    f.classified = Cause::UserNotApproved;
    f.provider_error = Some(ProviderError::new(
        "invalid_grant",
        "user hasn't approved this consumer",
    ));
    let d = diagnose_expiry(&f);
    assert_eq!(verdict(&d), (Cause::UserNotApproved, Confidence::Certain));
    assert!(titles(&d).contains(&"For the JWT bearer flow, pre-authorize the user"));
    assert!(titles(&d).contains(&"No reconnect needed"));
    assert!(d.steps.iter().all(|s| !s.title.contains("switch")));
}

#[test]
fn policy_hints_parse_from_the_sandbox_shape() {
    let hint = |v: Value| PolicyHint::from_json(&v);
    assert_eq!(
        hint(json!({"kind": "idle", "seconds": 60})),
        Some(PolicyHint::Idle { seconds: 60 })
    );
    assert_eq!(
        hint(json!({"kind": "immediately"})),
        Some(PolicyHint::Immediately)
    );
    assert_eq!(hint(json!({"kind": "lifetime"})), None);
    assert_eq!(hint(json!("nonsense")), None);
}

#[test]
fn policy_hints_outside_the_documented_range_are_ignored() {
    let hint =
        |seconds: i64| PolicyHint::from_json(&json!({"kind": "lifetime", "seconds": seconds}));
    assert_eq!(hint(0), None);
    assert_eq!(hint(-1), None);
    assert_eq!(hint(MAX_POLICY_SECONDS + 1), None);
    assert_eq!(
        hint(MAX_POLICY_SECONDS),
        Some(PolicyHint::Lifetime {
            seconds: MAX_POLICY_SECONDS
        })
    );
}
