//! The client's one error type: tether's problem document (RFC 9457) when tether answered
//! with one, else what went wrong on the way.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tether_core::cause::Cause;
use tether_core::diagnosis::Diagnosis;

/// Where tether's problem types live; a problem's `type` is this plus its code.
pub const PROBLEM_BASE: &str = "https://tether.dev/problems/";

/// A problem document, as tether answers every API error (docs/api.md, "Errors").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// `https://tether.dev/problems/{code}`.
    #[serde(rename = "type")]
    pub type_url: String,
    pub title: String,
    pub status: u16,
    /// What the caller did wrong (4xx), or that tether failed (5xx).
    pub detail: String,
    /// The cause code of `connection-expired`, `provider-refused` and `provider-unavailable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<Cause>,
    /// The diagnosis of the same problems, when tether has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Box<Diagnosis>>,
    /// Any other extension member (the proxy's `provider_errors`, for example).
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
    /// The `Retry-After` header of a `503 provider-unavailable`, in seconds.
    #[serde(skip)]
    pub retry_after_seconds: Option<u64>,
}

impl Problem {
    /// The problem's code: `not-found`, `connection-expired`, ...
    pub fn code(&self) -> &str {
        self.type_url
            .strip_prefix(PROBLEM_BASE)
            .unwrap_or(&self.type_url)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code(), self.detail)
    }
}

/// Why a call gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// tether answered with a problem document.
    #[error("tether answered {0}")]
    Problem(Box<Problem>),
    /// tether could not be reached, or the exchange broke.
    #[error("cannot reach tether at {url}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// tether answered something this client cannot read (an error without a problem
    /// document, or a body of another shape).
    #[error("tether answered {status} with a body this client cannot read: {reason}")]
    Unreadable { status: u16, reason: String },
    /// The base URL given to the client is not one.
    #[error("the tether URL {url:?} is not a URL: {reason}")]
    BaseUrl { url: String, reason: String },
}

impl Error {
    /// The problem document, when tether answered one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Problem(problem) => Some(problem),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_reads_its_code_and_keeps_the_extensions_it_does_not_name() {
        let body = serde_json::json!({
            "type": "https://tether.dev/problems/session-refused",
            "title": "Session refused by the provider",
            "status": 401,
            "detail": "Salesforce refused the session",
            "status_reason": "api_disabled",
            "provider_errors": [{"errorCode": "API_DISABLED_FOR_ORG"}],
        });
        let problem: Problem = serde_json::from_value(body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(problem.code(), "session-refused");
        assert_eq!(problem.status_reason, Some(Cause::ApiDisabled));
        assert!(problem.extensions.contains_key("provider_errors"));
        assert_eq!(
            problem.to_string(),
            "401 session-refused: Salesforce refused the session"
        );
    }
}
