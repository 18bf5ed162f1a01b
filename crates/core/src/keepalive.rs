//! How often the keep-alive must use an idle refresh token so that an idle policy
//! ("Expire refresh token if not used for N") can never expire it.
//!
//! The idle limit is the one the connector's admin declared, else the one tether inferred
//! from the connector's evidence (its lower bound, so the keep-alive comes early, not late).
//! A token is used again after half of that limit: one missed pass, a slow org or an
//! instance restart still leaves half the limit in hand. Connectors without a known idle
//! limit use the `keepalive_seconds` setting, which the scheduler applies itself.

use chrono::Duration;

use crate::diagnosis::{PolicyEvidence, PolicyHint, PolicyKind};

/// The shortest interval the keep-alive uses, whatever the limit: a refresh a minute per
/// connection is already more than any org should see.
pub const MIN_INTERVAL: Duration = Duration::minutes(1);

/// How often an idle refresh token of this connector must be used, when an idle limit is
/// known; `None` when the connector declares another policy or nothing is known.
pub fn interval(declared: Option<PolicyHint>, evidence: &PolicyEvidence) -> Option<Duration> {
    let idle_seconds = match declared {
        Some(PolicyHint::Idle { seconds }) => seconds,
        // What the admin declared wins over what tether guessed.
        Some(_) => return None,
        None => {
            let inferred = evidence.infer()?;
            inferred.bracket(PolicyKind::Idle)?.at_least_seconds
        }
    };
    let half = Duration::try_seconds(idle_seconds / 2)?;
    Some(half.max(MIN_INTERVAL))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_idle_limit_is_kept_alive_at_half_its_length() {
        let every = interval(
            Some(PolicyHint::Idle { seconds: 3_600 }),
            &PolicyEvidence::default(),
        );
        assert_eq!(every, Some(Duration::minutes(30)));
    }

    #[test]
    fn a_very_short_idle_limit_is_kept_alive_no_more_than_once_a_minute() {
        let every = interval(
            Some(PolicyHint::Idle { seconds: 10 }),
            &PolicyEvidence::default(),
        );
        assert_eq!(every, Some(MIN_INTERVAL));
    }

    #[test]
    fn another_declared_policy_or_no_evidence_leaves_the_default_interval() {
        let none = PolicyEvidence::default();
        for declared in [
            Some(PolicyHint::Lifetime { seconds: 3_600 }),
            Some(PolicyHint::UntilRevoked),
            Some(PolicyHint::Immediately),
            None,
        ] {
            assert_eq!(interval(declared, &none), None, "{declared:?}");
        }
    }
}
