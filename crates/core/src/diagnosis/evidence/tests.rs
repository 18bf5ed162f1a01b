//! The evidence record: what each event changes, and what it must never do.

use super::*;

fn death(gap: i64, age: i64, last_success_age: i64) -> Observation {
    Observation {
        age_seconds: age,
        last_success_age_seconds: last_success_age,
        idle_seconds: gap,
    }
}

#[test]
fn a_survival_raises_the_longest_gap_and_the_oldest_age_survived() {
    let mut evidence = PolicyEvidence::default();
    evidence.survived(60, 600);
    evidence.survived(30, 900);
    assert_eq!(
        (
            evidence.survivals,
            evidence.longest_survived_gap_seconds,
            evidence.oldest_survived_age_seconds
        ),
        (2, 60, 900)
    );
}

#[test]
fn a_death_lowers_the_shortest_gap_and_youngest_age_refused_and_counts_first_uses() {
    let mut evidence = PolicyEvidence::default();
    evidence.died(&death(100, 1_000, 900));
    evidence.died(&death(200, 500, 0));
    assert_eq!(evidence.deaths, 2);
    assert_eq!(evidence.first_use_deaths, 1);
    assert_eq!(evidence.shortest_death_gap_seconds, Some(100));
    assert_eq!(evidence.youngest_death_age_seconds, Some(500));
}

#[test]
fn a_death_remembers_its_last_working_refresh_as_a_survival_of_that_age() {
    let mut evidence = PolicyEvidence::default();
    evidence.died(&death(100, 1_000, 900));
    assert_eq!(evidence.oldest_survived_age_seconds, 900);
    assert_eq!(evidence.survivals, 0);
}

#[test]
fn a_clock_that_ran_back_counts_as_zero_and_fits_nothing() {
    let mut evidence = PolicyEvidence::default();
    evidence.survived(-5, -5);
    evidence.died(&death(-10, -10, -10));
    assert_eq!(evidence.longest_survived_gap_seconds, 0);
    assert_eq!(evidence.shortest_death_gap_seconds, Some(0));
    assert_eq!(evidence.idle_fit(), None);
    assert_eq!(evidence.lifetime_fit(), None);
}

#[test]
fn empty_evidence_is_stored_as_a_few_zeros_and_reads_back_from_an_empty_object() {
    let json = serde_json::to_value(PolicyEvidence::default()).unwrap_or_default();
    assert_eq!(
        json,
        serde_json::json!({"survivals": 0, "longest_survived_gap_seconds": 0,
            "oldest_survived_age_seconds": 0, "deaths": 0, "first_use_deaths": 0})
    );
    let back: PolicyEvidence = serde_json::from_str("{}").unwrap_or_else(|_| PolicyEvidence {
        deaths: 99,
        ..PolicyEvidence::default()
    });
    assert_eq!(back, PolicyEvidence::default());
}

#[test]
fn with_death_leaves_the_stored_evidence_unchanged() {
    let stored = PolicyEvidence::default();
    let weighed = stored.with_death(&death(10, 10, 0));
    assert_eq!(stored.deaths, 0);
    assert_eq!(weighed.deaths, 1);
}
