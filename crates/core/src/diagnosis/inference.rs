//! Reading a Connected App's refresh-token policy off a connector's [`PolicyEvidence`].
//!
//! An idle limit fits when every refused token had gone unused clearly longer than every
//! token that still worked; a lifetime fits when every refused token was at least as old as
//! every token that still worked (see [`PolicyEvidence::idle_fit`] and
//! [`PolicyEvidence::lifetime_fit`]). The answer is "likely" only when exactly one of the two
//! fits and [`MIN_DEATHS`] refusals back it; "possible" when it is not that well backed or
//! when both fit (then both are named); nothing when neither fits.

use serde::{Deserialize, Serialize};

use super::Confidence;
use super::evidence::{PolicyBracket, PolicyEvidence, PolicyKind};
use super::words::{human, round_within};
use crate::cause::Cause;

/// How many unexplained refusals a "likely" inference needs, on evidence alone. (With a
/// probe that found the session alive the engine needs only one; see the engine.)
pub const MIN_DEATHS: u64 = 3;

/// A policy read off the evidence. Serializes as `{"kind", "at_least_seconds",
/// "at_most_seconds", "confidence", "observations"}`, plus `"alternative"` (a second
/// `{"kind", "at_least_seconds", "at_most_seconds"}`) when both policies fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InferredPolicy {
    /// The policy that fits (the more clearly separated one when both do).
    #[serde(flatten)]
    pub policy: PolicyBracket,
    /// `likely` or `possible`; never `certain`.
    pub confidence: Confidence,
    /// Refreshes and refusals it was read from.
    pub observations: u64,
    /// The other policy, when it fits too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternative: Option<PolicyBracket>,
}

impl PolicyEvidence {
    /// The policy the evidence points to, if any fits.
    pub fn infer(&self) -> Option<InferredPolicy> {
        self.infer_needing(MIN_DEATHS)
    }

    /// The inference when `min_deaths` refusals suffice for "likely": fewer than
    /// [`MIN_DEATHS`] once a probe has ruled out a revoke.
    pub(crate) fn infer_needing(&self, min_deaths: u64) -> Option<InferredPolicy> {
        let (policy, alternative) = match (self.idle_fit(), self.lifetime_fit()) {
            (None, None) => return None,
            (Some(one), None) | (None, Some(one)) => (one, None),
            (Some(idle), Some(life)) if life.more_separated_than(&idle) => (life, Some(idle)),
            (Some(idle), Some(life)) => (idle, Some(life)),
        };
        let confidence = if alternative.is_none() && self.deaths >= min_deaths {
            Confidence::Likely
        } else {
            Confidence::Possible
        };
        Some(InferredPolicy {
            policy,
            confidence,
            observations: self.observations(),
            alternative,
        })
    }
}

impl InferredPolicy {
    /// The policy in the words of the Setup screen, with a round value inside the bracket;
    /// both policies joined by "or" when both fit.
    pub fn describe(&self) -> String {
        match &self.alternative {
            None => self.policy.describe(),
            Some(other) => format!("{} or {}", self.policy.describe(), other.describe()),
        }
    }

    /// The bracket of `kind`, whether it is the policy or the alternative.
    pub fn bracket(&self, kind: PolicyKind) -> Option<&PolicyBracket> {
        std::iter::once(&self.policy)
            .chain(&self.alternative)
            .find(|b| b.kind == kind)
    }
}

impl PolicyKind {
    /// The cause a death under this policy gets.
    pub fn cause(self) -> Cause {
        match self {
            PolicyKind::Idle => Cause::RefreshTokenIdle,
            PolicyKind::Lifetime => Cause::RefreshTokenPolicyLifetime,
        }
    }

    /// The option's label in Edit Policies > OAuth Policies > Refresh Token Policy.
    pub fn setting(self) -> &'static str {
        match self {
            PolicyKind::Idle => "Expire refresh token if not used for",
            PolicyKind::Lifetime => "Expire refresh token after",
        }
    }
}

impl PolicyBracket {
    /// "Expire refresh token after 5 days": the setting with a round value inside.
    pub fn describe(&self) -> String {
        format!(
            "{} {}",
            self.kind.setting(),
            round_within(self.at_least_seconds, self.at_most_seconds)
        )
    }

    /// "more than 1 second and at most 6 seconds", "at most 6 seconds", "about 9 seconds".
    pub fn range(&self) -> String {
        let (lo, hi) = (self.at_least_seconds, self.at_most_seconds);
        match lo {
            _ if lo >= hi => format!("about {}", human(hi)),
            0 => format!("at most {}", human(hi)),
            _ => format!("more than {} and at most {}", human(lo), human(hi)),
        }
    }
}

#[cfg(test)]
mod tests;
