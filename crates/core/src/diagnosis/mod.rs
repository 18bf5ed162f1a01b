//! Diagnoses: why a connection broke and what to change, in the words of Salesforce Setup.
//!
//! The causes and their steps are data ([`plays::PLAYBOOK`]), one row per cause, so a
//! provider other than Salesforce can bring its own table. The [`engine`] weighs the
//! provider's answer against what tether knows (token age, idle time, approvals since, the
//! connector's hints, a probe of the access token, tether's own interrupted or unsaved
//! refreshes) and claims no more than its evidence. Each connector keeps one fixed-size
//! [`PolicyEvidence`] of what its refresh tokens survived and died of; [`inference`] reads a
//! refresh-token policy off it.

pub mod engine;
pub mod evidence;
pub mod facts;
pub mod inference;
pub mod playbook;
pub mod plays;
mod timing;
mod words;

pub use engine::diagnose_expiry;
pub use evidence::{PolicyBracket, PolicyEvidence, PolicyKind};
pub use facts::{AccessProbe, Facts, MAX_POLICY_SECONDS, Observation, PolicyHint};
pub use inference::InferredPolicy;
pub use playbook::{diagnose, play};
pub use words::{human, round_within};

use serde::{Deserialize, Serialize};

use crate::cause::Cause;
use crate::refresh::ProviderError;

/// How sure a diagnosis is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// The provider said so.
    Certain,
    /// The evidence points one way.
    Likely,
    /// Several causes fit; the evidence lists them.
    Possible,
}

/// One thing the user should do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Step {
    pub title: String,
    pub detail: String,
}

/// The diagnosis object of docs/diagnosis.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Diagnosis {
    pub cause: Cause,
    pub confidence: Confidence,
    pub title: String,
    pub evidence: Vec<String>,
    pub steps: Vec<Step>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_error: Option<ProviderError>,
    /// The token's ages when it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation: Option<Observation>,
    /// A policy read off the connector's evidence, when one fits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inferred_policy: Option<InferredPolicy>,
}

impl Diagnosis {
    /// The observation to feed to the connector's [`PolicyEvidence::died`], when this death
    /// is evidence about the refresh-token policy: one the engine put down to a policy
    /// (immediate, idle, lifetime) or to a revoke it could not confirm. Deaths explained
    /// otherwise (a probe showed a revoke or a Block, the approval limit, tether's own reuse,
    /// a named provider error) say nothing about the policy and yield `None`.
    pub fn policy_death(&self) -> Option<Observation> {
        let policy = matches!(
            self.cause,
            Cause::RefreshTokenPolicyImmediate
                | Cause::RefreshTokenIdle
                | Cause::RefreshTokenPolicyLifetime
        );
        let unexplained =
            self.cause == Cause::RefreshTokenRevoked && self.confidence == Confidence::Possible;
        self.observation.filter(|_| policy || unexplained)
    }
}
