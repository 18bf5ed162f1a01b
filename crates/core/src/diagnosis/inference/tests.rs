//! Inference from deaths and survivals: the worked examples, and properties over any history.

use proptest::prelude::*;

use super::*;
use crate::diagnosis::Observation;

const MONTH: i64 = 30 * 86_400;

/// A connection refreshed every `every` seconds until age `used_for`, then left unused for
/// `left` and refused at its next refresh, fed to `evidence` as the server would. Every
/// duration is multiplied by `unit` (1 for seconds, [`MONTH`] for months).
fn used_then_left(evidence: &mut PolicyEvidence, unit: i64, every: i64, used_for: i64, left: i64) {
    let mut age = 0;
    while age + every <= used_for {
        age += every;
        evidence.survived(every * unit, age * unit);
    }
    evidence.died(&Observation {
        age_seconds: (age + left) * unit,
        last_success_age_seconds: age * unit,
        idle_seconds: left * unit,
    });
}

/// The worked example: used every 1 for 3, 9 and 15, then left unused for 6.
fn idle_run(unit: i64) -> PolicyEvidence {
    let mut evidence = PolicyEvidence::default();
    for used_for in [3, 9, 15] {
        used_then_left(&mut evidence, unit, 1, used_for, 6);
    }
    evidence
}

/// Three connections refreshed every 1 and refused at age 9.
fn lifetime_run() -> PolicyEvidence {
    let mut evidence = PolicyEvidence::default();
    for _ in 0..3 {
        used_then_left(&mut evidence, 1, 1, 8, 1);
    }
    evidence
}

fn bracket(kind: PolicyKind, at_least: i64, at_most: i64) -> PolicyBracket {
    PolicyBracket {
        kind,
        at_least_seconds: at_least,
        at_most_seconds: at_most,
    }
}

#[test]
fn tokens_refused_after_six_seconds_unused_while_one_second_gaps_survived_are_likely_an_idle_limit_between_1_and_6_seconds()
 {
    let inferred = idle_run(1).infer();
    assert_eq!(
        inferred,
        Some(InferredPolicy {
            policy: bracket(PolicyKind::Idle, 1, 6),
            confidence: Confidence::Likely,
            observations: 3 + 9 + 15 + 3,
            alternative: None,
        })
    );
    let inferred = inferred.expect("an inference");
    assert_eq!(
        inferred.policy.range(),
        "more than 1 second and at most 6 seconds"
    );
    assert_eq!(
        inferred.describe(),
        "Expire refresh token if not used for 5 seconds"
    );
}

#[test]
fn the_same_run_in_months_infers_the_same_policy_in_months() {
    let seconds = idle_run(1).infer().expect("an inference");
    let months = idle_run(MONTH).infer().expect("an inference");
    assert_eq!(months.confidence, seconds.confidence);
    assert_eq!(months.policy, bracket(PolicyKind::Idle, MONTH, 6 * MONTH));
    assert_eq!(
        months.describe(),
        "Expire refresh token if not used for 180 days"
    );
}

#[test]
fn tokens_refused_at_the_same_age_while_in_use_are_likely_a_lifetime() {
    let inferred = lifetime_run().infer();
    assert_eq!(
        inferred.map(|i| (i.policy, i.confidence)),
        Some((bracket(PolicyKind::Lifetime, 8, 9), Confidence::Likely))
    );
}

#[test]
fn a_connection_alive_at_15_seconds_rules_out_a_lifetime_of_9_seconds() {
    let mut evidence = lifetime_run();
    evidence.survived(1, 15);
    assert_eq!(evidence.infer(), None);
}

#[test]
fn deaths_younger_than_a_survival_and_no_longer_unused_fit_neither_policy() {
    let mut evidence = PolicyEvidence::default();
    used_then_left(&mut evidence, 1, 10, 100, 10);
    used_then_left(&mut evidence, 1, 10, 20, 10);
    assert_eq!(evidence.infer(), None);
}

