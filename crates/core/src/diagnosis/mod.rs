//! Diagnoses: why a connection broke and what to change, in the words of Salesforce Setup.
//!
//! The causes and their steps are data ([`playbook::PLAYBOOK`]), one row per cause of
//! diagnosis.md, so a provider other than Salesforce can bring its own table. The
//! [`engine`] weighs the provider's answer against what tether knows (token age, idle time,
//! approvals since, the connector's hints, what its other connections did) and claims no more
//! than its evidence; [`inference`] reads a policy off several connections that expired alike.

pub mod engine;
pub mod inference;
pub mod playbook;

pub use engine::{Facts, Observation, PolicyHint, diagnose_expiry};
pub use playbook::{diagnose, play};

use serde::{Deserialize, Serialize};

use crate::cause::Cause;
use crate::refresh::ProviderError;

/// How sure a diagnosis is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
pub struct Step {
    pub title: String,
    pub detail: String,
}

/// The diagnosis object of diagnosis.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub cause: Cause,
    pub confidence: Confidence,
    pub title: String,
    pub evidence: Vec<String>,
    pub steps: Vec<Step>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_error: Option<ProviderError>,
    /// The token's ages when it was refused; what later inference reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation: Option<Observation>,
    /// A policy read off several connections that expired alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inferred_policy: Option<inference::InferredPolicy>,
}
