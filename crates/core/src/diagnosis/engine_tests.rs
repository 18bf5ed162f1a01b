//! The engine's rules, one claim per test, including the causes the sandbox cannot produce.

use super::*;

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

fn expired() -> ProviderError {
    ProviderError::new("invalid_grant", "expired access/refresh token")
}

fn facts(age: i64, last_success: i64, idle: i64) -> Facts {
    Facts {
        classified: Cause::RefreshTokenRevoked,
        provider_error: Some(expired()),
        observation: Observation {
            age_seconds: age,
            last_success_age_seconds: last_success,
            idle_seconds: idle,
        },
        never_refreshed: last_success == 0,
        session_lifetime_seconds: 2 * HOUR,
        policy_hint: None,
        idle_ttl_30d_hint: false,
        approvals_after: 0,
        unsaved_rotation: false,
        peers: vec![],
    }
}

#[test]
fn a_specific_provider_error_is_certain() {
    let mut f = facts(DAY, HOUR, HOUR);
    f.classified = Cause::IpRestricted;
    let d = diagnose_expiry(&f);
    assert_eq!(
        (d.cause, d.confidence),
        (Cause::IpRestricted, Confidence::Certain)
    );
}

#[test]
fn a_token_unused_for_31_days_is_likely_the_30_day_idle_limit() {
    let d = diagnose_expiry(&facts(40 * DAY, 9 * DAY, 31 * DAY));
    assert_eq!(
        (d.cause, d.confidence),
        (Cause::RefreshTokenIdle, Confidence::Likely)
    );
    assert_eq!(d.evidence[1], "The refresh token was last used 31 days ago");
}

#[test]
fn five_later_approvals_of_the_same_user_point_to_the_approval_limit() {
    let mut f = facts(3 * DAY, 2 * DAY, HOUR);
    f.approvals_after = 5;
    assert_eq!(diagnose_expiry(&f).cause, Cause::ApprovalLimit);
}

#[test]
fn refused_at_the_first_scheduled_refresh_like_two_other_connections_is_likely_the_immediate_policy()
 {
    let mut f = facts(2 * HOUR, 0, 2 * HOUR);
    f.peers = vec![f.observation, f.observation];
    let d = diagnose_expiry(&f);
    assert_eq!(
        (d.cause, d.confidence),
        (Cause::RefreshTokenPolicyImmediate, Confidence::Likely)
    );
    // Alone, a first-use refusal could also be a revoke or a short limit.
    let d = diagnose_expiry(&facts(2 * HOUR, 0, 2 * HOUR));
    assert_eq!(
        (d.cause, d.confidence),
        (Cause::RefreshTokenPolicyImmediate, Confidence::Possible)
    );
    let d = diagnose_expiry(&facts(5 * DAY, 0, 5 * DAY));
    assert_eq!(
        (d.cause, d.confidence),
        (Cause::RefreshTokenPolicyImmediate, Confidence::Possible)
    );
}

#[test]
fn a_hinted_lifetime_explains_an_old_token_even_in_use() {
    let mut f = facts(6 * HOUR, 5 * HOUR, HOUR);
    f.policy_hint = Some(PolicyHint::Lifetime { seconds: 5 * HOUR });
    let d = diagnose_expiry(&f);
    assert_eq!(
        (d.cause, d.confidence),
        (Cause::RefreshTokenPolicyLifetime, Confidence::Likely)
    );
    assert_eq!(
        d.evidence[1],
        "The connector says the policy is \"Expire refresh token after 5 hours\""
    );
}

#[test]
fn nothing_known_is_a_possible_revoke_that_lists_the_alternatives() {
    let d = diagnose_expiry(&facts(3 * DAY, 3 * DAY - HOUR, HOUR));
    assert_eq!(
        (d.cause, d.confidence),
        (Cause::RefreshTokenRevoked, Confidence::Possible)
    );
    assert!(d.evidence.iter().any(|e| e.contains("revoked access")));
}

#[test]
fn the_third_connection_dying_at_the_same_age_names_the_inferred_lifetime() {
    let mut f = facts(5 * DAY + HOUR, 5 * DAY - HOUR, 2 * HOUR);
    f.peers = vec![
        Observation {
            age_seconds: 5 * DAY + 2 * HOUR,
            last_success_age_seconds: 5 * DAY - 30 * 60,
            idle_seconds: 2 * HOUR,
        },
        Observation {
            age_seconds: 5 * DAY + HOUR,
            last_success_age_seconds: 5 * DAY - 2 * HOUR,
            idle_seconds: 3 * HOUR,
        },
    ];
    let d = diagnose_expiry(&f);
    assert_eq!(
        (d.cause, d.confidence),
        (Cause::RefreshTokenPolicyLifetime, Confidence::Likely)
    );
    assert!(
        d.evidence[1].contains("\"Expire refresh token after 5 days\""),
        "{:?}",
        d.evidence
    );
}

// The sandbox cannot lock or close its org, so `inactive_org` is only seen here.
#[test]
fn an_inactive_org_is_certain_and_says_the_org_must_be_restored() {
    let mut f = facts(3 * DAY, 2 * DAY, HOUR);
    f.classified = Cause::OrgInactive;
    f.provider_error = Some(ProviderError::new("inactive_org", "inactive organization"));
    let d = diagnose_expiry(&f);
    assert_eq!(
        (d.cause, d.confidence),
        (Cause::OrgInactive, Confidence::Certain)
    );
    assert_eq!(
        d.evidence,
        ["Salesforce answered inactive_org: inactive organization"]
    );
    assert!(
        d.steps[0]
            .detail
            .contains("restore the org with Salesforce")
    );
}

// tether saves every rotated token before using it, so the sandbox cannot make it present
// an old one; the rule is checked on the facts the server would gather after such a loss.
#[test]
fn a_lost_rotated_token_is_likely_reuse_and_asks_for_a_bug_report() {
    let mut f = facts(3 * DAY, 2 * DAY, HOUR);
    f.unsaved_rotation = true;
    // Even with a lifetime hint that also fits, the lost token is the better explanation.
    f.policy_hint = Some(PolicyHint::Lifetime { seconds: DAY });
    let d = diagnose_expiry(&f);
    assert_eq!(
        (d.cause, d.confidence),
        (Cause::RefreshTokenReused, Confidence::Likely)
    );
    assert_eq!(
        d.evidence[1],
        "Salesforce rotated the refresh token on an earlier refresh and tether could not save the new one, so the old one was used again"
    );
    let titles: Vec<_> = d.steps.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles[..2], ["Reconnect", "Report it"]);
    assert!(d.steps[1].detail.contains("report this"));
}

#[test]
fn a_provider_named_cause_wins_over_a_lost_rotated_token() {
    let mut f = facts(3 * DAY, 2 * DAY, HOUR);
    f.unsaved_rotation = true;
    f.classified = Cause::UserInactive;
    assert_eq!(diagnose_expiry(&f).cause, Cause::UserInactive);
}

#[test]
fn policy_hints_parse_from_the_sandbox_shape() {
    let hint = |v: Value| PolicyHint::from_json(&v);
    assert_eq!(
        hint(serde_json::json!({"kind": "idle", "seconds": 60})),
        Some(PolicyHint::Idle { seconds: 60 })
    );
    assert_eq!(
        hint(serde_json::json!({"kind": "immediately"})),
        Some(PolicyHint::Immediately)
    );
    assert_eq!(hint(serde_json::json!({"kind": "lifetime"})), None);
    assert_eq!(hint(serde_json::json!("nonsense")), None);
}