#[test]
fn deaths_both_older_and_longer_unused_than_every_survival_are_possibly_either_and_name_both() {
    let mut evidence = PolicyEvidence::default();
    for _ in 0..3 {
        used_then_left(&mut evidence, 1, 1, 14, 6);
    }
    let inferred = evidence.infer().expect("an inference");
    assert_eq!(inferred.confidence, Confidence::Possible);
    assert_eq!(inferred.policy, bracket(PolicyKind::Idle, 1, 6));
    assert_eq!(
        inferred.alternative,
        Some(bracket(PolicyKind::Lifetime, 14, 20))
    );
    assert_eq!(
        inferred.describe(),
        "Expire refresh token if not used for 5 seconds or Expire refresh token after 20 seconds"
    );
}

#[test]
fn fewer_than_three_deaths_make_an_inference_only_possible() {
    let mut evidence = PolicyEvidence::default();
    used_then_left(&mut evidence, 1, 1, 3, 6);
    used_then_left(&mut evidence, 1, 1, 9, 6);
    let inferred = evidence.infer().map(|i| (i.policy.kind, i.confidence));
    assert_eq!(inferred, Some((PolicyKind::Idle, Confidence::Possible)));
}

// With tether's keep-alive every gap is one session; a death a second later than the usual
// gap is clock jitter, not an idle limit, and must not blur a lifetime into "possible".
#[test]
fn a_death_a_second_after_the_usual_gap_is_not_an_idle_limit() {
    let mut evidence = PolicyEvidence::default();
    let (gap, lifetime) = (7_200, 5 * 86_400);
    for _ in 0..3 {
        for age in (gap..lifetime).step_by(gap as usize) {
            evidence.survived(gap, age);
        }
        evidence.died(&Observation {
            age_seconds: lifetime + 1,
            last_success_age_seconds: lifetime - gap,
            idle_seconds: gap + 1,
        });
    }
    let inferred = evidence.infer().expect("an inference");
    assert_eq!(
        (inferred.policy.kind, inferred.confidence),
        (PolicyKind::Lifetime, Confidence::Likely)
    );
    assert_eq!(inferred.describe(), "Expire refresh token after 5 days");
}

// Measured in whole seconds, a token that survived at 8.9 s and one refused at 9.1 s both
// read 9 s old; the lifetime of about 9 s must still fit.
#[test]
fn a_survival_and_a_death_at_the_same_age_still_fit_a_lifetime() {
    let mut evidence = lifetime_run();
    evidence.survived(1, 9);
    let inferred = evidence.infer().expect("an inference");
    assert_eq!(inferred.policy, bracket(PolicyKind::Lifetime, 9, 9));
    assert_eq!(inferred.policy.range(), "about 9 seconds");
    assert_eq!(inferred.describe(), "Expire refresh token after 9 seconds");
}

#[test]
fn nothing_is_inferred_before_a_death() {
    let mut evidence = PolicyEvidence::default();
    evidence.survived(60, 600);
    assert_eq!(evidence.infer(), None);
}

#[test]
fn the_inference_serializes_in_the_documented_shape() {
    let inferred = idle_run(1).infer();
    assert_eq!(
        serde_json::to_value(inferred).unwrap_or_default(),
        serde_json::json!({
            "kind": "idle", "at_least_seconds": 1, "at_most_seconds": 6,
            "confidence": "likely", "observations": 30
        })
    );
    let mut both = PolicyEvidence::default();
    used_then_left(&mut both, 1, 1, 14, 6);
    let json = serde_json::to_value(both.infer()).unwrap_or_default();
    assert_eq!(
        json["alternative"],
        serde_json::json!({"kind": "lifetime", "at_least_seconds": 14, "at_most_seconds": 20})
    );
    let back: Option<InferredPolicy> = serde_json::from_value(json).unwrap_or_default();
    assert_eq!(back, both.infer());
}

/// An event of a history: a survival or a death, at `(gap, age)`.
#[derive(Debug, Clone, Copy)]
enum Event {
    Survived(i64, i64),
    Died(i64, i64),
}

fn feed(events: &[Event], scale: i64) -> PolicyEvidence {
    let mut evidence = PolicyEvidence::default();
    for event in events {
        match *event {
            Event::Survived(gap, age) => evidence.survived(gap * scale, age * scale),
            Event::Died(gap, age) => evidence.died(&Observation {
                age_seconds: age * scale,
                last_success_age_seconds: 0,
                idle_seconds: gap * scale,
            }),
        }
    }
    evidence
}

