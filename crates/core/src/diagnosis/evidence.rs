//! A connector's evidence about its Connected App's refresh-token policy: what its refresh
//! tokens survived and what killed them, folded into a few numbers.
//!
//! Every refresh that works is a survival: a token unused for `gap` at age `age` (since its
//! approval) was accepted, so no idle limit is `<= gap` and no lifetime is `<= age`. Every
//! refusal nobody explained is a death: an idle limit would be `<= gap`, a lifetime `<= age`.
//! Only the extremes matter (the longest gap and the oldest age survived, the shortest gap
//! and the youngest age refused), so the record is fixed-size, each update is O(1), and it
//! can be stored as JSON next to the connector and rewritten on every refresh.
//!
//! Idle fits when every death came after a clearly longer gap than every survival; lifetime
//! fits when every death came at an age no younger than every survival. Both comparisons
//! are ratios, so the same history in seconds or in months reads the same.

use serde::{Deserialize, Serialize};

use super::facts::Observation;

/// How much longer than every survived gap a death's gap must be before an idle limit
/// explains it, as `(numerator, denominator)`: 5/4, a quarter longer.
///
/// tether's keep-alive makes most gaps equal (one session lifetime), so a death and a
/// survival at nearly the same gap are the normal run of a connector in use, not a sign of
/// an idle limit: clock granularity and scheduling jitter must not make one "fit". A ratio
/// keeps the rule scale-free.
pub const IDLE_GAP_MARGIN: (i64, i64) = (5, 4);

/// What a connector's refresh tokens survived and what killed them. `Default` is "nothing
/// seen yet".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyEvidence {
    /// Refreshes that worked.
    pub survivals: u64,
    /// The longest time a refresh token had gone unused when a refresh worked.
    pub longest_survived_gap_seconds: i64,
    /// The greatest age (since its approval) at which a refresh token still worked.
    pub oldest_survived_age_seconds: i64,
    /// Refresh tokens refused with no named cause.
    pub deaths: u64,
    /// Of those, refused the first time tether used them.
    pub first_use_deaths: u64,
    /// The shortest time a refused token had gone unused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shortest_death_gap_seconds: Option<i64>,
    /// The youngest age at which a token was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub youngest_death_age_seconds: Option<i64>,
}

/// Which refresh-token policy a bracket is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// "Expire refresh token if not used for N".
    Idle,
    /// "Expire refresh token after N".
    Lifetime,
}

/// A policy that fits every observation: its N lies in `(at_least, at_most]` (or is
/// `at_most` itself when a survival and a death came at the same value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyBracket {
    pub kind: PolicyKind,
    pub at_least_seconds: i64,
    pub at_most_seconds: i64,
}

impl PolicyEvidence {
    /// A refresh token unused for `gap_seconds` at age `age_seconds` was accepted. Negative
    /// values (a clock that ran back) count as zero.
    pub fn survived(&mut self, gap_seconds: i64, age_seconds: i64) {
        self.survivals = self.survivals.saturating_add(1);
        self.longest_survived_gap_seconds = self.longest_survived_gap_seconds.max(gap_seconds);
        self.oldest_survived_age_seconds = self.oldest_survived_age_seconds.max(age_seconds);
    }

    /// A refresh token was refused with no named cause after `idle_seconds` unused, at
    /// `age_seconds`. Its last refresh that worked (`last_success_age_seconds`) was a
    /// survival at that age too, so a lost survival cannot widen the lifetime bracket.
    pub fn died(&mut self, observation: &Observation) {
        let gap = observation.idle_seconds.max(0);
        let age = observation.age_seconds.max(0);
        self.deaths = self.deaths.saturating_add(1);
        if observation.last_success_age_seconds <= 0 {
            self.first_use_deaths = self.first_use_deaths.saturating_add(1);
        }
        self.shortest_death_gap_seconds =
            Some(self.shortest_death_gap_seconds.map_or(gap, |g| g.min(gap)));
        self.youngest_death_age_seconds =
            Some(self.youngest_death_age_seconds.map_or(age, |a| a.min(age)));
        self.oldest_survived_age_seconds = self
            .oldest_survived_age_seconds
            .max(observation.last_success_age_seconds);
    }

    /// This evidence with one more death, as the engine weighs a death before it is stored.
    pub fn with_death(mut self, observation: &Observation) -> Self {
        self.died(observation);
        self
    }

    /// The idle bracket, when every death's gap clearly exceeds every survived gap
    /// ([`IDLE_GAP_MARGIN`]).
    pub fn idle_fit(&self) -> Option<PolicyBracket> {
        let died_at = self.shortest_death_gap_seconds.filter(|g| *g > 0)?;
        let survived = self.longest_survived_gap_seconds.max(0);
        let (num, den) = IDLE_GAP_MARGIN;
        (i128::from(died_at) * i128::from(den) > i128::from(survived) * i128::from(num)).then_some(
            PolicyBracket {
                kind: PolicyKind::Idle,
                at_least_seconds: survived,
                at_most_seconds: died_at,
            },
        )
    }

    /// The lifetime bracket, when no death came younger than a survival. A death and a
    /// survival at the same age (the clock's granularity) still fit.
    pub fn lifetime_fit(&self) -> Option<PolicyBracket> {
        let died_at = self.youngest_death_age_seconds.filter(|a| *a > 0)?;
        let survived = self.oldest_survived_age_seconds.max(0);
        (died_at >= survived).then_some(PolicyBracket {
            kind: PolicyKind::Lifetime,
            at_least_seconds: survived,
            at_most_seconds: died_at,
        })
    }

    /// The bracket of `kind`, if that policy fits.
    pub fn fit(&self, kind: PolicyKind) -> Option<PolicyBracket> {
        match kind {
            PolicyKind::Idle => self.idle_fit(),
            PolicyKind::Lifetime => self.lifetime_fit(),
        }
    }

    /// Refreshes and refusals seen.
    pub fn observations(&self) -> u64 {
        self.survivals.saturating_add(self.deaths)
    }
}

impl PolicyBracket {
    /// Whether this bracket's deaths stand further from its survivals than `other`'s:
    /// `at_most / at_least` is larger, with nothing survived (`at_least` 0) as infinite.
    pub(crate) fn more_separated_than(&self, other: &PolicyBracket) -> bool {
        let ratio = |b: &PolicyBracket| {
            (
                i128::from(b.at_most_seconds),
                i128::from(b.at_least_seconds),
            )
        };
        let ((a_hi, a_lo), (b_hi, b_lo)) = (ratio(self), ratio(other));
        match (a_lo, b_lo) {
            (0, _) => b_lo != 0,
            (_, 0) => false,
            _ => a_hi * b_lo > b_hi * a_lo,
        }
    }
}

#[cfg(test)]
mod tests;
