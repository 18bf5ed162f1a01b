//! Reading a Connected App's refresh-token policy off connections that expired alike.
//!
//! Each expired connection is an [`Observation`]: its token's age when refused, its age at the
//! last refresh that worked, and how long it had been unused. Under "Expire refresh token
//! after N" every observation brackets N: `last success age < N <= age at refusal`; several
//! observations narrow the bracket. Under an idle limit the idle gaps at refusal agree while
//! the ages do not. With too few observations, or brackets that disagree, nothing is inferred.

use serde::{Deserialize, Serialize};

use super::engine::Observation;

/// How many expired connections an inference needs.
pub const MIN_OBSERVATIONS: usize = 3;

/// A policy inferred from observations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InferredPolicy {
    /// "Expire refresh token after N": N lies in `(at_least, at_most]`.
    Lifetime {
        at_least_seconds: i64,
        at_most_seconds: i64,
        from_connections: usize,
    },
    /// "Expire refresh token if not used for N": N is at most `at_most`.
    Idle {
        at_most_seconds: i64,
        from_connections: usize,
    },
}

impl InferredPolicy {
    /// The policy in the words of the Setup screen, with a round value inside the bracket.
    pub fn describe(&self) -> String {
        match self {
            InferredPolicy::Lifetime {
                at_least_seconds,
                at_most_seconds,
                ..
            } => format!(
                "Expire refresh token after {}",
                round_within(*at_least_seconds, *at_most_seconds)
            ),
            InferredPolicy::Idle {
                at_most_seconds, ..
            } => format!(
                "Expire refresh token if not used for {}",
                round_within(at_most_seconds * 9 / 10, *at_most_seconds)
            ),
        }
    }

    /// How many connections support it.
    pub fn from_connections(&self) -> usize {
        match self {
            InferredPolicy::Lifetime {
                from_connections, ..
            }
            | InferredPolicy::Idle {
                from_connections, ..
            } => *from_connections,
        }
    }
}

/// The policy the observations point to, if they agree. `usual_gap_seconds` is how long a
/// connection in use goes between refreshes (the session lifetime): a token that died after
/// no longer a gap than that survived many such gaps before, so no idle limit killed it.
pub fn infer(observations: &[Observation], usual_gap_seconds: i64) -> Option<InferredPolicy> {
    if observations.len() < MIN_OBSERVATIONS {
        return None;
    }
    let lifetime = lifetime_bracket(observations);
    let idle = idle_bound(observations).filter(|min_idle| *min_idle * 2 > usual_gap_seconds * 3);
    let used_during_life = observations
        .iter()
        .all(|o| o.idle_seconds * 2 <= o.age_seconds);
    match (lifetime, idle) {
        // Tokens that were in use until shortly before they died, at the same age: a lifetime.
        (Some((lo, hi)), _) if used_during_life => Some(InferredPolicy::Lifetime {
            at_least_seconds: lo,
            at_most_seconds: hi,
            from_connections: observations.len(),
        }),
        // Same idle gap, different ages: an idle limit.
        (None, Some(max)) => Some(InferredPolicy::Idle {
            at_most_seconds: max,
            from_connections: observations.len(),
        }),
        // Never used, same age: lifetime and idle cannot be told apart.
        _ => None,
    }
}

/// `(last success age, refusal age]` shared by every observation, when the ages cluster.
fn lifetime_bracket(observations: &[Observation]) -> Option<(i64, i64)> {
    let lo = observations
        .iter()
        .map(|o| o.last_success_age_seconds)
        .max()?;
    let hi = observations.iter().map(|o| o.age_seconds).min()?;
    let max_age = observations.iter().map(|o| o.age_seconds).max()?;
    (lo < hi && clustered(hi, max_age)).then_some((lo, hi))
}