/// Survivals drawn from the lower part of `0..max`, deaths from the upper part, so that
/// histories where a policy fits (and ties at the boundary) come up often.
fn event(max: i64) -> impl Strategy<Value = Event> {
    let low = 0..max / 2 + 1;
    let high = max / 3..max;
    prop_oneof![
        (low.clone(), low).prop_map(|(gap, age)| Event::Survived(gap, age)),
        (high.clone(), high).prop_map(|(gap, age)| Event::Died(gap, age)),
    ]
}

fn extreme() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MAX),
        Just(i64::MIN),
        Just(0),
        Just(-1),
        Just(1),
        any::<i64>()
    ]
}

/// The definition, checked pair by pair over the whole history.
fn fits_by_definition(events: &[Event], kind: PolicyKind) -> bool {
    let pick = |gap: i64, age: i64| match kind {
        PolicyKind::Idle => gap,
        PolicyKind::Lifetime => age,
    };
    let (mut deaths, mut survivals) = (Vec::new(), Vec::new());
    for event in events {
        match *event {
            Event::Died(g, a) => deaths.push(pick(g, a).max(0)),
            Event::Survived(g, a) => survivals.push(pick(g, a).max(0)),
        }
    }
    !deaths.is_empty()
        && deaths.iter().all(|d| {
            *d > 0
                && survivals.iter().all(|s| match kind {
                    PolicyKind::Idle => i128::from(*d) * 4 > i128::from(*s) * 5,
                    PolicyKind::Lifetime => d >= s,
                })
        })
}

proptest! {
    #[test]
    fn the_folded_evidence_fits_exactly_when_every_death_and_survival_pair_fits(
        events in prop::collection::vec(event(20), 0..12)
    ) {
        let evidence = feed(&events, 1);
        for kind in [PolicyKind::Idle, PolicyKind::Lifetime] {
            prop_assert_eq!(evidence.fit(kind).is_some(), fits_by_definition(&events, kind));
        }
    }

    #[test]
    fn inference_is_scale_free(
        events in prop::collection::vec(event(1_000_000), 0..30),
        scale in 1i64..1_000_000,
    ) {
        let plain = feed(&events, 1).infer();
        let scaled = feed(&events, scale).infer();
        let scale_bracket = |b: PolicyBracket| bracket(b.kind, b.at_least_seconds * scale, b.at_most_seconds * scale);
        prop_assert_eq!(scaled, plain.map(|p| InferredPolicy {
            policy: scale_bracket(p.policy),
            alternative: p.alternative.map(scale_bracket),
            ..p
        }));
    }

    #[test]
    fn the_evidence_does_not_depend_on_the_order_of_events(
        (events, shuffled) in prop::collection::vec(event(1_000), 0..30)
            .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle()))
    ) {
        prop_assert_eq!(feed(&events, 1), feed(&shuffled, 1));
    }

    #[test]
    fn extreme_durations_never_panic_and_give_ordered_non_negative_brackets(
        values in prop::collection::vec((any::<bool>(), extreme(), extreme(), extreme()), 0..20)
    ) {
        let mut evidence = PolicyEvidence::default();
        for (alive, gap, age, last) in values {
            if alive {
                evidence.survived(gap, age);
            } else {
                evidence.died(&Observation { age_seconds: age, last_success_age_seconds: last, idle_seconds: gap });
            }
        }
        if let Some(inferred) = evidence.infer() {
            for b in std::iter::once(inferred.policy).chain(inferred.alternative) {
                prop_assert!(0 <= b.at_least_seconds && b.at_least_seconds <= b.at_most_seconds);
                prop_assert!(b.at_most_seconds > 0);
                prop_assert!(!b.describe().is_empty() && !b.range().is_empty());
            }
            prop_assert!(inferred.confidence != Confidence::Certain);
        }
        let json = serde_json::to_string(&evidence).unwrap_or_default();
        prop_assert_eq!(serde_json::from_str::<PolicyEvidence>(&json).ok(), Some(evidence));
    }
}
