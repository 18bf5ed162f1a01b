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

fn titles(d: &Diagnosis) -> Vec<&str> {
    d.steps.iter().map(|s| s.title.as_str()).collect()
}

/// Builders for the scenarios.
impl Facts {
    fn classified_as(mut self, cause: Cause) -> Self {
        self.classified = cause;
        self
    }

    fn probed(mut self, probe: AccessProbe) -> Self {
        self.probe = Some(probe);
        self
    }

    fn hinted(mut self, hint: PolicyHint) -> Self {
        self.policy_hint = Some(hint);
        self
    }

    fn with_approvals_after(mut self, approvals: i64) -> Self {
        self.approvals_after = approvals;
        self
    }

    fn with_evidence(mut self, evidence: PolicyEvidence) -> Self {
        self.evidence = evidence;
        self
    }

    /// The connector's other tokens refreshed every `gap` until age `until`.
    fn kept_alive(mut self, gap: i64, until: i64) -> Self {
        kept_alive(&mut self.evidence, gap, until);
        self
    }

    /// tether was killed while a refresh was in flight.
    fn interrupted(mut self) -> Self {
        self.interrupted_attempt = true;
        self
    }

    /// A refresh's answer never reached tether.
    fn unsaved(mut self) -> Self {
        self.unsaved_rotation = true;
        self
    }
}