/// The shortest idle gap at refusal, when the gaps cluster and the ages do not.
fn idle_bound(observations: &[Observation]) -> Option<i64> {
    let min_idle = observations.iter().map(|o| o.idle_seconds).min()?;
    let max_idle = observations.iter().map(|o| o.idle_seconds).max()?;
    let min_age = observations.iter().map(|o| o.age_seconds).min()?;
    let max_age = observations.iter().map(|o| o.age_seconds).max()?;
    (min_idle > 0 && clustered(min_idle, max_idle) && !clustered(min_age, max_age))
        .then_some(min_idle)
}

/// Whether two positive durations are within 15% (and an hour) of each other.
fn clustered(min: i64, max: i64) -> bool {
    max - min <= (max * 15 / 100).max(3600)
}

/// A round duration in `(lo, hi]`: whole days if one fits, else hours, minutes, seconds.
fn round_within(lo: i64, hi: i64) -> String {
    let (n, name) = [
        (86_400, "day"),
        (3_600, "hour"),
        (60, "minute"),
        (1, "second"),
    ]
    .into_iter()
    .find_map(|(unit, name)| {
        let n = lo / unit + 1;
        (n * unit <= hi).then_some((n, name))
    })
    .unwrap_or((hi.max(1), "second"));
    format!("{n} {name}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;
    const HOUR: i64 = 3_600;

    fn obs(age: i64, last_success_age: i64, idle: i64) -> Observation {
        Observation {
            age_seconds: age,
            last_success_age_seconds: last_success_age,
            idle_seconds: idle,
        }
    }

    #[test]
    fn three_tokens_in_use_that_died_at_the_same_age_reveal_a_lifetime() {
        let observations = [
            obs(5 * DAY + HOUR, 5 * DAY - HOUR, 2 * HOUR),
            obs(5 * DAY + 2 * HOUR, 5 * DAY - 10 * 60, 2 * HOUR),
            obs(5 * DAY + HOUR, 5 * DAY - 30 * 60, 90 * 60),
        ];
        let inferred = infer(&observations, 2 * HOUR);
        assert_eq!(
            inferred,
            Some(InferredPolicy::Lifetime {
                at_least_seconds: 5 * DAY - 10 * 60,
                at_most_seconds: 5 * DAY + HOUR,
                from_connections: 3
            })
        );
        assert_eq!(
            inferred.map(|p| p.describe()).as_deref(),
            Some("Expire refresh token after 5 days")
        );
    }

    #[test]
    fn tokens_that_died_after_the_same_idle_gap_at_different_ages_reveal_an_idle_limit() {
        let observations = [
            obs(10 * DAY, 3 * DAY, 7 * DAY),
            obs(20 * DAY, 13 * DAY, 7 * DAY),
            obs(8 * DAY, DAY, 7 * DAY),
        ];
        let inferred = infer(&observations, 2 * HOUR);
        assert_eq!(
            inferred,
            Some(InferredPolicy::Idle {
                at_most_seconds: 7 * DAY,
                from_connections: 3
            })
        );
        assert_eq!(
            inferred.map(|p| p.describe()).as_deref(),
            Some("Expire refresh token if not used for 7 days")
        );
    }

    #[test]
    fn two_observations_or_disagreeing_ones_infer_nothing() {
        assert_eq!(
            infer(
                &[obs(5 * DAY, 4 * DAY, HOUR), obs(5 * DAY, 4 * DAY, HOUR)],
                2 * HOUR
            ),
            None
        );
        let scattered = [
            obs(2 * DAY, DAY, HOUR),
            obs(9 * DAY, 8 * DAY, HOUR),
            obs(30 * DAY, 29 * DAY, HOUR),
        ];
        assert_eq!(infer(&scattered, 2 * HOUR), None);
    }

    #[test]
    fn never_used_tokens_of_one_age_are_ambiguous() {
        let observations = [
            obs(3 * DAY, 0, 3 * DAY),
            obs(3 * DAY, 0, 3 * DAY),
            obs(3 * DAY, 0, 3 * DAY),
        ];
        assert_eq!(infer(&observations, 2 * HOUR), None);
    }
}