/// A line of a diagnosis's evidence, by index: exactly this text, or one that contains it.
enum Line {
    Is(usize, &'static str),
    Has(usize, &'static str),
}

/// Diagnoses `f` and asserts `claim`: the cause and confidence, and the evidence lines
/// given. The diagnosis, for the claim's other checks.
fn concludes(claim: &str, f: &Facts, expected: (Cause, Confidence), lines: &[Line]) -> Diagnosis {
    let d = diagnose_expiry(f);
    assert_eq!(
        (d.cause, d.confidence),
        expected,
        "{claim}: {:?}",
        d.evidence
    );
    for line in lines {
        let (at, text, fits) = match *line {
            Line::Is(at, text) => (at, text, d.evidence.get(at).is_some_and(|e| e == text)),
            Line::Has(at, text) => (
                at,
                text,
                d.evidence.get(at).is_some_and(|e| e.contains(text)),
            ),
        };
        assert!(
            fits,
            "{claim}: evidence[{at}] is not {text:?}: {:?}",
            d.evidence
        );
    }
    d
}

/// A scenario whose whole claim is the conclusion: cause, confidence and evidence lines.
struct Case {
    claim: &'static str,
    facts: Facts,
    expected: (Cause, Confidence),
    lines: &'static [Line],
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

/// Refused at its first refresh, two hours after connecting.
fn first_use() -> Facts {
    facts(2 * HOUR, 0, 2 * HOUR)
}

/// Two other connections refreshed every 2 hours died at the same age as this one.
fn third_death_at_the_same_age() -> Facts {
    let mut f = facts(5 * DAY + HOUR, 5 * DAY - HOUR, 2 * HOUR);
    for _ in 0..2 {
        kept_alive(&mut f.evidence, 2 * HOUR, 5 * DAY - HOUR);
        f.evidence.died(&f.observation);
    }
    f
}

fn cases() -> Vec<Case> {
    use AccessProbe::{Alive, Blocked};
    use Cause::*;
    use Confidence::*;
    vec![
        Case {
            claim: "a specific provider error is certain",
            facts: facts(DAY, HOUR, HOUR).classified_as(IpRestricted),
            expected: (IpRestricted, Certain),
            lines: &[],
        },
        Case {
            claim: "a token unused for 31 days is likely the 30-day idle limit",
            facts: facts(40 * DAY, 9 * DAY, 31 * DAY),
            expected: (RefreshTokenIdle, Likely),
            lines: &[Line::Is(1, "The refresh token was last used 31 days ago")],
        },
        Case {
            claim: "five later approvals of the same user point to the approval limit",
            facts: facts(3 * DAY, 2 * DAY, HOUR).with_approvals_after(5),
            expected: (ApprovalLimit, Likely),
            lines: &[],
        },
        Case {
            claim: "a session that still works is not the approval limit, which revokes it",
            facts: first_use().with_approvals_after(5).probed(Alive),
            expected: (RefreshTokenPolicyImmediate, Likely),
            lines: &[],
        },
        Case {
            claim: "refused at first use without a probe is only possibly the immediate policy",
            facts: first_use(),
            expected: (RefreshTokenPolicyImmediate, Possible),
            lines: &[Line::Has(2, "A revoke or a Block")],
        },
        Case {
            claim: "... even when other connections died the same way: a Block kills them all alike",
            facts: first_use().with_evidence(PolicyEvidence {
                first_use_deaths: 3,
                ..PolicyEvidence::default()
            }),
            expected: (RefreshTokenPolicyImmediate, Possible),
            lines: &[Line::Is(
                2,
                "3 other connections of this connector were also refused at their first refresh",
            )],
        },
        Case {
            claim: "a block before the first refresh is session_blocked, not the immediate policy",
            facts: first_use()
                .with_evidence(three_first_use_deaths())
                .probed(Blocked),
            expected: (SessionBlocked, Likely),
            lines: &[
                Line::Is(
                    1,
                    "tether then checked this connection's current access token with Salesforce: it was refused as \"not valid for use with the REST API\"",
                ),
                Line::Has(3, "not \"Immediately expire refresh token\""),
            ],
        },
        Case {
            claim: "a live session and tokens that survived longer gaps leave only the immediate policy at first use",
            facts: first_use().kept_alive(3 * HOUR, 30 * DAY).probed(Alive),
            expected: (RefreshTokenPolicyImmediate, Likely),
            lines: &[],
        },
        Case {
            // Refreshed every 2 hours: refused at 5 days, when others worked up to 5 days
            // less 2 hours.
            claim: "a live session in a token older than any that worked is likely a lifetime, from one death",
            facts: facts(5 * DAY, 5 * DAY - 2 * HOUR, 2 * HOUR)
                .kept_alive(2 * HOUR, 5 * DAY - 2 * HOUR)
                .probed(Alive),
            expected: (RefreshTokenPolicyLifetime, Likely),
            lines: &[Line::Has(
                2,
                "likely has \"Expire refresh token after 5 days\"",
            )],
        },
        Case {
            claim: "a live session where other tokens survived longer and older suggests a changed policy",
            facts: facts(2 * DAY, DAY, 2 * HOUR)
                .kept_alive(4 * HOUR, 30 * DAY)
                .probed(Alive),
            expected: (RefreshTokenPolicyImmediate, Possible),
            lines: &[Line::Has(3, "changed recently")],
        },
        Case {
            claim: "the third connection dying at the same age names the inferred lifetime",
            facts: third_death_at_the_same_age(),
            expected: (RefreshTokenPolicyLifetime, Likely),
            lines: &[Line::Has(1, "\"Expire refresh token after 5 days\"")],
        },
        Case {
            claim: "an interrupted refresh with a live session is only possibly reuse",
            facts: facts(3 * DAY, 2 * DAY, HOUR).interrupted().probed(Alive),
            expected: (RefreshTokenReused, Possible),
            lines: &[],
        },
        Case {
            claim: "a provider-named cause wins over tether's own mishaps",
            facts: facts(3 * DAY, 2 * DAY, HOUR)
                .unsaved()
                .interrupted()
                .classified_as(UserInactive),
            expected: (UserInactive, Certain),
            lines: &[],
        },
    ]
}

#[test]
fn each_scenario_concludes_its_cause_with_its_confidence_and_evidence() {
    for case in cases() {
        concludes(case.claim, &case.facts, case.expected, case.lines);
    }
}

#[test]
fn the_30_day_idle_limit_is_not_blamed_when_another_token_survived_40_days_unused() {
    let mut f = facts(60 * DAY, 29 * DAY, 31 * DAY);
    f.evidence.survived(40 * DAY, 50 * DAY);
    assert_ne!(diagnose_expiry(&f).cause, Cause::RefreshTokenIdle);
}

#[test]
fn a_revoke_before_the_first_refresh_is_a_revoke_not_the_immediate_policy() {
    let f = first_use()
        .with_evidence(three_first_use_deaths())
        .probed(AccessProbe::Revoked);
    let d = concludes(
        "a revoke before the first refresh",
        &f,
        (Cause::RefreshTokenRevoked, Confidence::Likely),
        &[
            Line::Has(1, "the session ended together with the refresh token"),
            Line::Has(2, "Connected Apps OAuth Usage"),
        ],
    );
    assert_eq!(d.policy_death(), None);
}

#[test]
fn the_immediate_policy_refuses_the_first_refresh_while_the_session_still_works() {
    let d = concludes(
        "the immediate policy",
        &first_use().probed(AccessProbe::Alive),
        (Cause::RefreshTokenPolicyImmediate, Confidence::Likely),
        &[Line::Has(1, "it still works")],
    );
    assert!(titles(&d).contains(&"Reconnect"));
}

#[test]
fn a_live_session_after_a_long_gap_that_nothing_survived_is_likely_an_idle_limit_from_one_death() {
    // Connections refreshed every 2 hours for days; this one was left unused for 3 days.
    let f = facts(20 * DAY, 17 * DAY, 3 * DAY)
        .kept_alive(2 * HOUR, 30 * DAY)
        .probed(AccessProbe::Alive);
    let d = concludes(
        "an idle limit from one death",
        &f,
        (Cause::RefreshTokenIdle, Confidence::Likely),
        &[],
    );
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
fn the_third_token_refused_after_six_seconds_unused_names_the_inferred_idle_limit() {
    let mut f = facts(21, 15, 6);
    used_then_left(&mut f.evidence, 3, 6);
    used_then_left(&mut f.evidence, 9, 6);
    kept_alive(&mut f.evidence, 1, 15);
    let d = concludes(
        "the inferred idle limit",
        &f,
        (Cause::RefreshTokenIdle, Confidence::Likely),
        &[
            Line::Is(
                1,
                "Refresh tokens of this connector kept working after up to 1 second unused and up to 15 seconds old, and 3 were refused after 6 seconds or more unused, at 9 seconds old or more: the Connected App likely has \"Expire refresh token if not used for 5 seconds\" (more than 1 second and at most 6 seconds)",
            ),
            Line::Is(
                2,
                "This refresh token was 21 seconds old and unused for 6 seconds",
            ),
        ],
    );
    assert_eq!(d.policy_death(), Some(f.observation));
}

#[test]
fn a_possible_policy_is_listed_beside_a_revoke_when_the_evidence_is_thin() {
    let f = facts(3 * DAY, 3 * DAY - HOUR, HOUR).kept_alive(HOUR, 2 * DAY);
    let d = concludes(
        "a possible policy beside a revoke",
        &f,
        (Cause::RefreshTokenRevoked, Confidence::Possible),
        &[Line::Has(
            3,
            "may have \"Expire refresh token after 3 days\"",
        )],
    );
    assert_eq!(d.policy_death(), Some(f.observation));
}

#[test]
fn a_death_by_a_lifetime_policy_names_the_policy_and_recommends_the_jwt_bearer_flow() {
    let f = facts(6 * HOUR, 5 * HOUR, HOUR).hinted(PolicyHint::Lifetime { seconds: 5 * HOUR });
    let d = concludes(
        "a hinted lifetime policy",
        &f,
        (Cause::RefreshTokenPolicyLifetime, Confidence::Likely),
        &[Line::Is(
            1,
            "The connector says the policy is \"Expire refresh token after 5 hours\"",
        )],
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
    let idle = facts(40 * DAY, 0, 40 * DAY).hinted(PolicyHint::Idle { seconds: 30 * DAY });
    let d = diagnose_expiry(&idle);
    assert_eq!(d.cause, Cause::RefreshTokenIdle);
    assert!(recommends_jwt(&d));
    let revoked = diagnose_expiry(&facts(3 * DAY, 3 * DAY - HOUR, HOUR));
    assert_eq!(revoked.cause, Cause::RefreshTokenRevoked);
    assert!(!recommends_jwt(&revoked));
    let d = diagnose_expiry(&facts(HOUR, 0, HOUR).hinted(PolicyHint::Immediately));
    assert_eq!(d.cause, Cause::RefreshTokenPolicyImmediate);
    assert!(!recommends_jwt(&d));
}

fn recommends_jwt(d: &Diagnosis) -> bool {
    d.steps.iter().any(|s| s.title.contains("JWT bearer flow"))
}

#[test]
fn nothing_known_is_a_possible_revoke_that_lists_the_alternatives() {
    let d = concludes(
        "nothing known",
        &facts(3 * DAY, 3 * DAY - HOUR, HOUR),
        (Cause::RefreshTokenRevoked, Confidence::Possible),
        &[],
    );
    assert!(d.evidence.iter().any(|e| e.contains("revoked access")));
}

// The sandbox cannot lock or close its org, so `inactive_org` is only seen here.
#[test]
fn an_inactive_org_is_certain_and_says_no_reconnect_is_needed_once_restored() {
    let mut f = facts(3 * DAY, 2 * DAY, HOUR).classified_as(Cause::OrgInactive);
    f.provider_error = Some(ProviderError::new("inactive_org", "inactive organization"));
    let d = concludes(
        "an inactive org",
        &f,
        (Cause::OrgInactive, Confidence::Certain),
        &[],
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
    assert_eq!(titles(&d)[1], "No reconnect needed");
    assert_eq!(d.policy_death(), None);
}

#[test]
fn an_interrupted_refresh_is_tethers_own_reuse_even_when_a_lifetime_hint_fits() {
    let f = facts(3 * DAY, 2 * DAY, HOUR)
        .interrupted()
        .hinted(PolicyHint::Lifetime { seconds: DAY });
    let d = concludes(
        "an interrupted refresh",
        &f,
        (Cause::RefreshTokenReused, Confidence::Likely),
        &[],
    );
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

// A refresh whose answer never came (a timeout after sending) may have carried the only
// valid rotated token; the next refusal is tether's fault, not a policy.
#[test]
fn an_unanswered_refresh_makes_the_next_refusal_likely_reuse_and_asks_for_a_bug_report() {
    // Even with a lifetime hint that also fits, the lost token is the better explanation.
    let f = facts(3 * DAY, 2 * DAY, HOUR)
        .unsaved()
        .hinted(PolicyHint::Lifetime { seconds: DAY });
    let d = concludes(
        "an unanswered refresh",
        &f,
        (Cause::RefreshTokenReused, Confidence::Likely),
        &[Line::Is(
            1,
            "An earlier refresh reached Salesforce but its answer never reached tether (it timed out after the request was sent); under refresh token rotation that answer carried the only valid refresh token, and the one tether kept was refused",
        )],
    );
    assert_eq!(titles(&d)[..2], ["Reconnect", "Report it"]);
    assert!(d.steps[1].detail.contains("report this"));
}

#[test]
fn a_jwt_user_not_pre_authorized_is_certain_recoverable_and_recommends_nothing_else() {
    let mut f = facts(0, 0, 0).classified_as(Cause::UserNotApproved);
    f.grant = Grant::JwtBearer;
    f.provider_error = Some(ProviderError::new(
        "invalid_grant",
        "user hasn't approved this consumer",
    ));
    let d = concludes(
        "a JWT user not pre-authorized",
        &f,
        (Cause::UserNotApproved, Confidence::Certain),
        &[],
    );
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
